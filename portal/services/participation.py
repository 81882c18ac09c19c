"""Getting people to take part, and watching who does.

Use cases behind the admin distribution and participation pages: list a
wave's links per department, add kiosk links, replace a leaked link, make
single-use codes, gather the poster sheet, and count responses per department
(shown exactly where the results' disclosure decision shows them, see
``read_participation``).
Every change and every export is written to the audit trail; single-use codes
never are.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from portal.domain.anonymity import ORGANISATION, Group
from portal.domain.entities import Department, Link, Survey, Wave, WaveStatus
from portal.domain.errors import Conflict, NotFound, Unavailable, ValidationError
from portal.domain.participation import (
    GroupCount,
    ParticipationTable,
    summarise_participation,
)
from portal.domain.text import printable
from portal.services import readiness, respond
from portal.services.accounts import audit
from portal.services.respond import Ballot
from portal.services.structure import taking_part, wave_departments
from portal.storage.port import Store

#: Spreadsheet programs run a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# -- links ----------------------------------------------------------------------


def is_open_link(link: Link) -> bool:
    """Tell whether a link is a department's general link: active, not kiosk, any audience."""
    return not link.revoked and not link.kiosk and link.audience is None


@dataclass(frozen=True)
class DepartmentLinks:
    """One department's active links for a wave (open links first), and how many were withdrawn."""

    department: Department
    links: tuple[Link, ...]
    withdrawn: int = 0

    @property
    def has_open_link(self) -> bool:
        """Tell whether the department has an active open link."""
        return any(is_open_link(x) for x in self.links)


@dataclass(frozen=True)
class Distribution:
    """A wave's links for every active department, ordered by department code."""

    survey: Survey
    wave: Wave
    departments: tuple[DepartmentLinks, ...]
    retired: int = 0

    @property
    def missing(self) -> int:
        """Count the active departments without an open link."""
        return sum(1 for d in self.departments if not d.has_open_link)


def describe_distribution(store: Store, survey_slug: str, wave_id: str) -> Distribution:
    """Return every active department of a wave with its links.

    Costs one query for the departments and one for the links, whatever the
    number of departments. Retired departments are left out (their links no
    longer open) and only counted; departments added after the wave opened
    take no part in it and are not listed (``structure.taking_part``).
    """
    survey = store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    by_department: dict[str, list[Link]] = {}
    for link in store.list_links(survey_slug, wave_id):
        by_department.setdefault(link.department_code, []).append(link)
    rows, retired = [], 0
    for department in taking_part(store, wave):
        if department.retired:
            retired += 1
            continue
        links = by_department.get(department.code, [])
        active = sorted(
            (x for x in links if not x.revoked), key=lambda x: (x.kiosk, x.audience is not None)
        )
        rows.append(DepartmentLinks(department, tuple(active), len(links) - len(active)))
    return Distribution(survey, wave, tuple(rows), retired)


def _wave_taking_links(store: Store, survey_slug: str, wave_id: str) -> Wave:
    wave = store.get_wave(survey_slug, wave_id)
    if wave.status is WaveStatus.CLOSED:
        raise Conflict(f"Wave {wave_id!r} is closed; its links no longer take answers.")
    return wave


def _active_department(store: Store, wave: Wave, code: str) -> Department:
    department = next((d for d in taking_part(store, wave) if d.code == code), None)
    if department is None:
        if any(d.code == code for d in store.list_departments(wave.survey_slug)):
            raise ValidationError(
                f"Department {code!r} was added after wave {wave.wave_id!r} opened; "
                "it takes part from the next wave."
            )
        raise NotFound(f"There is no department {code!r} in survey {wave.survey_slug!r}.")
    if department.retired:
        raise ValidationError(f"Department {code!r} is retired; it takes no more answers.")
    return department


def _new_token() -> str:
    return secrets.token_urlsafe(12)


def create_missing_links(store: Store, survey_slug: str, wave_id: str, *, actor: str) -> int:
    """Give every active department without an open link one; return how many were made.

    ``respond.make_links`` skips departments that have any link at all; a
    department whose only links are kiosk or audience-fixed ones gets its
    open link here too. Refused (``Conflict``) for a closed wave.
    """
    wave = _wave_taking_links(store, survey_slug, wave_id)
    before = len(store.list_links(survey_slug, wave_id))
    links = respond.make_links(store, survey_slug, wave_id)
    covered = {x.department_code for x in links if is_open_link(x)}
    extra = [
        Link(_new_token(), survey_slug, wave_id, d.code)
        for d in taking_part(store, wave)
        if not d.retired and d.code not in covered
    ]
    if extra:
        store.put_links(extra)
    created = len(links) - before + len(extra)
    audit(
        store,
        actor,
        "link.create-missing",
        f"{survey_slug}/{wave_id}",
        f"{created} open link(s) created",
    )
    return created


def add_kiosk_link(
    store: Store, survey_slug: str, wave_id: str, department_code: str, *, actor: str
) -> Link:
    """Add a kiosk link (for a shared device) to an active department; not in a closed wave."""
    wave = _wave_taking_links(store, survey_slug, wave_id)
    _active_department(store, wave, department_code)
    link = Link(_new_token(), survey_slug, wave_id, department_code, kiosk=True)
    store.put_links([link])
    audit(
        store,
        actor,
        "link.create-kiosk",
        f"{survey_slug}/{wave_id}/{department_code}",
        "kiosk link added",
    )
    return link


def replace_link(store: Store, survey_slug: str, wave_id: str, token: str, *, actor: str) -> Link:
    """Withdraw a (leaked) link and return its replacement for the same department.

    The new link keeps the old one's kind (kiosk or not) and audience. Both
    are written in one call, so there is no moment with neither or both
    active. Raise ``NotFound`` if the token is not one of this wave's links,
    ``Conflict`` if it was withdrawn already or the wave is closed.
    """
    _wave_taking_links(store, survey_slug, wave_id)
    old = next((x for x in store.list_links(survey_slug, wave_id) if x.token == token), None)
    if old is None:
        raise NotFound("This wave has no such link.")
    if old.revoked:
        raise Conflict("This link was withdrawn already; reload the page to see its replacement.")
    new = Link(
        _new_token(),
        survey_slug,
        wave_id,
        old.department_code,
        audience=old.audience,
        kiosk=old.kiosk,
    )
    store.put_links([replace(old, revoked=True), new])
    kind = "kiosk link" if old.kiosk else "link"
    audit(
        store,
        actor,
        "link.replace",
        f"{survey_slug}/{wave_id}/{old.department_code}",
        f"{kind} {old.token[:6]}… withdrawn and replaced",
    )
    return new


# -- single-use codes -----------------------------------------------------------


def create_codes(
    store: Store, survey_slug: str, wave_id: str, department_code: str, count: int, *, actor: str
) -> list[str]:
    """Make ``count`` (1–5,000) single-use codes for a department and return them.

    The codes exist only in the return value: the store keeps their hashes, and
    the audit trail records the department and the number, never a code.
    """
    wave = _wave_taking_links(store, survey_slug, wave_id)
    _active_department(store, wave, department_code)
    codes = respond.make_codes(store, survey_slug, wave_id, department_code, count)
    audit(
        store,
        actor,
        "codes.create",
        f"{survey_slug}/{wave_id}/{department_code}",
        f"{len(codes)} single-use code(s) for {department_code}",
    )
    return codes


def codes_csv(department_code: str, codes: Sequence[str], where: str) -> str:
    """Return the codes as CSV (``department,code,where``), as ``portal waves codes`` writes."""
    return _csv([["department", "code", "where"], *([department_code, c, where] for c in codes)])


# -- posters --------------------------------------------------------------------


def poster_ballots(
    store: Store, survey_slug: str, wave_id: str, *, actor: str, language: str
) -> list[Ballot]:
    """Return a ballot for each active link of a wave, for the poster sheet, and audit it.

    Links of departments retired since are left out. Raise ``ValidationError``
    when the wave has no links yet.
    """
    store.get_wave(survey_slug, wave_id)  # NotFound for a wrong address
    try:
        ballots = respond.describe_wave_links(store, survey_slug, wave_id)
    except NotFound:
        # describe_wave_links gives up on a link whose department was retired; skip those.
        ballots = []
        for link in store.list_links(survey_slug, wave_id):
            if link.revoked:
                continue
            try:
                ballots.append(respond.describe_link(store, link.token))
            except (NotFound, Unavailable):
                continue
    if not ballots:
        raise ValidationError(f"Wave {wave_id!r} has no survey links yet; create them first.")
    audit(
        store,
        actor,
        "posters.export",
        f"{survey_slug}/{wave_id}",
        f"{len(ballots)} poster(s) in {language}",
    )
    return ballots


# -- participation ---------------------------------------------------------------


@dataclass(frozen=True)
class ParticipationReport:
    """A wave's participation table, with the survey and wave it describes."""

    survey: Survey
    wave: Wave
    table: ParticipationTable
    computed_at: datetime
    #: A closed wave whose last answers could not be released safely (``results.held_back``).
    held_back: bool = False


def read_participation(
    store: Store,
    survey_slug: str,
    wave_id: str,
    *,
    may_read: Callable[[str], bool] | None = None,
) -> ParticipationReport:
    """Return responses, headcount and rate per department, as the results decide them.

    Rule: a count is shown exactly where the results show it — the same
    snapshot (moved in release steps, ``results.current_snapshot``) and the
    same disclosure decision, taken from ``readiness.wave_results`` itself, so
    the participation page, its CSV and every results output together reveal
    nothing beyond that one decision. A department hidden in the results
    (small, or hidden to protect another) reads "not shown" here too.

    ``may_read(code)`` limits the table to the departments a reader may see;
    the decision is cut down to them (never re-decided), so a reader limited
    to some departments gets no total: a total over their own mix of
    departments is a group nobody else sees. Every department is listed,
    retired ones included (marked), so a department's presence never depends
    on whether it has responses. The departments (names, sites, headcounts,
    retired marks) are the wave's own as of its opening
    (``structure.wave_departments``); the minimum group size is the wave's
    locked one.
    """
    results = readiness.wave_results(store, survey_slug, wave_id, allowed=may_read)
    decision = results.disclosure
    allowed = may_read or (lambda _code: True)
    departments = wave_departments(store, results.wave)  # as of the wave's opening
    known = {d.code for d in departments}

    def decided(code: str) -> int | None:
        return decision.count(Group(department=code))

    groups = [
        GroupCount(d.code, d.name, d.site, d.headcount, decided(d.code), d.retired)
        for d in departments
    ]
    # Responses name known departments, but a table that silently dropped some would lie.
    groups += [
        GroupCount(c, c, "", 0, decided(c))
        for c in decision.structure.departments
        if c not in known
    ]
    visible = [g for g in groups if allowed(g.code)]
    total = decision.count(ORGANISATION) if len(visible) == len(groups) else None
    table = summarise_participation(visible, total, results.min_group_size)
    return ParticipationReport(
        results.survey,
        results.wave,
        table,
        results.computed_at,
        held_back=results.late_answers_left_out,
    )


def export_participation(
    store: Store,
    survey_slug: str,
    wave_id: str,
    *,
    actor: str,
    may_read: Callable[[str], bool] | None = None,
) -> ParticipationReport:
    """Return the participation table for a CSV export and record the export in the audit trail."""
    report = read_participation(store, survey_slug, wave_id, may_read=may_read)
    audit(
        store,
        actor,
        "participation.export",
        f"{survey_slug}/{wave_id}",
        f"{len(report.table.rows)} department(s)",
    )
    return report


def participation_csv(table: ParticipationTable, total_label: str) -> str:
    """Return the (already suppressed) participation table as CSV, with a closing total row.

    Hidden counts read "not shown" and carry no rate, exactly as on the page;
    a withheld total reads "not shown".
    """
    header = [
        "department", "name", "site", "retired", "headcount",
        "responses", "response_rate_percent", f"under_{table.target_percent}_percent",
        "more_than_headcount",
    ]  # fmt: skip
    lines: list[list[str]] = [header]
    for row in table.rows:
        f = row.figures
        lines.append(
            [
                row.code,
                row.name,
                row.site,
                "yes" if row.retired else "",
                str(f.headcount),
                "not shown" if f.responses is None else str(f.responses),
                _rate_cell(f.rate, f.headcount, f.hidden),
                "yes" if f.under_target else "",
                "yes" if f.over_headcount else "",
            ]
        )
    t = table.total
    lines.append(
        [
            "TOTAL",
            total_label,
            "",
            "",
            str(t.headcount),
            "not shown" if t.responses is None else str(t.responses),
            _rate_cell(t.rate, t.headcount, t.hidden),
            "yes" if t.under_target else "",
            "yes" if t.over_headcount else "",
        ]
    )
    return _csv(lines)


def _rate_cell(rate: float | None, headcount: int, hidden: bool) -> str:
    if headcount == 0:
        return "no headcount"
    return "" if hidden or rate is None else f"{rate:.1f}"


def _csv(lines: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([_safe_cell(cell) for cell in line] for line in lines)
    return out.getvalue()


def _safe_cell(cell: str) -> str:
    # Department names come from HR's files; never let one run as a spreadsheet formula,
    # nor a control character stored before they were refused break a spreadsheet.
    cell = printable(cell)
    return "'" + cell if cell.startswith(_FORMULA_START) else cell
