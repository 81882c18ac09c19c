"""Release steps: two published states together never isolate fewer than k people.

The attacker saw the previous published state and sees the new one. Per leaf
cell, ``x`` is the earlier respondents and ``d`` the newcomers; the attacker
knows the previous decision's group sums of ``x`` and the new decision's group
sums of ``x + d``. These tests solve that combined linear system independently
of ``portal.domain.release`` (exact rational elimination over [old cells, new
cells]) and look for any set of people — earlier respondents of some cells,
newcomers of others — whose count follows and lies between 1 and k − 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.domain.anonymity import AUDIENCES, Counts, Group, Structure, disclose
from portal.domain.entities import Audience
from portal.domain.release import atoms, release_allowed, release_step

E, M = Audience.EMPLOYEE, Audience.MANAGER
Leaf = tuple[str, Audience]
#: Enumerating every pair of sets of cells quadruples per cell, so only small organisations.
BRUTE_FORCE = settings(max_examples=300, deadline=None)


def _leaves(structure: Structure) -> list[Leaf]:
    return [(d, a) for d in structure.departments for a in AUDIENCES]


def _row(structure: Structure, group: Group, cells: Sequence[Leaf]) -> list[int]:
    departments = structure.departments_of(group)
    audiences = AUDIENCES if group.audience is None else (group.audience,)
    return [int(d in departments and a in audiences) for d, a in cells]


def _kernel(rows: list[list[int]], width: int) -> list[list[Fraction]]:
    """Return a basis of {v : row · v = 0 for every row}: v is computable iff orthogonal to it."""
    matrix = [[Fraction(v) for v in row] for row in rows]
    pivots: list[int] = []
    r = 0
    for c in range(width):
        p = next((i for i in range(r, len(matrix)) if matrix[i][c]), None)
        if p is None:
            continue
        matrix[r], matrix[p] = matrix[p], matrix[r]
        matrix[r] = [v / matrix[r][c] for v in matrix[r]]
        for i in range(len(matrix)):
            if i != r and matrix[i][c]:
                f = matrix[i][c]
                matrix[i] = [a - f * b for a, b in zip(matrix[i], matrix[r], strict=True)]
        pivots.append(c)
        r += 1
    basis = []
    for free in (c for c in range(width) if c not in pivots):
        v = [Fraction(0)] * width
        v[free] = Fraction(1)
        for i, c in enumerate(pivots):
            v[c] = -matrix[i][free]
        basis.append(v)
    return basis


def leaks_across(
    structure: Structure, previous: Counts, new: Counts, k: int
) -> list[tuple[frozenset[Leaf], frozenset[Leaf], int]]:
    """Return every (earlier cells U, newcomer cells W, count) the two states give, below k.

    Variables: [x per cell, d per cell]. Published: the previous decision's
    group sums of x and the new decision's group sums of x + d. A set of
    people is computable when its 0/1 vector over the variables lies in the
    row space of what is published.
    """
    cells = _leaves(structure)
    n = len(cells)
    old, fresh = disclose(structure, previous, k), disclose(structure, new, k)
    rows = [_row(structure, g, cells) + [0] * n for g in old.shown]
    rows += [_row(structure, g, cells) * 2 for g in fresh.shown]
    kernel = _kernel(rows, 2 * n)
    x = [previous.get(c, 0) for c in cells]
    d = [new.get(c, 0) - previous.get(c, 0) for c in cells]
    found = []
    for bits in product((0, 1), repeat=2 * n):
        if not any(bits):
            continue
        count = sum(b * v for b, v in zip(bits, x + d, strict=True))
        if not 0 < count < k:
            continue
        if all(sum(b * v for b, v in zip(bits, basis, strict=True)) == 0 for basis in kernel):
            u = frozenset(c for c, b in zip(cells, bits[:n], strict=True) if b)
            w = frozenset(c for c, b in zip(cells, bits[n:], strict=True) if b)
            found.append((u, w, count))
    return found


@st.composite
def two_states(draw: st.DrawFn) -> tuple[Structure, dict[Leaf, int], dict[Leaf, int], int]:
    """Draw 1–2 sites, 1–3 departments, counts around k, and a later state that only grows."""
    departments = draw(st.integers(1, 3))
    sites = [f"S{i}" for i in range(draw(st.integers(1, min(2, departments))))]
    site_of = {
        f"D{i}": sites[i] if i < len(sites) else draw(st.sampled_from(sites))
        for i in range(departments)
    }
    k = draw(st.sampled_from([3, 4, 5]))
    cells = [(d, a) for d in site_of for a in AUDIENCES]
    previous = {c: draw(st.one_of(st.integers(0, 3), st.integers(0, 12))) for c in cells}
    grow = st.one_of(st.just(0), st.integers(0, 2), st.integers(0, 2 * k))
    new = {c: previous[c] + draw(grow) for c in cells}
    return Structure(site_of), previous, new, k


# -- the rule against the attacker ----------------------------------------------------


@BRUTE_FORCE
@given(two_states())
def test_an_allowed_release_lets_no_one_compute_fewer_than_k_people_across_both_states(
    case: tuple[Structure, dict[Leaf, int], dict[Leaf, int], int],
) -> None:
    structure, previous, new, k = case
    if release_allowed(structure, previous, new, k):
        assert leaks_across(structure, previous, new, k) == []


@BRUTE_FORCE
@given(two_states())
def test_every_set_the_new_decision_lets_anyone_compute_is_a_union_of_its_atoms(
    case: tuple[Structure, dict[Leaf, int], dict[Leaf, int], int],
) -> None:
    # Rule 4 leans on this: every computable set of one decision is a disjoint union
    # of its atoms, so a change of 0 or ≥ k per atom is one of 0 or ≥ k per set.
    structure, _previous, new, k = case
    decision = disclose(structure, new, k)
    cells = _leaves(structure)
    kernel = _kernel([_row(structure, g, cells) for g in decision.shown], len(cells))
    parts = atoms(decision)
    assert all(sum(new.get(c, 0) for c in atom) >= k for atom in parts)
    for bits in product((0, 1), repeat=len(cells)):
        if not any(bits) or any(
            sum(b * v for b, v in zip(bits, basis, strict=True)) for basis in kernel
        ):
            continue
        chosen = {c for c, b in zip(cells, bits, strict=True) if b}
        inside = [a for a in parts if a <= chosen]
        # Some disjoint choice of atoms inside the set covers it exactly.
        assert _exact_cover(chosen, inside), (chosen, parts)


def _exact_cover(target: set[Leaf], pieces: list[frozenset[Leaf]]) -> bool:
    if not target:
        return True
    first = min(target)
    return any(
        _exact_cover(target - piece, [p for p in pieces if not p & piece])
        for piece in pieces
        if first in piece
    )


@BRUTE_FORCE
@given(two_states())
def test_a_release_step_takes_some_cells_new_counts_and_the_mix_is_safe_across_both_states(
    case: tuple[Structure, dict[Leaf, int], dict[Leaf, int], int],
) -> None:
    structure, previous, new, k = case
    step = release_step(structure, previous, new, k)
    if step is None:
        return
    assert step <= {c for c in _leaves(structure) if new.get(c, 0) != previous.get(c, 0)}
    mixed = {c: (new if c in step else previous).get(c, 0) for c in _leaves(structure)}
    assert release_allowed(structure, previous, mixed, k)
    assert leaks_across(structure, previous, mixed, k) == []


# -- hand cases -------------------------------------------------------------------------

ONE_SITE = Structure({"CS": "Aarhus", "SALES": "Aarhus", "FIN": "Aarhus"})


def _counts(**by_department: tuple[int, int]) -> dict[Leaf, int]:
    return {
        (d, a): n for d, pair in by_department.items() for a, n in zip(AUDIENCES, pair, strict=True)
    }


def test_the_first_state_may_always_be_published() -> None:
    nothing = _counts(CS=(1, 0), SALES=(1, 0), FIN=(0, 0))
    assert disclose(ONE_SITE, nothing, 5).shown == {}
    assert release_allowed(ONE_SITE, nothing, _counts(CS=(7, 2), SALES=(8, 3), FIN=(6, 2)), 5)


def test_one_newcomer_in_a_shown_department_is_not_released() -> None:
    before = _counts(CS=(15, 5), SALES=(15, 5), FIN=(15, 5))
    after = _counts(CS=(16, 5), SALES=(15, 5), FIN=(15, 5))
    assert not release_allowed(ONE_SITE, before, after, 5)
    assert leaks_across(ONE_SITE, before, after, 5) != []


def test_k_newcomers_in_one_department_are_released() -> None:
    before = _counts(CS=(15, 5), SALES=(15, 5), FIN=(15, 5))
    after = _counts(CS=(20, 5), SALES=(15, 5), FIN=(15, 5))
    assert release_allowed(ONE_SITE, before, after, 5)


def test_newcomers_spread_below_k_per_department_wait_until_each_reaches_k() -> None:
    before = _counts(CS=(15, 5), SALES=(15, 5), FIN=(15, 5))
    spread = _counts(CS=(18, 5), SALES=(17, 5), FIN=(15, 5))
    assert not release_allowed(ONE_SITE, before, spread, 5)
    assert release_allowed(ONE_SITE, before, _counts(CS=(20, 5), SALES=(20, 5), FIN=(15, 5)), 5)


def test_too_few_newcomers_in_the_whole_organisation_are_not_released() -> None:
    before = _counts(CS=(2, 1), SALES=(1, 1), FIN=(1, 0))
    assert disclose(ONE_SITE, before, 3).visible(Group())
    assert not release_allowed(ONE_SITE, before, _counts(CS=(3, 1), SALES=(1, 1), FIN=(1, 1)), 3)


def test_a_state_with_fewer_responses_than_the_published_one_is_never_released() -> None:
    before = _counts(CS=(15, 5), SALES=(15, 5), FIN=(15, 5))
    after = _counts(CS=(25, 5), SALES=(14, 5), FIN=(15, 5))
    assert not release_allowed(ONE_SITE, before, after, 5)


def test_a_small_change_hidden_inside_a_larger_remainder_does_not_hold_the_release_back() -> None:
    # The managers of site A (2, then 3) are never a published group: only the
    # organisation's managers are, so one more of them changes no computable set
    # by fewer than k. A rule on every cell would wait for ever here.
    two_sites = Structure({"A1": "A", "B1": "B"})
    before = _counts(A1=(10, 2), B1=(10, 8))
    after = _counts(A1=(15, 3), B1=(15, 12))
    assert not disclose(two_sites, before, 5).visible(Group(site="A", audience=M))
    assert release_allowed(two_sites, before, after, 5)
    assert leaks_across(two_sites, before, after, 5) == []


def test_the_demo_follow_up_wave_cannot_move_by_one_person() -> None:
    # Customer service 13, Sales 16, Finance 9, People and culture 4 (Site Aarhus 42).
    aarhus = Structure({"CS": "Aarhus", "SALES": "Aarhus", "FIN": "Aarhus", "PC": "Aarhus"})
    before = _counts(CS=(10, 3), SALES=(12, 4), FIN=(7, 2), PC=(3, 1))
    for department in ("CS", "SALES", "FIN", "PC"):
        after = dict(before)
        after[(department, E)] += 1
        assert not release_allowed(aarhus, before, after, 5), department


def test_sums_the_new_state_shows_over_unchanged_cells_must_have_been_published_before() -> None:
    # Found by the brute force above against the rule "every class of cells (by the
    # groups of either state containing it) changed by 0 or ≥ k": that rule passes
    # this step (one class grows by 6, the others not at all), yet an old total minus
    # new figures over unchanged cells gives the 2 earlier managers of D0 and D2.
    site = Structure({"D0": "A", "D1": "A", "D2": "A"})
    before = _counts(D0=(7, 2), D1=(5, 12), D2=(1, 0))
    after = _counts(D0=(7, 2), D1=(5, 12), D2=(1, 6))
    assert leaks_across(site, before, after, 3) != []
    assert not release_allowed(site, before, after, 3)


def test_a_step_releases_the_departments_that_grew_by_k_and_keeps_back_the_others() -> None:
    before = _counts(CS=(15, 5), SALES=(15, 5), FIN=(15, 5))
    after = _counts(CS=(20, 5), SALES=(16, 5), FIN=(15, 5))
    assert not release_allowed(ONE_SITE, before, after, 5)
    assert release_step(ONE_SITE, before, after, 5) == {("CS", E)}


def test_no_step_when_every_change_is_below_k() -> None:
    before = _counts(CS=(15, 5), SALES=(15, 5), FIN=(15, 5))
    after = _counts(CS=(16, 6), SALES=(17, 5), FIN=(15, 5))
    assert release_step(ONE_SITE, before, after, 5) is None


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_three_states_released_in_steps_together_isolate_no_one(data: st.DataObject) -> None:
    # The rule compares each state with the one it replaces; check that a reader
    # holding three consecutive states (x, then newcomers d1, then d2) learns no more.
    departments = data.draw(st.integers(1, 2))
    site_of = {f"D{i}": data.draw(st.sampled_from(["S0", "S1"])) for i in range(departments)}
    structure, k = Structure(site_of), data.draw(st.sampled_from([3, 4, 5]))
    cells = _leaves(structure)
    states = [{c: data.draw(st.integers(0, 8)) for c in cells}]
    for _ in range(2):
        target = {c: v + data.draw(st.sampled_from([0, 0, 1, 2, k])) for c, v in states[-1].items()}
        step = release_step(structure, states[-1], target, k)
        if step is None:
            return
        states.append({c: (target if c in step else states[-1])[c] for c in cells})
    n = len(cells)
    rows = []
    for t, state in enumerate(states):
        for group in disclose(structure, state, k).shown:
            row = _row(structure, group, cells)
            rows.append(row + (row if t >= 1 else [0] * n) + (row if t >= 2 else [0] * n))
    kernel = _kernel(rows, 3 * n)
    values = [states[0][c] for c in cells]
    values += [states[t][c] - states[t - 1][c] for t in (1, 2) for c in cells]
    for bits in product((0, 1), repeat=3 * n):
        count = sum(b * v for b, v in zip(bits, values, strict=True))
        if 0 < count < k:
            assert any(sum(b * v for b, v in zip(bits, basis, strict=True)) for basis in kernel), (
                states,
                bits,
            )
