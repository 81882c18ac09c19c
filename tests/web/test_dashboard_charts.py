"""What the dashboard's charts are told besides the figures: bands, targets, attention, n."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from portal.domain.scorecard import ScorecardSettings
from portal.instruments import get_questionnaire
from portal.storage.port import Store
from tests.web.test_results import SLUG, STANDARD, make_organisation, row_numbers
from tests.web.test_results_chart_data import charts, get, series

LEVERS = get_questionnaire("change-readiness").levers


def heat_bands(page: str, kind: str, key: str) -> list[str]:
    """Return the band of every index a heatmap row shows, in lever order."""
    match = re.search(rf'id="row-{kind}-{key}">(.*?)</tr>', page, re.S)
    assert match
    return re.findall(r'<span class="heat heat-(\w+)">', match.group(1))


def test_the_overview_chart_carries_each_bars_band_the_targets_and_n(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD)
    store.put_scorecard_settings(
        ScorecardSettings(SLUG, attention=60, default_target=70, lever_targets={"skills": 85})
    )
    page = get(admin, "/results")
    chart = charts(page)["chart-organisation"]
    assert chart["bands"] == heat_bands(page, "organisation", "")
    assert len(chart["bands"]) == len(LEVERS)
    assert chart["targets"] == [85 if lever.id == "skills" else 70 for lever in LEVERS]
    assert chart["attention"] == 60
    shown = row_numbers(page, "organisation", "")
    assert shown is not None and series(chart, "Index") == shown[1:]
    assert chart["title"] == f"Organisation · {shown[0]} responses"


def test_a_filtered_overview_says_whose_responses_its_chart_counts(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD)
    page = get(admin, "/results?audience=employee")
    chart = charts(page)["chart-organisation"]
    shown = row_numbers(page, "organisation", "")
    assert shown is not None
    assert chart["title"] == f"Organisation (employees only) · {shown[0]} responses"


def test_the_department_chart_names_the_department_and_its_responses(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD)
    page = get(admin, "/results/departments/SALES")
    found = charts(page)
    sales = sum(STANDARD["SALES"])
    assert found["chart-levers"]["title"] == f"Sales · {sales} responses"
    assert f"{sales} responses" in page
    assert found["chart-levers"]["attention"] == found["chart-audiences"]["attention"] == 60
    assert None not in found["chart-levers"]["bands"]
