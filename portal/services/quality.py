"""Instrument quality and agreement: α per audience with its interval, rwg(j), ICC(1)/ICC(2).

The use case behind the admin quality page and the agreement table of a
department page. Everything comes from one published state, the reader's
``readiness.wave_results`` (one snapshot, one disclosure decision, one
per-measure decision; never the raw responses), and is shown only where the
figures it is computed from are shown:

* **Cronbach's α** (``reliability``, Feldt's interval) for the whole
  organisation, for its employees and for its managers — each audience over
  all the statements it is asked on the lever, so the managers lever, whose
  statements the two audiences share only one of, gets an α per audience.
  Shown only when the organisation is published, the lever's own decision
  shows the group (the whole organisation or that audience's organisation
  group) and at least the minimum group size of people gave complete answers.
* **rwg(j)** (``agreement.rwg_j``) per department × lever, from the answer
  tallies of the lever's statements whose shares the department page shows
  (``measures.item_shown``), and only where the lever itself is shown for the
  department (``measures.lever_shown``): a tally the page already shows is
  all it uses, so it discloses nothing new. Below ``AGREEMENT_FLOOR`` the
  department's mean may hide a split team.
* **ICC(1) and ICC(2)** per lever for the organisation
  (``agreement.intraclass_correlations``) from the lever sums (n, Σv, Σv²) of
  the departments whose lever is shown — never from a hidden department: a
  group the decision hides feeds no published statistic (its sums, next to the
  organisation's, would give its mean). The sums of a shown department's lever
  are its published index, n and interval in another form.

* **Item-rest correlations and α-if-item-deleted** (``aggregates.item_analysis``)
  beside each α that is shown, over the same complete cases and statements
  (so they say nothing the α beside them does not rest on), for levers of
  three or more statements. A statement whose correlation with the rest is
  below ``ITEM_REST_FLOOR`` (0.30), or without which α would rise, is flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from types import MappingProxyType

from portal.domain import aggregates
from portal.domain.aggregates import Aggregate
from portal.domain.agreement import (
    AGREEMENT_FLOOR,
    GroupSums,
    IntraclassCorrelation,
    answer_variance,
    intraclass_correlations,
    rwg_j,
)
from portal.domain.anonymity import Group
from portal.domain.entities import Audience, Survey, Wave
from portal.domain.questionnaire import SCALE_POINTS, Questionnaire
from portal.domain.reliability import alpha_interval
from portal.domain.scoring import RELIABILITY_FLOOR, Reliability
from portal.services import readiness
from portal.services.measures import Measures
from portal.storage.port import Store

#: Below this item-rest correlation a statement fits its lever poorly (Nunnally & Bernstein
#: 1994).
ITEM_REST_FLOOR = 0.30


@dataclass(frozen=True)
class ItemFit:
    """One statement's correlation with the rest of its lever and α without it.

    Either figure is ``None`` where undefined (a statement or rest score with
    no spread; α without it needs two statements left).
    """

    item_id: str
    text: Mapping[str, str]
    item_rest: float | None
    alpha_if_deleted: float | None
    poor: bool


@dataclass(frozen=True)
class Alpha:
    """Cronbach's α of one lever for one group, with Feldt's 95 % interval.

    ``reliability.alpha`` and ``interval`` are ``None`` when withheld or
    undefined; ``shown`` is ``False`` when the group's lever is not published
    at all (its n is then not shown either). ``items`` holds each statement's
    fit, only beside a shown α of three or more statements.
    """

    reliability: Reliability
    interval: tuple[float, float] | None
    shown: bool = True
    items: tuple[ItemFit, ...] = ()


@dataclass(frozen=True)
class LeverReliability:
    """One lever's α for everyone and per audience (``None``: the audience is not asked)."""

    lever_id: str
    everyone: Alpha
    employees: Alpha | None
    managers: Alpha | None


@dataclass(frozen=True)
class Agreement:
    """rwg(j) of one lever in one group over ``items`` statements (``None`` when not shown)."""

    lever_id: str
    items: int
    rwg: float | None

    @property
    def split(self) -> bool:
        """Tell whether agreement is known and weak: the mean may hide a split team."""
        return self.rwg is not None and self.rwg < AGREEMENT_FLOOR


@dataclass(frozen=True)
class DepartmentAgreement:
    """rwg(j) per lever of one shown department, keyed by lever id."""

    code: str
    label: str
    site: str
    levers: Mapping[str, Agreement]

    @property
    def split_levers(self) -> tuple[str, ...]:
        """Return the ids of the levers on which the department's mean may hide a split team."""
        return tuple(lever_id for lever_id, a in self.levers.items() if a.split)


@dataclass(frozen=True)
class LeverIntraclass:
    """ICC(1) and ICC(2) of one lever over the shown departments (``icc`` ``None``: too few)."""

    lever_id: str
    icc: IntraclassCorrelation | None


@dataclass(frozen=True)
class QualityReport:
    """What the quality page shows; empty tuples when the organisation is not published."""

    survey: Survey
    wave: Wave
    questionnaire: Questionnaire
    computed_at: datetime
    min_group_size: int
    responses: int | None
    reliabilities: tuple[LeverReliability, ...]
    departments: tuple[DepartmentAgreement, ...]
    intraclass: tuple[LeverIntraclass, ...]
    floor: float = RELIABILITY_FLOOR
    agreement_floor: float = AGREEMENT_FLOOR
    item_rest_floor: float = ITEM_REST_FLOOR


def instrument_quality(store: Store, survey_slug: str, wave_id: str) -> QualityReport:
    """Return α per lever and audience, rwg(j) per shown department, ICCs per lever.

    Rules: see the module docstring; all figures from one state of the wave
    (``readiness.wave_results`` for a reader who may read every department).
    Raises ``NotFound`` for an unknown survey or wave.
    """
    results = readiness.wave_results(store, survey_slug, wave_id)
    organisation = results.organisation
    reliabilities: tuple[LeverReliability, ...] = ()
    departments: tuple[DepartmentAgreement, ...] = ()
    intraclass: tuple[LeverIntraclass, ...] = ()
    if organisation is not None and results.measures is not None:
        measures = results.measures
        merged = organisation.aggregate
        reliabilities = tuple(
            _lever_reliability(results, merged, lever.id) for lever in results.levers
        )
        rows = [
            row
            for row in results.rows
            if row.kind is readiness.RowKind.DEPARTMENT and row.result is not None
        ]
        found = [(row, lever_agreement(results, row)) for row in rows]
        departments = tuple(
            DepartmentAgreement(row.key, row.label, row.site, agreement)
            for row, agreement in found
            if any(a.rwg is not None for a in agreement.values())
        )
        intraclass = tuple(
            LeverIntraclass(lever.id, _intraclass(measures, rows, lever.id))
            for lever in results.levers
        )
    return QualityReport(
        survey=results.survey,
        wave=results.wave,
        questionnaire=results.questionnaire,
        computed_at=results.computed_at,
        min_group_size=results.min_group_size,
        responses=None if organisation is None else organisation.responses,
        reliabilities=reliabilities,
        departments=departments,
        intraclass=intraclass,
    )


def _alpha(
    results: readiness.WaveResults, merged: Aggregate, lever_id: str, audience: Audience | None
) -> Alpha:
    """Return a lever's α for the organisation (crossed with ``audience``) as the rules allow."""
    assert results.measures is not None
    rel = aggregates.cronbach_alpha(results.questionnaire, merged, lever_id, audience)
    if not results.measures.lever_shown(lever_id, Group(audience=audience)):
        return Alpha(replace(rel, alpha=None), None, shown=False)
    if rel.alpha is None or rel.n < results.min_group_size:
        return Alpha(replace(rel, alpha=None), None)
    analysis = aggregates.item_analysis(results.questionnaire, merged, lever_id, audience)
    items: tuple[ItemFit, ...] = ()
    if analysis is not None and analysis.n == rel.n:
        texts = {item.id: item.text for item in results.questionnaire.items}
        items = tuple(
            ItemFit(
                item_id,
                texts[item_id],
                fit.item_rest,
                fit.alpha_if_deleted,
                (fit.item_rest is not None and fit.item_rest < ITEM_REST_FLOOR)
                or (fit.alpha_if_deleted is not None and fit.alpha_if_deleted > rel.alpha),
            )
            for item_id, fit in zip(analysis.items, analysis.statistics, strict=True)
        )
    return Alpha(rel, alpha_interval(rel.alpha, rel.n, rel.k), items=items)


def _lever_reliability(
    results: readiness.WaveResults, merged: Aggregate, lever_id: str
) -> LeverReliability:
    asked = {
        audience: any(
            item.lever == lever_id and item.applies_to(audience)
            for item in results.questionnaire.items
        )
        for audience in Audience
    }
    employees, managers = (
        _alpha(results, merged, lever_id, audience) if asked[audience] else None
        for audience in (Audience.EMPLOYEE, Audience.MANAGER)
    )
    return LeverReliability(lever_id, _alpha(results, merged, lever_id, None), employees, managers)


def lever_agreement(
    results: readiness.WaveResults, row: readiness.ResultRow
) -> Mapping[str, Agreement]:
    """Return rwg(j) per lever of a published row, ``None`` where it may not be shown.

    Rules: only where the lever is shown for the row's group; over the
    lever's statements whose answer shares are shown for it (J of them),
    each statement's variance taken over everyone who chose a point on the
    scale (``agreement.answer_variance``; reverse wording does not change
    it); at least 2 answers per statement. Nothing for a hidden row.
    """
    if row.result is None or results.measures is None:
        return MappingProxyType({})
    measures = results.measures
    group = row.unit.with_audience(results.audience)
    q = results.questionnaire
    found: dict[str, Agreement] = {}
    for lever in q.levers:
        if not measures.lever_shown(lever.id, group):
            found[lever.id] = Agreement(lever.id, 0, None)
            continue
        variances = []
        for item in q.items:
            if item.lever == lever.id and measures.item_shown(item.id, group):
                counts = aggregates.distribute_item(q, row.result.aggregate, item.id).counts
                variance = answer_variance(counts)
                if variance is not None:
                    variances.append(variance)
        rwg = rwg_j(variances, SCALE_POINTS) if variances else None
        found[lever.id] = Agreement(lever.id, len(variances), rwg)
    return MappingProxyType(found)


def _intraclass(
    measures: Measures, rows: list[readiness.ResultRow], lever_id: str
) -> IntraclassCorrelation | None:
    """Return ICC(1)/ICC(2) of ``lever_id`` over the departments whose lever is shown."""
    groups = []
    for row in rows:
        if row.result is None or not measures.lever_shown(lever_id, row.unit):
            continue
        n = total = squares = 0
        for part in row.result.aggregate.parts:
            sums = part.lever(lever_id)
            if sums is not None:
                n, total, squares = n + sums.n, total + sums.sum_v, squares + sums.sum_v2
        groups.append(GroupSums(n, total, squares))
    return intraclass_correlations(groups)


def two_places(value: float, rounding: str = "cut") -> str:
    """Return ``value`` with two decimals as the quality page prints it.

    Rules: ``"cut"`` drops further digits (toward zero), so a figure under a
    0.70 floor never reads 0.70; ``"down"`` and ``"up"`` round toward −∞ and
    +∞, for the lower and upper end of an interval (never shown narrower than
    it is). Worked on the shortest decimal form of the float, so 0.29 reads
    0.29 and not 0.28; a zero is never printed "-0.00".
    """
    modes = {"cut": ROUND_DOWN, "down": ROUND_FLOOR, "up": ROUND_CEILING}
    shown = Decimal(repr(value)).quantize(Decimal("0.01"), rounding=modes[rounding])
    return "0.00" if shown == 0 else f"{shown:.2f}"
