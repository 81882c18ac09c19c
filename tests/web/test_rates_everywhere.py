"""One rounding rule for every rate, and flags judged on the figure shown.

12 of 18 reads 66.7 on the participation page and its CSV, the results CSV,
the workbook and the API, as on the results pages and the scorecard
(``test_rates_rounded``). 241 of 402 (59.95 %) reads "60.0" and is flagged
nowhere as under 60 %: a flag never contradicts the rate beside it.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from portal.domain.accounts import Role
from portal.domain.participation import (
    department_figures,
    is_under_target,
    rate_tenths,
    response_rate,
)
from portal.render.numbers import percent
from portal.storage.port import Store
from tests.web.test_api import api, token_for
from tests.web.test_rates_rounded import EIGHTEENS, text_of
from tests.web.test_results import make_organisation

SLUG, WAVE = "crm-rollout", "baseline"
BASE = f"/admin/surveys/{SLUG}/waves/{WAVE}"


def csv_rows(text: str) -> list[dict[str, str]]:
    """Return a CSV download's rows by column name."""
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def participation_row(page: str, code: str) -> str:
    """Return the text of one department's participation row."""
    match = re.search(rf'<tr id="dept-{code}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {code}"
    return text_of(match.group(1))


@pytest.mark.parametrize(
    ("part", "whole", "tenths"),
    [(12, 18, 667), (5, 12, 417), (2, 3, 667), (1333, 2000, 667), (1499, 2500, 600),
     (1498, 2500, 599), (241, 402, 600), (13, 12, 1083), (0, 5, 0), (3, 0, None)],
)  # fmt: skip
def test_the_domain_rate_the_printed_rate_and_the_flag_share_one_rounding(
    part: int, whole: int, tenths: int | None
) -> None:
    assert rate_tenths(part, whole) == tenths
    rate = response_rate(part, whole)
    assert rate == (None if tenths is None else tenths / 10)
    assert percent(part, whole) == ("–" if rate is None else f"{rate:.1f}")
    assert is_under_target(part, whole) is (tenths is not None and tenths < 600)


def test_a_rate_that_rounds_to_sixty_is_shown_as_sixty_and_not_flagged() -> None:
    assert department_figures(1499, 2500).rate == 60.0
    assert not department_figures(1499, 2500).under_target
    figures = department_figures(1498, 2500)
    assert figures.rate == 59.9 and figures.under_target


@pytest.fixture
def twelve_of_eighteen(store: Store) -> None:
    """Create ALPHA and BETA of 18 people each, twelve employees answering in each."""
    make_organisation(store, {"ALPHA": (12, 0), "BETA": (12, 0)}, departments=EIGHTEENS)


@pytest.mark.usefixtures("twelve_of_eighteen")
def test_the_participation_page_and_csv_show_twelve_of_eighteen_as_66_7(
    admin: FlaskClient,
) -> None:
    page = admin.get(f"{BASE}/participation").get_data(as_text=True)
    assert "66.7 %" in participation_row(page, "ALPHA")
    assert "66.6" not in page
    rows = csv_rows(admin.get(f"{BASE}/participation.csv").get_data(as_text=True))
    alpha = next(r for r in rows if r["department"] == "ALPHA")
    assert alpha["response_rate_percent"] == "66.7"
    assert next(r for r in rows if r["department"] == "TOTAL")["response_rate_percent"] == "66.7"


@pytest.mark.usefixtures("twelve_of_eighteen")
def test_the_results_csv_and_workbook_show_twelve_of_eighteen_as_66_7(
    admin: FlaskClient,
) -> None:
    rows = csv_rows(admin.get(f"{BASE}/results.csv").get_data(as_text=True))
    rates = {r["level"] + r["department"]: r["response_rate_percent"] for r in rows}
    assert rates["departmentALPHA"] == rates["organisation"] == "66.7"
    sheet = load_workbook(io.BytesIO(admin.get(f"{BASE}/results.xlsx").data)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    column = header.index("response_rate_percent")
    alpha = next(r for r in sheet.iter_rows() if r[2].value == "ALPHA")
    assert alpha[column].value == 66.7 and alpha[column].number_format == "0.0"


@pytest.mark.usefixtures("twelve_of_eighteen")
def test_the_api_gives_twelve_of_eighteen_as_66_7(app: Flask, make_account: object) -> None:
    secret = token_for(app, make_account, "reader@example.com", Role.VIEWER)  # type: ignore[arg-type]
    for path in ("/results", "/results/departments/ALPHA"):
        body = api(app, f"/api/v1/surveys/{SLUG}/waves/{WAVE}{path}", secret).get_json()
        alpha = next(r for r in body["rows"] if r["key"] == "ALPHA")
        assert alpha["result"]["response_rate_percent"] == 66.7


def test_a_department_at_59_95_per_cent_reads_60_0_without_an_under_60_flag(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(
        store,
        {"ALPHA": (241, 0), "GAMMA": (240, 0)},
        departments={"ALPHA": ("Alpha", "Aarhus", 402), "GAMMA": ("Gamma", "Aarhus", 401)},
    )
    page = admin.get(f"{BASE}/participation").get_data(as_text=True)
    shown = participation_row(page, "ALPHA")
    assert "60.0 %" in shown and "under 60" not in shown
    # 240 of 401 is 59.85 %: it reads 59.9 and is flagged.
    assert "59.9 % under 60 %" in participation_row(page, "GAMMA")
    rows = csv_rows(admin.get(f"{BASE}/participation.csv").get_data(as_text=True))
    alpha = next(r for r in rows if r["department"] == "ALPHA")
    assert alpha["response_rate_percent"] == "60.0" and alpha["under_60_percent"] == ""
    sheet = admin.get(f"{BASE}/scorecard?unit=ALPHA").get_data(as_text=True)
    rate = re.search(r'<dd class="sc-rate">(.*?)</dd>', sheet, re.S)
    assert rate and text_of(rate.group(1)) == "60.0 %"
