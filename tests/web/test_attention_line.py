"""One "needs attention" line everywhere: the survey's own setting, on every output.

A department whose levers all score 62 has no barrier and "fair" bands with
the default line of 60, and every lever "needs attention" (the first is the
barrier, lights red) once the survey sets its line at 65 — on the overview,
the department page, their charts, the CSV, the workbook, the API and the
scorecard alike.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from portal.domain.accounts import Role
from portal.domain.entities import Audience
from portal.domain.scorecard import ScorecardSettings
from portal.instruments import get_questionnaire
from portal.services.readiness import band
from portal.services.surveys import add_wave, create_survey, open_wave
from portal.storage.port import Store
from tests.builders import make_response
from tests.web.test_api import api, token_for
from tests.web.test_dashboard_charts import heat_bands
from tests.web.test_results import SLUG, departments_csv
from tests.web.test_results_chart_data import charts

WAVE = "baseline"
BASE = f"/admin/surveys/{SLUG}/waves/{WAVE}"
QUESTIONNAIRE = get_questionnaire("change-readiness")
DEPARTMENTS = {"ALPHA": ("Alpha", "Aarhus", 12), "BETA": ("Beta", "Aarhus", 12)}
#: The first non-outcome lever: the barrier when every lever is under the line.
FIRST = next(lever.id for lever in QUESTIONNAIRE.levers if not lever.outcome)


def sixty_two_everywhere(store: Store) -> None:
    """Create ALPHA and BETA, ten employees each, half agreeing (4) and half neutral (3).

    Reverse items get the mirrored answers, so every lever's index is 62.5.
    """
    today = date.today()
    create_survey(
        store,
        slug=SLUG,
        title="CRM rollout",
        system_name={"en": "the new CRM"},
        today=today,
        departments_csv=departments_csv(DEPARTMENTS),
    )
    add_wave(store, SLUG, wave_id=WAVE, name="Baseline", today=today)
    open_wave(store, SLUG, WAVE, today=today)
    for code in DEPARTMENTS:
        for n in range(10):
            value = 4 if n % 2 else 3
            answers: dict[str, int | None] = {
                item.id: 6 - value if item.reverse else value
                for item in QUESTIONNAIRE.items_for(Audience.EMPLOYEE)
            }
            store.add_response(
                make_response(
                    survey_slug=SLUG, wave_id=WAVE, department_code=code, day=today, answers=answers
                )
            )


def csv_row(text: str, code: str) -> dict[str, str]:
    """Return the CSV line of department ``code`` by column name."""
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    return next(r for r in rows if r["department"] == code)


@pytest.mark.parametrize(
    ("line", "barrier", "bands", "light"),
    [
        (60, None, "fair", "amber"),
        # 62.5 is under 65, but its interval (53–72) reaches 65: amber, "Not sure"
        (65, FIRST, "attention", "amber"),
        # under 73, the whole interval too: red
        (73, FIRST, "attention", "red"),
    ],
)
def test_every_output_bands_and_names_the_barrier_against_the_surveys_own_line(
    app: Flask,
    admin: FlaskClient,
    store: Store,
    make_account: object,
    line: int,
    barrier: str | None,
    bands: str,
    light: str,
) -> None:
    sixty_two_everywhere(store)
    store.put_scorecard_settings(ScorecardSettings(SLUG, attention=line, default_target=75))
    levers = len(QUESTIONNAIRE.levers)
    barrier_name = None if barrier is None else QUESTIONNAIRE.lever(barrier).name["en"]

    overview = admin.get(f"{BASE}/results").get_data(as_text=True)
    shown = re.search(r'id="row-department-ALPHA">(.*?)</tr>', overview, re.S)
    assert shown
    indices = [int(i) for i in re.findall(r'class="heat-value">(\d+)<', shown.group(1))]
    assert len(indices) == levers and all(60 <= i < 65 for i in indices)
    assert heat_bands(overview, "department", "ALPHA") == [bands] * levers
    last_cell = re.findall(r"<td>(.*?)</td>", shown.group(1), re.S)[-1]
    if barrier_name is None:
        assert f"none under {line}" in last_cell
    else:
        assert barrier_name in last_cell
    organisation = charts(overview)["chart-organisation"]
    assert organisation["attention"] == line and organisation["bands"] == [bands] * levers

    page = admin.get(f"{BASE}/results/departments/ALPHA").get_data(as_text=True)
    assert re.findall(r'<span class="heat heat-(\w+)">', page)[:levers] == [bands] * levers
    if barrier_name is None:
        assert f"is under {line}." in page
    else:
        assert f"First lever to reinforce: <strong>{barrier_name}</strong>" in page
    chart = charts(page)["chart-levers"]
    assert chart["attention"] == line and chart["bands"] == [bands] * levers

    exported = admin.get(f"{BASE}/results.csv").get_data(as_text=True)
    assert csv_row(exported, "ALPHA")["first_lever_to_reinforce"] == (barrier or "")

    book = load_workbook(io.BytesIO(admin.get(f"{BASE}/results.xlsx").data)).active
    assert book is not None
    header = [cell.value for cell in book[1]]
    alpha = next(r for r in book.iter_rows(values_only=True) if r[2] == "ALPHA")
    assert alpha[header.index("first_lever_to_reinforce")] == barrier

    secret = token_for(app, make_account, "reader@example.com", Role.VIEWER)  # type: ignore[arg-type]
    body = api(app, f"/api/v1/surveys/{SLUG}/waves/{WAVE}/results", secret).get_json()
    assert body["attention"] == line
    row = next(r for r in body["rows"] if r["key"] == "ALPHA")
    assert row["result"]["barrier"] == barrier
    assert {band(i, line) for i in row["result"]["indices"].values()} == {bands}

    sheet = admin.get(f"{BASE}/scorecard?unit=ALPHA").get_data(as_text=True)
    assert re.findall(r'class="light light-(\w+)"', sheet) == [light] * levers
    sentence = re.search(r'<p class="sc-barrier[^"]*">(.*?)</p>', sheet, re.S)
    assert sentence
    if barrier_name is None:
        assert "sc-no-barrier" in sentence.group(0) and f"below {line}" in sentence.group(1)
    else:
        assert barrier_name in sentence.group(1) and f"below {line}" in sentence.group(1)
        assert ("Not sure" in sentence.group(1)) == (light == "amber")


@pytest.mark.parametrize(
    ("index", "line", "expected"),
    [
        (49.9, 60, "low"),
        (59.9, 60, "attention"),
        (60, 60, "fair"),
        (75, 60, "good"),
        (62, 65, "attention"),
        (65, 65, "fair"),
        (48, 45, "fair"),
        (44, 45, "low"),
        (78, 80, "attention"),
        (80, 80, "good"),
    ],
)
def test_a_band_is_red_exactly_below_the_line(index: float, line: int, expected: str) -> None:
    assert band(index, line) == expected
