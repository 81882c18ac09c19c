"""Live participation: response counts and rates per department, with small groups hidden.

Why counts are hidden although they are not scores: in a small group, knowing
*how many* answered says *who* answered. If a team of four hears "3 responses"
and three of them know they answered, the fourth is exposed as the one who did
not — and "1 response" in a department where one person mentioned the survey
points at that person's answers in every later breakdown. So a participation
count obeys the wave's number threshold like any other number: below it, the
table says "fewer than N", and a department where nobody answered reads the
same, so an empty cell cannot be told from a hidden one.

Everything here is pure: it takes plain counts and returns what may be shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: A department or organisation under this response rate (per cent) is flagged.
TARGET_PERCENT = 60


@dataclass(frozen=True)
class GroupCount:
    """One department's raw figures, before anything is hidden."""

    code: str
    name: str
    site: str
    headcount: int
    responses: int
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
        """Tell whether the count is withheld ("fewer than N")."""
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


def shown_count(count: int, min_group_size: int) -> int | None:
    """Return ``count`` if it may be shown, else ``None`` ("fewer than N").

    Rule: a count is shown only when it is at least ``min_group_size``. Zero
    is hidden too, so that a department without responses looks exactly like
    one with a few.
    """
    return count if count >= min_group_size else None


def response_rate(responses: int, headcount: int) -> float | None:
    """Return responses / headcount in per cent with one decimal, cut off (not rounded).

    Cutting off means the rate never overstates participation: "60.0" is
    shown only at 60 % or more, so it always agrees with the under-target flag,
    and "100.0" only when everyone answered. With a headcount of 0 there is no
    rate (``None``). More responses than headcount (an outdated headcount, or
    people answering twice on open links) gives a rate above 100, shown as it is.
    """
    if headcount <= 0:
        return None
    return (responses * 1000 // headcount) / 10


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
    """Tell whether responses / headcount is below ``target`` per cent (exactly, not rounded).

    A group without headcount is never flagged: there is nothing to measure against.
    """
    return headcount > 0 and responses * 100 < target * headcount


def department_figures(
    responses: int, headcount: int, min_group_size: int, target: int = TARGET_PERCENT
) -> Figures:
    """Return what may be shown of one department.

    A hidden department shows no rate. It is still flagged when *every* count
    that would be hidden (0 to ``min_group_size`` − 1) is under the target — a
    fact that follows from the headcount and the threshold alone, so the flag
    tells nothing about the actual count.
    """
    shown = shown_count(responses, min_group_size)
    if shown is None:
        flagged = is_under_target(min_group_size - 1, headcount, target)
        return Figures(headcount, None, None, flagged)
    return Figures(
        headcount, shown, response_rate(shown, headcount), is_under_target(shown, headcount, target)
    )


def total_may_be_shown(counts: Iterable[int], min_group_size: int) -> bool:
    """Tell whether the total of ``counts`` may be shown next to the parts.

    Rules: the total must reach ``min_group_size`` itself; and it must not let
    anyone work out the hidden parts by subtraction. Total minus the shown
    parts is the sum of the hidden parts, so that sum must be either zero with
    nothing hidden, or itself at least ``min_group_size``. Otherwise one hidden
    department's exact count (or that the hidden ones are all empty, which a
    hidden cell must never give away) could be computed, and the total is
    withheld instead.
    """
    counts = list(counts)
    total = sum(counts)
    if total < min_group_size:
        return False
    hidden = [c for c in counts if shown_count(c, min_group_size) is None]
    return not hidden or sum(hidden) >= min_group_size


def summarise_participation(
    groups: Iterable[GroupCount], min_group_size: int, target: int = TARGET_PERCENT
) -> ParticipationTable:
    """Build the participation table from raw counts, hiding what the threshold requires.

    Rows are sorted by department code. The total covers exactly the given
    groups (for a department viewer: only their departments), its headcount
    is the sum of theirs, and its count and rate are shown only when
    ``total_may_be_shown`` allows; a withheld total is never flagged.
    """
    ordered = sorted(groups, key=lambda g: g.code)
    rows = tuple(
        ParticipationRow(
            g.code,
            g.name,
            g.site,
            g.retired,
            department_figures(g.responses, g.headcount, min_group_size, target),
        )
        for g in ordered
    )
    headcount = sum(g.headcount for g in ordered)
    responses = sum(g.responses for g in ordered)
    if total_may_be_shown((g.responses for g in ordered), min_group_size):
        total = Figures(
            headcount,
            responses,
            response_rate(responses, headcount),
            is_under_target(responses, headcount, target),
        )
    else:
        total = Figures(headcount, None, None, False)
    return ParticipationTable(rows, total, min_group_size, target)
