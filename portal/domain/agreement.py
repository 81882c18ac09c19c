"""Within-group agreement: rwg(j) per group, ICC(1) and ICC(2) across groups.

A department's mean speaks for the department only if its members largely
agree; a mean of 60 can be a team at 60 or a team split between 30 and 90.
rwg(j) measures agreement inside one group against what random answers would
give; ICC(1) says how much of the spread of individual answers lies between
groups, ICC(2) how reliably the group means tell groups apart. Both are
computed from the sums the aggregates hold (per item or per group: n, Σx, Σx²).
Rules and what they mean for an HR reader: ``docs/results.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from portal.domain.statistics import Number, f_sf

#: rwg(j) below this is weak agreement: the group's mean may hide a split team
#: (the conventional .70 cut-off; LeBreton & Senter 2008, Table 3).
AGREEMENT_FLOOR = 0.70


def uniform_null_variance(scale_points: int) -> float:
    """Return (A² − 1) / 12, the variance of answers spread evenly over A scale points.

    Rules: the "no agreement at all" reference of rwg (James, Demaree & Wolf
    1984); 2.0 for a 5-point scale. A must be at least 2.
    """
    if scale_points < 2:
        raise ValueError(f"A scale needs at least 2 points; got {scale_points}.")
    return (scale_points * scale_points - 1) / 12


def answer_variance(counts: Sequence[int]) -> float | None:
    """Return the sample variance of answers tallied per scale point (``counts[0]`` = 1s).

    Rules: the answers are the points 1 … A taken ``counts[i]`` times (an
    ``ItemTally``'s counts; don't-knows are not answers); variance with the
    n − 1 divisor, exact before one rounding. Reverse-scoring (x → A + 1 − x)
    does not change it, so raw tallies serve. ``None`` below 2 answers.
    """
    if any(c < 0 for c in counts):
        raise ValueError(f"Counts cannot be negative; got {tuple(counts)}.")
    n = sum(counts)
    if n < 2:
        return None
    total = sum(c * point for point, c in enumerate(counts, start=1))
    squares = sum(c * point * point for point, c in enumerate(counts, start=1))
    return float(Fraction(n * squares - total * total, n * (n - 1)))


def rwg_j(item_variances: Sequence[float], scale_points: int) -> float | None:
    """Return rwg(j), a group's agreement over J parallel items (James, Demaree & Wolf 1984).

    Rules: with s̄² the mean of the items' within-group sample variances and
    σ²_E = (A² − 1)/12 the uniform null, rwg(j) = J(1 − s̄²/σ²_E) /
    (J(1 − s̄²/σ²_E) + s̄²/σ²_E); J = 1 gives rwg = 1 − s²/σ²_E. It is 1 when
    every member gave the same answers and 0 when answers spread as evenly as
    random ones. When s̄² exceeds σ²_E (a group split into camps) the formula
    leaves [0, 1]; it is then set to 0, as LeBreton & Senter (2008) recommend.
    ``None`` without items or with a variance that is not a finite number ≥ 0.
    """
    null = uniform_null_variance(scale_points)
    if not item_variances or any(not (math.isfinite(v) and v >= 0) for v in item_variances):
        return None
    j = len(item_variances)
    ratio = sum(item_variances) / j / null
    if ratio >= 1:
        return 0.0
    return j * (1 - ratio) / (j * (1 - ratio) + ratio)


@dataclass(frozen=True)
class GroupSums:
    """One group's n, Σx and Σx² of individual scores (n·Σx² ≥ (Σx)², checked)."""

    n: int
    total: Number
    total_sq: Number

    def __post_init__(self) -> None:
        n, s, ss = self.n, Fraction(self.total), Fraction(self.total_sq)
        if n < 0 or n * ss < s * s or (n == 0 and (s or ss)):
            raise ValueError(f"Group sums that no set of values gives: {self}.")


@dataclass(frozen=True)
class IntraclassCorrelation:
    """One-way ANOVA of individual scores on groups and the ICCs it gives.

    ``icc1`` and ``icc2`` are ``None`` when nobody's score varies at all, ``f``
    and ``p`` too when the within-group mean square is 0 (``f`` is inf if the
    groups still differ). ``size`` is the group size n₀ that ICC(1) uses (the
    mean size for equal groups).
    """

    groups: int
    n: int
    ms_between: float
    ms_within: float
    size: float
    f: float | None
    p: float | None
    icc1: float | None
    icc2: float | None


def intraclass_correlations(groups: Sequence[GroupSums]) -> IntraclassCorrelation | None:
    """Return ICC(1) and ICC(2) of individual scores nested in groups (Bliese 2000).

    Rules: one-way ANOVA over G groups and N people: MSB = Σ nᵍ(x̄ᵍ − x̄)² /
    (G − 1), MSW = Σ (Σx²ᵍ − (Σxᵍ)²/nᵍ) / (N − G), computed exactly.
    ICC(1) = (MSB − MSW) / (MSB + (n₀ − 1)·MSW) with n₀ = (N − Σnᵍ²/N)/(G − 1)
    (the mean group size when groups are equal; Snedecor & Cochran), the share
    of the variance of individual answers that lies between groups (Shrout &
    Fleiss 1979, ICC(1,1)); it can be negative. ICC(2) = (MSB − MSW) / MSB,
    the reliability of the group means (ICC(1,k)); F = MSB/MSW with its p on
    (G − 1, N − G) degrees of freedom. Groups with n = 0 are left out; ``None``
    with fewer than 2 groups or no more people than groups.
    """
    kept = [group for group in groups if group.n > 0]
    g = len(kept)
    n = sum(group.n for group in kept)
    if g < 2 or n <= g:
        return None
    grand = sum((Fraction(group.total) for group in kept), Fraction(0))
    between = sum((Fraction(group.total) ** 2 / group.n for group in kept), Fraction(0))
    squares = sum((Fraction(group.total_sq) for group in kept), Fraction(0))
    ss_between = between - grand * grand / n
    ss_within = squares - between
    msb, msw = ss_between / (g - 1), ss_within / (n - g)
    size = (n - Fraction(sum(group.n * group.n for group in kept), n)) / (g - 1)
    f = p = icc1 = icc2 = None
    if msw > 0:
        f = float(msb / msw)
        p = f_sf(f, g - 1, n - g)
    elif msb > 0:
        f, p = math.inf, 0.0
    if msb + (size - 1) * msw != 0:
        icc1 = float((msb - msw) / (msb + (size - 1) * msw))
    if msb > 0:
        icc2 = float((msb - msw) / msb)
    return IntraclassCorrelation(g, n, float(msb), float(msw), float(size), f, p, icc1, icc2)
