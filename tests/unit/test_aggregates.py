"""Aggregates, pinned on small cells whose every field is written out by hand.

The tiny questionnaire below asks at most 3 items per lever of one audience, so
its index scale is L = lcm(1, 2, 3) = 6 and a respondent's whole-number index
is v = (S − k) · 6 / k, the index being 25 · v / 6.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from portal.domain import scoring
from portal.domain.aggregates import (
    COMMENT_BUDGET,
    SCHEMA_VERSION,
    Aggregate,
    AggregateError,
    AudiencePart,
    CompleteCases,
    DepartmentComments,
    DriverSums,
    ItemTally,
    LeverSums,
    Snapshot,
    aggregate_response,
    aggregate_responses,
    collect_comments,
    comment_cost,
    comment_order,
    comments_from_dict,
    comments_to_dict,
    compare_audiences,
    compare_waves,
    cronbach_alpha,
    describe_sums,
    distribute_item,
    distribute_lever,
    empty_aggregate,
    find_barrier,
    from_dict,
    index_scale,
    merge,
    merge_all,
    score_lever,
    score_levers,
    subtract,
    to_dict,
)
from portal.domain.entities import Audience, Response
from portal.domain.questionnaire import Item, Lever, Questionnaire, Scale
from portal.instruments import get_questionnaire
from tests.builders import make_response

EN = {"en": "x"}
EMPLOYEE, MANAGER = Audience.EMPLOYEE, Audience.MANAGER


def make_questionnaire(**overrides: Any) -> Questionnaire:
    """Build a tiny instrument: a reverse item, audience-specific items, a one-item lever."""
    values: dict[str, Any] = {
        "id": "tiny",
        "version": 1,
        "title": EN,
        "description": EN,
        "languages": ("en",),
        "default_language": "en",
        "scale": Scale(labels={"en": ("1", "2", "3", "4", "5")}, not_applicable=EN),
        "levers": (
            Lever("purpose", 1, EN, EN),
            Lever("managers", 2, EN, EN),
            Lever("skills", 3, EN, EN),
            Lever("adoption", 4, EN, EN, outcome=True),
        ),
        "items": (
            Item("purpose-why", "purpose", "both", False, EN),
            Item("purpose-local", "purpose", "both", False, EN),
            Item("purpose-hq-only", "purpose", "both", True, EN),
            Item("managers-backing", "managers", "both", False, EN),
            Item("managers-clear", "managers", "both", False, EN),
            Item("managers-follow-up", "managers", "employee", False, EN),
            Item("managers-my-role", "managers", "manager", False, EN),
            Item("skills-basics", "skills", "both", False, EN),
            Item("adoption-daily", "adoption", "both", False, EN),
        ),
    }
    values.update(overrides)
    return Questionnaire(**values)


Q = make_questionnaire()


def respond(audience: Audience = EMPLOYEE, **answers: int | None) -> Response:
    """Build a response; keyword names use ``_`` where item ids use ``-``."""
    return make_response(
        audience=audience, answers={key.replace("_", "-"): value for key, value in answers.items()}
    )


# Employee 1: purpose-local don't know; hq-only is reverse (2 → 4); skills don't know.
E1 = respond(
    purpose_why=4,
    purpose_local=None,
    purpose_hq_only=2,
    managers_backing=5,
    managers_clear=4,
    managers_follow_up=3,
    skills_basics=None,
    adoption_daily=4,
)
# Employee 2: hq-only 5 → 1; managers-clear don't know; adoption don't know.
E2 = respond(
    purpose_why=2,
    purpose_local=3,
    purpose_hq_only=5,
    managers_backing=2,
    managers_clear=None,
    managers_follow_up=1,
    skills_basics=2,
    adoption_daily=None,
)
# Manager 1: hq-only 1 → 5.
M1 = respond(
    MANAGER,
    purpose_why=5,
    purpose_local=5,
    purpose_hq_only=1,
    managers_backing=4,
    managers_clear=4,
    managers_my_role=2,
    skills_basics=3,
    adoption_daily=5,
)
COMMON = ("managers-backing", "managers-clear")
PURPOSE = ("purpose-why", "purpose-local", "purpose-hq-only")


def cases(lever: str, items: tuple[str, ...], n: int, *rows: tuple[int, ...]) -> CompleteCases:
    """Build complete-case sums from the scored rows, written out in each test."""
    assert len(rows) == n
    return CompleteCases(
        lever,
        items,
        n,
        tuple(sum(row[i] for row in rows) for i in range(len(items))),
        tuple(sum(row[i] ** 2 for row in rows) for i in range(len(items))),
        sum(sum(row) ** 2 for row in rows),
        tuple(sum(row[i] * sum(row) for row in rows) for i in range(len(items))),
    )


LEVERS = ("purpose", "managers", "skills", "adoption")


def drivers(levers: tuple[str, ...], *rows: tuple[int, ...]) -> DriverSums:
    """Build lever cross-products from each respondent's whole-number indices v."""
    p = len(levers)
    return DriverSums(
        levers,
        len(rows),
        tuple(sum(row[i] for row in rows) for i in range(p)),
        tuple(sum(row[i] * row[j] for row in rows) for i in range(p) for j in range(i, p)),
    )


EMPLOYEE_PART = AudiencePart(
    audience=EMPLOYEE,
    responses=2,
    items=(
        #         raw 1  2  3  4  5, don't know
        ItemTally("adoption-daily", (0, 0, 0, 1, 0), 1),  # E1 4, E2 ?
        ItemTally("managers-backing", (0, 1, 0, 0, 1), 0),  # 5, 2
        ItemTally("managers-clear", (0, 0, 0, 1, 0), 1),  # 4, ?
        ItemTally("managers-follow-up", (1, 0, 1, 0, 0), 0),  # 3, 1
        ItemTally("purpose-hq-only", (0, 1, 0, 0, 1), 0),  # raw 2, 5 (not flipped)
        ItemTally("purpose-local", (0, 0, 1, 0, 0), 1),  # ?, 3
        ItemTally("purpose-why", (0, 1, 0, 1, 0), 0),  # 4, 2
        ItemTally("skills-basics", (0, 1, 0, 0, 0), 1),  # ?, 2
    ),
    levers=(
        # adoption: E1 4 → k 1, v = 3 · 6 = 18 (index 75); E2 has no score
        LeverSums("adoption", 1, 18, 18**2),
        # managers: E1 5, 4, 3 → k 3, S 12, v = 9 · 2 = 18 (75);
        #           E2 2, 1     → k 2, S 3,  v = 1 · 3 = 3 (12.5)
        LeverSums("managers", 2, 18 + 3, 18**2 + 3**2),
        # purpose: E1 4, 4 (hq 2 → 4) → k 2, S 8, v = 6 · 3 = 18 (75);
        #          E2 2, 3, 1 (hq 5 → 1) → k 3, S 6, v = 3 · 2 = 6 (25)
        LeverSums("purpose", 2, 18 + 6, 18**2 + 6**2),
        # skills: E2 2 → v = 1 · 6 = 6 (25)
        LeverSums("skills", 1, 6, 36),
    ),
    complete_cases=(
        cases("managers", COMMON, 1, (5, 4)),  # E2 said don't know to managers-clear
        cases("managers", (*COMMON, "managers-follow-up"), 1, (5, 4, 3)),
        cases("purpose", PURPOSE, 1, (2, 3, 1)),  # E1 said don't know to purpose-local
    ),
    # E1 has no skills score, E2 no adoption score: nobody scored all four levers.
    drivers=(drivers(LEVERS),),
)
MANAGER_PART = AudiencePart(
    audience=MANAGER,
    responses=1,
    items=(
        ItemTally("adoption-daily", (0, 0, 0, 0, 1), 0),
        ItemTally("managers-backing", (0, 0, 0, 1, 0), 0),
        ItemTally("managers-clear", (0, 0, 0, 1, 0), 0),
        ItemTally("managers-my-role", (0, 1, 0, 0, 0), 0),
        ItemTally("purpose-hq-only", (1, 0, 0, 0, 0), 0),
        ItemTally("purpose-local", (0, 0, 0, 0, 1), 0),
        ItemTally("purpose-why", (0, 0, 0, 0, 1), 0),
        ItemTally("skills-basics", (0, 0, 1, 0, 0), 0),
    ),
    levers=(
        LeverSums("adoption", 1, 24, 576),  # 5 → v = 4 · 6 = 24 (100)
        LeverSums("managers", 1, 14, 196),  # 4, 4, 2 → S 10, v = 7 · 2 = 14 (58.33…)
        LeverSums("purpose", 1, 24, 576),  # 5, 5, 5 (hq 1 → 5) → v = 12 · 2 = 24 (100)
        LeverSums("skills", 1, 12, 144),  # 3 → v = 2 · 6 = 12 (50)
    ),
    complete_cases=(
        cases("managers", COMMON, 1, (4, 4)),
        cases("managers", (*COMMON, "managers-my-role"), 1, (4, 4, 2)),
        cases("purpose", PURPOSE, 1, (5, 5, 5)),
    ),
    drivers=(drivers(LEVERS, (24, 14, 12, 24)),),  # purpose, managers, skills, adoption
)
CELL = Aggregate("tiny", 1, 6, (EMPLOYEE_PART, MANAGER_PART), SCHEMA_VERSION)


# -- the scale -----------------------------------------------------------------------


def test_the_index_scale_is_the_lcm_up_to_the_longest_lever_of_one_audience() -> None:
    assert index_scale(Q) == 6  # purpose and managers ask 3 items of one audience
    # managers-* has 8 items, but no audience is asked more than 5 on one lever
    assert index_scale(get_questionnaire("change-readiness")) == 60


def test_a_longer_lever_raises_the_scale_and_is_not_merged_with_the_old_one() -> None:
    longer = make_questionnaire(
        items=(*Q.items, Item("purpose-extra", "purpose", "both", False, EN))
    )
    assert index_scale(longer) == 12  # lcm(1, 2, 3, 4)
    old = aggregate_response(Q, E1)
    new = aggregate_response(longer, E1)
    assert new.scale == 12 and new.part(EMPLOYEE).lever("purpose") == (  # type: ignore[union-attr]
        LeverSums("purpose", 1, 36, 36**2)  # k 2, S 8: v = 6 · 12 / 2 = 36, still 75
    )
    with pytest.raises(AggregateError, match="same questionnaire version"):
        merge(old, new)


# -- building ------------------------------------------------------------------------


def test_one_response_becomes_a_cell_of_its_own_audience() -> None:
    cell = aggregate_response(Q, M1)
    assert cell == Aggregate("tiny", 1, 6, (MANAGER_PART,))
    assert cell.responses == 1 and cell.part(EMPLOYEE) is None


def test_three_responses_give_the_sums_written_out_by_hand() -> None:
    assert aggregate_responses(Q, [E1, E2, M1]) == CELL
    assert merge_all(aggregate_response(Q, r) for r in [M1, E2, E1]) == CELL
    assert CELL.responses == 3


def test_missing_answers_are_not_counted_as_dont_know() -> None:
    cell = aggregate_response(Q, respond(purpose_why=4))
    part = cell.part(EMPLOYEE)
    assert part is not None
    assert part.tally("purpose-why") == ItemTally("purpose-why", (0, 0, 0, 1, 0), 0)
    assert part.tally("purpose-local") == ItemTally("purpose-local", (0, 0, 0, 0, 0), 0)
    assert part.lever("managers") == LeverSums("managers", 0, 0, 0)


def test_answers_to_items_the_audience_is_not_asked_are_ignored() -> None:
    stray = respond(purpose_why=4, managers_my_role=1)  # an employee answering a manager item
    assert aggregate_response(Q, stray) == aggregate_response(Q, respond(purpose_why=4))
    assert aggregate_response(Q, stray).part(EMPLOYEE).tally("managers-my-role") is None  # type: ignore[union-attr]


def test_the_empty_aggregate_holds_no_parts() -> None:
    empty = empty_aggregate(Q)
    assert empty == Aggregate("tiny", 1, 6) == aggregate_responses(Q, [])
    assert empty.responses == 0
    assert score_lever(Q, empty, "purpose") == scoring.score_lever(Q, [], "purpose")


# -- statistics on the hand-built cell -------------------------------------------------


def test_lever_scores_match_scoring_and_the_hand_computed_values() -> None:
    raw = [E1, E2, M1]
    purpose = score_lever(Q, CELL, "purpose")
    # indices 75, 25, 100 → mean 200/3; deviations 25/3, −125/3, 100/3
    # Σ dev² = (625 + 15625 + 10000) / 9 = 2916.67 → variance 1458.33 → sd 38.188
    assert purpose == scoring.score_lever(Q, raw, "purpose")
    assert purpose.index == 200 / 3
    assert purpose.sd == pytest.approx(38.18813079, abs=1e-8)
    assert score_levers(Q, CELL) == scoring.score_levers(Q, raw)
    for audience in Audience:
        assert score_levers(Q, CELL, audience) == scoring.score_levers(Q, raw, audience)


def test_a_lever_nobody_scored_has_no_index_and_one_respondent_no_spread() -> None:
    cell = aggregate_responses(Q, [E1])
    assert score_lever(Q, cell, "skills") == scoring.LeverScore("skills", 0, None, None, None, None)
    assert score_lever(Q, cell, "adoption") == scoring.LeverScore(
        "adoption", 1, 75.0, None, None, None
    )


def test_an_unknown_lever_or_item_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        score_lever(Q, CELL, "nope")
    with pytest.raises(KeyError):
        distribute_lever(Q, CELL, "nope")
    with pytest.raises(KeyError):
        distribute_item(Q, CELL, "nope")


def test_an_item_distribution_keeps_raw_answers_and_flags_reverse_items() -> None:
    result = distribute_item(Q, CELL, "purpose-hq-only")
    assert result == scoring.Distribution((1, 1, 0, 0, 1), 0, reverse=True)
    assert result.favourable == 200 / 3  # raw 1 and 2 are favourable on a reverse item
    for item in Q.items:
        assert distribute_item(Q, CELL, item.id) == scoring.distribute_item(item, [E1, E2, M1])


def test_a_lever_distribution_counts_scored_answers_with_reverse_items_flipped() -> None:
    # scored purpose answers: E1 4, 4 (?); E2 2, 3, 1; M1 5, 5, 5
    result = distribute_lever(Q, CELL, "purpose")
    assert result == scoring.Distribution((1, 1, 1, 2, 3), 1)
    assert result.favourable == 500 / 8
    for lever in Q.levers:
        assert distribute_lever(Q, CELL, lever.id) == scoring.distribute_lever(
            Q, [E1, E2, M1], lever.id
        )


def test_the_audience_gap_is_manager_minus_employee() -> None:
    gap = compare_audiences(Q, CELL, "purpose")
    assert gap == scoring.compare_audiences(Q, [E1, E2, M1], "purpose")
    assert gap.gap == 100 - 50  # employees 75 and 25, the manager 100


def test_the_barrier_is_the_first_lever_below_sixty() -> None:
    # employees: purpose 50, managers 43.75 → purpose comes first
    barrier = find_barrier(Q, CELL, audience=EMPLOYEE)
    assert barrier is not None and barrier.lever_id == "purpose" and barrier.index == 50
    assert find_barrier(Q, CELL, audience=MANAGER) == scoring.find_barrier(
        Q, scoring.score_levers(Q, [M1], MANAGER)
    )
    assert find_barrier(Q, CELL, needs_attention=10) is None


def test_waves_are_compared_as_scoring_compares_them() -> None:
    before = [respond(skills_basics=a) for a in (2, 3, 2, 1)]  # indices 25, 50, 25, 0: 25
    after = [respond(skills_basics=a) for a in (4, 5, 4, 4)]  # 75, 100, 75, 75: 81.25
    result = compare_waves(
        Q, aggregate_responses(Q, before), aggregate_responses(Q, after), "skills"
    )
    assert result == scoring.compare_waves(Q, before, after, "skills")
    assert result.outcome is scoring.Trend.IMPROVED and result.change == 56.25


def test_describe_sums_gives_the_same_score_as_describe_indices() -> None:
    # three respondents with v 0, 60 and 240 on scale 60: indices 0, 25 and 100
    sums = LeverSums("skills", 3, 300, 60**2 + 240**2)
    assert describe_sums(sums, 60) == scoring.describe_indices("skills", [0.0, 25.0, 100.0])


# -- Cronbach's alpha ----------------------------------------------------------------


MANAGERS_ROWS = {
    EMPLOYEE: [(5, 4, 3), (2, 2, 1)],  # backing, clear, follow-up
    MANAGER: [(4, 4, 2), (1, 2, 3)],  # backing, clear, my-role
}


def managers_responses() -> list[Response]:
    """Two employees and two managers answering every managers item."""
    return [
        respond(managers_backing=b, managers_clear=c, managers_follow_up=f)
        for b, c, f in MANAGERS_ROWS[EMPLOYEE]
    ] + [
        respond(MANAGER, managers_backing=b, managers_clear=c, managers_my_role=r)
        for b, c, r in MANAGERS_ROWS[MANAGER]
    ]


def test_alpha_over_a_mixed_group_uses_only_the_items_both_audiences_answer() -> None:
    # backing, clear: (5, 4), (2, 2), (4, 4), (1, 2)
    # variances: backing 5, 2, 4, 1 → 10/3; clear 4, 2, 4, 2 → 4/3; Σ = 14/3
    # totals 9, 4, 8, 3: mean 6, Σ dev² = 26 → 26/3; α = 2 · (1 − 14/26) = 12/13
    responses = managers_responses()
    cells = [aggregate_response(Q, r) for r in responses]
    result = cronbach_alpha(Q, merge_all(cells), "managers")
    assert result == scoring.cronbach_alpha(Q, responses, "managers")
    assert (result.k, result.n, result.alpha) == (2, 4, 12 / 13)


def test_alpha_for_one_audience_uses_its_own_items() -> None:
    responses = managers_responses()
    merged = aggregate_responses(Q, responses)
    for audience in Audience:
        result = cronbach_alpha(Q, merged, "managers", audience)
        assert result == scoring.cronbach_alpha(Q, responses, "managers", audience)
        assert (result.k, result.n, result.alpha) == (3, 2, None)  # 2 cases are too few


def test_an_audience_that_scored_nothing_does_not_narrow_the_items() -> None:
    employees = [
        respond(managers_backing=b, managers_clear=c, managers_follow_up=f)
        for b, c, f in [(5, 4, 3), (2, 2, 1), (4, 4, 5), (1, 3, 2)]
    ]
    silent_manager = respond(MANAGER, managers_backing=None, managers_my_role=None)
    responses = [*employees, silent_manager]
    result = cronbach_alpha(Q, aggregate_responses(Q, responses), "managers")
    assert result == scoring.cronbach_alpha(Q, responses, "managers")
    assert (result.k, result.n) == (3, 4)


def test_alpha_of_one_item_counts_its_scored_answers_and_has_no_value() -> None:
    responses = [respond(skills_basics=a) for a in (1, 3, None, 5)] + [
        respond(MANAGER, skills_basics=2)
    ]
    result = cronbach_alpha(Q, aggregate_responses(Q, responses), "skills")
    assert result == scoring.cronbach_alpha(Q, responses, "skills")
    assert (result.k, result.n, result.alpha) == (1, 4, None)


def test_alpha_of_a_mixed_group_without_common_items_counts_every_response() -> None:
    # skills asks employees and managers one item each, and nothing of both
    split = make_questionnaire(
        items=(
            *(i for i in Q.items if i.id != "skills-basics"),
            Item("skills-mine", "skills", "employee", False, EN),
            Item("skills-team", "skills", "manager", False, EN),
        )
    )
    responses = [respond(skills_mine=4), respond(skills_mine=None), respond(MANAGER, skills_team=2)]
    result = cronbach_alpha(split, aggregate_responses(split, responses), "skills")
    assert result == scoring.cronbach_alpha(split, responses, "skills")
    assert (result.k, result.n, result.alpha) == (0, 3, None)


def test_alpha_is_unknown_when_every_total_is_the_same() -> None:
    responses = [
        respond(purpose_why=a, purpose_local=b, purpose_hq_only=c)
        for a, b, c in [(1, 5, 3), (5, 1, 3), (3, 3, 3)]  # scored totals 9, 9, 9
    ]
    result = cronbach_alpha(Q, aggregate_responses(Q, responses), "purpose")
    assert result == scoring.cronbach_alpha(Q, responses, "purpose")
    assert (result.n, result.alpha) == (3, None)


# -- merge and subtract -----------------------------------------------------------------


def test_merging_with_the_empty_aggregate_changes_nothing() -> None:
    assert merge(CELL, empty_aggregate(Q)) == CELL == merge(empty_aggregate(Q), CELL)


def test_merge_is_commutative_and_associative() -> None:
    a, b, c = (aggregate_response(Q, r) for r in (E1, E2, M1))
    assert merge(a, b) == merge(b, a)
    assert merge(merge(a, b), c) == merge(a, merge(b, c)) == CELL


def test_subtracting_a_merged_aggregate_gives_back_the_other() -> None:
    a, b = aggregate_responses(Q, [E1, M1]), aggregate_response(Q, E2)
    assert subtract(merge(a, b), b) == a
    assert subtract(merge(a, b), a) == b


def test_subtracting_everything_leaves_the_empty_aggregate() -> None:
    assert subtract(CELL, CELL) == empty_aggregate(Q)
    # the manager's part goes entirely, so the result has only the employees'
    assert subtract(CELL, aggregate_response(Q, M1)).parts == (EMPLOYEE_PART,)


def test_subtract_refuses_to_go_negative() -> None:
    twice = aggregate_responses(Q, [E2, E2])
    with pytest.raises(AggregateError, match="negative"):
        subtract(aggregate_response(Q, E1), twice)
    with pytest.raises(AggregateError, match="negative"):
        subtract(CELL, aggregate_response(Q, respond(skills_basics=5)))


def test_subtract_refuses_an_audience_the_aggregate_does_not_hold() -> None:
    with pytest.raises(AggregateError, match="manager"):
        subtract(aggregate_response(Q, E1), aggregate_response(Q, M1))


@pytest.mark.parametrize(
    "other",
    [
        make_questionnaire(id="other"),
        make_questionnaire(version=2),
    ],
    ids=["another questionnaire", "another version"],
)
def test_merge_refuses_answers_to_another_questionnaire_or_version(other: Questionnaire) -> None:
    with pytest.raises(AggregateError, match="same questionnaire version"):
        merge(CELL, aggregate_response(other, E1))
    with pytest.raises(AggregateError, match="same questionnaire version"):
        subtract(CELL, aggregate_response(other, E1))


def test_merge_refuses_parts_that_list_different_items_under_one_version() -> None:
    edited = make_questionnaire(items=tuple(i for i in Q.items if i.id != "purpose-local"))
    with pytest.raises(AggregateError, match="rebuild them"):
        merge(CELL, aggregate_response(edited, E1))


def test_merge_all_needs_at_least_one_aggregate() -> None:
    with pytest.raises(AggregateError, match="empty_aggregate"):
        merge_all([])


def test_scoring_with_another_version_is_refused() -> None:
    with pytest.raises(AggregateError, match="v1"):
        score_lever(make_questionnaire(version=2), CELL, "purpose")
    with pytest.raises(AggregateError):
        compare_waves(Q, CELL, aggregate_response(make_questionnaire(version=2), E1), "purpose")


def test_an_aggregate_refuses_counts_that_no_answers_give() -> None:
    with pytest.raises(AggregateError, match="whole number"):
        ItemTally("purpose-why", (0, 0, -1, 0, 0), 0)
    with pytest.raises(AggregateError, match="whole number"):
        LeverSums("purpose", True, 0, 0)
    with pytest.raises(AggregateError, match="no set of answers"):
        LeverSums("purpose", 2, 10, 40)  # 2 · 40 < 10²: a negative variance
    with pytest.raises(AggregateError, match="exceeds"):
        AudiencePart(EMPLOYEE, 1, (), (LeverSums("purpose", 2, 0, 0),), ())
    with pytest.raises(AggregateError, match="beyond the index scale"):
        Aggregate("tiny", 1, 6, (AudiencePart(EMPLOYEE, 1, (), (LeverSums("p", 1, 25, 625),), ()),))


# -- storage -------------------------------------------------------------------------


def test_to_dict_writes_plain_numbers_in_a_fixed_layout() -> None:
    data = to_dict(aggregate_response(Q, M1))
    assert list(data) == ["schema", "questionnaire_id", "questionnaire_version", "scale", "parts"]
    part = data["parts"][0]  # type: ignore[index]
    assert list(part) == [
        "audience",
        "responses",
        "items",
        "levers",
        "complete_cases",
        "comment_count",
        "drivers",
    ]
    assert part["audience"] == "manager" and part["responses"] == 1
    assert part["comment_count"] == 0
    assert part["items"]["purpose-hq-only"] == [1, 0, 0, 0, 0, 0]
    assert part["levers"]["managers"] == [1, 14, 196]
    assert part["complete_cases"][1] == {
        "lever": "managers",
        "items": ["managers-backing", "managers-clear", "managers-my-role"],
        "n": 1,
        "sum_x": [4, 4, 2],
        "sum_x2": [16, 16, 4],
        "sum_total2": 100,
        "sum_xt": [40, 40, 20],
    }
    # purpose, managers, skills, adoption: v = 24, 14, 12, 24
    assert part["drivers"] == [
        {
            "levers": ["purpose", "managers", "skills", "adoption"],
            "n": 1,
            "sum_v": [24, 14, 12, 24],
            "cross": [576, 336, 288, 576, 196, 168, 336, 144, 288, 576],
        }
    ]


def test_to_dict_round_trips_through_json_text() -> None:
    text = json.dumps(to_dict(CELL))
    assert from_dict(json.loads(text)) == CELL
    assert json.dumps(to_dict(from_dict(json.loads(text)))) == text
    assert from_dict(to_dict(empty_aggregate(Q))) == empty_aggregate(Q)


def test_the_stored_text_does_not_depend_on_how_the_cell_was_built() -> None:
    one_way = aggregate_responses(Q, [E1, E2, M1])
    other_way = merge(aggregate_response(Q, M1), aggregate_responses(Q, [E2, E1]))
    assert json.dumps(to_dict(one_way)) == json.dumps(to_dict(other_way))


def damaged(change: str) -> dict[str, Any]:
    """Return the stored form of CELL with one thing broken."""
    data: dict[str, Any] = copy.deepcopy(to_dict(CELL))
    employee = data["parts"][0]
    if change == "unknown schema":
        data["schema"] = 99
    elif change == "a flag instead of a count":
        employee["items"]["purpose-why"][0] = True
    elif change == "a negative count":
        employee["levers"]["purpose"][1] = -6
    elif change == "a float":
        employee["responses"] = 2.0
    elif change == "a missing field":
        del employee["levers"]
    elif change == "an unknown field":
        data["comment"] = "hi"
    elif change == "an unknown audience":
        employee["audience"] = "visitor"
    elif change == "a short count list":
        employee["items"]["purpose-why"] = [0, 1, 0]
    elif change == "impossible sums":
        employee["levers"]["purpose"] = [2, 24, 100]
    elif change == "parts out of order":
        data["parts"].reverse()
    elif change == "more answers than responses":
        employee["items"]["purpose-why"] = [3, 0, 0, 0, 0, 0]
    elif change == "more comments than responses":
        employee["comment_count"] = 3
    elif change == "comment texts in a schema 3 record":
        employee.update(comment_count=1, comments=["hi"])
    elif change == "texts that are not text in a schema 2 record":
        data["schema"] = 2
        employee.update(comment_count=1, comments=[5])
    elif change == "comments in a schema 1 record":
        data["schema"] = 1
    elif change == "one-item complete cases":
        entry = employee["complete_cases"][0]
        entry.update(items=["managers-backing"], sum_x=[5], sum_x2=[25], sum_total2=25)
    elif change == "item-total sums that do not add up":
        employee["complete_cases"][0]["sum_xt"][0] += 1
    elif change == "cross-products of one lever":
        employee["drivers"][0].update(levers=["purpose"], sum_v=[0], cross=[0])
    elif change == "cross-products no answers give":
        manager = data["parts"][1]
        manager["drivers"][0]["cross"][0] = 1  # Σv² = 1 with Σv = 24 over one respondent
    elif change == "cross-products in a schema 3 record":
        data["schema"] = 3
        for part in data["parts"]:
            for entry in part["complete_cases"]:
                del entry["sum_xt"]
    return data


@pytest.mark.parametrize(
    "change",
    [
        "unknown schema",
        "a flag instead of a count",
        "a negative count",
        "a float",
        "a missing field",
        "an unknown field",
        "an unknown audience",
        "a short count list",
        "impossible sums",
        "parts out of order",
        "more answers than responses",
        "more comments than responses",
        "comment texts in a schema 3 record",
        "texts that are not text in a schema 2 record",
        "comments in a schema 1 record",
        "one-item complete cases",
        "item-total sums that do not add up",
        "cross-products of one lever",
        "cross-products no answers give",
        "cross-products in a schema 3 record",
    ],
)
def test_from_dict_refuses_a_damaged_record(change: str) -> None:
    with pytest.raises(AggregateError):
        from_dict(damaged(change))


def test_from_dict_refuses_what_is_not_a_mapping() -> None:
    with pytest.raises(AggregateError, match="mapping"):
        from_dict([1, 2, 3])


def test_one_part_of_the_default_questionnaire_stays_small_at_100000_responses() -> None:
    # A dashboard view queries every cell (DynamoDB bills a Query by the total size
    # returned, 0.5 RCU per 4 KB): one audience's part must stay about one unit
    # however many responses it sums (schema 4's lever cross-products included).
    questionnaire = get_questionnaire("change-readiness")
    answers = {item.id: 5 for item in questionnaire.items_for(MANAGER)}
    one = to_dict(aggregate_response(questionnaire, respond(MANAGER, **answers)))
    # 100,000 identical responses: every sum is 100,000 times one response's, the
    # longest numbers a cell of that size can hold
    part = one["parts"][0]  # type: ignore[index]
    many = copy.deepcopy(one)
    many_part = many["parts"][0]  # type: ignore[index]
    many_part["responses"] = 100_000
    many_part["items"] = {k: [c * 100_000 for c in v] for k, v in part["items"].items()}
    many_part["levers"] = {k: [c * 100_000 for c in v] for k, v in part["levers"].items()}
    for entry in many_part["complete_cases"]:
        entry["n"] *= 100_000
        entry["sum_x"] = [c * 100_000 for c in entry["sum_x"]]
        entry["sum_x2"] = [c * 100_000 for c in entry["sum_x2"]]
        entry["sum_total2"] *= 100_000
        entry["sum_xt"] = [c * 100_000 for c in entry["sum_xt"]]
    for entry in many_part["drivers"]:
        entry["n"] *= 100_000
        entry["sum_v"] = [c * 100_000 for c in entry["sum_v"]]
        entry["cross"] = [c * 100_000 for c in entry["cross"]]
    from_dict(many)  # still a valid aggregate
    assert len(json.dumps(many).encode()) < 4608


# -- comments ----------------------------------------------------------------------


def with_comment(response: Response, comment: str | None) -> Response:
    """Return ``response`` with another comment (a new key, so it is another response)."""
    return make_response(
        audience=response.audience, answers=dict(response.answers), comment=comment
    )


def test_a_cell_counts_only_real_comments_and_holds_none_of_their_text() -> None:
    cell = aggregate_responses(
        Q,
        [
            with_comment(E1, "More training, please"),
            with_comment(E2, "   "),
            with_comment(E2, None),
            with_comment(M1, "  Ask us first  "),
            with_comment(E1, "More training, please"),
        ],
    )
    employees, managers = cell.part(EMPLOYEE), cell.part(MANAGER)
    assert employees is not None and managers is not None
    assert employees.comment_count == 2 and employees.responses == 4
    assert managers.comment_count == 1
    stored = json.dumps(to_dict(cell))
    assert "training" not in stored and "Ask us" not in stored


def test_comment_counts_add_up_and_subtract_like_counts() -> None:
    first = aggregate_responses(Q, [with_comment(E1, "a"), with_comment(M1, "b")])
    second = aggregate_responses(Q, [with_comment(E2, "a"), with_comment(E2, "c")])
    both = merge(first, second)
    employees = both.part(EMPLOYEE)
    assert employees is not None and employees.comment_count == 3
    assert subtract(both, second) == first
    with pytest.raises(AggregateError, match="negative"):
        subtract(first, aggregate_responses(Q, [with_comment(E1, "a"), with_comment(E2, "x")]))


def test_collected_comments_are_kept_as_written_per_audience_without_blank_ones() -> None:
    kept = collect_comments(
        "s1",
        [
            (EMPLOYEE, "More training, please"),
            (EMPLOYEE, "   "),
            (EMPLOYEE, None),
            (MANAGER, "  Ask us first  "),
            (EMPLOYEE, "More training, please"),
        ],
    )
    assert kept.texts == {
        EMPLOYEE: ("More training, please", "More training, please"),
        MANAGER: ("  Ask us first  ",),
    }
    assert kept.snapshot_id == "s1" and kept.count == 3
    assert collect_comments("s1", [(EMPLOYEE, " "), (MANAGER, None)]) == DepartmentComments("s1")


def test_comments_are_kept_in_hash_order_whatever_order_they_came_in() -> None:
    texts = [f"comment {i}" for i in range(12)]
    forwards = collect_comments("s1", [(EMPLOYEE, t) for t in texts])
    backwards = collect_comments("s1", [(EMPLOYEE, t) for t in reversed(texts)])
    assert forwards == backwards
    assert list(forwards.texts[EMPLOYEE]) == sorted(texts, key=comment_order)
    assert list(forwards.texts[EMPLOYEE]) != texts
    assert list(forwards.texts[EMPLOYEE]) != sorted(texts)


def test_cap_keeps_the_first_comments_in_hash_order_within_the_budget_per_audience() -> None:
    texts = [f"{i:03d} " + "x" * 40 for i in range(20)]
    cost = comment_cost(texts[0])
    assert cost == 46  # the text and its two quotes
    written = [(EMPLOYEE, t) for t in texts] + [(MANAGER, t) for t in texts[:3]]
    capped = collect_comments("s1", written, budget=5 * cost + cost // 2)
    assert capped.texts[EMPLOYEE] == tuple(sorted(texts, key=comment_order)[:5])
    assert capped.texts[MANAGER] == tuple(sorted(texts[:3], key=comment_order))
    assert collect_comments("s1", written, budget=20 * cost).count == 23
    assert collect_comments("s1", written, budget=cost - 1) == DepartmentComments("s1")
    with pytest.raises(AggregateError, match="negative"):
        collect_comments("s1", written, budget=-1)


def test_a_comment_costs_what_its_escaped_json_takes() -> None:
    assert comment_cost("Mere træning 🙂") == len(json.dumps("Mere træning 🙂"))
    assert comment_cost("🙂") == 14  # a surrogate pair, escaped, and two quotes


def test_a_departments_texts_at_their_largest_still_fit_one_dynamodb_item() -> None:
    longest = "🙂" * 5000  # MAX_COMMENT_LENGTH characters, each 12 bytes escaped
    written = [(a, f"{n}{longest}"[:5000]) for a in (EMPLOYEE, MANAGER) for n in range(40)]
    kept = collect_comments("s1", written)
    stored = json.dumps(comments_to_dict(kept), separators=(",", ":"))
    assert len(stored.encode()) < 400 * 1024 - 1024  # room for the key and attribute names
    assert len(stored.encode()) <= 2 * COMMENT_BUDGET + 100
    assert all(0 < len(kept.texts[a]) < 40 for a in (EMPLOYEE, MANAGER))


def test_stored_comments_round_trip_and_a_damaged_record_is_refused() -> None:
    kept = collect_comments("s1", [(MANAGER, "b"), (EMPLOYEE, "Mere træning 🙂"), (EMPLOYEE, "a")])
    data = json.loads(json.dumps(comments_to_dict(kept)))
    assert list(data) == ["employee", "manager"]
    assert comments_from_dict("s1", data) == kept
    for damaged_texts in (
        {"visitor": ["a"]},
        {"employee": ["  "]},
        {"employee": [5]},
        {"employee": "a"},
        {"employee": []},
        {"employee": sorted(["a", "b"], key=comment_order, reverse=True)},
        ["a"],
    ):
        with pytest.raises(AggregateError):
            comments_from_dict("s1", damaged_texts)


def test_a_snapshot_holds_only_its_own_departments_texts() -> None:
    cell = aggregate_responses(Q, [with_comment(E1, "a")])
    texts = collect_comments("s1", [(EMPLOYEE, "a")])
    when = datetime(2026, 11, 23, tzinfo=UTC)
    snapshot = Snapshot("s", "w", "s1", when, {"A": cell}, {"A": texts})
    assert snapshot.comments_of("A") == texts
    assert snapshot.comments_of("B") == DepartmentComments("s1")
    with pytest.raises(AggregateError, match="belong"):
        Snapshot("s", "w", "s2", when, {"A": cell}, {"A": texts})
    with pytest.raises(AggregateError, match="belong"):
        Snapshot("s", "w", "s1", when, {"B": cell}, {"A": texts})
    with pytest.raises(AggregateError, match="without its comments"):
        Snapshot("s", "w", "s1", when, {"A": cell}).comments_of("A")


def test_a_schema_1_record_is_still_read_without_comments() -> None:
    data: dict[str, Any] = copy.deepcopy(to_dict(aggregate_responses(Q, [E1, M1])))
    data["schema"] = 1
    for part in data["parts"]:
        del part["comment_count"]
        del part["drivers"]
        for entry in part["complete_cases"]:
            del entry["sum_xt"]
    old = from_dict(data)
    assert old.schema == 1 and old.responses == 2
    assert to_dict(old) == data
    with pytest.raises(AggregateError, match="only answers to the same"):
        merge(old, aggregate_response(Q, E2))


def test_a_schema_2_record_is_read_without_the_texts_it_held() -> None:
    data: dict[str, Any] = copy.deepcopy(
        to_dict(aggregate_responses(Q, [with_comment(E1, "kept in the cell back then"), M1]))
    )
    data["schema"] = 2
    for part in data["parts"]:
        del part["drivers"]
        for entry in part["complete_cases"]:
            del entry["sum_xt"]
    employees_data, managers_data = sorted(data["parts"], key=lambda p: p["audience"])
    employees_data["comments"] = ["kept in the cell back then"]
    managers_data["comments"] = []
    old = from_dict(data)
    assert old.schema == 2 and old.schema != SCHEMA_VERSION
    employees = old.part(EMPLOYEE)
    assert employees is not None and employees.comment_count == 1
    assert "kept in the cell" not in json.dumps(to_dict(old))
