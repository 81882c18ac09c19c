"""Reliability in full: Cronbach's α, its confidence interval, and item analysis.

α says whether a lever's items measure one thing well enough for their mean to
be read as one score. From the sums the aggregates hold over a lever's complete
cases (n, per item Σx and Σx², Σ of each case's total squared) α and its
interval follow; item-rest correlations and α-if-item-deleted need the items'
covariance matrix, which needs sums of cross-products (``statistics.CrossSums``).
``scoring.cronbach_alpha`` computes α from raw responses; this module from sums.
Rules and what they mean for an HR reader: ``docs/results.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from portal.domain.statistics import CONFIDENCE, Number, f_quantile


def coefficient_alpha(item_variances: Sequence[Number], total_variance: Number) -> float | None:
    """Return Cronbach's α = k/(k − 1) · (1 − Σ var_i / var_total) (Cronbach 1951).

    Rules: ``item_variances`` are the k items' sample variances over the same
    complete cases, ``total_variance`` the variance of each case's total score
    (same divisor). Computed exactly from exact inputs (so at most 1); it can
    be negative when items pull against each other. ``None`` when k < 2 or
    the total variance is 0.
    """
    k = len(item_variances)
    if k < 2 or total_variance == 0:
        return None
    ratio = sum((Fraction(v) for v in item_variances), Fraction(0)) / Fraction(total_variance)
    return float(Fraction(k, k - 1) * (1 - ratio))


def alpha_from_sums(
    n: int, sum_x: Sequence[int], sum_x2: Sequence[int], sum_total2: int
) -> float | None:
    """Return Cronbach's α from the sums over n complete cases of k items.

    Rules: each variance is (n·Σx² − (Σx)²) / (n(n − 1)) and the total's uses
    Σtotal = Σ of the item sums; the common factor cancels, so α =
    k/(k − 1) · (1 − Σᵢ(n·Σxᵢ² − (Σxᵢ)²) / (n·Σtotal² − (Σtotal)²)). ``None``
    when n < 2 (besides the cases of ``coefficient_alpha``).
    """
    if len(sum_x) != len(sum_x2):
        raise ValueError("Every item needs both Σx and Σx².")
    if n < 2:
        return None
    total = sum(sum_x)
    items = [n * sxx - sx * sx for sx, sxx in zip(sum_x, sum_x2, strict=True)]
    return coefficient_alpha(items, n * sum_total2 - total * total)


def alpha_interval(
    alpha: float, n: int, k: int, confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Return the confidence interval of Cronbach's α over n cases and k items (Feldt 1965).

    Rules: with df₁ = n − 1 and df₂ = (n − 1)(k − 1), the interval is
    1 − (1 − α)·F_(1+c)/2 (df₁, df₂) to 1 − (1 − α)·F_(1−c)/2 (df₁, df₂)
    (Feldt 1965; Feldt, Woodruff & Salih 1987), which assumes normal,
    essentially τ-equivalent items. ``None`` when n < 2 or k < 2.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"A confidence level lies strictly between 0 and 1; got {confidence!r}.")
    if n < 2 or k < 2 or not math.isfinite(alpha):
        return None
    df1, df2 = n - 1, (n - 1) * (k - 1)
    upper_f = f_quantile((1 + confidence) / 2, df1, df2)
    lower_f = f_quantile((1 - confidence) / 2, df1, df2)
    return 1 - (1 - alpha) * upper_f, 1 - (1 - alpha) * lower_f


@dataclass(frozen=True)
class ItemStatistics:
    """One item's correlation with the rest of its lever and α without it.

    Either is ``None`` where undefined: a constant item or rest score has no
    correlation, and α without the item needs 2 items left.
    """

    item_rest: float | None
    alpha_if_deleted: float | None


def analyse_items(covariance: Sequence[Sequence[float]]) -> tuple[ItemStatistics, ...]:
    """Return each item's item-rest correlation and α-if-item-deleted from the items' covariances.

    Rules: with C the k × k covariance matrix, the rest score of item i is the
    sum of the other items; cov(i, rest) = Σⱼ≠ᵢ Cᵢⱼ, var(rest) = Σⱼ,ₗ≠ᵢ Cⱼₗ,
    item-rest r = cov(i, rest) / √(Cᵢᵢ · var(rest)) (the corrected item-total
    correlation; below about 0.3 an item fits its lever poorly — Nunnally &
    Bernstein 1994). α-if-deleted is α of C without row and column i; an α
    that rises when an item is dropped marks that item as the weak one.
    """
    k = len(covariance)
    if k < 2 or any(len(row) != k for row in covariance):
        raise ValueError("Item analysis needs a square covariance matrix of at least 2 items.")
    whole = sum(sum(row) for row in covariance)
    column = [sum(row) for row in covariance]
    results = []
    for i in range(k):
        with_rest = column[i] - covariance[i][i]
        rest = whole - 2 * column[i] + covariance[i][i]
        scale = covariance[i][i] * rest
        item_rest = with_rest / math.sqrt(scale) if scale > 0 else None
        kept = [j for j in range(k) if j != i]
        deleted = coefficient_alpha([covariance[j][j] for j in kept], rest) if rest > 0 else None
        results.append(ItemStatistics(item_rest, deleted))
    return tuple(results)


def analyse_items_from_sums(
    n: int,
    sum_x: Sequence[int],
    sum_x2: Sequence[int],
    sum_xt: Sequence[int],
    sum_total2: int,
) -> tuple[ItemStatistics, ...]:
    """Return each item's item-rest correlation and α-if-item-deleted from complete-case sums.

    Rules: the same as ``analyse_items``, from n, per item Σx, Σx² and
    Σx·total, and Σtotal² instead of the covariance matrix: n(n − 1) times
    cov(i, total) is n·Σxᵢ·total − Σxᵢ·Σtotal, of var(total) n·Σtotal² −
    (Σtotal)², which is all ``analyse_items`` takes from the matrix besides
    the diagonal. Exact until the square root; no cases below 2 (every entry
    ``None``).
    """
    k = len(sum_x)
    if k < 2 or not len(sum_x2) == len(sum_xt) == k:
        raise ValueError("Item analysis needs Σx, Σx² and Σx·total for at least 2 items.")
    if n < 2:
        return tuple(ItemStatistics(None, None) for _ in range(k))
    total = sum(sum_x)
    whole = n * sum_total2 - total * total
    results = []
    for i in range(k):
        own = n * sum_x2[i] - sum_x[i] * sum_x[i]
        with_total = n * sum_xt[i] - sum_x[i] * total
        with_rest = with_total - own
        rest = whole - 2 * with_total + own
        scale = own * rest
        item_rest = with_rest / math.sqrt(scale) if scale > 0 else None
        kept = [n * sum_x2[j] - sum_x[j] * sum_x[j] for j in range(k) if j != i]
        deleted = coefficient_alpha(kept, rest) if rest > 0 else None
        results.append(ItemStatistics(item_rest, deleted))
    return tuple(results)
