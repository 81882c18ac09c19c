"""Changes between two waves, judged so that a report does not cry wolf.

A report (one wave pair, as one reader sees it: the overview, a department
page, the CSV, the API) shows dozens of unit × lever changes at once. Tested
one by one at 5 %, a report with no real change flags at least one
"improved/declined" almost every time. So every change carries:

* its difference in index points with Welch's 95 % interval, and the minimum
  detectable difference for its groups (``statistics.compare_means``);
* Hedges' g, the change in standard deviations (``statistics.hedges_g``);
* its two-sided p and its Benjamini–Hochberg q-value over the report
  (``control``; for a change judged alone, q = p).

The words (``Trend``), in this order:

1. "not enough data": either wave has fewer than 2 respondents on the lever
   (or the lever is not shown in one of them);
2. "improved" / "declined": q ≤ ``FDR`` (5 %), by the sign of the change —
   among the changes a report calls, on average at most 1 in 20 is noise;
3. "too few responses to tell": not called, and the groups could not have
   detected a change of ``MEANINGFUL_CHANGE`` (10) index points — the minimum
   detectable difference (80 % power, 5 % two-sided) is above it;
4. "no clear change": not called although a change of 10 points would
   probably have been seen.

The rules and what they mean for HR are in ``docs/results.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from portal.domain.scoring import LeverScore, Trend, WaveChange, WelchTest
from portal.domain.statistics import (
    ALPHA,
    Summary,
    benjamini_hochberg,
    compare_means,
    hedges_g,
)

#: The false-discovery rate of a report: the share of its called changes expected to be noise.
FDR = ALPHA
#: A change of this many index points matters; groups that cannot detect it are "too few to tell".
MEANINGFUL_CHANGE = 10.0


def judge(
    lever_id: str,
    first: LeverScore,
    second: LeverScore,
    before: Summary,
    after: Summary,
    fdr: float = FDR,
) -> WaveChange:
    """Return the change of one lever from ``before`` to ``after``, judged on its own.

    ``first`` and ``second`` are the waves' scores, ``before`` and ``after``
    the same groups' n, mean and sd (the exact sums' summaries). Judged alone,
    the q-value is the p-value; ``control`` judges a report's changes together.
    """
    change = None
    if first.index is not None and second.index is not None:
        change = second.index - first.index
    comparison = compare_means(before, after)
    if comparison is None:
        return WaveChange(lever_id, first, second, change, None, Trend.NOT_ENOUGH_DATA)
    test = WelchTest(comparison.t, comparison.df, comparison.p)
    judged = WaveChange(
        lever_id,
        first,
        second,
        change,
        test,
        Trend.NOT_ENOUGH_DATA,
        comparison=comparison,
        effect=hedges_g(before, after),
        q=comparison.p,
    )
    return replace(judged, outcome=outcome(judged, fdr))


def outcome(change: WaveChange, fdr: float = FDR) -> Trend:
    """Return the words for a change from its q-value and detectable difference (rules above)."""
    comparison, q = change.comparison, change.q
    if comparison is None or q is None:
        return Trend.NOT_ENOUGH_DATA
    if q <= fdr and comparison.difference > 0:
        return Trend.IMPROVED
    if q <= fdr and comparison.difference < 0:
        return Trend.DECLINED
    if comparison.detectable > MEANINGFUL_CHANGE:
        return Trend.TOO_FEW_TO_TELL
    return Trend.NO_CLEAR_CHANGE


def control(changes: Sequence[WaveChange], fdr: float = FDR) -> list[WaveChange]:
    """Judge a report's changes together: Benjamini–Hochberg q-values, then the words.

    Rules: the family is every change in ``changes`` that has a test (both
    waves shown with at least 2 respondents); q-values are Benjamini–Hochberg's
    over their p-values (``statistics.benjamini_hochberg``) and each outcome is
    decided again from its q (``outcome``). Changes without a test are
    returned unchanged. Pass only changes the reader may see: a hidden change
    must not move a shown one's q-value. The order is kept.
    """
    tested = [i for i, c in enumerate(changes) if c.comparison is not None]
    found = benjamini_hochberg([_p(changes[i]) for i in tested], fdr)
    result = list(changes)
    for i, q in zip(tested, found.q_values, strict=True):
        controlled = replace(changes[i], q=q)
        result[i] = replace(controlled, outcome=outcome(controlled, fdr))
    return result


def _p(change: WaveChange) -> float:
    assert change.comparison is not None
    return change.comparison.p
