"""Side by side: sites, departments or waves of a survey compared lever by lever.

The use case behind the admin "Compare side by side" page. It publishes nothing
of its own: every figure is a figure of a row of ``readiness.wave_results`` —
the same whole-organisation disclosure decision, cut down to the reader
(``allowed``), that the overview, department pages, CSV and API use — so a
group reads the same here as there. Rules:

* **What can be compared.** Sites (up to ``MAX_GROUPS``), chosen departments
  (up to ``MAX_GROUPS``), all departments of one site (the site and its
  departments, up to ``MAX_GROUPS`` departments), or the waves of the survey
  that have opened (up to ``MAX_GROUPS``) for the organisation, one site or one
  department. Only the rows the reader's overview lists may be chosen: a
  department viewer gets their departments (and a site or the organisation
  only where they may read all of it, as on the overview). Anything else —
  an unknown or unreadable group, a draft or unknown wave, too many groups —
  gives no columns and a ``problem`` that says what to change (the page
  answers 400); it never tells whether a group exists or why it is hidden.
* **A hidden group is a column without figures**, exactly like a group
  without responses: its ``result`` is ``None`` and nothing is derived from it.
* **The organisation** is the first column (the reference) whenever the
  reader's overview lists it, shown or hidden as there.
* **Against the rest of the organisation** (sites and departments only): the
  group's index minus the index of everyone else (the organisation's sums
  minus the group's sums, per lever), with Welch's 95 % interval from the
  exact sums (``portal.domain.contrasts``).
  Shown for a lever only when the reader's overview lists the organisation
  row, the organisation and the group are both published on that lever
  (``services.measures``), and the rest holds at least the wave's minimum
  group size of respondents on it; otherwise "not shown". The rest is then
  a difference of two published groups, which the disclosure decision
  already keeps at 0 or at least the minimum (``anonymity``, rule 2), so it
  tells nothing that the overview does not; the minimum is checked again
  here all the same (and refuses an empty rest, e.g. the only site).
* **The words** are those of a wave change (``portal.domain.changes``),
  judged together over the page (``contrasts.judge``): Benjamini–Hochberg
  q-values over every difference the page shows with a test; "clearly
  higher" / "clearly lower" at q ≤ 5 %, else "too few responses to tell"
  when the groups could not detect a difference of 10 points, else "no
  clear difference". So the words of one group can depend on which others
  are chosen with it, as on any report judged as a whole.
* **Waves** show each wave's figures for the unit from that wave's own
  results, and the change since the wave before it exactly as its department
  page (or overview) shows it: the same ``readiness.judge_changes`` family,
  so the words always match the department page's trend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from portal.domain import contrasts
from portal.domain.aggregates import LeverSums
from portal.domain.contrasts import Contrast, Difference
from portal.domain.entities import Survey, Wave, WaveStatus
from portal.domain.questionnaire import Lever
from portal.domain.scoring import WaveChange
from portal.services import readiness
from portal.services.readiness import GroupResult, ResultRow, RowKind, WaveResults
from portal.storage.port import Store

#: At most this many sites, departments or waves side by side (besides the organisation).
MAX_GROUPS = 6
#: Why a wave's column has no figures, when the reason is the wave, not its respondents.
NOT_IN_WAVE = "not part of this wave's results"
OTHER_VERSION = "answered with another questionnaire version: not compared"


class CompareBy(StrEnum):
    """What the columns are."""

    SITES = "sites"
    DEPARTMENTS = "departments"
    SITE = "site"
    WAVES = "waves"


@dataclass(frozen=True)
class Selection:
    """What the reader asked to compare, as given (checked by ``compare``).

    ``by`` is a ``CompareBy`` value (``None``: nothing asked yet); ``sites``
    and ``departments`` the ticked ones; ``site`` the site whose departments
    are compared; ``unit`` the unit whose waves are compared
    (``organisation``, ``site:<name>`` or ``department:<code>``); ``waves``
    the ticked waves (none: every wave that has opened, the last ``MAX_GROUPS``).
    """

    by: str | None = None
    sites: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    site: str | None = None
    unit: str | None = None
    waves: tuple[str, ...] = ()


@dataclass(frozen=True)
class Column:
    """One compared group (or wave): its published result, ``None`` when hidden or empty.

    ``note`` says why a wave has no figures for reasons that are not about
    respondents (waves only): the unit is not part of that wave's results, or
    the wave was answered with another questionnaire version. ``against_rest``
    is set for sites and departments when the reader may see the organisation;
    ``changes`` and ``since`` for waves.
    """

    key: str
    label: str
    detail: str
    result: GroupResult | None
    note: str = ""
    against_rest: Mapping[str, Contrast] | None = None
    changes: Mapping[str, WaveChange] | None = None
    since: Wave | None = None


@dataclass(frozen=True)
class Choice:
    """One option of the page's forms: the value sent and the words shown."""

    value: str
    label: str
    detail: str = ""


@dataclass(frozen=True)
class Options:
    """What this reader may choose: the rows their overview lists, and the opened waves."""

    sites: tuple[Choice, ...]
    departments: tuple[Choice, ...]
    units: tuple[Choice, ...]
    waves: tuple[Choice, ...]
    organisation: bool


@dataclass(frozen=True)
class Comparison:
    """The compare page: options, what was asked, and the columns (empty with a ``problem``)."""

    results: WaveResults
    options: Options
    selection: Selection
    by: CompareBy | None
    columns: tuple[Column, ...] = ()
    reference: Column | None = None
    problem: str | None = None
    #: The reader's overview lists the organisation, so differences from the rest may show.
    rest_shown: bool = False
    waves: tuple[WaveResults, ...] = field(default=(), repr=False)

    @property
    def survey(self) -> Survey:
        """Return the survey compared."""
        return self.results.survey

    @property
    def wave(self) -> Wave:
        """Return the wave the page belongs to."""
        return self.results.wave

    @property
    def levers(self) -> tuple[Lever, ...]:
        """Return the levers, the rows of the comparison."""
        return self.results.levers

    @property
    def computed_at(self) -> datetime:
        """Return when the wave's figures were computed."""
        return self.results.computed_at


def compare(
    store: Store,
    survey_slug: str,
    wave_id: str,
    selection: Selection,
    *,
    allowed: Callable[[str], bool] | None = None,
) -> Comparison:
    """Return the comparison ``selection`` asks for, as this reader may see it (rules above).

    Raises ``NotFound`` for an unknown survey or wave; bad choices give a
    ``problem`` and no columns.
    """
    report = readiness.wave_results(store, survey_slug, wave_id, allowed=allowed)
    waves = [w for w in store.list_waves(survey_slug) if w.status is not WaveStatus.DRAFT]
    options = _options(report, waves)
    base = Comparison(report, options, selection, None, rest_shown=options.organisation)
    if not selection.by:
        return base
    try:
        by = CompareBy(selection.by)
    except ValueError:
        return _refuse(base, "Choose sites, departments, one site's departments or waves.")
    base = Comparison(report, options, selection, by, rest_shown=options.organisation)
    if by is CompareBy.WAVES:
        return _compare_waves(store, base, waves, allowed)
    return _compare_groups(base)


def _refuse(base: Comparison, problem: str) -> Comparison:
    return Comparison(
        base.results, base.options, base.selection, base.by, problem=problem, rest_shown=False
    )


def _options(report: WaveResults, waves: Sequence[Wave]) -> Options:
    sites = tuple(Choice(r.key, r.label) for r in report.rows if r.kind is RowKind.SITE)
    departments = tuple(
        Choice(r.key, r.label, f"{r.key} · {r.site}")
        for r in report.rows
        if r.kind is RowKind.DEPARTMENT
    )
    organisation = any(r.kind is RowKind.ORGANISATION for r in report.rows)
    units: tuple[Choice, ...] = (Choice("organisation", "Organisation"),) if organisation else ()
    units += tuple(Choice(f"site:{c.value}", f"Site {c.label}") for c in sites)
    units += tuple(Choice(f"department:{c.value}", c.label, c.detail) for c in departments)
    return Options(
        sites=sites,
        departments=departments,
        units=units,
        waves=tuple(Choice(w.wave_id, w.name, w.status.value) for w in waves),
        organisation=organisation,
    )


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _row_column(row: ResultRow) -> Column:
    if row.kind is RowKind.DEPARTMENT:
        return Column(row.key, row.label, f"{row.key} · {row.site}", row.result)
    if row.kind is RowKind.SITE:
        return Column(row.key, f"Site {row.label}", "", row.result)
    return Column(row.key, row.label, "", row.result)


def _compare_groups(base: Comparison) -> Comparison:
    """Compare sites or departments of one wave, each against the rest of the organisation."""
    report, selection, by = base.results, base.selection, base.by
    rows: list[ResultRow]
    if by in (CompareBy.SITES, CompareBy.DEPARTMENTS):
        sites = by is CompareBy.SITES
        noun = "sites" if sites else "departments"
        chosen = _unique(selection.sites if sites else selection.departments)
        options = base.options.sites if sites else base.options.departments
        if not chosen or set(chosen) - {c.value for c in options}:
            return _refuse(base, f"Choose {noun} from the list.")
        if len(chosen) > MAX_GROUPS:
            return _refuse(base, f"Choose at most {MAX_GROUPS} {noun}.")
        kind = RowKind.SITE if sites else RowKind.DEPARTMENT
        rows = [r for r in report.rows if r.kind is kind and r.key in chosen]
    else:
        name = selection.site or ""
        if name not in {c.value for c in base.options.sites}:
            return _refuse(base, "Choose a site from the list.")
        rows = [
            r
            for r in report.rows
            if (r.kind is RowKind.SITE and r.key == name)
            or (r.kind is RowKind.DEPARTMENT and r.site == name)
        ]
        if len(rows) - 1 > MAX_GROUPS:
            return _refuse(
                base,
                f"Site {name} has {len(rows) - 1} departments: choose at most {MAX_GROUPS} of "
                "them under “Departments”.",
            )
    organisation = next((r for r in report.rows if r.kind is RowKind.ORGANISATION), None)
    reference = _row_column(organisation) if organisation is not None else None
    columns = [_row_column(r) for r in rows]
    if organisation is not None:
        columns = _against_rest(report, organisation.result, columns)
    return Comparison(
        report,
        base.options,
        selection,
        by,
        columns=tuple(columns),
        reference=reference,
        rest_shown=organisation is not None,
    )


def rest_of_organisation(
    organisation: GroupResult, group: GroupResult, lever_id: str, minimum: int
) -> tuple[LeverSums, LeverSums] | None:
    """Return the group's and the rest's sums on a lever, or ``None`` where not shown.

    Rule: both the organisation's and the group's score on the lever are
    published (in their ``scores``), and the rest (organisation − group)
    holds at least ``minimum`` respondents on it.
    """
    if lever_id not in organisation.scores or lever_id not in group.scores:
        return None
    part = contrasts.lever_sums(group.aggregate, lever_id)
    rest = contrasts.rest_sums(contrasts.lever_sums(organisation.aggregate, lever_id), part)
    return (part, rest) if rest.n >= minimum else None


def _against_rest(
    report: WaveResults, organisation: GroupResult | None, columns: list[Column]
) -> list[Column]:
    """Add each column's difference from the rest of the organisation, judged over the page."""
    k = report.min_group_size

    def one(group: GroupResult | None, lever_id: str) -> Contrast:
        sums = None
        if organisation is not None and group is not None:
            sums = rest_of_organisation(organisation, group, lever_id, k)
        if sums is None or organisation is None:
            return Contrast(lever_id, Difference.NOT_SHOWN)
        return contrasts.contrast(*sums, organisation.aggregate.scale)

    found = [{lever.id: one(c.result, lever.id) for lever in report.levers} for c in columns]
    return [
        replace(column, against_rest=judged)
        for column, judged in zip(columns, contrasts.judge(found), strict=True)
    ]


def _unit_of(value: str, options: Options) -> tuple[RowKind, str] | None:
    """Return the row a waves unit names, or ``None`` unless the reader may choose it."""
    if value not in {c.value for c in options.units}:
        return None
    kind, _, key = value.partition(":")
    return RowKind(kind), key


def _compare_waves(
    store: Store, base: Comparison, waves: Sequence[Wave], allowed: Callable[[str], bool] | None
) -> Comparison:
    """Compare one unit over the chosen waves, each from its own wave's results."""
    selection = base.selection
    unit = _unit_of(selection.unit or "", base.options)
    if unit is None:
        return _refuse(base, "Choose the organisation, a site or a department from the list.")
    opened = {w.wave_id for w in waves}
    chosen = _unique(selection.waves) or [w.wave_id for w in waves][-MAX_GROUPS:]
    if set(chosen) - opened:
        return _refuse(base, "Choose waves from the list: only waves that have opened.")
    if len(chosen) > MAX_GROUPS:
        return _refuse(base, f"Choose at most {MAX_GROUPS} waves.")
    kind, key = unit
    columns: list[Column] = []
    reports: list[WaveResults] = []
    for wave in (w for w in waves if w.wave_id in chosen):
        report = (
            base.results
            if wave.wave_id == base.wave.wave_id
            else readiness.wave_results(store, wave.survey_slug, wave.wave_id, allowed=allowed)
        )
        reports.append(report)
        row = next((r for r in report.rows if r.kind is kind and r.key == key), None)
        status = wave.status.value
        if row is None:
            columns.append(Column(wave.wave_id, wave.name, status, None, note=NOT_IN_WAVE))
            continue
        # Levers of another questionnaire version are not the same measures: not compared.
        mine, theirs = report.questionnaire, base.results.questionnaire
        if (mine.id, mine.version) != (theirs.id, theirs.version):
            columns.append(Column(wave.wave_id, wave.name, status, None, note=OTHER_VERSION))
            continue
        result = row.result
        changes = None if result is None else result.changes
        columns.append(
            Column(
                wave.wave_id,
                wave.name,
                status,
                result,
                changes=changes,
                since=report.previous_wave,
            )
        )
    return Comparison(
        base.results,
        base.options,
        selection,
        base.by,
        columns=tuple(columns),
        rest_shown=False,
        waves=tuple(reports),
    )
