"""Cronbach's α from sums, its Feldt interval, item-rest correlations and α-if-deleted.

References: pingouin's ``cronbach_alpha`` (α and Feldt's interval, rounded by
pingouin to 3 decimals) on generated data and on the questionnaire data set it
ships, whose α = 0.5917 with interval [0.195, 0.84] its docstring documents
(from www.real-statistics.com); item-rest correlations from numpy's
``corrcoef`` of each item with the sum of the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin
import pytest

from portal.domain.reliability import (
    ItemStatistics,
    alpha_from_sums,
    alpha_interval,
    analyse_items,
    analyse_items_from_sums,
    coefficient_alpha,
)
from portal.domain.statistics import CrossSums, covariance_matrix

RNG_SEED = 20261204


def answers(rng: np.random.Generator, n: int, k: int, loading: float) -> np.ndarray:
    """Return n × k answers 1–5 that share a common factor of strength ``loading``."""
    common = rng.normal(0, 1, (n, 1))
    return (3 + loading * common + rng.normal(0, 1, (n, k))).clip(1, 5).round().astype(int)


def sums_of(data: np.ndarray) -> tuple[int, list[int], list[int], int]:
    """Return n, per-item Σx and Σx², and Σ of each case's total squared."""
    totals = data.sum(axis=1)
    return (
        len(data),
        [int(v) for v in data.sum(axis=0)],
        [int(v) for v in (data**2).sum(axis=0)],
        int((totals**2).sum()),
    )


def cross_sums_of(data: np.ndarray) -> CrossSums:
    """Return the cross sums of the columns of ``data``."""
    return CrossSums(
        len(data),
        tuple(int(v) for v in data.sum(axis=0)),
        tuple(tuple(int(v) for v in row) for row in data.T @ data),
    )


def test_alpha_from_sums_and_its_interval_match_pingouin() -> None:
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(40):
        n, k = int(rng.integers(4, 300)), int(rng.integers(2, 8))
        data = answers(rng, n, k, rng.uniform(0.2, 1.5))
        reference, reference_ci = pingouin.cronbach_alpha(pd.DataFrame(data))
        got = alpha_from_sums(*sums_of(data))
        assert got == pytest.approx(reference, rel=1e-10, abs=1e-12)
        interval = alpha_interval(got, n, k)
        assert interval is not None
        assert np.round(interval, 3) == pytest.approx(reference_ci, abs=1.5e-3)


def test_alpha_interval_uses_feldts_f_quantiles_exactly() -> None:
    from scipy import stats

    for alpha, n, k in [(0.8, 30, 5), (0.55, 12, 3), (0.91, 900, 7)]:
        interval = alpha_interval(alpha, n, k)
        df1, df2 = n - 1, (n - 1) * (k - 1)
        low = 1 - (1 - alpha) * stats.f.isf(0.025, df1, df2)
        high = 1 - (1 - alpha) * stats.f.isf(0.975, df1, df2)
        assert interval == pytest.approx((low, high), rel=1e-10)


def test_alpha_on_the_questionnaire_data_set_pingouin_ships() -> None:
    data = pingouin.read_dataset("cronbach_alpha").pivot(
        index="Subj", columns="Items", values="Scores"
    )
    matrix = data.to_numpy(dtype=int)
    n, k = matrix.shape
    got = alpha_from_sums(*sums_of(matrix))
    assert got is not None
    assert round(got, 4) == 0.5917
    interval = alpha_interval(got, n, k)
    assert interval is not None
    assert (round(interval[0], 3), round(interval[1], 3)) == (0.195, 0.84)


def test_alpha_from_sums_equals_alpha_from_variances() -> None:
    data = np.array([[1, 2, 2], [3, 3, 4], [4, 5, 4], [2, 2, 3], [5, 4, 5]])
    variances = list(np.var(data, axis=0, ddof=1))
    total = float(np.var(data.sum(axis=1), ddof=1))
    assert alpha_from_sums(*sums_of(data)) == pytest.approx(coefficient_alpha(variances, total))


def test_alpha_is_undefined_for_one_item_one_case_or_no_total_variance() -> None:
    assert coefficient_alpha([1.0], 1.0) is None
    assert alpha_from_sums(1, [3, 4], [9, 16], 49) is None
    assert alpha_from_sums(3, [6, 6], [12, 12], 48) is None  # everybody answered 2, 2
    assert alpha_interval(0.7, 1, 3) is None


def test_alpha_can_be_negative_when_items_pull_apart() -> None:
    data = np.array([[1, 5], [5, 2], [2, 4], [4, 1]])
    got = alpha_from_sums(*sums_of(data))
    assert got is not None and got < 0


def test_item_rest_and_alpha_if_deleted_match_raw_data_references() -> None:
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(25):
        n, k = int(rng.integers(5, 200)), int(rng.integers(3, 8))
        data = answers(rng, n, k, rng.uniform(0.3, 1.5))
        data[:, 0] = rng.integers(1, 6, n)  # one item unrelated to the rest
        got = analyse_items(covariance_matrix(cross_sums_of(data)))
        for i, item in enumerate(got):
            rest = data.sum(axis=1) - data[:, i]
            assert item.item_rest == pytest.approx(np.corrcoef(data[:, i], rest)[0, 1], rel=1e-9)
            without, _ = pingouin.cronbach_alpha(pd.DataFrame(np.delete(data, i, axis=1)))
            assert item.alpha_if_deleted == pytest.approx(without, rel=1e-9, abs=1e-12)


def test_alpha_rises_when_the_unrelated_item_is_dropped() -> None:
    rng = np.random.default_rng(RNG_SEED)
    data = answers(rng, 300, 4, 1.2)
    data[:, 2] = rng.integers(1, 6, 300)
    whole = alpha_from_sums(*sums_of(data))
    got = analyse_items(covariance_matrix(cross_sums_of(data)))
    weakest = min(range(4), key=lambda i: got[i].item_rest or 0.0)
    assert weakest == 2
    assert whole is not None and (got[2].alpha_if_deleted or 0.0) > whole


def test_item_analysis_of_two_items_has_no_alpha_if_deleted() -> None:
    got = analyse_items([[1.0, 0.5], [0.5, 1.0]])
    assert got == (ItemStatistics(0.5, None), ItemStatistics(0.5, None))


def test_item_analysis_of_a_constant_item_has_no_correlation() -> None:
    got = analyse_items([[0.0, 0.0, 0.0], [0.0, 1.0, 0.5], [0.0, 0.5, 1.0]])
    assert got[0].item_rest is None


def item_total_sums_of(data: np.ndarray) -> tuple[int, list[int], list[int], list[int], int]:
    """Return what an aggregate keeps of complete cases: n, Σx, Σx², Σx·total, Σtotal²."""
    totals = data.sum(axis=1)
    return (
        len(data),
        [int(v) for v in data.sum(axis=0)],
        [int(v) for v in (data**2).sum(axis=0)],
        [int(v) for v in (data * totals[:, None]).sum(axis=0)],
        int((totals**2).sum()),
    )


def test_item_analysis_from_item_total_sums_matches_raw_data_references() -> None:
    rng = np.random.default_rng(RNG_SEED + 1)
    for _ in range(25):
        n, k = int(rng.integers(5, 200)), int(rng.integers(2, 8))
        data = answers(rng, n, k, rng.uniform(0.3, 1.5))
        data[:, 0] = rng.integers(1, 6, n)
        got = analyse_items_from_sums(*item_total_sums_of(data))
        for i, item in enumerate(got):
            rest = data.sum(axis=1) - data[:, i]
            assert item.item_rest == pytest.approx(np.corrcoef(data[:, i], rest)[0, 1], rel=1e-9)
            if k == 2:
                assert item.alpha_if_deleted is None
            else:
                without, _ = pingouin.cronbach_alpha(pd.DataFrame(np.delete(data, i, axis=1)))
                assert item.alpha_if_deleted == pytest.approx(without, rel=1e-9, abs=1e-12)
        from_matrix = analyse_items(covariance_matrix(cross_sums_of(data)))
        for mine, theirs in zip(got, from_matrix, strict=True):
            assert mine.item_rest == pytest.approx(theirs.item_rest, rel=1e-9)
            if theirs.alpha_if_deleted is None:
                assert mine.alpha_if_deleted is None
            else:
                assert mine.alpha_if_deleted == pytest.approx(theirs.alpha_if_deleted, rel=1e-9)


def test_item_analysis_from_sums_of_too_few_cases_or_a_constant_item_is_undefined() -> None:
    assert analyse_items_from_sums(1, [3, 4], [9, 16], [21, 28], 49) == (
        ItemStatistics(None, None),
        ItemStatistics(None, None),
    )
    constant = np.array([[3, 1, 2], [3, 2, 2], [3, 4, 5], [3, 5, 4]])
    got = analyse_items_from_sums(*item_total_sums_of(constant))
    assert got[0].item_rest is None and got[1].item_rest is not None
    with pytest.raises(ValueError, match="at least 2 items"):
        analyse_items_from_sums(3, [6], [12], [12], 12)
