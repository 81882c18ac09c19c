"""Control characters in department names: refused on the way in, harmless on the way out.

Word pastes a vertical tab (U+000B) for a line break; once such a name was
stored, ``results.xlsx`` answered 500 for good (a workbook may not hold it).
Import and edit now refuse names and sites with control or invisible
characters, naming the line or the field; and every export writes names
already stored that way (written here straight through the store, as an older
version or another tool could have) without failing.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import date

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from portal.domain.entities import Response
from portal.domain.text import printable, unprintable_characters
from portal.services.participation import create_missing_links
from portal.services.surveys import close_wave, create_survey
from portal.storage.port import Store
from tests.web.conftest import csrf_token
from tests.web.test_results import (
    DEPARTMENTS,
    SLUG,
    STANDARD,
    departments_csv,
    make_organisation,
)

BASE = f"/admin/surveys/{SLUG}"
WAVE = f"{BASE}/waves/baseline"
#: What a spreadsheet, Word or a careless export can put in a cell.
NASTY = ["\x0b", "\x0c", "\x00", "\x1f", "\x7f", "\x85", "\t", "\n", "\r", "\u200b",
         "\u202e", "\ufeff", "\u2028", "\u2029", "\ud800"]  # fmt: skip
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x85\u200b\u202e\u2028\u2029]")


# -- the rule ------------------------------------------------------------------------------


@pytest.mark.parametrize("char", NASTY, ids=[f"U+{ord(c):04X}" for c in NASTY])
def test_every_control_or_invisible_character_is_named_and_made_printable(char: str) -> None:
    assert unprintable_characters(f"Sales{char}team") == [f"U+{ord(char):04X}"]
    cleaned = printable(f"Sales{char}team")
    assert unprintable_characters(cleaned) == []
    assert cleaned in ("Sales team", "Salesteam")


def test_ordinary_names_in_any_script_are_left_alone() -> None:
    for name in ("Sales & Marketing", "Lager – Århus", "Ventes (Bâle)", "Склад", "倉庫", "Team 🚀"):
        assert unprintable_characters(name) == [] and printable(name) == name


# -- on the way in -------------------------------------------------------------------------


def submit(client: FlaskClient, page: str, data: dict[str, object]):  # type: ignore[no-untyped-def]
    """Open ``page`` and post ``data`` to it with the page's CSRF token."""
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(page, data={"csrf_token": token, **data})


def test_an_import_with_a_vertical_tab_in_a_name_is_refused_naming_the_line(
    admin: FlaskClient, standard: list[Response], store: Store
) -> None:
    before = store.list_departments(SLUG)
    upload = (
        "code,name,site,headcount\n"
        + 'SALES,"Sales\x0bteam",Aarhus,20\nWH,Warehouse,"Ham\tburg",40\n'
    )
    response = submit(
        admin,
        f"{BASE}/departments/import",
        {"departments": (io.BytesIO(upload.encode()), "d.csv")},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Line 2: the name holds a control or invisible character (U+000B)" in page
    assert "Line 3: the site holds a control or invisible character (U+0009)" in page
    assert store.list_departments(SLUG) == before


def test_editing_a_department_refuses_a_control_character(
    admin: FlaskClient, standard: list[Response], store: Store
) -> None:
    fields = {"name": "Sales\x0bteam", "site": "Aarhus", "headcount": "20", "parent": ""}
    response = submit(admin, f"{BASE}/departments/SALES/edit", fields)
    assert response.status_code == 400
    assert "the name holds a control or invisible character (U+000B)" in response.get_data(
        as_text=True
    )
    assert {d.code: d.name for d in store.list_departments(SLUG)}["SALES"] == "Sales"
    new = {"code": "NEW", "name": "New", "site": "Aar\u200bhus", "headcount": "3", "parent": ""}
    added = submit(admin, f"{BASE}/departments/new", new)
    assert added.status_code == 400 and "U+200B" in added.get_data(as_text=True)
    assert "NEW" not in {d.code for d in store.list_departments(SLUG)}


# -- on the way out: names stored before the rule ----------------------------------------


@pytest.fixture
def stored_badly(store: Store) -> Store:
    """Give SALES a vertical tab in its name and a form feed in its site, bypassing the checks.

    The names are stored before the baseline opens, so the wave keeps them as its own.
    """
    create_survey(store, slug=SLUG, title="CRM rollout", system_name={"en": "the new CRM"},
                  today=date.today(), departments_csv=departments_csv(DEPARTMENTS))  # fmt: skip
    departments = {d.code: d for d in store.list_departments(SLUG)}
    store.put_departments(
        [
            replace(departments["SALES"], name="Sales\x0b\x00team", site="Aar\x0chus"),
            replace(departments["WH"], name="Ware\u202ehouse"),
        ]
    )
    make_organisation(store, STANDARD, create=False)
    create_missing_links(store, SLUG, "baseline", actor="test")  # for the posters
    return store


def test_the_workbook_downloads_with_the_names_made_printable(
    admin: FlaskClient, stored_badly: Store
) -> None:
    response = admin.get(f"{WAVE}/results.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet is not None
    cells = [str(v) for row in sheet.iter_rows(values_only=True) for v in row if v is not None]
    assert "Sales team" in cells and "Warehouse" in cells and "Aar hus" in cells
    assert not [c for c in cells if unprintable_characters(c)]


def test_every_csv_export_writes_the_names_made_printable(
    admin: FlaskClient, stored_badly: Store
) -> None:
    close_wave(stored_badly, SLUG, "baseline", today=date.today())  # raw export: closed only
    raw_page = admin.get(f"{WAVE}/results/raw").get_data(as_text=True)
    downloads = {
        "results": admin.get(f"{WAVE}/results.csv"),
        "participation": admin.get(f"{WAVE}/participation.csv"),
        "departments": admin.get(f"{BASE}/departments.csv"),
        "raw": admin.post(f"{WAVE}/results/raw.csv", data={"csrf_token": csrf_token(raw_page)}),
    }
    for name, response in downloads.items():
        assert response.status_code == 200, name
        body = response.get_data(as_text=True)
        assert not CONTROL.search(body.replace("\r\n", "").replace("\n", "")), name
    assert "Sales team" in downloads["results"].get_data(as_text=True)
    assert "Sales team" in downloads["participation"].get_data(as_text=True)
    assert "Sales team" in downloads["departments"].get_data(as_text=True)
    assert "Aar hus" in downloads["raw"].get_data(as_text=True)


def test_the_scorecard_pdf_and_the_pages_still_work(
    admin: FlaskClient, stored_badly: Store
) -> None:
    for page in (f"{WAVE}/results", f"{WAVE}/results/departments/SALES", f"{WAVE}/scorecard",
                 f"{WAVE}/participation", f"{BASE}/departments", f"{WAVE}/posters"):  # fmt: skip
        assert admin.get(page).status_code == 200, page
    pdf = admin.get(f"{WAVE}/scorecard.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-", "-"], input=pdf.data, capture_output=True, check=True
        ).stdout.decode()
        assert "Sales team" in text
