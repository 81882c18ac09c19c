"""Admins manage HR accounts through forms; every change is audited; only admins get in."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from portal.domain.accounts import AuditEvent, Role
from portal.storage.port import Store
from tests.builders import make_department, make_survey, make_user
from tests.web.conftest import csrf_token, sign_in

ADMIN = "hr@example.com"


def store_of(app: Flask) -> Store:
    """Return the app's own store."""
    store: Store = app.extensions["portal.store"]
    return store


@pytest.fixture
def admin(client: FlaskClient, make_account) -> FlaskClient:  # type: ignore[no-untyped-def]
    """Return a client signed in as the admin ``hr@example.com``."""
    make_account(ADMIN, Role.ADMIN)
    assert sign_in(client, ADMIN).status_code == 302
    return client


@pytest.fixture
def departments(app: Flask) -> Store:
    """Give the store two surveys with departments (one retired)."""
    store = store_of(app)
    store.add_survey(make_survey())
    store.add_survey(make_survey(slug="erp-move", title="ERP move"))
    store.put_departments(
        [
            make_department(code="SALES", name="Sales", site="Aarhus"),
            make_department(code="WH", name="Warehouse", site="Hamburg"),
            make_department(code="OLD", name="Old team", site="Aarhus", retired=True),
            make_department(survey_slug="erp-move", code="FIN", name="Finance", site="Oslo"),
        ]
    )
    return store


def submit(
    client: FlaskClient, page_url: str, data: dict[str, object], post_url: str = ""
) -> TestResponse:
    """Open a form page, then post ``data`` to it (or to ``post_url``) with its CSRF token."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    payload = {"csrf_token": csrf_token(page.get_data(as_text=True)), **data}
    return client.post(post_url or page_url, data=payload)


def one_time_password(response: TestResponse) -> str:
    """Return the password shown on a one-time password page."""
    match = re.search(
        r'class="one-time-password"><code>([^<]+)</code>', response.get_data(as_text=True)
    )
    assert match, "the page shows no one-time password"
    return html.unescape(match.group(1))


def recorded(store: Store, action: str) -> list[tuple[str, str, str]]:
    """Return (actor, target, detail) of the trail's ``action`` events, oldest first.

    The trail orders events only to the second, so a test's events (made within
    one second) are compared as a sorted list, not by position.
    """
    events = store.list_audit_events(limit=1000).items
    return sorted((e.actor, e.target, e.detail) for e in events if e.action == action)


def cells(row: str) -> list[str]:
    """Return the text of a table row's data cells."""
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def listed(page: str) -> list[str]:
    """Return the e-mail addresses an account list links to, in order."""
    return re.findall(r'<td><a href="/admin/users/([^/]+)/edit"', page)


def text(response: TestResponse) -> str:
    """Return a page's text with HTML entities decoded."""
    return html.unescape(response.get_data(as_text=True))


# -- creating accounts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "chosen"),
    [(Role.ADMIN, []), (Role.VIEWER, []), (Role.DEPARTMENT_VIEWER, ["crm-rollout/SALES"])],
    ids=["admin", "viewer", "department-viewer"],
)
def test_an_admin_creates_an_account_and_sees_its_one_time_password_once(
    app: Flask, admin: FlaskClient, departments: Store, role: Role, chosen: list[str]
) -> None:
    created = submit(
        admin,
        "/admin/users/new",
        {"email": " New.Person@Example.com ", "role": role.value, "departments": chosen},
    )
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    password = one_time_password(created)
    assert "shown only this once" in text(created) and "Pass it on securely" in text(created)

    user = departments.get_user("new.person@example.com")
    assert (user.role, list(user.departments), user.must_change_password) == (role, chosen, True)
    assert password not in user.password_hash
    # Shown once: neither the list nor the account's page shows it again.
    for page in ("/admin/users", "/admin/users/new.person@example.com/edit"):
        shown = admin.get(page)
        assert shown.status_code == 200 and password not in text(shown)

    newcomer = app.test_client()
    signed = sign_in(newcomer, "new.person@example.com", password)
    assert signed.status_code == 302
    assert newcomer.get("/admin/").headers["Location"] == "/admin/password"


def test_the_department_choices_are_grouped_per_survey_and_say_which_department(
    admin: FlaskClient, departments: Store
) -> None:
    page = text(admin.get("/admin/users/new"))
    select = re.search(r'<select[^>]*name="departments"[^>]*>(.*?)</select>', page, re.S)
    assert select, "the form has no departments list"
    assert "multiple" in select.group(0) and 'size="12"' in select.group(0)
    groups = re.findall(r'<optgroup label="([^"]+)">', select.group(1))
    assert groups == ["CRM rollout (crm-rollout)", "ERP move (erp-move)"]
    options = dict(
        re.findall(r'<option[^>]*value="([^"]+)"[^>]*>([^<]+)</option>', select.group(1))
    )
    assert options == {
        "crm-rollout/SALES": "CRM rollout — Sales (Aarhus)",
        "crm-rollout/WH": "CRM rollout — Warehouse (Hamburg)",
        "erp-move/FIN": "ERP move — Finance (Oslo)",
    }  # the retired department is not offered to new accounts


def test_five_hundred_departments_fit_in_one_bounded_list(app: Flask, admin: FlaskClient) -> None:
    store = store_of(app)
    store.add_survey(make_survey())
    store.put_departments(
        [make_department(code=f"D{n:03}", name=f"Team {n}", site="Aarhus") for n in range(500)]
    )
    page = text(admin.get("/admin/users/new"))
    assert page.count("<select") == 2  # the role and the departments, nothing per department
    assert page.count('<option value="crm-rollout/D') == 500
    assert 'size="12"' in page


def test_a_department_viewer_without_a_department_is_refused_and_the_form_kept(
    admin: FlaskClient, departments: Store
) -> None:
    response = submit(
        admin, "/admin/users/new", {"email": "dept@example.com", "role": "department-viewer"}
    )
    assert response.status_code == 400
    page = text(response)
    assert "Choose at least one department for a department viewer." in page
    assert 'value="dept@example.com"' in page
    assert re.search(
        r'<option selected value="department-viewer">|<option value="department-viewer" selected',
        page,
    )
    assert len(departments.list_users()) == 1  # only the admin


def test_a_malformed_e_mail_address_is_refused_on_the_form(
    admin: FlaskClient, departments: Store
) -> None:
    response = submit(admin, "/admin/users/new", {"email": "not-an-address", "role": "viewer"})
    assert response.status_code == 400
    assert "Enter an e-mail address such as name@example.com." in text(response)
    assert 'value="not-an-address"' in text(response)
    assert len(departments.list_users()) == 1


def test_a_department_that_is_not_offered_cannot_be_chosen(
    admin: FlaskClient, departments: Store
) -> None:
    response = submit(
        admin,
        "/admin/users/new",
        {"email": "d@example.com", "role": "department-viewer", "departments": ["other/SECRET"]},
    )
    assert response.status_code == 400
    assert len(departments.list_users()) == 1


def test_an_e_mail_address_that_has_an_account_is_refused_with_a_message(
    admin: FlaskClient, departments: Store
) -> None:
    response = submit(admin, "/admin/users/new", {"email": " HR@Example.COM", "role": "viewer"})
    assert response.status_code == 400
    assert "An account with this e-mail exists already." in text(response)
    assert departments.get_user(ADMIN).role is Role.ADMIN  # untouched


def test_departments_chosen_for_another_role_are_dropped(
    admin: FlaskClient, departments: Store
) -> None:
    response = submit(
        admin,
        "/admin/users/new",
        {"email": "v@example.com", "role": "viewer", "departments": ["crm-rollout/SALES"]},
    )
    assert response.status_code == 200
    assert departments.get_user("v@example.com").departments == ()


# -- changing access -------------------------------------------------------------------


def test_an_admin_changes_an_accounts_role_and_departments(
    admin: FlaskClient, departments: Store, make_account
) -> None:  # type: ignore[no-untyped-def]
    make_account("v@example.com", Role.VIEWER)
    url = "/admin/users/v@example.com/edit"
    changed = submit(
        admin, url, {"role": "department-viewer", "departments": ["crm-rollout/WH", "erp-move/FIN"]}
    )
    assert changed.status_code == 302 and changed.headers["Location"] == url
    user = departments.get_user("v@example.com")
    assert user.role is Role.DEPARTMENT_VIEWER
    assert user.departments == ("crm-rollout/WH", "erp-move/FIN")
    page = text(admin.get(url))
    assert "Access of v@example.com changed" in page
    assert re.search(
        r'<option selected value="crm-rollout/WH">|<option value="crm-rollout/WH" selected', page
    )

    back = submit(admin, url, {"role": "viewer", "departments": ["crm-rollout/WH"]})
    assert back.status_code == 302
    assert departments.get_user("v@example.com").departments == ()
    assert recorded(departments, "user.access-change") == [
        (
            ADMIN,
            "v@example.com",
            "role department-viewer, active, departments crm-rollout/WH, erp-move/FIN",
        ),
        (ADMIN, "v@example.com", "role viewer, active"),
    ]


def test_an_assignment_to_a_retired_department_stays_selected(
    admin: FlaskClient, departments: Store, make_account
) -> None:  # type: ignore[no-untyped-def]
    make_account("d@example.com", Role.DEPARTMENT_VIEWER, departments=["crm-rollout/OLD", "gone/X"])
    page = text(admin.get("/admin/users/d@example.com/edit"))
    assert "CRM rollout — Old team (Aarhus) — retired" in page
    assert re.search(r'<option selected value="gone/X">|<option value="gone/X" selected', page)
    kept = submit(
        admin,
        "/admin/users/d@example.com/edit",
        {"role": "department-viewer", "departments": ["crm-rollout/OLD", "gone/X"]},
    )
    assert kept.status_code == 302
    assert departments.get_user("d@example.com").departments == ("crm-rollout/OLD", "gone/X")


def test_revoking_a_department_viewer_ends_their_session_at_once_and_is_audited(
    app: Flask, admin: FlaskClient, departments: Store, make_account
) -> None:  # type: ignore[no-untyped-def]
    make_account("d@example.com", Role.DEPARTMENT_VIEWER, departments=["crm-rollout/SALES"])
    theirs = app.test_client()
    sign_in(theirs, "d@example.com")
    assert theirs.get("/admin/").status_code == 200

    revoked = submit(
        admin, "/admin/users/d@example.com/edit", {}, post_url="/admin/users/d@example.com/revoke"
    )
    assert revoked.status_code == 302
    assert departments.get_user("d@example.com").active is False

    after = theirs.get("/admin/")
    assert after.status_code == 302 and after.headers["Location"].startswith("/admin/login")
    assert sign_in(theirs, "d@example.com").status_code == 401

    trail = text(admin.get("/admin/audit"))
    rows = [r for r in trail.split("<tbody>")[1].split("</tr>") if "user.access-change" in r]
    assert len(rows) == 1
    detail = "role department-viewer, revoked, departments crm-rollout/SALES"
    assert cells(rows[0])[1:] == [ADMIN, "user.access-change", "d@example.com", detail]
    assert "revoked" in text(admin.get("/admin/users"))


def test_restoring_access_lets_the_account_sign_in_again(
    app: Flask, admin: FlaskClient, departments: Store, make_account
) -> None:  # type: ignore[no-untyped-def]
    make_account("v@example.com", Role.VIEWER)
    url = "/admin/users/v@example.com"
    submit(admin, url + "/edit", {}, post_url=url + "/revoke")
    assert sign_in(app.test_client(), "v@example.com").status_code == 401
    page = text(admin.get(url + "/edit"))
    assert "Restore access" in page and "Revoke access" not in page

    restored = submit(admin, url + "/edit", {}, post_url=url + "/restore")
    assert restored.status_code == 302
    assert departments.get_user("v@example.com").active is True
    assert sign_in(app.test_client(), "v@example.com").status_code == 302
    assert recorded(departments, "user.access-change") == [
        (ADMIN, "v@example.com", "role viewer, active"),
        (ADMIN, "v@example.com", "role viewer, revoked"),
    ]


def test_resetting_a_password_shows_a_new_one_time_password_once(
    app: Flask, admin: FlaskClient, departments: Store, make_account
) -> None:  # type: ignore[no-untyped-def]
    make_account("v@example.com", Role.VIEWER)
    theirs = app.test_client()
    sign_in(theirs, "v@example.com")
    url = "/admin/users/v@example.com"
    reset = submit(admin, url + "/edit", {}, post_url=url + "/reset-password")
    assert reset.status_code == 200 and reset.headers["Cache-Control"] == "no-store"
    password = one_time_password(reset)
    assert password not in text(admin.get(url + "/edit"))

    assert theirs.get("/admin/").status_code == 302  # their session ended
    assert sign_in(app.test_client(), "v@example.com").status_code == 401  # old password
    fresh = app.test_client()
    assert sign_in(fresh, "v@example.com", password).status_code == 302
    assert fresh.get("/admin/").headers["Location"] == "/admin/password"
    assert recorded(departments, "user.password-reset") == [(ADMIN, "v@example.com", "")]


def test_an_admin_cannot_revoke_their_own_access(admin: FlaskClient, departments: Store) -> None:
    url = f"/admin/users/{ADMIN}"
    refused = submit(admin, url + "/edit", {}, post_url=url + "/revoke")
    assert refused.status_code == 400
    assert "You cannot remove your own admin access; ask another admin." in text(refused)
    assert departments.get_user(ADMIN).active is True
    assert admin.get("/admin/users").status_code == 200  # still signed in


def test_an_admin_cannot_demote_themselves(admin: FlaskClient, departments: Store) -> None:
    refused = submit(admin, f"/admin/users/{ADMIN}/edit", {"role": "viewer"})
    assert refused.status_code == 400
    assert "You cannot remove your own admin access; ask another admin." in text(refused)
    assert departments.get_user(ADMIN).role is Role.ADMIN


def test_saving_ones_own_access_keeps_ones_own_session(
    admin: FlaskClient, departments: Store
) -> None:
    saved = submit(admin, f"/admin/users/{ADMIN}/edit", {"role": "admin"})
    assert saved.status_code == 302
    assert departments.get_user(ADMIN).session_epoch == 1
    assert admin.get("/admin/users").status_code == 200


def test_resetting_ones_own_password_keeps_the_session_but_asks_for_a_new_password(
    app: Flask, admin: FlaskClient, departments: Store
) -> None:
    url = f"/admin/users/{ADMIN}"
    reset = submit(admin, url + "/edit", {}, post_url=url + "/reset-password")
    password = one_time_password(reset)
    assert admin.get("/admin/users").headers["Location"] == "/admin/password"
    assert sign_in(app.test_client(), ADMIN, password).status_code == 302


def test_changes_need_a_csrf_token(admin: FlaskClient, departments: Store, make_account) -> None:  # type: ignore[no-untyped-def]
    make_account("v@example.com", Role.VIEWER)
    assert admin.post("/admin/users/v@example.com/revoke").status_code == 400
    assert admin.post("/admin/users/v@example.com/reset-password").status_code == 400
    assert (
        admin.post(
            "/admin/users/new", data={"email": "x@example.com", "role": "viewer"}
        ).status_code
        == 400
    )
    assert departments.get_user("v@example.com").active is True
    assert [u.email for u in departments.list_users()] == [ADMIN, "v@example.com"]


def test_changes_are_posts_only(admin: FlaskClient, make_account) -> None:  # type: ignore[no-untyped-def]
    make_account("v@example.com", Role.VIEWER)
    for action in ("revoke", "restore", "reset-password"):
        assert admin.get(f"/admin/users/v@example.com/{action}").status_code == 405


def test_an_unknown_account_is_not_found(admin: FlaskClient) -> None:
    assert admin.get("/admin/users/nobody@example.com/edit").status_code == 404
    token = csrf_token(admin.get("/admin/users").get_data(as_text=True))
    response = admin.post("/admin/users/nobody@example.com/revoke", data={"csrf_token": token})
    assert response.status_code == 404


# -- listing -------------------------------------------------------------------------


def test_the_account_list_shows_role_departments_and_state(
    admin: FlaskClient, departments: Store, make_account
) -> None:  # type: ignore[no-untyped-def]
    refs = ["crm-rollout/SALES"]
    make_account(
        "d@example.com", Role.DEPARTMENT_VIEWER, departments=refs, must_change_password=True
    )
    page = text(admin.get("/admin/users"))
    row = next(r for r in page.split("<tr") if "d@example.com" in r)
    expected = ["d@example.com", "department-viewer", "crm-rollout/SALES", "active", "yes"]
    assert cells(row) == expected
    assert 'href="/admin/users/d@example.com/edit"' in row
    assert '<th scope="col">E-mail address</th>' in page and "<caption>" in page


def test_the_account_list_shows_fifty_accounts_a_page(app: Flask, admin: FlaskClient) -> None:
    store = store_of(app)
    for n in range(54):
        store.add_user(make_user(email=f"user{n:02}@example.com", role=Role.VIEWER))
    first = text(admin.get("/admin/users"))
    second = text(admin.get("/admin/users?page=2"))
    assert len(listed(first)) == 50 and len(listed(second)) == 5
    assert set(listed(first)) | set(listed(second)) == {u.email for u in store.list_users()}
    assert 'href="/admin/users?page=2"' in first and 'href="/admin/users?page=1"' in second
    assert listed(text(admin.get("/admin/users?page=99"))) == listed(second)


# -- the audit trail -------------------------------------------------------------------


def test_the_audit_log_lists_events_newest_first_a_page_at_a_time(
    app: Flask, admin: FlaskClient
) -> None:
    store = store_of(app)
    start = datetime(2026, 1, 5, 8, 0, 0, tzinfo=UTC)
    for n in range(65):
        store.add_audit_event(
            AuditEvent(start + timedelta(minutes=n), "a@example.com", "wave.open", f"crm/w{n}")
        )
    times: list[str] = []
    url: str | None = "/admin/audit"
    pages = 0
    while url:
        page = text(admin.get(url))
        assert "admin actions only, never respondents' answers" in page
        times += re.findall(r'<time datetime="[^"]+">([^<]+)</time>', page)
        older = re.search(r'<a href="([^"]+)" rel="next">Older</a>', page)
        url = older.group(1) if older else None
        pages += 1
    assert pages == 2
    assert len(times) == 66 == len(set(times))  # 65 events and the admin's creation
    assert times == sorted(times, reverse=True)
    assert times[-1] == "2026-01-05 08:00:00" and times[1] == "2026-01-05 09:04:00"


def test_the_audit_log_refuses_a_made_up_cursor(admin: FlaskClient) -> None:
    assert admin.get("/admin/audit?cursor=%27%3B--").status_code == 400
    assert (
        admin.get(
            "/admin/audit?cursor=2026-01-05T08:00:00%2B00:00%2300000000000000000001%23abcd"
        ).status_code
        == 200
    )


# -- who may come in -------------------------------------------------------------------

ADMIN_PAGES = [
    ("GET", "/admin/users"),
    ("GET", "/admin/users/new"),
    ("POST", "/admin/users/new"),
    ("GET", f"/admin/users/{ADMIN}/edit"),
    ("POST", f"/admin/users/{ADMIN}/edit"),
    ("POST", f"/admin/users/{ADMIN}/revoke"),
    ("POST", f"/admin/users/{ADMIN}/restore"),
    ("POST", f"/admin/users/{ADMIN}/reset-password"),
    ("GET", "/admin/audit"),
]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEPARTMENT_VIEWER], ids=str)
def test_other_roles_are_refused_every_account_page(
    app: Flask, client: FlaskClient, make_account, role: Role
) -> None:  # type: ignore[no-untyped-def]
    make_account(ADMIN, Role.ADMIN)
    departments = ["crm-rollout/SALES"] if role is Role.DEPARTMENT_VIEWER else []
    make_account("other@example.com", role, departments=departments)
    sign_in(client, "other@example.com")
    home = client.get("/admin/")
    assert home.status_code == 200 and "/admin/users" not in home.get_data(as_text=True)
    token = csrf_token(home.get_data(as_text=True))
    for method, url in ADMIN_PAGES:
        response = client.open(url, method=method, data={"csrf_token": token, "role": "viewer"})
        assert response.status_code == 403, (method, url, response.status_code)
    assert store_of(app).get_user(ADMIN).active is True
    assert store_of(app).get_user(ADMIN).role is Role.ADMIN


def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login?next=/admin/users"


def test_the_admin_sees_links_to_accounts_and_the_audit_log(admin: FlaskClient) -> None:
    page = admin.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/users"' in page and 'href="/admin/audit"' in page
