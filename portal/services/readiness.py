"""Readiness results of a wave: lever scores per organisation, site and department.

The use case behind the admin results pages and their CSV export. It reads the
wave's current snapshot (``portal.services.results``) — never the raw
responses — and publishes only what ``portal.domain.anonymity`` allows:

* one disclosure decision per wave, made on the whole organisation with the
  wave's locked minimum group size, on the number of responses per
  (department, audience) cell; a department viewer sees that decision cut
  down to their departments (``visible_to``), never a decision of their own;
* a hidden group carries no number at all — not its count, not a score, not
  a rate — and reads exactly like a group without responses (``None``);
* a lever's figures (score, gap sides, change) and a statement's shares only
  where that measure's own decision shows the group too (``services.measures``,
  ``anonymity.disclose_measure``): at least the minimum answered it, and its
  sums cannot be differenced down to fewer;
* a site or audience filter is first checked with ``check_filter``; a refused
  filter yields no rows at all, whatever the reason (``refused``);
* the employee-versus-manager gap of a unit only when both its employee and
  its manager groups are published; the change since the previous wave only
  when the group is published in both waves' decisions (each made on its
  own wave's departments as of its opening, ``structure.wave_departments``)
  and covers the same earlier respondents on both (``_same_respondents``);
* a department's free-text comments (``department_comments``) only when the
  department is published to the reader and has at least the wave's comment
  threshold of respondents (only disjoint department lists are shown, see
  ``_comment_disclosure``) — shuffled, texts only, no dates.

Instrument quality (Cronbach's alpha, agreement) is computed from these results
by ``portal.services.quality``.
"""

from __future__ import annotations

import csv
import io
import math
import random
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from portal.domain import aggregates, certainty
from portal.domain.aggregates import Aggregate, DepartmentComments, Snapshot
from portal.domain.anonymity import (
    Counts,
    Disclosure,
    Group,
    Structure,
    check_filter,
    disclose,
    publishable_comments,
)
from portal.domain.anonymity import visible_to as project
from portal.domain.certainty import BarrierCertainty, GapFinding
from portal.domain.changes import control
from portal.domain.entities import Audience, Department, Survey, Wave, WaveStatus
from portal.domain.errors import NotAllowed, NotFound
from portal.domain.participation import exceeds_headcount, response_rate
from portal.domain.questionnaire import Item, Lever, Questionnaire
from portal.domain.scorecard import DEFAULT_ATTENTION
from portal.domain.scoring import (
    AudienceGap,
    Distribution,
    LeverScore,
    WaveChange,
    find_barrier,
)
from portal.domain.text import printable
from portal.instruments import get_questionnaire
from portal.services import view_cache
from portal.services.accounts import audit
from portal.services.measures import Measures, audience_gaps, lever_scores, wave_changes
from portal.services.results import current_snapshot, held_back
from portal.services.structure import wave_departments
from portal.services.view_cache import same
from portal.storage.port import Store

#: The site that departments named by responses but missing from the survey are put under.
UNLISTED_SITE = "(unlisted)"


class RowKind(StrEnum):
    """Which level of the organisation a results row describes."""

    ORGANISATION = "organisation"
    SITE = "site"
    DEPARTMENT = "department"


@dataclass(frozen=True)
class GroupResult:
    """What may be published about one visible group (never built for a hidden one).

    ``response_rate`` is responses / headcount in per cent, rounded half up to
    one decimal (``participation.response_rate``; ``None`` without headcount,
    or when filtered to one audience, whose headcount is unknown). ``gaps``
    is ``None`` unless both the employee and the manager group of the unit
    are published (and no audience filter is set); ``changes`` is ``None``
    unless the group is published in the previous wave too (in that wave's own decision, on its
    own departments) and covers the same earlier respondents in both.
    """

    responses: int
    headcount: int
    response_rate: float | None
    scores: Mapping[str, LeverScore]
    barrier: LeverScore | None
    gaps: Mapping[str, AudienceGap] | None
    changes: Mapping[str, WaveChange] | None
    aggregate: Aggregate

    @property
    def over_headcount(self) -> bool:
        """Tell whether the rate is above 100 % (see ``participation.exceeds_headcount``)."""
        return self.response_rate is not None and exceeds_headcount(self.responses, self.headcount)


@dataclass(frozen=True)
class ResultRow:
    """One line of the overview: a unit and its result, ``None`` when hidden or empty."""

    kind: RowKind
    key: str
    label: str
    site: str
    result: GroupResult | None

    @property
    def unit(self) -> Group:
        """Return the row's group without an audience (the organisation's key is empty)."""
        if self.kind is RowKind.ORGANISATION:
            return Group()
        if self.kind is RowKind.SITE:
            return Group(site=self.key)
        return Group(department=self.key)


@dataclass(frozen=True)
class WaveResults:
    """A wave's published results as one reader may see them.

    ``refused`` means the requested filter was refused: there are no rows,
    and the page says only "Not enough responses for this selection".
    """

    survey: Survey
    wave: Wave
    questionnaire: Questionnaire
    computed_at: datetime
    min_group_size: int
    sites: tuple[str, ...]
    site: str | None
    audience: Audience | None
    refused: bool
    rows: tuple[ResultRow, ...]
    previous_wave: Wave | None
    disclosure: Disclosure
    #: Which groups' comments this reader may see; only built for a department page.
    comment_disclosure: Disclosure | None = None
    #: Which lever scores and statement shares this reader may see (one decision per measure).
    measures: Measures | None = field(default=None, compare=False, repr=False)
    #: Reads one department's comment texts of the snapshot these results come from
    #: (``None`` once another snapshot replaced it); only set for a department page,
    #: and called only for a department whose comments may be shown.
    comment_texts: Callable[[str], DepartmentComments | None] | None = field(
        default=None, compare=False, repr=False
    )
    #: A closed wave whose last answers could not be released safely (``results.held_back``).
    late_answers_left_out: bool = False
    #: The survey's "needs attention" line (``attention_line``): bands and barriers use it.
    attention: int = DEFAULT_ATTENTION

    @property
    def levers(self) -> tuple[Lever, ...]:
        """Return every lever, the outcome last as in the questionnaire."""
        return self.questionnaire.levers

    @property
    def organisation(self) -> GroupResult | None:
        """Return the organisation's result (per-lever organisation scores), if published."""
        return next((r.result for r in self.rows if r.kind is RowKind.ORGANISATION), None)

    def department(self, code: str) -> ResultRow | None:
        """Return the row of department ``code``, or ``None`` when it is not listed."""
        return next((r for r in self.rows if r.kind is RowKind.DEPARTMENT and r.key == code), None)

    @property
    def is_open(self) -> bool:
        """Tell whether the wave still takes answers (its figures are refreshed)."""
        return self.wave.status is WaveStatus.OPEN


# -- building blocks ------------------------------------------------------------------


@dataclass(frozen=True)
class _WaveData:
    """One wave's snapshot, questionnaire and whole-organisation disclosure."""

    wave: Wave
    questionnaire: Questionnaire
    snapshot: Snapshot
    disclosure: Disclosure
    #: The per-lever and per-statement decisions, for the whole organisation.
    measures: Measures


def _structure(departments: Iterable[Department], snapshots: Iterable[Snapshot]) -> Structure:
    listed = list(departments)
    site_of = {d.code: d.site for d in listed}
    # A response for a department the list lacks must still be counted, never dropped.
    for snapshot in snapshots:
        for code in snapshot.cells:
            site_of.setdefault(code, UNLISTED_SITE)
    return Structure(site_of, {d.code: d.headcount for d in listed})


def _counts(snapshot: Snapshot) -> Counts:
    counts: dict[tuple[str, Audience], int] = {}
    for code, cell in snapshot.cells.items():
        for audience in Audience:
            part = cell.part(audience)
            counts[(code, audience)] = part.responses if part is not None else 0
    return counts


def _questionnaire(survey: Survey, wave: Wave) -> Questionnaire:
    version = wave.questionnaire_version or survey.questionnaire_version
    return get_questionnaire(survey.questionnaire_id, version)


def _wave_data(survey: Survey, wave: Wave, snapshot: Snapshot, structure: Structure) -> _WaveData:
    k = wave.effective_thresholds(survey).min_group_size
    q = _questionnaire(survey, wave)

    def build() -> _WaveData:
        disclosure = disclose(structure, _counts(snapshot), k)
        return _WaveData(wave, q, snapshot, disclosure, Measures(q, snapshot, disclosure))

    # Decided once per snapshot, wave and structure in this process (``view_cache``).
    layout = view_cache.structure_key(structure)
    key = ("wave", snapshot.snapshot_id, same(snapshot), wave, same(q), k, layout)
    return view_cache.remember(key, build)


def _for_reader(data: _WaveData, readable: frozenset[str]) -> tuple[Disclosure, Measures]:
    """Return the wave's decisions cut down to a reader's departments (kept per exact scope)."""
    return view_cache.remember(
        ("reader", same(data), readable),
        lambda: (project(data.disclosure, readable), data.measures.for_reader(readable)),
    )


def _previous(waves: list[Wave], wave_id: str) -> Wave | None:
    """Return the wave listed before ``wave_id`` if it was ever opened, else ``None``."""
    ids = [w.wave_id for w in waves]
    position = ids.index(wave_id) if wave_id in ids else 0
    if position == 0:
        return None
    before = waves[position - 1]
    return None if before.status is WaveStatus.DRAFT else before


def _merged(
    data: _WaveData, structure: Structure, group: Group, audience: Audience | None
) -> Aggregate:
    """Merge the cells of a group's departments, keeping only ``audience``'s part if given."""
    departments = structure.departments_of(group)

    def merge() -> Aggregate:
        cells = [
            data.snapshot.cells[code] for code in sorted(departments) if code in data.snapshot.cells
        ]
        if audience is not None:
            cells = [
                Aggregate(c.questionnaire_id, c.questionnaire_version, c.scale, (part,), c.schema)
                for c in cells
                if (part := c.part(audience)) is not None
            ]
        empty = aggregates.empty_aggregate(data.questionnaire)
        if len(cells) == 1 and _same_layout(cells[0], empty):
            return cells[0]  # what merging one cell gives, without rebuilding it
        return aggregates.merge_all([empty, *cells])

    key = ("merged", same(data.snapshot), same(data.questionnaire), departments, audience)
    return view_cache.remember(key, merge)


def _same_layout(cell: Aggregate, empty: Aggregate) -> bool:
    """Tell whether ``cell`` merges with ``empty`` (same questionnaire, scale and schema)."""
    return (cell.questionnaire_id, cell.questionnaire_version, cell.scale, cell.schema) == (
        empty.questionnaire_id,
        empty.questionnaire_version,
        empty.scale,
        empty.schema,
    )


def _same_respondents(earlier: _WaveData, structure: Structure, unit: Group) -> bool:
    """Tell whether ``unit`` covers the same earlier respondents on both waves' departments.

    Rule: the earlier wave published its groups on its own departments (as
    of its opening). Its cells merged by this wave's departments equal what it
    published only when both lists hold the same departments that had
    responses then: a department added since (no responses then) changes
    nothing, but a site that a department with earlier responses moved into
    or out of is not compared, since the difference would be a new group.
    """
    answered = set(earlier.snapshot.cells)
    then = earlier.disclosure.structure.departments_of(unit)
    return then & answered == structure.departments_of(unit) & answered


def _same_version(first: Questionnaire, second: Questionnaire) -> bool:
    # Waves answered with different questionnaire versions are not compared lever by lever.
    return (first.id, first.version) == (second.id, second.version)


def _group_result(
    data: _WaveData,
    shown: Disclosure,
    before: tuple[_WaveData, Disclosure, Measures] | None,
    structure: Structure,
    unit: Group,
    audience: Audience | None,
    headcount: int,
    measures: Measures,
    attention: int,
) -> GroupResult | None:
    """Return a unit's result crossed with ``audience``, or ``None`` when not published.

    Each lever's figures (score, gap sides, change) only where the lever's own
    decision shows the group (``services.measures``), in both waves for a change.
    The barrier is the first published lever below ``attention`` (the survey's line).
    """
    group = unit.with_audience(audience)
    responses = shown.count(group)
    if responses is None:
        return None
    q = data.questionnaire
    merged = _merged(data, structure, unit, audience)
    scores = lever_scores(q, merged, measures, group)
    gaps = None
    if (
        audience is None
        and shown.visible(unit.with_audience(Audience.EMPLOYEE))
        and shown.visible(unit.with_audience(Audience.MANAGER))
    ):
        gaps = audience_gaps(q, merged, measures, unit)
    changes = None
    if (
        before is not None
        and before[1].visible(group)
        and _same_respondents(before[0], structure, unit)
        and _same_version(before[0].questionnaire, q)
    ):
        earlier = _merged(before[0], structure, unit, audience)
        changes = wave_changes(q, earlier, merged, before[2], measures, group)
    rate = response_rate(responses, headcount) if audience is None else None
    return GroupResult(
        responses=responses,
        headcount=headcount,
        response_rate=rate,
        scores=scores,
        # From the published scores only, so a withheld lever never shows up as the barrier.
        barrier=find_barrier(q, scores, attention),
        gaps=gaps,
        changes=changes,
        aggregate=merged,
    )


@dataclass(frozen=True)
class ItemResult:
    """One item's answers in a group; ``distribution`` ``None`` when it may not be shown."""

    item: Item
    distribution: Distribution | None


def department_results(
    store: Store,
    survey_slug: str,
    wave_id: str,
    code: str,
    *,
    allowed: Callable[[str], bool] | None = None,
) -> tuple[WaveResults, ResultRow]:
    """Return a wave's results and the row of one department.

    Raise ``NotFound`` for a department the wave does not have (one added
    after it opened reads like an unknown one), and ``NotAllowed`` for one
    the reader may not see. A hidden department's row is returned like an
    empty one (``result`` is ``None``).
    """
    wave = store.get_wave(survey_slug, wave_id)
    if code not in {d.code for d in wave_departments(store, wave)}:
        raise NotFound(f"Wave {wave_id!r} of survey {survey_slug!r} has no department {code!r}.")
    if allowed is not None and not allowed(code):
        raise NotAllowed("You may not read this department's results.")
    report = _wave_results(store, survey_slug, wave_id, allowed=allowed, comments=True)
    row = report.department(code)
    if row is None:
        raise NotFound(f"Department {code!r} is not part of these results.")
    return report, row


def item_distributions(results: WaveResults, row: ResultRow) -> tuple[ItemResult, ...]:
    """Return every item's answer distribution for a published row, in questionnaire order.

    Rule: a statement's shares are shown only where its own decision
    (``services.measures``: its answers on the scale per cell, rules 1–3,
    under the row's group decision) shows the row's group; so an item asked
    of one audience only (e.g. managers about their own role) also needs that
    audience's group published. Nothing for a hidden row.
    """
    if row.result is None or results.measures is None:
        return ()
    q = results.questionnaire
    group = row.unit.with_audience(results.audience)
    found = []
    for item in q.items:
        publishable = results.measures.item_shown(item.id, group)
        dist = aggregates.distribute_item(q, row.result.aggregate, item.id) if publishable else None
        found.append(ItemResult(item, dist))
    return tuple(found)


# -- the use case ------------------------------------------------------------------


def judge_changes(rows: Iterable[ResultRow]) -> tuple[ResultRow, ...]:
    """Judge every change the report shows together (``changes.control``).

    Rule: one report is one wave pair as one reader sees it (these rows, with
    their filter); its family is every unit × lever change it shows with a
    test. Benjamini–Hochberg q-values over that family decide "improved" /
    "declined" (q ≤ 5 %), so a report with no real change rarely calls one.
    Only shown changes take part: a hidden one never moves a shown q-value.
    """
    found = list(rows)
    family = [
        (i, lever_id, change)
        for i, row in enumerate(found)
        if row.result is not None and row.result.changes is not None
        for lever_id, change in row.result.changes.items()
    ]
    judged = control([change for _, _, change in family])
    per_row: dict[int, dict[str, WaveChange]] = {}
    for (i, lever_id, _), change in zip(family, judged, strict=True):
        per_row.setdefault(i, {})[lever_id] = change
    for i, changes in per_row.items():
        result = found[i].result
        assert result is not None
        found[i] = replace(found[i], result=replace(result, changes=changes))
    return tuple(found)


def attention_line(store: Store, survey_slug: str) -> int:
    """Return the index below which a lever "needs attention" in this survey.

    Rule: one line per survey, the one HR sets with the targets (the scorecard
    settings' ``attention``, 60 unless changed). Every output reads it from
    here, through ``WaveResults.attention``: the heatmap's bands, the first
    lever to reinforce (barrier) on the pages, charts, CSV, workbook and API,
    and the scorecard, so one department never has two barriers.
    """
    return store.get_scorecard_settings(survey_slug).attention


def wave_results(
    store: Store,
    survey_slug: str,
    wave_id: str,
    *,
    allowed: Callable[[str], bool] | None = None,
    site: str | None = None,
    audience: Audience | None = None,
) -> WaveResults:
    """Return a wave's results per organisation, site and department, small groups hidden.

    Rules:

    * rows: the organisation, then each site, then each department grouped by
      site (sorted by name and code); with a ``site`` filter only that site
      and its departments; every row crossed with ``audience`` when given;
    * ``allowed(code)`` limits the departments listed (department viewers);
      a site or the organisation is listed only when all its departments are
      allowed, and what is published is the whole-organisation decision cut
      down with ``visible_to`` — never decided again for the reader;
    * a filter (site and/or audience) must pass ``check_filter`` on the whole
      organisation; otherwise ``refused`` is set and there are no rows (the
      reason is never passed on: it would tell more than the refusal);
    * a row whose group is not published has ``result`` ``None``, exactly as
      a row without any response.

    Raises ``NotFound`` for an unknown survey or wave.
    """
    return _wave_results(store, survey_slug, wave_id, allowed=allowed, site=site, audience=audience)


def _wave_results(
    store: Store,
    survey_slug: str,
    wave_id: str,
    *,
    allowed: Callable[[str], bool] | None = None,
    site: str | None = None,
    audience: Audience | None = None,
    comments: bool = False,
) -> WaveResults:
    """Build ``wave_results``; with ``comments``, also the reader's comment decision."""
    survey = store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    # Each wave is decided on its own departments as of its opening, never today's.
    departments = wave_departments(store, wave)
    previous = _previous(store.list_waves(survey_slug), wave_id)
    snapshot = current_snapshot(store, survey_slug, wave_id)
    earlier_snapshot = current_snapshot(store, survey_slug, previous.wave_id) if previous else None
    structure = _structure(departments, [snapshot])
    data = _wave_data(survey, wave, snapshot, structure)
    k = data.disclosure.min_group_size
    attention = attention_line(store, survey_slug)
    may_read = allowed or (lambda _code: True)
    readable = frozenset(d for d in structure.departments if may_read(d))
    shown, measures = _for_reader(data, readable)
    before = None
    if previous is not None and earlier_snapshot is not None:
        earlier_structure = _structure(wave_departments(store, previous), [earlier_snapshot])
        earlier = _wave_data(survey, previous, earlier_snapshot, earlier_structure)
        before = (earlier, *_for_reader(earlier, readable))

    readable_sites = tuple(
        s for s in structure.sites if set(structure.departments_in(s)) & readable
    )
    refused = False
    if site is not None or audience is not None:
        requested = Group(site=site, audience=audience)
        counts = _counts(data.snapshot)
        refused = (site is not None and site not in readable_sites) or check_filter(
            structure, counts, requested, k
        ) is not None
    rows: list[ResultRow] = []
    if not refused:
        headcount = {d.code: d.headcount for d in departments}
        names = {d.code: d.name for d in departments}

        # A row's figures depend on nothing else than this key (``view_cache``'s rules).
        inputs = (same(data), same(shown), same(measures), before and tuple(map(same, before)))
        layout = view_cache.structure_key(structure)

        def row(kind: RowKind, unit: Group, key: str, label: str, where: str) -> ResultRow:
            people = sum(headcount.get(c, 0) for c in structure.departments_of(unit))
            result = view_cache.remember(
                ("row", *inputs, layout, unit, audience, people, attention),
                lambda: _group_result(
                    data, shown, before, structure, unit, audience, people, measures, attention
                ),
            )
            return ResultRow(kind, key, label, where, result)

        sites = readable_sites if site is None else (site,)
        if site is None and readable == frozenset(structure.departments):
            rows.append(row(RowKind.ORGANISATION, Group(), "", "Organisation", ""))
        for name in sites:
            if set(structure.departments_in(name)) <= readable:
                rows.append(row(RowKind.SITE, Group(site=name), name, name, name))
        for name in sites:
            for code in sorted(structure.departments_in(name), key=lambda c: (names.get(c, c), c)):
                if code in readable:
                    unit = Group(department=code)
                    rows.append(row(RowKind.DEPARTMENT, unit, code, names.get(code, code), name))
    return WaveResults(
        survey=survey,
        wave=wave,
        questionnaire=data.questionnaire,
        computed_at=data.snapshot.computed_at,
        min_group_size=k,
        sites=readable_sites,
        site=site,
        audience=audience,
        refused=refused,
        rows=judge_changes(rows),
        previous_wave=previous,
        disclosure=shown,
        measures=measures,
        comment_disclosure=_comment_disclosure(survey, wave, shown) if comments else None,
        comment_texts=_comment_reader(store, snapshot) if comments else None,
        late_answers_left_out=held_back(wave, snapshot),
        attention=attention,
    )


def _comment_reader(store: Store, snapshot: Snapshot) -> Callable[[str], DepartmentComments | None]:
    """Return a reader of one department's texts of ``snapshot``, reading only when called.

    A snapshot this request computed holds its texts; a stored one is read one
    department per call (``Store.get_snapshot_comments``), so the cost of the
    cells every view reads never includes any text. Texts of a snapshot that
    replaced ``snapshot`` meanwhile give ``None``: the comment decision was made
    on ``snapshot``'s counts, so they are not shown.
    """

    def read(code: str) -> DepartmentComments | None:
        if snapshot.comments is not None:
            return snapshot.comments_of(code)
        texts = store.get_snapshot_comments(snapshot.survey_slug, snapshot.wave_id, code)
        return texts if texts.snapshot_id == snapshot.snapshot_id else None

    return read


def _comment_disclosure(survey: Survey, wave: Wave, shown: Disclosure) -> Disclosure:
    """Decide whose comments the reader may see: published departments of ``k_comments`` or more.

    Only department lists (both audiences together) are ever shown, and they
    are disjoint, so the groups an observer can form by intersecting and
    subtracting them are the departments themselves: each of at least
    ``k_comments``, the condition of ``anonymity.disclose_comments``.
    Running that function over the whole organisation would also protect
    organisation, site and audience lists that no page shows, and withhold
    department lists for their sake. ``shown`` is the reader's projection of
    the whole-organisation number decision, so a department hidden to
    protect another never shows comments either.
    """
    k_comments = wave.effective_thresholds(survey).min_comment_group_size
    departments = {
        group: n
        for group, n in shown.shown.items()
        if group.department is not None and group.audience is None and n >= k_comments
    }
    return Disclosure(shown.structure, k_comments, MappingProxyType(departments))


@dataclass(frozen=True)
class Comments:
    """The comments a department page may show: ``texts`` shuffled, nothing else.

    ``shown`` is ``False`` when the department's comments may not be shown
    (hidden, or fewer respondents than the comment threshold, or the results
    were recomputed while the page was being built); no text is then given.
    ``not_kept`` counts comments left out of the stored results because the
    department wrote more than ``aggregates.COMMENT_BUDGET`` bytes of them.
    """

    shown: bool
    min_group_size: int
    texts: tuple[str, ...] = ()
    not_kept: int = 0


def department_comments(
    results: WaveResults, row: ResultRow, rng: random.Random | None = None
) -> Comments:
    """Return a department's comments as its page may show them.

    Rules: only for a department row whose numbers are published to the
    reader and whose group has at least the wave's ``min_comment_group_size``
    respondents (``results.comment_disclosure``, built by
    ``department_results``; ``anonymity.publishable_comments`` checks the
    threshold again); the texts of both audiences,
    exactly as written, shuffled with ``rng`` (the system's random source by
    default), without dates, audiences or any other field. Anything else
    gives no texts, exactly like a department where nobody commented.

    The texts are read from the store only here, only for this department and
    only once the rules allow them (``results.comment_texts``).
    """
    k_comments = results.wave.effective_thresholds(results.survey).min_comment_group_size
    decision = results.comment_disclosure
    result = row.result
    read = results.comment_texts
    if row.kind is not RowKind.DEPARTMENT or result is None or decision is None or read is None:
        return Comments(False, k_comments)
    count = decision.count(Group(department=row.key))
    if count is None or count < k_comments:
        return Comments(False, k_comments)
    stored = read(row.key)
    if stored is None:
        return Comments(False, k_comments)
    parts = result.aggregate.parts
    kept = [text for part in parts for text in stored.texts.get(part.audience, ())]
    texts = publishable_comments(count, kept, k_comments, rng or secrets.SystemRandom())
    return Comments(True, k_comments, texts, sum(p.comment_count for p in parts) - len(kept))


def export_results(
    store: Store,
    survey_slug: str,
    wave_id: str,
    *,
    actor: str,
    allowed: Callable[[str], bool] | None = None,
    site: str | None = None,
    audience: Audience | None = None,
) -> WaveResults:
    """Return ``wave_results`` for a CSV export and record the export in the audit trail."""
    results = wave_results(
        store, survey_slug, wave_id, allowed=allowed, site=site, audience=audience
    )
    selection = ", ".join(
        part
        for part in (f"site {site}" if site else "", audience.value if audience else "")
        if part
    )
    audit(
        store,
        actor,
        "results.export",
        f"{survey_slug}/{wave_id}",
        f"{len(results.rows)} row(s){'; ' + selection if selection else ''}",
    )
    return results


# -- presentation rules shared by the page and the CSV -----------------------------

#: Spreadsheet programs run a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: The message for a refused filter, whatever the reason.
NOT_ENOUGH = "Not enough responses for this selection"


def whole_index(index: float) -> int:
    """Return an index as the whole number shown: cut off, not rounded.

    Cutting off keeps the shown number on the same side of every whole-number
    threshold as the exact index: 59.7 reads 59, in the "needs attention"
    band, and it is the barrier — a rounded "60" would contradict both.
    """
    return math.floor(index)


#: Below this index a lever under the attention line is "low"; at or above the line, "good".
LOW_BELOW, GOOD_FROM = 50, 75


def band(index: float, attention: int = DEFAULT_ATTENTION) -> str:
    """Return the band of an index against the survey's ``attention`` line.

    Rules: below the line, "low" under 50 and "attention" from 50; at or
    above the line, "fair" under 75 and "good" from 75. So the two red-ish
    bands are exactly the levers under the line (the barrier is the first of
    them), whatever the line: with 65, a 62 "needs attention"; with 45, a 48
    is "fair". The line is a whole number, so the index cut off to whole
    points (as shown) falls in the same band as the exact index.
    """
    if index < attention:
        return "low" if index < LOW_BELOW else "attention"
    return "good" if index >= GOOD_FROM else "fair"


def results_csv(results: WaveResults) -> str:
    """Return the overview as CSV: the same rows and published cells as the page.

    A hidden or empty group's cells are empty; a refused filter gives only
    the header and the neutral message. Text cells are made formula-safe.
    """
    levers = results.levers
    header = ["level", "site", "department", "name", "responses", "response_rate_percent"]
    header += [f"{lever.id}_index" for lever in levers] + ["first_lever_to_reinforce"]
    header += [f"{lever.id}_{column}" for lever in levers for column in CHANGE_COLUMNS]
    header += ["first_lever_to_reinforce_sure"]
    header += [f"{lever.id}_favourable_percent" for lever in levers]
    lines: list[list[str]] = [header]
    if results.refused:
        lines.append([NOT_ENOUGH])
    for row in results.rows:
        code = row.key if row.kind is RowKind.DEPARTMENT else ""
        line = [row.kind.value, row.site, code, row.label]
        result = row.result
        if result is None:
            line += [""] * (len(header) - len(line))
        else:
            rate = result.response_rate
            line += [str(result.responses), "" if rate is None else f"{rate:.1f}"]
            for lever in levers:
                score = result.scores.get(lever.id)
                index = None if score is None else score.index
                line.append("" if index is None else str(whole_index(index)))
            line.append(result.barrier.lever_id if result.barrier else "")
            for lever in levers:
                line += _change_cells(result.changes.get(lever.id) if result.changes else None)
            sure = barrier_certainty(results, result)
            line.append("" if sure is None else "yes" if sure.clear else "no")
            favourable = favourable_percents(results, result).values()
            line += ["" if share is None else str(round(share)) for share in favourable]
        lines.append(line)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([_number_or_safe(cell) for cell in line] for line in lines)
    return out.getvalue()


#: A plain decimal number such as "-3.1": a spreadsheet reads it as that number, never a formula.
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _number_or_safe(cell: str) -> str:
    """Return a plain decimal number as it is (a fall reads "-3.1"), else ``safe_cell``."""
    return cell if _NUMBER.fullmatch(cell) else _safe_cell(cell)


def barrier_certainty(results: WaveResults, result: GroupResult) -> BarrierCertainty | None:
    """Return how sure a group's barrier is (``certainty.barrier_certainty``), on shown scores."""
    return certainty.barrier_certainty(
        results.questionnaire, result.scores, result.barrier, results.attention
    )


def barrier_words(results: WaveResults, result: GroupResult) -> str:
    """Return, in words, how sure the barrier is: "" without one.

    "clearly under 60" when sure; else "under 60, but <earlier lever> may be
    under it too" or "under 60, but its interval reaches 60".
    """
    found = barrier_certainty(results, result)
    if found is None:
        return ""
    line = results.attention
    if found.clear:
        return f"clearly under {line}"
    if found.close_to is not None:
        name = results.questionnaire.lever(found.close_to).name["en"]
        return f"under {line}, but {name} may be under it too"
    return f"under {line}, but its interval reaches {line}"


def favourable_percents(results: WaveResults, result: GroupResult) -> dict[str, float | None]:
    """Return each lever's favourable per cent, ``None`` where the lever is not shown.

    Rule: the share of answers scoring 4–5 (after reverse-scoring) among the
    answers on the scale to the lever's statements, pooled over statements and
    people (``aggregates.distribute_lever``); don't-knows are left out. It is
    shown exactly where the lever's index is (the same people answered both,
    ``services.measures``), so a hidden lever shows neither.
    """
    q = results.questionnaire
    return {
        lever.id: aggregates.distribute_lever(q, result.aggregate, lever.id).favourable
        if lever.id in result.scores
        else None
        for lever in q.levers
    }


def gap_findings(result: GroupResult) -> dict[str, GapFinding | None]:
    """Return each lever's managers' gap with its interval and finding (``certainty.manager_gap``).

    Empty unless both audiences are published; a lever with a side hidden (or
    fewer than 2 on a side) is ``None``.
    """
    if result.gaps is None:
        return {}
    return {lever_id: certainty.manager_gap(gap) for lever_id, gap in result.gaps.items()}


#: Per lever, the change since the previous wave: points, interval, Hedges' g, q and the words.
CHANGE_COLUMNS = ("change", "change_low", "change_high", "change_hedges_g", "change_q", "trend")


def _change_cells(change: WaveChange | None) -> list[str]:
    """Return a change's CSV cells: figures to one decimal (g two, q four), empty without a test.

    Without a previous wave, or where the group or lever is not published in
    it, every cell is empty; a change without a test keeps only its words.
    """
    if change is None:
        return [""] * len(CHANGE_COLUMNS)
    comparison, effect = change.comparison, change.effect
    cells = ["" if change.change is None else f"{change.change:.1f}"]
    if comparison is None:
        cells += ["", ""]
    else:
        cells += [f"{comparison.ci_low:.1f}", f"{comparison.ci_high:.1f}"]
    cells.append("" if effect is None else f"{effect.g:.2f}")
    cells.append("" if change.q is None else f"{change.q:.4f}")
    return [*cells, change.outcome.value]


def safe_cell(cell: str) -> str:
    """Return a text cell that a spreadsheet program will not run as a formula.

    Rule: control and invisible characters are made ``printable`` first (a
    name stored before they were refused must not break a spreadsheet); then
    a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return
    gets a leading ``'``; any other cell is returned unchanged. Department and
    site names come from HR's files and comments from respondents; never let
    one run as a formula.
    """
    cell = printable(cell)
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


_safe_cell = safe_cell


# -- chart data: the published figures again, as JSON-ready dicts ---------------------
#
# Charts repeat the numbers of the tables beside them and nothing else: an index as its
# cut-off whole number, an interval end and a per cent rounded as the page prints them
# ("%.0f", i.e. round half to even, as ``round``). A figure the page leaves out is ``None``
# (JSON null), and a chart whose whole group is hidden is not built at all.

#: A chart's data: category labels and one or more named series of the same length.
ChartData = dict[str, object]


def _shown_index(score: LeverScore | None) -> int | None:
    return None if score is None or score.index is None else whole_index(score.index)


def _shown_interval(score: LeverScore | None) -> list[int] | None:
    if score is None or score.ci_low is None or score.ci_high is None:
        return None
    return [round(score.ci_low), round(score.ci_high)]


def _lever_labels(results: WaveResults) -> list[str]:
    return [lever.name["en"] for lever in results.levers]


def lever_chart(results: WaveResults, result: GroupResult, *, interval: bool = False) -> ChartData:
    """Return a group's lever indices for a bar chart, with the 95 % intervals if asked.

    A lever the page withholds (or nobody scored) is ``None``; an interval is
    ``[low, high]`` as printed, ``None`` where the page prints "–" (n below 2).
    """
    scores = [result.scores.get(lever.id) for lever in results.levers]
    series: list[dict[str, object]] = [
        {"label": "Index", "data": [_shown_index(s) for s in scores]}
    ]
    if interval:
        series.append({"label": "95 % interval", "data": [_shown_interval(s) for s in scores]})
    return {"labels": _lever_labels(results), "series": series}


def audience_chart(results: WaveResults, result: GroupResult) -> ChartData | None:
    """Return employees' and managers' lever indices, or ``None`` unless both are published."""
    if result.gaps is None:
        return None
    gaps = [result.gaps[lever.id] for lever in results.levers]
    return {
        "labels": _lever_labels(results),
        "series": [
            {"label": "Employees", "data": [_shown_index(g.employee) for g in gaps]},
            {"label": "Managers", "data": [_shown_index(g.manager) for g in gaps]},
        ],
    }


def answer_charts(
    results: WaveResults, items: Iterable[ItemResult], system: str
) -> dict[str, ChartData]:
    """Return, per lever id, each statement's answer shares 1–5 in whole per cent.

    One series per point of the scale; a statement whose distribution the page
    hides (or that nobody placed on the scale) is ``None`` in every series.
    """
    found = list(items)
    labels = results.questionnaire.scale.labels["en"]
    charts: dict[str, ChartData] = {}
    for lever in results.levers:
        mine = [it for it in found if it.item.lever == lever.id]
        shares = [None if it.distribution is None else it.distribution.percents for it in mine]
        charts[lever.id] = {
            "labels": [it.item.render("en", system) for it in mine],
            "series": [
                {
                    "label": label,
                    "data": [None if p is None else round(p[point]) for p in shares],
                }
                for point, label in enumerate(labels)
            ],
        }
    return charts
