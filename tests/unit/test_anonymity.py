"""Disclosure control on hand-built organisations: what is shown, what is hidden, and why."""

from __future__ import annotations

import random

import pytest

from portal.domain.anonymity import (
    ORGANISATION,
    Counts,
    Disclosure,
    FilterRefusal,
    Group,
    Structure,
    check_filter,
    disclose,
    disclose_comments,
    publishable_comments,
    visible_to,
)
from portal.domain.entities import Audience
from portal.domain.errors import ValidationError
from tests.unit.test_anonymity_attacks import small_computable_sets

E, M = Audience.EMPLOYEE, Audience.MANAGER


def make_structure(**site_of: str) -> Structure:
    """Build a structure from department=site pairs."""
    return Structure(site_of)


def make_counts(**cells: tuple[int, int]) -> dict[tuple[str, Audience], int]:
    """Build leaf counts from department=(employees, managers) pairs."""
    return {(d, a): n for d, (e, m) in cells.items() for a, n in ((E, e), (M, m))}


def dept(code: str, audience: Audience | None = None) -> Group:
    return Group(department=code, audience=audience)


def site(name: str, audience: Audience | None = None) -> Group:
    return Group(site=name, audience=audience)


def shown(disclosure: Disclosure) -> dict[Group, int]:
    return dict(disclosure.published())


#: Oslo: SALES 13 and HR 3; Bergen: OPS 14 alone. 30 in all, 10 of them managers.
NORWAY = make_structure(SALES="Oslo", HR="Oslo", OPS="Bergen")
NORWAY_COUNTS = make_counts(SALES=(10, 3), HR=(2, 1), OPS=(8, 6))


# -- minimum group size ------------------------------------------------------------


def test_hides_a_department_below_the_minimum_group() -> None:
    disclosure = disclose(NORWAY, NORWAY_COUNTS, 5)
    assert disclosure.count(dept("HR")) is None
    assert not disclosure.visible(dept("HR"))


def test_a_hidden_group_carries_no_count_and_no_reason() -> None:
    disclosure = disclose(NORWAY, NORWAY_COUNTS, 5)
    assert dept("HR") not in disclosure.shown
    assert disclosure.count(dept("HR")) == disclosure.count(dept("NOBODY")) is None


def test_the_floor_is_three_and_a_group_of_three_is_shown_at_three() -> None:
    structure = make_structure(A="Aarhus", B="Aarhus")
    with pytest.raises(ValidationError, match="at least 3"):
        disclose(structure, make_counts(A=(2, 1), B=(3, 0)), 2)
    assert shown(disclose(structure, make_counts(A=(2, 1), B=(3, 0)), 3)) == {
        ORGANISATION: 6,
        site("Aarhus"): 6,
        dept("A"): 3,
        dept("B"): 3,
    }
    # One of two left below three: the other is hidden too, or 6 − 4 = 2 would show.
    assert shown(disclose(structure, make_counts(A=(3, 1), B=(2, 0)), 3)) == {
        ORGANISATION: 6,
        site("Aarhus"): 6,
    }


# -- differencing ------------------------------------------------------------------


def test_hides_the_sibling_when_the_site_total_would_give_the_small_department_away() -> None:
    disclosure = disclose(NORWAY, NORWAY_COUNTS, 5)
    assert disclosure.count(site("Oslo")) == 16
    assert disclosure.count(dept("SALES")) is None  # 16 − 13 would be HR's 3


def test_two_small_hidden_parts_together_must_reach_the_minimum() -> None:
    # 20 − 17 = 3 people in B and C together: too few although two parts are hidden.
    structure = make_structure(A="Oslo", B="Oslo", C="Oslo")
    disclosure = disclose(structure, make_counts(A=(15, 2), B=(1, 0), C=(1, 1)), 5)
    assert shown(disclosure) == {ORGANISATION: 20, site("Oslo"): 20}


def test_an_empty_department_is_protected_like_a_small_one() -> None:
    structure = make_structure(SALES="Oslo", HR="Oslo")
    empty = disclose(structure, make_counts(SALES=(8, 4), HR=(0, 0)), 5)
    small = disclose(structure, make_counts(SALES=(8, 4), HR=(3, 0)), 5)
    # Showing SALES 12 next to Oslo 12 would say that nobody in HR answered.
    assert empty.count(dept("SALES")) is None
    assert empty.groups() == small.groups()


def test_a_shown_total_is_never_hidden_to_protect_its_parts() -> None:
    disclosure = disclose(NORWAY, NORWAY_COUNTS, 5)
    assert disclosure.count(site("Oslo")) == 16 and disclosure.count(ORGANISATION) == 30


def test_a_site_with_one_department_shows_the_same_number_as_the_department() -> None:
    disclosure = disclose(NORWAY, NORWAY_COUNTS, 5)
    assert disclosure.count(site("Bergen")) == disclosure.count(dept("OPS")) == 14


def test_hiding_a_one_department_site_hides_its_department_too() -> None:
    # The organisation 32 minus Oslo 16 would leave Bergen and Tromsø's 2, so
    # Bergen goes; OPS is the same 14 people, so it goes with it.
    structure = make_structure(SALES="Oslo", OPS="Bergen", TINY="Tromso")
    disclosure = disclose(structure, make_counts(SALES=(10, 6), OPS=(8, 6), TINY=(1, 1)), 5)
    assert disclosure.count(site("Bergen")) is None
    assert disclosure.count(dept("OPS")) is None
    assert disclosure.count(site("Oslo")) == disclosure.count(dept("SALES")) == 16


def test_a_hidden_group_that_the_shown_numbers_imply_is_shown() -> None:
    # Protecting D0's 2 hides S1, S2 (ties go by key, sites first) and then D1.
    # S2 is D2's 6 people again, so it is shown rather than hidden in one place
    # and computable from another.
    structure = make_structure(D0="S0", D1="S1", D2="S2")
    disclosure = disclose(structure, make_counts(D0=(1, 1), D1=(3, 3), D2=(3, 3)), 5)
    assert disclosure.count(site("S2")) == disclosure.count(dept("D2")) == 6
    assert disclosure.count(site("S1")) is None and disclosure.count(dept("D1")) is None


def test_no_subtraction_across_levels_reveals_a_small_group() -> None:
    # A rule that only compares a total with its direct parts would show the
    # organisation 25, site S1 11 and S2's employees 10 — and 25 − 11 − 10 = 4
    # people (S2's managers and all of S3). With no planned headcounts, the site
    # hidden to protect S3 is the first by key (S1), not the one with fewer answers.
    structure = make_structure(D1="S1", D2="S2", D3="S3")
    counts = make_counts(D1=(10, 1), D2=(10, 0), D3=(2, 2))
    disclosure = disclose(structure, counts, 5)
    assert shown(disclosure) == {ORGANISATION: 25, site("S2"): 10, dept("D2"): 10}
    assert small_computable_sets(disclosure, counts) == []


def test_no_chain_of_subtractions_reaches_a_small_cell() -> None:
    # Per relation alone, D1 7, the site's managers 16 and D0's managers 10 pass;
    # but then D1's managers are 16 − 10 = 6 and its employees 7 − 6 = 1.
    structure = make_structure(D0="S0", D1="S0")
    counts = make_counts(D0=(12, 10), D1=(1, 6))
    disclosure = disclose(structure, counts, 3)
    assert disclosure.count(dept("D1")) == 7
    assert disclosure.count(dept("D0", M)) is None
    assert small_computable_sets(disclosure, counts) == []


# -- employees and managers --------------------------------------------------------


def test_two_managers_hide_both_halves_and_keep_the_department_total() -> None:
    structure = make_structure(PLANT="Aarhus", OFFICE="Aarhus")
    disclosure = disclose(structure, make_counts(PLANT=(12, 2), OFFICE=(9, 6)), 5)
    assert disclosure.count(dept("PLANT")) == 14
    assert disclosure.count(dept("PLANT", M)) is None
    assert disclosure.count(dept("PLANT", E)) is None  # 14 − 12 would be the 2 managers


def test_a_department_without_manager_responses_looks_like_one_with_a_few() -> None:
    structure = make_structure(PLANT="Aarhus", OFFICE="Aarhus")
    none = disclose(structure, make_counts(PLANT=(12, 0), OFFICE=(9, 6)), 5)
    few = disclose(structure, make_counts(PLANT=(12, 3), OFFICE=(9, 6)), 5)
    assert none.count(dept("PLANT", E)) is None  # 12 employees of 12 would say "no managers"
    assert none.groups() == few.groups()


def test_a_shown_pair_leaves_enough_managers_for_the_rest() -> None:
    # The organisation's managers minus Bergen's would be Oslo's 4 managers.
    disclosure = disclose(NORWAY, NORWAY_COUNTS, 5)
    assert disclosure.count(Group(audience=M)) == 10
    assert disclosure.count(site("Bergen", M)) is None
    assert disclosure.count(site("Oslo", M)) is None


def test_a_crossed_group_reads_as_the_group_it_means() -> None:
    disclosure = disclose(NORWAY, NORWAY_COUNTS, 3)
    crossed = Group(site="Bergen", department="OPS", audience=M)
    assert disclosure.count(crossed) == disclosure.count(dept("OPS", M)) == 6
    assert disclosure.count(Group(site="Oslo", department="OPS")) is None


# -- filters -----------------------------------------------------------------------


FILTERS = make_structure(SALES="Oslo", OPS="Bergen")
FILTER_COUNTS = make_counts(SALES=(30, 7), OPS=(2, 1))  # 40 in all


def test_refuses_a_filter_whose_rest_of_the_organisation_is_small() -> None:
    # 40 − 37 = 3: the Oslo view next to the organisation's would give Bergen away.
    assert check_filter(FILTERS, FILTER_COUNTS, site("Oslo"), 5) is FilterRefusal.SMALL_COMPLEMENT


def test_refuses_a_filter_on_a_small_group() -> None:
    assert check_filter(FILTERS, FILTER_COUNTS, site("Bergen"), 5) is (
        FilterRefusal.TOO_FEW_RESPONSES
    )
    assert check_filter(FILTERS, FILTER_COUNTS, site("Nowhere"), 5) is (
        FilterRefusal.TOO_FEW_RESPONSES
    )


def test_allows_the_whole_organisation_as_a_filter() -> None:
    assert check_filter(FILTERS, FILTER_COUNTS, ORGANISATION, 5) is None


def test_refuses_a_crossed_filter_whose_rest_within_its_audience_is_small() -> None:
    # Oslo's 7 managers are far from 40, but the organisation's 8 managers minus
    # them is Bergen's one manager.
    crossed = Group(site="Oslo", department="SALES", audience=M)
    assert check_filter(FILTERS, FILTER_COUNTS, crossed, 5) is (
        FilterRefusal.PROTECTS_ANOTHER_GROUP
    )


def test_allows_a_crossed_filter_and_counts_it_as_its_cell() -> None:
    structure = make_structure(SALES="Oslo", HR="Oslo", OPS="Bergen")
    counts = make_counts(SALES=(20, 6), HR=(10, 5), OPS=(15, 7))
    crossed = Group(site="Oslo", department="SALES", audience=M)
    assert check_filter(structure, counts, crossed, 5) is None
    assert disclose(structure, counts, 5).count(crossed) == 6
    elsewhere = Group(site="Bergen", department="SALES")
    assert check_filter(structure, counts, elsewhere, 5) is FilterRefusal.TOO_FEW_RESPONSES


# -- comments ----------------------------------------------------------------------

TEXTS = ["Training ended too soon", None, "", "   ", " Keep  it as written ", "More why"]
KEPT = ["Training ended too soon", " Keep  it as written ", "More why"]


def test_no_comments_below_the_comment_threshold() -> None:
    assert publishable_comments(9, TEXTS, 10, random.Random(1)) == ()
    assert publishable_comments(None, TEXTS, 10, random.Random(1)) == ()


def test_comments_are_texts_only_unedited_without_empty_ones() -> None:
    comments = publishable_comments(10, TEXTS, 10, random.Random(1))
    assert sorted(comments) == sorted(KEPT)
    assert all(type(text) is str for text in comments)


def test_comments_are_shuffled_by_the_given_random_source() -> None:
    expected = list(KEPT)
    random.Random(4).shuffle(expected)
    assert publishable_comments(12, TEXTS, 10, random.Random(4)) == tuple(expected)
    orders = {publishable_comments(12, TEXTS, 10, random.Random(seed)) for seed in range(20)}
    assert len(orders) > 1


def test_the_comment_threshold_has_its_own_floor() -> None:
    with pytest.raises(ValidationError, match="at least 5"):
        publishable_comments(12, TEXTS, 4, random.Random(1))


def test_comment_lists_that_intersect_in_a_small_group_are_not_all_shown() -> None:
    # Texts match across lists: Oslo's comments that also appear among the
    # managers' comments are Oslo's 2 managers' — so the audience lists go.
    structure = make_structure(SALES="Oslo", OPS="Bergen")
    counts: Counts = make_counts(SALES=(18, 2), OPS=(12, 10))
    comments = disclose_comments(structure, counts, 5, 10)
    assert disclose(structure, counts, 5).count(Group(audience=M)) == 12
    assert comments.count(Group(audience=M)) is None
    assert comments.count(Group(audience=E)) is None
    assert comments.groups() == (
        ORGANISATION,
        site("Bergen"),
        site("Oslo"),
        dept("OPS"),
        dept("SALES"),
    )


def test_comments_are_shown_only_where_numbers_are() -> None:
    comments = disclose_comments(NORWAY, NORWAY_COUNTS, 5, 10)
    assert comments.count(dept("SALES")) is None  # 13 ≥ 10, but hidden to protect HR
    assert comments.count(site("Oslo")) == 16


# -- viewers -----------------------------------------------------------------------


def test_a_viewer_sees_only_groups_inside_their_departments() -> None:
    view = visible_to(disclose(NORWAY, NORWAY_COUNTS, 5), {"OPS"})
    assert shown(view) == {site("Bergen"): 14, dept("OPS"): 14}


def test_a_viewer_of_one_department_does_not_see_it_when_the_organisation_hid_it() -> None:
    # SALES alone has 13, but it is hidden to protect HR, and stays hidden for its head.
    view = visible_to(disclose(NORWAY, NORWAY_COUNTS, 5), {"SALES"})
    assert view.count(dept("SALES")) is None
    assert view.published() == ()


def test_two_viewers_together_cannot_rebuild_a_hidden_department() -> None:
    disclosure = disclose(NORWAY, NORWAY_COUNTS, 5)
    oslo_head = visible_to(disclosure, {"SALES", "HR"})
    sales_head = visible_to(disclosure, {"SALES"})
    assert oslo_head.count(site("Oslo")) == 16
    assert oslo_head.count(dept("SALES")) is None and sales_head.count(dept("SALES")) is None


def test_a_viewer_of_every_department_sees_the_whole_decision() -> None:
    disclosure = disclose(NORWAY, NORWAY_COUNTS, 5)
    assert visible_to(disclosure, NORWAY.departments).published() == disclosure.published()


# -- input -------------------------------------------------------------------------


def test_refuses_counts_for_a_department_the_structure_lacks() -> None:
    with pytest.raises(ValidationError, match="add it to the structure"):
        disclose(NORWAY, {("LEGAL", E): 4}, 5)


def test_refuses_a_negative_count() -> None:
    with pytest.raises(ValidationError, match="at least 0"):
        disclose(NORWAY, {("HR", M): -1}, 5)


def test_lists_published_groups_organisation_first_in_a_stable_order() -> None:
    groups = disclose(NORWAY, NORWAY_COUNTS, 5).groups()
    assert groups[0] == ORGANISATION
    assert list(groups) == sorted(groups, key=Group.sort_key)


def test_the_group_hidden_to_protect_another_is_planned_smallest_not_fewest_answered() -> None:
    # Site S1 (planned 40) and S2 (planned 12) both shown would leave S3's 4 people: one of
    # them must go. The planned headcount picks S2 whatever the answers, so the choice
    # neither tells which site answered less nor flips as answers arrive.
    structure = Structure({"D1": "S1", "D2": "S2", "D3": "S3"}, {"D1": 40, "D2": 12, "D3": 6})
    for d1, d2 in ((8, 20), (20, 8), (9, 9)):
        disclosure = disclose(structure, make_counts(D1=(d1, 0), D2=(d2, 0), D3=(4, 0)), 5)
        assert disclosure.visible(site("S1")) and not disclosure.visible(site("S2"))
        assert (
            small_computable_sets(disclosure, make_counts(D1=(d1, 0), D2=(d2, 0), D3=(4, 0))) == []
        )
