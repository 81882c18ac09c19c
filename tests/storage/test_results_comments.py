"""Comments travel in the stored snapshot cells, exactly, on every backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from portal.domain import aggregates
from portal.domain.aggregates import Snapshot
from portal.domain.entities import Audience
from portal.instruments import get_questionnaire
from portal.services import results
from portal.services.surveys import close_wave
from portal.storage.port import Store
from tests.builders import make_response
from tests.storage.test_results import open_survey

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SLUG, WAVE = "crm-rollout", "baseline"


def answer_with(store: Store, comments: list[str | None], department: str = "A") -> None:
    """Store one employee response per comment."""
    items = get_questionnaire("change-readiness").items_for(Audience.EMPLOYEE)
    for comment in comments:
        store.add_response(
            make_response(
                department_code=department, answers={i.id: 4 for i in items}, comment=comment
            )
        )


def test_a_stored_snapshot_keeps_each_departments_comments(store: Store) -> None:
    open_survey(store)
    answer_with(store, ["Mere træning, tak 🙂", None, "  ", "Ask us first", "Ask us first"])
    answer_with(store, ["Only in C"], "C")
    results.refresh_snapshot(store, SLUG, WAVE, now=NOW)
    stored = store.get_snapshot(SLUG, WAVE)
    assert stored is not None
    part = stored.cells["A"].part(Audience.EMPLOYEE)
    assert part is not None
    assert sorted(part.comments) == ["Ask us first", "Ask us first", "Mere træning, tak 🙂"]
    assert part.comment_count == 3
    other = stored.cells["C"].part(Audience.EMPLOYEE)
    assert other is not None and other.comments == ("Only in C",)
    assert results.verify(store, SLUG, WAVE) == []


def test_verify_reports_a_comment_missing_from_the_stored_cell(store: Store) -> None:
    open_survey(store)
    answer_with(store, ["first", "second"])
    snapshot = results.compute_snapshot(store, SLUG, WAVE, now=NOW)
    cell = snapshot.cells["A"]
    part = cell.part(Audience.EMPLOYEE)
    assert part is not None
    damaged = replace(cell, parts=(replace(part, comments=part.comments[:1]),))
    store.put_snapshot(replace(snapshot, cells={"A": damaged}))
    problems = results.verify(store, SLUG, WAVE)
    assert len(problems) == 1 and problems[0].startswith("Department A:")


def test_a_snapshot_in_the_old_layout_is_recomputed_even_for_a_closed_wave(store: Store) -> None:
    open_survey(store)
    answer_with(store, ["a comment the old layout never kept"] * 3)
    close_wave(store, SLUG, WAVE, today=date(2026, 11, 2))
    fresh = results.compute_snapshot(store, SLUG, WAVE, now=NOW)
    old_cells = {
        code: aggregates.from_dict(
            {
                **aggregates.to_dict(cell),
                "schema": 1,
                "parts": [
                    {k: v for k, v in p.items() if k not in ("comments", "comment_count")}
                    for p in aggregates.to_dict(cell)["parts"]  # type: ignore[attr-defined]
                ],
            }
        )
        for code, cell in fresh.cells.items()
    }
    store.put_snapshot(Snapshot(SLUG, WAVE, "old-layout", NOW, old_cells))
    assert results.verify(store, SLUG, WAVE)[0].startswith("The stored aggregates are in an older")
    current = results.current_snapshot(store, SLUG, WAVE, now=NOW)
    assert current.snapshot_id != "old-layout"
    part = current.cells["A"].part(Audience.EMPLOYEE)
    assert part is not None and part.comment_count == 3
    assert results.verify(store, SLUG, WAVE) == []
