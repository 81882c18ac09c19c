"""Key drivers: which levers move the outcome (adoption) in this organisation.

The use case behind the dashboard's key-driver panel and the scorecard's
ranking. Everything comes from one published state, the reader's
``readiness.wave_results`` (one snapshot, one disclosure decision, one decision
per measure), never from raw responses:

* **What is computed.** Johnson's relative weights (``drivers.relative_weights``)
  of the outcome lever on the other levers, over the respondents with a score
  on every lever (the snapshot's lever cross-products,
  ``aggregates.lever_cross_sums``): how much of the differences in the outcome
  between people (R²) goes with each lever, the weights adding up to R².
  General dominance weights (``drivers.dominance_weights``) are computed beside
  them as a check: when the two methods name a different top lever, the
  panel says so.
* **When it is shown.** Only where the organisation row is published to the
  reader and every lever is shown for it (``measures.lever_shown``), and only
  with at least ``MIN_CASES`` respondents and ``CASES_PER_LEVER`` per
  predictor (60 for the default questionnaire's six levers): below that the
  weights swing with a handful of people. Otherwise ``status`` says why.
* **Stability.** A delete-a-group jackknife over departments
  (``drivers.driver_stability``): each *shown* department — its row published,
  every lever shown for it, and at least the minimum group size of its people
  with a score on every lever — is left out once; hidden departments' sums
  stay in every replicate and are never left out alone, so no published
  figure depends on a hidden group's own sums (organisation minus a shown
  department is a difference of two published groups, which the release
  steps already keep from isolating anyone). Needs at least 3 shown
  departments; the panel gives each weight's 95 % interval (± 1.96 standard
  errors) and how often the top lever stayed on top.
* **Key driver.** A lever whose weight is above an equal split of R² (more
  than 1/p of it). The scorecard's ranking puts such levers first after the
  barrier (``scorecard.focus_levers``), but only when the analysis is shown
  and stable (``KeyDrivers.usable``).

Rules and what they mean for an HR reader: ``docs/results.md``, "Key drivers".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from portal.domain import aggregates
from portal.domain.anonymity import Group
from portal.domain.drivers import (
    MAX_DOMINANCE_PREDICTORS,
    DriverStability,
    dominance_weights,
    driver_stability,
    relative_weights,
)
from portal.domain.statistics import CrossSums, correlation_matrix
from portal.services import readiness, view_cache

#: Fewest respondents with a score on every lever before weights are shown.
MIN_CASES = 50
#: Fewest such respondents per predictor lever (10 per lever: 60 for six levers).
CASES_PER_LEVER = 10
#: Fewest shown departments for the jackknife (each left out once).
MIN_GROUPS = 3
#: The top lever must stay on top in at least this share of the replicates to be "stable".
STABLE_SHARE = 0.9
#: z for a 95 % interval from a jackknife standard error.
_Z95 = 1.959963984540054


class Status(StrEnum):
    """Why the panel shows weights or not."""

    SHOWN = "shown"
    #: The organisation (or one of its levers) is not published to this reader.
    HIDDEN = "hidden"
    #: The questionnaire has no outcome lever or fewer than two levers in common.
    NO_OUTCOME = "no outcome"
    #: Too few respondents with a score on every lever.
    TOO_FEW = "too few"
    #: The levers are collinear (or constant): weights cannot be separated.
    UNDEFINED = "undefined"


@dataclass(frozen=True)
class Driver:
    """One lever's relative weight: its part of R² and its share of it in per cent.

    ``interval`` is the weight's 95 % jackknife interval (clamped at 0), or
    ``None`` without enough shown departments; ``key`` tells whether the
    weight is above an equal split of R².
    """

    lever_id: str
    weight: float
    share: float
    interval: tuple[float, float] | None
    key: bool


@dataclass(frozen=True)
class KeyDrivers:
    """The key-driver analysis as this reader may see it.

    ``drivers`` are sorted by weight, largest first (empty unless ``status`` is
    ``SHOWN``); ``n`` the respondents with a score on every lever (``None``
    when the organisation is hidden); ``needed`` how many the rule asks for;
    ``replicates``/``top_kept`` the jackknife's departments left out and how
    often the top lever stayed on top (0/0 without one); ``dominance_top``
    the top lever by general dominance (``None`` when not computed).
    """

    outcome_id: str | None
    status: Status
    n: int | None
    needed: int
    r2: float | None = None
    drivers: tuple[Driver, ...] = ()
    replicates: int = 0
    top_kept: int = 0
    dominance_top: str | None = None

    @property
    def stable(self) -> bool:
        """Tell whether the top lever stayed on top in at least 90 % of the replicates."""
        return self.replicates >= MIN_GROUPS and self.top_kept >= STABLE_SHARE * self.replicates

    @property
    def methods_agree(self) -> bool:
        """Tell whether dominance analysis names the same top lever (true when not computed)."""
        return self.dominance_top is None or (
            bool(self.drivers) and self.drivers[0].lever_id == self.dominance_top
        )

    @property
    def usable(self) -> bool:
        """Tell whether the scorecard may rank by these drivers: shown, stable, methods agree."""
        return self.status is Status.SHOWN and self.stable and self.methods_agree

    def shares(self) -> Mapping[str, float]:
        """Return each lever's share of R² in per cent, by lever id."""
        return MappingProxyType({d.lever_id: d.share for d in self.drivers})

    def key_levers(self) -> frozenset[str]:
        """Return the ids of the levers whose weight is above an equal split of R²."""
        return frozenset(d.lever_id for d in self.drivers if d.key)


def needed_cases(predictors: int) -> int:
    """Return the fewest respondents the analysis needs for ``predictors`` levers."""
    return max(MIN_CASES, CASES_PER_LEVER * predictors)


def cached_key_drivers(results: readiness.WaveResults) -> KeyDrivers:
    """Return ``key_drivers(results)``, remembered per process (``view_cache``'s rules).

    The analysis reads nothing but the organisation's and the departments'
    published results, the reader's decisions and the filter, so it is keyed by
    those very objects (remembered themselves per snapshot and reader scope).
    """
    key = (
        "key-drivers",
        view_cache.same(results.disclosure),
        view_cache.same(results.measures),
        results.audience,
        tuple((row.kind, row.key, view_cache.same(row.result)) for row in results.rows),
    )
    return view_cache.remember(key, lambda: key_drivers(results))


def key_drivers(results: readiness.WaveResults) -> KeyDrivers:
    """Return the key-driver analysis of the organisation in ``results`` (see the module rules)."""
    q = results.questionnaire
    outcome = next((lever.id for lever in q.levers if lever.outcome), None)
    organisation = results.organisation
    if outcome is None:
        return KeyDrivers(None, Status.NO_OUTCOME, None, MIN_CASES)
    if organisation is None or results.measures is None:
        return KeyDrivers(outcome, Status.HIDDEN, None, MIN_CASES)
    org_group = Group(audience=results.audience)
    if not all(results.measures.lever_shown(lever.id, org_group) for lever in q.levers):
        return KeyDrivers(outcome, Status.HIDDEN, None, MIN_CASES)
    found = aggregates.lever_cross_sums(q, organisation.aggregate, results.audience)
    if found is None or outcome not in found[0]:
        return KeyDrivers(outcome, Status.NO_OUTCOME, None, MIN_CASES)
    lever_ids, whole = found
    target = lever_ids.index(outcome)
    predictors = [i for i in range(len(lever_ids)) if i != target]
    needed = needed_cases(len(predictors))
    if whole.n < needed:
        return KeyDrivers(outcome, Status.TOO_FEW, whole.n, needed)
    correlations = correlation_matrix(whole)
    weights = None if correlations is None else relative_weights(correlations, target, predictors)
    if correlations is None or weights is None:
        return KeyDrivers(outcome, Status.UNDEFINED, whole.n, needed)
    stability = _stability(results, lever_ids, whole, target, predictors)
    dominance_top = None
    if len(predictors) <= MAX_DOMINANCE_PREDICTORS:
        dominance = dominance_weights(correlations, target, predictors)
        if dominance is not None:
            best = max(range(len(predictors)), key=lambda j: dominance.weights[j])
            dominance_top = lever_ids[predictors[best]]
    equal = weights.r2 / len(predictors)
    drivers = []
    for j, index in enumerate(predictors):
        interval = None
        if stability is not None:
            se = stability.standard_errors[j]
            weight = weights.weights[j]
            interval = (max(0.0, weight - _Z95 * se), weight + _Z95 * se)
        drivers.append(
            Driver(
                lever_ids[index],
                weights.weights[j],
                weights.shares[j],
                interval,
                weights.weights[j] > equal,
            )
        )
    drivers.sort(key=lambda d: (-d.weight, lever_ids.index(d.lever_id)))
    return KeyDrivers(
        outcome,
        Status.SHOWN,
        whole.n,
        needed,
        r2=weights.r2,
        drivers=tuple(drivers),
        replicates=0 if stability is None else stability.replicates,
        top_kept=0 if stability is None else stability.top_kept,
        dominance_top=dominance_top,
    )


def _stability(
    results: readiness.WaveResults,
    lever_ids: tuple[str, ...],
    whole: CrossSums,
    target: int,
    predictors: list[int],
) -> DriverStability | None:
    """Return the jackknife over the shown departments, the rest kept in every replicate."""
    assert results.measures is not None
    q = results.questionnaire
    groups: list[CrossSums] = []
    for row in results.rows:
        if row.kind is not readiness.RowKind.DEPARTMENT or row.result is None:
            continue
        unit = row.unit.with_audience(results.audience)
        if not all(results.measures.lever_shown(lever_id, unit) for lever_id in lever_ids):
            continue
        found = aggregates.lever_cross_sums(q, row.result.aggregate, results.audience)
        # A department whose own respondents with every lever scored are fewer than the
        # minimum group size is never left out alone either: it stays in every replicate.
        if found is not None and found[0] == lever_ids and found[1].n >= results.min_group_size:
            groups.append(found[1])
    if len(groups) < MIN_GROUPS:
        return None
    rest = whole
    for sums in groups:
        rest = rest - sums
    stability = driver_stability(groups, target, predictors, fixed=rest)
    if stability is not None and not all(math.isfinite(se) for se in stability.standard_errors):
        return None
    return stability
