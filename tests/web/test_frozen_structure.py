"""A wave is decided on its departments as of its opening; later edits never change it.

Moving a department to another site after its wave closed re-decided that wave
on new site totals: the old and the new site figures together gave away a
hidden department's count and lever indices (issue 11, item 5). Here an admin
and an API token read every output of a closed wave, the departments are then
moved, renamed, resized, retired and added to, and every output must come back
byte for byte the same. Edits made while a wave is open apply to the next wave.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from portal.domain.accounts import Role
from portal.domain.entities import Department
from portal.services import readiness, surveys
from portal.services.results import refresh_snapshot
from portal.storage.port import Store
from tests.web.conftest import csrf_token, sign_in
from tests.web.test_api import token_for
from tests.web.test_results import DEPARTMENTS, SLUG, STANDARD, make_organisation

MakeAccount = Callable[..., object]
WAVE = f"/admin/surveys/{SLUG}/waves/baseline"
API = f"/api/v1/surveys/{SLUG}/waves/baseline"
#: What differs between two requests for the same page: the form's CSRF token.
VOLATILE = re.compile(rb'(name="csrf_token"[^>]*value=|<meta name="csrf-token" content=)"[^"]*"')


def edit_everything(store: Store) -> None:
    """Move, rename, resize, retire and restore departments, and add one, as HR can."""
    surveys.update_department(
        store, SLUG, "TINY", name="Tiny team", site="Aarhus", headcount=6, parent=None
    )
    surveys.update_department(
        store, SLUG, "SALES", name="Sales and service", site="Aarhus", headcount=20, parent=None
    )
    surveys.update_department(
        store, SLUG, "WH", name="Warehouse", site="Hamburg", headcount=400, parent=None
    )
    surveys.set_department_retired(store, SLUG, "OPS", retired=True)
    surveys.set_department_retired(store, SLUG, "FEW", retired=True)
    surveys.set_department_retired(store, SLUG, "FEW", retired=False)
    surveys.add_department(store, Department(SLUG, "NEW", "Newcomers", "Oslo", 9))


def outputs(
    admin: FlaskClient, api: FlaskClient, token: str, viewer: FlaskClient
) -> dict[str, bytes]:
    """Read every output of the baseline an admin, an API token and a viewer get, by address."""
    got: dict[str, bytes] = {}

    def read(client: FlaskClient, path: str, **kwargs: object) -> None:
        response = client.get(path, **kwargs)  # type: ignore[arg-type]
        path = f"viewer {path}" if client is viewer else path
        got[path] = VOLATILE.sub(rb"\1", response.get_data())
        if path.endswith(".xlsx"):  # the workbook's zip records when it was written
            sheet = load_workbook(io.BytesIO(response.get_data())).active
            assert sheet is not None
            got[path] = repr(list(sheet.iter_rows(values_only=True))).encode()
        got[path] += f" {response.status_code}".encode()

    pages = ["/results", "/results.csv", "/results/quality", "/participation", "/plan"]
    pages += ["/results.xlsx", "/scorecard.pdf"]
    pages += ["/participation.csv", "/scorecard", "/scorecard?department=*"]
    for site in ("Aarhus", "Hamburg", "Oslo"):
        pages += [f"/results?site={site}", f"/results.csv?site={site}"]
    for audience in ("employee", "manager"):
        pages += [f"/results?audience={audience}", f"/results.csv?audience={audience}"]
    for code in [*DEPARTMENTS, "NEW"]:
        pages += [f"/results/departments/{code}", f"/scorecard?department={code}"]
    for page in pages:
        read(admin, WAVE + page)
    headers = {"Authorization": f"Bearer {token}"}
    for path in ["/results", "/results?site=Aarhus", "/results?audience=manager"]:
        read(api, API + path, headers=headers)
    for code in [*DEPARTMENTS, "NEW"]:
        read(api, f"{API}/results/departments/{code}", headers=headers)
    for page in ["/results", "/results?site=Hamburg", "/results.csv", "/participation"]:
        read(viewer, WAVE + page)
    for code in DEPARTMENTS:
        read(viewer, f"{WAVE}/results/departments/{code}")
    form = csrf_token(admin.get(WAVE + "/results/raw").get_data(as_text=True))
    raw = admin.post(WAVE + "/results/raw.csv", data={"csrf_token": form})
    got["raw.csv"] = raw.get_data() + f" {raw.status_code}".encode()
    return got


@pytest.fixture
def readers(
    app: Flask, make_account: MakeAccount
) -> tuple[FlaskClient, FlaskClient, str, FlaskClient]:
    """Return an admin's client, an API client, an admin's API token and a viewer's client.

    The viewer reads every department but TINY (the one the edits move).
    """
    token = token_for(app, make_account, "api@example.com", Role.ADMIN)
    make_account("hr@example.com", Role.ADMIN)
    admin = app.test_client()
    sign_in(admin, "hr@example.com")
    scope = tuple(f"{SLUG}/{code}" for code in DEPARTMENTS if code != "TINY")
    make_account("dv@example.com", Role.DEPARTMENT_VIEWER, departments=scope)
    viewer = app.test_client()
    sign_in(viewer, "dv@example.com")
    return admin, app.test_client(), token, viewer


def test_every_output_of_a_closed_wave_is_unchanged_by_later_department_edits(
    store: Store, readers: tuple[FlaskClient, FlaskClient, str, FlaskClient]
) -> None:
    make_organisation(store, STANDARD)
    surveys.close_wave(store, SLUG, "baseline", today=date.today())
    before = outputs(*readers)
    assert b"Tiny team" in before[WAVE + "/participation"]
    assert before[f"viewer {WAVE}/results"].endswith(b" 200")
    assert before[f"{API}/results/departments/SALES"].endswith(b" 200")

    edit_everything(store)
    # A recomputed snapshot (e.g. after the closing day) must not change anything either.
    refresh_snapshot(store, SLUG, "baseline", now=readiness.current_snapshot(
        store, SLUG, "baseline").computed_at)  # fmt: skip
    after = outputs(*readers)

    changed = sorted(path for path in before if before[path] != after[path])
    assert changed == []


def test_edits_made_while_a_wave_is_open_apply_from_the_next_wave(store: Store) -> None:
    make_organisation(store, STANDARD)
    opened = readiness.wave_results(store, SLUG, "baseline")
    edit_everything(store)

    still = readiness.wave_results(store, SLUG, "baseline")
    assert still.rows == opened.rows
    assert still.department("NEW") is None
    assert set(still.disclosure.structure.departments_in("Hamburg")) >= {"TINY", "OPS"}

    surveys.close_wave(store, SLUG, "baseline", today=date.today())
    make_organisation(store, STANDARD, wave_id="follow-up", create=False, seed=2)
    following = readiness.wave_results(store, SLUG, "follow-up")
    assert following.disclosure.structure.site_of["TINY"] == "Aarhus"
    assert following.disclosure.structure.site_of["NEW"] == "Oslo"
    sales = following.department("SALES")
    assert sales is not None and sales.label == "Sales and service"


def test_a_site_whose_departments_changed_since_the_previous_wave_shows_no_change(
    store: Store,
) -> None:
    make_organisation(store, STANDARD)
    surveys.close_wave(store, SLUG, "baseline", today=date.today())
    surveys.update_department(
        store, SLUG, "MKT", name="Marketing", site="Hamburg", headcount=20, parent=None
    )
    # A department added since, with no answers in the baseline, changes no earlier group.
    surveys.add_department(store, Department(SLUG, "NEW", "Newcomers", "Aarhus", 9))
    make_organisation(store, {**STANDARD, "NEW": (6, 0)}, wave_id="follow-up", create=False,
                      seed=2)  # fmt: skip
    results = readiness.wave_results(store, SLUG, "follow-up")

    def row(kind: readiness.RowKind, key: str) -> readiness.GroupResult | None:
        return next(r.result for r in results.rows if r.kind is kind and r.key == key)

    organisation, sales = (
        row(readiness.RowKind.ORGANISATION, ""),
        row(readiness.RowKind.DEPARTMENT, "SALES"),
    )
    assert organisation is not None and organisation.changes is not None
    assert sales is not None and sales.changes is not None
    for site in ("Aarhus", "Hamburg"):
        found = row(readiness.RowKind.SITE, site)
        assert found is None or found.changes is None, site


def test_the_departments_page_says_edits_apply_from_the_next_wave(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD)
    page = admin.get(f"/admin/surveys/{SLUG}/departments").get_data(as_text=True)
    assert "apply from the next wave" in page


def test_a_department_added_while_a_wave_is_open_gets_no_link_or_code_for_it(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD)
    surveys.add_department(store, Department(SLUG, "NEW", "Newcomers", "Oslo", 9))
    base = f"/admin/surveys/{SLUG}/waves/baseline"

    def send(path: str, **fields: str) -> int:
        token = csrf_token(admin.get(base).get_data(as_text=True))
        return admin.post(path, data={"csrf_token": token, **fields}).status_code

    assert send(f"{base}/links") == 303
    assert send(f"{base}/departments/NEW/kiosk-links") == 400
    assert send(f"{base}/codes", department="NEW", count="3") in (400, 409)
    assert send(f"{base}/departments/WH/kiosk-links") == 303
    linked = {link.department_code for link in store.list_links(SLUG, "baseline")}
    assert "NEW" not in linked and {"WH", "SALES", "TINY"} <= linked
    assert "Newcomers" not in admin.get(base).get_data(as_text=True)


def test_the_forms_that_change_departments_or_open_a_wave_say_when_changes_apply(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD)
    surveys.add_wave(store, SLUG, wave_id="follow-up", name="Follow-up", today=date.today())
    edit = admin.get(f"/admin/surveys/{SLUG}/departments/SALES/edit").get_data(as_text=True)
    assert "applies from the next wave" in edit
    opening = admin.get(f"/admin/surveys/{SLUG}/waves/follow-up/open").get_data(as_text=True)
    assert "later changes apply from the next wave" in opening


def test_a_reopened_wave_keeps_the_departments_it_first_opened_with(store: Store) -> None:
    make_organisation(store, STANDARD)
    surveys.close_wave(store, SLUG, "baseline", today=date.today())
    closed = readiness.wave_results(store, SLUG, "baseline")
    edit_everything(store)
    surveys.reopen_wave(store, SLUG, "baseline", today=date.today())
    assert readiness.wave_results(store, SLUG, "baseline").rows == closed.rows
