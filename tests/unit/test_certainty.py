"""Decisions on intervals: under the line, how sure the barrier is, the managers' gap."""

from __future__ import annotations

import pytest
from scipy import stats

from portal.domain.certainty import (
    UnderLine,
    barrier_certainty,
    manager_gap,
    under_line,
)
from portal.domain.scorecard import ScorecardSettings, When, recommend
from portal.domain.scoring import AudienceGap, LeverScore, find_barrier
from portal.instruments import get_action_catalogue, get_questionnaire

Q = get_questionnaire("change-readiness")
LINE = 60


def score(
    lever_id: str, index: float, low: float | None, high: float | None, n: int = 20
) -> LeverScore:
    sd = None if low is None else 10.0
    return LeverScore(lever_id, n, index, sd, low, high)


def test_a_lever_is_clearly_under_the_line_only_when_its_whole_interval_is() -> None:
    assert under_line(score("purpose", 50, 44, 56), LINE) is UnderLine.CLEARLY
    assert under_line(score("purpose", 55, 48, 62), LINE) is UnderLine.PERHAPS
    assert under_line(score("purpose", 55, None, None, n=1), LINE) is UnderLine.PERHAPS
    assert under_line(score("purpose", 60, 55, 65), LINE) is None
    assert under_line(None, LINE) is None


def levers() -> list[str]:
    return [lever.id for lever in sorted(Q.levers, key=lambda x: x.order) if not lever.outcome]


def test_a_barrier_under_the_line_with_every_earlier_lever_clearly_above_is_clear() -> None:
    first, second, *_ = levers()
    scores = {first: score(first, 75, 70, 80), second: score(second, 45, 40, 50)}
    barrier = find_barrier(Q, scores, LINE)
    found = barrier_certainty(Q, scores, barrier, LINE)
    assert found is not None and found.lever_id == second
    assert found.clear and not found.reaches_line and found.close_to is None


def test_a_barrier_is_not_sure_when_an_earlier_levers_interval_reaches_below_the_line() -> None:
    first, second, *_ = levers()
    scores = {first: score(first, 63, 57, 69), second: score(second, 45, 40, 50)}
    found = barrier_certainty(Q, scores, find_barrier(Q, scores, LINE), LINE)
    assert found is not None and not found.clear and found.close_to == first


def test_a_barrier_is_not_sure_when_its_own_interval_reaches_the_line() -> None:
    first, second, *_ = levers()
    scores = {first: score(first, 80, 75, 85), second: score(second, 57, 50, 64)}
    found = barrier_certainty(Q, scores, find_barrier(Q, scores, LINE), LINE)
    assert found is not None and not found.clear and found.reaches_line
    assert barrier_certainty(Q, scores, None, LINE) is None


def sides(
    n_e: int, mean_e: float, sd_e: float, n_m: int, mean_m: float, sd_m: float
) -> AudienceGap:
    employee = LeverScore("purpose", n_e, mean_e, sd_e, None, None)
    manager = LeverScore("purpose", n_m, mean_m, sd_m, None, None)
    return AudienceGap("purpose", employee, manager, mean_m - mean_e)


def test_a_gap_of_15_points_whose_interval_includes_0_is_no_finding() -> None:
    # 3 managers 20 points above 8 employees, with the spread people show: too few to tell
    gap = sides(8, 50.0, 20.0, 3, 70.0, 20.0)
    found = manager_gap(gap)
    assert found is not None and found.gap == pytest.approx(20.0)
    assert found.ci_low < 0 < found.ci_high and not found.flagged
    v_e, v_m = 20.0**2 / 8, 20.0**2 / 3
    df = (v_e + v_m) ** 2 / (v_e**2 / 7 + v_m**2 / 2)
    half = stats.t.ppf(0.975, df) * (v_e + v_m) ** 0.5
    assert (found.ci_low, found.ci_high) == pytest.approx((20 - half, 20 + half), rel=1e-9)


def test_a_gap_of_15_points_whose_interval_excludes_0_is_a_finding() -> None:
    found = manager_gap(sides(40, 50.0, 15.0, 20, 70.0, 15.0))
    assert found is not None and found.ci_low > 0 and found.flagged


def test_a_sure_gap_under_15_points_is_no_finding() -> None:
    found = manager_gap(sides(400, 50.0, 10.0, 200, 60.0, 10.0))
    assert found is not None and found.ci_low > 0 and not found.flagged


def test_no_gap_finding_without_both_sides_of_two_or_more() -> None:
    assert manager_gap(AudienceGap("purpose", None, None, None)) is None
    one = LeverScore("purpose", 1, 70.0, None, None, None)
    assert manager_gap(AudienceGap("purpose", one, one, 0.0)) is None


CATALOGUE = get_action_catalogue("change-readiness")


def test_a_lever_perhaps_under_the_line_gets_no_red_action() -> None:
    settings = ScorecardSettings("crm-rollout")
    lever = next(a.lever_id for a in CATALOGUE.actions if a.when is When.RED)
    args = ([(lever, False)], {lever: 55.0}, settings, CATALOGUE)
    sure = recommend(*args, barrier=lever, per_lever=10)
    assert When.RED in {r.action.when for r in sure}
    unsure = recommend(*args, barrier=lever, per_lever=10, unsure=[lever])
    assert unsure and When.RED not in {r.action.when for r in unsure}
