"""What one reinforcement scorecard page shows: plain data, already decided and worded.

``portal.services.scorecard`` builds these from the results service (which has
applied the anonymity engine) and the stored plans; the HTML template, the
server-made SVG charts and the PDF writer only lay them out. Nothing here is
computed again by a renderer: every number a page prints is a field below, so
the HTML page, the PDF and the results service always agree.

Numbers are as shown: whole index points (cut off, see ``readiness.whole_index``)
and response rates with one decimal. ``None`` always means "not enough
responses" — a hidden group and a group without answers read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

#: The traffic-light colours a lever line can carry; "none" when no score is published.
LIGHTS = ("green", "amber", "red", "none")


@dataclass(frozen=True)
class LeverLine:
    """One lever's row on the scorecard."""

    lever_id: str
    label: str
    outcome: bool
    index: int | None
    low: int | None
    high: int | None
    target: int
    light: str
    light_word: str
    gap_to_target: int | None
    employees: int | None
    managers: int | None
    change: int | None
    trend_word: str | None


@dataclass(frozen=True)
class PlanLine:
    """One action of the reinforcement plan.

    ``saved`` is false for a recommendation HR has not taken into the plan
    yet (owner, mandate, due date and KPI are then the catalogue's
    suggestions). ``from_wave`` names the earlier wave a carried-over action
    was planned in (``None`` for this wave's actions); ``movement`` says
    whether the action's lever moved since the previous wave, in words.
    ``overdue`` is true for a saved action still open (planned or in
    progress) whose due date is before the day the scorecard was made;
    renderers print the word ``TEXTS["overdue"]``, never a colour alone.
    """

    action_id: str | None
    lever_id: str
    lever_label: str
    title: str
    description: str
    owner_role: str
    mandate_holder: str
    due: date | None
    kpi: str
    kpi_target: str
    status: str
    saved: bool
    reason: str
    from_wave: str | None
    movement: str | None
    #: The catalogue action this line comes from (``None`` for an action HR wrote).
    catalogue_id: str | None = None
    overdue: bool = False


@dataclass(frozen=True)
class ScorecardPage:
    """One A4 page: a department, or the whole organisation (``department`` is ``"*"``)."""

    language: str
    texts: Mapping[str, str]
    survey_slug: str
    survey_title: str
    system_name: str
    wave_id: str
    wave_name: str
    previous_wave_name: str | None
    department: str
    unit_label: str
    site: str
    responses: int | None
    headcount: int
    response_rate: float | None
    low_response: bool
    min_group_size: int
    attention: int
    published: bool
    levers: tuple[LeverLine, ...]
    barrier_sentence: str
    plan: tuple[PlanLine, ...]
    computed_on: date
    #: Plan actions that did not fit on the printed page (they are listed in the portal).
    more_actions: int = 0
    #: The barrier lever's id, ``None`` when no published lever is below ``attention``.
    barrier_lever: str | None = None
    #: More responses than headcount (a rate above 100 %): an old headcount or repeated answers.
    over_headcount: bool = False


@dataclass(frozen=True)
class Scorecard:
    """The pages of one download or print: one department, or the organisation and all."""

    survey_title: str
    wave_name: str
    language: str
    pages: tuple[ScorecardPage, ...]


#: The scorecard's fixed wording per language; ``ScorecardPage.texts`` is one of these.
#: Renderers print these keys and never words of their own.
TEXTS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "Reinforcement scorecard",
        "organisation": "Whole organisation",
        "site": "Site",
        "wave": "Wave",
        "responses": "Responses",
        "headcount": "Headcount",
        "response_rate": "Response rate",
        "low_response": "Under 60 %: read the scores with care.",
        "over_headcount": (
            "More responses than headcount: check the headcount, or for repeated answers."
        ),
        "min_group": "Minimum group size",
        "lever": "Lever",
        "score": "Score",
        "target": "Target",
        "gap": "Gap to target",
        "light": "Status",
        "employees": "Employees",
        "managers": "Managers",
        "change": "Change",
        "since": "since",
        "no_previous": "No earlier wave to compare with.",
        "not_enough": "Not enough responses",
        "not_published": (
            "Not enough responses to publish scores for this group. "
            "Nothing on this page describes individual answers."
        ),
        "barrier": "Barrier",
        "plan": "Reinforcement plan",
        "action": "Action",
        "owner_role": "Owner role",
        "mandate": "Mandate held by",
        "due": "Due",
        "kpi": "KPI and target",
        "status": "Status",
        "suggested": "suggested",
        "carried": "from",
        "moved": "Lever since {wave}",
        "no_plan": "No lever is below its target: keep the current routines going.",
        "barrier_sentence": (
            "{lever} ({index}) is the first lever below {attention}: reinforce it first."
        ),
        "no_barrier": "No lever is below {attention}: there is no single barrier to remove first.",
        "more": "+ {count} more actions in the portal",
        "trend_improved": "improved",
        "trend_declined": "declined",
        "trend_no_clear_change": "no clear change",
        "trend_not_enough_data": "not enough data",
        "trend_too_few_to_tell": "too few responses to tell",
        "red_unsure": "Needs attention? Not sure",
        "barrier_reaches_line": "Not sure: its 95 % interval reaches {attention}.",
        "barrier_close_to": "Not sure: {other} may be below {attention} too.",
        "status_planned": "planned",
        "status_in_progress": "in progress",
        "status_done": "done",
        "status_dropped": "dropped",
        "overdue": "overdue",
        "reason_again": "done in {wave}, suggested again: {reason}",
        "reason_barrier": "barrier",
        "reason_below_target": "below target",
        "reason_needs_attention": "needs attention",
        "reason_manager_gap": "manager gap",
        "reason_low_response": "low response",
        "reason_driver": "{reason}; a key driver of adoption",
        "points": "{change} points, {trend}",
        "lever_target": "{lever} ≥ {target}",
        "chart": "Scores against targets",
        "continued": "continued",
        "computed": "Figures as of",
        "outcome": "outcome",
        "green": "On target",
        "amber": "Below target",
        "red": "Needs attention",
        "none": "Not enough responses",
    },
    "da": {
        "title": "Forankringsscorekort",
        "organisation": "Hele organisationen",
        "site": "Lokation",
        "wave": "Måling",
        "responses": "Besvarelser",
        "headcount": "Antal medarbejdere",
        "response_rate": "Svarprocent",
        "low_response": "Under 60 %: læs tallene med forsigtighed.",
        "over_headcount": (
            "Flere svar end medarbejdere: tjek antallet, eller om nogen har svaret flere gange."
        ),
        "min_group": "Mindste gruppestørrelse",
        "lever": "Område",
        "score": "Score",
        "target": "Mål",
        "gap": "Afstand til mål",
        "light": "Status",
        "employees": "Medarbejdere",
        "managers": "Ledere",
        "change": "Ændring",
        "since": "siden",
        "no_previous": "Ingen tidligere måling at sammenligne med.",
        "not_enough": "For få besvarelser",
        "not_published": (
            "For få besvarelser til at vise tal for denne gruppe. "
            "Intet på siden beskriver enkeltpersoners svar."
        ),
        "barrier": "Barriere",
        "plan": "Forankringsplan",
        "action": "Indsats",
        "owner_role": "Ejerrolle",
        "mandate": "Mandat ligger hos",
        "due": "Frist",
        "kpi": "KPI og mål",
        "status": "Status",
        "suggested": "forslag",
        "carried": "fra",
        "moved": "Området siden {wave}",
        "no_plan": "Intet område ligger under sit mål: hold de nuværende rutiner i gang.",
        "barrier_sentence": (
            "{lever} ({index}) er det første område under {attention}: styrk det først."
        ),
        "no_barrier": (
            "Intet område ligger under {attention}: "
            "der er ikke én barriere, der skal fjernes først."
        ),
        "more": "+ {count} indsatser mere i portalen",
        "trend_improved": "forbedret",
        "trend_declined": "faldet",
        "trend_no_clear_change": "ingen klar ændring",
        "trend_not_enough_data": "for få data",
        "trend_too_few_to_tell": "for få svar til at afgøre",
        "red_unsure": "Kræver opmærksomhed? Usikkert",
        "barrier_reaches_line": "Usikkert: dets 95 %-interval når op til {attention}.",
        "barrier_close_to": "Usikkert: {other} kan også ligge under {attention}.",
        "status_planned": "planlagt",
        "status_in_progress": "i gang",
        "status_done": "gennemført",
        "status_dropped": "droppet",
        "overdue": "forsinket",
        "reason_again": "gennemført i {wave}, foreslået igen: {reason}",
        "reason_barrier": "barriere",
        "reason_below_target": "under mål",
        "reason_needs_attention": "kræver opmærksomhed",
        "reason_manager_gap": "ledergab",
        "reason_low_response": "lav svarprocent",
        "reason_driver": "{reason}; en af de vigtigste drivere for ibrugtagning",
        "points": "{change} point, {trend}",
        "lever_target": "{lever} ≥ {target}",
        "chart": "Score i forhold til mål",
        "continued": "fortsat",
        "computed": "Tal opgjort",
        "outcome": "resultat",
        "green": "På mål",
        "amber": "Under mål",
        "red": "Kræver opmærksomhed",
        "none": "For få besvarelser",
    },
}
