"""The JSON API: tokens from the admin page, bearer authentication, the same hidden results."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.domain.anonymity import AUDIENCES, Disclosure, Group, Structure, group_count
from portal.domain.entities import Audience, Response
from portal.services import accounts
from portal.services.api_tokens import hash_token
from portal.services.surveys import close_wave
from portal.storage.port import Store
from portal.web.api.views import OPENAPI
from tests.unit.test_anonymity_attacks import relations, small_computable_sets
from tests.web.conftest import csrf_token, sign_in
from tests.web.test_results import (
    DEPARTMENTS,
    QUESTIONNAIRE,
    SLUG,
    STANDARD,
    make_organisation,
    row_numbers,
)
from tests.web.test_results_attacks import drawn, hand_made

MakeAccount = Callable[..., object]
K = 5
RESULTS = f"/api/v1/surveys/{SLUG}/waves/baseline/results"
SECRET = re.compile(r'<p class="one-time-password"><code>([^<]+)</code></p>')


def create_token(client: FlaskClient, name: str = "Reporting script") -> str:
    """Create a token through the admin page and return the secret it shows once."""
    page = client.get("/admin/tokens")
    assert page.status_code == 200
    response = client.post(
        "/admin/tokens", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "name": name}
    )
    assert response.status_code == 200, response.status_code
    assert response.headers["Cache-Control"] == "no-store"
    match = SECRET.search(response.get_data(as_text=True))
    assert match, "the page does not show the new token"
    return match.group(1)


def token_for(app: Flask, make_account: MakeAccount, email: str, role: Role, **kwargs: Any) -> str:
    """Create an account, sign it in on its own client and create a token on the page."""
    make_account(email, role, **kwargs)
    client = app.test_client()
    sign_in(client, email)
    return create_token(client)


def api(app: Flask, path: str, token: str | None, **query: str) -> Any:
    """Call the API with ``token``; return the response."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return app.test_client().get(path, headers=headers, query_string=query)


# -- token lifecycle ------------------------------------------------------------------


def test_a_token_made_on_the_page_is_stored_only_as_its_hash_and_audited(
    app: Flask, client: FlaskClient, make_account: MakeAccount, store: Store
) -> None:
    make_account("hr@example.com", Role.VIEWER)
    sign_in(client, "hr@example.com")
    secret = create_token(client, "Monthly report")
    assert len(secret) >= 43
    [token] = store.list_api_tokens("hr@example.com")
    assert token.token_hash == hash_token(secret) and token.name == "Monthly report"
    listing = client.get("/admin/tokens").get_data(as_text=True)
    assert "Monthly report" in listing and secret not in listing
    events = [e for e in store.list_audit_events(limit=50).items if e.action == "token.create"]
    assert events and events[0].actor == "hr@example.com"
    assert secret not in events[0].detail


def test_a_token_opens_the_api_until_it_is_revoked(
    app: Flask, client: FlaskClient, make_account: MakeAccount, store: Store
) -> None:
    make_account("hr@example.com", Role.VIEWER)
    sign_in(client, "hr@example.com")
    secret = create_token(client)
    assert api(app, "/api/v1/surveys", secret).status_code == 200
    page = client.get("/admin/tokens").get_data(as_text=True)
    revoked = client.post(
        f"/admin/tokens/{hash_token(secret)}/revoke", data={"csrf_token": csrf_token(page)}
    )
    assert revoked.status_code == 302
    response = api(app, "/api/v1/surveys", secret)
    assert response.status_code == 401
    assert response.get_json()["error"]["status"] == 401
    assert [e.action for e in store.list_audit_events(limit=5).items][0] == "token.revoke"


def test_an_admin_may_revoke_anyones_token_but_a_viewer_only_their_own(
    app: Flask, make_account: MakeAccount, store: Store
) -> None:
    viewer_secret = token_for(app, make_account, "viewer@example.com", Role.VIEWER)
    other_secret = token_for(app, make_account, "other@example.com", Role.VIEWER)
    viewer = app.test_client()
    sign_in(viewer, "viewer@example.com")
    page = viewer.get("/admin/tokens").get_data(as_text=True)
    refused = viewer.post(
        f"/admin/tokens/{hash_token(other_secret)}/revoke", data={"csrf_token": csrf_token(page)}
    )
    assert refused.status_code == 404
    assert viewer.get("/admin/tokens?account=other@example.com").status_code == 403
    make_account("admin@example.com", Role.ADMIN)
    admin = app.test_client()
    sign_in(admin, "admin@example.com")
    page = admin.get("/admin/tokens?account=viewer@example.com").get_data(as_text=True)
    assert "Reporting script" in page
    done = admin.post(
        f"/admin/tokens/{hash_token(viewer_secret)}/revoke", data={"csrf_token": csrf_token(page)}
    )
    assert done.status_code == 302
    assert api(app, "/api/v1/surveys", viewer_secret).status_code == 401
    assert api(app, "/api/v1/surveys", other_secret).status_code == 200


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "bearer  a b", "Token x"]
)
def test_requests_without_a_valid_token_get_401_json(app: Flask, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = app.test_client().get("/api/v1/surveys", headers=headers)
    assert response.status_code == 401
    assert response.is_json and response.get_json()["error"]["status"] == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Cache-Control"] == "no-store"


def test_a_token_of_a_revoked_account_gets_401(
    app: Flask, make_account: MakeAccount, store: Store
) -> None:
    secret = token_for(app, make_account, "viewer@example.com", Role.VIEWER)
    accounts.update_access(store, "viewer@example.com", actor="test", active=False)
    assert api(app, "/api/v1/surveys", secret).status_code == 401


def test_a_password_reset_revokes_the_accounts_tokens(
    app: Flask, make_account: MakeAccount, store: Store
) -> None:
    secret = token_for(app, make_account, "viewer@example.com", Role.VIEWER)
    assert api(app, "/api/v1/surveys", secret).status_code == 200
    accounts.reset_password(store, "viewer@example.com", actor="admin@example.com")
    assert api(app, "/api/v1/surveys", secret).status_code == 401
    [event] = [e for e in store.list_audit_events().items if e.action == "user.password-reset"]
    assert event.detail == "1 API token(s) revoked"


def test_a_token_follows_its_accounts_current_role(
    app: Flask, make_account: MakeAccount, store: Store, standard: list[Response]
) -> None:
    secret = token_for(app, make_account, "viewer@example.com", Role.VIEWER)
    assert len(api(app, RESULTS, secret).get_json()["rows"]) == 1 + 2 + len(DEPARTMENTS)
    accounts.update_access(
        store,
        "viewer@example.com",
        actor="test",
        role=Role.DEPARTMENT_VIEWER,
        departments=[f"{SLUG}/SALES"],
    )
    rows = api(app, RESULTS, secret).get_json()["rows"]
    assert [(r["kind"], r["key"]) for r in rows] == [("department", "SALES")]


# -- what the API answers -------------------------------------------------------------


def test_lists_readable_surveys_and_their_waves(
    app: Flask, make_account: MakeAccount, standard: list[Response]
) -> None:
    secret = token_for(app, make_account, "viewer@example.com", Role.VIEWER)
    response = api(app, "/api/v1/surveys", secret)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {"surveys": [{"slug": SLUG, "title": "CRM rollout"}]}
    waves = api(app, f"/api/v1/surveys/{SLUG}/waves", secret).get_json()["waves"]
    assert [(w["wave_id"], w["status"]) for w in waves] == [("baseline", "open")]
    assert api(app, "/api/v1/surveys/nope/waves", secret).status_code == 404


def test_the_results_equal_the_pages_visible_cells_and_hidden_groups_are_null(
    app: Flask, make_account: MakeAccount, standard: list[Response]
) -> None:
    secret = token_for(app, make_account, "admin@example.com", Role.ADMIN)
    admin = app.test_client()
    sign_in(admin, "admin@example.com")
    page = admin.get(f"/admin/surveys/{SLUG}/waves/baseline/results").get_data(as_text=True)
    response = api(app, RESULTS, secret)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["min_group_size"] == K and body["refused"] is False
    assert [lever["id"] for lever in body["levers"]] == [lever.id for lever in QUESTIONNAIRE.levers]
    nulls = 0
    for row in body["rows"]:
        shown = row_numbers(page, row["kind"], row["key"])
        result = row["result"]
        if shown is None:
            assert result is None, row
            nulls += 1
            continue
        indices = [result["indices"][lever.id] for lever in QUESTIONNAIRE.levers]
        assert [result["responses"], *[i for i in indices if i is not None]] == shown
    assert nulls >= 3  # TINY, NONE and FEW


def test_a_hidden_department_reads_exactly_like_an_empty_one(
    app: Flask, make_account: MakeAccount, standard: list[Response]
) -> None:
    secret = token_for(app, make_account, "viewer@example.com", Role.VIEWER)
    tiny = api(app, f"{RESULTS}/departments/TINY", secret).get_json()["rows"][0]
    none = api(app, f"{RESULTS}/departments/NONE", secret).get_json()["rows"][0]
    assert tiny["result"] is None and none["result"] is None
    assert set(tiny) == set(none)
    assert api(app, f"{RESULTS}/departments/NOPE", secret).status_code == 404


def test_a_department_viewers_token_sees_only_their_departments(
    app: Flask, make_account: MakeAccount, standard: list[Response]
) -> None:
    secret = token_for(
        app, make_account, "dv@example.com", Role.DEPARTMENT_VIEWER, departments=(f"{SLUG}/SALES",)
    )
    rows = api(app, RESULTS, secret).get_json()["rows"]
    assert [(r["kind"], r["key"]) for r in rows] == [("department", "SALES")]
    assert api(app, f"{RESULTS}/departments/SALES", secret).status_code == 200
    forbidden = api(app, f"{RESULTS}/departments/WH", secret)
    assert forbidden.status_code == 403 and forbidden.is_json
    assert api(app, "/api/v1/surveys", secret).get_json()["surveys"][0]["slug"] == SLUG


def test_a_refused_filter_has_no_rows_and_a_bad_audience_is_400(
    app: Flask, make_account: MakeAccount, standard: list[Response]
) -> None:
    secret = token_for(app, make_account, "viewer@example.com", Role.VIEWER)
    bad = api(app, RESULTS, secret, audience="robots")
    assert bad.status_code == 400 and bad.get_json()["error"]["status"] == 400
    unknown_site = api(app, RESULTS, secret, site="Atlantis").get_json()
    assert unknown_site["refused"] is True and unknown_site["rows"] == []


# -- the department endpoint ------------------------------------------------------------


def page_levers(page: str) -> list[tuple[str, str, str]]:
    """Return the department page's lever table: index, n and interval as printed."""
    table = re.search(r'<table class="results-levers">(.*?)</table>', page, re.S)
    assert table is not None
    rows = []
    for cells in re.findall(r"<tr>\s*<th scope=\"row\">.*?</th>(.*?)</tr>", table.group(1), re.S):
        tds = [
            re.sub(r"<[^>]+>", "", td).strip()
            for td in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)
        ]
        rows.append((tds[0].split()[0] if tds[0][:1].isdigit() else "", tds[1], tds[2]))
    return rows


def test_the_department_endpoint_returns_what_the_department_page_shows(
    app: Flask, make_account: MakeAccount, store: Store
) -> None:
    make_organisation(store, STANDARD, wave_id="baseline", bias=-1)
    close_wave(store, SLUG, "baseline", today=date.today())
    make_organisation(store, STANDARD, wave_id="follow-up", create=False, seed=2, bias=1)
    secret = token_for(app, make_account, "admin@example.com", Role.ADMIN)
    admin = app.test_client()
    sign_in(admin, "admin@example.com")
    path = f"/surveys/{SLUG}/waves/follow-up/results/departments/SALES"
    page = admin.get("/admin" + path).get_data(as_text=True)
    body = api(app, "/api/v1" + path, secret).get_json()
    result = body["rows"][0]["result"]
    printed = page_levers(page)
    for lever, (index, n, interval) in zip(result["levers"], printed, strict=True):
        assert str(lever["index"]) == index and str(lever["n"]) == n
        assert interval == (
            "–" if lever["interval_95"] is None else "{}–{}".format(*lever["interval_95"])
        )
    assert result["levers"][0]["index"] == result["indices"][result["levers"][0]["id"]]
    # Employees versus managers: SALES has 9 and 6, both published.
    assert result["audiences"] is not None
    for gap in result["audiences"]:
        if gap["gap"] is not None:
            assert f"{gap['gap']:+.1f}" in page
    # The change since the baseline, rounded and worded as on the page.
    assert result["change"]["previous_wave"] == "baseline"
    for lever in result["change"]["levers"]:
        assert lever["outcome"] in (
            "improved",
            "declined",
            "no clear change",
            "too few responses to tell",
            "not enough data",
        )
        if lever["change"] is not None:
            assert f"{lever['change']:+.1f}" in page
    # Per statement: the page's per cents, in the same order.
    page_percents = re.findall(r'<td class="num">(\d+) %</td>', page)
    api_percents = [
        str(p)
        for st in result["statements"]
        if st["percents"]
        for p in [*st["percents"], st["favourable"]]
    ]
    assert api_percents == page_percents


def test_the_department_endpoint_hides_what_the_page_hides(
    app: Flask, make_account: MakeAccount, standard: list[Response]
) -> None:
    secret = token_for(app, make_account, "viewer@example.com", Role.VIEWER)
    body = api(app, f"{RESULTS}/departments/WH", secret).get_json()  # 12 employees, 2 managers
    result = body["rows"][0]["result"]
    assert result["audiences"] is None and result["change"] is None
    for statement in result["statements"]:
        item = next(i for i in QUESTIONNAIRE.items if i.id == statement["id"])
        if item.audience in ("employee", "manager"):  # one half of a hidden pair
            assert statement["percents"] is None and statement["dont_know"] is None
        else:
            assert statement["percents"] is not None
    tiny = api(app, f"{RESULTS}/departments/TINY", secret).get_json()
    none = api(app, f"{RESULTS}/departments/NONE", secret).get_json()
    assert tiny["rows"][0]["result"] is None
    tiny["rows"][0].update(key="X", label="X")
    none["rows"][0].update(key="X", label="X")
    assert tiny == none


# -- the attack -------------------------------------------------------------------------


def collect(body: Mapping[str, Any], audience: Audience | None, seen: dict[Group, int]) -> None:
    """Record every group the body publishes numbers for, with its count."""
    for row in body["rows"]:
        result = row["result"]
        if result is None:
            continue
        group = (
            Group()
            if row["kind"] == "organisation"
            else Group(site=row["key"])
            if row["kind"] == "site"
            else Group(department=row["key"])
        ).with_audience(audience)
        assert seen.get(group, result["responses"]) == result["responses"]
        seen[group] = result["responses"]
        # The department endpoint's details: each names the groups whose answers it uses.
        if result.get("audiences") is not None:
            for half in AUDIENCES:
                seen.setdefault(group.with_audience(half), -1)
        for statement in result.get("statements", []):
            item = next(i for i in QUESTIONNAIRE.items if i.id == statement["id"])
            if statement["percents"] is not None and item.audience in ("employee", "manager"):
                seen.setdefault(group.with_audience(Audience(item.audience)), -1)


@pytest.mark.parametrize(("site_of", "cells"), hand_made() + [drawn(seed) for seed in range(8)])
def test_no_small_group_follows_from_everything_the_api_answers(
    app: Flask, make_account: MakeAccount, site_of: Mapping[str, str], cells: dict
) -> None:
    departments = {code: (f"Dept {code}", site, 10) for code, site in site_of.items()}
    make_organisation(app.extensions["portal.store"], cells, departments=departments)
    secret = token_for(app, make_account, "viewer@example.com", Role.VIEWER)
    structure = Structure(site_of)
    counts = {(d, a): cells[d][i] for d in site_of for i, a in enumerate(AUDIENCES)}
    seen: dict[Group, int] = {}
    for site in (None, *structure.sites):
        for audience in (None, *AUDIENCES):
            query = {"site": site, "audience": audience.value if audience else None}
            query = {name: value for name, value in query.items() if value is not None}
            collect(api(app, RESULTS, secret, **query).get_json(), audience, seen)
    for code in structure.departments:
        collect(api(app, f"{RESULTS}/departments/{code}", secret).get_json(), None, seen)
    for group, shown in seen.items():
        true = group_count(structure, counts, group)
        assert true >= K, f"{group} is published with {true} respondents"
        assert shown in (true, -1), group
    published = Disclosure(
        structure, K, MappingProxyType({g: group_count(structure, counts, g) for g in seen})
    )
    assert small_computable_sets(published, counts) == []
    for total, parts in relations(structure):
        if total in seen:
            hidden = [p for p in parts if p not in seen]
            rest = sum(group_count(structure, counts, p) for p in hidden)
            assert not hidden or rest >= K, (total, hidden, rest)


# -- the description ----------------------------------------------------------------------


def openapi_path(rule: str) -> str:
    """Turn a Flask rule (``/x/<slug>``) into an OpenAPI path (``/x/{slug}``)."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_every_api_route_is_documented_and_every_documented_path_exists(app: Flask) -> None:
    routes: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                routes.add((openapi_path(rule.rule), method.lower()))
    spec = json.loads(Path(OPENAPI).read_text(encoding="utf-8"))
    assert spec["openapi"].startswith("3.1")
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert routes == documented


def test_the_description_is_served_without_a_token(app: Flask) -> None:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["info"]["title"]
    assert response.headers["Cache-Control"] == "no-store"
