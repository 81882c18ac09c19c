"""A respondent in a real browser: accessible in every language, by keyboard, without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from portal.domain.entities import Audience
from portal.instruments import get_questionnaire
from tests.e2e.conftest import ARTIFACTS, LivePortal, axe_violations, run_axe

pytestmark = pytest.mark.e2e
EMPLOYEE_ITEMS = [i.id for i in get_questionnaire("change-readiness").items_for(Audience.EMPLOYEE)]


def responses(live: LivePortal) -> int:
    """Count stored responses in the open demo wave."""
    total, cursor = 0, None
    while True:
        page = live.store.list_responses("demo-crm", "follow-up-1", cursor=cursor, limit=1000)
        total += len(page.items)
        if page.next_cursor is None:
            return total
        cursor = page.next_cursor


@pytest.mark.parametrize("language", ["en", "da"])
@pytest.mark.parametrize(
    "page_path",
    ["", "/q?aud=employee", "/q?aud=manager", "/thanks", "/code", "/unavailable"],
)
def test_every_respondent_page_has_no_accessibility_violations(
    browser: Browser, live_portal: LivePortal, language: str, page_path: str
) -> None:
    if page_path == "/code":
        url = f"{live_portal.url}/code?lang={language}"
    elif page_path == "/unavailable":
        url = f"{live_portal.url}/s/{'Z' * 16}?lang={language}"
    else:
        url = f"{live_portal.link()}{page_path}{'&' if '?' in page_path else '?'}lang={language}"
    assert axe_violations(browser, url) == []


def test_the_error_summary_page_has_no_accessibility_violations(
    browser: Browser, live_portal: LivePortal
) -> None:
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(live_portal.link() + "/q?aud=employee")
    page.check(f"input[name='{EMPLOYEE_ITEMS[0]}'][value='4']")
    page.click("button[type=submit]")
    assert page.locator("#error-summary").is_visible()
    violations = run_axe(page)
    context.close()
    assert violations == []


def test_a_respondent_completes_the_questionnaire_with_the_keyboard_only(
    page: Page, live_portal: LivePortal
) -> None:
    before = responses(live_portal)
    page.goto(live_portal.link() + "/q?aud=employee&lang=en")
    page.keyboard.press("Tab")  # skip link
    while page.evaluate("document.activeElement.type") != "radio":
        page.keyboard.press("Tab")
    for _ in EMPLOYEE_ITEMS:
        assert page.evaluate("document.activeElement.type") == "radio"
        for _step in range(3):
            page.keyboard.press("ArrowRight")  # arrow keys choose within a radio group
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "comment"
    page.keyboard.type("Answered with the keyboard only.")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
    page.keyboard.press("Enter")
    page.wait_for_url("**/thanks*")
    assert "Thank you!" in page.content()
    assert responses(live_portal) == before + 1


def test_a_respondent_answers_without_javascript_and_fixes_a_missed_question(
    browser: Browser, live_portal: LivePortal
) -> None:
    before = responses(live_portal)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_portal.link("HAM-FIELD"))
    page.check("input[name=aud][value=employee]")
    page.click("button[type=submit]")
    for item in EMPLOYEE_ITEMS[1:]:
        page.check(f"input[name='{item}'][value='2']")
    page.fill("#comment", "No scripts here.")
    page.click("button[type=submit]")
    summary = page.locator("#error-summary")
    assert "1 statement still needs an answer" in summary.inner_text()
    assert page.is_checked(f"input[name='{EMPLOYEE_ITEMS[1]}'][value='2']")
    assert page.input_value("#comment") == "No scripts here."
    summary.locator("a").first.click()
    page.check(f"input[name='{EMPLOYEE_ITEMS[0]}'][value='5']")
    page.click("button[type=submit]")
    page.wait_for_url("**/thanks*")
    context.close()
    assert responses(live_portal) == before + 1


def test_the_progress_counter_and_jump_button_help_when_javascript_runs(
    page: Page, live_portal: LivePortal
) -> None:
    page.goto(live_portal.link() + "/q?aud=employee&lang=en")
    progress = page.locator("#progress")
    assert progress.inner_text() == f"0 of {len(EMPLOYEE_ITEMS)} answered"
    for item in EMPLOYEE_ITEMS[:3]:
        page.check(f"input[name='{item}'][value='4']")
    assert progress.inner_text() == f"3 of {len(EMPLOYEE_ITEMS)} answered"
    page.click("button.jump")
    focused = page.evaluate("document.activeElement.name")
    assert focused == EMPLOYEE_ITEMS[3]


def test_the_questionnaire_fits_a_320_pixel_phone(
    browser: Browser, live_portal: LivePortal
) -> None:
    context = browser.new_context(viewport={"width": 320, "height": 640})
    page = context.new_page()
    page.goto(live_portal.link() + "/q?aud=manager&lang=da")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "320px-questionnaire-da.png"))
    width = page.evaluate("document.documentElement.scrollWidth")
    context.close()
    assert width <= 320


def test_the_questionnaire_runs_under_the_strict_content_security_policy(
    page: Page, live_portal: LivePortal
) -> None:
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(live_portal.link() + "/q?aud=employee")
    page.wait_for_load_state("networkidle")
    assert [m for m in messages if "Content Security Policy" in m] == []
    assert page.locator("#progress").inner_text() != ""  # our script ran


def test_a_kiosk_returns_to_the_start_for_the_next_person(
    page: Page, live_portal: LivePortal
) -> None:
    page.goto(live_portal.link("HAM-WH", kiosk=True) + "/q?aud=employee&lang=en")
    for item in EMPLOYEE_ITEMS:
        page.check(f"input[name='{item}'][value='3']")
    page.click("button[type=submit]")
    page.wait_for_url("**/thanks*")
    page.click("text=Start again for the next person")
    assert "You have already answered" not in page.content()
    assert page.locator("input[name=aud]").count() == 2
