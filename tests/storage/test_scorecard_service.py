"""The scorecard and its plans work the same on every storage target (SQLite, DynamoDB)."""

from __future__ import annotations

from datetime import date

from portal.domain.scorecard import ORGANISATION, ActionStatus, ScorecardSettings
from portal.render.pdf import scorecard_pdf
from portal.services import plans, readiness, scorecard
from portal.services.surveys import close_wave
from portal.storage.port import Store
from tests.web.test_results import SLUG, STANDARD, make_organisation

TODAY = date(2026, 11, 24)


def test_pages_plans_and_targets_round_trip_on_every_backend(store: Store) -> None:
    make_organisation(store, STANDARD, bias=-1)
    plans.save_settings(store, "hr@example.com", ScorecardSettings(SLUG, default_target=80))
    card = scorecard.scorecard(store, SLUG, "baseline", today=TODAY)
    results = readiness.wave_results(store, SLUG, "baseline")
    assert [p.department for p in card.pages] == [
        ORGANISATION if r.kind is readiness.RowKind.ORGANISATION else r.key
        for r in results.rows
        if r.kind is not readiness.RowKind.SITE
    ]
    sales = next(p for p in card.pages if p.department == "SALES")
    assert {line.target for line in sales.levers} == {80}
    suggestion = next(line for line in sales.plan if not line.saved)
    assert suggestion.catalogue_id is not None
    adopted = plans.adopt(
        store, "hr@example.com", SLUG, "baseline", "SALES", suggestion.catalogue_id, today=TODAY
    )
    assert adopted.added
    plans.update(
        store,
        "hr@example.com",
        SLUG,
        "SALES",
        adopted.action.action_id,
        plans.ActionChanges(
            title=adopted.action.title,
            lever_id=adopted.action.lever_id,
            owner_role="Local change lead",
            mandate_holder="Head of sales",
            due=date(2027, 2, 1),
            kpi=adopted.action.kpi,
            kpi_target=adopted.action.kpi_target,
            status=ActionStatus.IN_PROGRESS,
        ),
        today=TODAY,
    )
    close_wave(store, SLUG, "baseline", today=TODAY)
    make_organisation(store, STANDARD, create=False, wave_id="follow-up", seed=3)
    follow = scorecard.scorecard(store, SLUG, "follow-up", department="SALES", today=TODAY)
    [carried] = [line for line in follow.pages[0].plan if line.saved]
    assert (carried.owner_role, carried.from_wave) == ("Local change lead", "Baseline")
    assert carried.movement is not None
    assert scorecard_pdf(follow).startswith(b"%PDF-")
