"""More responses than headcount is flagged for HR wherever the response rate is shown."""

from __future__ import annotations

import csv
import io

from flask import Flask
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.domain.entities import Audience, Department
from portal.domain.participation import department_figures, exceeds_headcount
from portal.instruments import get_questionnaire
from tests.builders import make_response
from tests.web.conftest import OpenWave, sign_in
from tests.web.test_admin_distribution import cells
from tests.web.test_api import create_token

SLUG, WAVE = "crm-rollout", "baseline"
BASE = f"/admin/surveys/{SLUG}/waves/{WAVE}"
FLAG = "more responses than headcount"


def answer(wave: OpenWave, department: str, count: int) -> None:
    """Store ``count`` complete employee responses for a department."""
    items = get_questionnaire("change-readiness").items_for(Audience.EMPLOYEE)
    for n in range(count):
        wave.store.add_response(
            make_response(department_code=department, answers={i.id: 1 + n % 5 for i in items})
        )


def stuffed(wave: OpenWave, *, tiny: bool = True) -> None:
    """Sales (headcount 12) gets 13 responses, Warehouse (40) 20, Tiny (2) a hidden 3."""
    answer(wave, "SALES", 13)
    answer(wave, "WH", 20)
    if tiny:
        wave.store.put_departments([Department(SLUG, "TINY", "Tiny team", "Oslo", 2)])
        answer(wave, "TINY", 3)


def test_the_rule_counts_people_and_never_judges_a_hidden_count() -> None:
    assert exceeds_headcount(13, 12) and not exceeds_headcount(12, 12)
    assert exceeds_headcount(10_001, 10_000)  # 100.0 % once cut off, still more than people
    assert not exceeds_headcount(5, 0)  # no headcount: nothing to measure against
    assert department_figures(13, 12).over_headcount
    assert not department_figures(None, 2).over_headcount  # hidden: says nothing about it


def test_the_participation_page_and_csv_flag_a_rate_above_100(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    stuffed(open_wave_with_links, tiny=False)  # a hidden department would hide another one
    page = admin.get(f"{BASE}/participation").get_data(as_text=True)
    assert cells(page, "SALES")[3:] == ["13", f"108.3 % {FLAG}"]
    assert FLAG not in " ".join(cells(page, "WH"))
    assert "check the department’s headcount" in page
    lines = list(csv.reader(io.StringIO(admin.get(f"{BASE}/participation.csv").data.decode())))
    header, flags = lines[0], {line[0]: line[-1] for line in lines[1:]}
    assert header[-1] == "more_than_headcount"
    assert flags == {"SALES": "yes", "WH": "", "TOTAL": ""}


def test_a_participation_page_without_excess_has_no_flag(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    answer(open_wave_with_links, "SALES", 12)
    answer(open_wave_with_links, "WH", 5)  # else the results hide Sales: Hamburg would be 0
    page = admin.get(f"{BASE}/participation").get_data(as_text=True)
    assert "100.0 %" in page and FLAG not in page and "More responses than headcount" not in page


def test_results_scorecard_and_api_flag_it_too(
    app: Flask, admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    stuffed(open_wave_with_links, tiny=False)  # a hidden department would hide another one
    overview = admin.get(f"{BASE}/results").get_data(as_text=True)
    assert FLAG in overview
    department = admin.get(f"{BASE}/results/departments/SALES").get_data(as_text=True)
    assert FLAG in department
    assert FLAG not in admin.get(f"{BASE}/results/departments/WH").get_data(as_text=True)
    sheet = admin.get(f"{BASE}/scorecard?unit=SALES").get_data(as_text=True)
    assert "More responses than headcount: check the headcount" in sheet
    pdf = admin.get(f"{BASE}/scorecard.pdf?unit=SALES")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    token = create_token(admin)
    body = (
        app.test_client()
        .get(
            f"/api/v1/surveys/{SLUG}/waves/{WAVE}/results",
            headers={"Authorization": f"Bearer {token}"},
        )
        .get_json()
    )
    flags = {r["key"]: r["result"]["more_responses_than_headcount"] for r in body["rows"]
             if r["result"] is not None and r["kind"] == "department"}  # fmt: skip
    assert flags["SALES"] is True and flags["WH"] is False


def test_a_viewer_sees_the_flag_on_their_department(
    app: Flask,
    make_account,
    open_wave_with_links: OpenWave,  # type: ignore[no-untyped-def]
) -> None:
    stuffed(open_wave_with_links, tiny=False)
    make_account(
        "viewer@example.com", Role.DEPARTMENT_VIEWER, departments=frozenset({f"{SLUG}/SALES"})
    )
    viewer = app.test_client()
    sign_in(viewer, "viewer@example.com")
    page = viewer.get(f"{BASE}/participation").get_data(as_text=True)
    assert cells(page, "SALES")[3:] == ["13", f"108.3 % {FLAG}"]
