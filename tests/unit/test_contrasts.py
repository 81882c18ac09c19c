"""A group against the rest of its organisation: exact rest sums, Welch, and the page's words."""

from __future__ import annotations

import random

import pytest
from scipy import stats

from portal.domain import aggregates, scoring
from portal.domain.contrasts import Contrast, Difference, contrast, judge, lever_sums, rest_sums
from portal.domain.entities import Audience, Response
from portal.instruments import get_questionnaire
from tests.builders import make_response

QUESTIONNAIRE = get_questionnaire("change-readiness")


def responses(count: int, seed: int, bias: int = 0) -> list[Response]:
    """Return ``count`` responses of both audiences, answered at random (some don't-knows)."""
    rng = random.Random(seed)
    found = []
    for i in range(count):
        audience = Audience.MANAGER if i % 4 == 0 else Audience.EMPLOYEE
        answers: dict[str, int | None] = {
            item.id: None if rng.random() < 0.1 else min(5, max(1, rng.randint(1, 5) + bias))
            for item in QUESTIONNAIRE.items_for(audience)
        }
        found.append(make_response(audience=audience, answers=answers))
    return found


def test_the_rest_is_exactly_the_organisation_without_the_group() -> None:
    group, others = responses(12, 1, bias=1), responses(30, 2)
    whole = aggregates.aggregate_responses(QUESTIONNAIRE, group + others)
    part = aggregates.aggregate_responses(QUESTIONNAIRE, group)
    alone = aggregates.aggregate_responses(QUESTIONNAIRE, others)
    for lever in QUESTIONNAIRE.levers:
        rest = rest_sums(lever_sums(whole, lever.id), lever_sums(part, lever.id))
        assert rest == lever_sums(alone, lever.id)


def test_the_difference_is_welchs_test_of_the_group_against_the_rest() -> None:
    group, others = responses(15, 3, bias=1), responses(40, 4)
    part = aggregates.aggregate_responses(QUESTIONNAIRE, group)
    rest = aggregates.aggregate_responses(QUESTIONNAIRE, others)
    for lever in QUESTIONNAIRE.levers:
        found = contrast(lever_sums(part, lever.id), lever_sums(rest, lever.id), part.scale)
        x = scoring.respondent_indices(QUESTIONNAIRE, group, lever.id)
        y = scoring.respondent_indices(QUESTIONNAIRE, others, lever.id)
        reference = stats.ttest_ind(x, y, equal_var=False)
        assert found.comparison is not None and found.rest is not None
        assert found.comparison.p == pytest.approx(reference.pvalue, rel=1e-6)
        low, high = reference.confidence_interval(0.95)
        assert (found.comparison.ci_low, found.comparison.ci_high) == pytest.approx((low, high))
        assert found.rest.n == len(y) and found.outcome is Difference.NO_CLEAR_DIFFERENCE


def test_a_side_of_fewer_than_two_is_not_shown() -> None:
    part = aggregates.aggregate_responses(QUESTIONNAIRE, responses(1, 5))
    rest = aggregates.aggregate_responses(QUESTIONNAIRE, responses(9, 6))
    lever = QUESTIONNAIRE.levers[0].id
    found = contrast(lever_sums(part, lever), lever_sums(rest, lever), part.scale)
    assert found.outcome is Difference.NOT_SHOWN and found.comparison is None


def test_the_words_come_from_the_q_value_and_the_detectable_difference() -> None:
    high, low = responses(60, 7, bias=2), responses(60, 8, bias=-2)
    few, many = responses(3, 9), responses(4, 10)
    same_a, same_b = responses(400, 11), responses(400, 12)
    lever = QUESTIONNAIRE.levers[0].id

    def one(a: list[Response], b: list[Response]) -> dict[str, Contrast]:
        first = aggregates.aggregate_responses(QUESTIONNAIRE, a)
        second = aggregates.aggregate_responses(QUESTIONNAIRE, b)
        return {lever: contrast(lever_sums(first, lever), lever_sums(second, lever), first.scale)}

    page = [one(high, low), one(low, high), one(few, many), one(same_a, same_b)]
    judged = judge(page)
    words = [found[lever].outcome for found in judged]
    assert words == [
        Difference.CLEARLY_HIGHER,
        Difference.CLEARLY_LOWER,
        Difference.TOO_FEW_TO_TELL,
        Difference.NO_CLEAR_DIFFERENCE,
    ]
    assert all(found[lever].q is not None for found in judged)
