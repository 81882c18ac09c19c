"""Scoring: item, lever and group scores, distributions, trends and reliability.

Everything here is pure arithmetic on a ``Questionnaire`` and ``Response``
records; nothing here hides small groups. The anonymity rules (minimum group
size, differencing) belong to the caller, which must apply them to every number
computed here before it is shown or exported — a gap or a trend is a number too.

Scales: an answer is 1–5; a lever score is an index 0–100, where 0 means every
scored answer was the least favourable and 100 the most favourable. Statistics
(standard deviation, confidence interval, Welch's t-test) are computed on
respondent means on the 0–100 scale, so each respondent weighs the same however
many items they answered.

The Student-t distribution is computed here, without third-party libraries,
from the regularized incomplete beta function (Lentz's continued fraction, as
in Numerical Recipes' ``betacf``), with ln B(a, b) taken from Stirling's series
for large arguments. Checked against 40-digit arithmetic (mpmath) for df from
0.3 to 10⁶: the CDF is within 3e-14 absolute, p-values within 5e-11 relative
(1e-13 for df ≤ 10⁴), quantiles within 2e-12 relative (for p farther than 0.01
from 0.5; nearer, the CDF's absolute error dominates). The tests pin closed
forms (df 1, 2, 3) and published table values.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING

from portal.domain.entities import Audience, Response
from portal.domain.questionnaire import SCALE_POINTS, Item, Questionnaire

if TYPE_CHECKING:  # statistics builds on this module's t distribution
    from portal.domain.statistics import EffectSize, MeanComparison

#: The lowest and highest answer on the agreement scale.
LOWEST, HIGHEST = 1, SCALE_POINTS
#: Scored answers at or above this are favourable (4 "agree" and 5 "strongly agree").
FAVOURABLE_FROM = 4
#: Confidence level of the interval around a lever's index.
CONFIDENCE = 0.95
#: Significance level for calling a change between waves.
ALPHA = 0.05
#: A lever whose index is below this needs attention (the default barrier threshold).
NEEDS_ATTENTION = 60.0
#: Cronbach's alpha below this is flagged as weak internal consistency.
RELIABILITY_FLOOR = 0.70

_BETA_EPS = 1e-15
_BETA_TINY = 1e-300
_BETA_MAX_ITERATIONS = 10_000
_QUANTILE_RTOL = 1e-12
_STIRLING_FROM = 100.0


# -- results -----------------------------------------------------------------------


@dataclass(frozen=True)
class LeverScore:
    """A group's index on one lever, with its spread and 95 % confidence interval.

    ``index`` is ``None`` when nobody scored the lever (``n`` is 0); ``sd``,
    ``ci_low`` and ``ci_high`` are ``None`` when ``n`` is below 2.
    """

    lever_id: str
    n: int
    index: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class Distribution:
    """Answers counted per category 1–5, with "don't know" counted apart.

    ``counts[0]`` is the number of 1s, ``counts[4]`` the number of 5s. For an
    item, the categories are the raw answers as respondents chose them and
    ``reverse`` says the item is reverse-scored (so raw 1–2 are favourable);
    for a lever, they are scored values and ``reverse`` is ``False``.
    """

    counts: tuple[int, int, int, int, int]
    dont_know: int
    reverse: bool = False

    @property
    def n(self) -> int:
        """Return the number of answers on the scale (don't-knows excluded)."""
        return sum(self.counts)

    @property
    def percents(self) -> tuple[float, ...] | None:
        """Return the share of each category 1–5 in per cent, or ``None`` with no answers."""
        n = self.n
        return tuple(100 * count / n for count in self.counts) if n else None

    @property
    def favourable(self) -> float | None:
        """Return the per cent of answers that score 4–5, or ``None`` with no answers.

        Rule: a favourable answer scores 4 or 5 after reverse-scoring, so for a
        reverse item it is a raw 1 or 2. Don't-knows are left out of the base.
        """
        n = self.n
        if not n:
            return None
        top = self.counts[:2] if self.reverse else self.counts[FAVOURABLE_FROM - 1 :]
        return 100 * sum(top) / n


@dataclass(frozen=True)
class AudienceGap:
    """Employees' and managers' scores on one lever, and how far apart they are.

    A side is ``None`` where it may not be shown (``services.measures``); the
    gap is then ``None`` too.
    """

    lever_id: str
    employee: LeverScore | None
    manager: LeverScore | None
    gap: float | None


@dataclass(frozen=True)
class WelchTest:
    """Welch's t-test of ``after`` against ``before``; ``df`` is ``None`` when undefined."""

    t: float
    df: float | None
    p: float


class Trend(StrEnum):
    """What happened to a lever between two waves."""

    NOT_ENOUGH_DATA = "not enough data"
    IMPROVED = "improved"
    DECLINED = "declined"
    NO_CLEAR_CHANGE = "no clear change"
    TOO_FEW_TO_TELL = "too few responses to tell"


@dataclass(frozen=True)
class WaveChange:
    """A lever's index in two waves, the change in index points, its test and outcome.

    ``before`` and ``after`` are ``None`` (and the change "not enough data")
    where either wave's score may not be shown (``services.measures``).
    ``comparison`` (Welch's interval and the minimum detectable difference),
    ``effect`` (Hedges' g) and ``q`` (the Benjamini–Hochberg q-value over the
    report, ``changes.control``) are ``None`` where there is no test; the
    outcome follows the rules of ``portal.domain.changes``.
    """

    lever_id: str
    before: LeverScore | None
    after: LeverScore | None
    change: float | None
    test: WelchTest | None
    outcome: Trend
    comparison: MeanComparison | None = None
    effect: EffectSize | None = None
    q: float | None = None


@dataclass(frozen=True)
class Reliability:
    """Cronbach's alpha of one lever's items over ``n`` complete cases of ``k`` items."""

    lever_id: str
    k: int
    n: int
    alpha: float | None

    @property
    def weak(self) -> bool:
        """Tell whether alpha is known and below ``RELIABILITY_FLOOR`` (0.70)."""
        return self.alpha is not None and self.alpha < RELIABILITY_FLOOR


# -- items and respondents ----------------------------------------------------------


def score_item(item: Item, answer: int | None) -> int | None:
    """Return the scored value of ``answer`` to ``item``.

    Rules: an answer is 1–5; a reverse-scored item is flipped to 6 − answer,
    so that a higher score is always more favourable; "don't know" (``None``)
    has no score and returns ``None``. Anything else raises ``ValueError``.
    """
    if answer is None:
        return None
    if isinstance(answer, bool) or not isinstance(answer, int) or not LOWEST <= answer <= HIGHEST:
        raise ValueError(f"An answer must be 1–5 or None for don't know; got {answer!r}.")
    return LOWEST + HIGHEST - answer if item.reverse else answer


def to_index(mean: float) -> float:
    """Turn a mean on the 1–5 scale into an index 0–100: (mean − 1) / 4 · 100."""
    return (mean - LOWEST) / (HIGHEST - LOWEST) * 100


def lever_items(
    questionnaire: Questionnaire, lever_id: str, audience: Audience
) -> tuple[Item, ...]:
    """Return the items of ``lever_id`` that ``audience`` is asked, in file order.

    Raise ``KeyError`` when the questionnaire has no such lever.
    """
    questionnaire.lever(lever_id)
    return tuple(
        item for item in questionnaire.items if item.lever == lever_id and item.applies_to(audience)
    )


def _scored_answers(items: Iterable[Item], response: Response) -> list[int]:
    scored = (score_item(item, response.answers.get(item.id)) for item in items)
    return [value for value in scored if value is not None]


def enough_scored(scored: int, asked: int) -> bool:
    """Tell whether ``scored`` of a lever's ``asked`` items make a respondent's lever score.

    Rule: at least half of the items the respondent's audience is asked on the
    lever, and at least one (2 of 3 or of 4, 3 of 5). With fewer, one answer
    would stand for a whole lever; the respondent still counts in each
    statement they answered.
    """
    return scored >= 1 and 2 * scored >= asked


def _mean_index(scored: Sequence[int]) -> float:
    # to_index(mean) with a single rounding, so the result stays exactly within 0–100.
    count = len(scored)
    return (sum(scored) - LOWEST * count) * 100 / ((HIGHEST - LOWEST) * count)


def respondent_index(
    questionnaire: Questionnaire, response: Response, lever_id: str
) -> float | None:
    """Return one respondent's index 0–100 on ``lever_id``.

    Rules: the mean of the respondent's scored answers to the lever's items
    that their audience is asked, as an index; don't-knows and missing answers
    are left out, and answers to items their audience is not asked are
    ignored. ``None`` unless at least half of those items were scored
    (``enough_scored``).
    """
    items = lever_items(questionnaire, lever_id, response.audience)
    scored = _scored_answers(items, response)
    return _mean_index(scored) if enough_scored(len(scored), len(items)) else None


def respondent_indices(
    questionnaire: Questionnaire, responses: Iterable[Response], lever_id: str
) -> list[float]:
    """Return the index of every respondent who scored ``lever_id``, in input order.

    Respondents who scored fewer than half of the lever's items their audience
    is asked (don't-knows and missing answers, or not asked at all) are left
    out (``enough_scored``).
    """
    items = {audience: lever_items(questionnaire, lever_id, audience) for audience in Audience}
    result: list[float] = []
    for response in responses:
        asked = items[response.audience]
        scored = _scored_answers(asked, response)
        if enough_scored(len(scored), len(asked)):
            result.append(_mean_index(scored))
    return result


# -- lever scores ------------------------------------------------------------------


def describe_indices(lever_id: str, indices: Sequence[float]) -> LeverScore:
    """Summarise respondent indices into a ``LeverScore``.

    Rules: the index is the mean of the respondent indices (``None`` when
    there are none); ``sd`` is their sample standard deviation (n − 1); the
    95 % confidence interval is index ± t(0.975, n − 1) · sd / √n, clamped to
    0–100. ``sd`` and the interval are ``None`` when n < 2; with sd 0 the
    interval is the point itself.
    """
    n = len(indices)
    if n == 0:
        return LeverScore(lever_id, 0, None, None, None, None)
    index = statistics.fmean(indices)
    if n < 2:
        return LeverScore(lever_id, n, index, None, None, None)
    sd = statistics.stdev(indices)
    half_width = t_quantile((1 + CONFIDENCE) / 2, n - 1) * sd / math.sqrt(n)
    low = max(0.0, min(index, index - half_width))
    high = min(100.0, max(index, index + half_width))
    return LeverScore(lever_id, n, index, sd, low, high)


def score_lever(
    questionnaire: Questionnaire,
    responses: Iterable[Response],
    lever_id: str,
    audience: Audience | None = None,
) -> LeverScore:
    """Score a group of responses on one lever (only ``audience``'s when given).

    Rules: each respondent's mean over their scored items on the lever
    (reverse items flipped, don't-knows left out); a respondent who scored
    fewer than half of the lever's items they were asked is not counted; the
    group index is the mean of those respondent means on the 0–100 scale, so
    every respondent weighs the same.
    See ``describe_indices`` for the spread and interval.
    """
    chosen = (r for r in responses if audience is None or r.audience is audience)
    return describe_indices(lever_id, respondent_indices(questionnaire, chosen, lever_id))


def score_levers(
    questionnaire: Questionnaire,
    responses: Iterable[Response],
    audience: Audience | None = None,
) -> dict[str, LeverScore]:
    """Score every lever, outcome included, keyed by lever id in questionnaire order."""
    group = list(responses)
    return {
        lever.id: score_lever(questionnaire, group, lever.id, audience)
        for lever in questionnaire.levers
    }


# -- distributions -----------------------------------------------------------------


def _distribution(values: Iterable[int | None], reverse: bool = False) -> Distribution:
    counts = [0] * (HIGHEST - LOWEST + 1)
    dont_know = 0
    for value in values:
        if value is None:
            dont_know += 1
        else:
            counts[value - LOWEST] += 1
    one, two, three, four, five = counts
    return Distribution((one, two, three, four, five), dont_know, reverse)


def distribute_item(item: Item, responses: Iterable[Response]) -> Distribution:
    """Count the raw answers to ``item``, flagged ``reverse`` for a reverse-scored item.

    Rules: the categories are the answers as respondents chose them (not
    flipped), so the chart matches the wording; ``favourable`` still means
    scored 4–5. Don't-knows are counted apart and left out of the percentages;
    respondents not asked the item, or with no answer to it, are not counted.
    """
    values: list[int | None] = []
    for response in responses:
        if item.applies_to(response.audience) and item.id in response.answers:
            answer = response.answers[item.id]
            score_item(item, answer)  # rejects an off-scale answer
            values.append(answer)
    return _distribution(values, item.reverse)


def distribute_lever(
    questionnaire: Questionnaire, responses: Iterable[Response], lever_id: str
) -> Distribution:
    """Count the scored answers to every item of ``lever_id``, pooled over items and people.

    Rules: the categories are scored values (reverse items flipped), so 4–5 is
    favourable on every item; each answer counts once, so the percentages are
    shares of answers, not of respondents. Don't-knows are counted apart;
    answers to items a respondent's audience is not asked are ignored.
    """
    items = {audience: lever_items(questionnaire, lever_id, audience) for audience in Audience}
    values: list[int | None] = []
    for response in responses:
        for item in items[response.audience]:
            if item.id in response.answers:
                values.append(score_item(item, response.answers[item.id]))
    return _distribution(values)


# -- employees versus managers -----------------------------------------------------


def compare_audiences(
    questionnaire: Questionnaire, responses: Iterable[Response], lever_id: str
) -> AudienceGap:
    """Score ``lever_id`` for employees and managers apart, and the gap between them.

    Rules: gap = manager index − employee index (positive when managers rate
    the lever better), ``None`` when either side has no score. Each side is
    scored on the items its audience is asked, so where the questionnaires
    differ (e.g. the managers lever) the gap compares different statements.
    """
    group = list(responses)
    employee = score_lever(questionnaire, group, lever_id, Audience.EMPLOYEE)
    manager = score_lever(questionnaire, group, lever_id, Audience.MANAGER)
    gap = None
    if employee.index is not None and manager.index is not None:
        gap = manager.index - employee.index
    return AudienceGap(lever_id, employee, manager, gap)


# -- wave comparison ---------------------------------------------------------------


def compare_waves(
    questionnaire: Questionnaire,
    before: Iterable[Response],
    after: Iterable[Response],
    lever_id: str,
    alpha: float = ALPHA,
) -> WaveChange:
    """Compare one group's index on ``lever_id`` between an earlier and a later wave.

    Rules: change = after index − before index in index points (``None`` when
    either wave has no score). Waves are anonymous, so they are independent
    samples of respondent indices: Welch's test with its interval, Hedges' g
    and the minimum detectable difference, judged alone (q = p) with the
    rules of ``portal.domain.changes`` at false-discovery rate ``alpha``:
    "not enough data" with fewer than 2 respondents on either side,
    "improved" / "declined" at q ≤ ``alpha``, else "too few responses to
    tell" or "no clear change" by the detectable difference.
    """
    # Imported here: statistics and changes build on this module's t distribution.
    from portal.domain.changes import judge
    from portal.domain.statistics import summarize

    before_values = respondent_indices(questionnaire, before, lever_id)
    after_values = respondent_indices(questionnaire, after, lever_id)
    first = describe_indices(lever_id, before_values)
    second = describe_indices(lever_id, after_values)
    summaries = [
        summarize(len(values), sum(map(Fraction, values)), sum(Fraction(v) ** 2 for v in values))
        for values in (before_values, after_values)
    ]
    return judge(lever_id, first, second, summaries[0], summaries[1], alpha)


# -- barrier lever -----------------------------------------------------------------


def find_barrier(
    questionnaire: Questionnaire,
    scores: Mapping[str, LeverScore],
    needs_attention: float = NEEDS_ATTENTION,
) -> LeverScore | None:
    """Return the score of the first lever that holds the change back, or ``None``.

    Rules: levers are taken in questionnaire order, outcome levers skipped;
    the barrier is the first whose index is strictly below ``needs_attention``
    (default 60). Levers missing from ``scores`` or without an index (nobody
    scored them) are skipped, not treated as low; ``None`` when no lever
    with data is below the threshold, including when no lever has data.
    """
    for lever in sorted(questionnaire.levers, key=lambda lever: lever.order):
        if lever.outcome:
            continue
        score = scores.get(lever.id)
        if score is not None and score.index is not None and score.index < needs_attention:
            return score
    return None


# -- reliability -------------------------------------------------------------------


def cronbach_alpha(
    questionnaire: Questionnaire,
    responses: Iterable[Response],
    lever_id: str,
    audience: Audience | None = None,
) -> Reliability:
    """Return Cronbach's alpha of ``lever_id``'s items over complete cases.

    Rules: with ``audience``, only its respondents count and the items are all
    those it is asked on the lever (audience-specific ones included); without
    it, the items are those asked of every audience present among the
    respondents who scored the lever (for a mixed group, the items both
    answer). A complete case scored every one of those items (no don't-know,
    no gap). alpha = k / (k − 1) · (1 − Σ var_i / var_total), with sample
    variances of the scored items and of each case's total, computed exactly
    so that alpha never exceeds 1; it can be negative. ``alpha`` is ``None``
    when k < 2, n < 3 or the total variance is 0.
    """
    chosen = [r for r in responses if audience is None or r.audience is audience]
    if audience is not None:
        audiences = {audience}
    else:
        # Respondents without a score on the lever do not narrow the item set.
        audiences = {
            r.audience for r in chosen if respondent_index(questionnaire, r, lever_id) is not None
        } or set(Audience)
    questionnaire.lever(lever_id)
    items = [
        item
        for item in questionnaire.items
        if item.lever == lever_id and all(item.applies_to(a) for a in audiences)
    ]
    rows: list[list[int]] = []
    for response in chosen:
        row = _scored_answers(items, response)
        if len(row) == len(items):
            rows.append(row)
    k, n = len(items), len(rows)
    if k < 2 or n < 3:
        return Reliability(lever_id, k, n, None)
    item_variances = sum(
        (statistics.variance([Fraction(row[i]) for row in rows]) for i in range(k)), Fraction(0)
    )
    total_variance = statistics.variance([Fraction(sum(row)) for row in rows])
    if total_variance == 0:
        return Reliability(lever_id, k, n, None)
    alpha = Fraction(k, k - 1) * (1 - item_variances / total_variance)
    return Reliability(lever_id, k, n, float(alpha))


# -- response rate -----------------------------------------------------------------


def response_fraction(responses: int, headcount: int) -> float | None:
    """Return responses / headcount as a fraction (0.5 for half), unrounded.

    Rules: ``None`` when the headcount is 0, since there is nothing to measure
    against; above 1 when more responses than the headcount arrived (an
    outdated headcount), returned as it is. Negative figures raise
    ``ValueError``. For display next to the under-target flag, use
    ``participation.response_rate``, rounded as shown and as the flag is judged.
    """
    if responses < 0 or headcount < 0:
        raise ValueError("Responses and headcount must not be negative.")
    if headcount == 0:
        return None
    return responses / headcount


# -- the Student-t distribution ----------------------------------------------------


def regularized_beta(x: float, a: float, b: float) -> float:
    """Return the regularized incomplete beta function I_x(a, b) for 0 ≤ x ≤ 1, a, b > 0.

    Rules: I_0 = 0 and I_1 = 1; arguments outside the domain raise
    ``ValueError``. Accurate to 1e-13 absolute while min(a, b) ≤ 1000 (the
    t-distribution has b = ½); with both larger, to about 3e-15 · min(a, b).
    """
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"I_x(a, b) needs 0 ≤ x ≤ 1; got x={x!r}.")
    if x == 0.0 or x == 1.0:
        return _regularized_beta(x, 1.0 - x, 0.0, 0.0, a, b)
    return _regularized_beta(x, 1.0 - x, math.log(x), math.log1p(-x), a, b)


def _regularized_beta(x: float, y: float, log_x: float, log_y: float, a: float, b: float) -> float:
    # y = 1 − x and the logs are passed in so that callers can compute them without
    # cancellation (for large a, an error of 1e-16 in log x is multiplied by a).
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"I_x(a, b) needs finite a, b > 0; got a={a!r}, b={b!r}.")
    if x == 0.0:
        return 0.0
    if y == 0.0:
        return 1.0
    front = math.exp(a * log_x + b * log_y - _log_beta(a, b))
    # The continued fraction converges fast only below this point; use symmetry above it.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(x, a, b) / a
    return 1.0 - front * _beta_fraction(y, b, a) / b


def _log_beta(a: float, b: float) -> float:
    # ln B(a, b). For a large argument, lgamma(big + small) − lgamma(big) cancels badly
    # (lgamma(5e5) ≈ 6e6 keeps only ~1e-9 absolute), so take the difference from
    # Stirling's series, whose first omitted term is below 1e-20 from 100 on.
    small, big = min(a, b), max(a, b)
    if big < _STIRLING_FROM:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    total = big + small
    gamma_ratio = (
        (big - 0.5) * math.log1p(small / big)
        + small * math.log(total)
        - small
        + _stirling_tail(total)
        - _stirling_tail(big)
    )
    return math.lgamma(small) - gamma_ratio


def _stirling_tail(x: float) -> float:
    # ln Γ(x) − [(x − ½) ln x − x + ½ ln 2π], to four terms.
    x2 = x * x
    return (1 / 12 - (1 / 360 - (1 / 1260 - 1 / (1680 * x2)) / x2) / x2) / x


def _beta_fraction(x: float, a: float, b: float) -> float:
    # Modified Lentz evaluation of the continued fraction for I_x(a, b) (NR ``betacf``).
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) >= _BETA_TINY else _BETA_TINY)
    h = d
    for m in range(1, _BETA_MAX_ITERATIONS + 1):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) >= _BETA_TINY else _BETA_TINY)
            c = 1.0 + aa / c
            c = c if abs(c) >= _BETA_TINY else _BETA_TINY
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < _BETA_EPS:
            return h
    raise ArithmeticError(f"I_x(a, b) did not converge for x={x}, a={a}, b={b}.")


def _check_df(df: float) -> None:
    if not (df > 0 and math.isfinite(df)):
        raise ValueError(f"Degrees of freedom must be finite and above 0; got {df!r}.")


def _upper_tail(t: float, df: float) -> float:
    # P(T > |t|) = I_x(df/2, 1/2) / 2 with x = df / (df + t²); 1 − x and both logs are
    # computed directly rather than by subtraction.
    t2 = t * t
    if math.isinf(t2):
        return 0.0
    ratio = t2 / df
    if ratio == 0.0:
        return 0.5  # |t| below 1e-154 or so: 0.5 − tail is far below the accuracy
    log_x = -math.log1p(ratio)
    x, y = df / (df + t2), t2 / (df + t2)
    return 0.5 * _regularized_beta(x, y, log_x, math.log(ratio) + log_x, df / 2, 0.5)


def t_cdf(t: float, df: float) -> float:
    """Return P(T ≤ t) for Student's t with ``df`` degrees of freedom (whole or not).

    Rules: symmetric about 0 (cdf(0) = 0.5), ±inf give 1 and 0; accurate to
    3e-14 absolute. NaN, df ≤ 0 or an infinite df raise ``ValueError``.
    """
    _check_df(df)
    if math.isnan(t):
        raise ValueError("t must be a number, not NaN.")
    tail = _upper_tail(t, df)
    return 1.0 - tail if t > 0 else tail


def t_two_sided_p(t: float, df: float) -> float:
    """Return the two-sided p-value P(|T| ≥ |t|) for Student's t with ``df`` degrees of freedom.

    Rules: computed as I_x(df/2, 1/2) with x = df / (df + t²), without
    subtracting from 1, so small p-values keep their relative accuracy; t = 0
    gives 1 and ±inf gives 0.
    """
    _check_df(df)
    if math.isnan(t):
        raise ValueError("t must be a number, not NaN.")
    return min(1.0, 2.0 * _upper_tail(t, df))


def t_quantile(p: float, df: float) -> float:
    """Return t such that P(T ≤ t) = p for Student's t with ``df`` degrees of freedom.

    Rules: 0 < p < 1 and finite df > 0, else ``ValueError``; p = 0.5 gives 0,
    and p below 0.5 the negative of the upper quantile. Found by bracketing
    and safeguarded Newton steps on the upper tail, to a relative 2e-12 when p
    is farther than 0.01 from 0.5: t(0.975, 1) = 12.7062, t(0.975, 9) = 2.2622,
    t(0.975, 120) = 1.9799.
    """
    _check_df(df)
    if not 0.0 < p < 1.0:
        raise ValueError(f"A quantile needs 0 < p < 1; got {p!r}.")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -_upper_quantile(p, float(df))
    return _upper_quantile(1.0 - p, float(df))


@lru_cache(maxsize=1024)
def _upper_quantile(q: float, df: float) -> float:
    # The t > 0 with P(T > t) = q < 0.5. The tail falls strictly as t grows, so bracket
    # the root, then take Newton steps (the tail's slope is −pdf), bisecting whenever a
    # step would leave the bracket.
    low, high = 0.0, 1.0
    while _upper_tail(high, df) > q:
        low, high = high, high * 2
    t = (low + high) / 2
    for _ in range(200):
        excess = _upper_tail(t, df) - q
        if excess == 0.0:
            return t
        if excess > 0:
            low = t
        else:
            high = t
        step = t + excess / _t_pdf(t, df)
        following = step if low < step < high else (low + high) / 2
        if abs(following - t) <= _QUANTILE_RTOL * following or high - low <= _QUANTILE_RTOL * high:
            return following
        t = following
    return t


def _t_pdf(t: float, df: float) -> float:
    # (1 + t²/df)^(−(df + 1)/2) / (√df · B(df/2, 1/2))
    return math.exp(
        -(df + 1) / 2 * math.log1p(t * t / df) - 0.5 * math.log(df) - _log_beta(df / 2, 0.5)
    )
