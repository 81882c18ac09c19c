"""The "Compare side by side" page: the overview's figures, side by side, nothing more.

The page is read as a reader would: its columns' responses and whole-number
indices must be the overview's for the same groups, a hidden group a column
without a single figure (byte for byte like an empty one), the rest of the
organisation only for readers of the organisation and only next to two
published groups, and every bad choice a 400 with the form. An attacker who
reads every comparison the page offers, as in ``test_results_attacks``, can
compute no set of fewer than k people.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from html.parser import HTMLParser
from types import MappingProxyType

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.domain.anonymity import AUDIENCES, Disclosure, Group, Structure, group_count
from portal.domain.entities import Response
from portal.services.surveys import close_wave
from portal.storage.port import Store
from tests.unit.test_anonymity_attacks import small_computable_sets
from tests.web.conftest import sign_in
from tests.web.test_results import (
    QUESTIONNAIRE,
    SLUG,
    STANDARD,
    make_organisation,
    overview,
    row_numbers,
)
from tests.web.test_results_attacks import CASES

MakeAccount = Callable[..., object]
PAGE = f"/admin/surveys/{SLUG}/waves/baseline/results/compare"
K = 5


class Table(HTMLParser):
    """Reads one table of the compare page: column keys, header texts and cells per row."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.inside = False
        self.row: str | None = None
        self.cell: list[str] | None = None
        self.column: str | None = None
        self.heads: list[str] = []
        self.head: list[str] | None = None
        self.cells: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and found.get("id") == self.table_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "tr":
            self.row = found.get("id")
        elif tag == "td":
            self.cell, self.column = [], found.get("data-column")
        elif tag == "th" and found.get("scope") == "col":
            self.head = []
        elif self.cell is not None:
            self.cell.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "table":
            self.inside = False
        elif tag == "td" and self.cell is not None and self.row and self.column is not None:
            self.cells.setdefault(self.row, {})[self.column] = "".join(self.cell)
            self.cell = None
        elif tag == "th" and self.head is not None:
            self.heads.append(" ".join("".join(self.head).split()))
            self.head = None
        elif self.cell is not None:
            self.cell.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)
        if self.head is not None:
            self.head.append(data)


def table(page: str, table_id: str) -> Table:
    """Return one table of a compare page, parsed."""
    parsed = Table(table_id)
    parsed.feed(page)
    return parsed


def text(html: str) -> str:
    """Return the words of an HTML fragment."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def figures(page: str, key: str) -> list[int] | None:
    """Return a column's responses and whole-number indices, or ``None`` when it shows none.

    The same shape as ``test_results.row_numbers`` reads from the overview.
    """
    cells = table(page, "compare-index").cells
    responses = cells["compare-responses"][key]
    if 'class="no-figure"' in responses:
        return None
    indices = []
    for lever in QUESTIONNAIRE.levers:
        # A lever its own decision withholds shows no index, as on the overview.
        cell = cells[f"compare-{lever.id}"][key]
        indices += [int(x) for x in re.findall(r'<span class="heat-value">(\d+)</span>', cell)]
    return [int(text(responses)), *indices]


def get(client: FlaskClient, *pairs: tuple[str, str], wave: str = "baseline") -> str:
    """Open the compare page with the query ``pairs``; it must answer 200."""
    response = client.get(PAGE.replace("baseline", wave), query_string=list(pairs))
    assert response.status_code == 200, (pairs, response.status_code)
    return response.get_data(as_text=True)


def departments(*codes: str) -> list[tuple[str, str]]:
    return [("by", "departments"), *(("department", code) for code in codes)]


# -- getting there, and the same figures as the overview -------------------------------


def test_the_overview_links_to_the_compare_page(
    admin: FlaskClient, standard: list[Response]
) -> None:
    page = overview(admin)
    link = re.search(r'<a href="([^"]+)" id="compare-link">Compare side by side</a>', page)
    assert link and link.group(1) == PAGE
    first = get(admin)
    assert 'id="choose"' in first and "compare-index" not in first


@pytest.mark.parametrize(
    "query",
    [
        [("by", "sites"), ("site", "Aarhus"), ("site", "Hamburg")],
        departments("SALES", "MKT", "WH", "OPS", "TINY", "NONE"),
        [("by", "site"), ("of_site", "Hamburg")],
    ],
)
def test_every_column_shows_exactly_the_overviews_figures_for_its_group(
    admin: FlaskClient, standard: list[Response], query: list[tuple[str, str]]
) -> None:
    page = get(admin, *query)
    board = overview(admin)
    keys = [key for key in table(page, "compare-index").cells["compare-responses"]]
    assert keys[0] == "" and len(keys) >= 3  # the organisation first
    for key in keys:
        kind = (
            "organisation"
            if key == ""
            else "site"
            if key in ("Aarhus", "Hamburg")
            else "department"
        )
        assert figures(page, key) == row_numbers(board, kind, key), key
    # Something is shown and something hidden where the overview hides it.
    assert any(figures(page, key) is not None for key in keys[1:])


def test_a_hidden_department_is_a_column_without_a_single_figure(
    admin: FlaskClient, standard: list[Response]
) -> None:
    page = get(admin, *departments("SALES", "TINY", "NONE", "FEW"))
    index, rest = table(page, "compare-index"), table(page, "compare-rest")
    for hidden in ("TINY", "FEW"):
        for grid in (index.cells, rest.cells):
            cells = {row: by_column[hidden] for row, by_column in grid.items()}
            assert cells, hidden
            # Byte for byte the column of the department nobody answered in.
            assert cells == {row: by_column["NONE"] for row, by_column in grid.items()}
            assert not any(re.search(r"\d", text(cell)) for cell in cells.values()), cells
    assert all(text(c) == "not shown" for row in rest.cells.values() for c in (row["TINY"],))
    assert figures(page, "SALES") is not None


def test_the_difference_from_the_rest_is_named_in_words_with_its_interval(
    admin: FlaskClient, standard: list[Response]
) -> None:
    page = get(admin, *departments("SALES", "WH"))
    assert "rest of the organisation" in page
    assert "everyone in the organisation who is not in that group" in page
    rest = table(page, "compare-rest")
    words = {"clearly higher", "clearly lower", "no clear difference", "too few responses to tell"}
    for lever in QUESTIONNAIRE.levers:
        for code in ("SALES", "WH"):
            cell = text(rest.cells[f"rest-{lever.id}"][code])
            match = re.fullmatch(r"([+-]\d+\.\d) ([+-]\d+\.\d) to ([+-]\d+\.\d) (.+)", cell)
            assert match, cell
            difference, low, high = (float(match.group(i)) for i in (1, 2, 3))
            assert low <= difference <= high and match.group(4) in words


# -- readers and their limits ----------------------------------------------------------


def test_a_department_viewer_gets_no_rest_of_the_organisation_and_no_other_department(
    client: FlaskClient, make_account: MakeAccount, standard: list[Response]
) -> None:
    make_account("dv@example.com", Role.DEPARTMENT_VIEWER,
                 departments=(f"{SLUG}/SALES", f"{SLUG}/WH"))  # fmt: skip
    sign_in(client, "dv@example.com")
    page = get(client, *departments("SALES", "WH"))
    assert "compare-rest" not in page and 'id="rest-not-shown"' in page
    assert list(table(page, "compare-index").cells["compare-responses"]) == ["SALES", "WH"]
    assert 'value="MKT"' not in page and 'name="site"' not in page
    assert 'value="organisation"' not in page
    for refused in (
        departments("SALES", "MKT"),
        [("by", "sites"), ("site", "Aarhus")],
        [("by", "site"), ("of_site", "Aarhus")],
        [("by", "waves"), ("unit", "organisation")],
        [("by", "waves"), ("unit", "site:Aarhus")],
    ):
        response = client.get(PAGE, query_string=refused)
        assert response.status_code == 400, refused
        body = response.get_data(as_text=True)
        assert 'id="problem"' in body and "compare-index" not in body
        assert "heat-value" not in body


@pytest.mark.parametrize(
    "query",
    [
        [("by", "teams")],
        [("by", "departments")],
        departments("SALES", "MKT", "WH", "OPS", "TINY", "NONE", "FEW"),
        departments("SALES", "<script>"),
        [("by", "sites"), ("site", "Oslo")],
        [("by", "site")],
        [("by", "waves"), ("unit", "department")],
        [("by", "waves"), ("unit", "organisation"), ("wave", "nope")],
    ],
)
def test_a_choice_that_cannot_be_made_answers_400_with_the_form_and_what_to_change(
    admin: FlaskClient, standard: list[Response], query: list[tuple[str, str]]
) -> None:
    response = admin.get(PAGE, query_string=query)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert re.search(r'<p class="notice" role="alert" id="problem">Choose [^<]+</p>', body)
    assert 'name="department"' in body and "compare-index" not in body
    assert "<script>" not in body.split('id="problem"')[1].split("</main>")[0]


def test_an_unknown_wave_is_404_and_a_reader_of_another_survey_403(
    client: FlaskClient, make_account: MakeAccount, standard: list[Response]
) -> None:
    make_account("other@example.com", Role.DEPARTMENT_VIEWER, departments=("other/SALES",))
    sign_in(client, "other@example.com")
    assert client.get(PAGE).status_code == 403
    make_account("hr@example.com", Role.ADMIN)
    admin = client.application.test_client()
    sign_in(admin, "hr@example.com")
    assert admin.get(PAGE.replace("baseline", "nope")).status_code == 404


# -- without JavaScript, for keyboards and screen readers -------------------------------


def test_the_page_is_a_get_form_with_labelled_controls_and_headed_tables(
    admin: FlaskClient, standard: list[Response]
) -> None:
    page = get(admin, *departments("SALES", "WH"))
    main = page[page.index("<main") : page.index("</main>")]
    forms = re.findall(r"<form [^>]*>", main)
    assert len(forms) == 4 and all('method="get"' in f for f in forms)
    assert "<script" not in main and " style=" not in main
    # Every checkbox sits in its label; every select has a label; every fieldset a legend.
    assert main.count('type="checkbox"') == len(
        re.findall(r'<label class="choice"><input type="checkbox"', main)
    )
    for select in re.findall(r'<select id="([^"]+)"', main):
        assert f'<label for="{select}">' in main
    assert main.count("<fieldset>") == main.count("<legend>")
    # The ticked departments stay ticked; both tables name their columns and rows.
    assert main.count("checked>") == 2
    for table_id in ("compare-index", "compare-rest"):
        parsed = table(page, table_id)
        assert parsed.heads[0] == "Lever" and len(parsed.heads) > 2
    assert main.count('<th scope="row">') >= 2 * len(QUESTIONNAIRE.levers)


# -- waves ----------------------------------------------------------------------------


@pytest.fixture
def two_waves(store: Store) -> None:
    make_organisation(store, STANDARD, wave_id="baseline", bias=-1)
    close_wave(store, SLUG, "baseline", today=date.today())
    make_organisation(store, STANDARD, wave_id="follow-up", create=False, seed=2, bias=1)


def trend_words(department_page: str) -> list[str]:
    """Return the trend column of a department page's lever table, in lever order."""
    return [text(w) for w in re.findall(r'<td class="trend">(.*?)</td>', department_page, re.S)]


@pytest.mark.usefixtures("two_waves")
@pytest.mark.parametrize("code", ["SALES", "WH", "OPS"])
def test_the_waves_trend_words_are_the_department_pages(admin: FlaskClient, code: str) -> None:
    page = get(admin, ("by", "waves"), ("unit", f"department:{code}"), wave="follow-up")
    changes = table(page, "compare-changes")
    assert changes.heads[1:] == ["Baseline", "Follow-Up since Baseline"]
    shown = [text(changes.cells[f"change-{lv.id}"]["follow-up"]) for lv in QUESTIONNAIRE.levers]
    assert [text(changes.cells[f"change-{lv.id}"]["baseline"]) for lv in QUESTIONNAIRE.levers] == [
        "–"
    ] * len(QUESTIONNAIRE.levers)
    department = admin.get(f"/admin/surveys/{SLUG}/waves/follow-up/results/departments/{code}")
    words = trend_words(department.get_data(as_text=True))
    assert len(words) == len(QUESTIONNAIRE.levers)
    for cell, word in zip(shown, words, strict=True):
        assert cell.endswith(word.split(" (")[0]), (cell, word)
    # Each wave's figures are that wave's overview's.
    for wave in ("baseline", "follow-up"):
        board = admin.get(f"/admin/surveys/{SLUG}/waves/{wave}/results").get_data(as_text=True)
        assert figures(page, wave) == row_numbers(board, "department", code)


# -- the attack: everything the page offers, collected ------------------------------------


def chunks(codes: Iterable[str], size: int) -> Iterable[list[str]]:
    listed = sorted(codes)
    return (listed[i : i + size] for i in range(0, len(listed), size))


@pytest.mark.parametrize(("site_of", "cells"), CASES[:14])
def test_nothing_the_comparisons_show_exposes_a_small_group(
    app: Flask,
    make_account: MakeAccount,
    site_of: Mapping[str, str],
    cells: dict[str, tuple[int, int]],
) -> None:
    departments_of = {code: (f"Dept {code}", site, 10) for code, site in site_of.items()}
    make_organisation(app.extensions["portal.store"], cells, departments=departments_of)
    make_account("viewer@example.com", Role.VIEWER)
    reader = app.test_client()
    sign_in(reader, "viewer@example.com")
    structure = Structure(site_of)
    counts = {(d, a): cells[d][i] for d in site_of for i, a in enumerate(AUDIENCES)}

    pages = [get(reader, *departments(*chunk)) for chunk in chunks(site_of, 3)]
    pages.append(get(reader, ("by", "sites"), *(("site", s) for s in structure.sites)))
    pages += [get(reader, ("by", "site"), ("of_site", s)) for s in structure.sites]
    published: dict[Group, int] = {}
    for page in pages:
        index = table(page, "compare-index").cells
        rest = table(page, "compare-rest").cells
        for key in index["compare-responses"]:
            group = (
                Group()
                if key == ""
                else Group(site=key)
                if key in structure.sites
                else Group(department=key)
            )
            shown = figures(page, key)
            differences = [row[key] for row in rest.values() if key in row]
            if shown is None:
                assert not any(re.search(r"\d", text(c)) for c in differences), key
                continue
            published[group] = shown[0]
            if any(text(c) != "not shown" for c in differences):
                # A difference from the rest needs the organisation published beside it.
                assert figures(page, "") is not None, key
                published[Group()] = figures(page, "")[0]  # type: ignore[index]
    for group, shown in published.items():
        true = group_count(structure, counts, group)
        assert true >= K and shown == true, (group, true, shown)
    decision = Disclosure(
        structure, K, MappingProxyType({g: group_count(structure, counts, g) for g in published})
    )
    # "Organisation − group" is in the span of what is published: nothing small follows.
    assert small_computable_sets(decision, counts) == []
