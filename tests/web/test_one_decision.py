"""One decision per published state: every output together reveals nothing beyond it.

The attacker reads, from one state of a wave, everything a full reader gets —
the results overview with every filter, every department page, the results
CSV and workbook, the printable scorecard, the participation page and its CSV,
and the API
— and collects every group whose count appears. Those groups must be exactly
groups the results' own decision (``anonymity.disclose`` on the snapshot
counts) publishes, with the same counts, and solving the attacker's linear
system exactly (rational elimination over the leaf cells) must give no set of
1 to k − 1 people. The demo's follow-up wave was the first failure: its
participation showed Finance 9 while the results hid Finance to protect People
and culture (Site Aarhus 42 − 13 − 16 − 9 = 4).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from types import MappingProxyType

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.domain.anonymity import AUDIENCES, Disclosure, Group, Structure, disclose, group_count
from tests.unit.test_anonymity_attacks import small_computable_sets
from tests.web.conftest import sign_in
from tests.web.test_admin_distribution import cells, total_cells
from tests.web.test_api import api, collect, token_for
from tests.web.test_results import SLUG, make_organisation
from tests.web.test_results_attacks import CASES, Attacker, Cells, K, get, read_everything
from tests.web.test_results_xlsx import workbook_rows

#: The demo's follow-up wave in Aarhus: Finance 9 is hidden to protect People and culture's 4.
AARHUS: tuple[dict[str, str], Cells] = (
    {"CS": "Aarhus", "SALES": "Aarhus", "FIN": "Aarhus", "PC": "Aarhus", "WH": "Hamburg",
     "FIELD": "Hamburg"},
    {"CS": (10, 3), "SALES": (12, 4), "FIN": (7, 2), "PC": (3, 1), "WH": (20, 6),
     "FIELD": (9, 3)},
)  # fmt: skip
ALL_CASES = [pytest.param(*AARHUS, id="demo-follow-up"), *CASES[:15]]
#: The demo's planned headcounts: the department hidden to protect another is the one
#: planned smallest (Finance), never chosen by answers; other cases plan 30 each.
PLANNED = {"CS": 38, "SALES": 46, "FIN": 18, "PC": 7, "WH": 64, "FIELD": 30}


def planned(code: str) -> int:
    """Return the planned headcount of a department of these cases."""
    return PLANNED.get(code, 30)


def read_participation(attacker: Attacker, client: FlaskClient, structure: Structure) -> None:
    """Collect every count the participation page and its CSV show."""
    page = get(client, "participation")
    for code in structure.departments:
        shown = cells(page, code)[3]
        if shown.isdigit():  # anything else ("not shown") holds no number
            attacker.saw(Group(department=code), int(shown))
    total = total_cells(page)[3]
    if total.isdigit():
        attacker.saw(Group(), int(total))
    text = get(client, "participation.csv").lstrip("\ufeff")
    for line in list(csv.reader(io.StringIO(text)))[1:]:
        group = Group() if line[0] == "TOTAL" else Group(department=line[0])
        if line[5].isdigit():
            attacker.saw(group, int(line[5]))


def read_workbook(attacker: Attacker, client: FlaskClient) -> None:
    """Collect every count the results workbook (XLSX) shows, per audience filter."""
    for audience in (None, *AUDIENCES):
        query = {"audience": audience.value} if audience else {}
        rows = workbook_rows(client, **query)
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        attacker.read_csv(out.getvalue(), audience)


def read_api(attacker: Attacker, app: Flask, secret: str, structure: Structure) -> None:
    """Collect every count the API's results and department endpoints publish."""
    seen: dict[Group, int] = {}
    base = f"/api/v1/surveys/{SLUG}/waves/baseline/results"
    for audience in (None, *AUDIENCES):
        query = {"audience": audience.value} if audience else {}
        response = api(app, base, secret, **query)
        if response.status_code == 200:
            collect(response.get_json(), audience, seen)
    for code in structure.departments:
        collect(api(app, f"{base}/departments/{code}", secret).get_json(), None, seen)
    for group, count in seen.items():
        attacker.saw(group, None if count == -1 else count)


@pytest.fixture
def admin_reader(app: Flask, make_account: Callable[..., object]) -> FlaskClient:
    """Return a client signed in as an admin (reads everything, participation included)."""
    make_account("admin@example.com", Role.ADMIN)
    client = app.test_client()
    sign_in(client, "admin@example.com")
    return client


@pytest.mark.parametrize(("site_of", "cells_of"), ALL_CASES)
def test_every_output_of_one_state_together_reveals_nothing_beyond_its_decision(
    app: Flask,
    admin_reader: FlaskClient,
    make_account: Callable[..., object],
    site_of: Mapping[str, str],
    cells_of: Cells,
) -> None:
    departments = {code: (f"Dept {code}", site, planned(code)) for code, site in site_of.items()}
    make_organisation(app.extensions["portal.store"], cells_of, departments=departments)
    structure = Structure(site_of, {code: planned(code) for code in site_of})
    counts = {(d, a): cells_of[d][i] for d in site_of for i, a in enumerate(AUDIENCES)}
    decision = disclose(structure, counts, K)

    attacker = read_everything(admin_reader, structure)
    read_participation(attacker, admin_reader, structure)
    read_workbook(attacker, admin_reader)
    secret = token_for(app, make_account, "api@example.com", Role.VIEWER)
    read_api(attacker, app, secret, structure)

    for group, shown in attacker.published.items():
        assert decision.visible(group), f"{group} is shown, but the decision hides it"
        assert shown is None or shown == decision.count(group), group
    published = Disclosure(
        structure,
        K,
        MappingProxyType({g: group_count(structure, counts, g) for g in attacker.published}),
    )
    assert small_computable_sets(published, counts) == []


def test_participation_shows_a_department_exactly_where_the_results_do(
    app: Flask, admin_reader: FlaskClient
) -> None:
    site_of, cells_of = AARHUS
    departments = {code: (f"Dept {code}", site, planned(code)) for code, site in site_of.items()}
    make_organisation(app.extensions["portal.store"], cells_of, departments=departments)
    page = get(admin_reader, "participation")
    # Finance's 9 would give People and culture's 4 away by subtraction from Aarhus.
    assert cells(page, "FIN")[3] == "not shown" and cells(page, "PC")[3] == "not shown"
    assert cells(page, "CS")[3] == "13" and cells(page, "SALES")[3] == "16"
    assert row_text(page, "FIN") == row_text(page, "PC").replace("PC", "FIN")
    results = get(admin_reader, "results/departments/FIN")
    assert "Not enough responses to show results" in results


def row_text(page: str, code: str) -> str:
    """Return a department's participation row without its figures that may differ."""
    return " ".join(cells(page, code)[3:])
