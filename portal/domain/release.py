"""Release steps: when a wave's figures may move from one published state to the next.

An open wave's counts grow one response at a time. If every view showed the
latest counts, a reader who saw a department at 20 and then at 21 would
subtract the two pages and read the newcomer's answers. So results are
published in *release steps*: a computed state (a snapshot) replaces the
published one only when ``release_allowed`` says that nothing a reader can
compute from the two states together isolates fewer than ``k`` people.

**The model.** Each state is published through its own ``anonymity.disclose``
decision on the same structure. Per leaf cell (department × audience) write
``x`` for the respondents counted in the previous state and ``d`` for those
who arrived since (``d = new − previous``). A reader knows the previous
decision's group sums of ``x`` and the new decision's group sums of ``x + d``,
and may combine them linearly. A combination counts a set of people when it
counts, per cell, the earlier respondents of some cells ``U`` and the
newcomers of some cells ``W``: its value is ``x(U) + d(W)``, where ``W`` is a
set the new decision alone lets anyone compute and ``U − W`` one the previous
decision alone does.

**The rule** (all must hold, else the previous state stays published):

1. Nothing was published yet (the previous decision shows no group): any new
   state may be published — the reader has nothing to compare it with, and a
   decision on its own is safe (``anonymity``'s guarantee).
2. Counts only grow: no cell has fewer respondents than before. (Responses
   are never deleted while a wave is live; a drop means something unexpected
   and is never released.)
3. The organisation grew by at least ``k`` respondents — a new state exists
   only when there is something to release.
4. Every *atom* of the new decision — the remainder of a shown total after
   the largest shown groups below it (both audiences), or the per-audience
   remainder of a shown employee/manager pair — grew by 0 or at least ``k``.
   Every set the new decision lets anyone compute is a disjoint union of its
   atoms (``anonymity``'s guarantee), so ``d(W)`` is 0 or at least ``k`` and
   any combination involving a newcomer counts at least ``k`` people.
5. Every set the new decision lets anyone compute *inside the unchanged
   cells* could already be computed from the previous decision. Where
   ``d(W) = 0`` the new figure of ``W`` is also its old one, so the reader
   effectively learns old sums the previous decision did not publish, and
   could subtract previously published groups from them (a new site total
   minus an old department count is that site's other department, if nobody
   there answered in between). Checked exactly, with rational Gaussian
   elimination over the leaf cells.

Under 4 and 5 every countable set of people is either ``k`` or more (it holds
a newcomer of a changed atom) or a set the previous decision already let
anyone compute (safe by that decision). Rule 4 is stronger than strictly
needed (an atom need not be computable on its own), rule 5 too (the extra old
sums may be harmless): the rule errs on the side of waiting. The price is
that a wave can stop moving — e.g. a department whose last two people answer
after a release, or a department that becomes visible without having
changed, holds every later step back until the wave closes; its figures stay
at the last published state (see ``portal.services.results``).

**Known limits.** The rule compares consecutive published states only (each
state against the one it replaces); it is about exact linear differencing of
counts and every additive statistic published for the same groups, like
``anonymity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from portal.domain.anonymity import AUDIENCES, Counts, Disclosure, Group, Structure, disclose
from portal.domain.entities import Audience

Leaf = tuple[str, Audience]


def release_allowed(
    structure: Structure, previous_counts: Counts, new_counts: Counts, k: int
) -> bool:
    """Tell whether a state with ``new_counts`` may replace the published ``previous_counts``.

    Both states are decided with ``anonymity.disclose(structure, ..., k)``;
    the rules (nothing published yet; counts only grow; the organisation
    grew by at least ``k``; every atom of the new decision grew by 0 or at
    least ``k``; whatever the new decision lets anyone compute inside the
    unchanged cells, the previous one did too) are stated in the module
    docstring. Pure and deterministic.
    """
    return _Previous(structure, previous_counts, k).allows(new_counts)


class _Previous:
    """The published state a release is checked against, with its span reduced once."""

    def __init__(self, structure: Structure, counts: Counts, k: int) -> None:
        self.structure, self.k = structure, k
        self.leaves = [(d, a) for d in structure.departments for a in AUDIENCES]
        self.column = {leaf: i for i, leaf in enumerate(self.leaves)}
        self.counts = {leaf: counts.get(leaf, 0) for leaf in self.leaves}
        self.decision = disclose(structure, counts, k)
        self.span = _reduced(self._rows(self.decision, self.column))

    def _rows(
        self, decision: Disclosure, column: dict[Leaf, int]
    ) -> list[dict[int, Fraction | int]]:
        sets = {_leaves_of(self.structure, g) for g in decision.shown}
        return [{column[leaf]: 1 for leaf in members} for members in sets]

    def allows(self, new_counts: Counts) -> bool:
        """Apply the rules of ``release_allowed`` to ``new_counts``."""
        if not self.decision.shown:
            return True
        k = self.k
        change = {leaf: new_counts.get(leaf, 0) - self.counts[leaf] for leaf in self.leaves}
        if any(delta < 0 for delta in change.values()) or sum(change.values()) < k:
            return False
        new = disclose(self.structure, new_counts, k)
        if any(0 < sum(change[leaf] for leaf in atom) < k for atom in atoms(new)):
            return False
        changed = [leaf for leaf in self.leaves if change[leaf] != 0]
        unchanged = [leaf for leaf in self.leaves if change[leaf] == 0]
        # Columns ordered changed first: the reduced rows whose pivot is an unchanged
        # cell are zero on every changed cell and span what the new state shows there.
        order = {leaf: i for i, leaf in enumerate(changed + unchanged)}
        inside = [row for row in _reduced(self._rows(new, order)) if min(row) >= len(changed)]
        back = {i: leaf for leaf, i in order.items()}
        return all(
            _in_span({self.column[back[i]]: v for i, v in row.items()}, self.span) for row in inside
        )


def release_step(
    structure: Structure,
    previous_counts: Counts,
    new_counts: Counts,
    k: int,
    measures: Sequence[tuple[Counts, Counts]] = (),
) -> frozenset[Leaf] | None:
    """Return the leaf cells whose newcomers may be released now, or ``None`` for none.

    Releasing only whole rounds of newcomers would almost never happen in a
    live wave: every atom of the new decision must have grown by 0 or at
    least ``k`` at the same moment. So a release may take some cells' new
    counts and keep the others at their published ones — each cell stays a
    real set of responses (all of its respondents as of the previous state,
    or all as of now) — and the cells kept back wait for the next step.

    ``measures`` are further (previous, new) counts per cell of the same
    responses — the respondents who scored each lever, the answers on the
    scale to each statement — whose sums are published too; "don't know"
    makes them smaller than the head counts, so each must pass the rule on its
    own for the same choice of cells (a measure the choice leaves unchanged
    passes).

    Rule: start from every changed cell; while ``release_allowed`` refuses the
    mix for the head counts or for a measure, keep back the cells of every
    atom (of that mix's own decision) that grew by 1 to ``k`` − 1, or, if there
    is none, of the atom that grew least (ties: its cells' order); give up when
    nothing is left. Deterministic. The result always passes
    ``release_allowed`` on the mixed head counts and on every changed measure.
    """
    leaves = [(d, a) for d in structure.departments for a in AUDIENCES]
    pairs = [
        (
            {leaf: before.get(leaf, 0) for leaf in leaves},
            {leaf: after.get(leaf, 0) for leaf in leaves},
        )
        for before, after in ((previous_counts, new_counts), *measures)
    ]
    if any(after[leaf] < before[leaf] for before, after in pairs for leaf in leaves):
        return None
    before, after = pairs[0]
    update = {leaf for leaf in leaves if after[leaf] != before[leaf]}
    checkers: dict[int, _Previous] = {}
    while update:
        refused: tuple[dict[Leaf, int], dict[Leaf, int], dict[Leaf, int]] | None = None
        for number, (old, new) in enumerate(pairs):
            mixed = {leaf: (new if leaf in update else old)[leaf] for leaf in leaves}
            if number and mixed == old:
                continue
            if number not in checkers:
                checkers[number] = _Previous(structure, old, k)
            if not checkers[number].allows(mixed):
                refused = (old, new, mixed)
                break
        if refused is None:
            return frozenset(update)
        old, new, mixed = refused
        growth = [
            (sum(new[leaf] - old[leaf] for leaf in moved), sorted(moved), moved)
            for atom in atoms(disclose(structure, mixed, k))
            if (moved := atom & update)
        ]
        small = [moved for grown, _, moved in growth if grown < k]
        if small:
            update -= frozenset().union(*small)
        elif growth:
            update -= min(growth, key=lambda item: (item[0], item[1]))[2]
        else:
            return None
    return None


def atoms(decision: Disclosure) -> list[frozenset[Leaf]]:
    """Return the decision's atoms: the non-empty remainders its computable sets are made of.

    Rules: for every shown total, its departments minus those of every shown
    total below it, in both audiences; for every geography whose employee and
    manager counts are shown, per audience, its departments minus those of
    every such geography below it. "Below" is by geography (a department is
    below its site even when it is the site's only department).
    """
    structure = decision.structure
    totals = [g for g in decision.shown if g.audience is None]
    pairs = [g for g in totals if all(g.with_audience(a) in decision.shown for a in AUDIENCES)]
    families: list[tuple[list[Group], tuple[Audience, ...]]] = [(totals, AUDIENCES)]
    families += [(pairs, (a,)) for a in AUDIENCES]
    found: list[frozenset[Leaf]] = []
    for family, audiences in families:
        sites = {g.site for g in family if g.level == 1}
        departments = {g.department for g in family if g.level == 2}
        for group in family:
            rest = set(structure.departments_of(group))
            if group.level == 0:  # below the organisation: every shown site and department
                rest -= {d for d in rest if structure.site_of[d] in sites or d in departments}
            elif group.level == 1:  # below a site: its shown departments
                rest -= departments
            if rest:
                found.append(frozenset((d, a) for d in rest for a in audiences))
    return found


def _leaves_of(structure: Structure, group: Group) -> frozenset[Leaf]:
    departments = structure.departments_of(group)
    audiences = AUDIENCES if group.audience is None else (group.audience,)
    return frozenset((d, a) for d in departments for a in audiences)


_Row = dict[int, Fraction | int]


def _reduced(rows: list[_Row]) -> list[_Row]:
    """Return the reduced row echelon form's non-zero rows, sparse (exact rational arithmetic).

    A row maps a column to its non-zero value; columns are taken in increasing
    order, so a reduced row's smallest column is its pivot, and no other
    reduced row has a value there.
    """
    remaining = [dict(row) for row in rows if row]
    basis: list[_Row] = []
    columns = sorted({c for row in remaining for c in row})
    for column in columns:
        holders = [i for i, row in enumerate(remaining) if column in row]
        if not holders:
            continue
        pick = min(holders, key=lambda i: len(remaining[i]))  # the sparsest: least fill-in
        pivot = remaining.pop(pick)
        lead = pivot[column]
        if lead != 1:
            pivot = {c: Fraction(v) / lead for c, v in pivot.items()}
        for row in (*remaining, *basis):
            factor = row.get(column)
            if factor:
                for c, v in pivot.items():
                    value = row.get(c, 0) - factor * v
                    if value:
                        row[c] = value
                    else:
                        row.pop(c, None)
        remaining = [row for row in remaining if row]
        basis.append(pivot)
    return basis


def _in_span(vector: _Row, reduced: list[_Row]) -> bool:
    """Tell whether ``vector`` is a combination of the rows of a reduced echelon form."""
    rest = dict(vector)
    for row in reduced:
        factor = rest.get(min(row))
        if factor:
            for c, v in row.items():
                value = rest.get(c, 0) - factor * v
                if value:
                    rest[c] = value
                else:
                    rest.pop(c, None)
    return not rest
