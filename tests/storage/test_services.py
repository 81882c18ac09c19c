"""The use cases behave the same on every storage target."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.domain.entities import Audience, StoreOutcome, WaveKind, WaveStatus
from portal.domain.errors import Conflict, NotFound, ValidationError
from portal.instruments import get_questionnaire
from portal.services.demo import load_demo
from portal.services.responses import record_response
from portal.services.surveys import add_wave, close_due_waves, create_survey, open_wave
from portal.storage.port import Store
from tests.builders import TODAY

CSV = "code,name,site,headcount\nS,Sales,Aarhus,12\nW,Warehouse,Hamburg,40\n"


def new_survey(store: Store) -> None:
    """Create the survey most tests here start from."""
    create_survey(
        store,
        slug="crm-rollout",
        title="CRM rollout",
        system_name={"en": "the new CRM"},
        today=TODAY,
        departments_csv=CSV,
    )


def answers(audience: Audience = Audience.EMPLOYEE) -> dict[str, int | None]:
    """Answer every item for ``audience`` with 4."""
    return {i.id: 4 for i in get_questionnaire("change-readiness").items_for(audience)}


def test_creates_a_survey_with_its_departments(store: Store) -> None:
    new_survey(store)
    survey = store.get_survey("crm-rollout")
    assert survey.languages == ("en", "da")
    assert survey.system_in("da") == "the new CRM"
    assert [d.code for d in store.list_departments("crm-rollout")] == ["S", "W"]


def test_refuses_a_language_the_questionnaire_lacks(store: Store) -> None:
    with pytest.raises(ValidationError, match="not written in de"):
        create_survey(
            store, slug="x", title="X", system_name={"de": "das neue CRM"}, today=TODAY,
            languages=("de",),
        )  # fmt: skip


def test_the_first_wave_is_the_baseline_and_later_ones_follow_ups(store: Store) -> None:
    new_survey(store)
    first = add_wave(store, "crm-rollout", wave_id="baseline", name="Baseline", today=TODAY)
    second = add_wave(store, "crm-rollout", wave_id="follow-up", name="Follow-up", today=TODAY)
    assert (first.kind, second.kind) == (WaveKind.BASELINE, WaveKind.FOLLOW_UP)


def test_a_wave_needs_an_existing_survey(store: Store) -> None:
    with pytest.raises(NotFound):
        add_wave(store, "nope", wave_id="w", name="W", today=TODAY)


def test_records_a_response_once_per_key(store: Store) -> None:
    new_survey(store)
    add_wave(store, "crm-rollout", wave_id="baseline", name="Baseline", today=TODAY)
    wave = open_wave(store, "crm-rollout", "baseline", today=TODAY)
    survey = store.get_survey("crm-rollout")
    kwargs = dict(
        survey=survey,
        wave=wave,
        questionnaire=get_questionnaire("change-readiness"),
        department_code="S",
        audience=Audience.EMPLOYEE,
        language="da",
        answers=answers(),
        comment="   ",
        key="k" * 22,
        today=TODAY,
    )
    assert record_response(store, **kwargs) is StoreOutcome.STORED  # type: ignore[arg-type]
    assert record_response(store, **kwargs) is StoreOutcome.ALREADY_STORED  # type: ignore[arg-type]
    [stored] = store.list_responses("crm-rollout", "baseline").items
    assert stored.comment is None and stored.day == TODAY


def test_a_draft_wave_takes_no_responses(store: Store) -> None:
    new_survey(store)
    wave = add_wave(store, "crm-rollout", wave_id="baseline", name="Baseline", today=TODAY)
    with pytest.raises(Conflict, match="draft"):
        record_response(
            store, survey=store.get_survey("crm-rollout"), wave=wave,
            questionnaire=get_questionnaire("change-readiness"), department_code="S",
            audience=Audience.EMPLOYEE, language="en", answers=answers(), comment=None,
            key="k" * 22, today=TODAY,
        )  # fmt: skip
    assert store.list_responses("crm-rollout", "baseline").items == []


def test_closes_only_open_waves_whose_planned_day_has_passed(store: Store) -> None:
    new_survey(store)
    for wave_id, planned in (("due", TODAY - timedelta(days=1)), ("today", TODAY), ("none", None)):
        add_wave(
            store, "crm-rollout", wave_id=wave_id, name=wave_id,
            today=TODAY - timedelta(days=5), planned_close=planned,
        )  # fmt: skip
        open_wave(store, "crm-rollout", wave_id, today=TODAY - timedelta(days=5))
    add_wave(
        store, "crm-rollout", wave_id="draft", name="draft", today=TODAY - timedelta(days=5),
        planned_close=TODAY - timedelta(days=1),
    )  # fmt: skip
    closed = close_due_waves(store, today=TODAY)
    assert [w.wave_id for w in closed] == ["due"]
    statuses = {w.wave_id: w.status for w in store.list_waves("crm-rollout")}
    assert statuses == {
        "due": WaveStatus.CLOSED,
        "today": WaveStatus.OPEN,
        "none": WaveStatus.OPEN,
        "draft": WaveStatus.DRAFT,
    }
    assert close_due_waves(store, today=TODAY) == []


def test_the_demo_has_two_sites_eight_departments_and_both_waves(store: Store) -> None:
    summary = load_demo(store, today=date(2026, 11, 23))
    assert len(summary.departments) == 8
    assert {d.site for d in summary.departments} == {"Aarhus", "Hamburg"}
    assert [(w.wave_id, w.status) for w in summary.waves] == [
        ("baseline", WaveStatus.CLOSED),
        ("follow-up-1", WaveStatus.OPEN),
    ]
    assert summary.responses_stored >= 200
    assert load_demo(store, today=date(2026, 11, 23)).already_loaded
