"""The raw anonymous export: admins only, closed waves only, comments only when asked.

Which rows and labels may be exported is attacked in ``test_raw_export_safety.py``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import date
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.domain.entities import Audience
from portal.services.raw_export import (
    DONT_KNOW,
    HIDDEN,
    LEADING,
    NOT_CLOSED,
    NOT_FINAL,
    UNPAIRED,
    export_raw_responses,
)
from portal.services.surveys import close_wave
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


def close(store: Store) -> None:
    """Close the baseline wave (the raw export is for closed waves only)."""
    close_wave(store, SLUG, "baseline", today=date.today())


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


# -- closed waves only ------------------------------------------------------------------


def test_an_open_wave_offers_no_download_and_says_why(admin: FlaskClient, store: Store) -> None:
    make_organisation(store, {"SALES": (6, 5), "MKT": (5, 5)}, departments=TWO)
    page = admin.get(f"{BASE}/raw")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert NOT_CLOSED.split(":")[0] in html
    assert re.search(r'<button type="submit" disabled aria-describedby="raw-refused">', html)
    refused = admin.post(f"{BASE}/raw.csv", data={"csrf_token": csrf_token(html)})
    assert refused.status_code == 409
    assert "once the wave is closed" in refused.get_data(as_text=True)
    assert not [e for e in store.list_audit_events(limit=50).items if "raw" in e.action]


def test_a_closed_wave_whose_figures_miss_an_answer_is_refused(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, {"SALES": (6, 5), "MKT": (5, 5)}, departments=TWO)
    close(store)
    assert admin.get(BASE).status_code == 200  # the published state is computed now
    add_comments(store, "SALES", Audience.EMPLOYEE, ["late"])  # stored after it
    with pytest.raises(Exception, match="after its figures were last published"):
        export_raw_responses(store, SLUG, "baseline", actor="a@example.com",
                             include_comments=False)  # fmt: skip
    assert NOT_FINAL.split(",")[0] in admin.get(f"{BASE}/raw").get_data(as_text=True)


# -- what the file holds -----------------------------------------------------------------


def test_without_comments_the_file_has_no_comment_column_and_the_audit_says_so(
    admin: FlaskClient, store: Store
) -> None:
    responses = make_organisation(store, {"SALES": (6, 5), "MKT": (5, 5)}, departments=TWO)
    add_comments(store, "SALES", Audience.EMPLOYEE, ["A SECRET REMARK"])
    close(store)
    name, text = download(admin, comments=False)
    assert name == f"raw-responses-{SLUG}-baseline-without-comments.csv"
    rows = parse_csv(text)
    assert rows[0] == [*LEADING, *(i.id for i in QUESTIONNAIRE.items)]
    assert "day" not in rows[0]
    assert len(rows) == 1 + len(responses) + 1
    assert "A SECRET REMARK" not in text
    event = next(e for e in store.list_audit_events(limit=50).items if "raw" in e.action)
    assert event.actor == "hr@example.com" and event.target == f"{SLUG}/baseline"
    assert "comments left out" in event.detail and f"{len(responses) + 1} row(s)" in event.detail


def test_each_row_holds_the_answers_as_given_with_dont_know_coded(
    admin: FlaskClient, store: Store
) -> None:
    responses = make_organisation(store, {"SALES": (6, 5), "MKT": (5, 5)}, departments=TWO)
    close(store)
    _, text = download(admin, comments=False)
    header, *body = parse_csv(text)
    expected = Counter()
    for r in responses:
        given = {k: DONT_KNOW if v is None else str(v) for k, v in r.answers.items()}
        answers = [given.get(i.id, "") for i in QUESTIONNAIRE.items]
        expected[("baseline", r.department_code, "Aarhus", r.audience.value, "en",
                  *answers)] += 1  # fmt: skip
    assert Counter(tuple(row) for row in body) == expected
    assert any(DONT_KNOW in row for row in body)
    manager_only = header.index(next(i.id for i in QUESTIONNAIRE.items if i.audience == "manager"))
    assert {row[manager_only] for row in body if row[3] == "employee"} == {""}
    assert body == sorted(body, key=lambda row: (row[2], row[1], row[3], row))


def test_comments_come_only_when_ticked_formula_safe_and_audited(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, {"SALES": (8, 10), "MKT": (5, 5)}, departments=TWO)
    add_comments(store, "SALES", Audience.EMPLOYEE, ["More training, please", "=HYPERLINK(1)"])
    add_comments(store, "MKT", Audience.EMPLOYEE, ["Marketing's only remark"])
    close(store)
    name, text = download(admin, comments=True)
    assert name.endswith("-with-comments.csv")
    header, *body = parse_csv(text)
    assert header[-1] == "comment"
    comments = sorted(row[-1] for row in body if row[-1])
    # Marketing's managers are fewer than the comment minimum (10): its comments stay out,
    # or its department page's comment list minus the file's would be its managers'.
    assert comments == ["'=HYPERLINK(1)", "More training, please"]
    assert "Marketing's only remark" not in text
    event = next(e for e in store.list_audit_events(limit=50).items if "raw" in e.action)
    assert "comments included" in event.detail


def test_only_departments_with_both_halves_published_are_in_the_file(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD)
    close(store)
    page = unescape(admin.get(f"{BASE}/raw").get_data(as_text=True))
    _, text = download(admin, comments=False)
    body = parse_csv(text)[1:]
    # WH has only 2 managers; OPS's 5 managers would leave Hamburg's other 2 to subtraction;
    # TINY (3) and FEW (4) are hidden. Only SALES and MKT have both halves published.
    assert Counter((row[1], row[2], row[3]) for row in body) == {
        ("SALES", "Aarhus", "employee"): 9,
        ("SALES", "Aarhus", "manager"): 6,
        ("MKT", "Aarhus", "employee"): 8,
        ("MKT", "Aarhus", "manager"): 5,
    }
    # Left out, per reason, with counts the pages publish anyway: WH 14 + OPS 15 are shown
    # without their halves; 7 = Hamburg 36 − WH − OPS are hidden.
    assert f"29 row(s) left out because {UNPAIRED}" in page
    assert f"7 row(s) left out because {HIDDEN}" in page
    event = next(e for e in store.list_audit_events(limit=50).items if "raw" in e.action)
    assert f"29 left out because {UNPAIRED}" in event.detail
    assert f"7 left out because {HIDDEN}" in event.detail


def test_a_wave_too_small_to_publish_gives_an_empty_file_without_a_count(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, {"SALES": (2, 1), "MKT": (1, 0)}, departments=TWO)
    close(store)
    page = admin.get(f"{BASE}/raw").get_data(as_text=True)
    plan = unescape(page[page.index('<ul id="raw-plan">') :].split("</ul>")[0])
    assert "0 row(s): the wave's figures are not published" in plan
    assert re.findall(r"\d+", plan) == ["0"]  # the 4 responses are not counted anywhere
    _, text = download(admin, comments=False)
    assert len(parse_csv(text)) == 1


def test_reads_every_page_of_a_large_wave(app: Flask) -> None:
    store: Store = app.extensions["portal.store"]
    make_organisation(store, {"SALES": (700, 0), "MKT": (600, 0)}, departments=TWO)
    close(store)
    export = export_raw_responses(store, SLUG, "baseline", actor="t@example.com",
                                  include_comments=False)  # fmt: skip
    # Nobody of the managers answered: the departments themselves are the label groups.
    assert export.rows == 1300
    assert len(parse_csv(export.text)) == 1301
