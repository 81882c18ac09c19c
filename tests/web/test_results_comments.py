"""Comments on department pages: only where the comment decision allows, shuffled, texts only."""

from __future__ import annotations

import io
import random
import re
import zipfile
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.domain.anonymity import AUDIENCES, Group, Structure, disclose
from portal.domain.entities import Audience
from portal.services import readiness, results
from portal.storage.port import Store
from tests.builders import make_response
from tests.web.conftest import sign_in
from tests.web.test_results import QUESTIONNAIRE, SLUG, make_organisation
from tests.web.test_results_attacks import CASES, Cells

MakeAccount = Callable[..., object]
BASE = f"/admin/surveys/{SLUG}/waves/baseline/results"
#: Sales is large enough for comments (10 by default), Marketing only for numbers.
DEPARTMENTS = {
    "SALES": ("Sales", "Aarhus", 30),
    "MKT": ("Marketing", "Aarhus", 20),
    "OPS": ("Operations", "Aarhus", 20),
}
CELLS = {"SALES": (8, 5), "MKT": (4, 4), "OPS": (6, 5)}


def comment(store: Store, code: str, text: str, audience: Audience = Audience.EMPLOYEE) -> None:
    """Store one more response, with a comment, in a department."""
    store.add_response(
        make_response(
            survey_slug=SLUG,
            wave_id="baseline",
            department_code=code,
            audience=audience,
            day=date.today(),
            answers={i.id: 4 for i in QUESTIONNAIRE.items_for(audience)},
            comment=text,
        )
    )


def shown_comments(page: str) -> list[str] | None:
    """Return the comments a department page lists, or ``None`` when it lists none."""
    block = re.search(r'<ul class="comments" id="comments">(.*?)</ul>', page, re.S)
    if block is None:
        return None
    return re.findall(r"<li>(.*?)</li>", block.group(1), re.S)


def page_of(client: FlaskClient, code: str) -> str:
    """Return a department page that must open."""
    response = client.get(f"{BASE}/departments/{code}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


@pytest.fixture
def commented(store: Store) -> None:
    """Sales (15 people) and Marketing (9) have comments; Operations (11) none."""
    make_organisation(store, CELLS, departments=DEPARTMENTS)
    for text in ("Sales one", "Sales two", "Sales & <three>"):
        comment(store, "SALES", text)
    comment(store, "SALES", "A manager's view", Audience.MANAGER)
    comment(store, "MKT", "Marketing secret")


def test_a_department_large_enough_shows_its_comments_as_written(
    admin: FlaskClient, commented: None
) -> None:
    page = page_of(admin, "SALES")
    shown = shown_comments(page)
    assert shown is not None
    assert sorted(shown) == sorted(
        ["Sales one", "Sales two", "Sales &amp; &lt;three&gt;", "A manager&#39;s view"]
    )
    assert "In random order, without dates" in page


def test_a_department_below_the_comment_threshold_shows_none(
    admin: FlaskClient, commented: None
) -> None:
    page = page_of(admin, "MKT")  # 9 people: numbers yes, comments no
    assert '<span class="heat-value">' in page
    assert shown_comments(page) is None and "Marketing secret" not in page
    assert 'id="comments-withheld"' in page and "at least 10 responses" in page


def test_a_department_without_comments_says_so(admin: FlaskClient, commented: None) -> None:
    page = page_of(admin, "OPS")
    assert shown_comments(page) is None and 'id="no-comments"' in page


def test_comments_are_shuffled_and_carry_nothing_but_their_text(
    store: Store, commented: None
) -> None:
    report, row = readiness.department_results(store, SLUG, "baseline", "SALES")
    orders = {
        readiness.department_comments(report, row, random.Random(seed)).texts for seed in range(20)
    }
    assert len(orders) > 1
    assert all(sorted(order) == sorted(next(iter(orders))) for order in orders)
    assert all(isinstance(text, str) for text in next(iter(orders)))


def test_a_department_viewer_sees_their_own_departments_comments_only(
    client: FlaskClient, make_account: MakeAccount, commented: None
) -> None:
    make_account("dv@example.com", Role.DEPARTMENT_VIEWER, departments=(f"{SLUG}/SALES",))
    sign_in(client, "dv@example.com")
    assert shown_comments(page_of(client, "SALES")) is not None
    assert client.get(f"{BASE}/departments/MKT").status_code == 403


def test_comments_go_into_no_aggregated_output(
    app: Flask, admin: FlaskClient, make_account: MakeAccount, commented: None
) -> None:
    texts = ("Sales one", "Marketing secret")
    for path in ("", ".csv"):
        body = admin.get(BASE + path).get_data(as_text=True)
        assert not any(t in body for t in texts), path
    workbook = zipfile.ZipFile(
        io.BytesIO(admin.get(f"{BASE.removesuffix('/results')}/results.xlsx").data)
    )
    assert not any(t.encode() in workbook.read(n) for n in workbook.namelist() for t in texts)
    from tests.web.test_api import api, token_for

    secret = token_for(app, make_account, "api@example.com", Role.VIEWER)
    api_base = f"/api/v1/surveys/{SLUG}/waves/baseline/results"
    for path in ("", "/departments/SALES", "/departments/MKT"):
        assert not any(t in api(app, api_base + path, secret).get_data(as_text=True) for t in texts)


def test_a_department_with_more_comments_than_the_cell_keeps_says_how_many_are_left_out(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, {"SALES": (5, 5), "MKT": (5, 5)}, departments=DEPARTMENTS)
    for n in range(32):
        comment(store, "SALES", f"{n:02d} " + "x" * 4990)  # 32 × ~5 KB > 150 KB
    page = page_of(admin, "SALES")
    shown = shown_comments(page)
    assert shown is not None and 25 <= len(shown) < 32
    assert f"{32 - len(shown)} more comments were left out" in page


def test_a_stored_snapshots_comments_are_read_for_the_page_being_viewed(
    admin: FlaskClient, store: Store, commented: None
) -> None:
    results.refresh_snapshot(store, SLUG, "baseline", now=datetime.now(UTC))
    shown = shown_comments(page_of(admin, "SALES"))  # read from the store, not recomputed
    assert shown is not None and "Sales one" in shown and "Marketing secret" not in shown
    assert shown_comments(page_of(admin, "MKT")) is None


def test_comments_of_a_snapshot_replaced_while_the_page_was_built_are_not_shown(
    store: Store, commented: None
) -> None:
    results.refresh_snapshot(store, SLUG, "baseline", now=datetime.now(UTC))
    report, row = readiness.department_results(store, SLUG, "baseline", "SALES")
    comment(store, "SALES", "arrived meanwhile")
    results.refresh_snapshot(store, SLUG, "baseline", now=datetime.now(UTC))
    late = readiness.department_comments(report, row)
    assert not late.shown and late.texts == ()
    report, row = readiness.department_results(store, SLUG, "baseline", "SALES")
    assert "arrived meanwhile" in readiness.department_comments(report, row).texts


# -- the decision on random organisations ---------------------------------------------------


@pytest.mark.parametrize(("site_of", "cells"), CASES)
def test_pages_show_comments_exactly_for_published_departments_of_ten_or_more(
    app: Flask, admin: FlaskClient, site_of: Mapping[str, str], cells: Cells
) -> None:
    store: Store = app.extensions["portal.store"]
    departments = {code: (f"Dept {code}", site, 10) for code, site in site_of.items()}
    # Doubled, so that many departments reach the comment threshold of 10.
    doubled = {code: (2 * e, 2 * m) for code, (e, m) in cells.items()}
    make_organisation(store, doubled, departments=departments)
    for code, (employees, managers) in doubled.items():
        if employees + managers:
            audience = Audience.EMPLOYEE if employees else Audience.MANAGER
            comment(store, code, f"said in {code}", audience)
            doubled[code] = (
                employees + (audience is Audience.EMPLOYEE),
                managers + (audience is Audience.MANAGER),
            )
    structure = Structure(dict(site_of))
    counts = {(d, a): doubled[d][i] for d in site_of for i, a in enumerate(AUDIENCES)}
    decision = disclose(structure, counts, 5)
    for code in site_of:
        shown = shown_comments(page_of(admin, code))
        # Only disjoint department lists are shown: published and at least 10 people.
        if (decision.count(Group(department=code)) or 0) >= 10:
            assert shown == [f"said in {code}"], code
            assert sum(doubled[code]) >= 10
        else:
            assert shown is None, code
