"""Attacks on the disclosure decision: nothing it publishes lets anyone compute a small group.

The attacker knows the structure, the threshold and every published count, and
may add and subtract them at will. These tests solve that attacker's linear
system independently of the engine (exact rational Gaussian elimination over
the leaf cells) and look for any set of people whose count follows and lies
below the threshold.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from fractions import Fraction
from math import lcm

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.domain.anonymity import (
    AUDIENCES,
    Counts,
    Disclosure,
    FilterRefusal,
    Group,
    Structure,
    _decide,
    check_filter,
    disclose,
    disclose_comments,
    group_count,
    visible_to,
)
from portal.domain.entities import Audience

ATTACKS = settings(max_examples=200, deadline=None)
#: Enumerating every set of leaf cells doubles per cell, so only small organisations.
BRUTE_FORCE = settings(max_examples=120, deadline=None)

Leaf = tuple[str, Audience]
Organisation = tuple[Structure, dict[tuple[str, Audience], int], int]


@st.composite
def organisations(draw: st.DrawFn, max_departments: int = 8) -> Organisation:
    """Draw 1–4 sites, 1–8 departments, 0–12 respondents per cell and k in {3, 5, 7}."""
    departments = draw(st.integers(1, max_departments))
    sites = [f"S{i}" for i in range(draw(st.integers(1, min(4, departments))))]
    site_of = {
        f"D{i}": sites[i] if i < len(sites) else draw(st.sampled_from(sites))
        for i in range(departments)
    }
    # Small cells are where the attacks live, so draw them often.
    cell = st.one_of(st.integers(0, 4), st.integers(0, 12))
    counts = {(d, a): draw(cell) for d in site_of for a in AUDIENCES}
    return Structure(site_of), counts, draw(st.sampled_from([3, 5, 7]))


# -- the attacker's algebra --------------------------------------------------------


def leaves(structure: Structure) -> list[Leaf]:
    """Return every leaf cell, in a fixed order."""
    return [(d, a) for d in structure.departments for a in AUDIENCES]


def indicator(structure: Structure, group: Group, cells: Sequence[Leaf]) -> list[int]:
    """Return the 0/1 vector of the leaf cells a group sums."""
    departments = structure.departments_of(group)
    audiences = AUDIENCES if group.audience is None else (group.audience,)
    return [int(d in departments and a in audiences) for d, a in cells]


def kernel(rows: list[list[int]], width: int) -> list[list[int]]:
    """Return an integer basis of {x : row · x = 0 for every row} (exact, over the rationals).

    A combination of leaf cells can be computed from the published rows exactly
    when it is orthogonal to every vector of this basis.
    """
    matrix = [[Fraction(v) for v in row] for row in rows]
    pivots: list[int] = []
    rank = 0
    for column in range(width):
        pivot = next((r for r in range(rank, len(matrix)) if matrix[r][column]), None)
        if pivot is None:
            continue
        matrix[rank], matrix[pivot] = matrix[pivot], matrix[rank]
        lead = matrix[rank][column]
        matrix[rank] = [v / lead for v in matrix[rank]]
        for r in range(len(matrix)):
            if r != rank and matrix[r][column]:
                factor = matrix[r][column]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[rank], strict=True)]
        pivots.append(column)
        rank += 1
    basis: list[list[int]] = []
    for free in (c for c in range(width) if c not in pivots):
        vector = [Fraction(0)] * width
        vector[free] = Fraction(1)
        for row, column in enumerate(pivots):
            vector[column] = -matrix[row][free]
        scale = lcm(*(v.denominator for v in vector))
        basis.append([int(v * scale) for v in vector])
    return basis


def computable(vector: Sequence[int], basis: list[list[int]]) -> bool:
    """Tell whether a combination of leaf cells follows from the published counts."""
    return all(sum(a * b for a, b in zip(vector, z, strict=True)) == 0 for z in basis)


def published_basis(disclosure: Disclosure) -> tuple[list[Leaf], list[list[int]]]:
    """Return the leaf cells and the kernel of everything the disclosure publishes."""
    cells = leaves(disclosure.structure)
    rows = [indicator(disclosure.structure, g, cells) for g in disclosure.groups()]
    return cells, kernel(rows, len(cells))


def small_computable_sets(disclosure: Disclosure, counts: Counts) -> list[list[Leaf]]:
    """Return every non-empty set of leaf cells whose total follows and is below k.

    Brute force over all 2^n sets, summing incrementally per bitmask. A set
    with a total of 0 counts as small: an empty cell must not be exposed either.
    """
    cells, basis = published_basis(disclosure)
    k = disclosure.min_group_size
    size = 1 << len(cells)
    value = [0] * size
    dots = [[0] * size for _ in basis]
    found: list[list[Leaf]] = []
    for mask in range(1, size):
        low = mask & -mask
        index, rest = low.bit_length() - 1, mask ^ low
        value[mask] = value[rest] + counts.get(cells[index], 0)
        follows = True
        for dot, z in zip(dots, basis, strict=True):
            dot[mask] = dot[rest] + z[index]
            follows = follows and dot[mask] == 0
        if follows and value[mask] < k:
            found.append([cells[i] for i in range(len(cells)) if mask >> i & 1])
    return found


def relations(structure: Structure) -> list[tuple[Group, list[Group]]]:
    """Return every additive relation "total = Σ parts" between groups, along one dimension."""
    found: list[tuple[Group, list[Group]]] = []
    for audience in (None, *AUDIENCES):
        org = Group(audience=audience)
        sites = [Group(site=s, audience=audience) for s in structure.sites]
        found.append((org, sites))
        found.append((org, [Group(department=d, audience=audience) for d in structure.departments]))
        for site in sites:
            assert site.site is not None
            parts = [
                Group(department=d, audience=audience) for d in structure.departments_in(site.site)
            ]
            found.append((site, parts))
    geographies = [Group(), *(Group(site=s) for s in structure.sites)]
    geographies += [Group(department=d) for d in structure.departments]
    found += [(g, [g.with_audience(a) for a in AUDIENCES]) for g in geographies]
    return found


# -- the attacks -------------------------------------------------------------------


@ATTACKS
@given(organisations())
def test_every_published_count_is_true_and_at_least_k(organisation: Organisation) -> None:
    structure, counts, k = organisation
    for group, n in disclose(structure, counts, k).published():
        assert n >= k
        assert n == group_count(structure, counts, group)


@ATTACKS
@given(organisations())
def test_a_shown_total_minus_its_shown_parts_is_nobody_hidden_or_at_least_k(
    organisation: Organisation,
) -> None:
    structure, counts, k = organisation
    disclosure = disclose(structure, counts, k)
    for total, parts in relations(structure):
        if not disclosure.visible(total):
            continue
        hidden = [p for p in parts if not disclosure.visible(p)]
        assert not hidden or sum(group_count(structure, counts, p) for p in hidden) >= k, (
            total,
            hidden,
        )


@ATTACKS
@given(organisations())
def test_no_hidden_group_follows_from_the_published_counts(organisation: Organisation) -> None:
    structure, counts, k = organisation
    disclosure = disclose(structure, counts, k)
    cells, basis = published_basis(disclosure)
    for group in structure.groups():
        if not disclosure.visible(group):
            assert not computable(indicator(structure, group, cells), basis), group


@BRUTE_FORCE
@given(organisations(max_departments=6))
def test_no_combination_of_published_counts_isolates_a_small_or_empty_set_of_people(
    organisation: Organisation,
) -> None:
    structure, counts, k = organisation
    disclosure = disclose(structure, counts, k)
    assert small_computable_sets(disclosure, counts) == []


@ATTACKS
@given(organisations())
def test_hidden_and_empty_groups_read_the_same(organisation: Organisation) -> None:
    structure, counts, k = organisation
    disclosure = disclose(structure, counts, k)
    for group in structure.groups():
        if disclosure.visible(group):
            assert disclosure.count(group) == group_count(structure, counts, group)
        else:
            assert disclosure.count(group) is None
            assert group not in disclosure.shown
    assert set(disclosure.shown) == {g for g in structure.groups() if disclosure.visible(g)}


@ATTACKS
@given(organisations(), st.randoms(use_true_random=False))
def test_the_decision_is_deterministic_whatever_the_input_order(
    organisation: Organisation, rng: random.Random
) -> None:
    structure, counts, k = organisation
    items = list(counts.items())
    rng.shuffle(items)
    departments = list(structure.site_of.items())
    rng.shuffle(departments)
    again = disclose(Structure(dict(departments)), dict(items), k)
    assert again.published() == disclose(structure, counts, k).published()


@ATTACKS
@given(organisations())
def test_the_fixpoint_settles_in_two_rounds(organisation: Organisation) -> None:
    structure, counts, k = organisation
    cells = {
        d: (counts[(d, AUDIENCES[0])], counts[(d, AUDIENCES[1])]) for d in structure.departments
    }
    *_, rounds = _decide(structure, cells, k)
    assert rounds <= 2


@ATTACKS
@given(organisations(), st.data())
def test_two_viewers_together_see_nothing_the_organisation_decision_hid(
    organisation: Organisation, data: st.DataObject
) -> None:
    structure, counts, k = organisation
    disclosure = disclose(structure, counts, k)
    departments = st.sets(st.sampled_from(structure.departments))
    first = visible_to(disclosure, data.draw(departments))
    second = visible_to(disclosure, data.draw(departments))
    combined = {**first.shown, **second.shown}
    assert combined.items() <= disclosure.shown.items()


@ATTACKS
@given(organisations(), st.data())
def test_an_allowed_filter_is_a_published_group_with_a_safe_complement(
    organisation: Organisation, data: st.DataObject
) -> None:
    structure, counts, k = organisation
    group = data.draw(st.sampled_from(structure.groups()))
    refusal = check_filter(structure, counts, group, k)
    disclosure = disclose(structure, counts, k)
    total = group_count(structure, counts, Group())
    if refusal is None:
        assert disclosure.visible(group)
        assert not 0 < total - group_count(structure, counts, group) < k
    else:
        assert not disclosure.visible(group)
        assert refusal in FilterRefusal


@ATTACKS
@given(organisations(), st.sampled_from([5, 7, 10]))
def test_no_intersection_or_difference_of_comment_lists_isolates_a_small_set(
    organisation: Organisation, k_comments: int
) -> None:
    structure, counts, k = organisation
    k_comments = max(k_comments, k)
    comments = disclose_comments(structure, counts, k, k_comments)
    numbers = disclose(structure, counts, k)
    assert comments.shown.items() <= numbers.shown.items()
    cells = leaves(structure)
    # The atoms of the lists: people in exactly the same set of lists.
    atoms: dict[frozenset[Group], int] = {}
    for cell in cells:
        lists = frozenset(g for g in comments.groups() if indicator(structure, g, [cell]) == [1])
        if lists:
            atoms[lists] = atoms.get(lists, 0) + counts[cell]
    assert all(n == 0 or n >= k_comments for n in atoms.values()), atoms
    assert all(n >= k_comments for n in comments.shown.values())
