"""HR's whole wave in a real browser; the screenshots illustrate docs/admin-guide.md."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, BrowserContext, Page, expect

from portal.app import create_app
from portal.cli import main
from portal.domain.entities import Audience
from portal.instruments import get_questionnaire
from portal.services.results import refresh_snapshot
from portal.storage.sqlite import SqliteStore
from tests.builders import make_response
from tests.e2e.conftest import ROOT, axe_violations
from tests.live_server import serve
from tests.qr_decode import decode_qr

pytestmark = pytest.mark.e2e
#: The admin guide's screenshots are refreshed on request (UPDATE_GUIDE_IMAGES=1 make pytest);
#: ordinary runs keep them in test-artifacts so the working tree stays clean.
GUIDE_IMAGES = (
    ROOT / "docs" / "images"
    if os.environ.get("UPDATE_GUIDE_IMAGES")
    else ROOT / "test-artifacts" / "guide"
)
CSV = (
    "code,name,site,headcount\n"
    "CPH-SALES,Sales,Copenhagen,24\n"
    "CPH-FIN,Finance,Copenhagen,9\n"
    "OSL-OPS,Operations,Oslo,31\n"
)
NEW_PASSWORD = "tulip kettle orbit 42"


@pytest.fixture(scope="module")
def hr_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Serve an empty portal (no demo) on 127.0.0.1; yield its address and database path."""
    db = tmp_path_factory.mktemp("admin") / "portal.sqlite3"
    store = SqliteStore(db)
    store.create_schema()
    app = create_app({"env": "testing", "secret_key": "adm-" + "k" * 40}, store=store)
    with serve(app) as url:
        yield url, db


def shot(page: Page, name: str) -> None:
    """Save a screenshot for the admin guide."""
    GUIDE_IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(GUIDE_IMAGES / f"{name}.png"), full_page=True)


def give_answers(store: SqliteStore) -> None:
    """Store 12 answers per department of the open baseline (same keys each time: stored once)."""
    items = get_questionnaire("change-readiness").items_for(Audience.EMPLOYEE)
    for code in ("CPH-SALES", "CPH-FIN", "OSL-OPS"):
        for n in range(12):
            answers = {i.id: 1 + (n + len(i.id) + len(code)) % 5 for i in items}
            key = f"{code}-e2e-answer-{n:03d}".replace("_", "-")
            store.add_response(make_response(survey_slug="erp-2027", department_code=code,
                                             key=key, answers=answers))  # fmt: skip
    # An earlier page (participation) computed the wave's figures before these answers;
    # refresh them now, as `portal results refresh` would, rather than wait 5 minutes.
    refresh_snapshot(store, "erp-2027", "baseline", now=datetime.now(UTC))


def one_time_password(output: str) -> str:
    """Read the password that ``portal user create`` prints once."""
    match = re.search(r"One-time password: (\S+)", output)
    assert match, output
    return match.group(1)


def sign_in(page: Page, url: str, email: str, password: str) -> None:
    """Sign in through the form."""
    page.goto(f"{url}/admin/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def change_password(page: Page, current: str) -> None:
    """Choose a new password on the forced change page."""
    page.get_by_label("Current password").fill(current)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()


@pytest.fixture(scope="module")
def admin_context(browser: Browser) -> Iterator[BrowserContext]:
    """Keep one admin browser session for the whole walkthrough."""
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    context.set_default_timeout(10_000)
    yield context
    context.close()


def test_1_the_first_admin_signs_in_with_the_password_from_the_cli(
    admin_context: BrowserContext, hr_portal: tuple[str, Path]
) -> None:
    url, db = hr_portal
    created = CliRunner().invoke(
        main,
        ["user", "create", "--email", "hr@example.com", "--role", "admin"],
        env={"PORTAL_DATABASE_PATH": str(db)},
    )
    assert created.exit_code == 0, created.output
    page = admin_context.new_page()
    page.goto(f"{url}/admin/")
    assert "/admin/login" in page.url
    shot(page, "admin-01-sign-in")
    sign_in(page, url, "hr@example.com", one_time_password(created.output))
    assert page.url.endswith("/admin/password")
    change_password(page, one_time_password(created.output))
    expect(page.locator("h1")).to_have_text("Surveys")


def test_2_an_admin_creates_a_survey_with_departments_from_a_csv_file(
    admin_context: BrowserContext, hr_portal: tuple[str, Path], tmp_path: Path
) -> None:
    url, db = hr_portal
    csv = tmp_path / "departments.csv"
    csv.write_text(CSV, encoding="utf-8")
    page = admin_context.new_page()
    page.goto(f"{url}/admin/")
    page.get_by_role("link", name="New survey").click()
    page.get_by_label("Short name (slug)").fill("erp-2027")
    page.get_by_label("Title").fill("ERP rollout 2027")
    page.get_by_label("System name in English").fill("the new ERP")
    page.get_by_label("System name in Danish").fill("det nye ERP")
    page.get_by_label("Departments (CSV file, optional)").set_input_files(str(csv))
    shot(page, "admin-02-new-survey")
    page.get_by_role("button", name="Create survey").click()
    expect(page.locator("h1")).to_have_text("ERP rollout 2027")
    codes = [d.code for d in SqliteStore(db).list_departments("erp-2027")]
    assert codes == ["CPH-FIN", "CPH-SALES", "OSL-OPS"]


def test_3_an_admin_adds_and_opens_the_baseline_wave(
    admin_context: BrowserContext, hr_portal: tuple[str, Path]
) -> None:
    url, db = hr_portal
    page = admin_context.new_page()
    page.goto(f"{url}/admin/surveys/erp-2027")
    page.get_by_label("Wave id").fill("baseline")
    page.get_by_label("Name").fill("Baseline, spring")
    page.get_by_role("button", name="Add baseline wave").click()
    page.get_by_role("link", name="Open wave Baseline, spring").click()
    expect(page.locator("h1")).to_contain_text("Open the wave")
    shot(page, "admin-03-open-wave")
    page.get_by_role("button", name="Open the wave and make the links").click()
    expect(page.locator("h1")).to_have_text("ERP rollout 2027")  # back on the survey page
    shot(page, "admin-04-survey")
    assert SqliteStore(db).get_wave("erp-2027", "baseline").status.value == "open"
    assert len(SqliteStore(db).list_links("erp-2027", "baseline")) == 3


def test_4_an_admin_downloads_the_poster_sheet_and_codes(
    admin_context: BrowserContext, hr_portal: tuple[str, Path], tmp_path: Path
) -> None:
    url, db = hr_portal
    page = admin_context.new_page()
    page.goto(f"{url}/admin/surveys/erp-2027/waves/baseline")
    shot(page, "admin-05-distribution")
    page.get_by_role("button", name="Open the poster sheet").click()
    page.locator("section.poster").first.wait_for()  # count() alone does not wait for the page
    assert page.locator("section.poster").count() == 3
    pdf = tmp_path / "posters.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert "Pages:           3" in info.stdout
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "sheet")], check=True)  # fmt: skip
    [png] = tmp_path.glob("sheet*.png")
    [link] = decode_qr(png)
    assert link.startswith(f"{url}/s/")
    page.go_back()
    page.get_by_label("Department").select_option("CPH-FIN")
    page.get_by_label("Number of codes").fill("4")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download codes (CSV)").click()
    rows = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(rows) == 5 and rows[1].startswith("CPH-FIN,")


def test_5_an_admin_revokes_a_department_viewer_whose_next_page_asks_to_sign_in(
    browser: Browser, admin_context: BrowserContext, hr_portal: tuple[str, Path]
) -> None:
    url, db = hr_portal
    page = admin_context.new_page()
    page.goto(f"{url}/admin/users")
    page.get_by_role("link", name="New account").click()
    page.get_by_label("E-mail address").fill("lead.oslo@example.com")
    page.get_by_label("Role").select_option("department-viewer")
    page.get_by_label("Departments").select_option(["erp-2027/OSL-OPS"])
    page.get_by_role("button", name="Create account").click()
    password = page.locator(".one-time-password code").inner_text()
    shot(page, "admin-06-account-created")

    viewer = browser.new_context(viewport={"width": 1000, "height": 800})
    their_page = viewer.new_page()
    sign_in(their_page, url, "lead.oslo@example.com", password)
    change_password(their_page, password)
    their_page.goto(f"{url}/admin/surveys/erp-2027/waves/baseline/participation")
    assert "Operations" in their_page.content() and "Sales" not in their_page.content()
    shot(their_page, "admin-07-participation-department-viewer")

    page.goto(f"{url}/admin/users/lead.oslo@example.com/edit")
    page.get_by_role("button", name="Revoke access").click()
    expect(page.get_by_role("button", name="Restore access")).to_be_visible()  # revoke is done
    their_page.reload()
    assert "/admin/login" in their_page.url
    viewer.close()
    page.goto(f"{url}/admin/audit")
    assert "user.access-change" in page.content()
    shot(page, "admin-08-audit-log")


@pytest.mark.parametrize(
    "path",
    ["/admin/", "/admin/surveys/erp-2027", "/admin/surveys/erp-2027/waves/baseline",
     "/admin/surveys/erp-2027/waves/baseline/participation", "/admin/surveys/erp-2027/departments",
     "/admin/users", "/admin/audit", "/admin/surveys/erp-2027/waves/baseline/results",
     "/admin/surveys/erp-2027/waves/baseline/results/departments/OSL-OPS"],
)  # fmt: skip
def test_6_admin_pages_have_no_accessibility_violations(
    browser: Browser, admin_context: BrowserContext, hr_portal: tuple[str, Path], path: str
) -> None:
    url, db = hr_portal
    give_answers(SqliteStore(db))  # so the results pages show real figures, not only dashes
    cookies = admin_context.cookies()
    assert axe_violations(browser, url + path, storage_state={"cookies": cookies}) == []


def test_7_the_results_heatmap_shows_scores_and_the_lever_to_reinforce(
    admin_context: BrowserContext, hr_portal: tuple[str, Path]
) -> None:
    url, db = hr_portal
    give_answers(SqliteStore(db))
    page = admin_context.new_page()
    page.goto(f"{url}/admin/surveys/erp-2027/waves/baseline/results")
    shot(page, "admin-09-results")
    table = page.locator("table").first.inner_text()
    assert "Purpose" in table and "Organisation" in table
    assert re.search(r"\b\d{1,3}\b", table)  # real figures, not only "not enough responses"
