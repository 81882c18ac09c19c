"""Response rates are rounded to one decimal, not cut off: 12 of 18 reads 66.7 %, never 66.6 %."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from portal.render.numbers import percent
from portal.storage.port import Store
from tests.web.test_results import make_organisation

SLUG, WAVE = "crm-rollout", "baseline"
BASE = f"/admin/surveys/{SLUG}/waves/{WAVE}"
#: Two departments of 18 people, twelve of whom answered in each: 66.666… % everywhere.
EIGHTEENS = {"ALPHA": ("Alpha", "Aarhus", 18), "BETA": ("Beta", "Aarhus", 18)}


@pytest.mark.parametrize(
    ("part", "whole", "shown"),
    [
        (12, 18, "66.7"),
        (2, 3, "66.7"),
        (1, 3, "33.3"),
        (1333, 2000, "66.7"),  # 66.65 exactly: half up
        (13, 12, "108.3"),
        (18, 18, "100.0"),
        (0, 18, "0.0"),
        (5, 0, "–"),
    ],
)
def test_a_rate_is_rounded_half_up_from_the_exact_counts(part: int, whole: int, shown: str) -> None:
    assert percent(part, whole) == shown


@pytest.fixture
def twelve_of_eighteen(store: Store) -> None:
    """Create the survey with ALPHA and BETA, twelve employees answering in each."""
    make_organisation(store, {"ALPHA": (12, 0), "BETA": (12, 0)}, departments=EIGHTEENS)


def text_of(html: str) -> str:
    """Return the page's text with tags dropped and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.usefixtures("twelve_of_eighteen")
def test_the_overview_and_department_page_show_twelve_of_eighteen_as_66_7(
    admin: FlaskClient,
) -> None:
    overview = admin.get(f"{BASE}/results").get_data(as_text=True)
    row = re.search(r'id="row-department-ALPHA">(.*?)</tr>', overview, re.S)
    assert row and "66.7 %" in text_of(row.group(1))
    organisation = re.search(r'id="row-organisation-[^"]*">(.*?)</tr>', overview, re.S)
    assert organisation and "66.7 %" in text_of(organisation.group(1))
    assert "66.6" not in overview
    department = admin.get(f"{BASE}/results/departments/ALPHA").get_data(as_text=True)
    assert "a response rate of 66.7 %" in text_of(department)
    assert "66.6" not in department


@pytest.mark.usefixtures("twelve_of_eighteen")
def test_the_scorecard_page_and_its_pdf_show_66_7(admin: FlaskClient, tmp_path: Path) -> None:
    sheet = admin.get(f"{BASE}/scorecard?unit=ALPHA").get_data(as_text=True)
    rate = re.search(r'<dd class="sc-rate">(.*?)</dd>', sheet, re.S)
    assert rate and text_of(rate.group(1)).startswith("66.7 %")
    response = admin.get(f"{BASE}/scorecard.pdf?unit=ALPHA")
    assert response.status_code == 200
    pdf = tmp_path / "alpha.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "66.7 %" in text and "66.6" not in text
