"""The compare page in a real Chromium: fits 1280 px, stacks at 375 px, axe-clean, no JS needed.

Measured like the dashboard (``test_dashboard_fit``): the page never scrolls
sideways and no table is wider than its box, at the widest comparisons the
page allows (six departments and the organisation, a site with its
departments, long department and lever names); at 375 px the tables stack
into one card per lever with no word broken. axe-core finds no WCAG 2.1 A/AA
violation at either width, and the forms work with JavaScript turned off.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext

from portal.services.demo import DEMO_SLUG
from tests.e2e.conftest import axe_violations
from tests.e2e.test_dashboard_fit import (
    BROKEN_WORDS,
    Portal,
    check_fits,
    long_lever,
    open_page,
    portal,
    signed_in,
    sized,
)
from tests.web.test_results import SLUG

pytestmark = pytest.mark.e2e
# The fixtures are shared with the dashboard's fit tests (one served portal per module).
__all__ = ["long_lever", "portal", "signed_in"]

DEMO = f"/admin/surveys/{DEMO_SLUG}/waves/follow-up-1/results/compare"
LONG = f"/admin/surveys/{SLUG}/waves/baseline/results/compare"
SIX = ("AAR-SALES", "AAR-CS", "AAR-FIN", "AAR-PEOPLE", "HAM-WH", "HAM-FIELD")
PAGES = [
    DEMO + "?" + urlencode([("by", "departments"), *(("department", d) for d in SIX)]),
    DEMO + "?" + urlencode({"by": "site", "of_site": "Hamburg"}),
    DEMO + "?" + urlencode({"by": "waves", "unit": "department:AAR-SALES"}),
    LONG + "?" + urlencode({"by": "site", "of_site": "Hamburg"}),
    LONG + "?" + urlencode([("by", "sites"), ("site", "Aarhus"), ("site", "Hamburg")]),
]


@pytest.mark.parametrize("width", [1280, 375])
@pytest.mark.parametrize("path", PAGES)
def test_the_compare_page_never_scrolls_sideways(
    browser: Browser,
    signed_in: BrowserContext,
    portal: Portal,
    path: str,
    width: int,
    long_lever: str,
) -> None:
    context = sized(browser, signed_in, width)
    try:
        page = open_page(context, portal.url + path)
        assert page.locator("table.results-compare").count() == 2
        check_fits(page, width)
        displays = page.eval_on_selector_all(
            "table.results-compare", "ts => ts.map(t => getComputedStyle(t).display)"
        )
        if width == 375:
            # One card per lever, every cell named by its column; no word broken in two.
            assert set(displays) == {"block"}
            assert page.evaluate(BROKEN_WORDS) == []
            labels = page.eval_on_selector_all(
                "table.results-compare td",
                "cs => cs.map(c => getComputedStyle(c, '::before').content)",
            )
            assert labels and all(label not in ("none", '""', "normal") for label in labels)
        else:
            assert set(displays) == {"table"}
            assert page.get_by_text(long_lever).count() >= 2
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 375])
@pytest.mark.parametrize("path", [PAGES[0], PAGES[2], DEMO])
def test_the_compare_page_has_no_axe_violations(
    browser: Browser, signed_in: BrowserContext, portal: Portal, path: str, width: int
) -> None:
    found = axe_violations(
        browser,
        portal.url + path,
        storage_state={"cookies": signed_in.cookies()},
        viewport={"width": width, "height": 900},
    )
    assert found == []


def test_the_forms_work_without_javascript_from_the_keyboard(
    browser: Browser, signed_in: BrowserContext, portal: Portal
) -> None:
    context = browser.new_context(
        java_script_enabled=False,
        viewport={"width": 1280, "height": 900},
        storage_state={"cookies": signed_in.cookies()},
    )
    try:
        page = context.new_page()
        page.goto(portal.url + DEMO)
        page.get_by_label("Sales", exact=False).first.check()
        page.get_by_label("Warehouse", exact=False).first.check()
        page.get_by_role("button", name="Compare these departments").press("Enter")
        page.wait_for_load_state("load")
        heads = page.eval_on_selector_all(
            "#compare-index thead th", "hs => hs.map(h => h.textContent.trim())"
        )
        assert heads[1] == "Organisation"
        assert any(h.startswith("Sales") for h in heads)
        assert any(h.startswith("Warehouse") for h in heads)
        assert page.locator("#compare-rest").count() == 1
    finally:
        context.close()
