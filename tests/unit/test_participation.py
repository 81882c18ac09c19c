"""Participation lays out the results' decided counts: hidden reads alike, rates are exact.

Which counts are shown is decided by ``anonymity.disclose`` (the results'
decision, see tests/web/test_one_decision.py); here only the layout.
"""

from __future__ import annotations

import pytest

from portal.domain.participation import (
    GroupCount,
    department_figures,
    is_under_target,
    response_rate,
    summarise_participation,
)


def group(code: str, responses: int | None, headcount: int = 20, **overrides: object) -> GroupCount:
    """Build a department's decided count (``None``: not published)."""
    fields: dict[str, object] = {"name": f"Dept {code}", "site": "Aarhus", "retired": False}
    fields |= overrides
    return GroupCount(code=code, responses=responses, headcount=headcount, **fields)  # type: ignore[arg-type]


# -- one department --------------------------------------------------------------


def test_a_hidden_department_reads_like_an_empty_one_whatever_its_count() -> None:
    # Hidden for being small or to protect a sibling: the decision says None for both.
    assert department_figures(None, 40) == department_figures(None, 40)
    assert department_figures(None, 40).responses is None


def test_a_hidden_department_shows_no_rate() -> None:
    figures = department_figures(None, 10)
    assert figures.hidden and figures.responses is None and figures.rate is None


@pytest.mark.parametrize(
    ("responses", "headcount", "rate"),
    [(5, 12, 41.7), (2, 3, 66.7), (1, 8, 12.5), (12, 12, 100.0), (999, 1000, 99.9),
     (9999, 10000, 100.0), (1, 3, 33.3), (15, 12, 125.0)],
)  # fmt: skip
def test_the_rate_has_one_decimal_rounded_half_up(
    responses: int, headcount: int, rate: float
) -> None:
    assert response_rate(responses, headcount) == rate


def test_a_department_without_headcount_has_no_rate_and_no_flag() -> None:
    assert response_rate(7, 0) is None
    figures = department_figures(7, 0)
    assert figures.responses == 7 and figures.rate is None
    assert figures.no_headcount and not figures.under_target


@pytest.mark.parametrize(
    ("responses", "headcount", "flagged"),
    [(5, 10, True), (6, 10, False), (59, 100, True), (60, 100, False), (5996, 10000, False),
     (5994, 10000, True)],
)  # fmt: skip
def test_under_sixty_per_cent_is_flagged_on_the_rate_as_shown(
    responses: int, headcount: int, flagged: bool
) -> None:
    assert is_under_target(responses, headcount) is flagged


def test_a_rate_that_rounds_to_sixty_is_shown_as_sixty_and_not_flagged() -> None:
    figures = department_figures(5996, 10000)
    assert figures.rate == 60.0 and not figures.under_target


def test_a_hidden_department_is_never_flagged() -> None:
    # It may be hidden to protect another department with any count at all, so a
    # flag would be a claim about a number nobody may know.
    assert not department_figures(None, 40).under_target
    assert not department_figures(None, 5).under_target


# -- the table ---------------------------------------------------------------------


def test_the_table_is_sorted_by_code_and_shows_only_decided_counts() -> None:
    table = summarise_participation(
        [group("WH", None, 40), group("SALES", 5, 12), group("HR", None, 0)], None, 5
    )
    assert [row.code for row in table.rows] == ["HR", "SALES", "WH"]
    hr, sales, wh = (row.figures for row in table.rows)
    assert hr.hidden and hr.no_headcount
    assert sales.responses == 5 and sales.rate == 41.7 and sales.under_target
    assert wh.hidden and wh.rate is None
    assert table.total.hidden and table.total.rate is None and not table.total.under_target
    assert table.total.headcount == 52


def test_the_table_total_shows_responses_rate_and_flag_when_safe() -> None:
    table = summarise_participation([group("A", 8, 10), group("B", 6, 10)], 14, 5)
    assert table.total.responses == 14 and table.total.rate == 70.0
    assert not table.total.under_target


def test_a_withheld_total_shows_no_count_rate_or_flag() -> None:
    table = summarise_participation([group("A", None, 10), group("B", None, 10)], None, 5)
    assert table.total.hidden and table.total.rate is None and not table.total.under_target
    assert table.total.headcount == 20


def test_a_retired_department_keeps_its_row_and_mark() -> None:
    table = summarise_participation([group("OLD", 6, 10, retired=True)], 6, 5)
    [row] = table.rows
    assert row.retired and row.figures.responses == 6
