"""A live portal on 127.0.0.1 and a real headless Chromium (Debian's) driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from portal.app import create_app
from portal.services.demo import DEMO_SLUG, load_demo
from portal.storage.sqlite import SqliteStore
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, serve

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@dataclass(frozen=True)
class LivePortal:
    """The demo portal served on 127.0.0.1, and its store."""

    url: str
    store: SqliteStore

    def link(self, department: str = "AAR-SALES", *, kiosk: bool = False) -> str:
        """Return the address of a department's link in the open demo wave."""
        for link in self.store.list_links(DEMO_SLUG, "follow-up-1"):
            if link.department_code == department and link.kiosk == kiosk:
                return f"{self.url}/s/{link.token}"
        raise LookupError(department)


@pytest.fixture(scope="session")
def live_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePortal]:
    """Serve the portal with the demo loaded on a free port of 127.0.0.1."""
    store = SqliteStore(tmp_path_factory.mktemp("e2e") / "portal.sqlite3")
    store.create_schema()
    load_demo(store, today=date.today())
    app = create_app({"env": "testing", "secret_key": "e2e-" + "k" * 40}, store=store)
    with serve(app) as url:
        yield LivePortal(url, store)


@pytest.fixture(scope="session")
def live_url(live_portal: LivePortal) -> str:
    """Return the live portal's base address."""
    return live_portal.url


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Launch Debian's Chromium headless; never download a browser."""
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """Open a phone-sized page with the site's real Content-Security-Policy in force."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


def axe_violations(browser: Browser, url: str, **context_options: Any) -> list[dict[str, Any]]:
    """Load ``url`` and return axe-core's WCAG 2.1 A/AA violations.

    axe is injected as a script, which the strict CSP would rightly block, so
    this context bypasses CSP; ``test_pages_raise_no_csp_violations`` checks
    the policy separately.
    """
    context = browser.new_context(bypass_csp=True, **context_options)
    try:
        page = context.new_page()
        page.goto(url)
        return run_axe(page)
    finally:
        context.close()


def run_axe(page: Page) -> list[dict[str, Any]]:
    """Run axe-core's WCAG 2.1 A/AA rules on the page as it is now (CSP must be bypassed)."""
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
    ]


def signed_in_context(browser: Browser, url: str, email: str, password: str) -> BrowserContext:
    """Return a desktop-sized context signed in through the real sign-in form."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{url}/admin/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/admin/")
    page.close()
    return context
