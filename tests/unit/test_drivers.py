"""Key drivers from cross sums: R², relative weights, dominance weights, jackknife stability.

References: statsmodels' OLS (R² of every subset regression, fitted on the raw
data), Johnson's (2000) relative weights computed the way his paper does, from
the singular value decomposition of the standardized data (numpy), and the
Longley (1967) data set that statsmodels ships, whose R² = 0.995479004577296
NIST certifies (Statistical Reference Datasets, "Longley"); its predictors are
nearly collinear, a hard test for the hand-written linear algebra.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.datasets import longley

from portal.domain.drivers import (
    MAX_DOMINANCE_PREDICTORS,
    DriverWeights,
    dominance_weights,
    driver_stability,
    r_squared,
    relative_weights,
    symmetric_eigen,
)
from portal.domain.statistics import CrossSums, correlation_matrix

RNG_SEED = 20261204
LEVERS = 7


def cross_sums_of(data: np.ndarray) -> CrossSums:
    """Return the exact cross sums of an integer matrix's columns."""
    rows = [[int(v) for v in row] for row in data]
    p = len(rows[0])
    return CrossSums(
        len(rows),
        tuple(sum(row[i] for row in rows) for i in range(p)),
        tuple(tuple(sum(row[i] * row[j] for row in rows) for j in range(p)) for i in range(p)),
    )


def survey(rng: np.random.Generator, n: int) -> np.ndarray:
    """Return n respondents' indices on 7 correlated levers and an outcome (last column)."""
    common = rng.normal(0, 1, (n, 1))
    levers = 60 + 12 * (rng.uniform(0.2, 0.9, LEVERS) * common + rng.normal(0, 1, (n, LEVERS)))
    effects = rng.uniform(0, 1, LEVERS) * (rng.uniform(size=LEVERS) < 0.7)
    outcome = 20 + levers @ effects / effects.sum() * 0.6 + rng.normal(0, 8, n)
    return np.column_stack([levers, outcome]).clip(0, 100).round().astype(int)


def johnson_by_svd(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return Johnson's relative weights from the SVD of the standardized data."""
    xs = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1) / np.sqrt(len(x) - 1)
    ys = (y - y.mean()) / y.std(ddof=1) / np.sqrt(len(y) - 1)
    p, delta, qt = np.linalg.svd(xs, full_matrices=False)
    z = p @ qt  # the orthonormal variables closest to the predictors
    beta = z.T @ ys
    lam = qt.T @ np.diag(delta) @ qt  # the predictors regressed on z
    return (lam**2) @ (beta**2)


def ols_r2(data: np.ndarray, outcome: int, predictors: list[int]) -> float:
    """Return statsmodels' R² of one regression on the raw data."""
    return float(sm.OLS(data[:, outcome], sm.add_constant(data[:, predictors])).fit().rsquared)


def test_symmetric_eigen_matches_numpy() -> None:
    rng = np.random.default_rng(RNG_SEED)
    a = rng.normal(size=(7, 7))
    matrix = a @ a.T
    values, vectors = symmetric_eigen(matrix.tolist())
    assert sorted(values) == pytest.approx(list(np.linalg.eigvalsh(matrix)), rel=1e-11)
    v = np.array(vectors)
    assert np.allclose(v @ np.diag(values) @ v.T, matrix, atol=1e-10)


def test_r_squared_from_cross_sums_matches_statsmodels_ols() -> None:
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(10):
        data = survey(rng, int(rng.integers(20, 400)))
        correlations = correlation_matrix(cross_sums_of(data))
        assert correlations is not None
        for size in (1, 3, LEVERS):
            chosen = sorted(rng.choice(LEVERS, size, replace=False).tolist())
            got = r_squared(correlations, LEVERS, chosen)
            assert got == pytest.approx(ols_r2(data, LEVERS, chosen), rel=1e-9)


def test_r_squared_on_longley_matches_the_nist_certified_value() -> None:
    frame = longley.load_pandas().data
    frame["GNPDEFL"] *= 10  # whole numbers, so the sums are exact; R² does not change
    data = frame.to_numpy().round().astype(np.int64)
    correlations = correlation_matrix(cross_sums_of(data))
    assert correlations is not None
    got = r_squared(correlations, 0, [1, 2, 3, 4, 5, 6])
    assert got == pytest.approx(0.995479004577296, abs=1e-9)
    weights = dominance_weights(correlations, 0, [1, 2, 3, 4, 5, 6])
    assert weights is not None and weights.r2 == pytest.approx(0.995479004577296, abs=1e-9)


def test_relative_weights_match_johnsons_svd_route_and_add_up_to_r_squared() -> None:
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(15):
        data = survey(rng, int(rng.integers(30, 500)))
        correlations = correlation_matrix(cross_sums_of(data))
        assert correlations is not None
        got = relative_weights(correlations, LEVERS, list(range(LEVERS)))
        assert got is not None
        expected = johnson_by_svd(data[:, :LEVERS].astype(float), data[:, LEVERS].astype(float))
        assert got.weights == pytest.approx(list(expected), rel=1e-8, abs=1e-12)
        assert got.r2 == pytest.approx(ols_r2(data, LEVERS, list(range(LEVERS))), rel=1e-9)
        assert sum(got.shares) == pytest.approx(100.0)


def test_dominance_weights_match_averaged_statsmodels_regressions() -> None:
    rng = np.random.default_rng(RNG_SEED)
    data = survey(rng, 250)
    p = 5
    columns = list(range(p))
    fits = {
        subset: ols_r2(data, LEVERS, list(subset)) if subset else 0.0
        for size in range(p + 1)
        for subset in itertools.combinations(columns, size)
    }
    expected = []
    for j in columns:
        others = [i for i in columns if i != j]
        means = [
            np.mean(
                [
                    fits[tuple(sorted((*s, j)))] - fits[s]
                    for s in itertools.combinations(others, size)
                ]
            )
            for size in range(p)
        ]
        expected.append(np.mean(means))
    correlations = correlation_matrix(cross_sums_of(data))
    assert correlations is not None
    got = dominance_weights(correlations, LEVERS, columns)
    assert got is not None
    assert got.weights == pytest.approx(expected, rel=1e-8)
    assert sum(got.weights) == pytest.approx(got.r2, rel=1e-12)


def test_relative_and_dominance_weights_agree_closely_on_seven_levers() -> None:
    # Johnson (2000) and LeBreton et al. (2004): the two methods give nearly the same
    # weights; here the largest gap is below a tenth of R².
    rng = np.random.default_rng(RNG_SEED)
    data = survey(rng, 600)
    correlations = correlation_matrix(cross_sums_of(data))
    assert correlations is not None
    relative = relative_weights(correlations, LEVERS, list(range(LEVERS)))
    dominance = dominance_weights(correlations, LEVERS, list(range(LEVERS)))
    assert relative is not None and dominance is not None
    gaps = [abs(a - b) for a, b in zip(relative.weights, dominance.weights, strict=True)]
    assert max(gaps) < 0.1 * relative.r2


def test_uncorrelated_predictors_get_their_squared_correlation() -> None:
    correlations = [[1.0, 0.0, 0.3], [0.0, 1.0, 0.5], [0.3, 0.5, 1.0]]
    for method in (relative_weights, dominance_weights):
        got = method(correlations, 2, [0, 1])
        assert got is not None
        assert got.weights == pytest.approx((0.09, 0.25))
        assert got.r2 == pytest.approx(0.34)


def test_collinear_predictors_give_no_weights() -> None:
    correlations = [[1.0, 1.0, 0.4], [1.0, 1.0, 0.4], [0.4, 0.4, 1.0]]
    assert r_squared(correlations, 2, [0, 1]) is None
    assert relative_weights(correlations, 2, [0, 1]) is None
    assert dominance_weights(correlations, 2, [0, 1]) is None
    assert relative_weights(correlations, 2, []) is None


def test_dominance_refuses_more_predictors_than_it_can_fit_quickly() -> None:
    p = MAX_DOMINANCE_PREDICTORS + 1
    identity = [[1.0 if i == j else 0.0 for j in range(p + 1)] for i in range(p + 1)]
    with pytest.raises(ValueError, match="relative_weights"):
        dominance_weights(identity, p, list(range(p)))
    assert relative_weights(identity, p, list(range(p))) is not None


def test_shares_are_per_cent_of_r_squared() -> None:
    assert DriverWeights(0.5, (0.1, 0.4)).shares == pytest.approx((20.0, 80.0))
    assert DriverWeights(0.0, (0.0, 0.0)).shares == (0.0, 0.0)


def test_jackknife_over_groups_matches_refits_on_raw_data() -> None:
    rng = np.random.default_rng(RNG_SEED)
    data = survey(rng, 480)
    labels = rng.integers(0, 12, len(data))
    groups = [cross_sums_of(data[labels == g]) for g in range(12)]
    got = driver_stability(groups, LEVERS, list(range(LEVERS)))
    assert got is not None
    full = johnson_by_svd(data[:, :LEVERS].astype(float), data[:, LEVERS].astype(float))
    assert got.weights.weights == pytest.approx(list(full), rel=1e-8)
    replicates = np.array(
        [
            johnson_by_svd(
                data[labels != g, :LEVERS].astype(float), data[labels != g, LEVERS].astype(float)
            )
            for g in range(12)
        ]
    )
    expected = np.sqrt(11 / 12 * ((replicates - replicates.mean(axis=0)) ** 2).sum(axis=0))
    assert got.standard_errors == pytest.approx(list(expected), rel=1e-7)
    top = int(np.argmax(full))
    assert got.replicates == 12
    assert got.top_kept == int((replicates.argmax(axis=1) == top).sum())


def test_jackknife_works_with_dominance_weights_and_needs_three_groups() -> None:
    rng = np.random.default_rng(RNG_SEED)
    data = survey(rng, 200)
    labels = rng.integers(0, 4, len(data))
    groups = [cross_sums_of(data[labels == g]) for g in range(4)]
    got = driver_stability(groups, LEVERS, list(range(4)), method=dominance_weights)
    assert got is not None and got.replicates == 4
    assert all(se > 0 for se in got.standard_errors)
    assert driver_stability(groups[:2], LEVERS, list(range(4))) is None
    assert driver_stability([], LEVERS, [0]) is None
