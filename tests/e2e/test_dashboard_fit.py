"""The results dashboard in a real Chromium: it fits 1280 px, stacks at 375 px, charts read alone.

Fit is measured, not assumed: the page never scrolls sideways at 1280 px and
no table is wider than its box, with the demo loaded and with long lever and
department names; at 375 px the wide tables stack into cards and no word in
an admin table is broken across lines. The charts colour bars by band, draw
the target and the attention line and the values (above an interval, never
under it), name n, and download as PNG (the canvas's size) and as SVG.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from portal.app import create_app
from portal.domain.accounts import Role
from portal.domain.scorecard import ScorecardSettings
from portal.instruments import available_questionnaires, get_questionnaire
from portal.services.accounts import create_user
from portal.services.demo import DEMO_SLUG, load_demo
from portal.storage.sqlite import SqliteStore
from tests.e2e.conftest import axe_violations, signed_in_context
from tests.live_server import serve
from tests.web.test_results import SLUG, STANDARD, make_organisation

pytestmark = pytest.mark.e2e
EMAIL = "fit@example.com"
PASSWORD = "maple rocket violet 17"
SVG = "{http://www.w3.org/2000/svg}"
DEMO = f"/admin/surveys/{DEMO_SLUG}/waves"
LONG = f"/admin/surveys/{SLUG}/waves/baseline/results"
#: The standard organisation with long, many-word names: the heatmap must still fit.
LONG_DEPARTMENTS = {
    "SALES": ("Sales and key accounts and after-sales support for the Nordic region", "Aarhus", 20),
    "MKT": ("Marketing and internal communication", "Aarhus", 20),
    "WH": ("Warehouse and logistics planning and outbound transport", "Hamburg", 40),
    "OPS": ("Operations", "Hamburg", 30),
    "TINY": ("Tiny team", "Hamburg", 6),
    "NONE": ("Nobody yet", "Hamburg", 6),
    "FEW": ("Few", "Hamburg", 8),
}
LONG_LEVER = "Psychological safety to speak up about the change"
BAND_COLOURS = {"low": "#a1261c", "attention": "#9a6700", "fair": "#1f4fa3", "good": "#1f6b3a"}
PAGES = [
    f"{DEMO}/baseline/results",
    f"{DEMO}/follow-up-1/results",
    f"{DEMO}/baseline/results/departments/AAR-SALES",
    f"{DEMO}/baseline/results/departments/HAM-WH",
    LONG,
    f"{LONG}/departments/SALES",
    f"{LONG}/quality",
]


@dataclass(frozen=True)
class Portal:
    url: str
    store: SqliteStore


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """Serve the demo and, beside it, the standard organisation with long names."""
    store = SqliteStore(tmp_path_factory.mktemp("fit") / "portal.sqlite3")
    store.create_schema()
    load_demo(store, today=date.today())
    make_organisation(store, STANDARD, departments=LONG_DEPARTMENTS)
    store.put_scorecard_settings(
        ScorecardSettings(SLUG, attention=60, default_target=70, lever_targets={"purpose": 80})
    )
    create_user(
        store, email=EMAIL, role=Role.ADMIN, password=PASSWORD, actor="t",
        must_change_password=False,
    )  # fmt: skip
    app = create_app({"env": "testing", "secret_key": "fit-" + "k" * 40}, store=store)
    with serve(app) as url:
        yield Portal(url, store)


@pytest.fixture(scope="module")
def signed_in(browser: Browser, portal: Portal) -> Iterator[BrowserContext]:
    """Keep one signed-in admin session for the module."""
    context = signed_in_context(browser, portal.url, EMAIL, PASSWORD)
    yield context
    context.close()


@pytest.fixture
def long_lever(monkeypatch: pytest.MonkeyPatch) -> str:
    """Give the first lever a long English name while the test runs (the server shares it)."""
    versions = available_questionnaires()["change-readiness"]
    for version in (None, *versions):
        lever = get_questionnaire("change-readiness", version).levers[0]
        monkeypatch.setitem(lever.name, "en", LONG_LEVER)
    return LONG_LEVER


def sized(browser: Browser, signed_in: BrowserContext, width: int) -> BrowserContext:
    """Return a context of ``width`` CSS pixels with the admin's session."""
    context = browser.new_context(
        viewport={"width": width, "height": 900},
        storage_state={"cookies": signed_in.cookies()},
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    return context


def open_page(context: BrowserContext, url: str) -> Page:
    """Open ``url`` and wait until its scripts ran (its charts drawn, its tables stacked)."""
    page = context.new_page()
    page.goto(url)
    page.wait_for_load_state("load")
    if page.locator("canvas").count():
        page.wait_for_function(
            "() => [...document.querySelectorAll('canvas')].every(c => Chart.getChart(c))"
        )
    return page


FIT = """() => ({
  page: document.scrollingElement.scrollWidth,
  inner: innerWidth,
  tables: [...document.querySelectorAll('main table')].map(t => ({
    table: t.className, width: t.scrollWidth, box: t.parentElement.clientWidth,
  })),
  outside: [...document.querySelectorAll('main *')]
    .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
    // Visually hidden text (a stacked table's header row too) is clipped to one pixel.
    .filter(e => ![...document.querySelectorAll('.visually-hidden, thead')].some(
      h => h.contains(e) && getComputedStyle(h).position === 'absolute'))
    .map(e => e.tagName + '.' + e.className).slice(0, 5),
})"""

#: Every word (between spaces and dashes) of every admin table cell that spans two lines.
BROKEN_WORDS = """() => {
  const broken = [];
  for (const cell of document.querySelectorAll('main table th, main table td')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      if (node.parentElement.closest('.visually-hidden, thead')
          && getComputedStyle(cell.closest('table')).display === 'block') continue;
      const words = /[^\\s\\-–·,]+/g;
      let m;
      while ((m = words.exec(node.textContent))) {
        if (m[0].length < 2) continue;
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
                             .map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


def check_fits(page: Page, width: int) -> None:
    """Assert the page does not scroll sideways and no table is wider than its box."""
    found: dict[str, Any] = page.evaluate(FIT)
    assert found["inner"] == width
    assert found["page"] <= width, found
    assert found["outside"] == [], found
    for table in found["tables"]:
        assert table["width"] <= table["box"], table


@pytest.mark.parametrize("path", PAGES)
def test_results_pages_fit_1280_pixels_without_scrolling_sideways(
    browser: Browser, signed_in: BrowserContext, portal: Portal, path: str, long_lever: str
) -> None:
    context = sized(browser, signed_in, 1280)
    try:
        page = open_page(context, portal.url + path)
        check_fits(page, 1280)
        if path.endswith("/results"):
            # Every lever and "first lever to reinforce" are on screen, with the long name.
            heads = page.eval_on_selector_all(
                "table.results-heatmap thead th",
                "hs => hs.map(h => [h.textContent.trim(), h.getBoundingClientRect().right])",
            )
            assert any(LONG_LEVER in text for text, _ in heads)
            assert heads[-1][0] == "First lever to reinforce"
            assert all(right <= 1280 - 80 for _, right in heads), heads
    finally:
        context.close()


@pytest.mark.parametrize("path", PAGES)
def test_at_375_pixels_wide_tables_stack_and_no_word_is_broken(
    browser: Browser, signed_in: BrowserContext, portal: Portal, path: str, long_lever: str
) -> None:
    context = sized(browser, signed_in, 375)
    try:
        page = open_page(context, portal.url + path)
        check_fits(page, 375)
        styles = page.eval_on_selector_all(
            "main table th, main table td",
            "cells => [...new Set(cells.map(c => getComputedStyle(c).overflowWrap + ' '"
            " + getComputedStyle(c).wordBreak))]",
        )
        assert styles == ["normal normal"]
        assert page.evaluate(BROKEN_WORDS) == []
        stacked = page.eval_on_selector_all(
            "table.results-heatmap, table.results-levers, table.results-items,"
            " table.results-gaps, table.results-quality",
            "ts => ts.map(t => getComputedStyle(t).display)",
        )
        assert stacked and set(stacked) == {"block"}
        # A stacked cell still names its column: the heatmap's responses, the statements' shares.
        labels = page.eval_on_selector_all(
            "table.stacks td", "cs => cs.map(c => getComputedStyle(c, '::before').content)"
        )
        assert labels and all(label not in ("none", '""', "normal") for label in labels)
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 375])
@pytest.mark.parametrize("path", [PAGES[0], PAGES[2]])
def test_dashboard_pages_have_no_axe_violations_wide_or_narrow(
    browser: Browser, signed_in: BrowserContext, portal: Portal, path: str, width: int
) -> None:
    found = axe_violations(
        browser,
        portal.url + path,
        storage_state={"cookies": signed_in.cookies()},
        viewport={"width": width, "height": 900},
    )
    assert found == []


def chart_state(page: Page, name: str) -> dict[str, Any]:
    """Return what Chart.js drew for chart ``name``: data, colours, sizes, JSON."""
    state: dict[str, Any] = page.evaluate(
        """name => {
          const canvas = document.getElementById('canvas-' + name);
          const chart = Chart.getChart(canvas);
          return {
            colours: chart.data.datasets[0].backgroundColor,
            data: chart.data.datasets.map(d => d.data),
            width: canvas.width, height: canvas.height,
            cssWidth: chart.width, cssHeight: chart.height,
            json: JSON.parse(document.getElementById('chart-' + name).textContent),
          };
        }""",
        name,
    )
    return state


def download(page: Page, name: str, kind: str, into: Path) -> Path:
    """Click chart ``name``'s download button for ``kind``; return the saved file."""
    button = page.locator(f"#figure-{name} + .chart-tools button[data-download={kind}]")
    with page.expect_download() as info:
        button.click()
    target = into / f"{name}.{kind}"
    info.value.save_as(target)
    assert info.value.suggested_filename == f"chart-{name}.{kind}"
    return target


def png_size(path: Path) -> tuple[int, int]:
    """Return a PNG's width and height from its IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def svg_texts(root: ET.Element) -> list[str]:
    """Return every text element's words, its lines joined by spaces."""
    return [" ".join("".join(t.itertext()).split()) for t in root.iter(f"{SVG}text")] + [
        " ".join(t.text or "" for t in text.iter(f"{SVG}tspan")) for text in root.iter(f"{SVG}text")
    ]


def test_the_overview_chart_is_coloured_by_band_with_target_attention_values_and_n(
    signed_in: BrowserContext, portal: Portal, tmp_path: Path
) -> None:
    page = open_page(signed_in, portal.url + LONG)
    state = chart_state(page, "organisation")
    heat = page.eval_on_selector_all(
        "#row-organisation- td .heat",
        "hs => hs.map(h => [h.className.replace('heat heat-', ''),"
        " +h.querySelector('.heat-value').textContent])",
    )
    assert [value for _, value in heat] == state["data"][0]
    assert state["colours"] == [BAND_COLOURS[band] for band, _ in heat]
    levers = get_questionnaire("change-readiness").levers
    assert state["json"]["targets"] == [80 if lv.id == "purpose" else 70 for lv in levers]
    assert state["json"]["attention"] == 60
    responses = page.locator("#row-organisation- td").first.inner_text().strip()
    assert state["json"]["title"] == f"Organisation · {responses} responses"

    png = download(page, "organisation", "png", tmp_path)
    assert png_size(png) == (state["width"], state["height"])
    svg = ET.parse(download(page, "organisation", "svg", tmp_path)).getroot()
    assert svg.tag == f"{SVG}svg"
    assert (float(svg.get("width", 0)), float(svg.get("height", 0))) == (
        state["cssWidth"],
        state["cssHeight"],
    )
    bars = [r for r in svg.iter(f"{SVG}rect") if "dataset-0" in (r.get("class") or "")]
    shown = [v for v in state["data"][0] if v is not None]
    assert len(bars) == len(shown)
    assert [b.get("fill") for b in bars] == [c for c, v in zip(
        state["colours"], state["data"][0], strict=True) if v is not None]  # fmt: skip
    texts = svg_texts(svg)
    assert state["json"]["title"] in texts
    for value in shown:
        assert str(value) in texts
    for lever in state["json"]["labels"]:
        assert lever in texts
    # The attention line is dashed across the chart; each target is a solid mark on its bar.
    lines = list(svg.iter(f"{SVG}line"))
    attention = [ln for ln in lines if ln.get("class") == "attention"]
    assert len(attention) == 1 and attention[0].get("stroke-dasharray") == "6 4"
    targets = [ln for ln in lines if ln.get("class") == "target"]
    assert len(targets) == len(levers)
    # The purpose lever's own target (80) is drawn higher than the default (70) of the rest.
    heights = [float(ln.get("y1", 0)) for ln in targets]
    assert heights[0] < min(heights[1:]) and len(set(heights[1:])) == 1
    assert float(attention[0].get("y1", 0)) > max(heights)
    page.close()


def test_department_intervals_never_cover_their_value_labels(
    signed_in: BrowserContext, portal: Portal, tmp_path: Path
) -> None:
    page = open_page(signed_in, portal.url + f"{DEMO}/baseline/results/departments/AAR-SALES")
    state = chart_state(page, "levers")
    intervals = state["data"][1]
    svg = ET.parse(download(page, "levers", "svg", tmp_path)).getroot()
    tops = [
        float(r.get("y", 0))
        for r in svg.iter(f"{SVG}rect")
        if "dataset-1" in (r.get("class") or "")
    ]
    assert len(tops) == sum(1 for i in intervals if i is not None) > 0
    labels = []
    for text in svg.iter(f"{SVG}text"):
        words = "".join(text.itertext()).strip()
        transform = text.get("transform", "")
        if text.get("font-weight") == "bold" and words.isdigit() and "rotate" not in transform:
            x, y = transform.removeprefix("translate(").rstrip(")").split()
            labels.append((float(x), float(y)))
    assert len(labels) == sum(1 for v in state["data"][0] if v is not None)
    # Labels sit on their baseline above the interval's top (y grows downwards).
    for (_, baseline), top in zip(labels, tops, strict=True):
        assert baseline <= top, (baseline, top)
    png = download(page, "levers", "png", tmp_path)
    assert png_size(png) == (state["width"], state["height"])
    page.close()


def test_every_chart_has_a_png_and_an_svg_button_and_no_csp_error(
    signed_in: BrowserContext, portal: Portal, tmp_path: Path
) -> None:
    page = signed_in.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('CSP violation: ' + e.violatedDirective))"
    )
    page.goto(portal.url + f"{DEMO}/baseline/results/departments/AAR-SALES")
    page.wait_for_function(
        "() => [...document.querySelectorAll('canvas')].every(c => Chart.getChart(c))"
    )
    names = page.eval_on_selector_all(
        "script[type='application/json'][data-chart]", "els => els.map(e => e.id.slice(6))"
    )
    assert len(names) >= 3
    for name in names:
        assert page.locator(f"#figure-{name} + .chart-tools button").count() == 2
    answers = next(name for name in names if name.startswith("answers-"))
    svg = ET.parse(download(page, answers, "svg", tmp_path)).getroot()
    assert any(" %" in text for text in svg_texts(svg))
    assert problems == []
    page.close()
