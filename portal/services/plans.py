"""The reinforcement plan of a unit (department or organisation) and a survey's targets.

HR takes recommended actions from the catalogue into the plan (with the
catalogue's suggested owner role, mandate holder, KPI and due date), writes
actions of their own, updates them as they progress, and sets the survey's
targets. Every change is written to the audit trail. The scorecard
(``portal.services.scorecard``) prints what is saved here.

What a wave's plan holds, for the admin pages and for adopting without
duplicates, follows the printed scorecard's rules: the actions planned in
this wave, plus those carried over from earlier waves unless dropped. A
catalogue action counts as already in the plan when this wave holds it, or an
earlier wave holds it still open (planned or in progress).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import NamedTuple

from portal.domain.entities import Wave, WaveStatus
from portal.domain.errors import NotFound, ValidationError
from portal.domain.questionnaire import Lever, Questionnaire
from portal.domain.scorecard import (
    ORGANISATION,
    ActionStatus,
    PlanAction,
    ScorecardSettings,
    planned_catalogue_actions,
    wave_plan,
)
from portal.instruments import get_action_catalogue, get_questionnaire
from portal.services import scorecard
from portal.services.accounts import audit
from portal.services.scorecard import catalogued, language_of, lever_target, suggested_due
from portal.services.scorecard_model import TEXTS, PlanLine, ScorecardPage
from portal.services.structure import wave_departments
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


def levers(store: Store, survey_slug: str, wave_id: str) -> tuple[Lever, ...]:
    """Return the levers an action of the wave may address, in questionnaire order."""
    return tuple(
        sorted(_questionnaire(store, survey_slug, wave_id).levers, key=lambda lever: lever.order)
    )


def survey_levers(store: Store, survey_slug: str) -> tuple[Lever, ...]:
    """Return the levers of the survey's questionnaire (the one new waves use), in order."""
    survey = store.get_survey(survey_slug)
    questionnaire = get_questionnaire(survey.questionnaire_id, survey.questionnaire_version)
    return tuple(sorted(questionnaire.levers, key=lambda lever: lever.order))


def opened_wave(store: Store, survey_slug: str, wave_id: str) -> Wave:
    """Return the wave if it has been opened; raise ``ValidationError`` for a draft.

    Raise ``NotFound`` for an unknown survey or wave. A draft has no answers
    and no scorecard, so there is nothing to plan against yet.
    """
    store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    if wave.status is WaveStatus.DRAFT:
        raise ValidationError(
            f"The wave {wave.name!r} is still a draft. Plans belong to a wave that has been "
            "opened: open it on the survey page first."
        )
    return wave


def _wave_order(store: Store, survey_slug: str) -> dict[str, int]:
    return {w.wave_id: position for position, w in enumerate(store.list_waves(survey_slug))}


def _adopted_id(survey_slug: str, department: str, wave_id: str, catalogue_id: str) -> str:
    # One id per catalogue action, unit and wave: a double-clicked "Add to plan"
    # whose two requests race past the duplicate check writes the same record twice.
    key = f"{survey_slug}/{department}/{wave_id}/{catalogue_id}".encode()
    return hashlib.sha256(key).hexdigest()[:16]


class Adoption(NamedTuple):
    """The action a catalogue adoption left in the plan, and whether it was added now."""

    action: PlanAction
    added: bool


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
) -> Adoption:
    """Take a catalogue action into a unit's plan with its suggested owner, mandate and KPI.

    Texts are the catalogue's in ``language`` (its default language if it has
    not that one), the survey's system named. Adopting an action the plan
    already holds (see the module docstring) adds nothing and returns the
    saved one with ``added`` false, so a repeated or double-clicked request
    leaves one copy. Raise ``NotFound`` for an unknown unit or catalogue
    action and ``ValidationError`` for a draft wave.
    """
    survey = store.get_survey(survey_slug)
    opened_wave(store, survey_slug, wave_id)
    _check_unit(store, survey_slug, department)
    catalogue = get_action_catalogue(survey.questionnaire_id)
    found = catalogued(catalogue, catalogue_id)
    if found is None:
        raise NotFound("There is no such action in the catalogue.")
    own, carried = wave_plan(
        store.list_plan_actions(survey_slug, department),
        wave_id,
        _wave_order(store, survey_slug),
    )
    if found.id in planned_catalogue_actions(own, carried):
        holders = [a for a in own if a.catalogue_id == found.id] or [
            a for a in carried if a.catalogue_id == found.id and a.is_open
        ]
        return Adoption(holders[0], added=False)
    lang = language_of(language)
    text = catalogue.text(found, lang, survey.system_in(lang))
    settings = store.get_scorecard_settings(survey_slug)
    name = _questionnaire(store, survey_slug, wave_id).lever(found.lever_id).name
    lever_name = name.get(lang) or next(iter(name.values()), found.lever_id)
    day = today or date.today()
    action = PlanAction(
        survey_slug=survey_slug,
        department=department,
        action_id=_adopted_id(survey_slug, department, wave_id, found.id),
        wave_id=wave_id,
        lever_id=found.lever_id,
        catalogue_id=found.id,
        title=text.title,
        owner_role=text.owner_role,
        mandate_holder=text.mandate_holder,
        due=suggested_due(found, day),
        kpi=text.kpi,
        kpi_target=lever_target(TEXTS[lang], lever_name, settings, found.lever_id),
        status=ActionStatus.PLANNED,
        updated_on=day,
    )
    store.put_plan_action(action)
    audit(store, actor, "plan.add", f"{survey_slug}/{department}", action.title)
    return Adoption(action, added=True)


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
    opened_wave(store, survey_slug, wave_id)
    _check_unit(store, survey_slug, department)
    _check_lever(store, survey_slug, wave_id, changes.lever_id)
    action = PlanAction(
        survey_slug=survey_slug,
        department=department,
        action_id=secrets.token_hex(8),
        wave_id=wave_id,
        catalogue_id=None,
        updated_on=today or date.today(),
        **asdict(changes),
    )
    store.put_plan_action(action)
    audit(store, actor, "plan.add", f"{survey_slug}/{department}", action.title)
    return action


def find_action(store: Store, survey_slug: str, department: str, action_id: str) -> PlanAction:
    """Return one saved action of a unit's plan; raise ``NotFound`` if there is none."""
    for action in store.list_plan_actions(survey_slug, department):
        if action.action_id == action_id:
            return action
    raise NotFound("There is no such action in this plan.")


def wave_action(
    store: Store, survey_slug: str, wave_id: str, department: str, action_id: str
) -> PlanAction:
    """Return an action of a unit's plan as a wave shows it: its own or a carried one.

    Raise ``NotFound`` for an unknown action, and for one the wave's plan does
    not hold (planned in a later wave, or carried over but dropped).
    """
    action = find_action(store, survey_slug, department, action_id)
    own, carried = wave_plan([action], wave_id, _wave_order(store, survey_slug))
    if not own and not carried:
        raise NotFound("This action is not part of this wave's plan.")
    return action


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
    changed = replace(action, updated_on=today or date.today(), **asdict(changes))
    store.put_plan_action(changed)
    audit(store, actor, "plan.update", f"{survey_slug}/{department}", changed.title)
    return changed


def remove(store: Store, actor: str, survey_slug: str, department: str, action_id: str) -> None:
    """Delete an action from a unit's plan."""
    action = find_action(store, survey_slug, department, action_id)
    store.delete_plan_action(survey_slug, department, action_id)
    audit(store, actor, "plan.remove", f"{survey_slug}/{department}", action.title)


# -- what the admin pages show ------------------------------------------------------


@dataclass(frozen=True)
class CarriedAction:
    """An action planned in an earlier wave, with how its lever moved since that wave."""

    action: PlanAction
    from_wave: str
    movement: str


@dataclass(frozen=True)
class UnitPlan:
    """Everything a unit's plan page shows for one wave; nothing is cut off as in print.

    ``overdue`` holds the ids of the saved actions that are open and past their
    due date on the day the page is made (``PlanAction.is_overdue``).
    """

    wave: Wave
    page: ScorecardPage
    levers: tuple[Lever, ...]
    actions: tuple[PlanAction, ...]
    carried: tuple[CarriedAction, ...]
    suggestions: tuple[PlanLine, ...]
    overdue: frozenset[str] = frozenset()


def unit_plan(
    store: Store,
    survey_slug: str,
    wave_id: str,
    department: str,
    *,
    language: str = "en",
    today: date | None = None,
) -> UnitPlan:
    """Return a unit's plan for a wave: its own actions, carried ones and open suggestions.

    Raise ``NotFound`` for an unknown survey, wave or unit and
    ``ValidationError`` for a draft wave.
    """
    wave = opened_wave(store, survey_slug, wave_id)
    _check_unit(store, survey_slug, department)
    card = scorecard.scorecard(
        store,
        survey_slug,
        wave_id,
        department=department,
        language=language,
        today=today,
        max_plan_lines=None,
    )
    page = card.pages[0]
    moved = {line.action_id: line.movement or "" for line in page.plan if line.from_wave}
    waves = store.list_waves(survey_slug)
    names = {w.wave_id: w.name for w in waves}
    own, carried = wave_plan(
        store.list_plan_actions(survey_slug, department),
        wave_id,
        {w.wave_id: position for position, w in enumerate(waves)},
    )
    return UnitPlan(
        wave=wave,
        page=page,
        levers=levers(store, survey_slug, wave_id),
        actions=tuple(own),
        carried=tuple(
            CarriedAction(a, names.get(a.wave_id, a.wave_id), moved.get(a.action_id, ""))
            for a in carried
        ),
        suggestions=tuple(line for line in page.plan if not line.saved),
        overdue=frozenset(line.action_id for line in page.plan if line.overdue and line.action_id),
    )


@dataclass(frozen=True)
class UnitSummary:
    """One line of a wave's list of plans: a unit and how many actions its plan holds."""

    department: str
    label: str
    site: str
    actions: int
    open: int


def plan_overview(store: Store, survey_slug: str, wave_id: str) -> tuple[Wave, list[UnitSummary]]:
    """Return the wave and each unit's count of plan actions (carried ones included) and open ones.

    The organisation comes first, then the departments by name; a retired
    department is listed only while its plan holds actions. Raise
    ``NotFound`` for an unknown survey or wave and ``ValidationError`` for a
    draft wave.
    """
    wave = opened_wave(store, survey_slug, wave_id)
    order = _wave_order(store, survey_slug)
    per_unit: dict[str, list[PlanAction]] = {}
    for action in store.list_plan_actions(survey_slug):
        per_unit.setdefault(action.department, []).append(action)

    def summary(code: str, label: str, site: str) -> UnitSummary:
        own, carried = wave_plan(per_unit.get(code, []), wave_id, order)
        shown = own + carried
        return UnitSummary(code, label, site, len(shown), sum(a.is_open for a in shown))

    lines = [summary(ORGANISATION, TEXTS["en"]["organisation"], "")]
    # The wave's own departments as of its opening, as its results list them.
    for d in sorted(wave_departments(store, wave), key=lambda d: (d.name, d.code)):
        line = summary(d.code, d.name, d.site)
        if not d.retired or line.actions:
            lines.append(line)
    return wave, lines


# -- targets --------------------------------------------------------------------------


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
