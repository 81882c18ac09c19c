"""A long plan printed in full: by Chromium from the scorecard page, and in the server's PDF.

A unit with twelve long actions HR wrote (titles, roles, KPIs and targets near
their longest) and the catalogue's suggestions (with their descriptions), in a
wave with a long name: every action must be printed whole — nothing clipped at
a page's foot, nothing cut with "…" — over as many pages as it takes, and
the reinforcement plan must continue on a second page.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext

from portal.app import create_app
from portal.domain.accounts import Role
from portal.domain.scorecard import ActionStatus
from portal.render.metrics import winansi
from portal.services import plans
from portal.services import scorecard as service
from portal.services.accounts import create_user
from portal.storage.sqlite import SqliteStore
from tests.e2e.conftest import signed_in_context
from tests.live_server import serve
from tests.web.test_results import SLUG, STANDARD, make_organisation

pytestmark = pytest.mark.e2e
EMAIL = "long-plan@example.com"
PASSWORD = "maple rocket violet 17"
SHEET = f"/admin/surveys/{SLUG}/waves/baseline/scorecard"
LONG_WAVE = "Baseline after the spring rollout of the new customer relationship system"
LEVERS = ("purpose", "involvement", "managers", "skills", "governance", "ownership")


def long_action(n: int) -> plans.ActionChanges:
    """Return the ``n``-th long action: every text near its longest, and told apart by n."""
    return plans.ActionChanges(
        lever_id=LEVERS[n % len(LEVERS)],
        title=(
            f"Action {n} makes weekly team huddles about the system a standing item where every "
            f"question raised is written down answered and followed up within one week"
        )[:160],
        owner_role=f"Regional head of customer operations and service quality number {n}",
        mandate_holder=f"Executive vice president for sales operations and service number {n}",
        due=date(2027, 1, n),
        kpi=(
            f"Share of open questions from huddle {n} answered within five working days as "
            "recorded in the team log and checked by the local change lead every second month"
        ),
        kpi_target=f"At least eighty per cent by the end of the quarter for team {n}",
        status=ActionStatus.IN_PROGRESS,
    )


@dataclass(frozen=True)
class Portal:
    url: str
    store: SqliteStore


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """Serve the standard organisation (low scores) with a long plan for Sales."""
    store = SqliteStore(tmp_path_factory.mktemp("long-plan") / "portal.sqlite3")
    store.create_schema()
    make_organisation(store, STANDARD, bias=-1)
    wave = store.get_wave(SLUG, "baseline")
    store.update_wave(dataclasses.replace(wave, name=LONG_WAVE), expected_status=wave.status)
    for n in range(1, 13):
        plans.add_own(store, "hr", SLUG, "baseline", "SALES", long_action(n))
    create_user(
        store, email=EMAIL, role=Role.ADMIN, password=PASSWORD, actor="t",
        must_change_password=False,
    )  # fmt: skip
    app = create_app({"env": "testing", "secret_key": "lpl-" + "k" * 40}, store=store)
    with serve(app) as url:
        yield Portal(url, store)


@pytest.fixture(scope="module")
def context(browser: Browser, portal: Portal) -> Iterator[BrowserContext]:
    """Keep one signed-in admin session for the module."""
    ctx = signed_in_context(browser, portal.url, EMAIL, PASSWORD)
    yield ctx
    ctx.close()


def flat(text: str) -> str:
    """Collapse whitespace, so text wrapped over lines and pages reads as one."""
    return " ".join(text.split())


def pages(pdf: Path) -> list[str]:
    """Return each page's text in drawing order (``pdftotext -raw``: cell after cell)."""
    out = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return out.split("\f")[:-1]


def words_outside_the_page(pdf: Path) -> list[str]:
    """Return the words poppler places beyond an A4 page's printable area."""
    out = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    outside = []
    for y_max, word in re.findall(r'yMax="([\d.]+)">([^<]*)</word>', out):
        if float(y_max) > 841.9 - 20:
            outside.append(word)
    return outside


def expected_lines(portal: Portal, spell: Callable[[str], str]) -> list[list[str]]:
    """Return, per plan action of Sales, the texts to find in full as ``spell`` prints them."""
    card = service.scorecard(portal.store, SLUG, "baseline", department="SALES",
                             max_plan_lines=None)  # fmt: skip
    (page,) = card.pages
    assert len(page.plan) > 12  # the twelve long actions and the catalogue's suggestions
    assert any(line.description for line in page.plan)
    return [
        [
            flat(spell(text))
            for text in (
                line.title,
                line.description,
                line.owner_role,
                line.mandate_holder,
                line.kpi,
                line.kpi_target,
            )
            if text
        ]  # fmt: skip
        for line in page.plan
    ]


def check_in_full(texts: list[str], portal: Portal, spell: Callable[[str], str]) -> None:
    """Assert the plan runs over pages and every action's every text is printed whole."""
    assert len(texts) >= 2
    assert "Minimum group size" in texts[0]
    assert all("Minimum group size" not in text for text in texts[1:])
    body = flat(" ".join(texts))
    assert LONG_WAVE in body
    for texts_of_action in expected_lines(portal, spell):
        for text in texts_of_action:
            assert text in body, text
    # The last action of the plan is on the last page.
    assert expected_lines(portal, spell)[-1][0] in flat(texts[-1])
    assert "…" not in body.replace(LONG_WAVE[:20], "")


def test_chromium_prints_every_action_of_a_long_plan_in_full(
    context: BrowserContext, portal: Portal, tmp_path: Path
) -> None:
    page = context.new_page()
    page.goto(portal.url + SHEET + "?unit=SALES")
    page.emulate_media(media="print")
    pdf = tmp_path / "printed.pdf"
    pdf.write_bytes(page.pdf(format="A4", print_background=True, prefer_css_page_size=True))
    check_in_full(pages(pdf), portal, str)
    assert words_outside_the_page(pdf) == []
    page.close()


def test_the_servers_pdf_prints_every_action_of_a_long_plan_in_full(
    context: BrowserContext, portal: Portal, tmp_path: Path
) -> None:
    response = context.request.get(portal.url + SHEET + ".pdf?unit=SALES")
    assert response.status == 200
    pdf = tmp_path / "server.pdf"
    pdf.write_bytes(response.body())
    texts = pages(pdf)
    # The running footer may shorten the wave name; the page itself never does.
    without_footer = [
        "\n".join(ln for ln in text.splitlines() if not ln.startswith("Reinforcement scorecard ·"))
        for text in texts
    ]
    # The PDF's fonts spell what WinAnsi lacks with what it has (≥ as >=).
    check_in_full(without_footer, portal, winansi)
    assert all("(continued)" in text for text in texts[1:])
    assert words_outside_the_page(pdf) == []
