"""The results charts in a real browser: drawn under the strict CSP, from the tables' numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from portal.app import create_app
from portal.domain.accounts import Role
from portal.services.accounts import create_user
from portal.storage.sqlite import SqliteStore
from tests.e2e.conftest import axe_violations, signed_in_context
from tests.live_server import serve
from tests.web.test_results import SLUG, STANDARD, make_organisation

pytestmark = pytest.mark.e2e
EMAIL = "charts@example.com"
PASSWORD = "maple rocket violet 17"
OVERVIEW = f"/admin/surveys/{SLUG}/waves/baseline/results"
DEPARTMENT = OVERVIEW + "/departments/SALES"


@pytest.fixture(scope="module")
def charts_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve a portal whose open wave has the standard organisation's answers."""
    store = SqliteStore(tmp_path_factory.mktemp("charts") / "portal.sqlite3")
    store.create_schema()
    make_organisation(store, STANDARD)
    create_user(
        store,
        email=EMAIL,
        role=Role.ADMIN,
        password=PASSWORD,
        actor="test",
        must_change_password=False,
    )
    app = create_app({"env": "testing", "secret_key": "cht-" + "k" * 40}, store=store)
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def admin_context(browser: Browser, charts_portal: str) -> Iterator[BrowserContext]:
    """Keep one signed-in admin session (through the sign-in form) for the module."""
    context = signed_in_context(browser, charts_portal, EMAIL, PASSWORD)
    yield context
    context.close()


def open_with_console(context: BrowserContext, url: str) -> tuple[Page, list[str]]:
    """Open ``url`` and collect console errors and CSP violations."""
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    # Chromium logs a refused script or style as a console error; this catches the rest.
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('CSP violation: ' + e.violatedDirective))"
    )
    page.goto(url)
    return page, problems


def drawn(page: Page, name: str) -> list[list[Any]]:
    """Wait for chart ``name`` and return every dataset's data as Chart.js holds it."""
    page.wait_for_function(
        "id => window.Chart && Chart.getChart(document.getElementById(id))", arg=f"canvas-{name}"
    )
    data: list[list[Any]] = page.evaluate(
        "id => Chart.getChart(document.getElementById(id)).data.datasets.map(d => d.data)",
        f"canvas-{name}",
    )
    return data


def chart_json(page: Page, name: str) -> dict[str, Any]:
    """Return the JSON a chart is drawn from."""
    text = page.locator(f"#chart-{name}").text_content()
    assert text
    found: dict[str, Any] = json.loads(text)
    return found


def test_the_overview_draws_the_organisations_levers_from_its_json(
    admin_context: BrowserContext, charts_portal: str
) -> None:
    page, problems = open_with_console(admin_context, charts_portal + OVERVIEW)
    data = drawn(page, "organisation")
    expected = chart_json(page, "organisation")
    assert data == [s["data"] for s in expected["series"]]
    row = page.locator("#row-organisation- .heat-value").all_inner_texts()
    assert data[0] == [int(x) for x in row]
    assert page.locator("#figure-organisation").is_visible()
    assert problems == []


def test_the_department_page_draws_levers_audiences_and_answers(
    admin_context: BrowserContext, charts_portal: str
) -> None:
    page, problems = open_with_console(admin_context, charts_portal + DEPARTMENT)
    names = page.eval_on_selector_all(
        'script[type="application/json"][data-chart]', "els => els.map(e => e.id.slice(6))"
    )
    assert "levers" in names and "audiences" in names
    assert sum(name.startswith("answers-") for name in names) >= 1
    for name in names:
        data = drawn(page, name)
        assert data == [s["data"] for s in chart_json(page, name)["series"]], name
    indices = page.locator("table.results-levers .heat-value").all_inner_texts()
    assert drawn(page, "levers")[0] == [int(x) for x in indices]
    assert all(isinstance(pair, list) and pair[0] <= pair[1] for pair in drawn(page, "levers")[1])
    assert problems == []


@pytest.mark.parametrize("path", [OVERVIEW, DEPARTMENT])
def test_result_pages_with_charts_have_no_axe_violations(
    browser: Browser, admin_context: BrowserContext, charts_portal: str, path: str
) -> None:
    cookies = admin_context.cookies()
    assert axe_violations(browser, charts_portal + path, storage_state={"cookies": cookies}) == []


@pytest.mark.parametrize("path", [OVERVIEW, DEPARTMENT])
def test_a_320_pixel_page_scrolls_sideways_only_inside_table_wraps(
    browser: Browser, admin_context: BrowserContext, charts_portal: str, path: str
) -> None:
    context = browser.new_context(
        viewport={"width": 320, "height": 640}, storage_state={"cookies": admin_context.cookies()}
    )
    try:
        page = context.new_page()
        page.goto(charts_portal + path)
        page.wait_for_function("() => window.Chart && document.querySelector('canvas') && "
                               "Chart.getChart(document.querySelector('canvas'))")  # fmt: skip
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 320, width
        wider = page.evaluate(
            "() => [...document.querySelectorAll('body *')]"
            ".filter(e => !e.closest('.table-wrap') && e.getBoundingClientRect().right > 321)"
            ".map(e => e.tagName + '.' + e.className)"
        )
        assert wider == []
    finally:
        context.close()
