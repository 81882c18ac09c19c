"""Entities validate themselves; waves move only forward; responses carry no identifiers."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest

from portal.domain.entities import Response, Thresholds, WaveStatus
from portal.domain.errors import Conflict, ValidationError
from tests.builders import TODAY, make_department, make_response, make_survey, make_wave


@pytest.mark.parametrize(
    ("numbers", "comments"), [(2, 10), (5, 4), (6, 5), (0, 0), (5, 1001), (True, 10)]
)
def test_refuses_thresholds_below_the_anonymity_floors(numbers: int, comments: int) -> None:
    with pytest.raises(ValidationError):
        Thresholds(numbers, comments)


def test_defaults_to_five_for_numbers_and_ten_for_comments() -> None:
    assert Thresholds() == Thresholds(5, 10)
    assert Thresholds(3, 5) == Thresholds(3, 5)


def test_a_response_keeps_only_the_day_never_a_time() -> None:
    with pytest.raises(ValidationError, match="calendar day"):
        make_response(day=datetime(2026, 11, 23, 14, 5))


def test_a_response_has_no_field_that_could_identify_a_person() -> None:
    names = {f.name for f in dataclasses.fields(Response)}
    assert names == {
        "survey_slug",
        "wave_id",
        "department_code",
        "audience",
        "language",
        "day",
        "answers",
        "key",
        "comment",
    }


@pytest.mark.parametrize("value", [0, 6, -1, True, 2.5, "3"])
def test_a_response_refuses_answers_off_the_scale(value: object) -> None:
    with pytest.raises(ValidationError):
        make_response(answers={"purpose-why": value})


@pytest.mark.parametrize("key", ["short", "x" * 65, "has spaces in it ok?", ""])
def test_a_response_refuses_a_malformed_key(key: str) -> None:
    with pytest.raises(ValidationError):
        make_response(key=key)


def test_a_response_refuses_an_overlong_comment() -> None:
    with pytest.raises(ValidationError):
        make_response(comment="x" * 5001)


@pytest.mark.parametrize("slug", ["", "-x", "x-", "UPPER", "a b", "x" * 41, "æøå"])
def test_a_survey_refuses_bad_slugs(slug: str) -> None:
    with pytest.raises(ValidationError, match="lowercase"):
        make_survey(slug=slug)


def test_a_survey_needs_the_system_named_in_its_default_language() -> None:
    with pytest.raises(ValidationError, match="default language"):
        make_survey(system_name={"da": "det nye CRM"})


def test_a_survey_falls_back_to_the_default_language_for_the_system_name() -> None:
    survey = make_survey(system_name={"en": "the new CRM"})
    assert survey.system_in("da") == "the new CRM"


def test_a_survey_refuses_a_default_language_it_does_not_offer() -> None:
    with pytest.raises(ValidationError, match="default language"):
        make_survey(default_language="de")


@pytest.mark.parametrize(
    "overrides",
    [{"headcount": -1}, {"headcount": True}, {"code": "a b"}, {"name": " "}, {"parent": "SALES"}],
)
def test_a_department_refuses_bad_fields(overrides: dict) -> None:
    with pytest.raises(ValidationError):
        make_department(**overrides)


def test_opening_a_wave_locks_the_surveys_thresholds_and_version() -> None:
    survey = make_survey(thresholds=Thresholds(8, 15), questionnaire_version=1)
    opened = make_wave().opened(survey, TODAY)
    assert opened.status is WaveStatus.OPEN
    assert opened.thresholds == Thresholds(8, 15)
    assert opened.questionnaire_version == 1
    assert opened.opened_on == TODAY
    later_survey = dataclasses.replace(survey, thresholds=Thresholds(3, 5))
    assert opened.effective_thresholds(later_survey) == Thresholds(8, 15)


def test_a_draft_wave_uses_the_surveys_current_thresholds() -> None:
    assert make_wave().effective_thresholds(make_survey(thresholds=Thresholds(4, 6))) == Thresholds(
        4, 6
    )


def test_a_wave_moves_only_forward() -> None:
    survey = make_survey()
    opened = make_wave().opened(survey, TODAY)
    with pytest.raises(Conflict):
        opened.opened(survey, TODAY)
    closed = opened.closed(date(2026, 12, 1))
    assert closed.closed_on == date(2026, 12, 1)
    with pytest.raises(Conflict):
        closed.closed(TODAY)
    with pytest.raises(Conflict):
        closed.opened(survey, TODAY)
    with pytest.raises(Conflict):
        make_wave().closed(TODAY)


def test_an_open_wave_must_record_what_it_locked() -> None:
    with pytest.raises(ValidationError, match="locked thresholds"):
        make_wave(status=WaveStatus.OPEN, thresholds=None)


def test_a_survey_cannot_take_a_slug_the_admin_pages_use() -> None:
    with pytest.raises(ValidationError, match="reserved"):
        make_survey(slug="new")
