"""The scorecard printed by a real Chromium, and the server's PDF, read back with poppler.

Each unit must start a new A4 page (a long plan runs on to the next), and the
scores on each unit's first page must be the results service's. One page of
each is kept as a PNG in test-artifacts/ to be looked at.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext

from portal.app import create_app
from portal.domain.accounts import Role
from portal.domain.scorecard import ORGANISATION
from portal.services import readiness
from portal.services.accounts import create_user
from portal.storage.sqlite import SqliteStore
from tests.e2e.conftest import ARTIFACTS, axe_violations, signed_in_context
from tests.e2e.test_admin import GUIDE_IMAGES
from tests.live_server import serve
from tests.web.test_results import SLUG, STANDARD, make_organisation

pytestmark = pytest.mark.e2e
EMAIL = "print@example.com"
PASSWORD = "maple rocket violet 17"
SHEET = f"/admin/surveys/{SLUG}/waves/baseline/scorecard"


@dataclass(frozen=True)
class Portal:
    url: str
    store: SqliteStore


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """Serve a portal whose wave has the standard organisation's answers (some too low)."""
    store = SqliteStore(tmp_path_factory.mktemp("print") / "portal.sqlite3")
    store.create_schema()
    make_organisation(store, STANDARD, bias=-1)
    create_user(
        store,
        email=EMAIL,
        role=Role.ADMIN,
        password=PASSWORD,
        actor="test",
        must_change_password=False,
    )
    app = create_app({"env": "testing", "secret_key": "prt-" + "k" * 40}, store=store)
    with serve(app) as url:
        yield Portal(url, store)


@pytest.fixture(scope="module")
def context(browser: Browser, portal: Portal) -> Iterator[BrowserContext]:
    """Keep one signed-in admin session for the module."""
    ctx = signed_in_context(browser, portal.url, EMAIL, PASSWORD)
    yield ctx
    ctx.close()


def page_texts(pdf: Path) -> list[str]:
    """Return each page's text as pdftotext lays it out."""
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    match = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
    assert match, info.stdout
    assert re.search(r"^Page size:\s+59[45]\.\d* x 841\.\d* pts \(A4\)", info.stdout, re.M), (
        info.stdout
    )
    return [
        subprocess.run(
            ["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in range(1, int(match.group(1)) + 1)
    ]


def keep_png(pdf: Path, page: int, name: str) -> Path:
    """Render one page to test-artifacts/<name>.png for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "70",
            "-png",
            "-singlefile",
            "-f",
            str(page),
            "-l",
            str(page),
            str(pdf),
            str(target),
        ],
        check=True,
    )
    return target.with_suffix(".png")


def expected_pages(store: SqliteStore) -> list[tuple[str, str, dict[str, int] | None]]:
    """Return (unit, label, shown index per lever label) for every page, from the service."""
    results = readiness.wave_results(store, SLUG, "baseline")
    found = []
    for row in results.rows:
        if row.kind is readiness.RowKind.SITE:
            continue
        unit = ORGANISATION if row.kind is readiness.RowKind.ORGANISATION else row.key
        label = "Whole organisation" if unit == ORGANISATION else row.label
        scores = None
        if row.result is not None:
            scores = {
                lever.name["en"]: readiness.whole_index(s.index)
                for lever in results.levers
                if (s := row.result.scores.get(lever.id)) is not None and s.index is not None
            }
        found.append((unit, label, scores))
    return found


def unit_starts(texts: list[str]) -> list[str]:
    """Return the pages that start a unit: those with its facts (a continuation has none)."""
    return [text for text in texts if "Minimum group size" in text]


def check_pages(texts: list[str], expected: list[tuple[str, str, dict[str, int] | None]]) -> None:
    """Assert each unit starts a page, in order, showing the service's scores."""
    starts = unit_starts(texts)
    assert texts[0] == starts[0]
    assert len(starts) == len(expected), [t[:80] for t in texts]
    for text, (unit, label, scores) in zip(starts, expected, strict=True):
        assert label in text, (unit, text[:300])
        if scores is None:
            assert "Not enough responses to publish scores" in " ".join(text.split()), unit
            continue
        for lever, index in scores.items():
            line = next((ln for ln in text.splitlines() if ln.strip().startswith(lever)), None)
            assert line is not None, (unit, lever)
            first = re.search(r"\d+", line[line.index(lever) + len(lever) :])
            assert first is not None and int(first.group()) == index, (unit, lever, line)


def test_chromium_prints_each_unit_from_a_new_a4_page_with_the_services_scores(
    context: BrowserContext, portal: Portal, tmp_path: Path
) -> None:
    page = context.new_page()
    page.goto(portal.url + SHEET)
    page.emulate_media(media="print")
    pdf = tmp_path / "printed.pdf"
    pdf.write_bytes(page.pdf(format="A4", print_background=True, prefer_css_page_size=True))
    expected = expected_pages(portal.store)
    texts = page_texts(pdf)
    check_pages(texts, expected)
    second = texts.index(unit_starts(texts)[[u for u, _, _ in expected].index("SALES")]) + 1
    assert keep_png(pdf, second, "scorecard-printed").stat().st_size > 10_000
    # The admin guide shows this page (refreshed with UPDATE_GUIDE_IMAGES=1).
    GUIDE_IMAGES.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-r", "90", "-png", "-singlefile", "-f", str(second), "-l", str(second),
         str(pdf), str(GUIDE_IMAGES / "admin-10-scorecard")],
        check=True,
    )  # fmt: skip
    page.close()


def test_the_servers_pdf_has_the_same_pages_and_numbers(
    context: BrowserContext, portal: Portal, tmp_path: Path
) -> None:
    response = context.request.get(portal.url + SHEET + ".pdf")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "server.pdf"
    pdf.write_bytes(response.body())
    expected = expected_pages(portal.store)
    texts = page_texts(pdf)
    check_pages(texts, expected)
    second = texts.index(unit_starts(texts)[[u for u, _, _ in expected].index("SALES")]) + 1
    assert keep_png(pdf, second, "scorecard-server").stat().st_size > 10_000


def test_the_scorecard_page_has_no_axe_violations_and_no_csp_errors(
    browser: Browser, context: BrowserContext, portal: Portal
) -> None:
    cookies = context.cookies()
    assert axe_violations(browser, portal.url + SHEET, storage_state={"cookies": cookies}) == []
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('CSP violation: ' + e.violatedDirective))"
    )
    page.goto(portal.url + SHEET + "?unit=SALES")
    page.wait_for_selector(".sc-chart svg")
    assert problems == []
    page.close()


def test_the_scorecard_fits_a_320_pixel_screen(
    browser: Browser, context: BrowserContext, portal: Portal
) -> None:
    narrow = browser.new_context(
        viewport={"width": 320, "height": 700}, storage_state={"cookies": context.cookies()}
    )
    page = narrow.new_page()
    page.goto(portal.url + SHEET + "?unit=SALES")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320
    narrow.close()


@pytest.mark.parametrize(
    "path",
    [
        f"/admin/surveys/{SLUG}/waves/baseline/plan",
        f"/admin/surveys/{SLUG}/waves/baseline/plan/SALES",
        f"/admin/surveys/{SLUG}/waves/baseline/plan/*",
        f"/admin/surveys/{SLUG}/scorecard-settings",
        f"/admin/surveys/{SLUG}/waves/baseline/results/quality",
        f"/admin/surveys/{SLUG}/waves/baseline/results/raw",
    ],
)
def test_plan_targets_quality_and_raw_export_pages_have_no_axe_violations(
    browser: Browser, context: BrowserContext, portal: Portal, path: str
) -> None:
    assert context.request.get(portal.url + path).status == 200
    cookies = context.cookies()
    assert axe_violations(browser, portal.url + path, storage_state={"cookies": cookies}) == []
