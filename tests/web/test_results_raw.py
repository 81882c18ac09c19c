"""The raw anonymous export: admins only, comments only when asked, small groups coarsened."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.domain.anonymity import AUDIENCES, Group, Structure, disclose
from portal.domain.entities import Audience
from portal.services.raw_export import DONT_KNOW, LEADING, export_raw_responses
from portal.storage.port import Store
from tests.builders import make_response
from tests.web.conftest import csrf_token, sign_in
from tests.web.test_results import (
    QUESTIONNAIRE,
    SLUG,
    STANDARD,
    make_organisation,
    parse_csv,
)
from tests.web.test_results_attacks import CASES, Cells

K = 5
MakeAccount = Callable[..., object]
BASE = f"/admin/surveys/{SLUG}/waves/baseline/results"
LABEL = "Raw anonymous responses — for analysis, handle with care"
#: Two departments of one site: nothing empty next to them to hide them by subtraction.
TWO = {"SALES": ("Sales", "Aarhus", 20), "MKT": ("Marketing", "Aarhus", 20)}


def download(client: FlaskClient, *, comments: bool) -> tuple[str, str]:
    """Open the raw-export page, post its form; return the file name and CSV text."""
    page = client.get(f"{BASE}/raw")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    data = {"csrf_token": csrf_token(page.get_data(as_text=True))}
    if comments:
        data["include_comments"] = "y"
    response = client.post(f"{BASE}/raw.csv", data=data)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    name = re.search(r'filename="([^"]+)"', disposition)
    assert name is not None
    return name.group(1), response.get_data(as_text=True)


def add_comments(store: Store, code: str, audience: Audience, comments: list[str]) -> None:
    """Store one more response per comment in a department."""
    for comment in comments:
        store.add_response(
            make_response(
                survey_slug=SLUG,
                wave_id="baseline",
                department_code=code,
                audience=audience,
                day=date.today(),
                answers={i.id: 3 for i in QUESTIONNAIRE.items_for(audience)},
                comment=comment,
            )
        )


# -- who may download ------------------------------------------------------------------


def test_the_overview_links_admins_to_the_clearly_labelled_export(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD)
    page = admin.get(BASE).get_data(as_text=True)
    assert LABEL in page and f'href="{BASE}/raw"' in page
    assert LABEL in admin.get(f"{BASE}/raw").get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEPARTMENT_VIEWER])
def test_viewers_neither_see_nor_reach_the_raw_export(
    client: FlaskClient, make_account: MakeAccount, store: Store, role: Role
) -> None:
    make_organisation(store, STANDARD)
    scope = (f"{SLUG}/SALES",) if role is Role.DEPARTMENT_VIEWER else ()
    make_account("reader@example.com", role, departments=scope)
    sign_in(client, "reader@example.com")
    assert "Raw anonymous" not in client.get(BASE).get_data(as_text=True)
    assert client.get(f"{BASE}/raw").status_code == 403
    page = client.get("/admin/tokens").get_data(as_text=True)  # any page with a CSRF token
    refused = client.post(f"{BASE}/raw.csv", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 403
    assert not [e for e in store.list_audit_events(limit=50).items if "raw" in e.action]


def test_a_post_without_the_csrf_token_is_refused_and_not_audited(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD)
    response = admin.post(f"{BASE}/raw.csv", data={"include_comments": "y"})
    assert response.status_code == 400
    assert not [e for e in store.list_audit_events(limit=50).items if "raw" in e.action]


def test_an_unknown_wave_is_not_found(admin: FlaskClient, store: Store) -> None:
    make_organisation(store, STANDARD)
    assert admin.get(f"/admin/surveys/{SLUG}/waves/nope/results/raw").status_code == 404


# -- what the file holds -----------------------------------------------------------------


def test_without_comments_the_file_has_no_comment_column_and_the_audit_says_so(
    admin: FlaskClient, store: Store
) -> None:
    responses = make_organisation(store, {"SALES": (6, 5), "MKT": (5, 5)}, departments=TWO)
    add_comments(store, "SALES", Audience.EMPLOYEE, ["A SECRET REMARK"])
    name, text = download(admin, comments=False)
    assert name == f"raw-responses-{SLUG}-baseline-without-comments.csv"
    rows = parse_csv(text)
    assert rows[0] == [*LEADING, *(i.id for i in QUESTIONNAIRE.items)]
    assert len(rows) == 1 + len(responses) + 1
    assert "A SECRET REMARK" not in text
    event = next(e for e in store.list_audit_events(limit=50).items if "raw" in e.action)
    assert event.actor == "hr@example.com" and event.target == f"{SLUG}/baseline"
    assert "comments left out" in event.detail and f"{len(responses) + 1} row(s)" in event.detail


def test_each_row_holds_the_answers_as_given_with_dont_know_coded(
    admin: FlaskClient, store: Store
) -> None:
    responses = make_organisation(store, {"SALES": (6, 5), "MKT": (5, 5)}, departments=TWO)
    _, text = download(admin, comments=False)
    header, *body = parse_csv(text)
    expected = Counter()
    for r in responses:
        given = {k: DONT_KNOW if v is None else str(v) for k, v in r.answers.items()}
        answers = [given.get(i.id, "") for i in QUESTIONNAIRE.items]
        site = "Aarhus"
        expected[("baseline", r.department_code, site, r.audience.value, "en",
                  r.day.isoformat(), *answers)] += 1  # fmt: skip
    assert Counter(tuple(row) for row in body) == expected
    assert any(DONT_KNOW in row for row in body)
    manager_only = header.index(next(i.id for i in QUESTIONNAIRE.items if i.audience == "manager"))
    assert {row[manager_only] for row in body if row[3] == "employee"} == {""}


def test_comments_come_only_when_ticked_formula_safe_and_audited(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, {"SALES": (6, 5), "MKT": (5, 5)}, departments=TWO)
    add_comments(store, "SALES", Audience.EMPLOYEE, ["More training, please", "=HYPERLINK(1)"])
    name, text = download(admin, comments=True)
    assert name.endswith("-with-comments.csv")
    header, *body = parse_csv(text)
    assert header[-1] == "comment"
    comments = sorted(row[-1] for row in body if row[-1])
    assert comments == ["'=HYPERLINK(1)", "More training, please"]
    event = next(e for e in store.list_audit_events(limit=50).items if "raw" in e.action)
    assert "comments included" in event.detail


def test_small_departments_lose_their_code_and_small_sites_their_name(
    admin: FlaskClient, store: Store
) -> None:
    responses = make_organisation(store, STANDARD)
    _, text = download(admin, comments=False)
    body = parse_csv(text)[1:]
    codes = {row[1] for row in body}
    # TINY (3), FEW (4): too small; WH has only 2 managers, so neither half keeps the code;
    # OPS's 5 managers would leave Hamburg's other 2 to subtraction, so its halves hide too.
    assert codes == {"SALES", "MKT", ""}
    assert {row[2] for row in body if row[1] == ""} == {"Hamburg"}
    assert len(body) == len(responses)
    labels = Counter((row[1], row[2], row[3]) for row in body)
    assert all(n >= K for n in labels.values()), labels


# -- the rule on random organisations -------------------------------------------------------


@pytest.mark.parametrize(("site_of", "cells"), CASES)
def test_every_label_in_the_file_covers_0_or_at_least_k_people_and_adds_no_count(
    app: Flask, site_of: Mapping[str, str], cells: Cells
) -> None:
    store: Store = app.extensions["portal.store"]
    departments = {code: (f"Dept {code}", site, 10) for code, site in site_of.items()}
    make_organisation(store, cells, departments=departments)
    export = export_raw_responses(store, SLUG, "baseline", actor="t@example.com",
                                  include_comments=False)  # fmt: skip
    body = parse_csv(export.text)[1:]
    structure = Structure(dict(site_of))
    counts = {(d, a): cells[d][i] for d in site_of for i, a in enumerate(AUDIENCES)}
    present = {a for (_, a), n in counts.items() if n}
    # With one audience alone, its rows are everybody's: all-audience groups apply.
    labels = Counter(
        (row[1], row[2], None if len(present) == 1 else Audience(row[3])) for row in body
    )
    assert all(n >= K for n in labels.values()), labels

    # Every label's count is one the pages publish, or a difference of published counts.
    decision = disclose(structure, counts, K)
    for (code, site, audience), n in labels.items():
        if code:
            assert decision.count(Group(department=code, audience=audience)) == n
            continue
        shown_departments = [
            d for d in site_of
            if (site == "" or site_of[d] == site)
            and decision.visible(Group(department=d, audience=audience))
        ]  # fmt: skip
        if site:
            total = decision.count(Group(site=site, audience=audience))
            covered = sum(decision.count(Group(department=d, audience=audience)) or 0
                          for d in shown_departments)  # fmt: skip
        else:
            total = decision.count(Group(audience=audience))
            shown_sites = [s for s in structure.sites
                           if decision.visible(Group(site=s, audience=audience))]  # fmt: skip
            covered = sum(decision.count(Group(site=s, audience=audience)) or 0
                          for s in shown_sites)  # fmt: skip
            covered += sum(decision.count(Group(department=d, audience=audience)) or 0
                           for d in shown_departments if site_of[d] not in shown_sites)  # fmt: skip
        assert total is not None and total - covered == n, (code, site, audience)
    # A row is left out only when its whole audience is too small to publish.
    for audience in AUDIENCES if len(present) != 1 else (None,):
        written = sum(n for (_, _, a), n in labels.items() if a is audience)
        everyone = sum(n for (_, a), n in counts.items() if audience in (None, a))
        assert written == (everyone if decision.visible(Group(audience=audience)) else 0)


def test_reads_every_page_of_a_large_wave(app: Flask) -> None:
    store: Store = app.extensions["portal.store"]
    make_organisation(store, {"SALES": (700, 0), "MKT": (600, 0)})
    export = export_raw_responses(store, SLUG, "baseline", actor="t@example.com",
                                  include_comments=False)  # fmt: skip
    assert export.rows == 1300
    assert len(parse_csv(export.text)) == 1301
