"""Disclosure control: the one place that decides which numbers and comments may be published.

Every output (HTML, JSON, CSV, charts, exports) asks this module before it shows
a number about a group of respondents, and shows nothing else.

**The model.** Respondents are counted in leaf cells keyed by (department,
audience), audience being employee or manager; each department belongs to one
site (``Structure``). A published *group* (``Group``) is the organisation, a
site or a department, crossed with all audiences, employees or managers — e.g.
``Group()`` is the whole organisation, ``Group(department="SALES")`` one
department, ``Group(site="Oslo", audience=Audience.MANAGER)`` the managers of
one site. A group's count is the sum of its leaf cells.

**Rule 1 — minimum group size (primary suppression).** A group with fewer than
``k`` respondents is hidden; so is a group with none, and a hidden group looks
exactly like an empty one: the result holds no count, no reason and no flag
for it (``Disclosure.count`` returns ``None`` for both).

**Rule 2 — differencing (secondary suppression).** A visible total minus the
visible groups below it is a number anybody can compute, so that remainder is
a group too and must obey rule 1. Precisely: for every visible total, the part
of it that is *not* covered by the visible groups below it (its "remainder",
taken against the *largest* visible groups below it at any depth, not only its
direct parts) must be either empty (no department left over) or hold at least
``k`` respondents. Otherwise one of those visible groups below it is hidden —
the one with the smallest planned headcount (``Structure.planned``, frozen per
wave), then the fewest departments, then the stable group key: never chosen by
response counts, so the choice tells nothing about them and does not flip
between two groups as answers arrive — and the check repeats. Why:

* "Combined hidden ≥ k", not "at least two hidden": if a site of 20 shows one
  department of 17 and hides two of 1 and 2 people, 20 − 17 = 3 is the count
  — and every additive score — of a group of three people: below ``k``
  although no single department was shown.
* A remainder of *zero* people is refused too, as long as it covers any
  department (participation uses this very decision): a site
  of 12 showing its department of 12 says the other department is empty —
  e.g. that its only manager did not answer — and a hidden cell must never be
  told apart from an empty one. With this rule a department of 0 and one of 3
  cause the same suppression pattern.
* "Largest visible groups below, at any depth": if the organisation, site B
  and department d2 of site A are shown while site A is hidden, then
  organisation − B − d2 is A's other department d1, although no single
  relation "total = Σ its direct parts" exposes it.

**Rule 3 — employees and managers are shown as a pair.** A geography's
employee and manager counts are both shown or both hidden, and shown only
while its total is shown (both at least ``k``): one half next to the total
shows the other by subtraction. So a department of 14 with 2 managers shows
its total and neither half. Rule 2 then applies to each audience separately
among the geographies whose pair is shown: a site's managers minus the
managers of its departments whose pairs are shown must be no department or
at least ``k`` managers, and likewise for employees. Why: a chain across
both dimensions passes every single relation yet reaches a small cell —
department D1 7, its site's managers 16 and the other department's managers
10 give D1's managers (6) and then D1's employees (7 − 6 = 1).

**What this guarantees.** Under rules 1–3, any set of leaf cells whose total
an observer can compute from the published counts (by any rational linear
combination of them) is a union of disjoint "atoms": remainders of rule 2
(both audiences) and per-audience remainders of rule 3, each at least ``k``.
So no set of 1 to ``k`` − 1 people, and no empty cell, can be computed (the
attack tests check this by brute force against exact elimination). The same
holds for every *additive* statistic published for the same groups (sums of
scores, answer distributions, anything ``aggregates`` merges), since its
published values combine in the same ways.
Groups that can be computed anyway (a site whose departments are all shown, a
site with a single department) are published, so no output shows a hidden
number that another output implies. The decision always covers the whole
organisation; ``visible_to`` only cuts it down for a department viewer.

**Comments** (``disclose_comments``) need more: a text is recognisable, so an
observer can also *intersect* two groups' comments (the texts in both the
Oslo list and the managers' list are the Oslo managers'), not only subtract.
Every set of people obtained by intersecting and subtracting the groups whose
comments are shown must therefore hold 0 or at least the comment threshold.

**Per-measure minimum** (``disclose_measure``). A lever's score sums only
the respondents who scored at least one of its statements, and a
statement's answer shares only those who chose a point on the scale: "don't
know" makes a measure's own count smaller than its group's. So each measure
(a lever, a statement) gets its own decision: rules 1–3 run again on the
measure's counts per leaf cell, and the measure is published for a group
only where both that decision and the group decision show the group. Any
subset of a safe publication is safe (it spans fewer combinations), so the
guarantee above holds for each measure's sums on its own counts: no set of
1 to ``k`` − 1 people who answered a measure can be computed from its
published sums.

**Known limits** (the guarantee is about exact linear differencing within one
decision): answers compared across time on a live dashboard (two refreshes
differ by the people who answered in between), across waves with the same
people, or against a decision made on other counts (a structure or threshold
change mid-wave); bounds from
non-negativity (a remainder can show that a hidden cell is at least 1); what
the suppression pattern itself implies (a visible total with two hidden parts
means one of them is small); non-additive statistics (minimum, maximum,
median); and a group whose members all answered alike (100 % unfavourable
among 5 says what each of the 5 answered).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from portal.domain.entities import MIN_COMMENT_FLOOR, MIN_GROUP_FLOOR, Audience
from portal.domain.errors import ValidationError

#: Respondents per leaf cell: (department code, audience) → count. Missing cells count 0.
Counts = Mapping[tuple[str, Audience], int]

AUDIENCES: tuple[Audience, ...] = (Audience.EMPLOYEE, Audience.MANAGER)
_AUDIENCE_ORDER = {None: 0, Audience.EMPLOYEE: 1, Audience.MANAGER: 2}


# -- the model ---------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """A set of respondents: organisation, site or department × all, employees or managers.

    ``site`` and ``department`` both ``None`` is the whole organisation. Setting
    both is a crossed filter: it means the department if it belongs to the
    site, and nobody otherwise. Published groups set at most one of them.
    """

    site: str | None = None
    department: str | None = None
    audience: Audience | None = None

    def __post_init__(self) -> None:
        for label, value in (("site", self.site), ("department", self.department)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValidationError(f"A group's {label} must be a non-empty name or None.")
        if self.audience is not None:
            try:
                object.__setattr__(self, "audience", Audience(self.audience))
            except ValueError:
                raise ValidationError(
                    f"A group's audience must be employee, manager or None; got {self.audience!r}."
                ) from None

    @property
    def level(self) -> int:
        """Return 0 for the organisation, 1 for a site, 2 for a department."""
        if self.department is not None:
            return 2
        return 1 if self.site is not None else 0

    def sort_key(self) -> tuple[int, str, str, int]:
        """Return a stable order: organisation, sites, departments; all, employees, managers."""
        return (
            self.level,
            self.site or "",
            self.department or "",
            _AUDIENCE_ORDER[self.audience],
        )

    def with_audience(self, audience: Audience | None) -> Group:
        """Return the same geography with another audience."""
        return replace(self, audience=audience)


#: The whole organisation, all audiences.
ORGANISATION = Group()


@dataclass(frozen=True)
class Structure:
    """Which site each department belongs to (department code → site name).

    ``planned`` is each department's planned headcount (as frozen for the
    wave; missing means unknown, 0). It never decides what is shown, only
    which group rule 2 hides when it must hide one: the one planned smallest
    (``_sweep``), a choice that does not depend on who answered.
    """

    site_of: Mapping[str, str]
    planned: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for department, site in self.site_of.items():
            if not isinstance(department, str) or not department.strip():
                raise ValidationError("Department codes must be non-empty names.")
            if not isinstance(site, str) or not site.strip():
                raise ValidationError(f"Department {department}: the site must be a name.")
        object.__setattr__(self, "site_of", MappingProxyType(dict(sorted(self.site_of.items()))))
        planned = {d: max(0, int(self.planned.get(d) or 0)) for d in self.site_of}
        object.__setattr__(self, "planned", MappingProxyType(planned))

    @property
    def departments(self) -> tuple[str, ...]:
        """Return every department code, sorted."""
        return tuple(self.site_of)

    @property
    def sites(self) -> tuple[str, ...]:
        """Return every site that has a department, sorted."""
        return tuple(sorted(set(self.site_of.values())))

    def departments_in(self, site: str) -> tuple[str, ...]:
        """Return the departments of ``site``, sorted (none for an unknown site)."""
        return tuple(d for d, s in self.site_of.items() if s == site)

    def departments_of(self, group: Group) -> frozenset[str]:
        """Return the departments a group's geography covers (empty if it names none)."""
        departments = set(self.site_of)
        if group.site is not None:
            departments = {d for d in departments if self.site_of[d] == group.site}
        if group.department is not None:
            departments &= {group.department}
        return frozenset(departments)

    def canonical(self, group: Group) -> Group | None:
        """Return the published group that means the same people, or ``None`` if nobody.

        A crossed site × department is the department when it belongs to the
        site; unknown names and a department of another site cover nobody.
        """
        departments = self.departments_of(group)
        if not departments:
            return None
        if group.department is not None:
            return Group(department=group.department, audience=group.audience)
        return group

    def groups(self) -> tuple[Group, ...]:
        """Return every group that can be published, in the stable order."""
        geographies = [ORGANISATION]
        geographies += [Group(site=s) for s in self.sites]
        geographies += [Group(department=d) for d in self.departments]
        return tuple(g.with_audience(a) for g in geographies for a in (None, *AUDIENCES))


@dataclass(frozen=True)
class Disclosure:
    """The decision: the count of every group that may be published, and nothing else.

    ``shown`` holds published groups only. A hidden group is simply absent, so
    a group hidden for being small, hidden to protect another, or empty reads
    the same everywhere.
    """

    structure: Structure
    min_group_size: int
    shown: Mapping[Group, int]

    def count(self, group: Group) -> int | None:
        """Return the group's count if it may be published, else ``None``.

        A crossed filter is looked up as the group it means; a group of nobody
        (unknown names, a department outside the site) is ``None`` like any
        hidden group.
        """
        canonical = self.structure.canonical(group)
        return None if canonical is None else self.shown.get(canonical)

    def visible(self, group: Group) -> bool:
        """Tell whether the group's numbers may be published."""
        return self.count(group) is not None

    def published(self) -> tuple[tuple[Group, int], ...]:
        """Return every published group with its count, in the stable group order."""
        return tuple(sorted(self.shown.items(), key=lambda item: item[0].sort_key()))

    def groups(self) -> tuple[Group, ...]:
        """Return every published group, in the stable group order."""
        return tuple(group for group, _ in self.published())


class FilterRefusal(StrEnum):
    """Why a filter was refused. For logs and tests only — never show or return it.

    The viewer sees one "not enough responses" message whatever the reason:
    the reason itself tells more than the refusal (``SMALL_COMPLEMENT`` says
    that 1 to k − 1 people outside the filter answered).
    """

    TOO_FEW_RESPONSES = "too-few-responses"
    SMALL_COMPLEMENT = "small-complement"
    PROTECTS_ANOTHER_GROUP = "protects-another-group"


# -- entry points ------------------------------------------------------------------


def disclose(structure: Structure, counts: Counts, k: int) -> Disclosure:
    """Decide which groups' numbers may be published, for the whole organisation.

    Rules (detailed in the module docstring): a group below ``k`` or empty is
    hidden; employee and manager counts are shown as a pair under a shown
    total; every shown total minus the largest shown groups below it leaves
    either no department or at least ``k`` people, per audience for the pairs,
    else the one of those groups below planned smallest (then fewest
    departments, then group key; never by counts) is hidden and the check
    repeats; finally every group the published numbers imply is
    published too. Deterministic: the same input always gives the same result.

    Raises ``ValidationError`` when ``k`` is below the floor of 3, or a count
    is negative or names a department the structure lacks.
    """
    _check_threshold(k, MIN_GROUP_FLOOR, "minimum group size")
    cells = _cells(structure, counts)
    totals, pairs, _ = _decide(structure, cells, k)
    shown: dict[Group, int] = {}
    for geography in sorted(totals, key=Group.sort_key):
        departments = structure.departments_of(geography)
        shown[geography] = _size(cells, departments)
        if geography in pairs:
            for audience in AUDIENCES:
                shown[geography.with_audience(audience)] = _size(cells, departments, audience)
    return Disclosure(structure, k, MappingProxyType(shown))


def disclose_comments(structure: Structure, counts: Counts, k: int, k_comments: int) -> Disclosure:
    """Decide which groups' comments may be published.

    Rules: a group's comments are shown only if its numbers are shown
    (``disclose`` with ``k``) and it has at least ``k_comments`` respondents.
    Then, because texts can be matched across lists, every "atom" — the
    respondents in exactly the same set of comment-showing groups, which an
    observer gets by intersecting and subtracting those lists — must hold 0
    or at least ``k_comments`` respondents. While one does not, a group is
    dropped: the smallest shown group (ties by group key) that splits the
    atom off from the groups it lies in, or, if none does, the smallest of
    those groups. An atom of 0 respondents is allowed: it holds no comments,
    and a list of comments gives no count away.

    ``count`` of the result is the group's number of respondents; pass it to
    ``publishable_comments``.
    """
    _check_threshold(k_comments, MIN_COMMENT_FLOOR, "minimum group size for comments")
    if k_comments < k:
        raise ValidationError(
            f"The minimum group size for comments ({k_comments}) must not be below the one "
            f"for numbers ({k})."
        )
    numbers = disclose(structure, counts, k)
    cells = _cells(structure, counts)
    shown = {g: n for g, n in numbers.shown.items() if n >= k_comments}
    leaves_of = {g: _leaves(structure, g) for g in shown}
    containing = {
        (department, audience): tuple(
            Group(department=d, site=s, audience=a)
            for s, d in ((None, None), (site, None), (None, department))
            for a in (None, audience)
        )
        for department, site in structure.site_of.items()
        for audience in AUDIENCES
    }
    while (victim := _comment_victim(cells, shown, leaves_of, containing, k_comments)) is not None:
        del shown[victim]
    return Disclosure(structure, k_comments, MappingProxyType(shown))


def publishable_comments(
    group_count: int | None,
    comments: Iterable[str | None],
    k_comments: int,
    rng: random.Random,
) -> tuple[str, ...]:
    """Return the comments that may be shown for one group: texts only, shuffled.

    Rules: nothing is shown unless ``group_count`` (the group's respondents,
    normally ``disclose_comments(...).count(group)``, ``None`` when hidden)
    is at least ``k_comments``. Missing, empty and whitespace-only comments
    are dropped; the others are kept exactly as written (we do not edit
    people's words). The order comes from ``rng`` — pass
    ``secrets.SystemRandom()`` in production, a seeded ``random.Random`` in
    tests — so it says nothing about when or in what order people answered.
    Only texts are returned: no dates, audiences or other fields.
    """
    _check_threshold(k_comments, MIN_COMMENT_FLOOR, "minimum group size for comments")
    if group_count is None or group_count < k_comments:
        return ()
    texts = [text for text in comments if isinstance(text, str) and text.strip()]
    rng.shuffle(texts)
    return tuple(texts)


def check_filter(
    structure: Structure, counts: Counts, group: Group, k: int
) -> FilterRefusal | None:
    """Return why a requested filter must be refused, or ``None`` to allow it.

    Rules, checked in this order: the filtered group (a crossed site ×
    department × audience is the cell it means) must hold at least ``k``
    respondents (``TOO_FEW_RESPONSES``, also for a group of nobody); the
    organisation minus the group must be 0 or at least ``k``, else the rest
    of the organisation could be worked out by subtraction
    (``SMALL_COMPLEMENT``); and the group must be published by ``disclose``
    on the whole organisation — a filter on a group hidden to protect another
    would undo that protection (``PROTECTS_ANOTHER_GROUP``). Show the viewer
    the same "not enough responses" message for every reason.
    """
    _check_threshold(k, MIN_GROUP_FLOOR, "minimum group size")
    cells = _cells(structure, counts)
    size = group_count(structure, counts, group)
    if size < k:
        return FilterRefusal.TOO_FEW_RESPONSES
    if 0 < _size(cells, frozenset(structure.departments)) - size < k:
        return FilterRefusal.SMALL_COMPLEMENT
    if not disclose(structure, counts, k).visible(group):
        return FilterRefusal.PROTECTS_ANOTHER_GROUP
    return None


def disclose_measure(
    decision: Disclosure, counts: Counts, audiences: Iterable[Audience] = AUDIENCES
) -> Disclosure:
    """Decide for which groups one measure (a lever's score, a statement's shares) may be shown.

    ``decision`` is the group decision (``disclose`` on the respondents per
    leaf cell, for the whole organisation); ``counts`` are the measure's own
    respondents per leaf cell — for a lever, those who scored at least one of
    its statements; for a statement, those who chose a point on the scale
    ("don't know" and unanswered left out); ``audiences`` the audiences the
    measure is asked of. Rules:

    * rules 1–3 run again on ``counts`` with the same ``k``: a group of fewer
      than ``k`` respondents *to the measure* shows none of its figures, and
      published measure sums can be differenced no more than group counts
      (a site's lever sum minus its shown departments' is the rest's, whose
      measure count must be no department or at least ``k``);
    * the measure is shown for a group only where the group decision shows
      the group too (a subset of a safe decision is safe; never more than
      the group decision);
    * a measure asked of only some audiences, shown for a group of every
      audience, sums the asked audiences' groups alone: it is shown only
      where the group decision shows each of those groups too (its n next to
      the group's count would otherwise give the other audience's count).

    The result's counts are the measure's respondents; hidden and empty read
    alike (``None``). Project it for a department viewer with ``visible_to``,
    like the group decision.
    """
    asked = frozenset(Audience(a) for a in audiences)
    own = disclose(decision.structure, counts, decision.min_group_size)
    shown: dict[Group, int] = {}
    for group, n in own.shown.items():
        if not decision.visible(group):
            continue
        if group.audience is None and asked != frozenset(AUDIENCES):
            if not all(decision.visible(group.with_audience(a)) for a in asked):
                continue
        shown[group] = n
    return Disclosure(decision.structure, decision.min_group_size, MappingProxyType(shown))


def visible_to(disclosure: Disclosure, allowed_departments: Iterable[str]) -> Disclosure:
    """Project a decision onto what a department viewer may see, without deciding again.

    Rule: the viewer sees the published groups that lie entirely inside their
    departments (a site only if all its departments are theirs, the
    organisation only if all are). Suppression is never re-decided for the
    viewer's slice: it is always decided once on the whole organisation, so
    everything two viewers see together is a part of that one safe decision
    and they cannot combine their views to difference out a hidden group. (A
    decision per viewer could show one viewer a department that another
    viewer's decision hid to protect a neighbour.)
    """
    allowed = frozenset(allowed_departments)
    structure = disclosure.structure
    kept = {
        group: n
        for group, n in disclosure.shown.items()
        if structure.departments_of(group) <= allowed
    }
    return Disclosure(structure, disclosure.min_group_size, MappingProxyType(kept))


def group_count(structure: Structure, counts: Counts, group: Group) -> int:
    """Return the raw count of a group (crossed filters included). Never publish it directly."""
    cells = _cells(structure, counts)
    return _size(cells, structure.departments_of(group), group.audience)


# -- the decision ------------------------------------------------------------------

_Cells = Mapping[str, tuple[int, int]]
_Leaf = tuple[str, Audience]


def _check_threshold(k: int, floor: int, what: str) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < floor:
        raise ValidationError(f"The {what} must be a whole number of at least {floor}; got {k!r}.")


def _cells(structure: Structure, counts: Counts) -> _Cells:
    """Return (employees, managers) per department, checking every count."""
    cells = {d: [0, 0] for d in structure.departments}
    for key, value in counts.items():
        department, audience = key
        if department not in cells:
            raise ValidationError(
                f"A count names department {department!r}, which the structure lacks; "
                "add it to the structure."
            )
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValidationError(
                f"The count of {department} / {audience} must be a whole number of at least 0."
            )
        try:
            index = AUDIENCES.index(Audience(audience))
        except ValueError:
            raise ValidationError(
                f"The count of {department} names audience {audience!r}; use employee or manager."
            ) from None
        cells[department][index] += value
    return {d: (e, m) for d, (e, m) in cells.items()}


def _size(cells: _Cells, departments: Iterable[str], audience: Audience | None = None) -> int:
    if audience is None:
        return sum(sum(cells[d]) for d in departments)
    index = AUDIENCES.index(audience)
    return sum(cells[d][index] for d in departments)


@dataclass(frozen=True)
class _Tree:
    """The geography: organisation → sites → departments, each node with its departments."""

    nodes: tuple[Group, ...]  # top-down: organisation, sites, departments
    children: Mapping[Group, tuple[Group, ...]]
    departments: Mapping[Group, frozenset[str]]
    planned: Mapping[str, int]


def _tree(structure: Structure) -> _Tree:
    sites = tuple(Group(site=s) for s in structure.sites)
    children: dict[Group, tuple[Group, ...]] = {ORGANISATION: sites}
    for name in structure.sites:
        children[Group(site=name)] = tuple(
            Group(department=d) for d in structure.departments_in(name)
        )
    departments = tuple(Group(department=d) for d in structure.departments)
    for department in departments:
        children[department] = ()
    nodes = (ORGANISATION, *sites, *departments)
    departments_of = {n: structure.departments_of(n) for n in nodes}
    return _Tree(nodes, children, departments_of, structure.planned)


def _largest_shown_below(tree: _Tree, node: Group, shown: set[Group]) -> list[Group]:
    """Return the shown nodes below ``node`` with no shown node between them and it."""
    found: list[Group] = []
    stack = list(reversed(tree.children[node]))
    while stack:
        child = stack.pop()
        if child in shown:
            found.append(child)
        else:
            stack.extend(reversed(tree.children[child]))
    return found


def _sweep(
    tree: _Tree, shown: set[Group], remainder_ok: Callable[[frozenset[str]], bool]
) -> list[Group]:
    """Hide nodes until every shown node's remainder passes; return what was hidden.

    Top-down, so hiding below a node never changes the remainder of a node
    already checked (the hidden node's departments join the node being
    checked, which is its nearest shown ancestor).
    """
    hidden: list[Group] = []
    for node in tree.nodes:
        while node in shown:
            below = _largest_shown_below(tree, node, shown)
            covered = frozenset().union(*(tree.departments[b] for b in below))
            remainder = tree.departments[node] - covered
            if not remainder or remainder_ok(remainder):
                break
            # The remainder of a node with nothing shown below is the node itself,
            # which passed primary suppression; hiding the total is only a safeguard.
            # Which one: planned smallest, then fewest departments, then the stable key —
            # never by response counts, so the choice neither tells which group holds fewer
            # answers nor flips between two groups as answers arrive (a flip would publish,
            # next to the earlier state, a sum that state hid; see ``release``).
            victim = min(
                below,
                key=lambda g: (
                    sum(tree.planned[d] for d in tree.departments[g]),
                    len(tree.departments[g]),
                    g.sort_key(),
                ),
                default=node,
            )
            shown.discard(victim)
            hidden.append(victim)
    return hidden


def _implied(tree: _Tree, shown: set[Group]) -> set[Group]:
    """Return the hidden nodes whose count follows from the shown ones by + and −.

    A node's count follows exactly when its departments are a union of whole
    remainders (each department's remainder belongs to its deepest shown node).
    """
    owner: dict[str, Group] = {}
    for node in tree.nodes:  # top-down, so the deepest shown node wins
        if node in shown:
            owner.update(dict.fromkeys(tree.departments[node], node))
    remainders: dict[Group, set[str]] = defaultdict(set)
    for department, node in owner.items():
        remainders[node].add(department)
    implied: set[Group] = set()
    for node in tree.nodes:
        departments = tree.departments[node]
        if node in shown or not departments or not departments <= owner.keys():
            continue
        if all(remainders[owner[d]] <= departments for d in departments):
            implied.add(node)
    return implied


def _decide(
    structure: Structure, cells: _Cells, k: int
) -> tuple[frozenset[Group], frozenset[Group], int]:
    """Return the geographies with a shown total, those with a shown pair, and the rounds run.

    A round sweeps the totals, then the pairs. Hiding only ever merges
    remainders, so the sweeps settle: the second round finds nothing to do.
    """
    tree = _tree(structure)

    def everyone(departments: frozenset[str]) -> int:
        return _size(cells, departments)

    def total_ok(departments: frozenset[str]) -> bool:
        return everyone(departments) >= k

    def pair_ok(departments: frozenset[str]) -> bool:
        return all(_size(cells, departments, a) >= k for a in AUDIENCES)

    totals = {n for n in tree.nodes if total_ok(tree.departments[n])}
    pairs = {n for n in totals if pair_ok(tree.departments[n])}
    rounds = 0
    while True:
        rounds += 1
        hidden = _sweep(tree, totals, total_ok)
        pairs.difference_update(hidden)
        hidden += _sweep(tree, pairs, pair_ok)
        if not hidden:
            break
    implied_totals, implied_pairs = _implied(tree, totals), _implied(tree, pairs)
    return frozenset(totals | implied_totals), frozenset(pairs | implied_pairs), rounds


def _comment_victim(
    cells: _Cells,
    shown: Mapping[Group, int],
    leaves_of: Mapping[Group, frozenset[_Leaf]],
    containing: Mapping[_Leaf, tuple[Group, ...]],
    k_comments: int,
) -> Group | None:
    """Return the group to drop next so no atom of comment lists is small, or ``None``."""
    atoms: dict[frozenset[Group], list[_Leaf]] = defaultdict(list)
    for leaf, groups in containing.items():
        signature = frozenset(g for g in groups if g in shown)
        if signature:
            atoms[signature].append(leaf)

    def atom_size(leaves: list[_Leaf]) -> int:
        return sum(cells[d][AUDIENCES.index(a)] for d, a in leaves)

    small = [
        (atom_size(leaves), sorted(g.sort_key() for g in signature), signature)
        for signature, leaves in atoms.items()
        if 0 < atom_size(leaves) < k_comments
    ]
    if not small:
        return None
    _, _, signature = min(small, key=lambda item: (item[0], item[1]))
    core = frozenset.intersection(*(leaves_of[g] for g in signature))
    # Prefer a group that carves the atom out of the groups it belongs to: dropping
    # it merges the atom with its neighbours and keeps those groups' comments.
    splitters = [g for g in shown if g not in signature and leaves_of[g] & core]
    candidates = splitters or list(signature)
    return min(candidates, key=lambda g: (shown[g], g.sort_key()))


def _leaves(structure: Structure, group: Group) -> frozenset[_Leaf]:
    audiences = AUDIENCES if group.audience is None else (group.audience,)
    return frozenset((d, a) for d in structure.departments_of(group) for a in audiences)
