"""The public pages in a real browser: accessible, phone-sized, keyboard-usable, CSP-clean."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from tests.e2e.conftest import ARTIFACTS, axe_violations

pytestmark = pytest.mark.e2e
PUBLIC_PAGES = ["/", "/no-such-page"]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_page_has_no_accessibility_violations(
    browser: Browser, live_url: str, path: str
) -> None:
    assert axe_violations(browser, live_url + path) == []


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_page_fits_a_320_pixel_screen(browser: Browser, live_url: str, path: str) -> None:
    context = browser.new_context(viewport={"width": 320, "height": 640})
    page = context.new_page()
    page.goto(live_url + path)
    ARTIFACTS.mkdir(exist_ok=True)
    name = path.strip("/").replace("/", "-") or "home"
    page.screenshot(path=str(ARTIFACTS / f"320px-{name}.png"), full_page=True)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    context.close()
    assert scroll_width <= 320


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_pages_raise_no_csp_violations(page: Page, live_url: str, path: str) -> None:
    messages: list[str] = []
    page.on("console", lambda message: messages.append(_text(message)))
    page.goto(live_url + path)
    page.wait_for_load_state("networkidle")
    assert [m for m in messages if "Content Security Policy" in m] == []
    # The stylesheet really applied under the policy (it would not if CSP blocked it).
    colour = page.evaluate(
        "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    )
    assert colour == "rgb(31, 79, 163)"


def _text(message: ConsoleMessage) -> str:
    return message.text


def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_the_content(
    page: Page, live_url: str
) -> None:
    page.goto(live_url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
