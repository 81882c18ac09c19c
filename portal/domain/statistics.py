"""Statistics behind decisions that respect uncertainty, from sufficient statistics.

Everything here takes what the stored aggregates can hold — per group the count
n, the sum Σx and the sum of squares Σx², and (for cross-lever statistics) the
sums of cross-products Σxy — never raw responses, so the same code serves a
snapshot on Lambda and a test on raw data. Sums are combined exactly (as
``Fraction``, which is exact for ``int`` and ``float`` alike), so a variance is
never negative and n·Σx² − (Σx)² does not cancel.

This module holds the sums and moments, the F distribution, comparisons of two
group means (Welch's test with its interval, Hedges' g, the minimum detectable
difference), the finite-population correction and the Benjamini–Hochberg
false-discovery rate. Agreement (rwg(j), ICC), reliability (α and its interval,
item analysis) and key drivers each have their own module beside this one.

Written by hand, not with scipy, because the Lambda package carries no numpy or
scipy (they alone exceed its size budget); the Student-t distribution comes from
``scoring`` (regularized incomplete beta, Lentz's continued fraction), the
normal from the standard library's ``NormalDist``. ``tests/unit/test_statistics.py``
checks every function against scipy, statsmodels and pingouin. The rules and
what they mean for an HR reader are in ``docs/results.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist

from portal.domain.scoring import regularized_beta, t_quantile, t_two_sided_p

#: Confidence level of intervals unless a caller asks for another.
CONFIDENCE = 0.95
#: Significance level of a single test, and the false-discovery rate of a report.
ALPHA = 0.05
#: The chance of detecting a true difference as large as the minimum detectable one.
POWER = 0.80

_QUANTILE_RTOL = 1e-13
_BISECTIONS = 400

Number = int | float | Fraction


def _exact(value: Number) -> Fraction:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"Sums must be finite numbers; got {value!r}.")
    return Fraction(value)


def _check_level(level: float, what: str) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"{what} must lie strictly between 0 and 1; got {level!r}.")


# -- sums and moments --------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """A group's n, mean and sample standard deviation (n − 1 divisor).

    ``mean`` is ``None`` when n is 0 and ``sd`` when n is below 2.
    """

    n: int
    mean: float | None
    sd: float | None

    @property
    def variance(self) -> float | None:
        """Return the sample variance sd², or ``None`` when n is below 2."""
        return None if self.sd is None else self.sd * self.sd


def summarize(n: int, total: Number, total_sq: Number) -> Summary:
    """Return n, mean and sd from n, Σx and Σx².

    Rules: mean = Σx / n; variance = (n·Σx² − (Σx)²) / (n (n − 1)), computed
    exactly, so that it is 0 for equal values and never negative. n below 0,
    or sums that no data give (n·Σx² < (Σx)²), raise ``ValueError``.
    """
    if n < 0:
        raise ValueError(f"A count cannot be negative; got n={n}.")
    s, ss = _exact(total), _exact(total_sq)
    if n * ss < s * s or (n == 0 and (s or ss)):
        raise ValueError("Sums that no set of values gives (n·Σx² < (Σx)²).")
    if n == 0:
        return Summary(0, None, None)
    mean = float(s / n)
    if n < 2:
        return Summary(n, mean, None)
    return Summary(n, mean, math.sqrt((n * ss - s * s) / (n * (n - 1))))


@dataclass(frozen=True)
class CrossSums:
    """Sums over the n cases that scored every one of p variables: Σx_i and Σx_i·x_j.

    ``cross[i][j]`` is Σ x_i x_j over the cases, so ``cross[i][i]`` is Σx_i².
    Groups' sums add (``+``) and subtract (``-``) term by term, which is what a
    jackknife over groups needs.
    """

    n: int
    sums: tuple[Number, ...]
    cross: tuple[tuple[Number, ...], ...]

    def __post_init__(self) -> None:
        p = len(self.sums)
        if self.n < 0 or len(self.cross) != p or any(len(row) != p for row in self.cross):
            raise ValueError("Cross sums need n ≥ 0, p sums and a p × p table of Σx_i·x_j.")
        if any(self.cross[i][j] != self.cross[j][i] for i in range(p) for j in range(i)):
            raise ValueError("Σx_i·x_j must equal Σx_j·x_i.")

    def __add__(self, other: CrossSums) -> CrossSums:
        return self._combine(other, 1)

    def __sub__(self, other: CrossSums) -> CrossSums:
        return self._combine(other, -1)

    def _combine(self, other: CrossSums, sign: int) -> CrossSums:
        if len(other.sums) != len(self.sums):
            raise ValueError("Cross sums over different variables do not combine.")
        return CrossSums(
            self.n + sign * other.n,
            tuple(a + sign * b for a, b in zip(self.sums, other.sums, strict=True)),
            tuple(
                tuple(a + sign * b for a, b in zip(row, other_row, strict=True))
                for row, other_row in zip(self.cross, other.cross, strict=True)
            ),
        )


def covariance_matrix(sums: CrossSums) -> list[list[float]]:
    """Return the p × p sample covariance matrix (n − 1 divisor) of cross sums.

    Rules: cov_ij = (n·Σx_i x_j − Σx_i Σx_j) / (n (n − 1)), each entry exact
    before it is rounded once. Fewer than 2 cases raise ``ValueError``.
    """
    n = sums.n
    if n < 2:
        raise ValueError(f"A covariance needs at least 2 cases; got {n}.")
    s = [_exact(v) for v in sums.sums]
    p = len(s)
    return [
        [float((n * _exact(sums.cross[i][j]) - s[i] * s[j]) / (n * (n - 1))) for j in range(p)]
        for i in range(p)
    ]


def correlation_matrix(sums: CrossSums) -> list[list[float]] | None:
    """Return the p × p Pearson correlation matrix of cross sums.

    Rules: r_ij = C_ij / √(C_ii C_jj) with C_ij = n·Σx_i x_j − Σx_i Σx_j exact,
    so that only the square root rounds; the diagonal is exactly 1. ``None``
    when a variable is constant (its correlations are undefined) or n < 2.
    """
    n = sums.n
    if n < 2:
        return None
    p = len(sums.sums)
    whole = all(type(v) is int for v in sums.sums) and all(
        type(v) is int for row in sums.cross for v in row
    )
    # Whole-number sums (the aggregates' own) stay whole numbers: exact, and far faster
    # than fractions; the same values either way.
    s: Sequence[int | Fraction] = sums.sums if whole else [_exact(v) for v in sums.sums]  # type: ignore[assignment]
    cross = sums.cross if whole else [[_exact(v) for v in row] for row in sums.cross]
    centred = [[n * cross[i][j] - s[i] * s[j] for j in range(p)] for i in range(p)]
    if any(centred[i][i] <= 0 for i in range(p)):
        return None
    scale = [math.sqrt(centred[i][i]) for i in range(p)]
    return [
        [1.0 if i == j else _clamp(float(centred[i][j]) / (scale[i] * scale[j])) for j in range(p)]
        for i in range(p)
    ]


def _clamp(r: float) -> float:
    # Two roundings can push a perfect correlation a hair past ±1.
    return max(-1.0, min(1.0, r))


# -- the F and normal distributions --------------------------------------------------


def _check_dfs(d1: float, d2: float) -> None:
    if not all(d > 0 and math.isfinite(d) for d in (d1, d2)):
        raise ValueError(f"Degrees of freedom must be finite and above 0; got {d1!r}, {d2!r}.")


def f_cdf(x: float, d1: float, d2: float) -> float:
    """Return P(F ≤ x) for Fisher's F with ``d1`` and ``d2`` degrees of freedom.

    Rules: I_u(d1/2, d2/2) with u = d1·x / (d1·x + d2) (Abramowitz & Stegun
    26.6.2); 0 for x ≤ 0. Degrees of freedom must be finite and above 0.
    """
    _check_dfs(d1, d2)
    if x <= 0:
        return 0.0
    if math.isinf(x):
        return 1.0
    return regularized_beta(d1 * x / (d1 * x + d2), d1 / 2, d2 / 2)


def f_sf(x: float, d1: float, d2: float) -> float:
    """Return P(F > x), the upper tail, as I_w(d2/2, d1/2) with w = d2 / (d1·x + d2).

    Rules: computed without subtracting from 1, so small p-values keep their
    relative accuracy; 1 for x ≤ 0.
    """
    _check_dfs(d1, d2)
    if x <= 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    return regularized_beta(d2 / (d1 * x + d2), d2 / 2, d1 / 2)


def f_quantile(p: float, d1: float, d2: float) -> float:
    """Return x with P(F ≤ x) = p for Fisher's F with ``d1`` and ``d2`` degrees of freedom.

    Rules: 0 < p < 1. Found by bracketing and bisection on the CDF (which
    rises strictly) to a relative 1e-13: F(0.975; 9, 36) = 2.3163.
    """
    _check_level(p, "A quantile's p")
    _check_dfs(d1, d2)
    low, high = 0.0, 1.0
    while f_cdf(high, d1, d2) < p:
        low, high = high, high * 2
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        if f_cdf(middle, d1, d2) < p:
            low = middle
        else:
            high = middle
        if high - low <= _QUANTILE_RTOL * high:
            break
    return (low + high) / 2


def normal_quantile(p: float) -> float:
    """Return z with Φ(z) = p for the standard normal (``statistics.NormalDist``)."""
    _check_level(p, "A quantile's p")
    return NormalDist().inv_cdf(p)


# -- a mean's standard error ---------------------------------------------------------


def standard_error(sd: float, n: int, population: int | None = None) -> float:
    """Return the standard error of a mean of ``n`` values with sample sd ``sd``.

    Rules: se = sd / √n. With ``population`` (the headcount N, when known) the
    finite-population correction applies: se = sd / √n · √(1 − n/N)
    (Cochran 1977, *Sampling Techniques*, eq. 2.17), which is 0 when everyone
    answered; this estimate of the mean's variance is unbiased for sampling
    without replacement. n must be at least 1, and N at least n: more
    responses than headcount mean the headcount is out of date, which raises
    ``ValueError`` rather than silently narrowing the interval.
    """
    if n < 1 or sd < 0 or not math.isfinite(sd):
        raise ValueError(f"A standard error needs n ≥ 1 and a finite sd ≥ 0; got {n}, {sd}.")
    se = sd / math.sqrt(n)
    if population is None:
        return se
    if population < n:
        raise ValueError(
            f"The headcount ({population}) is below the responses ({n}): update the "
            "headcount, or leave it out to skip the finite-population correction."
        )
    return se * math.sqrt(1 - n / population)


def mean_interval(
    summary: Summary, population: int | None = None, confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Return the two-sided interval mean ± t(n − 1) · se, or ``None`` when n is below 2.

    Rules: se as in ``standard_error`` (with the finite-population correction
    when ``population`` is given); t is Student's quantile at (1 + confidence)/2.
    """
    _check_level(confidence, "A confidence level")
    if summary.mean is None or summary.sd is None:
        return None
    half = t_quantile((1 + confidence) / 2, summary.n - 1) * standard_error(
        summary.sd, summary.n, population
    )
    return summary.mean - half, summary.mean + half


# -- two group means -----------------------------------------------------------------


@dataclass(frozen=True)
class MeanComparison:
    """Welch's test of second − first, with the difference's interval.

    ``df`` is ``None`` when both groups are constant (se is 0): then ``t`` is
    ±inf and ``p`` 0 if the means differ, 0 and 1 if they are equal, and the
    interval is the difference itself. ``detectable`` is the minimum
    detectable difference at the test's level and ``power``, for this se and
    df: where it exceeds the smallest change that matters, a non-significant
    result means "too few responses to tell", not "no clear change".
    """

    difference: float
    se: float
    t: float
    df: float | None
    p: float
    ci_low: float
    ci_high: float
    detectable: float


def compare_means(
    first: Summary,
    second: Summary,
    confidence: float = CONFIDENCE,
    power: float = POWER,
) -> MeanComparison | None:
    """Compare two independent group means with Welch's t test: second − first.

    Rules: se = √(s₁²/n₁ + s₂²/n₂); t = (x̄₂ − x̄₁) / se; df by
    Welch–Satterthwaite, (s₁²/n₁ + s₂²/n₂)² / Σ (sᵢ²/nᵢ)² / (nᵢ − 1)
    (Welch 1947); p two-sided; the interval is difference ± t_(1+c)/2,df · se.
    ``None`` when either group has fewer than 2 values.
    """
    _check_level(confidence, "A confidence level")
    if first.variance is None or second.variance is None:
        return None
    assert first.mean is not None and second.mean is not None
    difference = second.mean - first.mean
    v1, v2 = first.variance / first.n, second.variance / second.n
    se = math.sqrt(v1 + v2)
    if se == 0:
        t = 0.0 if difference == 0 else math.copysign(math.inf, difference)
        p = 1.0 if difference == 0 else 0.0
        return MeanComparison(difference, 0.0, t, None, p, difference, difference, 0.0)
    # Scaled by the larger term so that squaring tiny variances cannot underflow.
    r1, r2 = v1 / max(v1, v2), v2 / max(v1, v2)
    df = (r1 + r2) ** 2 / (r1 * r1 / (first.n - 1) + r2 * r2 / (second.n - 1))
    t = difference / se
    half = t_quantile((1 + confidence) / 2, df) * se
    p = t_two_sided_p(t, df)
    detectable = _detectable(se, df, 1 - confidence, power)
    low, high = difference - half, difference + half
    return MeanComparison(difference, se, t, df, p, low, high, detectable)


def _detectable(se: float, df: float, alpha: float, power: float) -> float:
    # Bloom (1995): the smallest true difference that a two-sided test at level alpha
    # detects with the given power is (t_(1−α/2) + t_power) · se.
    _check_level(alpha, "A significance level")
    _check_level(power, "A power")
    return (t_quantile(1 - alpha / 2, df) + t_quantile(power, df)) * se


def minimum_detectable_difference(
    n1: int, n2: int, sd: float, alpha: float = ALPHA, power: float = POWER
) -> float:
    """Return the smallest true difference of two means that groups of n1 and n2 detect.

    Rules: MDD = (t_(1−α/2),df + t_power,df) · sd · √(1/n₁ + 1/n₂) with
    df = n₁ + n₂ − 2 (Bloom 1995, "Minimal detectable effects", *Evaluation
    Review* 19(5)); a true difference of this size is called significant with
    probability ``power`` (80 %) at level ``alpha`` (5 %), two-sided. Below
    it, "no clear change" cannot be told from "too few responses to tell".
    Both groups need at least 2 values (df ≥ 2); sd must be finite and ≥ 0.
    """
    if n1 < 1 or n2 < 1 or n1 + n2 < 4 or sd < 0 or not math.isfinite(sd):
        raise ValueError(f"A detectable difference needs n1 + n2 ≥ 4 and sd ≥ 0; got {n1}, {n2}.")
    return _detectable(sd * math.sqrt(1 / n1 + 1 / n2), n1 + n2 - 2, alpha, power)


@dataclass(frozen=True)
class EffectSize:
    """Hedges' g of second − first with its approximate interval."""

    g: float
    ci_low: float
    ci_high: float


def hedges_g(first: Summary, second: Summary, confidence: float = CONFIDENCE) -> EffectSize | None:
    """Return Hedges' g, the standardized difference of means second − first, with its interval.

    Rules: d = (x̄₂ − x̄₁) / s_pooled, s_pooled² = ((n₁−1)s₁² + (n₂−1)s₂²) /
    (n₁ + n₂ − 2); g = d · (1 − 3 / (4(n₁ + n₂) − 9)) (Hedges 1981, the
    small-sample correction). se(g) = √((n₁+n₂)/(n₁n₂) + g²/(2(n₁+n₂)))
    (Hedges & Olkin 1985) and the interval is g ± t_(1+c)/2,n₁+n₂−2 · se, as
    R's ``effsize`` and pingouin give it. ``None`` when a group has fewer than
    2 values or both are constant (s_pooled = 0). By convention 0.2 is a small,
    0.5 a medium and 0.8 a large effect (Cohen 1988).
    """
    _check_level(confidence, "A confidence level")
    if first.variance is None or second.variance is None:
        return None
    assert first.mean is not None and second.mean is not None
    n1, n2 = first.n, second.n
    pooled = ((n1 - 1) * first.variance + (n2 - 1) * second.variance) / (n1 + n2 - 2)
    if pooled <= 0:
        return None
    g = (second.mean - first.mean) / math.sqrt(pooled) * (1 - 3 / (4 * (n1 + n2) - 9))
    se = math.sqrt((n1 + n2) / (n1 * n2) + g * g / (2 * (n1 + n2)))
    half = t_quantile((1 + confidence) / 2, n1 + n2 - 2) * se
    return EffectSize(g, g - half, g + half)


# -- many tests at once --------------------------------------------------------------


@dataclass(frozen=True)
class FalseDiscoveries:
    """Benjamini–Hochberg q-values and which tests are discoveries, in the input's order."""

    q_values: tuple[float, ...]
    rejected: tuple[bool, ...]


def benjamini_hochberg(p_values: Sequence[float], fdr: float = ALPHA) -> FalseDiscoveries:
    """Control the false-discovery rate of m tests at ``fdr`` (Benjamini & Hochberg 1995).

    Rules: with p-values sorted p₍₁₎ ≤ … ≤ p₍ₘ₎, q₍ᵢ₎ = min over j ≥ i of
    min(1, m·p₍ⱼ₎ / j); a test is a discovery when q ≤ fdr, which is the
    step-up rule "reject the i smallest, i the largest with p₍ᵢ₎ ≤ i·fdr/m".
    Among the changes a report calls, at most a share ``fdr`` is expected to
    be noise (for independent or positively dependent tests). An empty list
    gives empty results; p-values outside [0, 1] raise ``ValueError``.
    """
    _check_level(fdr, "A false-discovery rate")
    if any(not 0.0 <= p <= 1.0 for p in p_values):
        raise ValueError("p-values must lie between 0 and 1.")
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        q[i] = running
    return FalseDiscoveries(tuple(q), tuple(value <= fdr for value in q))
