"""Properties of the scoring rules that must hold for any answers."""

from __future__ import annotations

import dataclasses
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.domain.entities import Audience, Response
from portal.domain.questionnaire import Questionnaire
from portal.domain.scoring import (
    cronbach_alpha,
    distribute_item,
    distribute_lever,
    regularized_beta,
    score_levers,
    t_cdf,
    t_quantile,
    t_two_sided_p,
)
from tests.builders import make_response
from tests.unit.test_scoring import Q

QUICK = settings(max_examples=150, deadline=None)
#: Building responses dominates the run time, so these properties take fewer examples.
GROUPS = settings(max_examples=80, deadline=None)
ANSWER = st.one_of(st.none(), st.integers(1, 5))
PURPOSE = ("purpose-why", "purpose-local", "purpose-hq-only")  # the last is reverse-scored
AUDIENCE = st.sampled_from(list(Audience))
ITEM_IDS = [item.id for item in Q.items]

answer_sets = st.fixed_dictionaries({item_id: ANSWER for item_id in ITEM_IDS})
groups = st.lists(st.tuples(AUDIENCE, answer_sets), max_size=10)
indices = st.lists(st.floats(0, 100), min_size=2, max_size=15)
dfs = st.floats(0.2, 1e6)
ts = st.floats(-1e3, 1e3)


def build(group: list[tuple[Audience, dict[str, int | None]]]) -> list[Response]:
    """Turn generated answers into responses to every item each audience is asked."""
    return [
        make_response(
            audience=audience, answers={i.id: answers[i.id] for i in Q.items_for(audience)}
        )
        for audience, answers in group
    ]


def flipped_questionnaire() -> Questionnaire:
    """Return the instrument with purpose-hq-only no longer reverse-scored."""
    items = tuple(
        dataclasses.replace(item, reverse=False) if item.id == "purpose-hq-only" else item
        for item in Q.items
    )
    return dataclasses.replace(Q, items=items)


FLIPPED = flipped_questionnaire()


@GROUPS
@given(groups)
def test_indices_and_intervals_stay_within_zero_and_a_hundred(group: list) -> None:
    for score in score_levers(Q, build(group)).values():
        if score.index is None:
            assert score.n == 0
            continue
        assert 0 <= score.index <= 100
        if score.n < 2:
            assert score.sd is None and score.ci_low is None and score.ci_high is None
        else:
            assert score.ci_low is not None and score.ci_high is not None
            assert 0 <= score.ci_low <= score.index <= score.ci_high <= 100


@GROUPS
@given(groups)
def test_reversing_a_reverse_items_answers_and_its_flag_changes_no_score(group: list) -> None:
    responses = build(group)
    mirrored = [
        dataclasses.replace(
            r,
            answers={
                k: (6 - v if k == "purpose-hq-only" and v is not None else v)
                for k, v in r.answers.items()
            },
        )
        for r in responses
    ]
    assert score_levers(Q, responses) == score_levers(FLIPPED, mirrored)
    assert distribute_lever(Q, responses, "purpose") == distribute_lever(
        FLIPPED, mirrored, "purpose"
    )
    assert cronbach_alpha(Q, responses, "purpose") == cronbach_alpha(FLIPPED, mirrored, "purpose")
    # the item's own chart shows raw answers, so it mirrors, but favourable stays the same
    reverse_item = next(i for i in Q.items if i.id == "purpose-hq-only")
    plain_item = next(i for i in FLIPPED.items if i.id == "purpose-hq-only")
    raw, plain = distribute_item(reverse_item, responses), distribute_item(plain_item, mirrored)
    assert raw.reverse and not plain.reverse
    assert raw.counts == plain.counts[::-1] and raw.favourable == plain.favourable


@GROUPS
@given(groups, AUDIENCE, st.sampled_from(PURPOSE))
def test_adding_a_dont_know_changes_nothing(group: list, audience: Audience, item: str) -> None:
    # every generated response answers all its items, so drop one to have room for a don't-know
    without = [
        dataclasses.replace(r, answers={k: v for k, v in r.answers.items() if k != item})
        for r in build(group)
    ]
    with_dont_know = [dataclasses.replace(r, answers={**r.answers, item: None}) for r in without]
    blank = make_response(audience=audience, answers={i.id: None for i in Q.items_for(audience)})
    for changed in (with_dont_know, [*without, blank]):
        assert score_levers(Q, changed) == score_levers(Q, without)
        assert distribute_lever(Q, changed, "purpose").counts == (
            distribute_lever(Q, without, "purpose").counts
        )
        for lever in ("purpose", "managers"):
            assert cronbach_alpha(Q, changed, lever) == cronbach_alpha(Q, without, lever)


@GROUPS
@given(groups)
def test_scoring_does_not_depend_on_the_order_of_responses(group: list) -> None:
    responses = build(group)
    assert score_levers(Q, responses[::-1]) == score_levers(Q, responses)


@QUICK
@given(ts, dfs)
def test_two_sided_p_values_are_probabilities(t: float, df: float) -> None:
    p = t_two_sided_p(t, df)
    assert 0.0 <= p <= 1.0
    assert math.isclose(p, 2 * min(t_cdf(t, df), 1 - t_cdf(t, df)), abs_tol=1e-13)


@QUICK
@given(ts, ts, dfs)
def test_the_t_cdf_is_monotonic(a: float, b: float, df: float) -> None:
    low, high = min(a, b), max(a, b)
    # monotonic up to the CDF's documented absolute accuracy (3e-14)
    assert t_cdf(low, df) <= t_cdf(high, df) + 3e-14
    assert 0.0 <= t_cdf(low, df) <= 1.0


@QUICK
@given(ts, dfs)
def test_the_t_cdf_is_symmetric(t: float, df: float) -> None:
    assert math.isclose(t_cdf(-t, df), 1 - t_cdf(t, df), abs_tol=1e-15)


@QUICK
@given(st.floats(0.001, 0.999), dfs)
def test_the_t_quantile_inverts_the_cdf(p: float, df: float) -> None:
    assert math.isclose(t_cdf(t_quantile(p, df), df), p, abs_tol=1e-12)


@QUICK
@given(st.integers(0, 2**20).map(lambda k: k / 2**20), st.floats(0.1, 1000), st.floats(0.1, 1000))
def test_the_incomplete_beta_is_a_probability_with_its_mirror_symmetry(
    x: float, a: float, b: float
) -> None:
    # x = k / 2²⁰, so 1 − x is exact and the mirror loses nothing to rounding
    value = regularized_beta(x, a, b)
    assert 0.0 <= value <= 1.0
    assert math.isclose(value, 1 - regularized_beta(1 - x, b, a), abs_tol=1e-12)


@QUICK
@given(
    st.integers(2, 5).flatmap(
        lambda k: st.lists(st.lists(st.integers(1, 5), min_size=k, max_size=k), max_size=15)
    )
)
def test_cronbach_alpha_never_exceeds_one(rows: list[list[int]]) -> None:
    # A made-up purpose lever of k items, every second one reverse-scored.
    k = len(rows[0]) if rows else 2
    items = tuple(
        dataclasses.replace(Q.items[0], id=f"purpose-{i}", reverse=i % 2 == 1) for i in range(k)
    )
    questionnaire = dataclasses.replace(Q, items=items)
    responses = [
        make_response(answers={f"purpose-{i}": value for i, value in enumerate(row)})
        for row in rows
    ]
    result = cronbach_alpha(questionnaire, responses, "purpose")
    assert result.k == k and result.n == len(rows)
    totals = {sum(6 - v if i % 2 else v for i, v in enumerate(row)) for row in rows}
    assert (result.alpha is None) == (len(rows) < 3 or len(totals) == 1)
    assert result.alpha is None or result.alpha <= 1.0
