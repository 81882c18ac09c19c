"""A group against the rest of its organisation: the difference, its interval and the words.

"How does this department compare?" is asked against everyone else: the
organisation contains the group, so the two are not independent, and a large
department would always look close to the organisation. The rest is the
organisation's sums minus the group's (``rest_sums``), exact in integers.

Every contrast carries the difference group − rest in index points with
Welch's 95 % interval and the minimum detectable difference
(``statistics.compare_means``, from the sums' exact summaries,
``aggregates.summarize_sums``). A page's contrasts are judged together
(``judge``), with the rules and words of a wave change (``portal.domain.changes``):

1. "clearly higher" / "clearly lower": the Benjamini–Hochberg q-value over
   the page's contrasts is at most ``changes.FDR`` (5 %), by the sign;
2. "too few responses to tell": not called, and the groups could not have
   detected a difference of ``changes.MEANINGFUL_CHANGE`` (10) points;
3. "no clear difference": not called although such a difference would
   probably have been seen.

A contrast without a test (fewer than 2 on a side, or withheld by the
caller) is "not shown". When a contrast may be shown is the caller's rule
(``services.compare``); this module only computes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from portal.domain import aggregates
from portal.domain.aggregates import Aggregate, LeverSums
from portal.domain.changes import FDR, MEANINGFUL_CHANGE
from portal.domain.scoring import LeverScore
from portal.domain.statistics import MeanComparison, benjamini_hochberg, compare_means


class Difference(StrEnum):
    """How a group's index stands against the rest of the organisation."""

    CLEARLY_HIGHER = "clearly higher"
    CLEARLY_LOWER = "clearly lower"
    NO_CLEAR_DIFFERENCE = "no clear difference"
    TOO_FEW_TO_TELL = "too few responses to tell"
    NOT_SHOWN = "not shown"


@dataclass(frozen=True)
class Contrast:
    """One lever of a group against the rest (group − rest).

    ``rest`` (the rest's own score) and ``comparison`` (Welch) are ``None``
    when not shown; ``q`` is the Benjamini–Hochberg q-value once judged.
    """

    lever_id: str
    outcome: Difference
    rest: LeverScore | None = None
    comparison: MeanComparison | None = None
    q: float | None = None


def lever_sums(aggregate: Aggregate, lever_id: str) -> LeverSums:
    """Return the lever's n, Σv and Σv² over every audience part of ``aggregate``."""
    n = sum_v = sum_v2 = 0
    for part in aggregate.parts:
        sums = part.lever(lever_id)
        if sums is not None:
            n, sum_v, sum_v2 = n + sums.n, sum_v + sums.sum_v, sum_v2 + sums.sum_v2
    return LeverSums(lever_id, n, sum_v, sum_v2)


def rest_sums(whole: LeverSums, part: LeverSums) -> LeverSums:
    """Return the sums of everyone in ``whole`` who is not in ``part`` (``part`` ⊆ ``whole``)."""
    return LeverSums(
        whole.lever_id, whole.n - part.n, whole.sum_v - part.sum_v, whole.sum_v2 - part.sum_v2
    )


def contrast(part: LeverSums, rest: LeverSums, scale: int) -> Contrast:
    """Return the group's difference from the rest on one lever, not yet judged.

    "Not shown" when either side has fewer than 2 respondents (no test).
    """
    comparison = compare_means(
        aggregates.summarize_sums(rest, scale), aggregates.summarize_sums(part, scale)
    )
    if comparison is None:
        return Contrast(part.lever_id, Difference.NOT_SHOWN)
    rest_score = aggregates.describe_sums(rest, scale)
    return Contrast(part.lever_id, Difference.NO_CLEAR_DIFFERENCE, rest_score, comparison)


def judge(
    contrasts: Sequence[Mapping[str, Contrast]], fdr: float = FDR
) -> list[dict[str, Contrast]]:
    """Judge a page's contrasts together (rules above); the order is kept.

    The family is every contrast with a test; q-values are Benjamini–Hochberg's
    over their p-values (as ``changes.control``). Contrasts without a test keep
    their words ("not shown").
    """
    family = [
        (i, lever_id, found.comparison)
        for i, page in enumerate(contrasts)
        for lever_id, found in page.items()
        if found.comparison is not None
    ]
    q_values = benjamini_hochberg([comparison.p for _, _, comparison in family], fdr).q_values
    judged = [dict(page) for page in contrasts]
    for (i, lever_id, comparison), q in zip(family, q_values, strict=True):
        judged[i][lever_id] = replace(judged[i][lever_id], outcome=_words(comparison, q, fdr), q=q)
    return judged


def _words(comparison: MeanComparison, q: float, fdr: float) -> Difference:
    if q <= fdr and comparison.difference > 0:
        return Difference.CLEARLY_HIGHER
    if q <= fdr and comparison.difference < 0:
        return Difference.CLEARLY_LOWER
    if comparison.detectable > MEANINGFUL_CHANGE:
        return Difference.TOO_FEW_TO_TELL
    return Difference.NO_CLEAR_DIFFERENCE
