"""The reinforcement scorecard's rules: targets and lights, plan actions, the action catalogue.

Everything here is pure: it decides colours and recommendations from numbers the
caller has already passed through the anonymity engine (a hidden group arrives
as ``None`` and stays "no score"). ``docs/scorecard.md`` states the same rules
for readers of the printed page.

- **Lights.** Per lever, against the survey's ``ScorecardSettings``: green at or
  above the lever's target, red below the attention threshold, amber between,
  and "none" without a published score.
- **Plan actions.** What HR commits to per department (or for the whole
  organisation, ``ORGANISATION``): an action with an owner *role*, the holder of
  the mandate, a due date, a KPI with its target and a status. Plans belong to
  the survey, not a wave, so they carry over to the next wave by themselves.
- **The catalogue.** Suggested actions per lever, in every language of the
  catalogue, each with a rule (``when``) saying in which situation it fits;
  ``recommend`` picks from it for the weakest levers.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from portal.domain.entities import CODE_RE, check_day, check_slug
from portal.domain.errors import ValidationError
from portal.domain.questionnaire import ID_RE, LANGUAGE_RE, PLACEHOLDERS

#: Below this index a lever "needs attention" (red); the same as ``scoring.NEEDS_ATTENTION``.
DEFAULT_ATTENTION = 60
#: The index a lever should reach (green) unless the survey sets another target for it.
DEFAULT_TARGET = 75
#: Managers scoring a lever at least this many points above employees is a finding.
MANAGER_GAP_POINTS = 15.0
#: The department key of the organisation-wide plan (no department code can be ``*``).
ORGANISATION = "*"
#: How many weak levers ``recommend`` addresses, and how many actions per lever.
DEFAULT_MAX_LEVERS = 3
DEFAULT_PER_LEVER = 2

ACTION_ID_RE = re.compile(r"^[0-9a-f]{8,32}$")
TITLE_MAX = 160
ROLE_MAX = 80
KPI_MAX = 200
KPI_TARGET_MAX = 80
MAX_DUE_WEEKS = 104


class Light(StrEnum):
    """A lever's traffic light against its target."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    NONE = "none"


class ActionStatus(StrEnum):
    """Where a planned action stands."""

    PLANNED = "planned"
    IN_PROGRESS = "in progress"
    DONE = "done"
    DROPPED = "dropped"


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# -- targets and lights ----------------------------------------------------------------


@dataclass(frozen=True)
class ScorecardSettings:
    """A survey's scorecard thresholds: when a lever is green, amber or red.

    Rules: the attention threshold and every target are whole numbers from 1 to
    100 on the 0–100 index. A target may equal the attention threshold (then the
    lever has no amber band) but never be below it, since a score cannot be above
    its target and below the attention line at once. ``lever_targets`` overrides
    ``default_target`` for single levers.
    """

    survey_slug: str
    attention: int = DEFAULT_ATTENTION
    default_target: int = DEFAULT_TARGET
    lever_targets: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_slug(self.survey_slug, "Survey slug")
        problems: list[str] = []
        attention_ok = _is_whole(self.attention) and 1 <= self.attention <= 100
        if not attention_ok:
            problems.append(
                f"The attention threshold must be a whole number from 1 to 100; "
                f"got {self.attention!r}."
            )
        targets: list[tuple[str, object]] = [("The default target", self.default_target)]
        if not isinstance(self.lever_targets, Mapping):
            problems.append("The lever targets must map lever ids to whole numbers.")
        else:
            for lever_id, target in sorted(self.lever_targets.items(), key=lambda kv: str(kv[0])):
                if not isinstance(lever_id, str) or not ID_RE.match(lever_id):
                    problems.append(f"{lever_id!r} is not a lever id.")
                targets.append((f"The target for {lever_id}", target))
        for what, value in targets:
            if not (isinstance(value, int) and _is_whole(value) and 1 <= value <= 100):
                problems.append(f"{what} must be a whole number from 1 to 100; got {value!r}.")
            elif attention_ok and value < self.attention:
                problems.append(
                    f"{what} ({value}) must not be below the attention threshold "
                    f"({self.attention}); raise the target or lower the threshold."
                )
        if problems:
            raise ValidationError(" ".join(problems), errors=problems)
        object.__setattr__(self, "lever_targets", dict(sorted(self.lever_targets.items())))

    def target(self, lever_id: str) -> int:
        """Return the lever's target: its own if set, else the default target."""
        return self.lever_targets.get(lever_id, self.default_target)

    def light(self, index: float | None, lever_id: str) -> Light:
        """Return the lever's light for ``index`` (the exact index, not a rounded one).

        Rules: ``NONE`` when there is no published score; ``GREEN`` when the
        index is at or above the target; ``RED`` when it is below the attention
        threshold; ``AMBER`` otherwise. Thresholds are whole numbers, so the
        index cut off to whole points (as pages show it) lands on the same side.
        """
        if index is None or math.isnan(index):
            return Light.NONE
        if index >= self.target(lever_id):
            return Light.GREEN
        if index < self.attention:
            return Light.RED
        return Light.AMBER

    def gap(self, index: float | None, lever_id: str) -> float | None:
        """Return how far the index is from the target (negative below it), or ``None``."""
        if index is None or math.isnan(index):
            return None
        return index - self.target(lever_id)

    def check_levers(self, lever_ids: Collection[str]) -> None:
        """Raise ``ValidationError`` if a lever target names a lever not in ``lever_ids``."""
        unknown = sorted(set(self.lever_targets) - set(lever_ids))
        if unknown:
            raise ValidationError(
                f"Targets are set for levers the questionnaire does not have: "
                f"{', '.join(unknown)}; the levers are {', '.join(lever_ids)}."
            )


# -- plan actions ----------------------------------------------------------------------


def _clean_text(
    problems: list[str], what: str, value: object, *, minimum: int, maximum: int
) -> str:
    """Return ``value`` stripped, noting a problem if it is not 1-line text of a fitting length."""
    if not isinstance(value, str):
        problems.append(f"{what} must be text.")
        return ""
    text = value.strip()
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        problems.append(f"{what} must be one line of text, without tabs or control characters.")
    if len(text) < minimum:
        problems.append(f"{what} is required." if minimum == 1 else f"{what} is too short.")
    elif len(text) > maximum:
        problems.append(f"{what} must be at most {maximum} characters; it has {len(text)}.")
    return text


@dataclass(frozen=True)
class PlanAction:
    """One action of a reinforcement plan, for a department or the whole organisation.

    ``department`` is a department code, or ``ORGANISATION`` for the
    organisation-wide plan. ``action_id`` is a random hex id minted by the
    service; ``wave_id`` the wave the action was planned in (plans carry over to
    later waves). ``catalogue_id`` names the catalogue action it came from, or is
    ``None`` for an action HR wrote. The owner is a *role* ("Department
    manager"), never a person, and so is the mandate holder, ideally.

    Texts are stored stripped; each must be one line. Every problem found is
    reported at once (``ValidationError.errors``), so a form can show them all.
    """

    survey_slug: str
    department: str
    action_id: str
    wave_id: str
    lever_id: str
    catalogue_id: str | None
    title: str
    owner_role: str
    mandate_holder: str
    due: date | None
    kpi: str
    kpi_target: str
    status: ActionStatus
    updated_on: date

    def __post_init__(self) -> None:
        problems: list[str] = []
        for what, value, pattern in (
            ("Survey slug", self.survey_slug, ID_RE),
            ("Wave id", self.wave_id, ID_RE),
            ("Lever id", self.lever_id, ID_RE),
        ):
            if not isinstance(value, str) or not pattern.match(value):
                problems.append(f"{what} {value!r} must be 1–40 lowercase letters, digits or '-'.")
        if not isinstance(self.department, str) or not (
            self.department == ORGANISATION or CODE_RE.match(self.department)
        ):
            problems.append(
                f"Department {self.department!r} must be a department code, or "
                f"{ORGANISATION!r} for the whole organisation."
            )
        if not isinstance(self.action_id, str) or not ACTION_ID_RE.match(self.action_id):
            problems.append(f"Action id {self.action_id!r} must be 8–32 lowercase hex digits.")
        if self.catalogue_id is not None and not (
            isinstance(self.catalogue_id, str) and ID_RE.match(self.catalogue_id)
        ):
            problems.append(f"Catalogue action {self.catalogue_id!r} is not a catalogue id.")
        title = _clean_text(problems, "The action", self.title, minimum=1, maximum=TITLE_MAX)
        owner = _clean_text(
            problems, "The owner role", self.owner_role, minimum=1, maximum=ROLE_MAX
        )
        mandate = _clean_text(
            problems, "The mandate holder", self.mandate_holder, minimum=1, maximum=ROLE_MAX
        )
        for what, text in (("The owner role", owner), ("The mandate holder", mandate)):
            if "@" in text:
                problems.append(
                    f"{what} should name a role such as 'Department manager' or 'Local change "
                    "lead', not a person or an e-mail address: a role stays when people move on."
                )
        kpi = _clean_text(problems, "The KPI", self.kpi, minimum=0, maximum=KPI_MAX)
        kpi_target = _clean_text(
            problems, "The KPI target", self.kpi_target, minimum=0, maximum=KPI_TARGET_MAX
        )
        if self.due is not None and type(self.due) is not date:
            problems.append("The due date must be a calendar day without a time.")
        if not isinstance(self.status, ActionStatus):
            problems.append(
                f"The status must be one of {', '.join(s.value for s in ActionStatus)}; "
                f"got {self.status!r}."
            )
        if type(self.updated_on) is not date:
            problems.append("The day of the last change must be a calendar day without a time.")
        if problems:
            raise ValidationError(" ".join(problems), errors=problems)
        for name, value in (
            ("title", title),
            ("owner_role", owner),
            ("mandate_holder", mandate),
            ("kpi", kpi),
            ("kpi_target", kpi_target),
        ):
            object.__setattr__(self, name, value)

    @property
    def is_open(self) -> bool:
        """Tell whether the action is still to be done (planned or in progress)."""
        return self.status in (ActionStatus.PLANNED, ActionStatus.IN_PROGRESS)

    def is_overdue(self, today: date) -> bool:
        """Tell whether an open action's due date has passed (not on the day itself)."""
        check_day(today, "Today")
        return self.is_open and self.due is not None and self.due < today


def plan_order(action: PlanAction) -> tuple[str, bool, date, str, str]:
    """Return the sort key plans are listed by.

    Order: by department (the organisation's plan, ``*``, first), then due
    date with undated actions last, then title ignoring case, then id.
    """
    return (
        action.department,
        action.due is None,
        action.due or date.max,
        action.title.casefold(),
        action.action_id,
    )


def wave_plan(
    actions: Sequence[PlanAction], wave_id: str, order: Mapping[str, int]
) -> tuple[list[PlanAction], list[PlanAction]]:
    """Return a wave's own actions and those carried over from earlier waves.

    ``order`` gives each wave's position in the survey. Rules: an action of a
    later wave is not part of this wave's plan; an earlier wave's action
    carries over unless it was dropped. Both lists keep ``plan_order``.
    """
    current = order.get(wave_id, 0)
    own = sorted((a for a in actions if a.wave_id == wave_id), key=plan_order)
    carried = sorted(
        (
            a
            for a in actions
            if a.wave_id != wave_id
            and order.get(a.wave_id, current + 1) < current
            and a.status is not ActionStatus.DROPPED
        ),
        key=plan_order,
    )
    return own, carried


def planned_catalogue_actions(own: Sequence[PlanAction], carried: Sequence[PlanAction]) -> set[str]:
    """Return the catalogue actions a wave's plan already holds, so they are not suggested again.

    Rule: every catalogue action saved in this wave, and those carried over
    from an earlier wave that are still open (planned or in progress). One
    done in an earlier wave is not "held" (HR may take it up again), but
    ``recommend`` passes it over (see ``done_catalogue_actions``).
    """
    return {a.catalogue_id for a in own if a.catalogue_id} | {
        a.catalogue_id for a in carried if a.catalogue_id and a.is_open
    }


def done_catalogue_actions(
    carried: Sequence[PlanAction], order: Mapping[str, int]
) -> dict[str, str]:
    """Return the catalogue actions a unit has done in earlier waves, with the wave of each.

    ``carried`` is a wave's carried-over plan (``wave_plan``): the unit's own
    actions of earlier waves, dropped ones left out. Rule: an action counts
    when its status is done; when the same catalogue action was done in
    several waves, the latest of them (by ``order``) is named.
    """
    done: dict[str, str] = {}
    for action in carried:
        if action.catalogue_id is None or action.status is not ActionStatus.DONE:
            continue
        known = done.get(action.catalogue_id)
        if known is None or order.get(action.wave_id, -1) > order.get(known, -1):
            done[action.catalogue_id] = action.wave_id
    return done


def dropped_catalogue_actions(
    actions: Sequence[PlanAction], wave_id: str, order: Mapping[str, int]
) -> frozenset[str]:
    """Return the catalogue actions a unit dropped in an earlier wave and has not done since.

    ``actions`` are the unit's plan actions of every wave. Rule: HR dropped them
    on purpose (they did not fit the unit), so ``recommend`` does not suggest
    them again; one that the unit also did in an earlier wave counts as done
    instead (``done_catalogue_actions``).
    """
    current = order.get(wave_id, 0)
    earlier = [a for a in actions if order.get(a.wave_id, current + 1) < current]
    done = {a.catalogue_id for a in earlier if a.status is ActionStatus.DONE}
    return frozenset(
        a.catalogue_id
        for a in earlier
        if a.catalogue_id and a.status is ActionStatus.DROPPED and a.catalogue_id not in done
    )


# -- the action catalogue --------------------------------------------------------------


class When(StrEnum):
    """The rule that says when a catalogue action is recommended for its (weak) lever.

    - ``always``: whenever the lever is below its target;
    - ``red``: only when the lever is below the attention threshold;
    - ``manager_gap``: only when managers score the lever at least
      ``MANAGER_GAP_POINTS`` (15) above employees;
    - ``low_response``: whenever the group's response rate is under target,
      whatever the scores (even when none is published).
    """

    ALWAYS = "always"
    RED = "red"
    MANAGER_GAP = "manager_gap"
    LOW_RESPONSE = "low_response"


@dataclass(frozen=True)
class ActionText:
    """A catalogue action's texts in one language, with the system's name filled in."""

    title: str
    description: str
    owner_role: str
    mandate_holder: str
    kpi: str


@dataclass(frozen=True)
class CatalogueAction:
    """A suggested action for one lever, with suggested owner, mandate, KPI and due date."""

    id: str
    lever_id: str
    when: When
    title: Mapping[str, str]
    description: Mapping[str, str]
    owner_role: Mapping[str, str]
    mandate_holder: Mapping[str, str]
    kpi: Mapping[str, str]
    due_weeks: int

    def in_language(self, language: str, system: str) -> ActionText:
        """Return the texts in ``language`` (``KeyError`` if missing), ``{system}`` filled in."""

        def fill(texts: Mapping[str, str]) -> str:
            return texts[language].replace("{system}", system)

        return ActionText(
            title=fill(self.title),
            description=fill(self.description),
            owner_role=fill(self.owner_role),
            mandate_holder=fill(self.mandate_holder),
            kpi=fill(self.kpi),
        )


@dataclass(frozen=True)
class Catalogue:
    """The suggested actions for one questionnaire's levers, in catalogue order."""

    questionnaire_id: str
    version: int
    languages: tuple[str, ...]
    actions: tuple[CatalogueAction, ...]

    @property
    def default_language(self) -> str:
        """Return the language used when a survey's language is not in the catalogue."""
        return self.languages[0]

    def language_for(self, language: str) -> str:
        """Return ``language`` if the catalogue has it, else its default language."""
        return language if language in self.languages else self.default_language

    def text(self, action: CatalogueAction, language: str, system: str) -> ActionText:
        """Return an action's texts in ``language``, or in the default language if absent."""
        return action.in_language(self.language_for(language), system)

    def for_lever(self, lever_id: str) -> tuple[CatalogueAction, ...]:
        """Return the lever's actions in catalogue order (empty for an unknown lever)."""
        return tuple(action for action in self.actions if action.lever_id == lever_id)

    def get(self, action_id: str) -> CatalogueAction:
        """Return the action with ``action_id``; raise ``KeyError`` if there is none."""
        for action in self.actions:
            if action.id == action_id:
                return action
        raise KeyError(action_id)

    def levers(self) -> set[str]:
        """Return the ids of the levers that have at least one action."""
        return {action.lever_id for action in self.actions}


class CatalogueError(ValidationError):
    """An action catalogue file breaks the format; ``errors`` lists every problem."""


_CATALOGUE_KEYS = {"questionnaire", "version", "languages", "actions"}
_ACTION_KEYS = {
    "id",
    "lever",
    "when",
    "title",
    "description",
    "owner_role",
    "mandate_holder",
    "kpi",
    "due_weeks",
}
#: Each text field of an action and its longest length: a suggestion that HR
#: takes into the plan must fit the plan's own field, even with a long system name.
_TEXT_LIMITS = {
    "title": TITLE_MAX,
    "description": 600,
    "owner_role": ROLE_MAX,
    "mandate_holder": ROLE_MAX,
    "kpi": KPI_MAX,
}
#: The longest system name a survey may give (``Survey`` allows 60 characters).
_LONGEST_SYSTEM = "x" * 60


class _Problems:
    """Gathers problems so that one run reports all of them."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{self.source}: {where}: {message}")


def parse_catalogue(data: object, source: str = "<catalogue>") -> Catalogue:
    """Validate plain ``data`` (as read from YAML) and build a ``Catalogue``.

    Every error line names ``source``, the place (``actions[3] (id 'x').title.da``)
    and what is wrong; all problems are reported at once as a ``CatalogueError``.
    Every text must exist in every language the catalogue lists, and no other;
    texts may use ``{system}`` for the system's name.
    """
    p = _Problems(source)
    if not isinstance(data, Mapping):
        p.add("top level", "must be a mapping with questionnaire, version, languages and actions.")
        raise CatalogueError(p.lines[0], errors=p.lines)
    for key in data:
        if key not in _CATALOGUE_KEYS:
            p.add(
                "top level",
                f"unknown field {key!r}; allowed fields are {', '.join(sorted(_CATALOGUE_KEYS))}.",
            )
    for key in ("questionnaire", "version", "languages", "actions"):
        if key not in data:
            p.add("top level", f"the required field {key!r} is missing.")

    questionnaire_id = data.get("questionnaire")
    if "questionnaire" in data and not (
        isinstance(questionnaire_id, str) and ID_RE.match(questionnaire_id)
    ):
        p.add("questionnaire", f"{questionnaire_id!r} is not a questionnaire id.")
    version = data.get("version")
    if "version" in data and not (isinstance(version, int) and _is_whole(version) and version >= 1):
        p.add("version", f"must be a positive whole number, got {version!r}.")

    languages = _languages(p, data.get("languages")) if "languages" in data else []
    actions: list[CatalogueAction] = []
    raw_actions = data.get("actions")
    if "actions" in data and (not isinstance(raw_actions, list) or not raw_actions):
        p.add("actions", "must be a non-empty list of actions.")
    elif isinstance(raw_actions, list):
        seen: set[str] = set()
        for index, entry in enumerate(raw_actions):
            action = _action(p, index, entry, languages, seen)
            if action is not None:
                actions.append(action)

    if p.lines:
        raise CatalogueError(f"{len(p.lines)} problem(s) in {source}", errors=p.lines)
    assert isinstance(questionnaire_id, str) and isinstance(version, int)  # checked above
    return Catalogue(
        questionnaire_id=questionnaire_id,
        version=version,
        languages=tuple(languages),
        actions=tuple(actions),
    )


def _languages(p: _Problems, raw: object) -> list[str]:
    if not isinstance(raw, list) or not raw:
        p.add("languages", "must be a non-empty list of two-letter codes, e.g. [en, da].")
        return []
    languages: list[str] = []
    for index, language in enumerate(raw):
        if not isinstance(language, str) or not LANGUAGE_RE.match(language):
            p.add(f"languages[{index}]", f"{language!r} is not a two-letter code such as 'en'.")
        elif language in languages:
            p.add(f"languages[{index}]", f"{language!r} is listed twice.")
        else:
            languages.append(language)
    return languages


def _action(
    p: _Problems, index: int, entry: object, languages: Sequence[str], seen: set[str]
) -> CatalogueAction | None:
    where = f"actions[{index}]"
    if not isinstance(entry, Mapping):
        p.add(where, "must be a mapping with id, lever, when, due_weeks and the texts.")
        return None
    if entry.get("id"):
        where = f"actions[{index}] (id {entry.get('id')!r})"
    before = len(p.lines)
    for key in entry:
        if key not in _ACTION_KEYS:
            p.add(
                where,
                f"unknown field {key!r}; allowed fields are {', '.join(sorted(_ACTION_KEYS))}.",
            )
    action_id = entry.get("id")
    if not isinstance(action_id, str) or not ID_RE.match(action_id):
        p.add(
            f"{where}.id", f"{action_id!r} must be 1–40 lowercase letters, digits or inner hyphens."
        )
    elif action_id in seen:
        p.add(f"{where}.id", "is used by another action; action ids must be unique.")
    else:
        seen.add(action_id)
    lever = entry.get("lever")
    if not isinstance(lever, str) or not ID_RE.match(lever):
        p.add(f"{where}.lever", f"{lever!r} is not a lever id.")
    when = entry.get("when")
    rules = [w.value for w in When]
    if when not in rules:
        p.add(f"{where}.when", f"must be one of {', '.join(rules)}, got {when!r}.")
    due_weeks = entry.get("due_weeks")
    if not (
        isinstance(due_weeks, int) and _is_whole(due_weeks) and 1 <= due_weeks <= MAX_DUE_WEEKS
    ):
        p.add(
            f"{where}.due_weeks",
            f"must be a whole number of weeks from 1 to {MAX_DUE_WEEKS}, got {due_weeks!r}.",
        )
    texts = {
        name: _texts(p, f"{where}.{name}", entry.get(name), languages, limit)
        for name, limit in _TEXT_LIMITS.items()
    }
    if len(p.lines) > before:
        return None
    assert isinstance(action_id, str) and isinstance(lever, str) and isinstance(due_weeks, int)
    return CatalogueAction(
        id=action_id,
        lever_id=lever,
        when=When(str(when)),
        title=texts["title"],
        description=texts["description"],
        owner_role=texts["owner_role"],
        mandate_holder=texts["mandate_holder"],
        kpi=texts["kpi"],
        due_weeks=due_weeks,
    )


def _texts(
    p: _Problems, where: str, raw: object, languages: Sequence[str], limit: int
) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        p.add(where, f"must map each language ({', '.join(languages)}) to a text.")
        return {}
    result: dict[str, str] = {}
    for language in languages:
        text = raw.get(language)
        place = f"{where}.{language}"
        if not isinstance(text, str) or not text.strip():
            p.add(place, "the text is missing or empty.")
            continue
        text = " ".join(text.split())
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError as exc:
            p.add(place, f"has unbalanced braces ({exc}); write {{system}} for the system's name.")
            continue
        for name in names:
            if name not in PLACEHOLDERS:
                p.add(place, f"unknown placeholder {{{name}}}; only {{system}} is available.")
        longest = len(text.replace("{system}", _LONGEST_SYSTEM))
        if longest > limit:
            p.add(
                place,
                f"is too long: at most {limit} characters with the longest system name "
                f"filled in, but it could reach {longest}.",
            )
        result[language] = text
    for language in raw:
        if language not in languages:
            p.add(f"{where}.{language}", "is not one of the catalogue's languages.")
    return result


# -- recommendations -------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    """A catalogue action suggested for a weak lever, and the rule word that chose it.

    ``reason`` is one of ``"manager gap"`` (the action answers managers rating
    the lever well above their teams), ``"barrier"`` (the lever is the barrier),
    ``"needs attention"`` (below the attention threshold), ``"below target"``,
    or ``"low response"`` (too few answered to trust the scores). ``again`` is
    true for an action the unit has already done in an earlier wave and that is
    suggested once more because its situation persists (see ``recommend``).
    ``driver`` is true when the lever is a key driver of the outcome in this
    organisation (``recommend``'s ``drivers``).
    """

    lever_id: str
    action: CatalogueAction
    reason: str
    again: bool = False
    driver: bool = False


def focus_levers(
    levers: Sequence[tuple[str, bool]],
    scores: Mapping[str, float | None],
    settings: ScorecardSettings,
    *,
    barrier: str | None,
    max_levers: int = DEFAULT_MAX_LEVERS,
    drivers: Collection[str] = (),
) -> tuple[str, ...]:
    """Return the levers a reinforcement plan should address, most urgent first.

    Rules: only non-outcome levers with a published score (not ``None``) below
    their target qualify. The barrier comes first if it qualifies; then the
    key drivers of the outcome (``drivers``: levers that move adoption most in
    this organisation, from a stable key-driver analysis — raising them is
    likelier to move adoption than raising another lever as weak); then the
    rest; within each, lowest score first, ties in questionnaire order (the
    order of ``levers``). At most ``max_levers`` are returned; none when
    nothing is published (a suppressed group).
    """
    if not (_is_whole(max_levers) and max_levers >= 0):
        raise ValidationError(f"max_levers must be a whole number ≥ 0, got {max_levers!r}.")
    weak: list[tuple[bool, bool, float, int, str]] = []
    for position, (lever_id, outcome) in enumerate(levers):
        index = scores.get(lever_id)
        if outcome or index is None or math.isnan(index):
            continue
        if index < settings.target(lever_id):
            weak.append((lever_id != barrier, lever_id not in drivers, index, position, lever_id))
    return tuple(lever_id for *_, lever_id in sorted(weak)[:max_levers])


def recommend(
    levers: Sequence[tuple[str, bool]],
    scores: Mapping[str, float | None],
    settings: ScorecardSettings,
    catalogue: Catalogue,
    *,
    barrier: str | None,
    gaps: Mapping[str, float | None] | None = None,
    low_response: bool = False,
    done: Collection[str] = (),
    unsure: Collection[str] = (),
    max_levers: int = DEFAULT_MAX_LEVERS,
    per_lever: int = DEFAULT_PER_LEVER,
    drivers: Collection[str] = (),
    dropped: Collection[str] = (),
) -> tuple[Recommendation, ...]:
    """Choose catalogue actions for a group's weakest levers.

    ``levers`` lists ``(lever id, is outcome)`` in questionnaire order;
    ``scores`` the published index per lever (``None`` when hidden or empty);
    ``barrier`` the barrier lever's id, if any; ``gaps`` the managers' index
    minus the employees' per lever, where both are published; ``low_response``
    whether the group's response rate is under target (as the participation
    rules flag it); ``done`` the catalogue actions the unit has done in an
    earlier wave (``done_catalogue_actions``); ``unsure`` the levers under the
    attention line whose 95 % interval reaches it (``certainty.under_line``
    "perhaps"): they are not red, so ``red`` actions do not fit them. Pass in
    ``gaps`` only the gaps that are findings (``certainty.manager_gap``), and
    in ``drivers`` the key drivers of the outcome only when the key-driver
    analysis is shown and stable for the reader (``key_drivers.KeyDrivers.usable``);
    ``dropped`` the catalogue actions the unit dropped in an earlier wave
    (``dropped_catalogue_actions``).

    Rules:

    1. The levers are ``focus_levers``: non-outcome levers with a published score
       below their target, the barrier first, then the key drivers, then the
       rest, lowest score first within each (ties in questionnaire order), at
       most ``max_levers``. A lever takes its place even if no catalogue
       action fits it; a key driver's recommendations say so (``driver``).
    2. For each, the lever's catalogue actions whose ``when`` rule holds, in
       catalogue order, at most ``per_lever``: ``always`` holds for every weak
       lever; ``red`` only below the attention threshold; ``manager_gap`` only
       when the gap is at least ``MANAGER_GAP_POINTS`` (15) — an unknown gap
       (hidden managers or employees) does not count. ``low_response`` actions
       are never chosen here.
    3. An action in ``done`` is not suggested again: it gives its place to the
       lever's next fitting action, so the follow-up meeting gets something new
       to try rather than what was already done. Only when every fitting action
       of the lever is done and the lever is still (or again) below the
       attention threshold are the done ones suggested once more (``again``,
       at most ``per_lever``): the situation that called for them persists and
       the catalogue has nothing else for it. A lever above the attention line
       whose fitting actions are all done gets none (HR may write its own). An
       action in ``dropped`` is never suggested again, not even as a repeat: HR
       judged it unfit for the unit; it gives its place to the next one.
    4. With ``low_response``, the catalogue's ``low_response`` actions follow, at
       most ``per_lever``, whatever the scores: getting more answers is the one
       useful step for a group too small or too quiet to read. Done ones give
       way to others the same way; when all are done they are suggested again
       (``again``), the response rate being under target still.
    5. Otherwise nothing is recommended when no lever has a published score.

    ``reason`` names the most specific rule: "manager gap" for a manager-gap
    action, else "barrier", "needs attention" (red) or "below target".
    """
    if not (_is_whole(per_lever) and per_lever >= 0):
        raise ValidationError(f"per_lever must be a whole number ≥ 0, got {per_lever!r}.")
    chosen = focus_levers(
        levers, scores, settings, barrier=barrier, max_levers=max_levers, drivers=drivers
    )
    recommendations: list[Recommendation] = []
    for lever_id in chosen:
        index = scores[lever_id]
        assert index is not None  # focus_levers keeps published scores only
        red = settings.light(index, lever_id) is Light.RED and lever_id not in unsure
        gap = (gaps or {}).get(lever_id)
        wide_gap = gap is not None and not math.isnan(gap) and gap >= MANAGER_GAP_POINTS
        fitting = [
            action
            for action in catalogue.for_lever(lever_id)
            if action.id not in dropped
            and (
                action.when is When.ALWAYS
                or (action.when is When.RED and red)
                or (action.when is When.MANAGER_GAP and wide_gap)
            )
        ]
        fresh = [action for action in fitting if action.id not in done]
        again = not fresh and red
        for action in (fitting if again else fresh)[:per_lever]:
            if action.when is When.MANAGER_GAP:
                reason = "manager gap"
            elif lever_id == barrier:
                reason = "barrier"
            elif red:
                reason = "needs attention"
            else:
                reason = "below target"
            recommendations.append(
                Recommendation(lever_id, action, reason, again=again, driver=lever_id in drivers)
            )
    if low_response:
        quiet = [
            a for a in catalogue.actions if a.when is When.LOW_RESPONSE and a.id not in dropped
        ]
        fresh = [a for a in quiet if a.id not in done]
        recommendations.extend(
            Recommendation(a.lever_id, a, "low response", again=not fresh)
            for a in (fresh or quiet)[:per_lever]
        )
    return tuple(recommendations)
