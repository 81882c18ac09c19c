"""The action catalogue format, its validation messages and the shipped catalogue."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from portal.domain.errors import NotFound
from portal.domain.scorecard import (
    ActionStatus,
    CatalogueError,
    PlanAction,
    When,
    parse_catalogue,
)
from portal.instruments import (
    available_questionnaires,
    get_action_catalogue,
    get_questionnaire,
    load_catalogue_file,
)

SHIPPED = (
    Path(__file__).resolve().parents[2] / "portal/instruments/change-readiness/actions-v1.yaml"
)
#: As long as ``Survey`` allows a system name to be.
LONGEST_SYSTEM = "the new customer relationship management system for all sites"[:60]


def shipped_data() -> dict[str, Any]:
    """Return the shipped catalogue as plain data, to break in tests."""
    data: dict[str, Any] = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def problems(data: object) -> list[str]:
    """Return the problems ``parse_catalogue`` reports for ``data``."""
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(data, source="actions.yaml")
    return caught.value.errors


# -- the shipped catalogue -------------------------------------------------------------


def test_listing_questionnaires_ignores_the_catalogue_file() -> None:
    assert available_questionnaires() == {"change-readiness": [1]}


def test_ships_a_catalogue_for_the_change_readiness_questionnaire() -> None:
    catalogue = get_action_catalogue("change-readiness")
    assert catalogue.questionnaire_id == "change-readiness"
    assert catalogue is get_action_catalogue("change-readiness")


def test_every_non_outcome_lever_has_two_or_three_actions_one_always_recommended() -> None:
    questionnaire = get_questionnaire("change-readiness")
    catalogue = get_action_catalogue("change-readiness")
    for lever in questionnaire.levers:
        actions = [a for a in catalogue.for_lever(lever.id) if a.when is not When.LOW_RESPONSE]
        if lever.outcome:
            assert actions == [], f"{lever.id} is an outcome and gets no actions of its own"
        else:
            assert 2 <= len(actions) <= 3, lever.id
            assert any(a.when is When.ALWAYS for a in actions), lever.id


def test_catalogue_actions_name_only_the_questionnaires_levers() -> None:
    levers = {lever.id for lever in get_questionnaire("change-readiness").levers}
    assert get_action_catalogue("change-readiness").levers() <= levers


def test_the_managers_lever_has_a_manager_gap_action_and_low_response_has_one() -> None:
    catalogue = get_action_catalogue("change-readiness")
    assert [a.when for a in catalogue.for_lever("managers")].count(When.MANAGER_GAP) == 1
    assert [a.when for a in catalogue.actions].count(When.LOW_RESPONSE) == 1


def test_every_text_is_in_english_and_danish() -> None:
    catalogue = get_action_catalogue("change-readiness")
    assert catalogue.languages == get_questionnaire("change-readiness").languages == ("en", "da")
    for action in catalogue.actions:
        for texts in (
            action.title,
            action.description,
            action.owner_role,
            action.mandate_holder,
            action.kpi,
        ):
            assert set(texts) == {"en", "da"}
            assert all(text.strip() for text in texts.values())


def test_every_suggestion_fits_a_plan_action_with_the_longest_system_name() -> None:
    catalogue = get_action_catalogue("change-readiness")
    for action in catalogue.actions:
        for language in catalogue.languages:
            text = action.in_language(language, LONGEST_SYSTEM)
            assert "{" not in text.title + text.description
            PlanAction(
                survey_slug="crm-rollout",
                department="SALES",
                action_id="0123456789abcdef",
                wave_id="baseline",
                lever_id=action.lever_id,
                catalogue_id=action.id,
                title=text.title,
                owner_role=text.owner_role,
                mandate_holder=text.mandate_holder,
                due=date(2027, 1, 1),
                kpi=text.kpi,
                kpi_target="",
                status=ActionStatus.PLANNED,
                updated_on=date(2026, 11, 23),
            )


def test_descriptions_are_two_or_three_sentences() -> None:
    for action in get_action_catalogue("change-readiness").actions:
        for language, text in action.description.items():
            sentences = text.count(". ") + 1
            assert 2 <= sentences <= 3, f"{action.id}.{language}: {sentences} sentences"


def test_a_survey_language_missing_from_the_catalogue_falls_back_to_english() -> None:
    catalogue = get_action_catalogue("change-readiness")
    action = catalogue.get("managers-onboarding")
    assert catalogue.text(action, "de", "das neue CRM").title == (
        "Run a manager onboarding on das neue CRM"
    )
    assert catalogue.text(action, "da", "det nye CRM").title == (
        "Hold et introforløb om det nye CRM for lederne"
    )


def test_a_questionnaire_without_a_catalogue_is_not_found() -> None:
    with pytest.raises(NotFound, match="'nope' ships no catalogue of actions"):
        get_action_catalogue("nope")


# -- validation messages ---------------------------------------------------------------


def test_accepts_the_shipped_file_as_plain_data() -> None:
    assert len(parse_catalogue(shipped_data()).actions) == len(shipped_data()["actions"])


def test_names_a_missing_danish_text_precisely() -> None:
    data = shipped_data()
    del data["actions"][1]["title"]["da"]
    assert problems(data) == [
        "actions.yaml: actions[1] (id 'purpose-local-story').title.da: "
        "the text is missing or empty."
    ]


def test_names_a_text_in_a_language_the_catalogue_lacks() -> None:
    data = shipped_data()
    data["actions"][0]["kpi"]["de"] = "Zielwert"
    assert problems(data) == [
        "actions.yaml: actions[0] (id 'purpose-revisit-goals').kpi.de: "
        "is not one of the catalogue's languages."
    ]


def test_reports_every_problem_at_once() -> None:
    data = shipped_data()
    data["actions"][0]["when"] = "sometimes"
    data["actions"][1]["id"] = data["actions"][0]["id"]
    data["actions"][2]["due_weeks"] = 0
    data["actions"][3]["owner"] = "someone"
    data["actions"][4]["description"]["en"] = "Ask {person} about {system}."
    data["version"] = "one"
    assert problems(data) == [
        "actions.yaml: version: must be a positive whole number, got 'one'.",
        "actions.yaml: actions[0] (id 'purpose-revisit-goals').when: must be one of always, "
        "red, manager_gap, low_response, got 'sometimes'.",
        "actions.yaml: actions[1] (id 'purpose-revisit-goals').id: is used by another action; "
        "action ids must be unique.",
        "actions.yaml: actions[2] (id 'purpose-show-benefits').due_weeks: must be a whole "
        "number of weeks from 1 to 104, got 0.",
        "actions.yaml: actions[3] (id 'involvement-user-panel'): unknown field 'owner'; allowed "
        "fields are description, due_weeks, id, kpi, lever, mandate_holder, owner_role, title, "
        "when.",
        "actions.yaml: actions[4] (id 'involvement-change-agents').description.en: unknown "
        "placeholder {person}; only {system} is available.",
    ]


def test_refuses_a_suggestion_too_long_for_the_plan_once_the_system_is_named() -> None:
    data = shipped_data()
    data["actions"][0]["owner_role"]["en"] = "Owner of {system} " + "x" * 20
    assert problems(data) == [
        "actions.yaml: actions[0] (id 'purpose-revisit-goals').owner_role.en: is too long: at "
        "most 80 characters with the longest system name filled in, but it could reach 90."
    ]


def test_names_missing_top_level_fields() -> None:
    assert problems({"questionnaire": "change-readiness"}) == [
        "actions.yaml: top level: the required field 'version' is missing.",
        "actions.yaml: top level: the required field 'languages' is missing.",
        "actions.yaml: top level: the required field 'actions' is missing.",
    ]
    assert problems(["not", "a", "mapping"]) == [
        "actions.yaml: top level: must be a mapping with questionnaire, version, languages "
        "and actions."
    ]


def test_names_the_line_of_a_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "actions-v1.yaml"
    path.write_text("questionnaire: change-readiness\nactions: [\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"actions-v1\.yaml: line 3, column 1"):
        load_catalogue_file(path)


def test_the_file_name_and_the_version_must_agree(tmp_path: Path) -> None:
    path = tmp_path / "actions-v2.yaml"
    path.write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(CatalogueError, match="named for version 2 but says version 1"):
        load_catalogue_file(path)
