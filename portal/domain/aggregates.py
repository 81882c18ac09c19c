"""Exact, additive aggregates of responses, and the statistics derived from them.

Results pages must not read every raw response, so the portal keeps one
``Aggregate`` per cell (survey × wave × department × audience) and derives every
statistic from the cells it merges. An aggregate holds only whole numbers:
adding two of them is exact, associative and commutative, so a cell built from
any partition of its responses, in any order, is the same value. That makes a
per-partition rebuild safe to retry, and a wrongly counted response can be
taken out again with ``subtract``.

The cell's survey, wave and department are its storage key and are not held
here; the audience is, because the two audiences answer different items.

**What one audience part holds** (``AudiencePart``)

* ``responses``: how many responses the part sums.
* per item the audience is asked (``ItemTally``): how often each raw answer
  1–5 was chosen, and how often "don't know". Answers to items the audience is
  not asked are ignored everywhere, as in ``scoring``.
* per lever (``LeverSums``): ``n``, the respondents with a score on the lever
  (at least half of its items their audience is asked scored:
  ``scoring.enough_scored``), and ``sum_v``/``sum_v2``, the sums of v and v²
  of a whole-number respondent index v (below).
* per lever and item set (``CompleteCases``): the complete cases of that item
  set for Cronbach's alpha — ``n``, per item Σx and Σx² of the scored values,
  Σ(total)² of each case's total and (schema 4 on) per item Σx·total, from
  which item-rest correlations and alpha-if-item-deleted follow. Σtotal is not
  stored: it is Σ of the per-item Σx.
* per lever set (``DriverSums``, schema 4 on): over the respondents with a
  score on every lever of the set, n, per lever Σv and per pair of levers
  Σvᵢ·vⱼ — the cross-products a key-driver analysis of the outcome on the
  levers needs (``portal.domain.drivers``). Keyed like complete cases: for
  each set of audiences that includes the part's own, the levers asked of all
  of them (one entry when every lever is asked of everyone).
* ``comment_count``: how many responses carry a comment that is not blank
  (schema 2 on). The texts are not part of the aggregate: every dashboard
  view reads every cell, so a cell must cost the same whatever people wrote.
  A snapshot keeps them apart, per department (``DepartmentComments``), in a
  canonical order (by SHA-256 of the text, then the text) that says nothing
  about who answered when, capped by ``collect_comments``; ``comment_count``
  still counts them all. Whether a group's comments may be *shown* is decided
  by ``anonymity.disclose_comments``, never here.

**The whole-number respondent index.** A respondent who scored k items on a
lever (k ≥ 1) with sum S has the index (S/k − 1) / 4 · 100 = 25 · (S − k) / k.
With ``scale`` L = lcm(1, …, K), where K is the most items any one audience is
asked on any one lever, L / k is a whole number for every possible k, so
v = (S − k) · (L / k) is a whole number from 0 to 4L and the index is exactly
25 · v / L. The default questionnaire has K = 5, so L = 60. L is stored in the
aggregate, so that an aggregate stays readable if a later version of the
questionnaire has longer levers; only aggregates of the same questionnaire id,
version and scale are merged.

**Cronbach's alpha over merged cells.** ``scoring.cronbach_alpha`` takes, for
a group without a chosen audience, the items asked of every audience present
among the respondents who scored the lever. So each part keeps complete-case
sums for every item set that a group containing its audience can need: for
each set S of audiences that includes the part's own, the lever's items asked
of everyone in S. Entries are keyed by the tuple of item ids, so sets that
coincide (a lever whose items are all asked of both audiences) are stored
once. Sets of fewer than 2 items are not stored: alpha needs k ≥ 2, and the
number of complete cases of one item is that item's scored count (of no items,
the number of responses). With two audiences, a part has at most two entries
per lever — its own items and the common ones; the default questionnaire needs
seven per part. Keeping one entry per audience set rather than per-item-pair
cross products keeps the cell small while any union of cells stays exact.

**Exactness against ``scoring``.** Counts, distributions, percentages,
favourable shares and alpha are equal to ``scoring``'s to the last bit. The
index, sd, interval and Welch test are equal to the last bit whenever every
respondent's index is exact as a float (always for k = 1, 2, 4 or 5; for
k = 3 only when S − k is a multiple of 3). Otherwise (25/3 is not a float)
``scoring`` rounds each respondent's index before summing, which no sum of
whole numbers can reproduce, so the two may differ by a few units in the last
place (seen: 1.5e-14 on the 0–100 scale, 6e-14 on an interval bound, 2e-14
on a p-value). Here the sums are exact and rounded once, the way ``scoring``
rounds them when the indices are exact. A threshold such as the barrier's
60 can therefore tip differently only for an index within that distance.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from itertools import combinations
from typing import TypeVar

from portal.domain.changes import judge
from portal.domain.entities import Audience, Response
from portal.domain.errors import PortalError
from portal.domain.questionnaire import SCALE_POINTS, Item, Questionnaire
from portal.domain.reliability import ItemStatistics, analyse_items_from_sums
from portal.domain.scoring import (
    ALPHA,
    CONFIDENCE,
    HIGHEST,
    LOWEST,
    NEEDS_ATTENTION,
    AudienceGap,
    Distribution,
    LeverScore,
    Reliability,
    WaveChange,
    enough_scored,
    lever_items,
    score_item,
    t_quantile,
)
from portal.domain.scoring import find_barrier as find_barrier_in_scores
from portal.domain.statistics import CrossSums, Summary, summarize

#: The layout of ``to_dict``; raise it when the stored form changes.
#: Schema 2 put ``comment_count`` and the comment texts into each part; schema 3 keeps
#: the count only (the texts moved to ``DepartmentComments``). Schema 1 and 2 records
#: are still read (schema 2's texts are dropped), so a stored snapshot can be
#: recognised as outdated and recomputed. Schema 4 added Σx·total to complete cases,
#: the levers' cross-products (``DriverSums``), and counts a lever score only from half
#: of its items on (so its lever sums differ from schema 3's for the same answers).
SCHEMA_VERSION = 4
_KNOWN_SCHEMAS = frozenset({1, 2, 3, SCHEMA_VERSION})
#: Schemas whose parts count comments.
_WITH_COMMENT_COUNT = frozenset({2, 3, 4})
#: Schemas with Σx·total in complete cases and with ``DriverSums``.
_WITH_DRIVERS = frozenset({4})
#: The schema whose parts also held the texts (read only, to be recomputed).
_WITH_COMMENT_TEXTS = frozenset({2})
#: The most bytes of comment text (as escaped JSON) one department keeps per audience:
#: both audiences' texts stay one DynamoDB item (400 KB), and a department page's read
#: stays bounded (at most ≈ 300 KB) however much people wrote.
COMMENT_BUDGET = 150_000
#: Index points per scale step: the index of a mean m is (m − 1) · 100 / 4.
_INDEX_STEP = Fraction(100, HIGHEST - LOWEST)
#: Bits kept before the final rounding of a square root (as in ``statistics``).
_SQRT_BITS = 2 * sys.float_info.mant_dig + 3


class AggregateError(PortalError, ValueError):
    """Aggregates that cannot be combined, or stored data that is not an aggregate."""


# -- the record --------------------------------------------------------------------


def _check_count(value: object, what: str) -> int:
    if type(value) is not int or value < 0:
        raise AggregateError(f"{what} must be a whole number of at least 0, got {value!r}.")
    return value


def _check_counts(values: object, length: int, what: str) -> None:
    if not isinstance(values, tuple) or len(values) != length:
        raise AggregateError(f"{what} must be a tuple of {length} whole numbers, got {values!r}.")
    for value in values:
        _check_count(value, what)


def comment_order(text: str) -> tuple[str, str]:
    """Return the canonical sort key of a comment: the SHA-256 of its text, then the text.

    A hash order is as good as a shuffle for hiding arrival order and for
    choosing which texts ``collect_comments`` keeps, yet it is the same on every
    computation, so equal responses always make equal records.
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest(), text


def comment_cost(text: str) -> int:
    """Return the bytes a comment takes when stored (JSON with non-ASCII escaped)."""
    return len(json.dumps(text))


def _has_text(comment: str | None) -> bool:
    return isinstance(comment, str) and bool(comment.strip())


@dataclass(frozen=True)
class ItemTally:
    """How often one item got each raw answer 1–5 (``counts[0]`` = 1s), and "don't know".

    Raw answers, not scored ones, so a reverse item's chart keeps its wording;
    missing answers are not counted at all.
    """

    item_id: str
    counts: tuple[int, int, int, int, int]
    dont_know: int

    def __post_init__(self) -> None:
        _check_counts(self.counts, SCALE_POINTS, f"Item {self.item_id}: the answer counts")
        _check_count(self.dont_know, f"Item {self.item_id}: the don't-know count")

    @property
    def answered(self) -> int:
        """Return the number of answers, don't-knows included."""
        return sum(self.counts) + self.dont_know


@dataclass(frozen=True)
class LeverSums:
    """``n`` respondents' whole-number indices v on one lever: Σv and Σv².

    Rules: index = 25 · v / scale (see the module docstring); a respondent with
    no scored item on the lever is not counted. Σv² · n ≥ (Σv)² always holds
    for real data and is checked, so a derived variance is never negative.
    """

    lever_id: str
    n: int
    sum_v: int
    sum_v2: int

    def __post_init__(self) -> None:
        where = f"Lever {self.lever_id}"
        _check_count(self.n, f"{where}: n")
        _check_count(self.sum_v, f"{where}: Σv")
        _check_count(self.sum_v2, f"{where}: Σv²")
        if self.n * self.sum_v2 < self.sum_v * self.sum_v:
            raise AggregateError(f"{where}: n · Σv² < (Σv)², which no set of answers gives.")
        if self.n == 0 and self.sum_v2:
            raise AggregateError(f"{where}: sums without respondents.")


@dataclass(frozen=True)
class CompleteCases:
    """Sums over the complete cases of one item set on one lever, for Cronbach's alpha.

    A complete case scored every item in ``item_ids`` (at least 2, in
    questionnaire order). ``sum_x[i]`` and ``sum_x2[i]`` are Σx and Σx² of the
    scored answers to ``item_ids[i]``; ``sum_total2`` is Σ of each case's total
    squared; ``sum_xt[i]`` is Σ of x·total for ``item_ids[i]`` (empty before
    schema 4). Rules checked: every Σx lies within n·1 … n·5, the
    Cauchy–Schwarz bounds hold, so derived variances are never negative, and
    Σᵢ Σxᵢ·total = Σtotal² (each case's total is the sum of its answers).
    """

    lever_id: str
    item_ids: tuple[str, ...]
    n: int
    sum_x: tuple[int, ...]
    sum_x2: tuple[int, ...]
    sum_total2: int
    sum_xt: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        where = f"Lever {self.lever_id}, items {', '.join(map(str, self.item_ids))}"
        if (
            not isinstance(self.item_ids, tuple)
            or len(self.item_ids) < 2
            or len(set(self.item_ids)) != len(self.item_ids)
        ):
            raise AggregateError(f"{where}: complete cases need 2 or more distinct items.")
        k = len(self.item_ids)
        _check_count(self.n, f"{where}: n")
        _check_counts(self.sum_x, k, f"{where}: Σx")
        _check_counts(self.sum_x2, k, f"{where}: Σx²")
        _check_count(self.sum_total2, f"{where}: Σtotal²")
        for sx, sxx in zip(self.sum_x, self.sum_x2, strict=True):
            if not (LOWEST * self.n <= sx <= HIGHEST * self.n and self.n * sxx >= sx * sx):
                raise AggregateError(f"{where}: item sums that no set of answers gives.")
        if self.n * self.sum_total2 < self.sum_total**2 or (self.n == 0 and self.sum_total2):
            raise AggregateError(f"{where}: total sums that no set of answers gives.")
        if self.sum_xt:
            _check_counts(self.sum_xt, k, f"{where}: Σx·total")
            if sum(self.sum_xt) != self.sum_total2:
                raise AggregateError(f"{where}: Σx·total does not add up to Σtotal².")

    @property
    def sum_total(self) -> int:
        """Return Σ of each case's total, which is Σ of the per-item sums."""
        return sum(self.sum_x)


@dataclass(frozen=True)
class DriverSums:
    """Cross-products of whole-number lever indices over the respondents who scored every lever.

    ``lever_ids`` (2 or more, in questionnaire order) are the levers; ``n`` the
    respondents with a score on each of them; ``sum_v[i]`` Σv of lever i and
    ``cross`` the upper triangle of Σvᵢ·vⱼ row by row (i ≤ j: (0,0), (0,1), …,
    (1,1), …), so ``cross`` has p(p + 1)/2 entries. v is ``LeverSums``'s
    index (index = 25 · v / scale). Rules checked: every Σv² is at least
    (Σv)²/n, so derived variances are never negative.
    """

    lever_ids: tuple[str, ...]
    n: int
    sum_v: tuple[int, ...]
    cross: tuple[int, ...]

    def __post_init__(self) -> None:
        where = f"Levers {', '.join(map(str, self.lever_ids))}"
        if (
            not isinstance(self.lever_ids, tuple)
            or len(self.lever_ids) < 2
            or len(set(self.lever_ids)) != len(self.lever_ids)
        ):
            raise AggregateError(f"{where}: cross-products need 2 or more distinct levers.")
        p = len(self.lever_ids)
        _check_count(self.n, f"{where}: n")
        _check_counts(self.sum_v, p, f"{where}: Σv")
        _check_counts(self.cross, p * (p + 1) // 2, f"{where}: Σvᵢ·vⱼ")
        for i, sv in enumerate(self.sum_v):
            if self.n * self.product(i, i) < sv * sv or (self.n == 0 and self.product(i, i)):
                raise AggregateError(f"{where}: sums that no set of answers gives.")

    def product(self, i: int, j: int) -> int:
        """Return Σvᵢ·vⱼ (in either order)."""
        i, j = min(i, j), max(i, j)
        p = len(self.lever_ids)
        return self.cross[i * p - i * (i - 1) // 2 + (j - i)]


@dataclass(frozen=True)
class AudiencePart:
    """The sums over ``responses`` (at least one) responses of one audience.

    Entries are sorted by id (complete cases by lever, then items), so that
    equal data make equal records however they were built.
    """

    audience: Audience
    responses: int
    items: tuple[ItemTally, ...]
    levers: tuple[LeverSums, ...]
    complete_cases: tuple[CompleteCases, ...]
    comment_count: int = 0
    drivers: tuple[DriverSums, ...] = ()

    def __post_init__(self) -> None:
        where = f"The {self.audience} part"
        if _check_count(self.comment_count, f"{where}: comment_count") > self.responses:
            raise AggregateError(
                f"{where}: {self.comment_count} comments do not fit {self.responses} responses."
            )
        if not isinstance(self.audience, Audience):
            raise AggregateError(f"An aggregate part needs an audience, got {self.audience!r}.")
        if _check_count(self.responses, f"{where}: responses") == 0:
            raise AggregateError(f"{where} holds no responses; leave it out instead.")
        item_ids = [t.item_id for t in self.items]
        lever_ids = [s.lever_id for s in self.levers]
        case_keys = [(c.lever_id, c.item_ids) for c in self.complete_cases]
        driver_keys = [d.lever_ids for d in self.drivers]
        if (
            item_ids != sorted(set(item_ids))
            or lever_ids != sorted(set(lever_ids))
            or case_keys != sorted(set(case_keys))
            or driver_keys != sorted(set(driver_keys))
        ):
            raise AggregateError(f"{where}: entries must be unique and sorted by id.")
        counted = (
            [t.answered for t in self.items]
            + [s.n for s in self.levers]
            + [c.n for c in self.complete_cases]
            + [d.n for d in self.drivers]
        )
        if any(count > self.responses for count in counted):
            raise AggregateError(f"{where}: a count exceeds the {self.responses} responses.")

    def tally(self, item_id: str) -> ItemTally | None:
        """Return the tally of ``item_id``, or ``None`` when this audience is not asked it."""
        return next((t for t in self.items if t.item_id == item_id), None)

    def lever(self, lever_id: str) -> LeverSums | None:
        """Return the sums of ``lever_id``, or ``None`` when the part has none."""
        return next((s for s in self.levers if s.lever_id == lever_id), None)

    def cases(self, lever_id: str, item_ids: tuple[str, ...]) -> CompleteCases | None:
        """Return the complete-case sums of exactly ``item_ids``, or ``None``."""
        return next(
            (c for c in self.complete_cases if (c.lever_id, c.item_ids) == (lever_id, item_ids)),
            None,
        )

    def driver_sums(self, lever_ids: tuple[str, ...]) -> DriverSums | None:
        """Return the cross-products of exactly ``lever_ids``, or ``None``."""
        return next((d for d in self.drivers if d.lever_ids == lever_ids), None)


@dataclass(frozen=True)
class Aggregate:
    """Exact sums over a set of responses to one questionnaire version, split by audience.

    ``parts`` holds one ``AudiencePart`` per audience present, sorted by
    audience; a cell has one, a merged group up to one per audience, and an
    empty aggregate none. ``scale`` is the factor L of the whole-number index.
    """

    questionnaire_id: str
    questionnaire_version: int
    scale: int
    parts: tuple[AudiencePart, ...] = ()
    schema: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.questionnaire_id, str) or not self.questionnaire_id:
            raise AggregateError("An aggregate needs the id of its questionnaire.")
        if _check_count(self.questionnaire_version, "The questionnaire version") < 1:
            raise AggregateError("The questionnaire version must be 1 or more.")
        if _check_count(self.scale, "The index scale") < 1:
            raise AggregateError("The index scale must be 1 or more.")
        if type(self.schema) is not int or self.schema not in _KNOWN_SCHEMAS:
            raise AggregateError(
                f"Aggregate schema {self.schema!r} is unknown; this code reads "
                f"{', '.join(map(str, sorted(_KNOWN_SCHEMAS)))}. Upgrade the portal first."
            )
        if self.schema not in _WITH_COMMENT_COUNT and any(p.comment_count for p in self.parts):
            raise AggregateError(f"Aggregate schema {self.schema} holds no comments.")
        if self.schema not in _WITH_DRIVERS and any(
            p.drivers or any(c.sum_xt for c in p.complete_cases) for p in self.parts
        ):
            raise AggregateError(f"Aggregate schema {self.schema} holds no cross-products.")
        audiences = [part.audience.value for part in self.parts]
        if audiences != sorted(set(audiences)):
            raise AggregateError("An aggregate holds at most one part per audience, in order.")
        top = (HIGHEST - LOWEST) * self.scale
        for part in self.parts:
            for sums in part.levers:
                if sums.sum_v > top * sums.n or sums.sum_v2 > top * sums.sum_v:
                    raise AggregateError(
                        f"Lever {sums.lever_id}: sums beyond the index scale {self.scale}."
                    )
            for driver in part.drivers:
                if any(
                    sv > top * driver.n or driver.product(i, i) > top * sv
                    for i, sv in enumerate(driver.sum_v)
                ):
                    raise AggregateError(
                        f"Levers {', '.join(driver.lever_ids)}: sums beyond the index scale "
                        f"{self.scale}."
                    )

    @property
    def responses(self) -> int:
        """Return the number of responses summed, all audiences together."""
        return sum(part.responses for part in self.parts)

    def part(self, audience: Audience) -> AudiencePart | None:
        """Return the part of ``audience``, or ``None`` when none of its responses is in."""
        return next((part for part in self.parts if part.audience is audience), None)


# -- building ----------------------------------------------------------------------


#: ``index_scale`` per questionnaire object (kept alive here, so its id is never reused).
_scales: dict[int, tuple[Questionnaire, int]] = {}


def index_scale(questionnaire: Questionnaire) -> int:
    """Return L = lcm(1, …, K), K being the most items one audience is asked on one lever.

    Rule: a respondent scores k ≤ K items on a lever, so L / k is whole for
    every k and v = (S − k) · L / k is a whole number. 60 for K = 5.
    Worked out once per questionnaire object: every figure checks it
    (``_check_instrument``), over a thousand times per dashboard view.
    """
    known = _scales.get(id(questionnaire))
    if known is not None and known[0] is questionnaire:
        return known[1]
    if len(_scales) >= 64:  # questionnaires are few; a test may parse many
        _scales.clear()
    scale = _index_scale(questionnaire)
    _scales[id(questionnaire)] = (questionnaire, scale)
    return scale


def _index_scale(questionnaire: Questionnaire) -> int:
    asked: dict[tuple[str, Audience], int] = {}
    for item in questionnaire.items:
        for audience in Audience:
            if item.applies_to(audience):
                asked[(item.lever, audience)] = asked.get((item.lever, audience), 0) + 1
    return math.lcm(*range(1, max(asked.values(), default=1) + 1))


def empty_aggregate(questionnaire: Questionnaire) -> Aggregate:
    """Return the aggregate of no responses, the neutral element of ``merge``."""
    return Aggregate(questionnaire.id, questionnaire.version, index_scale(questionnaire))


@dataclass(frozen=True)
class _Plan:
    """What one audience's response contributes to, worked out once per audience."""

    asked: tuple[Item, ...]
    levers: tuple[tuple[str, tuple[Item, ...]], ...]
    cases: tuple[tuple[str, tuple[Item, ...]], ...]
    scale: int
    drivers: tuple[tuple[str, ...], ...] = ()


def _plan(questionnaire: Questionnaire, audience: Audience, scale: int) -> _Plan:
    others = [other for other in Audience if other is not audience]
    groups = [
        (audience, *extra)
        for size in range(len(others) + 1)
        for extra in combinations(others, size)
    ]
    on_lever: dict[str, list[Item]] = {lever.id: [] for lever in questionnaire.levers}
    for item in questionnaire.items:
        on_lever[item.lever].append(item)
    cases: dict[tuple[str, tuple[str, ...]], tuple[Item, ...]] = {}
    for lever_id, items in on_lever.items():
        for group in groups:
            chosen = tuple(i for i in items if all(i.applies_to(a) for a in group))
            if len(chosen) >= 2:
                cases[(lever_id, tuple(i.id for i in chosen))] = chosen
    drivers: dict[tuple[str, ...], None] = {}
    for group in groups:
        common = tuple(
            lever_id
            for lever_id, items in on_lever.items()
            if all(any(i.applies_to(a) for i in items) for a in group)
        )
        if len(common) >= 2:
            drivers[common] = None
    return _Plan(
        asked=tuple(item for item in questionnaire.items if item.applies_to(audience)),
        # in file order, as scoring.lever_items gives them
        levers=tuple(
            (lever_id, tuple(i for i in items if i.applies_to(audience)))
            for lever_id, items in on_lever.items()
        ),
        cases=tuple((lever_id, items) for (lever_id, _), items in cases.items()),
        scale=scale,
        drivers=tuple(drivers),
    )


Key = TypeVar("Key")


def _add_into(mine: dict[Key, list[int]], theirs: Mapping[Key, Sequence[int]], sign: int) -> None:
    for key, values in theirs.items():
        total = mine[key]
        for i, value in enumerate(values):
            total[i] += sign * value


class _Sums:
    """Mutable running sums of one audience; ``freeze`` turns them into a part."""

    def __init__(self) -> None:
        self.started = False
        self.responses = 0
        self.items: dict[str, list[int]] = {}  # [1s, 2s, 3s, 4s, 5s, don't know]
        self.levers: dict[str, list[int]] = {}  # [n, Σv, Σv²]
        # [n, Σt², Σx…, Σx²…, Σx·t…] (Σx·t… absent in parts of schema 3 and before)
        self.cases: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        self.drivers: dict[tuple[str, ...], list[int]] = {}  # [n, Σv…, Σvᵢvⱼ… (i ≤ j)]
        self.comment_count = 0

    def start(self, plan: _Plan) -> None:
        self.started = True
        self.items = {item.id: [0] * (SCALE_POINTS + 1) for item in plan.asked}
        self.levers = {lever_id: [0, 0, 0] for lever_id, _ in plan.levers}
        self.cases = {
            (lever_id, tuple(item.id for item in items)): [0] * (2 + 3 * len(items))
            for lever_id, items in plan.cases
        }
        self.drivers = {
            lever_ids: [0] * (1 + len(lever_ids) + len(lever_ids) * (len(lever_ids) + 1) // 2)
            for lever_ids in plan.drivers
        }

    def add_response(self, plan: _Plan, response: Response) -> None:
        answers = response.answers
        scored: dict[str, int | None] = {}
        for item in plan.asked:
            if item.id in answers:
                answer = answers[item.id]
                scored[item.id] = score_item(item, answer)  # rejects an off-scale answer
                self.items[item.id][SCALE_POINTS if answer is None else answer - LOWEST] += 1
        self.responses += 1
        if _has_text(response.comment):
            self.comment_count += 1
        indices: dict[str, int] = {}
        for lever_id, items in plan.levers:
            values = [v for v in (scored.get(item.id) for item in items) if v is not None]
            if enough_scored(len(values), len(items)):
                k = len(values)
                v = (sum(values) - LOWEST * k) * (plan.scale // k)
                indices[lever_id] = v
                sums = self.levers[lever_id]
                sums[0] += 1
                sums[1] += v
                sums[2] += v * v
        for lever_id, items in plan.cases:
            row = [scored.get(item.id) for item in items]
            values = [value for value in row if value is not None]
            if len(values) == len(row):
                entry = self.cases[(lever_id, tuple(item.id for item in items))]
                k = len(values)
                total = sum(values)
                entry[0] += 1
                entry[1] += total * total
                for i, value in enumerate(values):
                    entry[2 + i] += value
                    entry[2 + k + i] += value * value
                    entry[2 + 2 * k + i] += value * total
        for lever_ids in plan.drivers:
            if all(lever_id in indices for lever_id in lever_ids):
                vs = [indices[lever_id] for lever_id in lever_ids]
                entry = self.drivers[lever_ids]
                p = len(vs)
                entry[0] += 1
                at = 1 + p
                for i in range(p):
                    entry[1 + i] += vs[i]
                    for j in range(i, p):
                        entry[at] += vs[i] * vs[j]
                        at += 1

    def add_part(self, part: AudiencePart, sign: int) -> None:
        items = {t.item_id: (*t.counts, t.dont_know) for t in part.items}
        levers = {s.lever_id: (s.n, s.sum_v, s.sum_v2) for s in part.levers}
        cases = {
            (c.lever_id, c.item_ids): (c.n, c.sum_total2, *c.sum_x, *c.sum_x2, *c.sum_xt)
            for c in part.complete_cases
        }
        drivers = {d.lever_ids: (d.n, *d.sum_v, *d.cross) for d in part.drivers}
        if not self.started:
            self.started = True
            self.items = {key: [0] * len(value) for key, value in items.items()}
            self.levers = {key: [0] * len(value) for key, value in levers.items()}
            self.cases = {key: [0] * len(value) for key, value in cases.items()}
            self.drivers = {key: [0] * len(value) for key, value in drivers.items()}
        elif (set(self.items), set(self.levers), set(self.cases), set(self.drivers)) != (
            set(items),
            set(levers),
            set(cases),
            set(drivers),
        ) or any(len(self.cases[key]) != len(value) for key, value in cases.items()):
            raise AggregateError(
                f"The {part.audience} parts list different items, levers or item sets, "
                "although they claim the same questionnaire version; rebuild them from "
                "the responses."
            )
        self.responses += sign * part.responses
        self.comment_count += sign * part.comment_count
        _add_into(self.items, items, sign)
        _add_into(self.levers, levers, sign)
        _add_into(self.cases, cases, sign)
        _add_into(self.drivers, drivers, sign)

    def freeze(self, audience: Audience) -> AudiencePart | None:
        everything = [
            self.responses,
            self.comment_count,
            *(c for v in self.items.values() for c in v),
            *(c for v in self.levers.values() for c in v),
            *(c for v in self.cases.values() for c in v),
            *(c for v in self.drivers.values() for c in v),
        ]
        if any(value < 0 for value in everything):
            raise AggregateError(
                f"Subtracting would leave negative {audience} counts: the aggregate taken "
                "away holds responses the other does not."
            )
        if self.responses == 0:
            if any(everything):
                raise AggregateError(f"The {audience} sums are left without responses.")
            return None
        return AudiencePart(
            audience=audience,
            responses=self.responses,
            items=tuple(
                ItemTally(item_id, (c[0], c[1], c[2], c[3], c[4]), c[5])
                for item_id, c in sorted(self.items.items())
            ),
            levers=tuple(
                LeverSums(lever_id, s[0], s[1], s[2]) for lever_id, s in sorted(self.levers.items())
            ),
            complete_cases=tuple(
                CompleteCases(
                    lever_id,
                    item_ids,
                    e[0],
                    tuple(e[2 : 2 + len(item_ids)]),
                    tuple(e[2 + len(item_ids) : 2 + 2 * len(item_ids)]),
                    e[1],
                    tuple(e[2 + 2 * len(item_ids) :]),
                )
                for (lever_id, item_ids), e in sorted(self.cases.items())
            ),
            comment_count=self.comment_count,
            drivers=tuple(
                DriverSums(
                    lever_ids,
                    e[0],
                    tuple(e[1 : 1 + len(lever_ids)]),
                    tuple(e[1 + len(lever_ids) :]),
                )
                for lever_ids, e in sorted(self.drivers.items())
            ),
        )


def _finish(template: Aggregate, sums: Mapping[Audience, _Sums]) -> Aggregate:
    parts = [sums[audience].freeze(audience) for audience in sorted(sums, key=str)]
    return Aggregate(
        template.questionnaire_id,
        template.questionnaire_version,
        template.scale,
        tuple(part for part in parts if part is not None),
        template.schema,
    )


def aggregate_responses(questionnaire: Questionnaire, responses: Iterable[Response]) -> Aggregate:
    """Sum ``responses`` to ``questionnaire`` into one aggregate (none gives an empty one).

    Rules: per response, each item its audience is asked and answered is
    tallied by raw answer (``None`` as don't-know); each lever on which the
    respondent scored k items, at least half of those asked, adds
    v = (S − k) · L / k; each item set of 2+ items that the respondent scored
    in full adds a complete case; each lever set on all of whose levers the
    respondent has an index adds their v's cross-products. Answers
    to items the audience is not asked are ignored; an off-scale answer raises
    ``ValueError``. The responses' survey, wave and department are not checked:
    choosing the cell is the caller's job.
    """
    template = empty_aggregate(questionnaire)
    plans: dict[Audience, _Plan] = {}
    sums: dict[Audience, _Sums] = {}
    for response in responses:
        audience = response.audience
        if audience not in plans:
            plans[audience] = _plan(questionnaire, audience, template.scale)
            sums[audience] = _Sums()
            sums[audience].start(plans[audience])
        sums[audience].add_response(plans[audience], response)
    return _finish(template, sums)


def aggregate_response(questionnaire: Questionnaire, response: Response) -> Aggregate:
    """Return the aggregate of one response: the cell's contribution of one respondent.

    See ``aggregate_responses`` for the rules.
    """
    return aggregate_responses(questionnaire, [response])


# -- combining ---------------------------------------------------------------------


def _check_compatible(first: Aggregate, other: Aggregate) -> None:
    mine = (first.questionnaire_id, first.questionnaire_version, first.scale, first.schema)
    theirs = (other.questionnaire_id, other.questionnaire_version, other.scale, other.schema)
    if mine != theirs:
        raise AggregateError(
            f"Cannot combine aggregates of {first.questionnaire_id} v{first.questionnaire_version} "
            f"(scale {first.scale}, schema {first.schema}) and {other.questionnaire_id} "
            f"v{other.questionnaire_version} (scale {other.scale}, schema {other.schema}); "
            "only answers to the same questionnaire version can be added up."
        )


def merge_all(aggregates: Iterable[Aggregate]) -> Aggregate:
    """Add up ``aggregates`` of one questionnaire version into one.

    Rules: every count and sum is added, audience by audience; the result does
    not depend on order or grouping. Aggregates of another questionnaire id,
    version, scale or schema raise ``AggregateError``, as does an empty
    iterable (start from ``empty_aggregate(questionnaire)`` to allow none).
    """
    template: Aggregate | None = None
    sums: dict[Audience, _Sums] = {}
    for aggregate in aggregates:
        if template is None:
            template = aggregate
        _check_compatible(template, aggregate)
        for part in aggregate.parts:
            sums.setdefault(part.audience, _Sums()).add_part(part, 1)
    if template is None:
        raise AggregateError(
            "merge_all needs at least one aggregate; start from empty_aggregate(questionnaire)."
        )
    return _finish(template, sums)


def merge(first: Aggregate, second: Aggregate) -> Aggregate:
    """Return the sum of two aggregates of the same questionnaire version (see ``merge_all``)."""
    return merge_all((first, second))


def subtract(whole: Aggregate, part: Aggregate) -> Aggregate:
    """Take ``part`` out of ``whole``: the inverse of ``merge`` (for tests and corrections).

    Rules: ``subtract(merge(a, b), b) == a``. Only meaningful when ``part``'s
    responses are among ``whole``'s; a result with any negative count, or
    sums left without responses, raises ``AggregateError`` and nothing changes.
    An audience whose responses all go is dropped.
    """
    _check_compatible(whole, part)
    sums: dict[Audience, _Sums] = {}
    for piece in whole.parts:
        sums.setdefault(piece.audience, _Sums()).add_part(piece, 1)
    for piece in part.parts:
        if piece.audience not in sums:
            raise AggregateError(
                f"Cannot take {piece.audience} responses out of an aggregate that has none."
            )
        sums[piece.audience].add_part(piece, -1)
    return _finish(whole, sums)


# -- comment texts -----------------------------------------------------------------


@dataclass(frozen=True)
class DepartmentComments:
    """One department's comment texts in one snapshot, kept apart from its numeric cell.

    ``texts`` maps an audience to its texts exactly as written (none blank), in
    canonical order (``comment_order``); an audience without texts is left out,
    so equal comments make equal values. ``snapshot_id`` names the snapshot the
    texts belong to, ``None`` when the wave has no snapshot yet (then there are
    no texts). Only a department page reads them, one department at a time.
    """

    snapshot_id: str | None
    texts: Mapping[Audience, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.snapshot_id is None and self.texts:
            raise AggregateError("Comment texts need the snapshot they belong to.")
        for audience, texts in self.texts.items():
            if not isinstance(audience, Audience):
                raise AggregateError(f"Comments need an audience, got {audience!r}.")
            if not isinstance(texts, tuple) or not texts:
                raise AggregateError(f"The {audience} comments must be a tuple of texts.")
            if not all(_has_text(text) for text in texts):
                raise AggregateError(f"The {audience} comments must be texts that are not blank.")
            if list(texts) != sorted(texts, key=comment_order):
                raise AggregateError(f"The {audience} comments must be in their canonical order.")

    @property
    def count(self) -> int:
        """Return how many texts are kept, all audiences together."""
        return sum(len(texts) for texts in self.texts.values())

    def all_texts(self) -> tuple[str, ...]:
        """Return every kept text, audience by audience in audience order."""
        return tuple(
            text for audience in sorted(self.texts, key=str) for text in self.texts[audience]
        )


def collect_comments(
    snapshot_id: str | None,
    comments: Iterable[tuple[Audience, str | None]],
    budget: int = COMMENT_BUDGET,
) -> DepartmentComments:
    """Return one department's kept comment texts from its responses' (audience, comment).

    Rules: missing, empty and whitespace-only comments are dropped (they are not
    counted by ``comment_count`` either); the rest are kept exactly as written,
    per audience in canonical order (``comment_order``); each audience keeps the
    longest run, in that order, whose ``comment_cost`` adds up to at most
    ``budget`` bytes. The result depends only on the multiset of comments, never
    on the order they came in, so a recomputation keeps exactly the same texts.
    """
    if budget < 0:
        raise AggregateError(f"A comment budget cannot be negative, got {budget}.")
    found: dict[Audience, list[str]] = {}
    for audience, text in comments:
        if _has_text(text):
            assert text is not None
            found.setdefault(audience, []).append(text)
    kept: dict[Audience, tuple[str, ...]] = {}
    for audience in sorted(found, key=str):
        ordered, used, count = sorted(found[audience], key=comment_order), 0, 0
        for text in ordered:
            used += comment_cost(text)
            if used > budget:
                break
            count += 1
        if count:
            kept[audience] = tuple(ordered[:count])
    return DepartmentComments(snapshot_id, kept)


def comments_to_dict(comments: DepartmentComments) -> dict[str, list[str]]:
    """Return the texts as plain JSON-safe data: {audience: [texts in canonical order]}."""
    return {a.value: list(comments.texts[a]) for a in sorted(comments.texts, key=str)}


def comments_from_dict(snapshot_id: str, data: object) -> DepartmentComments:
    """Read what ``comments_to_dict`` wrote; raise ``AggregateError`` if it is damaged."""
    if not isinstance(data, Mapping):
        raise AggregateError("Stored comments must be a mapping of audience to texts.")
    texts: dict[Audience, tuple[str, ...]] = {}
    for key, value in data.items():
        try:
            audience = Audience(str(key))
        except ValueError as exc:
            raise AggregateError(f"Stored comments: unknown audience {key!r}.") from exc
        if not isinstance(value, list) or not all(isinstance(text, str) for text in value):
            raise AggregateError(f"Stored {audience} comments must be a list of texts.")
        texts[audience] = tuple(value)
    return DepartmentComments(snapshot_id, texts)


# -- storage -----------------------------------------------------------------------


def to_dict(aggregate: Aggregate) -> dict[str, object]:
    """Return ``aggregate`` as plain JSON-safe data, keys always in the same order.

    Layout (schema 4): ``schema``, ``questionnaire_id``, ``questionnaire_version``,
    ``scale``, and ``parts``: per audience ``audience``, ``responses``,
    ``items`` {item id: [1s, 2s, 3s, 4s, 5s, don't know]}, ``levers``
    {lever id: [n, Σv, Σv²]}, ``complete_cases`` [{``lever``, ``items``,
    ``n``, ``sum_x``, ``sum_x2``, ``sum_total2``, ``sum_xt``}],
    ``comment_count`` and ``drivers`` [{``levers``, ``n``, ``sum_v``,
    ``cross``}]. Every number is a whole number; items, levers, item sets and
    lever sets are sorted by id. No text is ever written here: comment texts
    are ``DepartmentComments``. Schema 3 is the same without ``sum_xt`` and
    ``drivers``; schema 1 also without ``comment_count``; schema 2 also had
    ``comments``, written as an empty list (its texts are dropped on reading).
    """
    with_count = aggregate.schema in _WITH_COMMENT_COUNT
    with_texts = aggregate.schema in _WITH_COMMENT_TEXTS
    with_drivers = aggregate.schema in _WITH_DRIVERS
    return {
        "schema": aggregate.schema,
        "questionnaire_id": aggregate.questionnaire_id,
        "questionnaire_version": aggregate.questionnaire_version,
        "scale": aggregate.scale,
        "parts": [
            {
                "audience": part.audience.value,
                "responses": part.responses,
                "items": {t.item_id: [*t.counts, t.dont_know] for t in part.items},
                "levers": {s.lever_id: [s.n, s.sum_v, s.sum_v2] for s in part.levers},
                "complete_cases": [
                    {
                        "lever": c.lever_id,
                        "items": list(c.item_ids),
                        "n": c.n,
                        "sum_x": list(c.sum_x),
                        "sum_x2": list(c.sum_x2),
                        "sum_total2": c.sum_total2,
                        **({"sum_xt": list(c.sum_xt)} if with_drivers else {}),
                    }
                    for c in part.complete_cases
                ],
                **({"comment_count": part.comment_count} if with_count else {}),
                **({"comments": []} if with_texts else {}),
                **(
                    {
                        "drivers": [
                            {
                                "levers": list(d.lever_ids),
                                "n": d.n,
                                "sum_v": list(d.sum_v),
                                "cross": list(d.cross),
                            }
                            for d in part.drivers
                        ]
                    }
                    if with_drivers
                    else {}
                ),
            }
            for part in aggregate.parts
        ],
    }


def _field(data: object, key: str, where: str) -> object:
    if not isinstance(data, Mapping):
        raise AggregateError(f"{where} must be a mapping.")
    if key not in data:
        raise AggregateError(f"{where}: the field {key!r} is missing.")
    return data[key]


def _only(data: object, keys: set[str], where: str) -> Mapping[str, object]:
    if not isinstance(data, Mapping):
        raise AggregateError(f"{where} must be a mapping.")
    extra = sorted(set(map(str, data)) - keys)
    if extra:
        raise AggregateError(f"{where}: unknown fields {', '.join(extra)}.")
    return data


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise AggregateError(f"{where} must be a non-empty string, got {value!r}.")
    return value


def _ints(value: object, where: str, length: int | None = None) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or (length is not None and len(value) != length):
        size = f"{length} " if length is not None else ""
        raise AggregateError(f"{where} must be a list of {size}whole numbers, got {value!r}.")
    return tuple(_check_count(v, where) for v in value)


def _texts(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise AggregateError(f"{where} must be a list of ids, got {value!r}.")
    return tuple(_text(v, where) for v in value)


def _part_from_dict(data: object, where: str, schema: int) -> AudiencePart:
    fields = {"audience", "responses", "items", "levers", "complete_cases"}
    if schema in _WITH_COMMENT_COUNT:
        fields.add("comment_count")
    if schema in _WITH_COMMENT_TEXTS:
        fields.add("comments")
    with_drivers = schema in _WITH_DRIVERS
    if with_drivers:
        fields.add("drivers")
    raw = _only(data, fields, where)
    audience_value = _field(raw, "audience", where)
    try:
        audience = Audience(str(audience_value))
    except ValueError as exc:
        raise AggregateError(f"{where}: unknown audience {audience_value!r}.") from exc
    items = _field(raw, "items", where)
    levers = _field(raw, "levers", where)
    cases = _field(raw, "complete_cases", where)
    if not isinstance(items, Mapping) or not isinstance(levers, Mapping):
        raise AggregateError(f"{where}: items and levers must map ids to whole numbers.")
    if not isinstance(cases, list | tuple):
        raise AggregateError(f"{where}: complete_cases must be a list.")
    tallies = []
    for item_id, counts in items.items():
        c = _ints(counts, f"{where}, item {item_id}", SCALE_POINTS + 1)
        tallies.append(ItemTally(_text(item_id, where), (c[0], c[1], c[2], c[3], c[4]), c[5]))
    lever_sums = []
    for lever_id, values in levers.items():
        n, sum_v, sum_v2 = _ints(values, f"{where}, lever {lever_id}", 3)
        lever_sums.append(LeverSums(_text(lever_id, where), n, sum_v, sum_v2))
    complete = []
    case_fields = {"lever", "items", "n", "sum_x", "sum_x2", "sum_total2"}
    if with_drivers:
        case_fields.add("sum_xt")
    for index, entry in enumerate(cases):
        at = f"{where}, complete_cases[{index}]"
        entry = _only(entry, case_fields, at)
        item_ids = _texts(_field(entry, "items", at), at)
        complete.append(
            CompleteCases(
                _text(_field(entry, "lever", at), at),
                item_ids,
                _check_count(_field(entry, "n", at), at),
                _ints(_field(entry, "sum_x", at), at, len(item_ids)),
                _ints(_field(entry, "sum_x2", at), at, len(item_ids)),
                _check_count(_field(entry, "sum_total2", at), at),
                _ints(_field(entry, "sum_xt", at), at, len(item_ids)) if with_drivers else (),
            )
        )
    driver_sums = []
    if with_drivers:
        entries = _field(raw, "drivers", where)
        if not isinstance(entries, list | tuple):
            raise AggregateError(f"{where}: drivers must be a list.")
        for index, entry in enumerate(entries):
            at = f"{where}, drivers[{index}]"
            entry = _only(entry, {"levers", "n", "sum_v", "cross"}, at)
            lever_ids = _texts(_field(entry, "levers", at), at)
            p = len(lever_ids)
            driver_sums.append(
                DriverSums(
                    lever_ids,
                    _check_count(_field(entry, "n", at), at),
                    _ints(_field(entry, "sum_v", at), at, p),
                    _ints(_field(entry, "cross", at), at, p * (p + 1) // 2),
                )
            )
    comment_count = 0
    if schema in _WITH_COMMENT_COUNT:
        comment_count = _check_count(_field(raw, "comment_count", where), f"{where}: comments")
    if schema in _WITH_COMMENT_TEXTS:
        # Schema 2 kept the texts in the cell; they are dropped here; the snapshot is
        # outdated and its recomputation stores them apart.
        texts = _field(raw, "comments", where)
        if not isinstance(texts, list | tuple) or not all(isinstance(t, str) for t in texts):
            raise AggregateError(f"{where}: comments must be a list of texts.")
    return AudiencePart(
        audience=audience,
        responses=_check_count(_field(raw, "responses", where), f"{where}: responses"),
        items=tuple(tallies),
        levers=tuple(lever_sums),
        complete_cases=tuple(complete),
        comment_count=comment_count,
        drivers=tuple(driver_sums),
    )


def from_dict(data: object) -> Aggregate:
    """Rebuild an aggregate from ``to_dict``'s output (as read back from storage).

    Rules: the layout must be exactly ``to_dict``'s for a known schema; every
    count must be a whole number ≥ 0 (``True`` is not a number here) and the
    sums must be ones some set of answers can give. Anything else raises
    ``AggregateError`` naming the place, so a damaged record is never scored.
    """
    where = "aggregate"
    raw = _only(
        data, {"schema", "questionnaire_id", "questionnaire_version", "scale", "parts"}, where
    )
    schema = _field(raw, "schema", where)
    if type(schema) is not int or schema not in _KNOWN_SCHEMAS:
        raise AggregateError(
            f"Aggregate schema {schema!r} is unknown; this code reads "
            f"{', '.join(map(str, sorted(_KNOWN_SCHEMAS)))}."
        )
    parts = _field(raw, "parts", where)
    if not isinstance(parts, list | tuple):
        raise AggregateError(f"{where}: parts must be a list.")
    return Aggregate(
        questionnaire_id=_text(_field(raw, "questionnaire_id", where), "questionnaire_id"),
        questionnaire_version=_check_count(
            _field(raw, "questionnaire_version", where), "questionnaire_version"
        ),
        scale=_check_count(_field(raw, "scale", where), "scale"),
        parts=tuple(_part_from_dict(part, f"parts[{i}]", schema) for i, part in enumerate(parts)),
        schema=schema,
    )


# -- statistics --------------------------------------------------------------------


def _check_instrument(questionnaire: Questionnaire, *aggregates: Aggregate) -> None:
    expected = (questionnaire.id, questionnaire.version, index_scale(questionnaire))
    for aggregate in aggregates:
        found = (aggregate.questionnaire_id, aggregate.questionnaire_version, aggregate.scale)
        if found != expected:
            raise AggregateError(
                f"The aggregate sums answers to {found[0]} v{found[1]} (scale {found[2]}), "
                f"not to {expected[0]} v{expected[1]} (scale {expected[2]}); score it with "
                "the questionnaire version its wave was answered with."
            )


def _chosen(aggregate: Aggregate, audience: Audience | None) -> list[AudiencePart]:
    return [p for p in aggregate.parts if audience is None or p.audience is audience]


def _lever_sums(parts: Iterable[AudiencePart], lever_id: str) -> LeverSums:
    n = sum_v = sum_v2 = 0
    for part in parts:
        sums = part.lever(lever_id)
        if sums is not None:
            n, sum_v, sum_v2 = n + sums.n, sum_v + sums.sum_v, sum_v2 + sums.sum_v2
    return LeverSums(lever_id, n, sum_v, sum_v2)


def _sqrt(value: Fraction) -> float:
    # The correctly rounded square root of a fraction ≥ 0, as statistics.stdev returns it:
    # an integer root of value · 4^−shift on 2·53 + 3 bits, rounded to odd (so the one
    # final rounding to a float cannot be a double rounding), then scaled back.
    num, den = value.numerator, value.denominator
    shift = (num.bit_length() - den.bit_length() - _SQRT_BITS) // 2
    if shift >= 0:
        den <<= 2 * shift
    else:
        num <<= -2 * shift
    root = math.isqrt(num // den)
    root |= root * root * den != num
    return float(root << shift) if shift >= 0 else root / (1 << -shift)


def _total(sums: LeverSums, scale: int) -> Fraction:
    # Σ of the respondents' indices, exactly: Σ 25 · v / L.
    return _INDEX_STEP * sums.sum_v / scale


def _variance(sums: LeverSums, scale: int) -> Fraction:
    # Sample variance of the indices: (n Σx² − (Σx)²) / (n (n − 1)) with x = 25 v / L.
    n = sums.n
    return (_INDEX_STEP / scale) ** 2 * (n * sums.sum_v2 - sums.sum_v**2) / (n * (n - 1))


def describe_sums(sums: LeverSums, scale: int) -> LeverScore:
    """Summarise lever sums into a ``LeverScore``, as ``scoring.describe_indices`` would.

    Rules (those of ``describe_indices``): index = mean of the respondent
    indices, taken like ``statistics.fmean`` — the exact sum rounded to a
    float, then divided by n; sd = the sample standard deviation, exact and
    rounded once; the 95 % interval is index ± t(0.975, n − 1) · sd / √n with
    scoring's own ``t_quantile``, clamped to 0–100. ``None``s when n is 0 (all)
    or 1 (sd and interval).
    """
    n = sums.n
    if n == 0:
        return LeverScore(sums.lever_id, 0, None, None, None, None)
    index = float(_total(sums, scale)) / n
    if n < 2:
        return LeverScore(sums.lever_id, n, index, None, None, None)
    sd = _sqrt(_variance(sums, scale))
    half_width = t_quantile((1 + CONFIDENCE) / 2, n - 1) * sd / math.sqrt(n)
    low = max(0.0, min(index, index - half_width))
    high = min(100.0, max(index, index + half_width))
    return LeverScore(sums.lever_id, n, index, sd, low, high)


def score_lever(
    questionnaire: Questionnaire,
    aggregate: Aggregate,
    lever_id: str,
    audience: Audience | None = None,
) -> LeverScore:
    """Score ``lever_id`` over the aggregate (only ``audience``'s part when given).

    Same rules as ``scoring.score_lever``: each respondent with a scored item
    on the lever weighs once. Raise ``KeyError`` for an unknown lever and
    ``AggregateError`` when the aggregate is of another questionnaire version.
    """
    _check_instrument(questionnaire, aggregate)
    questionnaire.lever(lever_id)
    return describe_sums(_lever_sums(_chosen(aggregate, audience), lever_id), aggregate.scale)


def score_levers(
    questionnaire: Questionnaire, aggregate: Aggregate, audience: Audience | None = None
) -> dict[str, LeverScore]:
    """Score every lever, outcome included, keyed by lever id in questionnaire order."""
    return {
        lever.id: score_lever(questionnaire, aggregate, lever.id, audience)
        for lever in questionnaire.levers
    }


def _item(questionnaire: Questionnaire, item_id: str) -> Item:
    for item in questionnaire.items:
        if item.id == item_id:
            return item
    raise KeyError(item_id)


def distribute_item(
    questionnaire: Questionnaire, aggregate: Aggregate, item_id: str
) -> Distribution:
    """Count the raw answers to ``item_id``, flagged ``reverse`` for a reverse-scored item.

    Same rules as ``scoring.distribute_item``: raw categories, don't-knows
    apart, only respondents asked the item. Raise ``KeyError`` for an item the
    questionnaire does not have.
    """
    _check_instrument(questionnaire, aggregate)
    item = _item(questionnaire, item_id)
    counts = [0] * SCALE_POINTS
    dont_know = 0
    for part in aggregate.parts:
        tally = part.tally(item_id)
        if tally is not None:
            counts = [a + b for a, b in zip(counts, tally.counts, strict=True)]
            dont_know += tally.dont_know
    one, two, three, four, five = counts
    return Distribution((one, two, three, four, five), dont_know, item.reverse)


def distribute_lever(
    questionnaire: Questionnaire, aggregate: Aggregate, lever_id: str
) -> Distribution:
    """Count the scored answers to every item of ``lever_id``, pooled over items and people.

    Same rules as ``scoring.distribute_lever``: a reverse item's raw counts
    are flipped (raw 1 is scored 5), each answer counts once, don't-knows apart.
    """
    _check_instrument(questionnaire, aggregate)
    questionnaire.lever(lever_id)
    counts = [0] * SCALE_POINTS
    dont_know = 0
    for part in aggregate.parts:
        for item in lever_items(questionnaire, lever_id, part.audience):
            tally = part.tally(item.id)
            if tally is not None:
                raw = reversed(tally.counts) if item.reverse else tally.counts
                counts = [a + b for a, b in zip(counts, raw, strict=True)]
                dont_know += tally.dont_know
    one, two, three, four, five = counts
    return Distribution((one, two, three, four, five), dont_know)


def compare_audiences(
    questionnaire: Questionnaire, aggregate: Aggregate, lever_id: str
) -> AudienceGap:
    """Score ``lever_id`` for employees and managers apart; gap = manager − employee index.

    Same rules as ``scoring.compare_audiences``; the gap is ``None`` when
    either side has no score.
    """
    employee = score_lever(questionnaire, aggregate, lever_id, Audience.EMPLOYEE)
    manager = score_lever(questionnaire, aggregate, lever_id, Audience.MANAGER)
    gap = None
    if employee.index is not None and manager.index is not None:
        gap = manager.index - employee.index
    return AudienceGap(lever_id, employee, manager, gap)


def compare_waves(
    questionnaire: Questionnaire,
    before: Aggregate,
    after: Aggregate,
    lever_id: str,
    alpha: float = ALPHA,
) -> WaveChange:
    """Compare a group's index on ``lever_id`` between two waves' aggregates.

    Same rules as ``scoring.compare_waves`` (``portal.domain.changes``, judged
    alone: q = p): change = after − before index; Welch's interval, Hedges' g
    and the detectable difference from the exact sums. Both aggregates must
    be of ``questionnaire``'s version.
    """
    _check_instrument(questionnaire, before, after)
    questionnaire.lever(lever_id)
    before_sums = _lever_sums(before.parts, lever_id)
    after_sums = _lever_sums(after.parts, lever_id)
    return judge(
        lever_id,
        describe_sums(before_sums, before.scale),
        describe_sums(after_sums, after.scale),
        summarize_sums(before_sums, before.scale),
        summarize_sums(after_sums, after.scale),
        alpha,
    )


def summarize_sums(sums: LeverSums, scale: int) -> Summary:
    """Return n, mean and sd of the respondent indices that ``sums`` adds up, exactly.

    The sums of the indices x = 25 · v / L and of x² as exact fractions
    (``statistics.summarize``), so that the summary equals the one of the
    indices themselves whenever each index is exact as a float.
    """
    step = _INDEX_STEP / scale
    return summarize(sums.n, step * sums.sum_v, step * step * sums.sum_v2)


def find_barrier(
    questionnaire: Questionnaire,
    aggregate: Aggregate,
    needs_attention: float = NEEDS_ATTENTION,
    audience: Audience | None = None,
) -> LeverScore | None:
    """Return the score of the first non-outcome lever below ``needs_attention`` (60).

    Same rules as ``scoring.find_barrier`` applied to ``score_levers``.
    """
    scores = score_levers(questionnaire, aggregate, audience)
    return find_barrier_in_scores(questionnaire, scores, needs_attention)


def _scaled_variance(n: int, sum_x: int, sum_x2: int) -> int:
    # The sample variance (n Σx² − (Σx)²) / (n (n − 1)), times n (n − 1).
    return n * sum_x2 - sum_x * sum_x


def _audiences_scoring(parts: Iterable[AudiencePart], lever_id: str) -> set[Audience]:
    return {part.audience for part in parts if (sums := part.lever(lever_id)) and sums.n}


def _alpha_items(
    questionnaire: Questionnaire, aggregate: Aggregate, lever_id: str, audience: Audience | None
) -> tuple[list[AudiencePart], tuple[str, ...]]:
    # The parts of the group and the items its alpha is taken over (see cronbach_alpha).
    _check_instrument(questionnaire, aggregate)
    questionnaire.lever(lever_id)
    parts = _chosen(aggregate, audience)
    if audience is not None:
        audiences = {audience}
    else:
        # Parts whose respondents scored nothing on the lever do not narrow the item set.
        audiences = _audiences_scoring(parts, lever_id) or set(Audience)
    items = tuple(
        item.id
        for item in questionnaire.items
        if item.lever == lever_id and all(item.applies_to(a) for a in audiences)
    )
    return parts, items


def _complete_cases(
    parts: Iterable[AudiencePart], lever_id: str, items: tuple[str, ...]
) -> CompleteCases:
    # The parts' complete-case sums of exactly ``items`` (2 or more), added up.
    k = len(items)
    n = sum_total2 = 0
    sum_x, sum_x2, sum_xt = [0] * k, [0] * k, [0] * k
    with_xt = True
    for part in parts:
        cases = part.cases(lever_id, items)
        if cases is not None:
            n += cases.n
            sum_total2 += cases.sum_total2
            sum_x = [a + b for a, b in zip(sum_x, cases.sum_x, strict=True)]
            sum_x2 = [a + b for a, b in zip(sum_x2, cases.sum_x2, strict=True)]
            if cases.sum_xt:
                sum_xt = [a + b for a, b in zip(sum_xt, cases.sum_xt, strict=True)]
            else:
                with_xt = False
    return CompleteCases(
        lever_id,
        items,
        n,
        tuple(sum_x),
        tuple(sum_x2),
        sum_total2,
        tuple(sum_xt) if with_xt else (),
    )


@dataclass(frozen=True)
class ItemAnalysis:
    """Item-rest correlations and alpha-if-item-deleted of a lever, over ``n`` complete cases.

    ``items`` are the item ids, in questionnaire order, ``statistics`` one
    ``ItemStatistics`` per item (``reliability.analyse_items_from_sums``).
    """

    lever_id: str
    items: tuple[str, ...]
    n: int
    statistics: tuple[ItemStatistics, ...]


def item_analysis(
    questionnaire: Questionnaire,
    aggregate: Aggregate,
    lever_id: str,
    audience: Audience | None = None,
) -> ItemAnalysis | None:
    """Return each item's item-rest correlation and alpha without it, over alpha's complete cases.

    Rules: the same items and complete cases as ``cronbach_alpha`` (so the
    figures belong to the alpha shown beside them); ``None`` when there are
    fewer than 3 such items (alpha without an item needs 2 left — with 2
    items the item-rest correlation is just the items' correlation), fewer
    than 3 complete cases, or the sums are of a schema without Σx·total.
    """
    parts, items = _alpha_items(questionnaire, aggregate, lever_id, audience)
    if len(items) < 3:
        return None
    cases = _complete_cases(parts, lever_id, items)
    if cases.n < 3 or not cases.sum_xt:
        return None
    found = analyse_items_from_sums(
        cases.n, cases.sum_x, cases.sum_x2, cases.sum_xt, cases.sum_total2
    )
    return ItemAnalysis(lever_id, items, cases.n, found)


def lever_cross_sums(
    questionnaire: Questionnaire, aggregate: Aggregate, audience: Audience | None = None
) -> tuple[tuple[str, ...], CrossSums] | None:
    """Return the levers a key-driver analysis can use and their cross-product sums.

    Rules: with ``audience``, its part's lever set; without, the levers asked
    of every audience present in the group (so each respondent summed has a
    score on each); the sums are over the respondents with a score on every
    one of those levers, in whole-number indices v (index = 25 · v / scale:
    correlations do not depend on the unit). ``None`` when the group has no
    such set (no parts, a schema without cross-products, or fewer than 2
    levers in common).
    """
    _check_instrument(questionnaire, aggregate)
    parts = _chosen(aggregate, audience)
    if not parts:
        return None
    audiences = {part.audience for part in parts}
    lever_ids = tuple(
        lever.id
        for lever in questionnaire.levers
        if all(
            any(i.lever == lever.id and i.applies_to(a) for i in questionnaire.items)
            for a in audiences
        )
    )
    found = [part.driver_sums(lever_ids) for part in parts]
    if len(lever_ids) < 2 or any(sums is None for sums in found):
        return None
    p = len(lever_ids)
    total = CrossSums(0, (0,) * p, tuple((0,) * p for _ in range(p)))
    for sums in found:
        assert sums is not None
        total = total + CrossSums(
            sums.n,
            sums.sum_v,
            tuple(tuple(sums.product(i, j) for j in range(p)) for i in range(p)),
        )
    return lever_ids, total


def cronbach_alpha(
    questionnaire: Questionnaire,
    aggregate: Aggregate,
    lever_id: str,
    audience: Audience | None = None,
) -> Reliability:
    """Return Cronbach's alpha of ``lever_id``'s items over complete cases.

    Same rules as ``scoring.cronbach_alpha``: with ``audience``, its items on
    the lever; without, the items asked of every audience that has a
    respondent who scored the lever (all audiences when none did). alpha =
    k / (k − 1) · (1 − Σ var_i / var_total), exact, rounded once; ``None``
    when k < 2, n < 3 or the total variance is 0. The complete cases of one
    item are that item's scored answers; of no item, every response.
    """
    parts, items = _alpha_items(questionnaire, aggregate, lever_id, audience)
    k = len(items)
    if k == 0:
        return Reliability(lever_id, 0, sum(p.responses for p in parts), None)
    if k == 1:
        tallies = (p.tally(items[0]) for p in parts)
        return Reliability(lever_id, 1, sum(sum(t.counts) for t in tallies if t), None)
    cases = _complete_cases(parts, lever_id, items)
    n, sum_x, sum_x2, sum_total2 = cases.n, cases.sum_x, cases.sum_x2, cases.sum_total2
    if n < 3:
        return Reliability(lever_id, k, n, None)
    # Both variances carry the factor 1 / (n (n − 1)), which cancels in their ratio.
    item_variances = sum(
        _scaled_variance(n, sx, sxx) for sx, sxx in zip(sum_x, sum_x2, strict=True)
    )
    total_variance = _scaled_variance(n, sum(sum_x), sum_total2)
    if total_variance == 0:
        return Reliability(lever_id, k, n, None)
    alpha = Fraction(k, k - 1) * (1 - Fraction(item_variances, total_variance))
    return Reliability(lever_id, k, n, float(alpha))


@dataclass(frozen=True)
class Snapshot:
    """A wave's aggregates at one moment: one ``Aggregate`` per department.

    ``snapshot_id`` names this computation; a store switches to a new snapshot
    only once all its cells (and comment texts) are written, so a reader never
    sees half of one. ``responses`` is the number of responses it covers (the
    sum over cells).

    ``comments`` holds the departments' comment texts (only departments with
    kept texts) when they are at hand: a computed snapshot has them and
    ``Store.put_snapshot`` stores them apart from the cells; ``None`` means
    "not read" — ``Store.get_snapshot`` never reads them, since every dashboard
    view reads the cells and must cost the same whatever people wrote. A
    department page reads its own with ``Store.get_snapshot_comments``.
    """

    survey_slug: str
    wave_id: str
    snapshot_id: str
    computed_at: datetime
    cells: Mapping[str, Aggregate]
    comments: Mapping[str, DepartmentComments] | None = None

    def __post_init__(self) -> None:
        for code, texts in (self.comments or {}).items():
            if texts.snapshot_id != self.snapshot_id or code not in self.cells:
                raise AggregateError(
                    f"The comments of {code!r} do not belong to snapshot {self.snapshot_id!r}."
                )
            if not texts.texts:
                raise AggregateError(f"Leave out {code!r}, which has no comment texts.")

    def comments_of(self, department: str) -> DepartmentComments:
        """Return a department's texts held here (no texts if it has none); needs ``comments``."""
        if self.comments is None:
            raise AggregateError("This snapshot was read without its comments.")
        return self.comments.get(department, DepartmentComments(self.snapshot_id))

    @property
    def responses(self) -> int:
        """Return the number of responses the snapshot covers."""
        return sum(cell.responses for cell in self.cells.values())
