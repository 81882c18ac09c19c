"""Which lever scores and statement shares a reader may see: one decision per measure.

A group's respondent count is decided by ``anonymity.disclose``; a lever's
score and a statement's answer shares sum fewer people, because "don't know"
(and a statement not asked of an audience) leaves a respondent out. Each
measure therefore gets its own decision, ``anonymity.disclose_measure``,
made on its own respondents per (department, audience) cell of the wave's
snapshot, for the whole organisation, and cut down to the reader with
``visible_to`` like the group decision. Every output that shows a lever's
index, interval, n, gap or change, or a statement's shares, reads it from
here (through ``readiness``): the results pages and their charts, the CSV
and workbook, the API, the scorecard and plan pages and the quality page.

What a measure counts, per cell (from the snapshot's exact aggregates):

* a lever: the respondents who scored at least one of its statements
  (``LeverSums.n``) — exactly those its index, interval and n sum;
* a statement: the answers on the scale (don't-knows left out) — exactly
  those its shares and favourable per cent are taken of.

Shown figures for a hidden measure are ``None`` (a lever missing from
``scores``, a gap side ``None``, a change without figures), so a withheld
measure reads like one nobody answered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from portal.domain import aggregates
from portal.domain.aggregates import Aggregate, Snapshot
from portal.domain.anonymity import Counts, Disclosure, Group, disclose_measure, visible_to
from portal.domain.entities import Audience
from portal.domain.questionnaire import Questionnaire
from portal.domain.scoring import AudienceGap, LeverScore, Trend, WaveChange


class Measures:
    """The per-lever and per-statement decisions of one wave, for one reader.

    Decisions are made on the whole organisation, once per measure and only
    when first asked (a page that shows no statement never decides them);
    ``for_reader`` shares them between readers' projections.
    """

    def __init__(
        self,
        questionnaire: Questionnaire,
        snapshot: Snapshot,
        decision: Disclosure,
        readable: frozenset[str] | None = None,
        _decided: dict[tuple[str, str], Disclosure] | None = None,
    ) -> None:
        self.questionnaire = questionnaire
        self.snapshot = snapshot
        self.decision = decision
        self.readable = readable
        self._decided = {} if _decided is None else _decided
        self._projected: dict[tuple[str, str], Disclosure] = {}

    def for_reader(self, readable: Iterable[str]) -> Measures:
        """Return the same decisions cut down to a reader's departments."""
        return Measures(
            self.questionnaire, self.snapshot, self.decision, frozenset(readable), self._decided
        )

    def lever(self, lever_id: str) -> Disclosure:
        """Return the groups whose score on ``lever_id`` this reader may see."""
        items = [i for i in self.questionnaire.items if i.lever == lever_id]
        asked = [a for a in Audience if any(i.applies_to(a) for i in items)]
        return self._decide("lever", lever_id, lambda: lever_counts(self.snapshot, lever_id), asked)

    def item(self, item_id: str) -> Disclosure:
        """Return the groups whose answer shares of statement ``item_id`` this reader may see.

        Raise ``KeyError`` for a statement the questionnaire does not have.
        """
        item = next((i for i in self.questionnaire.items if i.id == item_id), None)
        if item is None:
            raise KeyError(item_id)
        asked = [a for a in Audience if item.applies_to(a)]
        return self._decide("item", item_id, lambda: item_counts(self.snapshot, item_id), asked)

    def lever_shown(self, lever_id: str, group: Group) -> bool:
        """Tell whether ``group``'s score on ``lever_id`` may be shown to this reader."""
        return self.lever(lever_id).visible(group)

    def item_shown(self, item_id: str, group: Group) -> bool:
        """Tell whether ``group``'s shares of statement ``item_id`` may be shown to this reader."""
        return self.item(item_id).visible(group)

    def _decide(
        self, kind: str, measure: str, counts: Callable[[], Counts], asked: list[Audience]
    ) -> Disclosure:
        key = (kind, measure)
        if key not in self._projected:
            if key not in self._decided:
                self._decided[key] = disclose_measure(self.decision, counts(), asked)
            whole = self._decided[key]
            readable = self.readable
            self._projected[key] = whole if readable is None else visible_to(whole, readable)
        return self._projected[key]


def lever_counts(snapshot: Snapshot, lever_id: str) -> Counts:
    """Return, per (department, audience) cell, the respondents who scored ``lever_id``.

    Those who chose a point on the scale for at least one of its statements
    (``LeverSums.n``): exactly the people its index, interval and n sum.
    """

    def scored(part: aggregates.AudiencePart) -> int:
        sums = part.lever(lever_id)
        return 0 if sums is None else sums.n

    return _per_cell(snapshot, scored)


def item_counts(snapshot: Snapshot, item_id: str) -> Counts:
    """Return, per (department, audience) cell, the answers to ``item_id`` on the scale.

    "Don't know" left out: exactly the answers its shares are taken of.
    """

    def on_scale(part: aggregates.AudiencePart) -> int:
        tally = part.tally(item_id)
        return 0 if tally is None else sum(tally.counts)

    return _per_cell(snapshot, on_scale)


def _per_cell(snapshot: Snapshot, count: Callable[[aggregates.AudiencePart], int]) -> Counts:
    counts: dict[tuple[str, Audience], int] = {}
    for code, cell in snapshot.cells.items():
        for audience in Audience:
            part = cell.part(audience)
            counts[(code, audience)] = 0 if part is None else count(part)
    return counts


def lever_scores(
    q: Questionnaire, merged: Aggregate, measures: Measures, group: Group
) -> dict[str, LeverScore]:
    """Return the scores of ``group`` (``merged`` is its aggregate) that may be shown."""
    return {
        lever_id: score
        for lever_id, score in aggregates.score_levers(q, merged).items()
        if measures.lever_shown(lever_id, group)
    }


def audience_gaps(
    q: Questionnaire, merged: Aggregate, measures: Measures, unit: Group
) -> dict[str, AudienceGap]:
    """Return employees' and managers' scores per lever, each side only where it may be shown.

    A side the lever's decision hides is ``None``, and so is the gap unless
    both sides are shown (one side and the gap would give the other).
    """
    gaps: dict[str, AudienceGap] = {}
    for lever in q.levers:
        full = aggregates.compare_audiences(q, merged, lever.id)
        employees, managers = (
            unit.with_audience(Audience.EMPLOYEE),
            unit.with_audience(Audience.MANAGER),
        )
        employee = full.employee if measures.lever_shown(lever.id, employees) else None
        manager = full.manager if measures.lever_shown(lever.id, managers) else None
        gap = full.gap if employee is not None and manager is not None else None
        gaps[lever.id] = AudienceGap(lever.id, employee, manager, gap)
    return gaps


def wave_changes(
    q: Questionnaire,
    earlier: Aggregate,
    merged: Aggregate,
    before: Measures,
    now: Measures,
    group: Group,
) -> dict[str, WaveChange]:
    """Return each lever's change since the earlier wave, only where both scores may be shown.

    A lever hidden in either wave gets no figures ("not enough data"): the
    change next to one shown index would give the hidden one.
    """
    changes: dict[str, WaveChange] = {}
    for lever in q.levers:
        if before.lever_shown(lever.id, group) and now.lever_shown(lever.id, group):
            changes[lever.id] = aggregates.compare_waves(q, earlier, merged, lever.id)
        else:
            changes[lever.id] = WaveChange(lever.id, None, None, None, None, Trend.NOT_ENOUGH_DATA)
    return changes
