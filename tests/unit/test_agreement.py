"""Within-group agreement (rwg(j)) and intraclass correlations ICC(1), ICC(2).

References: pingouin's ``intraclass_corr`` (ICC(1,1) is ICC(1), ICC(1,k) is
ICC(2)) on balanced data, statsmodels' one-way ANOVA (``anova_lm``) for the
mean squares of unbalanced groups, and two published data sets: Shrout &
Fleiss (1979), Table 2, and the wine ratings pingouin ships (its docstring
gives ICC(1,1) = 0.728 and ICC(1,k) = 0.914).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pingouin
import pytest
import statsmodels.api as sm
from statsmodels.formula.api import ols

from portal.domain.agreement import (
    GroupSums,
    answer_variance,
    intraclass_correlations,
    rwg_j,
    uniform_null_variance,
)

RNG_SEED = 20261204
# pingouin 0.7 calls a pandas method that pandas 3.1 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges. Their Table 4
# gives ICC(1,1) = .17 and ICC(1,4) = .44.
SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]


def sums_of(groups: list[list[int]]) -> list[GroupSums]:
    """Return each group's n, Σx and Σx², as the aggregates hold them."""
    return [GroupSums(len(g), sum(g), sum(v * v for v in g)) for g in groups]


def long_form(groups: list[list[int]]) -> pd.DataFrame:
    """Return one row per person: group, position in the group, score."""
    return pd.DataFrame(
        [(g, i, v) for g, values in enumerate(groups) for i, v in enumerate(values)],
        columns=["group", "member", "score"],
    )


# -- rwg(j) ------------------------------------------------------------------------


def test_uniform_null_variance_of_a_five_point_scale_is_two() -> None:
    assert uniform_null_variance(5) == 2.0
    assert uniform_null_variance(7) == 4.0


def test_rwg_j_matches_its_formula_on_raw_answers() -> None:
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(50):
        j = int(rng.integers(1, 8))
        centre = rng.uniform(1.5, 4.5)
        answers = np.clip(
            rng.normal(centre, rng.uniform(0.3, 1.3), (int(rng.integers(3, 30)), j)), 1, 5
        ).round()
        variances = list(np.var(answers, axis=0, ddof=1))
        ratio = float(np.mean(variances)) / 2.0
        expected = max(0.0, j * (1 - ratio) / (j * (1 - ratio) + ratio)) if ratio < 1 else 0.0
        assert rwg_j(variances, 5) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_answer_variance_from_tallies_matches_numpy_and_ignores_reverse_scoring() -> None:
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(30):
        answers = rng.integers(1, 6, int(rng.integers(2, 50)))
        counts = [int((answers == point).sum()) for point in range(1, 6)]
        got = answer_variance(counts)
        assert got == pytest.approx(float(np.var(answers, ddof=1)), rel=1e-12, abs=1e-15)
        assert answer_variance(counts[::-1]) == got


def test_answer_variance_needs_two_answers() -> None:
    assert answer_variance([0, 0, 1, 0, 0]) is None
    with pytest.raises(ValueError, match="negative"):
        answer_variance([2, -1, 0, 0, 0])


def test_rwg_j_from_item_tallies_of_a_team_that_agrees_and_one_that_splits() -> None:
    agreeing = [answer_variance(c) or 0.0 for c in ([0, 1, 6, 3, 0], [0, 0, 5, 5, 0])]
    split = [answer_variance(c) or 0.0 for c in ([5, 0, 0, 0, 5], [4, 1, 0, 1, 4])]
    agreement, disagreement = rwg_j(agreeing, 5), rwg_j(split, 5)
    assert agreement is not None and agreement > 0.9
    assert disagreement == 0.0


def test_rwg_is_one_when_everybody_gives_the_same_answers() -> None:
    assert rwg_j([0.0, 0.0, 0.0], 5) == 1.0


def test_rwg_of_a_single_item_is_one_minus_the_variance_ratio() -> None:
    # James, Demaree & Wolf (1984): rwg = 1 − s²/σ²_E; s² = 0.5 on 5 points gives 0.75.
    assert rwg_j([0.5], 5) == pytest.approx(0.75)


def test_rwg_j_rises_with_more_items_at_the_same_variance() -> None:
    values = [rwg_j([1.0] * j, 5) for j in (1, 3, 6)]
    assert values == [pytest.approx(0.5), pytest.approx(0.75), pytest.approx(6 / 7)]


def test_rwg_j_of_a_split_team_is_zero_not_out_of_range() -> None:
    # Half answer 1, half answer 5: sample variance 4·n/(n − 1) > 2 on every item.
    split = [1, 1, 1, 5, 5, 5]
    variance = float(np.var(split, ddof=1))
    assert rwg_j([variance] * 4, 5) == 0.0


def test_rwg_j_without_items_or_with_a_bad_variance_is_undefined() -> None:
    assert rwg_j([], 5) is None
    assert rwg_j([math.nan], 5) is None
    assert rwg_j([-0.1], 5) is None


# -- ICC(1), ICC(2) ----------------------------------------------------------------


def test_iccs_on_shrout_and_fleiss_table_2() -> None:
    got = intraclass_correlations(sums_of(SHROUT_FLEISS))
    assert got is not None and got.icc1 is not None and got.icc2 is not None
    assert round(got.icc1, 2) == 0.17
    assert round(got.icc2, 2) == 0.44


def test_iccs_on_the_wine_ratings_pingouin_ships() -> None:
    data = pingouin.read_dataset("icc")
    groups = [list(g["Scores"]) for _, g in data.groupby("Wine")]
    got = intraclass_correlations(sums_of(groups))
    assert got is not None and got.icc1 is not None and got.icc2 is not None
    assert round(got.icc1, 3) == 0.728
    assert round(got.icc2, 3) == 0.914


def test_iccs_of_equal_groups_match_pingouin() -> None:
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(20):
        g, k = int(rng.integers(3, 12)), int(rng.integers(2, 9))
        effects = rng.normal(0, rng.uniform(0.1, 2.0), g)
        groups = [
            list((3 + e + rng.normal(0, 1, k)).clip(1, 5).round().astype(int)) for e in effects
        ]
        frame = long_form(groups)
        reference = pingouin.intraclass_corr(frame, "group", "member", "score").set_index("Type")
        got = intraclass_correlations(sums_of(groups))
        assert got is not None
        assert got.icc1 == pytest.approx(reference.at["ICC(1,1)", "ICC"], rel=1e-9, abs=1e-12)
        assert got.icc2 == pytest.approx(reference.at["ICC(1,k)", "ICC"], rel=1e-9, abs=1e-12)
        assert got.f == pytest.approx(reference.at["ICC(1,1)", "F"], rel=1e-9)
        assert got.p == pytest.approx(reference.at["ICC(1,1)", "pval"], rel=1e-7, abs=1e-15)


def test_anova_of_unequal_groups_matches_statsmodels() -> None:
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(20):
        sizes = rng.integers(1, 25, size=int(rng.integers(2, 15)))
        groups = [list(rng.integers(0, 101, size=int(n))) for n in sizes]
        frame = long_form(groups)
        table = sm.stats.anova_lm(ols("score ~ C(group)", data=frame).fit())
        got = intraclass_correlations(sums_of(groups))
        assert got is not None
        assert got.ms_between == pytest.approx(table["mean_sq"].iloc[0], rel=1e-10)
        assert got.ms_within == pytest.approx(table["mean_sq"].iloc[1], rel=1e-10)
        assert got.f == pytest.approx(table["F"].iloc[0], rel=1e-9)
        assert got.p == pytest.approx(table["PR(>F)"].iloc[0], rel=1e-7, abs=1e-15)
        n = sum(sizes)
        size = (n - sum(sizes**2) / n) / (len(sizes) - 1)
        msb, msw = got.ms_between, got.ms_within
        assert got.size == pytest.approx(size)
        assert got.icc1 == pytest.approx((msb - msw) / (msb + (size - 1) * msw))
        assert got.icc2 == pytest.approx((msb - msw) / msb)


def test_iccs_ignore_empty_groups_and_need_two_groups_and_spare_people() -> None:
    groups = sums_of([[1, 2, 3], [4, 5, 5]])
    assert intraclass_correlations([*groups, GroupSums(0, 0, 0)]) == intraclass_correlations(groups)
    assert intraclass_correlations(groups[:1]) is None
    assert intraclass_correlations(sums_of([[1], [2]])) is None


def test_iccs_when_members_agree_perfectly_within_differing_groups() -> None:
    got = intraclass_correlations(sums_of([[2, 2], [4, 4, 4]]))
    assert got is not None
    assert (got.icc1, got.icc2, got.f, got.p) == (1.0, 1.0, math.inf, 0.0)


def test_iccs_refuse_sums_no_data_can_give() -> None:
    with pytest.raises(ValueError, match="no set of values"):
        GroupSums(2, 10, 40)  # 2 · 40 < 10²
