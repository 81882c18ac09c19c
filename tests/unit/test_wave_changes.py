"""Wave changes judged per report: intervals, Hedges' g, BH q-values and honest words.

The statistical tests run a fixed set of seeds, so they are deterministic; the
bounds leave room for chance (at 5 % FDR a no-change report flags something
about 5 % of the time, one by one at 5 % it is over 90 %).
"""

from __future__ import annotations

import random

import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from portal.domain import aggregates, changes
from portal.domain.aggregates import Aggregate, aggregate_responses
from portal.domain.entities import Audience
from portal.domain.scoring import LeverScore, Trend, WaveChange
from portal.domain.statistics import Summary
from portal.instruments import get_questionnaire
from tests.builders import make_response

Q = get_questionnaire("change-readiness")
#: Eleven units of 6 to 25 respondents per wave: 77 unit × lever changes per report.
UNITS = 11
SEEDS = range(200)


def unit_wave(rng: random.Random, n: int, centre: float) -> Aggregate:
    """Return a unit's wave: ``n`` employees answering around ``centre`` (1–5)."""
    responses = []
    for _ in range(n):
        answers: dict[str, int | None] = {}
        for item in Q.items_for(Audience.EMPLOYEE):
            answers[item.id] = min(5, max(1, round(rng.gauss(centre, 1.0))))
        responses.append(make_response(audience=Audience.EMPLOYEE, answers=answers))
    return aggregate_responses(Q, responses)


def report(seed: int, shift: float = 0.0) -> list[WaveChange]:
    """Return one report's changes judged alone: every unit × lever, ``shift`` added later."""
    rng = random.Random(seed)
    found = []
    for _ in range(UNITS):
        centre = rng.uniform(2.5, 4.0)
        before = unit_wave(rng, rng.randint(6, 25), centre)
        after = unit_wave(rng, rng.randint(6, 25), centre + shift)
        found += [aggregates.compare_waves(Q, before, after, lever.id) for lever in Q.levers]
    return found


def flags(found: list[WaveChange]) -> int:
    return sum(c.outcome in (Trend.IMPROVED, Trend.DECLINED) for c in found)


@pytest.fixture(scope="module")
def null_reports() -> list[list[WaveChange]]:
    return [report(seed) for seed in SEEDS]


def test_reports_without_a_true_change_rarely_flag_one(
    null_reports: list[list[WaveChange]],
) -> None:
    alone = sum(flags(found) > 0 for found in null_reports)
    controlled = sum(flags(changes.control(found)) > 0 for found in null_reports)
    # one by one at 5 %, most reports call some change that is not there (the old rule)
    assert alone > 0.5 * len(SEEDS)
    # with the false-discovery rate controlled per report, at most 1 report in 10
    assert controlled <= 0.10 * len(SEEDS)


def test_a_real_change_is_still_found() -> None:
    # every unit rises by 0.8 of a scale point (20 index points) on every lever
    found = [changes.control(report(seed, shift=0.8)) for seed in range(10)]
    rises = [flags(report_) / len(report_) for report_ in found]
    assert min(rises) > 0.5
    assert all(c.outcome is not Trend.DECLINED for report_ in found for c in report_)


def test_q_values_are_benjamini_hochbergs_over_the_report(
    null_reports: list[list[WaveChange]],
) -> None:
    found = null_reports[0]
    judged = changes.control(found)
    p = [c.test.p for c in found if c.test is not None]
    expected = multipletests(p, alpha=0.05, method="fdr_bh")[1]
    assert [c.q for c in judged if c.test is not None] == pytest.approx(list(expected), rel=1e-12)
    for change in judged:
        assert change.outcome is changes.outcome(change)


def test_each_change_carries_welchs_interval_and_hedges_g() -> None:
    change = report(3)[0]
    assert change.comparison is not None and change.effect is not None
    assert change.before is not None and change.after is not None
    assert change.before.sd is not None and change.after.sd is not None
    before = stats.ttest_ind_from_stats(
        change.after.index,
        change.after.sd,
        change.after.n,
        change.before.index,
        change.before.sd,
        change.before.n,
        equal_var=False,
    )
    assert change.comparison.p == pytest.approx(before.pvalue, rel=1e-9)
    assert change.q == change.comparison.p  # judged alone
    low, high = change.comparison.ci_low, change.comparison.ci_high
    assert low < change.change < high  # type: ignore[operator]


def change_of(detectable: float, p: float, difference: float = 1.0) -> WaveChange:
    """Return a change whose test has this p and detectable difference."""
    before, after = Summary(30, 50.0, 20.0), Summary(30, 50.0 + difference, 20.0)
    judged = changes.judge("purpose", *_scores(), before, after)
    assert judged.comparison is not None
    comparison = type(judged.comparison)(
        difference, 1.0, 1.0, 10.0, p, difference - 1, difference + 1, detectable
    )
    return WaveChange("purpose", None, None, difference, judged.test, judged.outcome, comparison)


def _scores() -> tuple[LeverScore, LeverScore]:
    return LeverScore("purpose", 30, 50.0, 20.0, 42.0, 58.0), LeverScore(
        "purpose", 30, 51.0, 20.0, 43.0, 59.0
    )


def test_a_change_groups_could_not_detect_reads_too_few_responses_to_tell() -> None:
    # not called, and 10 index points were beyond what these groups detect
    assert changes.control([change_of(12.0, 0.4)])[0].outcome is Trend.TOO_FEW_TO_TELL
    # not called, though 10 points would probably have been seen
    assert changes.control([change_of(8.0, 0.4)])[0].outcome is Trend.NO_CLEAR_CHANGE
    # called: the words follow the sign, whatever the detectable difference
    assert changes.control([change_of(12.0, 0.001)])[0].outcome is Trend.IMPROVED
    assert changes.control([change_of(8.0, 0.001, -1.0)])[0].outcome is Trend.DECLINED


def test_one_significant_change_among_many_is_not_called_alone() -> None:
    # p = 0.03 is "improved" alone, but not among 20 tests whose other p-values are 0.5
    lonely = change_of(5.0, 0.03)
    assert changes.control([lonely])[0].outcome is Trend.IMPROVED
    crowd = changes.control([lonely] + [change_of(5.0, 0.5)] * 19)
    # q = min over the larger p-values of m·p/rank: min(20 · 0.03 / 1, 20 · 0.5 / 20) = 0.5
    assert crowd[0].q == pytest.approx(0.5) and crowd[0].outcome is Trend.NO_CLEAR_CHANGE


def test_changes_without_a_test_are_left_as_they_are() -> None:
    none = WaveChange("purpose", None, None, None, None, Trend.NOT_ENOUGH_DATA)
    assert changes.control([none, change_of(5.0, 0.5)])[0] == none
