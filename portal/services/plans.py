"""The reinforcement plan of a unit (department or organisation) and a survey's targets.

HR takes recommended actions from the catalogue into the plan (with the
catalogue's suggested owner role, mandate holder, KPI and due date), writes
actions of their own, updates them as they progress, and sets the survey's
targets. Every change is written to the audit trail. The scorecard
(``portal.services.scorecard``) prints what is saved here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import date

from portal.domain.entities import WaveStatus
from portal.domain.errors import NotFound, ValidationError
from portal.domain.questionnaire import Questionnaire
from portal.domain.scorecard import (
    ORGANISATION,
    ActionStatus,
    PlanAction,
    ScorecardSettings,
)
from portal.instruments import get_action_catalogue, get_questionnaire
from portal.services.accounts import audit
from portal.services.scorecard import catalogued, language_of, suggested_due
from portal.services.scorecard_model import TEXTS
from portal.storage.port import Store

# -- the plan --------------------------------------------------------------------------


def _check_unit(store: Store, survey_slug: str, department: str) -> None:
    if department == ORGANISATION:
        return
    if department not in {d.code for d in store.list_departments(survey_slug)}:
        raise NotFound(f"Survey {survey_slug!r} has no department {department!r}.")


def _questionnaire(store: Store, survey_slug: str, wave_id: str) -> Questionnaire:
    survey = store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    version = wave.questionnaire_version or survey.questionnaire_version
    return get_questionnaire(survey.questionnaire_id, version)


def _check_lever(store: Store, survey_slug: str, wave_id: str, lever_id: str) -> None:
    if lever_id not in {lever.id for lever in _questionnaire(store, survey_slug, wave_id).levers}:
        raise ValidationError("Choose one of the questionnaire's levers.")


def adopt(
    store: Store,
    actor: str,
    survey_slug: str,
    wave_id: str,
    department: str,
    catalogue_id: str,
    *,
    language: str = "en",
    today: date | None = None,
) -> PlanAction:
    """Take a catalogue action into a unit's plan with its suggested owner, mandate and KPI."""
    survey = store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    if wave.status is WaveStatus.DRAFT:
        raise ValidationError("Plan actions belong to a wave that has been opened.")
    _check_unit(store, survey_slug, department)
    catalogue = get_action_catalogue(survey.questionnaire_id)
    found = catalogued(catalogue, catalogue_id)
    if found is None:
        raise NotFound("There is no such action in the catalogue.")
    lang = language_of(language)
    settings = store.get_scorecard_settings(survey_slug)
    day = today or date.today()
    action = PlanAction(
        survey_slug=survey_slug,
        department=department,
        action_id=secrets.token_hex(8),
        wave_id=wave_id,
        lever_id=found.lever_id,
        catalogue_id=found.id,
        title=found.title[lang],
        owner_role=found.owner_role[lang],
        mandate_holder=found.mandate_holder[lang],
        due=suggested_due(found, day),
        kpi=found.kpi[lang],
        kpi_target=TEXTS[lang]["target"] + f" ≥ {settings.target(found.lever_id)}",
        status=ActionStatus.PLANNED,
        updated_on=day,
    )
    store.put_plan_action(action)
    audit(store, actor, "plan.add", f"{survey_slug}/{department}", action.title)
    return action


@dataclass(frozen=True)
class ActionChanges:
    """What HR may change on a saved action (or write for a new one of their own)."""

    title: str
    lever_id: str
    owner_role: str
    mandate_holder: str
    due: date | None
    kpi: str
    kpi_target: str
    status: ActionStatus


def add_own(
    store: Store,
    actor: str,
    survey_slug: str,
    wave_id: str,
    department: str,
    changes: ActionChanges,
    *,
    today: date | None = None,
) -> PlanAction:
    """Add an action HR wrote themselves to a unit's plan."""
    store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    if wave.status is WaveStatus.DRAFT:
        raise ValidationError("Plan actions belong to a wave that has been opened.")
    _check_unit(store, survey_slug, department)
    _check_lever(store, survey_slug, wave_id, changes.lever_id)
    action = PlanAction(
        survey_slug=survey_slug,
        department=department,
        action_id=secrets.token_hex(8),
        wave_id=wave_id,
        catalogue_id=None,
        updated_on=today or date.today(),
        **_fields(changes),
    )
    store.put_plan_action(action)
    audit(store, actor, "plan.add", f"{survey_slug}/{department}", action.title)
    return action


def _fields(changes: ActionChanges) -> dict[str, object]:
    return {
        "lever_id": changes.lever_id,
        "title": changes.title,
        "owner_role": changes.owner_role,
        "mandate_holder": changes.mandate_holder,
        "due": changes.due,
        "kpi": changes.kpi,
        "kpi_target": changes.kpi_target,
        "status": changes.status,
    }


def find_action(store: Store, survey_slug: str, department: str, action_id: str) -> PlanAction:
    """Return one saved action of a unit's plan; raise ``NotFound`` if there is none."""
    for action in store.list_plan_actions(survey_slug, department):
        if action.action_id == action_id:
            return action
    raise NotFound("There is no such action in this plan.")


def update(
    store: Store,
    actor: str,
    survey_slug: str,
    department: str,
    action_id: str,
    changes: ActionChanges,
    *,
    today: date | None = None,
) -> PlanAction:
    """Save HR's changes to an action (its wave and catalogue origin stay)."""
    action = find_action(store, survey_slug, department, action_id)
    _check_lever(store, survey_slug, action.wave_id, changes.lever_id)
    changed = replace(action, updated_on=today or date.today(), **_fields(changes))  # type: ignore[arg-type]
    store.put_plan_action(changed)
    audit(store, actor, "plan.update", f"{survey_slug}/{department}", changed.title)
    return changed


def remove(store: Store, actor: str, survey_slug: str, department: str, action_id: str) -> None:
    """Delete an action from a unit's plan."""
    action = find_action(store, survey_slug, department, action_id)
    store.delete_plan_action(survey_slug, department, action_id)
    audit(store, actor, "plan.remove", f"{survey_slug}/{department}", action.title)


def save_settings(store: Store, actor: str, settings: ScorecardSettings) -> None:
    """Store a survey's targets and "needs attention" line."""
    store.get_survey(settings.survey_slug)
    store.put_scorecard_settings(settings)
    targets = ", ".join(f"{k} {v}" for k, v in sorted(settings.lever_targets.items()))
    audit(
        store,
        actor,
        "scorecard.settings",
        settings.survey_slug,
        f"attention {settings.attention}, target {settings.default_target}"
        + (f"; {targets}" if targets else ""),
    )
