"""The results overview as an Excel workbook: the CSV's rows, hidden alike, formula-safe."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from portal.domain.accounts import Role
from portal.domain.entities import Response
from portal.storage.port import Store
from tests.web.conftest import sign_in
from tests.web.test_results import SLUG, STANDARD, make_organisation, parse_csv

MakeAccount = Callable[..., object]
BASE = f"/admin/surveys/{SLUG}/waves/baseline"


def workbook_rows(client: FlaskClient, **query: str) -> list[list[str]]:
    """Download the workbook and return its cells as CSV-like text ('' for blank)."""
    response = client.get(f"{BASE}/results.xlsx", query_string=query)
    assert response.status_code == 200, response.status_code
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert response.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet is not None
    return [
        ["" if value is None else str(value) for value in row]
        for row in sheet.iter_rows(values_only=True)
    ]


def csv_rows(client: FlaskClient, **query: str) -> list[list[str]]:
    """Download the CSV and return its rows."""
    return parse_csv(client.get(f"{BASE}/results.csv", query_string=query).get_data(as_text=True))


def same(value: str) -> str | float:
    """Return a cell for comparison: numbers by value (the workbook stores 75.0 as 75)."""
    try:
        return float(value)
    except ValueError:
        return value


def padded(rows: list[list[str]], width: int) -> list[list[str | float]]:
    """Return rows padded to ``width`` cells, numbers compared by value."""
    return [[same(v) for v in row + [""] * (width - len(row))] for row in rows]


def test_the_workbook_has_exactly_the_csvs_rows_and_hidden_cells_are_blank(
    admin: FlaskClient, standard: list[Response]
) -> None:
    expected = csv_rows(admin)
    found = workbook_rows(admin)
    assert padded(found, len(expected[0])) == padded(expected, len(expected[0]))
    tiny = next(row for row in found if row[2] == "TINY")
    assert all(cell == "" for cell in tiny[4:])


def test_a_refused_filter_gives_only_the_neutral_message(
    admin: FlaskClient, standard: list[Response]
) -> None:
    expected = csv_rows(admin, site="Atlantis")
    found = workbook_rows(admin, site="Atlantis")
    assert padded(found, len(expected[0])) == padded(expected, len(expected[0]))


def test_names_never_run_as_formulas(admin: FlaskClient, store: Store) -> None:
    departments = {
        "EVIL": ("=HYPERLINK(1)", "+Aarhus", 10),
        "AT": ("@SUM(1)", "+Aarhus", 10),
        "OK": ("-minus", "+Aarhus", 10),
    }
    make_organisation(store, {"EVIL": (6, 5), "AT": (6, 5), "OK": (6, 5)}, departments=departments)
    response = admin.get(f"{BASE}/results.xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet is not None
    texts = [c for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert all(c.data_type == "s" for c in texts)
    values = {c.value for c in texts}
    assert {"'=HYPERLINK(1)", "'@SUM(1)", "'-minus", "'+Aarhus"} <= values
    assert not any(v.startswith(("=", "+", "-", "@")) for v in values)


def test_the_export_is_audited_as_xlsx(
    admin: FlaskClient, standard: list[Response], store: Store
) -> None:
    workbook_rows(admin)
    event = store.list_audit_events(limit=5).items[0]
    assert event.action == "results.export" and event.actor == "hr@example.com"
    assert event.target == f"{SLUG}/baseline" and event.detail.startswith("xlsx")


def test_a_department_viewer_gets_only_their_department(
    client: FlaskClient, make_account: MakeAccount, standard: list[Response]
) -> None:
    make_account("dv@example.com", Role.DEPARTMENT_VIEWER, departments=(f"{SLUG}/SALES",))
    sign_in(client, "dv@example.com")
    rows = workbook_rows(client)
    assert [row[2] for row in rows[1:]] == ["SALES"]
    assert padded(rows, len(rows[0])) == padded(csv_rows(client), len(rows[0]))


@pytest.fixture
def standard(store: Store) -> list[Response]:
    """Create the standard organisation with its responses."""
    return make_organisation(store, STANDARD)
