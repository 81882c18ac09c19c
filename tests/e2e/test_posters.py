"""Posters as people meet them: on screen, scanned by a reader, and printed on A4."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, Page

from portal.cli import main
from tests.e2e.conftest import ARTIFACTS, LivePortal, axe_violations
from tests.qr_decode import decode_qr

pytestmark = pytest.mark.e2e


def test_the_poster_on_screen_scans_to_its_link(page: Page, live_portal: LivePortal) -> None:
    link = live_portal.link("HAM-PLAN")
    page.set_viewport_size({"width": 800, "height": 1200})
    page.goto(link + "/poster")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "poster.png"
    page.screenshot(path=str(shot), full_page=True)
    assert decode_qr(shot) == [link]


def test_the_svg_qr_code_scans_to_its_link(
    page: Page, live_portal: LivePortal, tmp_path: Path
) -> None:
    link = live_portal.link("AAR-FIN")
    page.set_viewport_size({"width": 600, "height": 600})
    page.goto(link + "/qr.svg")
    shot = tmp_path / "svg.png"
    page.screenshot(path=str(shot))
    assert decode_qr(shot) == [link]


def test_the_poster_has_no_accessibility_violations(
    browser: Browser, live_portal: LivePortal
) -> None:
    assert axe_violations(browser, live_portal.link() + "/poster?lang=da") == []


def test_the_poster_sheet_prints_one_a4_page_per_department(
    page: Page, live_portal: LivePortal, tmp_path: Path
) -> None:
    sheet = tmp_path / "posters.html"
    result = CliRunner().invoke(
        main,
        ["posters", "--survey", "demo-crm", "--wave", "follow-up-1", "--out", str(sheet)],
        env={"PORTAL_DATABASE_PATH": live_portal.store.path, "PORTAL_PUBLIC_URL": live_portal.url},
    )
    assert result.exit_code == 0, result.output
    posters = len(live_portal.store.list_links("demo-crm", "follow-up-1"))
    page.goto(sheet.as_uri())
    pdf = tmp_path / "posters.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert f"Pages:           {posters}" in info.stdout
    assert "(A4)" in info.stdout
    png = tmp_path / "page"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "100", "-f", "2", "-l", "2", str(pdf), str(png)], check=True
    )
    [rendered] = tmp_path.glob("page*.png")
    [decoded] = decode_qr(rendered)
    assert decoded.startswith(live_portal.url + "/s/")
