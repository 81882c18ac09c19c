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

from collections.abc import Iterable, Sequence
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
    previous = disclose(structure, previous_counts, k)
    new = disclose(structure, new_counts, k)
    if not previous.shown:
        return True
    leaves = [(d, a) for d in structure.departments for a in AUDIENCES]
    before = {leaf: previous_counts.get(leaf, 0) for leaf in leaves}
    change = {leaf: new_counts.get(leaf, 0) - before[leaf] for leaf in leaves}
    if any(delta < 0 for delta in change.values()):
        return False
    if sum(change.values()) < k:
        return False
    if any(0 < sum(change[leaf] for leaf in atom) < k for atom in atoms(new)):
        return False
    unchanged = [leaf for leaf in leaves if change[leaf] == 0]
    changed = [leaf for leaf in leaves if change[leaf] != 0]
    # Columns ordered changed first: the reduced rows whose pivot is an unchanged
    # cell are zero on every changed cell and span what the new state shows there.
    order = changed + unchanged
    new_rows = _reduced([_indicator(structure, g, order) for g in new.shown])
    inside = [row for row in new_rows if _pivot(row) >= len(changed)]
    old_rows = _reduced([_indicator(structure, g, order) for g in previous.shown])
    return all(_in_span(row, old_rows) for row in inside)


def release_step(
    structure: Structure, previous_counts: Counts, new_counts: Counts, k: int
) -> frozenset[Leaf] | None:
    """Return the leaf cells whose newcomers may be released now, or ``None`` for none.

    Releasing only whole rounds of newcomers would almost never happen in a
    live wave: every atom of the new decision must have grown by 0 or at
    least ``k`` at the same moment. So a release may take some cells' new
    counts and keep the others at their published ones — each cell stays a
    real set of responses (all of its respondents as of the previous state,
    or all as of now) — and the cells kept back wait for the next step.

    Rule: start from every changed cell; while ``release_allowed`` refuses the
    mix, keep back the cells of every atom (of the mix's own decision) that
    grew by 1 to ``k`` − 1, or, if there is none, of the atom that grew least
    (ties: its cells' order); give up when nothing is left. Deterministic.
    The result always passes ``release_allowed`` on the mixed counts.
    """
    leaves = [(d, a) for d in structure.departments for a in AUDIENCES]
    before = {leaf: previous_counts.get(leaf, 0) for leaf in leaves}
    after = {leaf: new_counts.get(leaf, 0) for leaf in leaves}
    if any(after[leaf] < before[leaf] for leaf in leaves):
        return None
    update = {leaf for leaf in leaves if after[leaf] != before[leaf]}
    while update:
        mixed = {leaf: (after if leaf in update else before)[leaf] for leaf in leaves}
        if release_allowed(structure, before, mixed, k):
            return frozenset(update)
        growth = [
            (sum(after[leaf] - before[leaf] for leaf in moved), sorted(moved), moved)
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
        for group in family:
            rest = set(structure.departments_of(group))
            for other in family:
                if _below(structure, other, group):
                    rest -= structure.departments_of(other)
            if rest:
                found.append(frozenset((d, a) for d in rest for a in audiences))
    return found


def _below(structure: Structure, inner: Group, outer: Group) -> bool:
    return inner.level > outer.level and structure.departments_of(
        inner
    ) <= structure.departments_of(outer)


def _indicator(structure: Structure, group: Group, order: Sequence[Leaf]) -> list[Fraction]:
    departments = structure.departments_of(group)
    audiences = AUDIENCES if group.audience is None else (group.audience,)
    return [Fraction(int(d in departments and a in audiences)) for d, a in order]


def _pivot(row: Sequence[Fraction]) -> int:
    return next(i for i, value in enumerate(row) if value)


def _reduced(rows: Iterable[list[Fraction]]) -> list[list[Fraction]]:
    """Return the reduced row echelon form's non-zero rows (exact rational arithmetic)."""
    matrix = [list(row) for row in rows]
    width = len(matrix[0]) if matrix else 0
    basis: list[list[Fraction]] = []
    for column in range(width):
        pivot = next((r for r in matrix if r[column]), None)
        if pivot is None:
            continue
        matrix.remove(pivot)
        pivot = [value / pivot[column] for value in pivot]
        for row in (*matrix, *basis):
            if row[column]:
                factor = row[column]
                row[:] = [a - factor * b for a, b in zip(row, pivot, strict=True)]
        basis.append(pivot)
    return sorted(basis, key=_pivot)


def _in_span(vector: Sequence[Fraction], reduced: Sequence[Sequence[Fraction]]) -> bool:
    rest = list(vector)
    for row in reduced:
        factor = rest[_pivot(row)]
        if factor:
            rest = [a - factor * b for a, b in zip(rest, row, strict=True)]
    return not any(rest)
