"""Admin pages for surveys, waves and departments, driven through the real forms."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from portal.app import create_app
from portal.domain.accounts import AuditEvent, Role
from portal.domain.entities import Thresholds, WaveKind, WaveStatus
from portal.services.surveys import (
    add_wave,
    close_wave,
    create_survey,
    import_departments,
    open_wave,
    set_department_retired,
)
from portal.storage.port import Store
from portal.storage.sqlite import SqliteStore
from tests.web.conftest import csrf_token, sign_in

SLUG = "crm-rollout"
BASE = f"/admin/surveys/{SLUG}"
CSV = (
    "code,name,site,headcount,parent\n"
    "HQ,Headquarters,Aarhus,10,\n"
    "SALES,Sales,Aarhus,12,HQ\n"
    "WH,Warehouse,Hamburg,40,HQ\n"
)


def store_of(app: Flask) -> Store:
    """Return the app's store."""
    store: Store = app.extensions["portal.store"]
    return store


def audit_events(app: Flask, action: str) -> list[AuditEvent]:
    """Return the audit events with ``action``, newest first."""
    return [e for e in store_of(app).list_audit_events(limit=200).items if e.action == action]


def submit(
    client: FlaskClient, page: str, data: dict[str, Any], *, to: str | None = None
) -> TestResponse:
    """Open ``page``, then post ``data`` with the page's CSRF token to ``to`` (or ``page``)."""
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(to or page, data={"csrf_token": token, **data})


def text(response: TestResponse) -> str:
    """Return a response's body as text."""
    return response.get_data(as_text=True)


def make_survey(app: Flask, csv: str | None = CSV) -> None:
    """Create the survey (with departments) straight through the service."""
    create_survey(
        store_of(app),
        slug=SLUG,
        title="CRM rollout",
        system_name={"en": "the new CRM", "da": "det nye CRM"},
        today=date.today(),
        departments_csv=csv,
    )


@pytest.fixture
def admin(client: FlaskClient, make_account) -> FlaskClient:  # type: ignore[no-untyped-def]
    """Return the client signed in as an admin."""
    make_account()
    assert sign_in(client).status_code == 302
    return client


def survey_fields(**overrides: Any) -> dict[str, Any]:
    """Return a complete, valid new-survey form."""
    fields: dict[str, Any] = {
        "slug": SLUG,
        "title": "CRM rollout",
        "questionnaire": "change-readiness",
        "languages": ["en", "da"],
        "system_en": "the new CRM",
        "system_da": "det nye CRM",
        "min_group_size": "5",
        "min_comment_group_size": "10",
    }
    fields.update(overrides)
    return fields


# -- creating a survey -----------------------------------------------------------------


def test_an_admin_creates_a_survey_with_departments_from_an_uploaded_csv(
    app: Flask, admin: FlaskClient
) -> None:
    upload = ("\ufeff" + CSV.replace(",", ";")).encode()  # Excel: BOM and semicolons
    response = submit(
        admin,
        "/admin/surveys/new",
        survey_fields(min_group_size="6", departments=(io.BytesIO(upload), "d.csv")),
    )
    assert response.status_code == 302 and response.headers["Location"] == BASE
    survey = store_of(app).get_survey(SLUG)
    assert survey.thresholds == Thresholds(6, 10)
    assert survey.languages == ("en", "da") and survey.system_in("da") == "det nye CRM"
    departments = store_of(app).list_departments(SLUG)
    assert [(d.code, d.parent) for d in departments] == [
        ("HQ", None),
        ("SALES", "HQ"),
        ("WH", "HQ"),
    ]
    [event] = audit_events(app, "survey.create")
    assert event.actor == "hr@example.com" and event.target == SLUG
    assert "thresholds 6/10" in event.detail
    page = text(admin.get(BASE))
    assert "The survey “CRM rollout” is created." in page
    assert "3 active departments" in page and "62 people in all" in page


def test_a_bad_departments_file_stores_nothing_and_keeps_the_other_fields_filled(
    app: Flask, admin: FlaskClient
) -> None:
    bad = CSV + "IT,IT,Aarhus,many,\nOPS,,Oslo,3,\n"
    response = submit(
        admin,
        "/admin/surveys/new",
        survey_fields(title="Keep me", departments=(io.BytesIO(bad.encode()), "d.csv")),
    )
    assert response.status_code == 400
    page = text(response)
    assert "Nothing was saved: 2 problem(s) in the departments file." in page
    assert "Line 5: headcount &#39;many&#39; is not a whole number." in page
    assert "Line 6: name must not be empty." in page
    assert 'value="Keep me"' in page and f'value="{SLUG}"' in page
    assert 'value="det nye CRM"' in page
    assert store_of(app).list_surveys() == []
    assert audit_events(app, "survey.create") == []


def test_a_departments_file_names_the_line_with_the_problem(app: Flask, admin: FlaskClient) -> None:
    bad = "code,name,site,headcount\nSALES,Sales,Aarhus,12\nSALES,Sales again,Aarhus,3\n"
    response = submit(
        admin,
        "/admin/surveys/new",
        survey_fields(departments=(io.BytesIO(bad.encode()), "d.csv")),
    )
    assert response.status_code == 400
    assert "Line 3: code &#39;SALES&#39; is already used on line 2." in text(response)
    assert store_of(app).list_surveys() == []


def test_a_departments_file_that_is_not_utf8_is_refused_with_advice(
    app: Flask, admin: FlaskClient
) -> None:
    latin1 = "code,name,site,headcount\nLAGER,Lager,Købehavn,4\n".encode("latin-1")
    response = submit(
        admin,
        "/admin/surveys/new",
        survey_fields(departments=(io.BytesIO(latin1), "d.csv")),
    )
    assert response.status_code == 400
    assert "save it as “CSV UTF-8”" in text(response)
    assert store_of(app).list_surveys() == []


@pytest.mark.parametrize(
    ("numbers", "comments", "message"),
    [
        ("2", "10", "Use a whole number from 3 to 1000: results for smaller groups"),
        ("5", "4", "Use a whole number from 5 to 1000: a comment gives its author away"),
        ("8", "6", "Use at least the minimum group size for numbers (8)"),
        ("", "10", "Give a whole number."),
    ],
)
def test_thresholds_below_the_anonymity_floors_are_refused_with_the_reason(
    app: Flask, admin: FlaskClient, numbers: str, comments: str, message: str
) -> None:
    response = submit(
        admin,
        "/admin/surveys/new",
        survey_fields(min_group_size=numbers, min_comment_group_size=comments),
    )
    assert response.status_code == 400
    assert message in text(response)
    assert store_of(app).list_surveys() == []


def test_the_new_survey_form_starts_from_the_configured_thresholds(
    sqlite_store: SqliteStore, make_account
) -> None:  # type: ignore[no-untyped-def]
    settings = {"env": "testing", "secret_key": "t" * 40}
    app = create_app(
        {**settings, "min_group_size": 7, "min_comment_group_size": 12}, store=sqlite_store
    )
    client = app.test_client()
    make_account()  # on the same SQLite store
    sign_in(client)
    page = text(client.get("/admin/surveys/new"))
    assert re.search(r'id="min_group_size"[^>]*value="7"', page)
    assert re.search(r'id="min_comment_group_size"[^>]*value="12"', page)


def test_the_system_must_be_named_in_the_default_language(app: Flask, admin: FlaskClient) -> None:
    response = submit(admin, "/admin/surveys/new", survey_fields(system_en=""))
    assert response.status_code == 400
    assert "Name the system in English, the survey&#39;s default language" in text(response)
    assert store_of(app).list_surveys() == []


def test_a_survey_in_danish_only_is_named_in_danish(app: Flask, admin: FlaskClient) -> None:
    response = submit(admin, "/admin/surveys/new", survey_fields(languages=["da"], system_en=""))
    assert response.status_code == 302
    survey = store_of(app).get_survey(SLUG)
    assert survey.languages == ("da",) and survey.default_language == "da"
    assert dict(survey.system_name) == {"da": "det nye CRM"}


def test_a_survey_needs_at_least_one_language(app: Flask, admin: FlaskClient) -> None:
    fields = survey_fields()
    del fields["languages"]
    response = submit(admin, "/admin/surveys/new", fields)
    assert response.status_code == 400
    assert "Choose at least one language." in text(response)


def test_a_taken_slug_is_refused_on_the_field(app: Flask, admin: FlaskClient) -> None:
    make_survey(app)
    response = submit(admin, "/admin/surveys/new", survey_fields(title="Another"))
    assert response.status_code == 400
    assert "A survey with this slug exists already." in text(response)
    assert store_of(app).get_survey(SLUG).title == "CRM rollout"


def test_the_word_new_cannot_be_a_slug_because_it_names_the_form(
    app: Flask, admin: FlaskClient
) -> None:
    response = submit(admin, "/admin/surveys/new", survey_fields(slug="new"))
    assert response.status_code == 400
    assert "This word is reserved" in text(response)


# -- the survey page and its waves --------------------------------------------------------


def test_the_survey_page_shows_settings_waves_and_departments(
    app: Flask, admin: FlaskClient
) -> None:
    make_survey(app)
    add_wave(store_of(app), SLUG, wave_id="baseline", name="Baseline", today=date.today())
    page = text(admin.get(BASE))
    assert "<h1>CRM rollout</h1>" in page
    assert "the new CRM" in page and "det nye CRM" in page
    assert "change-readiness, version 1" in page
    assert "5 people for numbers, 10 for comments" in page
    assert '<th scope="col">Wave</th>' in page and "Baseline" in page
    assert f'href="{BASE}/waves/baseline/open"' in page
    assert "3 active departments" in page and f'href="{BASE}/departments"' in page
    distribution = "admin_distribution.wave" in app.view_functions
    assert ("Links and posters" in page) is distribution


def test_adding_waves_makes_a_baseline_then_follow_ups(app: Flask, admin: FlaskClient) -> None:
    make_survey(app)
    first = submit(admin, BASE, {"wave_id": "baseline", "name": "Baseline"}, to=f"{BASE}/waves")
    later = (date.today() + timedelta(days=30)).isoformat()
    second = submit(
        admin,
        BASE,
        {"wave_id": "follow-up-1", "name": "Follow-up", "planned_close": later},
        to=f"{BASE}/waves",
    )
    assert first.status_code == second.status_code == 302
    waves = store_of(app).list_waves(SLUG)
    assert [(w.wave_id, w.kind) for w in waves] == [
        ("baseline", WaveKind.BASELINE),
        ("follow-up-1", WaveKind.FOLLOW_UP),
    ]
    assert waves[1].planned_close == date.fromisoformat(later)
    assert sorted(e.target for e in audit_events(app, "wave.create")) == [
        f"{SLUG}/baseline",
        f"{SLUG}/follow-up-1",
    ]


def test_a_wave_with_a_taken_id_or_a_past_closing_date_is_refused(
    app: Flask, admin: FlaskClient
) -> None:
    make_survey(app)
    add_wave(store_of(app), SLUG, wave_id="baseline", name="Baseline", today=date.today())
    taken = submit(admin, BASE, {"wave_id": "baseline", "name": "Again"}, to=f"{BASE}/waves")
    assert taken.status_code == 400
    assert "This survey has a wave with this id." in text(taken)
    past = (date.today() - timedelta(days=1)).isoformat()
    late = submit(
        admin, BASE, {"wave_id": "w2", "name": "Late", "planned_close": past}, to=f"{BASE}/waves"
    )
    assert late.status_code == 400
    assert "The planned closing date must not be in the past." in text(late)
    assert len(store_of(app).list_waves(SLUG)) == 1


def test_opening_a_wave_is_confirmed_locks_thresholds_and_gives_departments_links(
    app: Flask, admin: FlaskClient
) -> None:
    make_survey(app)
    add_wave(store_of(app), SLUG, wave_id="baseline", name="Baseline", today=date.today())
    confirm = admin.get(f"{BASE}/waves/baseline/open")
    page = text(confirm)
    assert confirm.status_code == 200
    assert "at least <strong>5</strong> people" in page
    assert "at least <strong>10</strong> people" in page
    assert "change-readiness, version 1" in page
    assert "Each of the 3 active departments gets its own survey link" in page
    assert (
        store_of(app).get_wave(SLUG, "baseline").status is WaveStatus.DRAFT
    )  # GET changes nothing

    response = submit(admin, f"{BASE}/waves/baseline/open", {})
    assert response.status_code == 302
    wave = store_of(app).get_wave(SLUG, "baseline")
    assert wave.status is WaveStatus.OPEN and wave.thresholds == Thresholds(5, 10)
    links = store_of(app).list_links(SLUG, "baseline")
    assert sorted(x.department_code for x in links) == ["HQ", "SALES", "WH"]
    [event] = audit_events(app, "wave.open")
    assert event.target == f"{SLUG}/baseline" and "3 link(s)" in event.detail


def test_opening_a_wave_that_is_open_already_is_a_conflict(app: Flask, admin: FlaskClient) -> None:
    make_survey(app)
    add_wave(store_of(app), SLUG, wave_id="baseline", name="Baseline", today=date.today())
    page = admin.get(f"{BASE}/waves/baseline/open").get_data(as_text=True)
    open_wave(store_of(app), SLUG, "baseline", today=date.today())  # someone else was quicker
    response = admin.post(f"{BASE}/waves/baseline/open", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 409
    assert admin.get(f"{BASE}/waves/baseline/open").status_code == 409
    assert audit_events(app, "wave.open") == []


def test_closing_a_wave_needs_a_csrf_token_and_is_logged(app: Flask, admin: FlaskClient) -> None:
    make_survey(app)
    add_wave(store_of(app), SLUG, wave_id="baseline", name="Baseline", today=date.today())
    open_wave(store_of(app), SLUG, "baseline", today=date.today())
    assert admin.post(f"{BASE}/waves/baseline/close").status_code == 400
    assert store_of(app).get_wave(SLUG, "baseline").status is WaveStatus.OPEN
    response = submit(admin, BASE, {}, to=f"{BASE}/waves/baseline/close")
    assert response.status_code == 302
    wave = store_of(app).get_wave(SLUG, "baseline")
    assert wave.status is WaveStatus.CLOSED and wave.closed_on == date.today()
    assert [e.target for e in audit_events(app, "wave.close")] == [f"{SLUG}/baseline"]
    assert f'href="{BASE}/waves/baseline/reopen"' in text(admin.get(BASE))


def test_reopening_a_wave_needs_a_reason_and_logs_it(app: Flask, admin: FlaskClient) -> None:
    make_survey(app)
    add_wave(store_of(app), SLUG, wave_id="baseline", name="Baseline", today=date.today())
    opened = open_wave(store_of(app), SLUG, "baseline", today=date.today())
    close_wave(store_of(app), SLUG, "baseline", today=date.today())
    url = f"{BASE}/waves/baseline/reopen"

    confirm = text(admin.get(url))
    assert "your reason is kept in the audit log" in confirm
    no_reason = submit(admin, url, {"reason": "   "})
    assert no_reason.status_code == 400
    assert "Say why the wave is reopened" in text(no_reason)
    assert store_of(app).get_wave(SLUG, "baseline").status is WaveStatus.CLOSED
    assert audit_events(app, "wave.reopen") == []

    reason = "The night shift in Hamburg could not answer in time."
    assert submit(admin, url, {"reason": reason}).status_code == 302
    wave = store_of(app).get_wave(SLUG, "baseline")
    assert wave.status is WaveStatus.OPEN and wave.closed_on is None
    assert wave.opened_on == opened.opened_on and wave.thresholds == opened.thresholds
    [event] = audit_events(app, "wave.reopen")
    assert event.detail == reason and event.actor == "hr@example.com"
    assert event.target == f"{SLUG}/baseline"


def test_reopening_a_wave_that_is_not_closed_is_a_conflict(app: Flask, admin: FlaskClient) -> None:
    make_survey(app)
    add_wave(store_of(app), SLUG, wave_id="baseline", name="Baseline", today=date.today())
    open_wave(store_of(app), SLUG, "baseline", today=date.today())
    assert admin.get(f"{BASE}/waves/baseline/reopen").status_code == 409
    response = submit(admin, BASE, {"reason": "Just because."}, to=f"{BASE}/waves/baseline/reopen")
    assert response.status_code == 409
    assert audit_events(app, "wave.reopen") == []


# -- departments -----------------------------------------------------------------


def test_an_admin_adds_a_department_under_an_existing_parent(
    app: Flask, admin: FlaskClient
) -> None:
    make_survey(app)
    url = f"{BASE}/departments/new"
    fields = {"code": "IT", "name": "IT", "site": "Oslo", "headcount": "8", "parent": "HQ"}
    assert submit(admin, url, fields).status_code == 302
    added = {d.code: d for d in store_of(app).list_departments(SLUG)}["IT"]
    assert (added.site, added.headcount, added.parent) == ("Oslo", 8, "HQ")
    assert [e.target for e in audit_events(app, "department.create")] == [f"{SLUG}/IT"]

    again = submit(admin, url, fields)
    assert again.status_code == 400
    assert "This survey has a department with this code." in text(again)
    orphan = submit(admin, url, {**fields, "code": "HR", "parent": "NOPE"})
    assert orphan.status_code == 400
    assert "there is no department &#39;NOPE&#39; in this survey" in text(orphan)
    assert len(store_of(app).list_departments(SLUG)) == 4


def test_editing_a_department_keeps_its_code_and_logs_what_changed(
    app: Flask, admin: FlaskClient
) -> None:
    make_survey(app)
    url = f"{BASE}/departments/SALES/edit"
    form = text(admin.get(url))
    assert 'value="Sales"' in form and 'name="code"' not in form
    fields = {"code": "HACK", "name": "Sales DK", "site": "Aarhus", "headcount": "14", "parent": ""}
    assert submit(admin, url, fields).status_code == 302
    departments = {d.code: d for d in store_of(app).list_departments(SLUG)}
    assert "HACK" not in departments
    assert (departments["SALES"].name, departments["SALES"].headcount) == ("Sales DK", 14)
    assert departments["SALES"].parent is None
    [event] = audit_events(app, "department.update")
    assert event.detail == "name 'Sales' -> 'Sales DK'; headcount 12 -> 14; parent 'HQ' -> None"


def test_a_department_cannot_become_its_own_ancestor(app: Flask, admin: FlaskClient) -> None:
    make_survey(app)
    fields = {"name": "Headquarters", "site": "Aarhus", "headcount": "10", "parent": "SALES"}
    response = submit(admin, f"{BASE}/departments/HQ/edit", fields)
    assert response.status_code == 400
    assert "the parents would form a loop" in text(response)
    hq = {d.code: d for d in store_of(app).list_departments(SLUG)}["HQ"]
    assert hq.parent is None


def test_retiring_and_restoring_a_department_is_logged(app: Flask, admin: FlaskClient) -> None:
    make_survey(app)
    listing = f"{BASE}/departments"
    assert submit(admin, listing, {}, to=f"{BASE}/departments/WH/retire").status_code == 302
    assert {d.code: d for d in store_of(app).list_departments(SLUG)}["WH"].retired
    page = text(admin.get(listing))
    assert "retired" in page and f'action="{BASE}/departments/WH/restore"' in page
    assert "2 active departments" in text(admin.get(BASE))
    assert submit(admin, listing, {}, to=f"{BASE}/departments/WH/restore").status_code == 302
    assert not {d.code: d for d in store_of(app).list_departments(SLUG)}["WH"].retired
    assert [e.target for e in audit_events(app, "department.retire")] == [f"{SLUG}/WH"]
    assert [e.target for e in audit_events(app, "department.restore")] == [f"{SLUG}/WH"]
    assert admin.post(f"{BASE}/departments/WH/retire").status_code == 400  # no CSRF token


def test_importing_departments_adds_new_codes_and_updates_known_ones(
    app: Flask, admin: FlaskClient
) -> None:
    make_survey(app, csv=None)
    start = "code,name,site,headcount\n" + "".join(f"D{n},Old {n},Oslo,5\n" for n in range(1, 7))
    import_departments(store_of(app), SLUG, start)
    rows = ["code,name,site,headcount,parent"]
    rows += [f"D{n},New {n},Oslo,5," for n in range(1, 6)]  # five updated, D6 left alone
    rows += ["N1,Added 1,Bergen,3,", "N2,Added 2,Bergen,3,N1", "N3,Added 3,Bergen,3,N1"]
    upload = ("\n".join(rows) + "\n").encode()
    response = submit(
        admin,
        f"{BASE}/departments/import",
        {"departments": (io.BytesIO(upload), "d.csv")},
    )
    assert response.status_code == 302
    page = text(admin.get(response.headers["Location"]))
    assert "Departments imported: 3 added, 5 updated, 0 unchanged." in page
    departments = {d.code: d for d in store_of(app).list_departments(SLUG)}
    assert len(departments) == 9
    assert departments["D1"].name == "New 1" and departments["D6"].name == "Old 6"
    assert departments["N2"].parent == "N1"
    [event] = audit_events(app, "departments.import")
    assert event.detail == "3 added, 5 updated, 0 unchanged"


def test_an_import_leaves_retired_departments_retired(app: Flask, admin: FlaskClient) -> None:
    make_survey(app)
    set_department_retired(store_of(app), SLUG, "WH", retired=True)
    upload = CSV.replace("Warehouse,Hamburg,40", "Warehouse,Hamburg,44").encode()
    response = submit(
        admin, f"{BASE}/departments/import", {"departments": (io.BytesIO(upload), "d.csv")}
    )
    assert response.status_code == 302
    assert "0 added, 1 updated, 2 unchanged" in text(admin.get(f"{BASE}/departments"))
    warehouse = {d.code: d for d in store_of(app).list_departments(SLUG)}["WH"]
    assert warehouse.retired and warehouse.headcount == 44


def test_a_bad_import_names_each_line_and_stores_nothing(app: Flask, admin: FlaskClient) -> None:
    make_survey(app)
    bad = "code,name,site,headcount\nSALES,Sales DK,Aarhus,13\nNEW,New,Oslo,-1\nX,,Oslo,2\n"
    response = submit(
        admin, f"{BASE}/departments/import", {"departments": (io.BytesIO(bad.encode()), "d.csv")}
    )
    assert response.status_code == 400
    page = text(response)
    assert "Nothing was imported: 2 problem(s) in the departments file." in page
    assert "Line 3: Department NEW: the headcount must be a whole number" in page
    assert "Line 4: name must not be empty." in page
    departments = {d.code: d for d in store_of(app).list_departments(SLUG)}
    assert sorted(departments) == ["HQ", "SALES", "WH"] and departments["SALES"].name == "Sales"
    assert audit_events(app, "departments.import") == []


def test_an_import_needs_a_file(app: Flask, admin: FlaskClient) -> None:
    make_survey(app)
    response = submit(admin, f"{BASE}/departments/import", {})
    assert response.status_code == 400
    assert "Choose a CSV file." in text(response)


def test_exporting_departments_downloads_csv_that_imports_again(
    app: Flask, admin: FlaskClient
) -> None:
    make_survey(app)
    response = admin.get(f"{BASE}/departments.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{SLUG}-departments.csv"'
    )
    body = response.get_data().decode("utf-8-sig")
    assert body.splitlines() == [
        "code,name,site,headcount,parent",
        "HQ,Headquarters,Aarhus,10,",
        "SALES,Sales,Aarhus,12,HQ",
        "WH,Warehouse,Hamburg,40,HQ",
    ]
    [event] = audit_events(app, "departments.export")
    assert event.target == SLUG and event.detail == "3 department(s)"
    again = submit(
        admin,
        f"{BASE}/departments/import",
        {"departments": (io.BytesIO(response.get_data()), "export.csv")},
    )
    assert again.status_code == 302
    assert "0 added, 0 updated, 3 unchanged" in text(admin.get(f"{BASE}/departments"))


def test_five_hundred_departments_are_listed_fifty_to_a_page(
    app: Flask, admin: FlaskClient
) -> None:
    rows = "".join(f"D{n:03},Department {n},Site {n % 7},{n % 40}\n" for n in range(1, 501))
    make_survey(app, csv="code,name,site,headcount\n" + rows)
    first = text(admin.get(f"{BASE}/departments"))
    assert "500 departments, page 1 of 10" in first
    assert first.count("<tr>") == 51  # header + 50 rows
    assert "<code>D050</code>" in first and "<code>D051</code>" not in first
    assert f'href="{BASE}/departments?page=2"' in first and "Previous page" not in first

    last = text(admin.get(f"{BASE}/departments?page=10"))
    assert "page 10 of 10" in last and "Page 10 of 10" in last
    assert "<code>D451</code>" in last and "<code>D500</code>" in last
    assert "<code>D450</code>" not in last
    assert f'href="{BASE}/departments?page=9"' in last and "Next page" not in last
    assert admin.get(f"{BASE}/departments?page=11").status_code == 404
    assert admin.get(f"{BASE}/departments?page=0").status_code == 404


def test_pages_of_a_missing_survey_are_not_found(admin: FlaskClient) -> None:
    for url in ("/admin/surveys/nope", "/admin/surveys/nope/departments"):
        assert admin.get(url).status_code == 404


# -- who may use these pages ---------------------------------------------------------

PAGES = [
    ("GET", "/admin/surveys/new"),
    ("POST", "/admin/surveys/new"),
    ("GET", BASE),
    ("POST", f"{BASE}/waves"),
    ("GET", f"{BASE}/waves/baseline/open"),
    ("POST", f"{BASE}/waves/baseline/open"),
    ("POST", f"{BASE}/waves/baseline/close"),
    ("GET", f"{BASE}/waves/baseline/reopen"),
    ("POST", f"{BASE}/waves/baseline/reopen"),
    ("GET", f"{BASE}/departments"),
    ("GET", f"{BASE}/departments/new"),
    ("POST", f"{BASE}/departments/new"),
    ("GET", f"{BASE}/departments/SALES/edit"),
    ("POST", f"{BASE}/departments/SALES/edit"),
    ("POST", f"{BASE}/departments/SALES/retire"),
    ("POST", f"{BASE}/departments/SALES/restore"),
    ("GET", f"{BASE}/departments/import"),
    ("POST", f"{BASE}/departments/import"),
    ("GET", f"{BASE}/departments.csv"),
]


def test_every_page_of_the_blueprint_is_in_the_access_checks(app: Flask) -> None:
    rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("admin_surveys.")}
    checked = {
        re.sub(r"/departments/SALES/", "/departments/<code>/", url)
        .replace("/waves/baseline/", "/waves/<wave_id>/")
        .replace(SLUG, "<slug>")
        for _method, url in PAGES
    }
    assert rules == checked


@pytest.mark.parametrize(("method", "url"), PAGES)
@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEPARTMENT_VIEWER])
def test_accounts_that_are_not_admins_get_403_on_every_page(
    app: Flask, client: FlaskClient, make_account, method: str, url: str, role: Role
) -> None:  # type: ignore[no-untyped-def]
    make_survey(app)
    add_wave(store_of(app), SLUG, wave_id="baseline", name="Baseline", today=date.today())
    extra = {"departments": (f"{SLUG}/SALES",)} if role is Role.DEPARTMENT_VIEWER else {}
    make_account("reader@example.com", role, **extra)
    sign_in(client, "reader@example.com")
    token = csrf_token(text(client.get("/admin/")))
    response = client.open(url, method=method, data={"csrf_token": token})
    assert response.status_code == 403
    assert store_of(app).get_wave(SLUG, "baseline").status is WaveStatus.DRAFT
    assert store_of(app).list_audit_events(limit=10).items[0].action == "user.create"


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(
    app: Flask, client: FlaskClient, method: str, url: str
) -> None:
    make_survey(app)
    token = csrf_token(text(client.get("/admin/login")))
    response = client.open(url, method=method, data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")
