"""The questionnaire format, its validation messages and the default instrument."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from portal.domain.entities import Audience
from portal.domain.errors import ValidationError
from portal.domain.questionnaire import QuestionnaireError, parse_questionnaire
from portal.instruments import (
    available_questionnaires,
    get_questionnaire,
    load_questionnaire_file,
)

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "portal/instruments/change-readiness/v1.yaml"
LEVERS = ["purpose", "involvement", "managers", "skills", "governance", "ownership", "adoption"]


def default_data() -> dict[str, Any]:
    """Return the default instrument as plain data, to break in tests."""
    data: dict[str, Any] = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def problems(data: object) -> list[str]:
    """Return the problems ``parse_questionnaire`` reports for ``data``."""
    with pytest.raises(QuestionnaireError) as caught:
        parse_questionnaire(data, source="test.yaml")
    return caught.value.errors


# -- the default instrument ---------------------------------------------------


def test_ships_the_change_readiness_questionnaire() -> None:
    assert available_questionnaires()["change-readiness"] == [1]


def test_default_instrument_has_the_seven_levers_in_order() -> None:
    q = get_questionnaire("change-readiness")
    assert [lever.id for lever in q.levers] == LEVERS
    assert [lever.id for lever in q.levers if lever.outcome] == ["adoption"]


def test_default_instrument_is_in_english_and_danish() -> None:
    q = get_questionnaire("change-readiness")
    assert q.languages == ("en", "da")
    for item in q.items:
        assert set(item.text) == {"en", "da"}
    for lever in q.levers:
        assert set(lever.name) == set(lever.description) == {"en", "da"}


@pytest.mark.parametrize("audience", list(Audience))
def test_each_respondent_answers_about_twenty_five_items(audience: Audience) -> None:
    q = get_questionnaire("change-readiness")
    assert 22 <= len(q.items_for(audience)) <= 26
    for lever, items in q.items_by_lever(audience):
        assert 3 <= len(items) <= 5, lever.id


def test_managers_get_items_about_their_own_role() -> None:
    q = get_questionnaire("change-readiness")
    manager_only = [i.id for i in q.items if i.audience == "manager"]
    assert len(manager_only) >= 4
    employee_ids = {i.id for i in q.items_for(Audience.EMPLOYEE)}
    assert not set(manager_only) & employee_ids


def test_items_name_the_system_and_render_it() -> None:
    q = get_questionnaire("change-readiness")
    item = q.items[0]
    assert "{system}" in item.text["en"]
    rendered = item.render("da", "det nye CRM")
    assert "det nye CRM" in rendered and "{" not in rendered


def test_default_instrument_has_reverse_scored_items_and_an_optional_comment() -> None:
    q = get_questionnaire("change-readiness")
    assert any(item.reverse for item in q.items)
    assert q.comment is not None and q.comment.max_length >= 500
    assert q.scale.not_applicable is not None
    assert all(len(labels) == 5 for labels in q.scale.labels.values())


def test_asking_for_an_unknown_questionnaire_or_version_says_what_exists() -> None:
    with pytest.raises(Exception, match="available: change-readiness"):
        get_questionnaire("no-such")
    with pytest.raises(Exception, match="has no version 9; available: 1"):
        get_questionnaire("change-readiness", 9)


# -- validation messages --------------------------------------------------------


def test_a_valid_copy_parses() -> None:
    assert parse_questionnaire(default_data()).id == "change-readiness"


def test_reports_a_missing_translation_with_item_and_field() -> None:
    data = default_data()
    del data["items"][2]["text"]["da"]
    [problem] = problems(data)
    assert (
        problem
        == "test.yaml: items[2] (id 'purpose-benefit').text.da: the text is missing or empty."
    )


def test_reports_an_item_pointing_at_an_unknown_lever() -> None:
    data = default_data()
    data["items"][0]["lever"] = "porpose"
    assert any(
        "items[0] (id 'purpose-why').lever: 'porpose' is not a lever" in p for p in problems(data)
    )


def test_reports_duplicate_item_ids() -> None:
    data = default_data()
    data["items"][1]["id"] = data["items"][0]["id"]
    assert any("is used by another item" in p for p in problems(data))


def test_reports_an_unknown_placeholder_and_unbalanced_braces() -> None:
    data = default_data()
    data["items"][0]["text"]["en"] = "I like {sytem}."
    data["items"][1]["text"]["en"] = "I like {system."
    found = problems(data)
    assert any("unknown placeholder {sytem}" in p for p in found)
    assert any("unbalanced braces" in p for p in found)


def test_reports_a_misspelt_field_name() -> None:
    data = default_data()
    data["items"][0]["reversed"] = True
    assert any("unknown field 'reversed'" in p for p in problems(data))


def test_reports_a_scale_without_five_labels() -> None:
    data = default_data()
    data["scale"]["labels"]["da"] = ["Uenig", "Enig"]
    assert any("scale.labels.da: must list exactly 5" in p for p in problems(data))


def test_reports_a_lever_without_items_for_an_audience() -> None:
    data = default_data()
    data["items"] = [i for i in data["items"] if i["lever"] != "governance"]
    found = problems(data)
    assert any("lever 'governance': has no item for employees" in p for p in found)
    assert any("lever 'governance': has no item for managers" in p for p in found)


def test_reports_every_problem_at_once() -> None:
    data = default_data()
    data["version"] = 0
    data["default_language"] = "de"
    data["levers"][0]["order"] = 2
    assert len(problems(data)) >= 3


def test_reports_a_non_mapping_document() -> None:
    assert "top level" in problems(["not", "a", "mapping"])[0]


def test_reports_yaml_syntax_errors_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "v1.yaml"
    path.write_text("id: x\nversion: 1\nitems: [\n", encoding="utf-8")
    with pytest.raises(QuestionnaireError, match=r"v1.yaml: line \d+, column \d+"):
        load_questionnaire_file(path)


def test_reports_a_file_named_for_another_version(tmp_path: Path) -> None:
    path = tmp_path / "v2.yaml"
    path.write_text(DEFAULT_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(QuestionnaireError, match="named for version 2 but says version 1"):
        load_questionnaire_file(path)


# -- answers --------------------------------------------------------------------


def full_answers(audience: Audience, value: int | None = 3) -> dict[str, int | None]:
    """Answer every item ``audience`` is asked with ``value``."""
    q = get_questionnaire("change-readiness")
    return {item.id: value for item in q.items_for(audience)}


def test_accepts_a_complete_set_of_answers_with_not_applicable() -> None:
    q = get_questionnaire("change-readiness")
    answers = full_answers(Audience.MANAGER)
    answers["skills-standard"] = None
    assert q.check_answers(Audience.MANAGER, answers) == answers


def test_refuses_missing_answers_naming_the_items() -> None:
    q = get_questionnaire("change-readiness")
    answers = full_answers(Audience.EMPLOYEE)
    del answers["purpose-why"]
    with pytest.raises(ValidationError, match="Unanswered items: purpose-why"):
        q.check_answers(Audience.EMPLOYEE, answers)


def test_refuses_manager_items_from_an_employee() -> None:
    q = get_questionnaire("change-readiness")
    answers = full_answers(Audience.EMPLOYEE) | {"managers-own-mandate": 4}
    with pytest.raises(ValidationError, match="not asked of employees: managers-own-mandate"):
        q.check_answers(Audience.EMPLOYEE, answers)


@pytest.mark.parametrize("value", [0, 6, True, "4", 3.5])
def test_refuses_answers_off_the_scale(value: object) -> None:
    q = get_questionnaire("change-readiness")
    answers: dict = full_answers(Audience.EMPLOYEE)
    answers["purpose-why"] = value
    with pytest.raises(ValidationError, match="purpose-why"):
        q.check_answers(Audience.EMPLOYEE, answers)
