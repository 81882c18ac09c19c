"""Sums, the F distribution, comparisons of two means and the false-discovery rate.

Each function is checked against an independent reference on seeded random
data: scipy.stats (``ttest_ind_from_stats``, ``ttest_ind(equal_var=False)``,
``t.ppf``, ``f.ppf``, ``false_discovery_control``), statsmodels
(``multipletests(method="fdr_bh")``, ``TTestIndPower``) and pingouin
(``compute_effsize``, ``compute_esci``). These libraries are test-only; the
portal's own code is pure Python. Published figures are stated where used.
"""

from __future__ import annotations

import ast
import itertools
import math
import statistics as stdlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pingouin
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower

from portal.domain.scoring import t_quantile
from portal.domain.statistics import (
    CrossSums,
    Summary,
    benjamini_hochberg,
    compare_means,
    correlation_matrix,
    covariance_matrix,
    f_cdf,
    f_quantile,
    f_sf,
    hedges_g,
    mean_interval,
    minimum_detectable_difference,
    normal_quantile,
    standard_error,
    summarize,
)

RNG_SEED = 20261204
ROOT = Path(__file__).resolve().parents[2]
TEST_ONLY = {"numpy", "scipy", "statsmodels", "pingouin", "pandas"}


def summary_of(values: np.ndarray) -> Summary:
    """Summarize values the way the aggregates would: from n, Σx and Σx²."""
    ints = [int(v) for v in values]
    return summarize(len(ints), sum(ints), sum(v * v for v in ints))


def groups_pairs(count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return pairs of integer index samples (0–100) of varied sizes, means and spreads."""
    rng = np.random.default_rng(RNG_SEED)
    pairs = []
    for _ in range(count):
        n1, n2 = rng.integers(2, 60, size=2)
        first = np.clip(rng.normal(rng.uniform(30, 80), rng.uniform(3, 25), n1), 0, 100).round()
        second = np.clip(rng.normal(rng.uniform(30, 80), rng.uniform(3, 25), n2), 0, 100).round()
        pairs.append((first, second))
    return pairs


def test_no_module_of_the_portal_or_its_lambdas_imports_the_reference_libraries() -> None:
    for path in [*(ROOT / "portal").rglob("*.py"), *(ROOT / "lambdas").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = {node.module.split(".")[0]}
            else:
                continue
            assert not names & TEST_ONLY, f"{path.relative_to(ROOT)} imports {names & TEST_ONLY}"


# -- sums and moments --------------------------------------------------------------


def test_summary_from_sums_equals_the_mean_and_sample_sd_of_the_values() -> None:
    for first, _ in groups_pairs(40):
        got = summary_of(first)
        assert got.n == len(first)
        assert got.mean == pytest.approx(float(np.mean(first)), rel=1e-14)
        assert got.sd == pytest.approx(float(np.std(first, ddof=1)), rel=1e-12, abs=1e-12)


def test_summary_of_equal_values_has_sd_exactly_zero_despite_huge_sums() -> None:
    value = 10**9 + 7
    assert summarize(3, 3 * value, 3 * value * value).sd == 0.0


def test_summary_of_one_value_has_no_sd_and_of_none_no_mean() -> None:
    assert summarize(1, 7, 49) == Summary(1, 7.0, None)
    assert summarize(0, 0, 0) == Summary(0, None, None)


def test_summary_refuses_sums_no_data_can_give() -> None:
    with pytest.raises(ValueError, match="no set of values"):
        summarize(2, 10, 40)  # n·Σx² = 80 < (Σx)² = 100


def test_covariance_and_correlation_from_cross_sums_match_numpy() -> None:
    rng = np.random.default_rng(RNG_SEED)
    data = rng.integers(0, 25, size=(37, 5))
    data[:, 1] += data[:, 0]  # correlated columns
    sums = CrossSums(
        len(data),
        tuple(int(s) for s in data.sum(axis=0)),
        tuple(tuple(int(v) for v in row) for row in data.T @ data),
    )
    assert np.allclose(covariance_matrix(sums), np.cov(data, rowvar=False), rtol=1e-13)
    correlations = correlation_matrix(sums)
    assert correlations is not None
    assert np.allclose(correlations, np.corrcoef(data, rowvar=False), rtol=1e-13)
    assert all(correlations[i][i] == 1.0 for i in range(5))


@given(st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=40))
def test_summary_from_sums_equals_the_standard_librarys_on_any_integers(values: list[int]) -> None:
    got = summarize(len(values), sum(values), sum(v * v for v in values))
    assert got.mean == stdlib.mean(values)
    if len(values) > 1:
        assert got.sd == pytest.approx(stdlib.stdev(values), rel=1e-12, abs=1e-12)


def test_correlation_of_proportional_variables_is_exactly_one_never_above() -> None:
    # Rounded naively, r of (72, 97, 8) with five times itself comes out 1.0000000000000002.
    xs = [72, 97, 8]
    sums = CrossSums(
        3, (sum(xs), 5 * sum(xs)), ((sum(x * x for x in xs), 5 * sum(x * x for x in xs)),
                                    (5 * sum(x * x for x in xs), 25 * sum(x * x for x in xs))),
    )  # fmt: skip
    correlations = correlation_matrix(sums)
    assert correlations is not None and correlations[0][1] == 1.0


def test_correlation_of_a_constant_variable_is_undefined() -> None:
    sums = CrossSums(3, (3, 6), ((3, 6), (6, 14)))  # first variable is always 1
    assert correlation_matrix(sums) is None


def test_cross_sums_of_groups_add_and_subtract() -> None:
    a = CrossSums(2, (3, 4), ((5, 6), (6, 10)))
    b = CrossSums(1, (1, 2), ((1, 2), (2, 4)))
    assert (a + b) - b == a
    assert (a + b).n == 3


# -- distributions -----------------------------------------------------------------


@pytest.mark.parametrize("d1, d2", [(1, 1), (1, 2), (2, 7), (9, 36), (4.5, 19.5), (49, 196)])
def test_f_cdf_and_upper_tail_match_scipy(d1: float, d2: float) -> None:
    for x in (0.01, 0.3, 1.0, 2.3, 7.5, 60.0):
        assert f_cdf(x, d1, d2) == pytest.approx(stats.f.cdf(x, d1, d2), abs=1e-13)
        assert f_sf(x, d1, d2) == pytest.approx(stats.f.sf(x, d1, d2), rel=1e-10)


@pytest.mark.parametrize("d1, d2", [(1, 1), (2, 7), (9, 36), (4, 12), (29, 116), (999, 3996)])
@pytest.mark.parametrize("p", [0.025, 0.05, 0.5, 0.95, 0.975])
def test_f_quantile_matches_scipy_f_ppf(d1: float, d2: float, p: float) -> None:
    assert f_quantile(p, d1, d2) == pytest.approx(stats.f.ppf(p, d1, d2), rel=1e-10)


def test_f_quantile_matches_a_printed_table_value() -> None:
    # Upper 5 % point of F(5, 10) in printed tables: 3.33 (e.g. Snedecor & Cochran, Table A14).
    assert round(f_quantile(0.95, 5, 10), 2) == 3.33


@pytest.mark.parametrize("df", [1, 2.5, 9, 30, 500])
@pytest.mark.parametrize("p", [0.005, 0.2, 0.8, 0.975])
def test_t_quantile_matches_scipy_t_ppf(df: float, p: float) -> None:
    assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-10)


# The quantile is found to the CDF's own precision: about 1e-11. Below one degree of
# freedom the CDF's far tail is flatter than its precision (p 0.998, d1 1, d2 0.5 was
# off by 1.2e-9); the portal's degrees of freedom are whole numbers of at least 1.
@given(
    st.floats(0.001, 0.999),
    st.floats(1, 500, allow_nan=False),
    st.floats(1, 5000, allow_nan=False),
)
def test_f_quantile_inverts_the_f_cdf(p: float, d1: float, d2: float) -> None:
    assert f_cdf(f_quantile(p, d1, d2), d1, d2) == pytest.approx(p, abs=1e-9)


def test_normal_quantile_matches_scipy() -> None:
    for p in (0.001, 0.2, 0.975):
        assert normal_quantile(p) == pytest.approx(stats.norm.ppf(p), rel=1e-12)


# -- a mean's standard error -------------------------------------------------------


def test_finite_population_se_squared_is_unbiased_over_every_sample() -> None:
    # Every sample of 3 from a headcount of 6, without replacement: the mean of
    # s²/n · (1 − n/N) over all samples equals the variance of the sample mean.
    population = [40, 55, 55, 70, 90, 100]
    samples = list(itertools.combinations(population, 3))
    means = [Fraction(sum(s), 3) for s in samples]
    grand = sum(means, Fraction(0)) / len(means)
    true_variance = sum(((m - grand) ** 2 for m in means), Fraction(0)) / len(means)
    estimated = [
        standard_error(stdlib.stdev(sample), 3, population=len(population)) ** 2
        for sample in samples
    ]
    assert sum(estimated) / len(estimated) == pytest.approx(float(true_variance), rel=1e-12)


def test_finite_population_correction_shrinks_se_and_is_zero_for_a_census() -> None:
    assert standard_error(10.0, 25) == 2.0
    assert standard_error(10.0, 25, population=100) == pytest.approx(2.0 * math.sqrt(0.75))
    assert standard_error(10.0, 25, population=25) == 0.0


def test_finite_population_correction_refuses_a_headcount_below_responses() -> None:
    with pytest.raises(ValueError, match="update the headcount"):
        standard_error(10.0, 30, population=20)


def test_mean_interval_matches_scipy_t_interval() -> None:
    for first, _ in groups_pairs(20):
        summary = summary_of(first)
        assert summary.mean is not None and summary.sd is not None
        interval = mean_interval(summary)
        assert interval is not None
        expected = stats.t.interval(
            0.95, len(first) - 1, loc=np.mean(first), scale=stats.sem(first)
        )
        assert interval == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_mean_interval_with_headcount_is_narrower_by_the_correction() -> None:
    summary = Summary(40, 62.0, 15.0)
    plain, corrected = mean_interval(summary), mean_interval(summary, population=50)
    assert plain is not None and corrected is not None
    ratio = (corrected[1] - corrected[0]) / (plain[1] - plain[0])
    assert ratio == pytest.approx(math.sqrt(1 - 40 / 50))


# -- two means ---------------------------------------------------------------------


def test_welch_comparison_matches_scipy_on_raw_data_and_on_summaries() -> None:
    for first, second in groups_pairs(60):
        got = compare_means(summary_of(first), summary_of(second))
        assert got is not None
        raw = stats.ttest_ind(second, first, equal_var=False)
        interval = raw.confidence_interval(0.95)
        assert got.t == pytest.approx(raw.statistic, rel=1e-9)
        assert got.df == pytest.approx(raw.df, rel=1e-9)
        assert got.p == pytest.approx(raw.pvalue, rel=1e-8)
        assert got.ci_low == pytest.approx(interval.low, rel=1e-9, abs=1e-9)
        assert got.ci_high == pytest.approx(interval.high, rel=1e-9, abs=1e-9)
        assert got.difference == pytest.approx(np.mean(second) - np.mean(first), abs=1e-9)
        from_stats = stats.ttest_ind_from_stats(
            np.mean(second), np.std(second, ddof=1), len(second),
            np.mean(first), np.std(first, ddof=1), len(first), equal_var=False,
        )  # fmt: skip
        assert got.p == pytest.approx(from_stats.pvalue, rel=1e-8)


def test_welch_comparison_needs_two_values_per_group() -> None:
    assert compare_means(Summary(1, 50.0, None), Summary(5, 60.0, 10.0)) is None


def test_welch_comparison_of_constant_groups_is_degenerate_not_an_error() -> None:
    got = compare_means(Summary(3, 50.0, 0.0), Summary(4, 60.0, 0.0))
    assert got is not None
    assert (got.t, got.df, got.p, got.ci_low, got.ci_high) == (math.inf, None, 0.0, 10.0, 10.0)


def test_detectable_difference_of_a_comparison_follows_blooms_multiplier() -> None:
    got = compare_means(Summary(12, 55.0, 18.0), Summary(15, 61.0, 14.0))
    assert got is not None and got.df is not None
    multiplier = stats.t.ppf(0.975, got.df) + stats.t.ppf(0.80, got.df)
    assert got.detectable == pytest.approx(multiplier * got.se, rel=1e-10)


@pytest.mark.parametrize("n1, n2", [(5, 5), (8, 12), (20, 20), (40, 90), (200, 150)])
def test_minimum_detectable_difference_is_near_the_exact_noncentral_t_answer(
    n1: int, n2: int
) -> None:
    sd = 20.0
    got = minimum_detectable_difference(n1, n2, sd)
    df = n1 + n2 - 2
    multiplier = stats.t.ppf(0.975, df) + stats.t.ppf(0.8, df)
    assert got == pytest.approx(multiplier * sd * math.sqrt(1 / n1 + 1 / n2), rel=1e-10)
    # statsmodels solves the exact power equation (noncentral t); Bloom's
    # approximation is within 1 % of it from 5 per group on.
    exact = TTestIndPower().solve_power(nobs1=n1, ratio=n2 / n1, alpha=0.05, power=0.8)
    assert got == pytest.approx(exact * sd, rel=0.01)


def test_minimum_detectable_difference_falls_as_groups_grow() -> None:
    sizes = [minimum_detectable_difference(n, n, 20.0) for n in (5, 10, 40, 160)]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-1] < 7 < sizes[0]


def test_hedges_g_and_its_interval_match_pingouin() -> None:
    for first, second in groups_pairs(40):
        got = hedges_g(summary_of(first), summary_of(second))
        assert got is not None
        g = pingouin.compute_effsize(second, first, eftype="hedges")
        ci = pingouin.compute_esci(g, nx=len(second), ny=len(first), eftype="hedges", decimals=12)
        assert got.g == pytest.approx(g, rel=1e-10, abs=1e-12)
        assert (got.ci_low, got.ci_high) == pytest.approx(tuple(ci), abs=1e-10)


def test_hedges_g_of_constant_groups_is_undefined() -> None:
    assert hedges_g(Summary(3, 50.0, 0.0), Summary(4, 60.0, 0.0)) is None


# -- many tests --------------------------------------------------------------------


def test_benjamini_hochberg_matches_scipy_and_statsmodels() -> None:
    rng = np.random.default_rng(RNG_SEED)
    for m in (1, 2, 7, 77, 203):
        # A mixture of nulls (uniform) and real effects (small p), with ties.
        p = np.concatenate([rng.uniform(size=m - m // 4), rng.uniform(0, 0.004, size=m // 4)])
        p[: m // 10] = p[0]
        p = rng.permutation(p)
        got = benjamini_hochberg(list(p), fdr=0.05)
        assert got.q_values == pytest.approx(stats.false_discovery_control(p, method="bh"))
        rejected, adjusted, _, _ = multipletests(p, alpha=0.05, method="fdr_bh")
        assert got.q_values == pytest.approx(adjusted)
        assert list(got.rejected) == list(rejected)


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=60), st.sampled_from([0.01, 0.05, 0.2]))
def test_benjamini_hochberg_matches_statsmodels_on_any_p_values(p: list[float], fdr: float) -> None:
    got = benjamini_hochberg(p, fdr=fdr)
    rejected, adjusted, _, _ = multipletests(p, alpha=fdr, method="fdr_bh")
    assert got.q_values == pytest.approx(list(adjusted), rel=1e-12, abs=1e-300)
    assert list(got.rejected) == list(rejected)


def test_benjamini_hochberg_on_the_published_example() -> None:
    # Benjamini & Hochberg (1995), section 4: 15 p-values from a multi-centre
    # trial; at FDR 0.05 the four smallest are rejected (Bonferroni: three).
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
         0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000]  # fmt: skip
    got = benjamini_hochberg(p, fdr=0.05)
    assert got.rejected == (True,) * 4 + (False,) * 11


def test_benjamini_hochberg_keeps_the_input_order_and_handles_no_tests() -> None:
    got = benjamini_hochberg([0.04, 0.001, 0.5])
    assert got.q_values == pytest.approx((0.06, 0.003, 0.5))
    assert got.rejected == (False, True, False)
    assert benjamini_hochberg([]) == benjamini_hochberg(())


def test_benjamini_hochberg_refuses_p_values_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        benjamini_hochberg([0.2, 1.5])
    with pytest.raises(ValueError, match="between 0 and 1"):
        benjamini_hochberg([math.nan])


def test_benjamini_hochberg_calls_few_changes_among_pure_noise() -> None:
    # 77 unit × lever changes with no true change, 400 simulated reports: per-test
    # 5 % flags at least one change in nearly every report, BH in about 5 %.
    rng = np.random.default_rng(RNG_SEED)
    reports = [rng.uniform(size=77) for _ in range(400)]
    uncorrected = sum(bool((p < 0.05).any()) for p in reports) / len(reports)
    corrected = sum(any(benjamini_hochberg(list(p)).rejected) for p in reports) / len(reports)
    assert uncorrected > 0.9
    assert corrected < 0.09
