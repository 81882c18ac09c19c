"""The compare service: groups against the rest of the organisation, waves, and its refusals.

Differences from the rest are checked against scipy's Welch test on the raw
respondent indices and statsmodels' Benjamini–Hochberg; what is published is
the overview's own decision, so a hidden group stays without figures and a
department viewer never gets the rest of the organisation.
"""

from __future__ import annotations

from datetime import date

import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from portal.domain import scoring
from portal.domain.contrasts import Difference
from portal.domain.entities import Department, Response
from portal.services import readiness
from portal.services.compare import (
    MAX_GROUPS,
    NOT_IN_WAVE,
    Comparison,
    Selection,
    compare,
    rest_of_organisation,
)
from portal.services.surveys import add_wave, close_wave
from portal.storage.port import Store
from tests.web.test_results import DEPARTMENTS, QUESTIONNAIRE, SLUG, STANDARD, make_organisation


def departments(store: Store, *codes: str, allowed: object = None) -> Comparison:
    """Compare departments ``codes`` of the baseline wave."""
    return compare(
        store,
        SLUG,
        "baseline",
        Selection(by="departments", departments=codes),
        allowed=allowed,  # type: ignore[arg-type]
    )


def column(found: Comparison, key: str):  # type: ignore[no-untyped-def]
    return next(c for c in found.columns if c.key == key)


def test_a_departments_difference_from_the_rest_is_welchs_test_on_the_raw_indices(
    store: Store, standard: list[Response]
) -> None:
    found = departments(store, "SALES", "WH", "MKT")
    assert found.problem is None and found.rest_shown
    checked = 0
    for code in ("SALES", "WH", "MKT"):
        mine = [r for r in standard if r.department_code == code]
        rest = [r for r in standard if r.department_code != code]
        for lever in QUESTIONNAIRE.levers:
            contrast = column(found, code).against_rest[lever.id]
            group_x = scoring.respondent_indices(QUESTIONNAIRE, mine, lever.id)
            rest_x = scoring.respondent_indices(QUESTIONNAIRE, rest, lever.id)
            reference = stats.ttest_ind(group_x, rest_x, equal_var=False)
            low, high = reference.confidence_interval(0.95)
            comparison = contrast.comparison
            assert comparison is not None, (code, lever.id)
            assert comparison.difference == pytest.approx(
                sum(group_x) / len(group_x) - sum(rest_x) / len(rest_x), abs=1e-9
            )
            assert comparison.p == pytest.approx(reference.pvalue, rel=1e-6)
            assert (comparison.ci_low, comparison.ci_high) == pytest.approx((low, high), rel=1e-6)
            assert contrast.rest is not None and contrast.rest.n == len(rest_x)
            checked += 1
    assert checked == 3 * len(QUESTIONNAIRE.levers)


def test_the_words_are_benjamini_hochberg_over_every_difference_on_the_page(
    store: Store, standard: list[Response]
) -> None:
    found = departments(store, "SALES", "WH", "MKT", "OPS")
    tested = [
        contrast
        for c in found.columns
        for contrast in (c.against_rest or {}).values()
        if contrast.comparison is not None
    ]
    assert len(tested) == 4 * len(QUESTIONNAIRE.levers)
    expected = multipletests([c.comparison.p for c in tested], method="fdr_bh")[1]  # type: ignore[union-attr]
    assert [c.q for c in tested] == pytest.approx(list(expected), rel=1e-12)
    for contrast in tested:
        assert contrast.q is not None and contrast.comparison is not None
        called = contrast.q <= 0.05
        if called:
            higher = contrast.comparison.difference > 0
            assert contrast.outcome is (
                Difference.CLEARLY_HIGHER if higher else Difference.CLEARLY_LOWER
            )
        elif contrast.comparison.detectable > 10:
            assert contrast.outcome is Difference.TOO_FEW_TO_TELL
        else:
            assert contrast.outcome is Difference.NO_CLEAR_DIFFERENCE


def test_a_hidden_department_is_a_column_without_any_figure_or_rest(
    store: Store, standard: list[Response]
) -> None:
    found = departments(store, "SALES", "TINY", "NONE")
    for code in ("TINY", "NONE"):
        hidden = column(found, code)
        assert hidden.result is None
        assert hidden.against_rest is not None
        assert {c.outcome for c in hidden.against_rest.values()} == {Difference.NOT_SHOWN}
        assert all(c.rest is None and c.comparison is None for c in hidden.against_rest.values())
    # Hidden and empty read alike, field for field, apart from their names.
    tiny, none = column(found, "TINY"), column(found, "NONE")
    assert (tiny.result, tiny.against_rest, tiny.note) == (none.result, none.against_rest, "")


def test_a_department_viewer_gets_neither_the_organisation_nor_the_rest(
    store: Store, standard: list[Response]
) -> None:
    found = departments(store, "SALES", allowed=lambda code: code in ("SALES", "WH"))
    assert found.problem is None
    assert found.reference is None and not found.rest_shown
    assert all(c.against_rest is None for c in found.columns)
    assert [c.value for c in found.options.departments] == ["SALES", "WH"]
    assert found.options.sites == () and not found.options.organisation
    assert [u.value for u in found.options.units] == ["department:SALES", "department:WH"]


@pytest.mark.parametrize(
    ("selection", "problem"),
    [
        (Selection(by="departments", departments=("SALES",)), None),
        (Selection(by="waves", unit="department:SALES"), None),
        (Selection(by="departments", departments=("SALES", "MKT")), "Choose departments from"),
        (Selection(by="sites", sites=("Hamburg",)), "Choose sites from the list."),
        (Selection(by="site", site="Aarhus"), "Choose a site from the list."),
        (Selection(by="waves", unit="organisation"), "Choose the organisation, a site"),
        (Selection(by="waves", unit="department:MKT"), "Choose the organisation, a site"),
    ],
)
def test_a_department_viewer_may_choose_only_their_own_departments(
    store: Store, standard: list[Response], selection: Selection, problem: str | None
) -> None:
    found = compare(store, SLUG, "baseline", selection, allowed=lambda code: code == "SALES")
    if problem is None:
        assert found.problem is None
    else:
        assert found.problem is not None and found.problem.startswith(problem)
        assert found.columns == () and found.reference is None and not found.rest_shown


@pytest.mark.parametrize(
    ("selection", "problem"),
    [
        (Selection(by="teams"), "Choose sites, departments"),
        (Selection(by="departments"), "Choose departments from the list."),
        (Selection(by="departments", departments=("SALES", "NOPE")), "Choose departments"),
        (
            Selection(by="departments", departments=tuple(DEPARTMENTS)),
            f"Choose at most {MAX_GROUPS}",
        ),
        (Selection(by="sites", sites=("Oslo",)), "Choose sites from the list."),
        (Selection(by="site", site=None), "Choose a site from the list."),
        (Selection(by="waves", unit="team:SALES"), "Choose the organisation, a site"),
        (Selection(by="waves", unit="organisation", waves=("later",)), "Choose waves"),
        (Selection(by="waves", unit="organisation", waves=("nope",)), "Choose waves"),
    ],
)
def test_a_choice_that_cannot_be_made_gives_a_problem_and_no_columns(
    store: Store, standard: list[Response], selection: Selection, problem: str
) -> None:
    add_wave(store, SLUG, wave_id="later", name="Later", today=date.today())  # a draft
    found = compare(store, SLUG, "baseline", selection)
    assert found.problem is not None and found.problem.startswith(problem), found.problem
    assert found.columns == () and found.reference is None


def test_a_site_of_more_departments_than_the_limit_asks_to_choose(store: Store) -> None:
    many = {f"D{i}": (f"Dept {i}", "Big" if i < 8 else "Small", 10) for i in range(10)}
    make_organisation(store, {code: (5, 0) for code in many}, departments=many)
    found = compare(store, SLUG, "baseline", Selection(by="site", site="Big"))
    assert found.problem is not None and "has 8 departments" in found.problem
    small = compare(store, SLUG, "baseline", Selection(by="site", site="Small"))
    assert [c.key for c in small.columns] == ["Small", "D8", "D9"]


def test_the_only_site_has_no_rest_of_the_organisation(store: Store) -> None:
    one_site = {"A": ("A", "Only", 20), "B": ("B", "Only", 20)}
    make_organisation(store, {"A": (8, 2), "B": (9, 0)}, departments=one_site)
    found = compare(store, SLUG, "baseline", Selection(by="sites", sites=("Only",)))
    only = column(found, "Only")
    assert only.result is not None and found.rest_shown
    assert only.against_rest is not None
    assert {c.outcome for c in only.against_rest.values()} == {Difference.NOT_SHOWN}


def test_the_rest_is_shown_from_the_minimum_group_size_on(
    store: Store, standard: list[Response]
) -> None:
    report = readiness.wave_results(store, SLUG, "baseline")
    organisation = report.organisation
    sales = report.department("SALES")
    assert organisation is not None and sales is not None and sales.result is not None
    lever = QUESTIONNAIRE.levers[0].id
    part_and_rest = rest_of_organisation(organisation, sales.result, lever, 1)
    assert part_and_rest is not None
    rest_n = part_and_rest[1].n
    assert rest_n == organisation.scores[lever].n - sales.result.scores[lever].n
    assert rest_of_organisation(organisation, sales.result, lever, rest_n) is not None
    assert rest_of_organisation(organisation, sales.result, lever, rest_n + 1) is None


def test_a_wave_column_shows_the_change_its_department_page_shows(store: Store) -> None:
    make_organisation(store, STANDARD, wave_id="baseline", bias=-1)
    close_wave(store, SLUG, "baseline", today=date.today())
    make_organisation(store, STANDARD, wave_id="follow-up", create=False, seed=2, bias=1)
    found = compare(store, SLUG, "follow-up", Selection(by="waves", unit="department:SALES"))
    assert [c.key for c in found.columns] == ["baseline", "follow-up"]
    first, second = found.columns
    assert first.changes is None and second.since is not None
    assert second.since.wave_id == "baseline"
    _, row = readiness.department_results(store, SLUG, "follow-up", "SALES")
    assert row.result is not None and second.changes == row.result.changes
    assert second.result == row.result


def test_a_unit_missing_from_a_wave_says_so_without_figures(store: Store) -> None:
    make_organisation(store, STANDARD, wave_id="baseline")
    close_wave(store, SLUG, "baseline", today=date.today())
    store.put_departments([Department(SLUG, "NEW", "New team", "Aarhus", 10)])
    make_organisation(store, {**STANDARD, "NEW": (6, 0)}, wave_id="follow-up", create=False)
    found = compare(store, SLUG, "follow-up", Selection(by="waves", unit="department:NEW"))
    first, second = found.columns
    assert (first.result, first.note) == (None, NOT_IN_WAVE)
    assert second.result is not None and second.note == ""
