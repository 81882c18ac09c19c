"""The results pages' chart data: the tables' published numbers again, as inert JSON."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from flask.testing import FlaskClient

from portal.storage.port import Store
from tests.web.test_results import SLUG, STANDARD, make_organisation, row_numbers

WAVE = f"/admin/surveys/{SLUG}/waves/baseline"
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S)


def get(client: FlaskClient, path: str) -> str:
    """Open a results page and return its HTML."""
    response = client.get(WAVE + path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def charts(page: str) -> dict[str, Any]:
    """Return every chart's JSON by element id, checking each is inert, valid JSON."""
    found = {}
    for attributes, body in SCRIPT.findall(page):
        if 'type="application/json"' not in attributes:
            continue
        assert "data-chart=" in attributes and "data-canvas=" in attributes
        name = re.search(r'id="([^"]+)"', attributes)
        assert name, attributes
        found[name.group(1)] = json.loads(body)
    return found


def table(page: str, css_class: str, nth: int = 0) -> list[list[Any]]:
    """Return a table's body rows as the numbers shown: int, [low, high] or None for "–"."""
    tables = re.findall(rf'<table class="{css_class}">(.*?)</table>', page, re.S)
    body = re.search(r"<tbody>(.*?)</tbody>", tables[nth], re.S)
    assert body
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S):
        rows.append([cell(td) for td in re.findall(r'<td class="num">(.*?)</td>', tr, re.S)])
    return rows


def cell(td: str) -> Any:
    """Return the number a table cell shows, or ``None`` for any dash or missing figure."""
    if "no-figure" in td:
        return None
    heat = re.search(r'<span class="heat-value">(-?\d+)</span>', td)
    if heat:
        return int(heat.group(1))
    text = html.unescape(re.sub(r"<[^>]+>", "", td)).strip()
    if interval := re.fullmatch(r"(-?\d+)–(-?\d+)", text):
        return [int(interval.group(1)), int(interval.group(2))]
    if percent := re.fullmatch(r"(\d+) %", text):
        return int(percent.group(1))
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return None


def series(chart: dict[str, Any], label: str) -> list[Any]:
    """Return one named series of a chart."""
    return next(s["data"] for s in chart["series"] if s["label"] == label)


def test_pages_run_no_inline_script_only_inert_json(admin: FlaskClient, store: Store) -> None:
    make_organisation(store, STANDARD)
    for path in ("/results", "/results/departments/SALES", "/results/departments/TINY"):
        page = get(admin, path)
        for attributes, body in SCRIPT.findall(page):
            assert "src=" in attributes or 'type="application/json"' in attributes, attributes
            if "src=" in attributes:
                assert not body.strip()
        assert "<script>" not in page and " style=" not in page


def test_the_organisation_chart_shows_the_organisation_rows_indices(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD)
    page = get(admin, "/results")
    chart = charts(page)["chart-organisation"]
    shown = row_numbers(page, "organisation", "")
    assert shown is not None
    assert series(chart, "Index") == shown[1:]
    assert len(chart["labels"]) == len(shown) - 1
    assert 'data-canvas="canvas-organisation"' in page
    assert re.search(r'<canvas id="canvas-organisation" role="img" aria-label="[^"]+">', page)


def test_a_hidden_organisation_has_no_chart_at_all(admin: FlaskClient, store: Store) -> None:
    make_organisation(store, {"SALES": (3, 0)})
    page = get(admin, "/results")
    assert row_numbers(page, "organisation", "") is None
    assert charts(page) == {}
    assert "canvas" not in page and "results." not in page.split("</head>")[0]


def test_the_department_charts_repeat_the_department_tables(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD)
    page = get(admin, "/results/departments/SALES")
    found = charts(page)
    levers = table(page, "results-levers")
    assert series(found["chart-levers"], "Index") == [row[0] for row in levers]
    assert series(found["chart-levers"], "95 % interval") == [row[2] for row in levers]
    assert all(isinstance(row[2], list) for row in levers)
    gaps = table(page, "results-gaps")
    assert series(found["chart-audiences"], "Employees") == [row[0] for row in gaps]
    assert series(found["chart-audiences"], "Managers") == [row[1] for row in gaps]
    answers = sorted(name for name in found if name.startswith("chart-answers-"))
    assert len(answers) == page.count('<table class="results-items">')
    for nth, name in enumerate(re.findall(r'id="(chart-answers-[^"]+)"', page)):
        rows = table(page, "results-items", nth)
        chart = found[name]
        assert len(chart["labels"]) == len(rows)
        assert [s["data"] for s in chart["series"]] == [
            [row[point] for row in rows] for point in range(5)
        ]


def test_hidden_managers_are_null_or_absent_in_the_charts_as_in_the_tables(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD)  # WH: 12 employees, 2 managers (hidden)
    page = get(admin, "/results/departments/WH")
    found = charts(page)
    assert "results-gaps" not in page and "chart-audiences" not in found
    nulls = 0
    for nth, name in enumerate(re.findall(r'id="(chart-answers-[^"]+)"', page)):
        rows = table(page, "results-items", nth)
        for point, values in enumerate(s["data"] for s in found[name]["series"]):
            assert values == [row[point] for row in rows]
        nulls += sum(1 for value in found[name]["series"][0]["data"] if value is None)
    assert nulls > 0  # the statements asked of managers only


def test_a_hidden_department_has_no_chart_data(admin: FlaskClient, store: Store) -> None:
    make_organisation(store, STANDARD)
    page = get(admin, "/results/departments/TINY")
    assert 'id="not-enough"' in page
    assert charts(page) == {} and "canvas" not in page
