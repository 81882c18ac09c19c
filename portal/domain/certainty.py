"""How sure a decision on a lever is: under the line, the barrier, the managers' gap.

Decisions on point estimates flip with a handful of answers: a named barrier
survived only a third to a half of bootstrap resamples in two departments, and
"managers ≥ 15 points above employees" fired on cells whose interval included
0. Each decision here rests on the 95 % interval of the scores involved and
says how sure it is. Everything takes published scores only (a hidden lever
arrives missing and is never part of a decision). The rules and what they mean
for HR are in ``docs/results.md``.

* **Under the line** (``under_line``): a lever whose index is below the
  attention line is *clearly* under it when its interval's upper end is below
  the line too; otherwise (the interval reaches the line, or fewer than 2
  answered so there is none) it is *perhaps* under it. Only a clear one is red
  on the scorecard.
* **The barrier** (``barrier_certainty``): the barrier is the first lever in
  questionnaire order under the line (``scoring.find_barrier``). It is
  *clearly* the barrier when it is clearly under the line and no earlier lever
  may be under it too (every earlier lever's interval lies at or above the
  line); otherwise the words say what is uncertain: its own interval reaching
  the line, or the first earlier lever whose interval reaches below it.
* **The managers' gap** (``manager_gap``): managers' index − employees', with
  Welch's 95 % interval of the difference; a finding only when the gap is at
  least ``MANAGER_GAP_POINTS`` (15) *and* the interval excludes 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from portal.domain.questionnaire import Questionnaire
from portal.domain.scorecard import MANAGER_GAP_POINTS
from portal.domain.scoring import AudienceGap, LeverScore
from portal.domain.statistics import Summary, compare_means


class UnderLine(StrEnum):
    """How sure it is that a lever below the attention line really is below it."""

    CLEARLY = "clearly under the line"
    PERHAPS = "perhaps under the line"


def under_line(score: LeverScore | None, attention: float) -> UnderLine | None:
    """Return whether ``score`` is clearly or perhaps under ``attention``, ``None`` if not under.

    Rules: ``None`` without an index or when the index is at or above the
    line; ``CLEARLY`` when the interval's upper end is below the line;
    ``PERHAPS`` when it reaches the line or there is no interval (n below 2).
    """
    if score is None or score.index is None or score.index >= attention:
        return None
    if score.ci_high is not None and score.ci_high < attention:
        return UnderLine.CLEARLY
    return UnderLine.PERHAPS


@dataclass(frozen=True)
class BarrierCertainty:
    """How sure the barrier is: ``clear``, else why not.

    ``reaches_line``: the barrier's own interval reaches the line (or it has
    none); ``close_to``: the first earlier lever whose interval reaches below
    the line, so that it may be the barrier instead (``None`` if none).
    """

    lever_id: str
    clear: bool
    reaches_line: bool
    close_to: str | None


def barrier_certainty(
    questionnaire: Questionnaire,
    scores: Mapping[str, LeverScore],
    barrier: LeverScore | None,
    attention: float,
) -> BarrierCertainty | None:
    """Return how sure the barrier ``barrier`` is among the published ``scores`` (rules above).

    ``None`` without a barrier. Earlier levers are the non-outcome levers
    before it in questionnaire order that have a published index; one
    without an interval (n below 2) may be under the line too.
    """
    if barrier is None:
        return None
    reaches = under_line(barrier, attention) is not UnderLine.CLEARLY
    close_to = None
    for lever in sorted(questionnaire.levers, key=lambda lever: lever.order):
        if lever.id == barrier.lever_id:
            break
        score = scores.get(lever.id)
        if lever.outcome or score is None or score.index is None:
            continue
        if score.ci_low is None or score.ci_low < attention:
            close_to = lever.id
            break
    return BarrierCertainty(barrier.lever_id, not reaches and close_to is None, reaches, close_to)


@dataclass(frozen=True)
class GapFinding:
    """Managers' index − employees' with its 95 % interval; ``flagged`` when it is a finding."""

    lever_id: str
    gap: float
    ci_low: float
    ci_high: float
    flagged: bool


def _summary(score: LeverScore) -> Summary:
    return Summary(score.n, score.index, score.sd)


def manager_gap(gap: AudienceGap, points: float = MANAGER_GAP_POINTS) -> GapFinding | None:
    """Return the managers' gap on one lever with its interval and whether it is a finding.

    Rules: Welch's comparison of the two sides' n, index and sd
    (``statistics.compare_means``, managers − employees); ``flagged`` when
    the gap is at least ``points`` (15) and the interval's lower end is above
    0. ``None`` when a side is not published or has fewer than 2 respondents.
    """
    employee, manager = gap.employee, gap.manager
    if employee is None or manager is None or employee.sd is None or manager.sd is None:
        return None
    comparison = compare_means(_summary(employee), _summary(manager))
    if comparison is None:
        return None
    flagged = comparison.difference >= points and comparison.ci_low > 0
    return GapFinding(
        gap.lever_id, comparison.difference, comparison.ci_low, comparison.ci_high, flagged
    )
