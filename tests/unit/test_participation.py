"""Participation counts hide small groups, and the total never gives a hidden one away."""

from __future__ import annotations

import pytest

from portal.domain.participation import (
    GroupCount,
    department_figures,
    is_under_target,
    response_rate,
    shown_count,
    summarise_participation,
    total_may_be_shown,
)


def group(code: str, responses: int, headcount: int = 20, **overrides: object) -> GroupCount:
    """Build a department's raw count."""
    fields: dict[str, object] = {"name": f"Dept {code}", "site": "Aarhus", "retired": False}
    fields |= overrides
    return GroupCount(code=code, responses=responses, headcount=headcount, **fields)  # type: ignore[arg-type]


# -- one department --------------------------------------------------------------


def test_a_count_exactly_at_the_minimum_is_shown() -> None:
    assert shown_count(5, 5) == 5


def test_a_count_one_below_the_minimum_is_hidden() -> None:
    assert shown_count(4, 5) is None


def test_a_department_without_responses_is_hidden_like_a_small_one() -> None:
    assert shown_count(0, 5) is None
    assert department_figures(0, 40, 5) == department_figures(3, 40, 5)


def test_the_minimum_comes_from_the_wave_not_a_fixed_five() -> None:
    assert shown_count(5, 7) is None and shown_count(7, 7) == 7
    assert shown_count(3, 3) == 3


def test_a_hidden_department_shows_no_rate() -> None:
    figures = department_figures(4, 10, 5)
    assert figures.hidden and figures.responses is None and figures.rate is None


@pytest.mark.parametrize(
    ("responses", "headcount", "rate"),
    [(5, 12, 41.6), (2, 3, 66.6), (1, 8, 12.5), (12, 12, 100.0), (999, 1000, 99.9),
     (15, 12, 125.0)],
)  # fmt: skip
def test_the_rate_has_one_decimal_cut_off_never_rounded_up(
    responses: int, headcount: int, rate: float
) -> None:
    assert response_rate(responses, headcount) == rate


def test_a_department_without_headcount_has_no_rate_and_no_flag() -> None:
    assert response_rate(7, 0) is None
    figures = department_figures(7, 0, 5)
    assert figures.responses == 7 and figures.rate is None
    assert figures.no_headcount and not figures.under_target


@pytest.mark.parametrize(
    ("responses", "headcount", "flagged"),
    [(5, 10, True), (6, 10, False), (59, 100, True), (60, 100, False), (5996, 10000, True)],
)  # fmt: skip
def test_under_sixty_per_cent_is_flagged_exactly(
    responses: int, headcount: int, flagged: bool
) -> None:
    assert is_under_target(responses, headcount) is flagged


def test_a_rate_that_would_round_to_sixty_is_shown_below_it_and_flagged() -> None:
    figures = department_figures(5996, 10000, 5)
    assert figures.rate == 59.9 and figures.under_target


def test_a_hidden_department_is_flagged_only_when_every_hidden_count_is_under_target() -> None:
    # Fewer than 5 of 40 is under 60 % whatever the count, so the flag says nothing new.
    assert department_figures(0, 40, 5).under_target
    assert department_figures(4, 40, 5).under_target
    # Fewer than 5 of 5 could be 80 %: a flag would tell 0–2 from 3–4, so there is none.
    assert not department_figures(0, 5, 5).under_target
    assert not department_figures(4, 5, 5).under_target


# -- the total ---------------------------------------------------------------------


def test_a_total_below_the_minimum_is_withheld() -> None:
    assert not total_may_be_shown([4], 5)
    assert not total_may_be_shown([2, 2], 5)


def test_a_total_exactly_at_the_minimum_is_shown_when_nothing_is_hidden() -> None:
    assert total_may_be_shown([5], 5)
    assert total_may_be_shown([5, 9], 5)


def test_a_total_that_would_reveal_one_hidden_department_is_withheld() -> None:
    # 5 + 3 = 8 shown next to "5" would give the hidden 3 away.
    assert not total_may_be_shown([5, 3], 5)


def test_a_total_that_would_reveal_hidden_departments_are_empty_is_withheld() -> None:
    assert not total_may_be_shown([5, 0], 5)
    assert not total_may_be_shown([9, 0, 0], 5)


def test_a_total_is_shown_when_the_hidden_departments_together_reach_the_minimum() -> None:
    assert total_may_be_shown([5, 3, 2], 5)
    assert total_may_be_shown([4, 1], 5)  # nothing shown but the total itself


def test_the_table_is_sorted_by_code_and_hides_small_departments() -> None:
    table = summarise_participation(
        [group("WH", 3, 40), group("SALES", 5, 12), group("HR", 0, 0)], 5
    )
    assert [row.code for row in table.rows] == ["HR", "SALES", "WH"]
    hr, sales, wh = (row.figures for row in table.rows)
    assert hr.hidden and hr.no_headcount
    assert sales.responses == 5 and sales.rate == 41.6 and sales.under_target
    assert wh.hidden and wh.rate is None
    assert table.total.hidden and table.total.rate is None and not table.total.under_target
    assert table.total.headcount == 52


def test_the_table_total_shows_responses_rate_and_flag_when_safe() -> None:
    table = summarise_participation([group("A", 8, 10), group("B", 6, 10)], 5)
    assert table.total.responses == 14 and table.total.rate == 70.0
    assert not table.total.under_target


def test_the_table_looks_the_same_whether_a_small_department_has_none_or_some() -> None:
    empty = summarise_participation([group("A", 5, 12), group("B", 0, 40)], 5)
    some = summarise_participation([group("A", 5, 12), group("B", 3, 40)], 5)
    assert empty == some


def test_a_retired_department_keeps_its_row_and_mark() -> None:
    table = summarise_participation([group("OLD", 6, 10, retired=True)], 5)
    [row] = table.rows
    assert row.retired and row.figures.responses == 6
