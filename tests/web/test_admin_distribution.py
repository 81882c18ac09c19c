"""Handing out a wave (links, kiosk links, codes, posters) and watching participation, safely."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.domain.entities import Department
from portal.services.respond import hash_code
from portal.services.surveys import add_wave, close_wave, open_wave
from tests.web.conftest import OpenWave, csrf_token, full_answers, sign_in, start

SLUG, WAVE = "crm-rollout", "baseline"
BASE = f"/admin/surveys/{SLUG}/waves/{WAVE}"


# -- helpers -----------------------------------------------------------------------


def answer(app: Flask, token: str, times: int = 1) -> None:
    """Submit ``times`` complete responses through the real respondent form."""
    respondent = app.test_client()
    for _ in range(times):
        key = start(respondent, token)
        data = {"key": key, "lang": "en", "aud": "employee", **full_answers()}
        assert respondent.post(f"/s/{token}/q", data=data).status_code == 303


def text(html: str) -> str:
    """Return the visible text of an HTML fragment, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def row(page: str, code: str) -> str:
    """Return one department's table row (its inner HTML)."""
    match = re.search(rf'<tr id="dept-{re.escape(code)}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {code}"
    return match.group(1)


def cells(page: str, code: str) -> list[str]:
    """Return the text of each cell of a department's row."""
    return [text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row(page, code), re.S)]


def total_cells(page: str) -> list[str]:
    """Return the text of each cell of the participation total."""
    match = re.search(r'<tr class="total">(.*?)</tr>', page, re.S)
    assert match, "no total row"
    return [text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(1), re.S)]


def audit_events(wave: OpenWave, action: str) -> list:
    """Return the audit events of one kind, newest first."""
    return [e for e in wave.store.list_audit_events(limit=200).items if e.action == action]


def active_links(wave: OpenWave, code: str) -> list:
    """Return a department's links that are not withdrawn."""
    links = wave.store.list_links(SLUG, WAVE)
    return [x for x in links if x.department_code == code and not x.revoked]


def send(client: FlaskClient, path: str, **fields: str):  # type: ignore[no-untyped-def]
    """Post a form of the distribution page with the CSRF token the page carries."""
    token = csrf_token(client.get(BASE).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **fields})


def opened_with(wave: OpenWave, departments: list[Department]) -> str:
    """Add departments, then open a follow-up wave on them; return its page's address.

    A wave keeps the departments it opened with, so added ones join the next wave.
    """
    wave.store.put_departments(departments)
    add_wave(wave.store, SLUG, wave_id="follow-up", name="Follow-up", today=date.today())
    open_wave(wave.store, SLUG, "follow-up", today=date.today())
    return f"/admin/surveys/{SLUG}/waves/follow-up"


@pytest.fixture
def admin(client: FlaskClient, make_account, open_wave_with_links: OpenWave) -> FlaskClient:  # type: ignore[no-untyped-def]
    """Return a client signed in as an admin, on the open baseline wave."""
    make_account()
    sign_in(client)
    return client


def signed_in_as(app: Flask, make_account, role: Role, **kwargs: object) -> FlaskClient:  # type: ignore[no-untyped-def]
    """Return a fresh client signed in with a new account of ``role``."""
    email = f"{role.value}@example.com"
    make_account(email=email, role=role, **kwargs)
    client = app.test_client()
    sign_in(client, email)
    return client


# -- the distribution page ---------------------------------------------------------------


def test_the_page_lists_every_departments_link_with_its_qr_codes_and_poster(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    response = admin.get(BASE)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "This wave is open" in page and "groups of at least 5 people" in page
    for code, name, site in [("SALES", "Sales", "Aarhus"), ("WH", "Warehouse", "Hamburg")]:
        token = open_wave_with_links.token(code)
        cols = cells(page, code)
        assert cols[0].startswith(name) and code in cols[0] and cols[1] == site
        html = row(page, code)
        assert f'<code class="link-text">http://localhost/s/{token}</code>' in html
        assert f'data-copy="http://localhost/s/{token}"' in html
        assert f'href="/s/{token}/qr.svg?download=1"' in html
        assert f'href="/s/{token}/qr.png?download=1"' in html
        assert f'href="/s/{token}/poster"' in html
    assert page.count('<th scope="col">') >= 4
    assert re.search(r'<script src="/static/gen/admin\.[0-9a-f]+\.js" defer></script>', page)
    assert "<script>" not in page and "style=" not in page


def test_the_links_on_the_page_really_serve_qr_codes_and_posters(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    page = admin.get(BASE).get_data(as_text=True)
    for href in re.findall(r'href="(/s/[^"]+)"', row(page, "WH")):
        assert admin.get(href.replace("&amp;", "&")).status_code == 200, href


def test_the_page_works_with_five_hundred_departments_a_hundred_at_a_time(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    store = open_wave_with_links.store
    base = opened_with(
        open_wave_with_links,
        [Department(SLUG, f"D{n:03d}", f"Team {n}", "Oslo", 10) for n in range(498)],
    )
    page = admin.get(base).get_data(as_text=True)
    assert "500 without an open link" in page
    made = admin.post(f"{base}/links?page=1", data={"csrf_token": csrf_token(page)})
    assert made.status_code == 303
    assert len(store.list_links(SLUG, "follow-up")) == 500
    assert audit_events(open_wave_with_links, "link.create-missing")[0].detail.startswith("500")
    seen: set[str] = set()
    for number in range(1, 6):
        listed = admin.get(f"{base}?page={number}").get_data(as_text=True)
        codes = re.findall(r'<tr id="dept-([^"]+)">', listed)
        assert len(codes) == 100
        seen |= set(codes)
        assert f"page {number} of 5" in listed
    assert len(seen) == 500 and "without an open link" not in listed


def test_an_admin_adds_a_kiosk_link_that_is_marked_and_works(
    app: Flask, admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    page = admin.get(BASE).get_data(as_text=True)
    response = admin.post(
        f"{BASE}/departments/WH/kiosk-links?page=1", data={"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("#dept-WH")
    [kiosk] = [x for x in active_links(open_wave_with_links, "WH") if x.kiosk]
    html = row(admin.get(BASE).get_data(as_text=True), "WH")
    assert '<span class="tag">kiosk</span>' in html and f"/s/{kiosk.token}" in html
    assert "kiosk</span>" not in row(admin.get(BASE).get_data(as_text=True), "SALES")
    assert app.test_client().get(f"/s/{kiosk.token}").status_code == 200
    [event] = audit_events(open_wave_with_links, "link.create-kiosk")
    assert event.actor == "hr@example.com" and event.target == f"{SLUG}/{WAVE}/WH"


def test_link_actions_need_the_forms_csrf_token(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    assert admin.post(f"{BASE}/departments/WH/kiosk-links").status_code == 400
    replaced = admin.post(f"{BASE}/links/replace", data={"token": open_wave_with_links.token()})
    assert replaced.status_code == 400
    assert len(open_wave_with_links.store.list_links(SLUG, WAVE)) == 2


def test_replacing_a_leaked_link_withdraws_it_and_the_new_one_takes_answers(
    app: Flask, admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    old = open_wave_with_links.token("SALES")
    respondent = app.test_client()
    assert respondent.get(f"/s/{old}").status_code == 200  # this process has it cached now
    page = admin.get(BASE).get_data(as_text=True)
    replaced = admin.post(
        f"{BASE}/links/replace?page=1", data={"csrf_token": csrf_token(page), "token": old}
    )
    assert replaced.status_code == 303
    gone = respondent.get(f"/s/{old}")
    assert gone.status_code == 410
    assert "This link is no longer valid" in gone.get_data(as_text=True)
    [new] = active_links(open_wave_with_links, "SALES")
    assert new.token != old and not new.kiosk
    answer(app, new.token)
    [stored] = open_wave_with_links.store.list_responses(SLUG, WAVE).items
    assert stored.department_code == "SALES"
    html = row(admin.get(BASE).get_data(as_text=True), "SALES")
    assert old not in html and f"/s/{new.token}" in html
    assert "1 withdrawn link" in html
    [event] = audit_events(open_wave_with_links, "link.replace")
    assert event.target == f"{SLUG}/{WAVE}/SALES" and new.token not in event.detail


def test_a_withdrawn_link_cannot_be_replaced_twice(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    old = open_wave_with_links.token("SALES")
    assert send(admin, f"{BASE}/links/replace", token=old).status_code == 303
    again = send(admin, f"{BASE}/links/replace", token=old)
    assert again.status_code == 409
    assert len(active_links(open_wave_with_links, "SALES")) == 1


def test_a_closed_wave_offers_no_link_or_code_actions(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    close_wave(open_wave_with_links.store, SLUG, WAVE, today=date.today())
    page = admin.get(BASE).get_data(as_text=True)
    assert "This wave is closed" in page
    for button in ("Add kiosk link", "Replace link", "Download codes", "Create missing links"):
        assert button not in page
    response = send(admin, f"{BASE}/departments/WH/kiosk-links")
    assert response.status_code == 409
    assert len(open_wave_with_links.store.list_links(SLUG, WAVE)) == 2


# -- single-use codes --------------------------------------------------------------------


def test_codes_come_as_a_csv_download_once_and_each_one_answers(
    app: Flask, admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    page = admin.get(BASE).get_data(as_text=True)
    assert '<label for="department">Department</label>' in page
    assert '<label for="count">Number of codes</label>' in page
    response = admin.post(
        f"{BASE}/codes", data={"csrf_token": csrf_token(page), "department": "WH", "count": "7"}
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="codes-{SLUG}-{WAVE}-WH.csv"'
    )
    [header, *lines] = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert header == ["department", "code", "where"] and len(lines) == 7
    codes = [code for _, code, _ in lines]
    assert {dept for dept, _, _ in lines} == {"WH"} and len(set(codes)) == 7
    assert {where for _, _, where in lines} == {"http://localhost/code"}
    assert all(re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}", c) for c in codes)
    assert open_wave_with_links.store.get_access_code(hash_code(codes[0])).department_code == "WH"

    respondent = app.test_client()
    form = respondent.post("/code", data={"code": codes[0]})
    assert form.status_code == 200 and "Warehouse · Hamburg" in form.get_data(as_text=True)
    html = form.get_data(as_text=True)
    key = re.search(r'name="key" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    access = re.search(r'name="access" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    data = {"key": key, "access": access, "lang": "en", "aud": "employee", **full_answers()}
    assert respondent.post("/code/answer", data=data).status_code == 303
    # A used code opens the same questionnaire (HR must not learn whose code was used).
    assert respondent.post("/code", data={"code": codes[0]}).status_code == 200

    [event] = audit_events(open_wave_with_links, "codes.create")
    assert event.target == f"{SLUG}/{WAVE}/WH" and "7 single-use code" in event.detail
    trail = " ".join(
        f"{e.actor} {e.action} {e.target} {e.detail}"
        for e in open_wave_with_links.store.list_audit_events(limit=200).items
    )
    for code in codes:
        assert code not in trail and code.replace("-", "") not in trail


@pytest.mark.parametrize("count", ["0", "5001", "", "many"])
def test_a_code_count_outside_one_to_five_thousand_is_refused_on_the_page(
    admin: FlaskClient, open_wave_with_links: OpenWave, count: str
) -> None:
    page = admin.get(BASE).get_data(as_text=True)
    response = admin.post(
        f"{BASE}/codes", data={"csrf_token": csrf_token(page), "department": "WH", "count": count}
    )
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "There is a problem" in response.get_data(as_text=True)
    assert not audit_events(open_wave_with_links, "codes.create")


def test_codes_for_an_unknown_department_are_refused(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    page = admin.get(BASE).get_data(as_text=True)
    response = admin.post(
        f"{BASE}/codes", data={"csrf_token": csrf_token(page), "department": "NOPE", "count": "3"}
    )
    assert response.status_code == 400
    assert not audit_events(open_wave_with_links, "codes.create")


# -- the poster sheet ----------------------------------------------------------------------


def test_the_poster_sheet_has_one_poster_per_department_in_the_chosen_language(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    page = admin.get(BASE).get_data(as_text=True)
    assert f'action="{BASE}/posters"' in page and '<option value="da">Dansk</option>' in page
    response = admin.get(f"{BASE}/posters?lang=da")
    assert response.status_code == 200
    sheet = response.get_data(as_text=True)
    assert sheet.count('<section class="poster"') == 2
    assert '<html lang="da">' in sheet and "det nye CRM" in sheet
    for code in ("SALES", "WH"):
        assert sheet.count(f"localhost/s/{open_wave_with_links.token(code)}") >= 1
    [event] = audit_events(open_wave_with_links, "posters.export")
    assert event.target == f"{SLUG}/{WAVE}" and "2 poster" in event.detail and "da" in event.detail


def test_the_poster_sheet_leaves_out_withdrawn_links_and_retired_departments(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    store = open_wave_with_links.store
    page = admin.get(BASE).get_data(as_text=True)
    old = open_wave_with_links.token("SALES")
    admin.post(f"{BASE}/links/replace", data={"csrf_token": csrf_token(page), "token": old})
    store.put_departments([Department(SLUG, "WH", "Warehouse", "Hamburg", 40, retired=True)])
    sheet = admin.get(f"{BASE}/posters").get_data(as_text=True)
    assert sheet.count('<section class="poster"') == 1
    assert old not in sheet and "Warehouse" not in sheet
    assert f"localhost/s/{active_links(open_wave_with_links, 'SALES')[0].token}" in sheet


# -- participation ---------------------------------------------------------------------------


def test_participation_shows_exactly_the_counts_the_results_show(
    app: Flask, admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    answer(app, open_wave_with_links.token("SALES"), 5)
    answer(app, open_wave_with_links.token("WH"), 3)
    page = admin.get(f"{BASE}/participation").get_data(as_text=True)
    # 8 − Sales 5 would give the Warehouse's 3 away: the results hide Sales to protect
    # it and show the organisation's 8, and participation shows exactly that.
    assert cells(page, "SALES")[1:] == ["Aarhus", "12", "not shown", ""]
    assert cells(page, "WH")[1:] == ["Hamburg", "40", "not shown", ""]
    assert total_cells(page) == ["All departments", "", "52", "8", "15.4 % under 60 %"]
    assert '<th scope="col" class="num">Responses</th>' in page and "<caption>" in page


def test_a_department_with_no_responses_looks_exactly_like_one_with_three(
    app: Flask, admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    answer(app, open_wave_with_links.token("SALES"), 5)
    before = admin.get(f"{BASE}/participation").get_data(as_text=True)
    answer(app, open_wave_with_links.token("WH"), 3)
    after = admin.get(f"{BASE}/participation").get_data(as_text=True)
    assert row(after, "WH") == row(before, "WH")
    assert total_cells(after) == total_cells(before)
    # The sign-out form's CSRF token is signed with the time: two renders a second apart
    # differ there, and only there.
    token = re.compile(r'name="csrf_token" value="[^"]*"')
    assert token.sub("", before) == token.sub("", after)


def test_participation_shows_rates_flags_and_the_total_when_it_is_safe(
    app: Flask, admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    answer(app, open_wave_with_links.token("SALES"), 8)
    answer(app, open_wave_with_links.token("WH"), 5)
    page = admin.get(f"{BASE}/participation").get_data(as_text=True)
    assert cells(page, "SALES")[3:] == ["8", "66.7 %"]
    assert cells(page, "WH")[3:] == ["5", "12.5 % under 60 %"]
    assert '<span class="flag">under 60 %</span>' in row(page, "WH")
    assert "flag" not in row(page, "SALES")
    assert total_cells(page) == ["All departments", "", "52", "13", "25.0 % under 60 %"]


def test_a_department_without_headcount_says_so(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    base = opened_with(open_wave_with_links, [Department(SLUG, "HR", "People", "Aarhus", 0)])
    page = admin.get(f"{base}/participation").get_data(as_text=True)
    assert cells(page, "HR")[2:] == ["0", "not shown", "no headcount"]
    assert re.findall(r'<tr id="dept-([^"]+)">', page) == ["HR", "SALES", "WH"]


def test_the_participation_csv_is_the_same_hidden_table_and_is_audited(
    app: Flask, admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    answer(app, open_wave_with_links.token("SALES"), 5)
    answer(app, open_wave_with_links.token("WH"), 3)
    response = admin.get(f"{BASE}/participation.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    lines = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert lines == [
        ["department", "name", "site", "retired", "headcount", "responses",
         "response_rate_percent", "under_60_percent", "more_than_headcount"],
        ["SALES", "Sales", "Aarhus", "", "12", "not shown", "", "", ""],
        ["WH", "Warehouse", "Hamburg", "", "40", "not shown", "", "", ""],
        ["TOTAL", "All departments", "", "", "52", "8", "15.4", "yes", ""],
    ]  # fmt: skip
    [event] = audit_events(open_wave_with_links, "participation.export")
    assert event.actor == "hr@example.com" and event.target == f"{SLUG}/{WAVE}"


def test_a_department_name_cannot_smuggle_a_formula_into_the_csv(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    department = Department(SLUG, "X1", '=HYPERLINK("http://evil")', "+Oslo", 5)
    base = opened_with(open_wave_with_links, [department])
    exported = admin.get(f"{base}/participation.csv").data.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(exported)))
    [x1] = [line for line in lines if line[0] == "X1"]
    assert x1[1].startswith("'=") and x1[2] == "'+Oslo"


def test_a_department_viewer_sees_only_their_departments(
    app: Flask, make_account, open_wave_with_links: OpenWave
) -> None:  # type: ignore[no-untyped-def]
    answer(app, open_wave_with_links.token("SALES"), 6)
    answer(app, open_wave_with_links.token("WH"), 5)
    reader = signed_in_as(app, make_account, Role.DEPARTMENT_VIEWER, departments=[f"{SLUG}/WH"])
    page = reader.get(f"{BASE}/participation").get_data(as_text=True)
    assert re.findall(r'<tr id="dept-([^"]+)">', page) == ["WH"]
    assert "Sales" not in page and "Aarhus" not in page
    # No total over the reader's own mix of departments: two readers could subtract theirs.
    assert total_cells(page)[:4] == ["Your departments", "", "40", "not shown"]
    assert "Links and posters" not in page
    exported = reader.get(f"{BASE}/participation.csv").data.decode("utf-8-sig")
    assert "SALES" not in exported and "WH,Warehouse" in exported
    assert reader.get(BASE).status_code == 403


def test_a_department_viewer_of_another_survey_gets_nothing(
    app: Flask, make_account, open_wave_with_links: OpenWave
) -> None:  # type: ignore[no-untyped-def]
    reader = signed_in_as(app, make_account, Role.DEPARTMENT_VIEWER, departments=["other/WH"])
    assert reader.get(f"{BASE}/participation").status_code == 403
    assert reader.get(f"{BASE}/participation.csv").status_code == 403
    assert not audit_events(open_wave_with_links, "participation.export")


def test_a_viewer_reads_participation_but_cannot_hand_out_links_or_codes(
    app: Flask, make_account, open_wave_with_links: OpenWave
) -> None:  # type: ignore[no-untyped-def]
    viewer = signed_in_as(app, make_account, Role.VIEWER)
    page = viewer.get(f"{BASE}/participation")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.findall(r'<tr id="dept-([^"]+)">', html) == ["SALES", "WH"]
    token = csrf_token(html)
    assert viewer.get(BASE).status_code == 403
    assert viewer.get(f"{BASE}/posters").status_code == 403
    codes = viewer.post(
        f"{BASE}/codes", data={"csrf_token": token, "department": "WH", "count": "3"}
    )
    assert codes.status_code == 403
    kiosk = viewer.post(f"{BASE}/departments/WH/kiosk-links", data={"csrf_token": token})
    assert kiosk.status_code == 403
    assert not audit_events(open_wave_with_links, "codes.create")
    assert len(open_wave_with_links.store.list_links(SLUG, WAVE)) == 2


@pytest.mark.parametrize(
    "path", [BASE, f"{BASE}/posters", f"{BASE}/participation", f"{BASE}/participation.csv"]
)
def test_anonymous_visitors_are_sent_to_sign_in(
    client: FlaskClient, open_wave_with_links: OpenWave, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/login?next={path}"


def test_an_unknown_wave_is_not_found(admin: FlaskClient) -> None:
    assert admin.get(f"/admin/surveys/{SLUG}/waves/nope").status_code == 404
    assert admin.get(f"/admin/surveys/{SLUG}/waves/nope/participation").status_code == 404
