"""Scoring rules, each pinned on a small example computed by hand in the comments.

Index = (mean − 1) / 4 · 100, so single answers 1, 2, 3, 4, 5 are indices 0, 25, 50,
75, 100. Reference values marked "scipy" come from scipy 1.17 (``scipy.stats.t``,
``ttest_ind(..., equal_var=False)``), run once outside this project.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pytest

from portal.domain.entities import Audience, Response
from portal.domain.questionnaire import Item, Lever, Questionnaire, Scale
from portal.domain.scoring import (
    Distribution,
    LeverScore,
    Trend,
    WelchTest,
    compare_audiences,
    compare_waves,
    cronbach_alpha,
    describe_indices,
    distribute_item,
    distribute_lever,
    enough_scored,
    find_barrier,
    lever_items,
    regularized_beta,
    respondent_index,
    response_fraction,
    score_item,
    score_lever,
    score_levers,
    t_cdf,
    t_quantile,
    t_two_sided_p,
    to_index,
)
from tests.builders import make_response

EN = {"en": "x"}
EMPLOYEE, MANAGER = Audience.EMPLOYEE, Audience.MANAGER


def make_questionnaire() -> Questionnaire:
    """Build a small instrument: three levers and an outcome, with a reverse item."""
    levers = (
        Lever("purpose", 1, EN, EN),
        Lever("managers", 2, EN, EN),
        Lever("skills", 3, EN, EN),
        Lever("adoption", 4, EN, EN, outcome=True),
    )
    items = (
        Item("purpose-why", "purpose", "both", False, EN),
        Item("purpose-local", "purpose", "both", False, EN),
        Item("purpose-hq-only", "purpose", "both", True, EN),
        Item("managers-both", "managers", "both", False, EN),
        Item("managers-follow-up", "managers", "employee", False, EN),
        Item("managers-my-role", "managers", "manager", False, EN),
        Item("skills-basics", "skills", "both", False, EN),
        Item("adoption-daily", "adoption", "both", False, EN),
    )
    return Questionnaire(
        id="tiny",
        version=1,
        title=EN,
        description=EN,
        languages=("en",),
        default_language="en",
        scale=Scale(labels={"en": ("1", "2", "3", "4", "5")}, not_applicable=EN),
        levers=levers,
        items=items,
    )


Q = make_questionnaire()


def respond(audience: Audience = EMPLOYEE, **answers: int | None) -> Response:
    """Build a response; keyword names use ``_`` where item ids use ``-``."""
    return make_response(
        audience=audience, answers={key.replace("_", "-"): value for key, value in answers.items()}
    )


def skills(*answers: int | None) -> list[Response]:
    """Build one employee response per answer to the single skills item."""
    return [respond(skills_basics=answer) for answer in answers]


def item(item_id: str) -> Item:
    """Return the tiny questionnaire's item ``item_id``."""
    return next(i for i in Q.items if i.id == item_id)


# -- item scores ---------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "scored"), [(1, 5), (2, 4), (3, 3), (4, 2), (5, 1)])
def test_a_reverse_item_is_scored_six_minus_the_answer(answer: int, scored: int) -> None:
    assert score_item(item("purpose-hq-only"), answer) == scored


@pytest.mark.parametrize("answer", [1, 2, 3, 4, 5])
def test_a_plain_item_is_scored_as_answered(answer: int) -> None:
    assert score_item(item("purpose-why"), answer) == answer


def test_dont_know_has_no_score() -> None:
    assert score_item(item("purpose-why"), None) is None
    assert score_item(item("purpose-hq-only"), None) is None


@pytest.mark.parametrize("answer", [0, 6, -1, True, 2.5])
def test_an_answer_off_the_scale_is_refused(answer: int) -> None:
    with pytest.raises(ValueError, match="1–5"):
        score_item(item("purpose-why"), answer)


def test_the_index_maps_one_to_zero_and_five_to_a_hundred() -> None:
    assert [to_index(m) for m in (1, 2, 3, 4, 5, 3.5)] == [0, 25, 50, 75, 100, 62.5]


# -- lever scores --------------------------------------------------------------------


def test_a_lever_score_is_the_mean_of_respondent_means_as_an_index() -> None:
    responses = [
        # (4 + 5 + [6 − 2 = 4]) / 3 = 13/3 → (13/3 − 1) / 4 · 100 = 250/3 ≈ 83.33
        respond(purpose_why=4, purpose_local=5, purpose_hq_only=2),
        # don't-know left out: (2 + [6 − 4 = 2]) / 2 = 2 → 25
        respond(purpose_why=2, purpose_local=None, purpose_hq_only=4),
        # a manager answers the same items: 3 → 50
        respond(MANAGER, purpose_why=3, purpose_local=3, purpose_hq_only=3),
        # only don't-knows: not counted at all
        respond(purpose_why=None, purpose_local=None, purpose_hq_only=None),
    ]
    score = score_lever(Q, responses, "purpose")
    # mean = (250/3 + 25 + 50) / 3 = 475/9 ≈ 52.78
    assert score.n == 3
    assert score.index == pytest.approx(475 / 9)
    # deviations 275/9, −250/9, −25/9 → Σ² = 138750/81; / (n − 1) = 69375/81 → sd ≈ 29.2657
    assert score.sd == pytest.approx(math.sqrt(69375 / 81))
    # half-width = t(0.975, 2) 4.3027 · 29.2657 / √3 ≈ 72.70 → [−19.9, 125.5], clamped
    assert (score.ci_low, score.ci_high) == (0.0, 100.0)


def test_a_confidence_interval_uses_the_t_quantile_for_n_minus_one() -> None:
    # 2, 3, 4, 3 → 25, 50, 75, 50: mean 50; Σ dev² = 625 + 0 + 625 + 0 = 1250; sd = √(1250/3)
    score = score_lever(Q, skills(2, 3, 4, 3), "skills")
    sd = math.sqrt(1250 / 3)  # ≈ 20.4124
    half = 3.182446305284 * sd / 2  # t(0.975, 3) · sd / √4 ≈ 32.4807
    assert (score.n, score.index, score.sd) == (4, 50.0, pytest.approx(sd))
    assert score.ci_low == pytest.approx(50 - half)  # ≈ 17.52
    assert score.ci_high == pytest.approx(50 + half)  # ≈ 82.48


def test_one_respondent_gives_an_index_without_spread_or_interval() -> None:
    assert score_lever(Q, skills(4), "skills") == LeverScore("skills", 1, 75.0, None, None, None)


def test_nobody_scoring_a_lever_gives_no_index() -> None:
    empty = LeverScore("skills", 0, None, None, None, None)
    assert score_lever(Q, skills(None, None), "skills") == empty
    assert score_lever(Q, [], "skills") == empty


def test_identical_answers_give_zero_spread_and_a_point_interval() -> None:
    assert score_lever(Q, skills(4, 4, 4), "skills") == LeverScore(
        "skills", 3, 75.0, 0.0, 75.0, 75.0
    )


def test_a_respondent_is_scored_only_on_the_items_their_audience_is_asked() -> None:
    # An employee's stray answer to a manager-only item (5) is ignored: (3 + 1) / 2 = 2 → 25.
    stray = respond(managers_both=3, managers_follow_up=1, managers_my_role=5)
    assert respondent_index(Q, stray, "managers") == 25.0
    assert [i.id for i in lever_items(Q, "managers", MANAGER)] == [
        "managers-both",
        "managers-my-role",
    ]


def test_every_respondent_weighs_the_same_however_many_items_they_scored() -> None:
    # A: purpose-why = purpose-local = 5 → 100. B: 1, 1, [6 − 5 = 1] → 0. Mean of
    # means = 50 (pooling the five answers would give (5 + 5 + 1 + 1 + 1) / 5 = 2.6 → 40).
    a = respond(purpose_why=5, purpose_local=5, purpose_hq_only=None)
    b = respond(purpose_why=1, purpose_local=1, purpose_hq_only=5)
    assert score_lever(Q, [a, b], "purpose").index == 50.0


def test_a_lever_score_needs_at_least_half_of_its_items_scored() -> None:
    # Purpose has three items here: one scored answer is not enough, two are.
    one = respond(purpose_why=5, purpose_local=None, purpose_hq_only=None)
    two = respond(purpose_why=5, purpose_local=None, purpose_hq_only=1)
    assert respondent_index(Q, one, "purpose") is None
    assert respondent_index(Q, two, "purpose") == 100.0
    assert score_lever(Q, [one, two], "purpose").n == 1
    assert [enough_scored(k, 4) for k in range(5)] == [False, False, True, True, True]
    assert [enough_scored(k, 3) for k in range(4)] == [False, False, True, True]
    assert [enough_scored(k, 1) for k in range(2)] == [False, True]


def test_a_lever_can_be_scored_for_one_audience() -> None:
    responses = [*skills(5, 3), respond(MANAGER, skills_basics=1)]
    assert score_lever(Q, responses, "skills", EMPLOYEE).index == 75.0  # (100 + 50) / 2
    assert score_lever(Q, responses, "skills", MANAGER).index == 0.0
    assert score_lever(Q, responses, "skills").index == 50.0  # (100 + 50 + 0) / 3


def test_all_levers_are_scored_in_questionnaire_order() -> None:
    scores = score_levers(Q, skills(5))
    assert list(scores) == ["purpose", "managers", "skills", "adoption"]
    assert scores["skills"].index == 100.0 and scores["purpose"].n == 0


def test_an_unknown_lever_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        score_lever(Q, skills(3), "nonsense")


def test_describe_indices_summarises_raw_values() -> None:
    # 0 and 100: mean 50, sd = √((50² + 50²) / 1) = 70.71; t(0.975, 1) = 12.706 → clamped
    assert describe_indices("x", [0.0, 100.0]) == LeverScore(
        "x", 2, 50.0, pytest.approx(math.sqrt(5000)), 0.0, 100.0
    )


# -- distributions -------------------------------------------------------------------


def test_an_item_distribution_shows_raw_answers_and_flags_a_reverse_item() -> None:
    responses = [
        respond(purpose_hq_only=1),
        respond(purpose_hq_only=1),
        respond(purpose_hq_only=2),
        respond(purpose_hq_only=5),
        respond(purpose_hq_only=None),
    ]
    dist = distribute_item(item("purpose-hq-only"), responses)
    assert dist == Distribution((2, 1, 0, 0, 1), dont_know=1, reverse=True)
    # percentages of the 4 answers on the scale; don't-know out of the base
    assert dist.n == 4 and dist.percents == (50.0, 25.0, 0.0, 0.0, 25.0)
    # reverse: raw 1–2 score 5–4, so favourable = 3 / 4
    assert dist.favourable == 75.0


def test_a_plain_item_counts_four_and_five_as_favourable() -> None:
    dist = distribute_item(item("purpose-why"), [respond(purpose_why=v) for v in (4, 5, 3, None)])
    assert dist.counts == (0, 0, 1, 1, 1) and dist.dont_know == 1
    assert dist.favourable == pytest.approx(200 / 3)  # 2 of 3


def test_an_item_distribution_leaves_out_respondents_not_asked() -> None:
    responses = [respond(managers_follow_up=4), respond(MANAGER, managers_follow_up=1)]
    assert distribute_item(item("managers-follow-up"), responses).counts == (0, 0, 0, 1, 0)


def test_a_lever_distribution_pools_scored_answers() -> None:
    responses = [
        respond(purpose_why=4, purpose_local=5, purpose_hq_only=2),  # scored 4, 5, 4
        respond(purpose_why=2, purpose_local=None, purpose_hq_only=4),  # scored 2, –, 2
    ]
    dist = distribute_lever(Q, responses, "purpose")
    # scored values 4, 5, 4, 2, 2 → counts 0, 2, 0, 2, 1; favourable 3 / 5
    assert dist == Distribution((0, 2, 0, 2, 1), dont_know=1)
    assert dist.percents == (0.0, 40.0, 0.0, 40.0, 20.0) and dist.favourable == 60.0


def test_a_distribution_without_answers_has_no_percentages() -> None:
    dist = distribute_lever(Q, skills(None, None), "skills")
    assert dist.n == 0 and dist.dont_know == 2
    assert dist.percents is None and dist.favourable is None


# -- employees versus managers -------------------------------------------------------


def test_the_gap_is_the_manager_index_minus_the_employee_index() -> None:
    responses = [
        respond(managers_both=3, managers_follow_up=5),  # (3 + 5) / 2 = 4 → 75
        respond(managers_both=3, managers_follow_up=3),  # 3 → 50
        respond(MANAGER, managers_both=5, managers_my_role=5),  # 5 → 100
    ]
    gap = compare_audiences(Q, responses, "managers")
    # employees (75 + 50) / 2 = 62.5; managers 100; gap = 100 − 62.5
    assert (gap.employee.index, gap.manager.index, gap.gap) == (62.5, 100.0, 37.5)


def test_there_is_no_gap_when_one_audience_is_missing() -> None:
    gap = compare_audiences(Q, skills(4, 5), "skills")
    assert gap.manager.n == 0 and gap.gap is None


# -- Welch's t-test and wave comparison ----------------------------------------------


def welch_t_test(before: list[int], after: list[int]) -> WelchTest | None:
    """Return the Welch test ``compare_waves`` makes of two waves with these skills indices."""
    as_answers = [index // 25 + 1 for index in before], [index // 25 + 1 for index in after]
    return compare_waves(Q, skills(*as_answers[0]), skills(*as_answers[1]), "skills").test


def test_welch_t_test_on_a_hand_computed_example() -> None:
    # before 25, 50, 75: mean 50, s² = (625 + 0 + 625) / 2 = 625, s²/n = 625/3
    # after 75, 100, 75, 100: mean 87.5, s² = 4 · 12.5² / 3 = 625/3, s²/n = 625/12
    # se² = 625/3 + 625/12 = 3125/12; t = 37.5 / √(3125/12) → t² = 1406.25 · 12 / 3125 = 5.4
    # df = (3125/12)² / ((625/3)² / 2 + (625/12)² / 3) = (9765625/144) / (9765625/432) = 3
    test = welch_t_test([25, 50, 75], [75, 100, 75, 100])
    assert test is not None
    assert test.t == pytest.approx(math.sqrt(5.4))
    assert test.df == pytest.approx(3.0)
    # df 3 closed form: p = 1 − (2/π)(θ + sin θ cos θ), tan θ = t/√3 = √1.8
    theta = math.atan(math.sqrt(1.8))
    assert test.p == pytest.approx(1 - 2 / math.pi * (theta + math.sqrt(1.8) / 2.8), abs=1e-12)
    assert test.p == pytest.approx(0.10272807885839899, abs=1e-12)  # scipy


def test_welch_t_test_with_unequal_sizes_and_variances_matches_scipy() -> None:
    # x: 0, 25, 25, 50, 50, 50, 75: Σ = 275, Σx² = 14375, s² = (14375 − 275²/7) / 6 = 25000/42
    # y: 50, 75, 75, 100, 100, 75, 100, 50, 75: Σ = 700, Σy² = 57500, s² = 27500/72
    # se² = 595.238/7 + 381.944/9 = 85.034 + 42.438 = 127.472; t = (77.778 − 39.286) / 11.290
    # df = 127.472² / (85.034² / 6 + 42.438² / 8) = 16249.2 / 1430.26 ≈ 11.361
    test = welch_t_test([0, 25, 25, 50, 50, 50, 75], [50, 75, 75, 100, 100, 75, 100, 50, 75])
    assert test is not None
    assert test.t == pytest.approx(3.409285000183592, rel=1e-12)  # scipy
    assert test.df == pytest.approx(11.361028021028096, rel=1e-12)  # scipy
    assert test.p == pytest.approx(0.005579205586983115, rel=1e-9)  # scipy


def test_welch_needs_two_values_on_each_side() -> None:
    assert welch_t_test([50], [50, 75]) is None
    assert welch_t_test([50, 75], []) is None


def test_welch_with_one_constant_sample_takes_the_other_samples_df() -> None:
    # before 0, 0, 0 (s² = 0); after 75, 100, 75, 100 (s²/n = 625/12)
    # t = 87.5 / √(625/12) → t² = 7656.25 · 12 / 625 = 147; df = n_after − 1 = 3
    test = welch_t_test([0, 0, 0], [75, 100, 75, 100])
    assert test is not None
    assert test.t == pytest.approx(math.sqrt(147)) and test.df == pytest.approx(3.0)
    # tan θ = √147 / √3 = 7 → sin θ cos θ = 7 / 50
    assert test.p == pytest.approx(1 - 2 / math.pi * (math.atan(7) + 7 / 50), abs=1e-12)


def test_welch_with_two_constant_samples_is_certain_either_way() -> None:
    differ = welch_t_test([50, 50], [75, 75])
    same = welch_t_test([50, 50, 50], [50, 50])
    assert differ is not None and same is not None
    assert (differ.t, differ.df, differ.p) == (math.inf, None, 0.0)
    assert (same.t, same.df, same.p) == (0.0, None, 1.0)


def test_a_clear_rise_between_waves_is_improved() -> None:
    # before 1, 1, 1 → 0, 0, 0; after 4, 5, 4, 5 → p ≈ 0.0012 (example above)
    change = compare_waves(Q, skills(1, 1, 1), skills(4, 5, 4, 5), "skills")
    assert change.outcome is Trend.IMPROVED and change.change == 87.5
    assert change.before.index == 0.0 and change.after.index == 87.5


def test_a_clear_fall_between_waves_is_declined() -> None:
    change = compare_waves(Q, skills(4, 5, 4, 5), skills(1, 1, 1), "skills")
    assert change.outcome is Trend.DECLINED and change.change == -87.5


def test_a_large_change_in_a_tiny_group_is_too_few_responses_to_tell() -> None:
    # 0, 25 → 75, 100: s² = 312.5 each, se² = 312.5, t = 75/√312.5 = √18, df = 2
    # df 2 closed form: p = 1 − t / √(2 + t²) = 1 − √(18/20) ≈ 0.0513 > 0.05
    change = compare_waves(Q, skills(1, 2), skills(4, 5), "skills")
    assert change.test is not None
    assert change.test.p == pytest.approx(1 - math.sqrt(0.9), abs=1e-12)
    # two people per wave could not detect a 10-point change: not "no clear change"
    assert change.outcome is Trend.TOO_FEW_TO_TELL and change.change == 75.0
    assert change.comparison is not None and change.comparison.detectable > 10
    # with a looser significance level the same data count as improved
    loose = compare_waves(Q, skills(1, 2), skills(4, 5), "skills", alpha=0.06)
    assert loose.outcome is Trend.IMPROVED


def test_identical_constant_waves_show_no_clear_change() -> None:
    change = compare_waves(Q, skills(3, 3), skills(3, 3, 3), "skills")
    assert change.outcome is Trend.NO_CLEAR_CHANGE and change.change == 0.0


def test_constant_but_different_waves_are_a_certain_change() -> None:
    change = compare_waves(Q, skills(3, 3), skills(4, 4), "skills")
    assert change.outcome is Trend.IMPROVED and change.test is not None
    assert change.test.p == 0.0


def test_a_wave_with_fewer_than_two_respondents_is_not_enough_data() -> None:
    one = compare_waves(Q, skills(2), skills(4, 5, 5), "skills")
    assert one.outcome is Trend.NOT_ENOUGH_DATA and one.test is None
    assert one.change == pytest.approx(275 / 3 - 25)  # (75 + 100 + 100) / 3 − 25
    none = compare_waves(Q, skills(None), skills(4, 5), "skills")
    assert none.outcome is Trend.NOT_ENOUGH_DATA and none.change is None


# -- the Student-t distribution ------------------------------------------------------


@pytest.mark.parametrize(
    ("df", "table"),
    [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (29, 2.045), (30, 2.042), (120, 1.980)],
)
def test_the_t_quantile_matches_the_printed_table(df: int, table: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(table, abs=5e-4)


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.999, 0.9999])
def test_the_t_quantile_matches_closed_forms_for_one_and_two_df(p: float) -> None:
    # df 1 is the Cauchy distribution: t = tan(π(p − ½)); df 2: t = (2p − 1) / √(2p(1 − p))
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-10)
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-10)


def test_the_t_quantile_is_symmetric_and_zero_at_the_median() -> None:
    assert t_quantile(0.5, 7) == 0.0
    # equal up to 1 − 0.975 = 0.025000000000000022 in binary floating point
    assert t_quantile(0.025, 9) == pytest.approx(-t_quantile(0.975, 9), rel=1e-13)


def test_the_t_quantile_approaches_the_normal_for_large_df() -> None:
    assert t_quantile(0.975, 1_000_000) == pytest.approx(1.959964, abs=5e-6)
    assert t_quantile(0.975, 3) == pytest.approx(3.1824463052837078, rel=1e-10)  # scipy


@pytest.mark.parametrize(("p", "df"), [(0.0, 3), (1.0, 3), (0.5, 0), (0.9, -1), (0.9, math.inf)])
def test_the_t_quantile_refuses_impossible_arguments(p: float, df: float) -> None:
    with pytest.raises(ValueError):
        t_quantile(p, df)


@pytest.mark.parametrize("t", [-30.0, -2.0, -0.5, 0.0, 0.3, 1.0, 4.0, 100.0])
def test_the_t_cdf_matches_closed_forms_for_one_two_and_three_df(t: float) -> None:
    # df 1: ½ + atan(t)/π; df 2: ½ + t / (2√(2 + t²)); df 3: ½ + (θ + sin θ cos θ)/π, tan θ = t/√3
    assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-14)
    assert t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-14)
    u = t / math.sqrt(3)
    assert t_cdf(t, 3) == pytest.approx(0.5 + (math.atan(u) + u / (1 + u * u)) / math.pi, abs=1e-14)


@pytest.mark.parametrize(
    ("t", "df", "p"),
    [
        (2.228, 10, 0.05001177181711132),  # printed table: t(0.975, 10) = 2.228 ↔ p ≈ 0.05
        (3.169, 10, 0.010004633364384856),  # printed table: t(0.995, 10) = 3.169 ↔ p ≈ 0.01
        (2.086, 20, 0.04999635445744019),  # printed table: t(0.975, 20) = 2.086 ↔ p ≈ 0.05
        (2.0, 5, 0.10193947882985835),  # scipy
        (2.0, 30, 0.054625044962983094),  # scipy
        (1.645, 1000, 0.10028408441557446),  # scipy; near the normal's 0.09996
        (4.0, 7.5, 0.004506110350185178),  # scipy; Welch df need not be whole
    ],
)
def test_two_sided_p_values_match_known_values(t: float, df: float, p: float) -> None:
    assert t_two_sided_p(t, df) == pytest.approx(p, rel=1e-10)
    assert t_two_sided_p(-t, df) == t_two_sided_p(t, df)


def test_two_sided_p_is_one_at_zero_and_zero_at_infinity() -> None:
    assert t_two_sided_p(0.0, 4) == 1.0
    assert t_two_sided_p(1.0, 1) == pytest.approx(0.5, abs=1e-15)  # 1 − 2·atan(1)/π
    assert t_two_sided_p(math.inf, 4) == 0.0
    assert t_cdf(math.inf, 4) == 1.0 and t_cdf(-math.inf, 4) == 0.0


def test_the_t_functions_refuse_nan() -> None:
    with pytest.raises(ValueError):
        t_cdf(math.nan, 3)
    with pytest.raises(ValueError):
        t_two_sided_p(math.nan, 3)


@pytest.mark.parametrize("x", [0.0, 0.1, 0.37, 0.5, 0.9, 1.0])
def test_the_incomplete_beta_matches_closed_forms(x: float) -> None:
    assert regularized_beta(x, 1, 1) == pytest.approx(x, abs=1e-15)
    assert regularized_beta(x, 3, 1) == pytest.approx(x**3, abs=1e-15)
    assert regularized_beta(x, 1, 4) == pytest.approx(1 - (1 - x) ** 4, abs=1e-15)
    assert regularized_beta(x, 2, 2) == pytest.approx(3 * x**2 - 2 * x**3, abs=1e-15)


def test_the_incomplete_beta_is_a_half_at_the_middle_of_a_symmetric_beta() -> None:
    for a in (0.5, 2.0, 17.0, 500.0):
        assert regularized_beta(0.5, a, a) == pytest.approx(0.5, abs=1e-13)
    # with both shapes large the documented bound is about 3e-15 · min(a, b)
    assert regularized_beta(0.5, 1e5, 1e5) == pytest.approx(0.5, abs=3e-10)


@pytest.mark.parametrize(("x", "a", "b"), [(-0.1, 1, 1), (1.1, 1, 1), (0.5, 0, 1), (0.5, 1, -2)])
def test_the_incomplete_beta_refuses_impossible_arguments(x: float, a: float, b: float) -> None:
    with pytest.raises(ValueError):
        regularized_beta(x, a, b)


# -- barrier lever -------------------------------------------------------------------


def scores(**indices: float | None) -> Mapping[str, LeverScore]:
    """Build lever scores with only the index set."""
    return {
        lever: LeverScore(lever, 0 if index is None else 5, index, None, None, None)
        for lever, index in indices.items()
    }


def test_the_barrier_is_the_first_lever_below_the_threshold_not_the_lowest() -> None:
    found = find_barrier(Q, scores(purpose=70, managers=55, skills=40, adoption=10))
    assert found is not None and found.lever_id == "managers"


def test_the_barrier_threshold_is_a_parameter() -> None:
    found = find_barrier(Q, scores(purpose=70, managers=55, skills=40), needs_attention=50)
    assert found is not None and found.lever_id == "skills"


def test_a_lever_exactly_at_the_threshold_is_not_a_barrier() -> None:
    assert find_barrier(Q, scores(purpose=60, managers=60.0, skills=75)) is None


def test_the_outcome_lever_is_never_the_barrier() -> None:
    assert find_barrier(Q, scores(purpose=80, managers=80, skills=80, adoption=5)) is None


def test_levers_without_data_are_skipped_when_looking_for_the_barrier() -> None:
    found = find_barrier(Q, scores(purpose=None, skills=30))  # managers missing entirely
    assert found is not None and found.lever_id == "skills"
    assert find_barrier(Q, scores(purpose=None, managers=None)) is None
    assert find_barrier(Q, {}) is None


def test_the_barrier_works_on_scored_responses() -> None:
    responses = [respond(purpose_why=5, managers_both=2, skills_basics=1, adoption_daily=1)]
    found = find_barrier(Q, score_levers(Q, responses))
    assert found is not None and (found.lever_id, found.index) == ("managers", 25.0)


# -- Cronbach's alpha ----------------------------------------------------------------


def purpose_rows(rows: Sequence[tuple[int | None, int | None, int | None]]) -> list[Response]:
    """Build employee responses to the three purpose items (the third is reverse)."""
    return [respond(purpose_why=a, purpose_local=b, purpose_hq_only=c) for a, b, c in rows]


def test_cronbach_alpha_on_a_hand_computed_matrix() -> None:
    responses = purpose_rows(
        [
            (2, 3, 3),  # scored 2, 3, 3  total 8
            (3, 3, 2),  # scored 3, 3, 4  total 10
            (4, 5, 2),  # scored 4, 5, 4  total 13
            (5, 5, 1),  # scored 5, 5, 5  total 15
            (5, None, 1),  # not a complete case
        ]
    )
    # item variances (n − 1 = 3): 2,3,4,5 → 5/3; 3,3,5,5 → 4/3; 3,4,4,5 → 2/3; Σ = 11/3
    # totals 8, 10, 13, 15: mean 11.5, Σ dev² = 12.25 + 2.25 + 2.25 + 12.25 = 29 → 29/3
    # α = 3/2 · (1 − (11/3) / (29/3)) = 3/2 · 18/29 = 27/29 ≈ 0.931
    result = cronbach_alpha(Q, responses, "purpose")
    assert (result.k, result.n) == (3, 4)
    assert result.alpha == pytest.approx(27 / 29, abs=1e-15)
    assert not result.weak


def test_inconsistent_items_give_a_weak_alpha_that_can_be_negative() -> None:
    # items 1,2,3 / 2,1,3 / 3,3,[6 − 5 = 1]: variances 1, 1, 4/3 → Σ = 10/3
    # totals 6, 6, 7: variance 1/3 → α = 3/2 · (1 − 10) = −13.5
    responses = purpose_rows([(1, 2, 3), (2, 1, 3), (3, 3, 5)])
    result = cronbach_alpha(Q, responses, "purpose")
    assert result.alpha == -13.5 and result.weak


def test_alpha_is_unknown_when_every_total_is_the_same() -> None:
    responses = purpose_rows([(1, 5, 3), (5, 1, 3), (3, 3, 3)])  # totals 9, 9, 9
    assert cronbach_alpha(Q, responses, "purpose").alpha is None


def test_alpha_needs_three_complete_cases() -> None:
    responses = purpose_rows([(1, 2, 5), (4, 4, 2), (5, None, 1)])
    result = cronbach_alpha(Q, responses, "purpose")
    assert (result.n, result.alpha, result.weak) == (2, None, False)


def test_alpha_needs_two_items() -> None:
    result = cronbach_alpha(Q, skills(1, 3, 5, 2), "skills")
    assert (result.k, result.n, result.alpha) == (1, 4, None)


def test_alpha_for_one_audience_uses_its_own_items() -> None:
    responses = [
        respond(managers_both=b, managers_follow_up=f) for b, f in [(1, 2), (3, 3), (5, 4)]
    ] + [respond(MANAGER, managers_both=2, managers_my_role=2)]
    # employees on both + follow-up: variances 4 and 1; totals 3, 6, 9 → variance 9
    # α = 2 · (1 − 5/9) = 8/9
    employees = cronbach_alpha(Q, responses, "managers", EMPLOYEE)
    assert (employees.k, employees.n) == (2, 3)
    assert employees.alpha == pytest.approx(8 / 9, abs=1e-15)
    # the mixed group shares only managers-both, so there is nothing to correlate
    mixed = cronbach_alpha(Q, responses, "managers")
    assert (mixed.k, mixed.alpha) == (1, None)


# -- response rate -------------------------------------------------------------------


def test_the_response_rate_is_a_fraction_of_the_headcount() -> None:
    assert response_fraction(5, 10) == 0.5
    assert response_fraction(0, 10) == 0.0
    assert response_fraction(12, 10) == 1.2  # an outdated headcount is shown as it is


def test_there_is_no_response_rate_without_headcount() -> None:
    assert response_fraction(3, 0) is None
    assert response_fraction(0, 0) is None


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError):
        response_fraction(-1, 10)
