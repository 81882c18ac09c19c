"""Live participation: response counts and rates per department, with small groups hidden.

Why counts are hidden although they are not scores: in a small group, knowing
*how many* answered says *who* answered. If a team of four hears "3 responses"
and three of them know they answered, the fourth is exposed as the one who did
not — and "1 response" in a department where one person mentioned the survey
points at that person's answers in every later breakdown. So a participation
count is a published number like any other.

Which counts may be shown is **not decided here**: it is the results' own
disclosure decision (``anonymity.disclose`` on the same snapshot and
structure, made once in ``portal.services.readiness``), so participation
never shows a department the results hide to protect another one (Site
Aarhus 42 − Customer service 13 − Sales 16 − Finance 9 would give People and
culture's 4). This module only lays out what that decision publishes: a
hidden count reads "not shown", exactly like an empty department, whatever
the reason it is hidden.

Everything here is pure: it takes decided counts and returns what may be shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: A department or organisation under this response rate (per cent) is flagged.
TARGET_PERCENT = 60


@dataclass(frozen=True)
class GroupCount:
    """One department's figures as decided: ``responses`` is ``None`` when not published."""

    code: str
    name: str
    site: str
    headcount: int
    responses: int | None
    retired: bool = False


@dataclass(frozen=True)
class Figures:
    """What may be shown of a group's participation.

    ``responses`` and ``rate`` are ``None`` when hidden; ``rate`` is also
    ``None`` when the headcount is 0 ("no headcount").
    """

    headcount: int
    responses: int | None
    rate: float | None
    under_target: bool

    @property
    def hidden(self) -> bool:
        """Tell whether the count is withheld ("not shown")."""
        return self.responses is None

    @property
    def no_headcount(self) -> bool:
        """Tell whether there is no headcount to compute a rate against."""
        return self.headcount == 0

    @property
    def over_headcount(self) -> bool:
        """Tell whether more responses are shown than people counted (``exceeds_headcount``)."""
        return self.responses is not None and exceeds_headcount(self.responses, self.headcount)


@dataclass(frozen=True)
class ParticipationRow:
    """One department's line of the participation table."""

    code: str
    name: str
    site: str
    retired: bool
    figures: Figures


@dataclass(frozen=True)
class ParticipationTable:
    """The participation table: rows sorted by department code, and the total."""

    rows: tuple[ParticipationRow, ...]
    total: Figures
    min_group_size: int
    target_percent: int = TARGET_PERCENT

    @property
    def over_headcount(self) -> bool:
        """Tell whether any shown department, or the shown total, has more responses than people."""
        return self.total.over_headcount or any(r.figures.over_headcount for r in self.rows)


def rate_tenths(part: int, whole: int) -> int | None:
    """Return ``part / whole`` in tenths of a per cent, rounded half up: 12/18 → 667.

    The one rounding rule of every rate the portal shows (pages, scorecard,
    CSV, workbook, API) and of the flags set on it. Rules: rounded from the
    exact fraction in integer arithmetic (66.65 exactly gives 667, no binary
    fraction tips it either way); above 1000 when ``part`` exceeds ``whole``;
    ``None`` when ``whole`` is 0 or less (there is no rate).
    """
    if whole <= 0:
        return None
    return (2000 * part + whole) // (2 * whole)


def response_rate(responses: int, headcount: int) -> float | None:
    """Return responses / headcount in per cent with one decimal, rounded half up.

    Rounded by ``rate_tenths`` (12 of 18 gives 66.7, never 66.6). With a
    headcount of 0 there is no rate (``None``). More responses than headcount
    (an outdated headcount, or people answering twice on open links) gives a
    rate above 100, shown as it is.
    """
    tenths = rate_tenths(responses, headcount)
    return None if tenths is None else tenths / 10


def exceeds_headcount(responses: int, headcount: int) -> bool:
    """Tell whether a group has more responses than people: a rate above 100 %.

    It means the headcount is out of date, or someone answered more than once
    through an open link (ballot stuffing); HR should check both. Counted from
    the totals only: no arrival time is recorded to tell the two apart. Only
    a count that may be shown is ever judged, so the flag says nothing about
    a hidden one; a group without headcount is never flagged.
    """
    return headcount > 0 and responses > headcount


def is_under_target(responses: int, headcount: int, target: int = TARGET_PERCENT) -> bool:
    """Tell whether the rate as shown (``rate_tenths``) is below ``target`` per cent.

    Rule: the flag is decided on the same rounded figure the reader sees, so
    a flag never contradicts its rate: 1499 of 2500 (59.96 %) shows "60.0"
    and is not flagged; 1498 of 2500 (59.92 %) shows "59.9" and is. A group
    without headcount is never flagged: there is nothing to measure against.
    """
    tenths = rate_tenths(responses, headcount)
    return tenths is not None and tenths < target * 10


def department_figures(
    responses: int | None, headcount: int, target: int = TARGET_PERCENT
) -> Figures:
    """Return what may be shown of one department, given its decided count.

    A hidden department (``responses`` ``None``) shows no count, no rate and
    no flag: it may be hidden for being small or to protect another
    department, and an under-target flag would be a claim about a number
    nobody may know.
    """
    if responses is None:
        return Figures(headcount, None, None, False)
    return Figures(
        headcount,
        responses,
        response_rate(responses, headcount),
        is_under_target(responses, headcount, target),
    )


def summarise_participation(
    groups: Iterable[GroupCount],
    total: int | None,
    min_group_size: int,
    target: int = TARGET_PERCENT,
) -> ParticipationTable:
    """Build the participation table from decided counts.

    Rows are sorted by department code; each shows its count only where the
    decision publishes it (``GroupCount.responses``). The total's headcount
    is the sum of the given groups' (for a department viewer: only their
    departments); its count is ``total`` — the decision's count of exactly
    these departments together, ``None`` when not published — and a withheld
    total is never flagged.
    """
    ordered = sorted(groups, key=lambda g: g.code)
    rows = tuple(
        ParticipationRow(
            g.code, g.name, g.site, g.retired, department_figures(g.responses, g.headcount, target)
        )
        for g in ordered
    )
    headcount = sum(g.headcount for g in ordered)
    return ParticipationTable(
        rows, department_figures(total, headcount, target), min_group_size, target
    )
