"""The per-measure minimum: a lever's score and a statement's shares need k of their own answers.

"Don't know" makes a lever's (or a statement's) own count smaller than its
group's, and published measure sums can be differenced like group counts. The
attacker here sees, for one measure, its sums for every group the decision
shows it for, and solves the linear system over the leaf cells exactly (with
the same rational elimination as ``test_anonymity_attacks``), counting only
the people who answered the measure.
"""

from __future__ import annotations

from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.domain.anonymity import (
    AUDIENCES,
    Disclosure,
    Group,
    Structure,
    disclose,
    disclose_measure,
    group_count,
    visible_to,
)
from portal.domain.entities import Audience
from tests.unit.test_anonymity_attacks import Organisation, organisations, small_computable_sets

ATTACKS = settings(max_examples=200, deadline=None)
BRUTE_FORCE = settings(max_examples=150, deadline=None)

Counts = dict[tuple[str, Audience], int]


@st.composite
def organisations_with_a_measure(
    draw: st.DrawFn, max_departments: int = 8
) -> tuple[Organisation, Counts]:
    """Draw an organisation and, per cell, how many of its people answered one measure."""
    structure, counts, k = draw(organisations(max_departments=max_departments))
    answered = {
        cell: draw(st.one_of(st.just(n), st.integers(0, n), st.integers(max(0, n - 2), n)))
        for cell, n in counts.items()
    }
    return (structure, counts, k), answered


def naive(decision: Disclosure, answered: Counts) -> Disclosure:
    """The rule as it was: a measure shown wherever its group is (rule 1 on the measure at best)."""
    shown = {
        g: group_count(decision.structure, answered, g)
        for g in decision.groups()
        if group_count(decision.structure, answered, g) >= decision.min_group_size
    }
    return Disclosure(decision.structure, decision.min_group_size, MappingProxyType(shown))


# -- the rule on hand-made organisations ---------------------------------------------------


def test_hides_a_lever_that_fewer_than_k_of_a_shown_group_answered() -> None:
    structure = Structure({"D1": "S1", "D2": "S1"})
    counts = {("D1", Audience.EMPLOYEE): 6, ("D1", Audience.MANAGER): 5}
    counts |= {("D2", Audience.EMPLOYEE): 7, ("D2", Audience.MANAGER): 6}
    # Three of D1's five managers said "don't know" to every statement of the lever.
    answered = {**counts, ("D1", Audience.MANAGER): 2}
    decision = disclose(structure, counts, 5)
    assert decision.visible(Group(department="D1", audience=Audience.MANAGER))

    lever = disclose_measure(decision, answered)

    assert not lever.visible(Group(department="D1", audience=Audience.MANAGER))
    assert lever.count(Group(department="D1")) == 8
    # Site managers minus D2's managers would be D1's two: one of them is hidden too.
    site_managers = Group(site="S1", audience=Audience.MANAGER)
    d2_managers = Group(department="D2", audience=Audience.MANAGER)
    assert not (lever.visible(site_managers) and lever.visible(d2_managers))


def test_hides_a_lever_sum_that_would_give_a_thin_department_by_difference() -> None:
    # Every department and the site are shown; D2's lever was scored by 3 people only.
    structure = Structure({"D1": "S1", "D2": "S1", "D3": "S2"})
    counts = {(d, a): 5 for d in structure.departments for a in AUDIENCES}
    answered = {**counts, ("D2", Audience.EMPLOYEE): 2, ("D2", Audience.MANAGER): 1}
    decision = disclose(structure, counts, 5)
    assert all(decision.visible(Group(department=d)) for d in structure.departments)
    # The rule as it was shows the site's and D1's lever: S1 − D1 = D2's three people.
    assert naive(decision, answered).visible(Group(site="S1"))
    assert small_computable_sets(naive(decision, answered), answered) != []

    lever = disclose_measure(decision, answered)

    assert not lever.visible(Group(department="D2"))
    assert not (lever.visible(Group(site="S1")) and lever.visible(Group(department="D1")))
    assert small_computable_sets(lever, answered) == []


def test_a_measure_asked_of_managers_only_needs_the_managers_group_shown() -> None:
    structure = Structure({"D1": "S1", "D2": "S1"})
    # D1's pair is hidden (2 employees): its 5 managers' n next to its 7 would give the 2.
    counts = {("D1", Audience.EMPLOYEE): 2, ("D1", Audience.MANAGER): 5}
    counts |= {("D2", Audience.EMPLOYEE): 9, ("D2", Audience.MANAGER): 9}
    answered = {cell: n if cell[1] is Audience.MANAGER else 0 for cell, n in counts.items()}
    decision = disclose(structure, counts, 5)
    assert decision.visible(Group(department="D1"))
    assert not decision.visible(Group(department="D1", audience=Audience.MANAGER))

    measure = disclose_measure(decision, answered, [Audience.MANAGER])

    assert not measure.visible(Group(department="D1"))
    assert measure.count(Group(site="S1")) == 14  # the site's managers are shown
    # Asked of everyone, the same counts would show D1 (5 answered).
    assert disclose_measure(decision, answered).visible(Group(department="D1"))


def test_a_measure_nobody_answered_reads_like_a_hidden_one() -> None:
    structure = Structure({"D1": "S1"})
    counts = {("D1", Audience.EMPLOYEE): 6, ("D1", Audience.MANAGER): 6}
    decision = disclose(structure, counts, 5)
    measure = disclose_measure(decision, {})
    assert measure.count(Group(department="D1")) is None
    assert dict(measure.shown) == {}


# -- the attacks on random organisations ------------------------------------------------------


@ATTACKS
@given(organisations_with_a_measure())
def test_a_measure_is_shown_only_where_its_group_is_and_k_answered_it(
    drawn: tuple[Organisation, Counts],
) -> None:
    (structure, counts, k), answered = drawn
    decision = disclose(structure, counts, k)
    measure = disclose_measure(decision, answered)
    for group, n in measure.published():
        assert decision.visible(group), group
        assert n == group_count(structure, answered, group) >= k, group


@BRUTE_FORCE
@given(organisations_with_a_measure(max_departments=6))
def test_no_combination_of_published_measure_sums_isolates_a_small_set_of_answers(
    drawn: tuple[Organisation, Counts],
) -> None:
    (structure, counts, k), answered = drawn
    measure = disclose_measure(disclose(structure, counts, k), answered)
    assert small_computable_sets(measure, answered) == []


@BRUTE_FORCE
@given(organisations_with_a_measure(max_departments=6), st.data())
def test_a_department_viewers_measure_view_isolates_nothing_either(
    drawn: tuple[Organisation, Counts], data: st.DataObject
) -> None:
    (structure, counts, k), answered = drawn
    allowed = data.draw(st.sets(st.sampled_from(structure.departments)))
    whole = disclose_measure(disclose(structure, counts, k), answered)
    mine = visible_to(whole, allowed)
    assert mine.shown.items() <= whole.shown.items()
    assert small_computable_sets(mine, answered) == []
