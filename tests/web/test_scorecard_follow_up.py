"""The follow-up's scorecard, PDF and plan page: done actions are not suggested again,
overdue actions say so in words."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from pathlib import Path

from flask.testing import FlaskClient

from portal.domain.scorecard import ActionStatus, ScorecardSettings, When
from portal.instruments import get_action_catalogue
from portal.services import plans
from portal.services.scorecard import scorecard
from portal.services.surveys import close_wave
from portal.storage.port import Store
from tests.builders import make_plan_action
from tests.web.test_results import SLUG, STANDARD, make_organisation
from tests.web.test_scorecard import needs_poppler, pages, pdf_pages
from tests.web.test_scorecard_plan import suggested

FOLLOW_UP = f"/admin/surveys/{SLUG}/waves/follow-up"
BASELINE = f"/admin/surveys/{SLUG}/waves/baseline"
SUGGESTED_ROW = re.compile(r'<tr class="sc-suggested">(.*?)</tr>', re.S)
SAVED_ROW = re.compile(r'<tr class="sc-saved">(.*?)</tr>', re.S)
CATALOGUE = get_action_catalogue("change-readiness")


def follow_up(store: Store) -> None:
    """Answer the baseline, close it and open a follow-up with other answers."""
    make_organisation(store, STANDARD)
    close_wave(store, SLUG, "baseline", today=date.today())
    make_organisation(store, STANDARD, create=False, wave_id="follow-up", seed=7, bias=1)


def first_lever_suggestion(store: Store) -> tuple[str, str]:
    """Return the catalogue id and lever of SALES's first suggestion for a lever."""
    card = scorecard(store, SLUG, "follow-up", department="SALES", max_plan_lines=None)
    line = next(
        line
        for line in card.pages[0].plan
        if line.catalogue_id and CATALOGUE.get(line.catalogue_id).when is not When.LOW_RESPONSE
    )
    assert line.catalogue_id is not None
    return line.catalogue_id, line.lever_id


def done_in_baseline(store: Store, catalogue_id: str, number: int = 0) -> str:
    """Save ``catalogue_id`` as done in the SALES baseline plan; return its English title."""
    found = CATALOGUE.get(catalogue_id)
    title = found.in_language("en", "the new CRM").title
    store.put_plan_action(
        make_plan_action(
            survey_slug=SLUG,
            action_id=f"{number:016x}",
            lever_id=found.lever_id,
            catalogue_id=catalogue_id,
            title=title,
            status=ActionStatus.DONE,
            due=date.today() - timedelta(days=30),
        )
    )
    return title


def one_line(text: str) -> str:
    """Return ``text`` with every run of white space made one space."""
    return " ".join(text.split())


def test_an_action_done_in_the_baseline_is_not_suggested_again_in_the_follow_up(
    admin: FlaskClient, store: Store, tmp_path: Path
) -> None:
    follow_up(store)
    catalogue_id, lever = first_lever_suggestion(store)
    title = done_in_baseline(store, catalogue_id)

    body = html.unescape(pages(admin.get(f"{FOLLOW_UP}/scorecard?unit=SALES").get_data(
        as_text=True))["SALES"])  # fmt: skip
    assert [row for row in SAVED_ROW.findall(body) if title in row], "the done action is listed"
    assert not [row for row in SUGGESTED_ROW.findall(body) if title in row]
    assert body.count(title) == 1
    # Its lever still gets a suggestion: the catalogue's next action for it.
    card = scorecard(store, SLUG, "follow-up", department="SALES", max_plan_lines=None)
    fresh = [line for line in card.pages[0].plan if not line.saved and line.lever_id == lever]
    assert fresh and all(line.catalogue_id != catalogue_id for line in fresh)

    plan_page = html.unescape(admin.get(f"{FOLLOW_UP}/plan/SALES").get_data(as_text=True))
    assert catalogue_id not in suggested(plan_page)
    assert {line.catalogue_id for line in fresh} <= set(suggested(plan_page))


@needs_poppler
def test_the_follow_up_pdf_lists_a_done_action_once(
    admin: FlaskClient, store: Store, tmp_path: Path
) -> None:
    follow_up(store)
    catalogue_id, _ = first_lever_suggestion(store)
    title = done_in_baseline(store, catalogue_id)
    texts = pdf_pages(admin.get(f"{FOLLOW_UP}/scorecard.pdf?unit=SALES").data, tmp_path)
    # The title may wrap in its column: look for its first words.
    start = " ".join(title.split()[:3])
    assert one_line("\n".join(texts)).count(start) == 1, start


def test_a_red_lever_whose_actions_are_all_done_gets_them_again_naming_the_wave(
    admin: FlaskClient, store: Store, tmp_path: Path
) -> None:
    follow_up(store)
    # Every lever below the attention line: the lever stays red after its actions.
    plans.save_settings(store, "test", ScorecardSettings(SLUG, attention=95, default_target=99))
    catalogue_id, lever = first_lever_suggestion(store)
    titles = [
        done_in_baseline(store, found.id, number)
        for number, found in enumerate(CATALOGUE.for_lever(lever))
        if found.when is not When.LOW_RESPONSE
    ]
    body = one_line(html.unescape(pages(admin.get(f"{FOLLOW_UP}/scorecard?unit=SALES").get_data(
        as_text=True))["SALES"]))  # fmt: skip
    again = [row for row in SUGGESTED_ROW.findall(body) if "done in Baseline" in row]
    assert again and all("suggested again:" in row for row in again)
    assert any(CATALOGUE.get(catalogue_id).in_language("en", "the new CRM").title in row
               for row in again)  # fmt: skip
    assert titles
    plan_page = one_line(html.unescape(admin.get(f"{FOLLOW_UP}/plan/SALES").get_data(
        as_text=True)))  # fmt: skip
    assert catalogue_id in suggested(plan_page)
    assert "done in Baseline, suggested again: " in plan_page


def overdue_plan(store: Store) -> dict[str, str]:
    """Save three SALES baseline actions; return each title by what it shows."""
    today = date.today()
    titles = {
        "overdue": "Weekly open hour with the key users",
        "due today": "Team meeting on the new routines",
        "done late": "Refresher course for the sales desk",
    }
    for number, (due, status, title) in enumerate(
        (
            (today - timedelta(days=1), ActionStatus.PLANNED, titles["overdue"]),
            (today, ActionStatus.IN_PROGRESS, titles["due today"]),
            (today - timedelta(days=40), ActionStatus.DONE, titles["done late"]),
        )
    ):
        store.put_plan_action(
            make_plan_action(
                survey_slug=SLUG,
                action_id=f"{number + 1:016x}",
                catalogue_id=None,
                title=title,
                due=due,
                status=status,
            )
        )
    return titles


def test_an_open_action_past_its_due_date_reads_overdue_on_the_scorecard_and_plan(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD)
    titles = overdue_plan(store)
    body = pages(admin.get(f"{BASELINE}/scorecard?unit=SALES").get_data(as_text=True))["SALES"]
    rows = {title: row for row in SAVED_ROW.findall(body) for title in titles.values()
            if title in row}  # fmt: skip
    assert set(rows) == set(titles.values())
    assert "overdue" in rows[titles["overdue"]]
    assert "overdue" not in rows[titles["due today"]] + rows[titles["done late"]]
    danish = pages(admin.get(f"{BASELINE}/scorecard?unit=SALES&lang=da").get_data(as_text=True))
    assert danish["SALES"].count("forsinket") == 1

    plan_page = admin.get(f"{BASELINE}/plan/SALES").get_data(as_text=True)
    cards = dict(re.findall(r'<article class="plan-action" id="action-([0-9a-f]+)">(.*?)</article>',
                            plan_page, re.S))  # fmt: skip
    shown = {title: card for card in cards.values() for title in titles.values() if title in card}
    assert re.search(r">overdue<", shown[titles["overdue"]])
    assert not re.search(r">overdue<", shown[titles["due today"]] + shown[titles["done late"]])


@needs_poppler
def test_the_pdf_says_overdue_beside_the_overdue_action_only(
    admin: FlaskClient, store: Store, tmp_path: Path
) -> None:
    make_organisation(store, STANDARD)
    titles = overdue_plan(store)
    text = "\n".join(pdf_pages(admin.get(f"{BASELINE}/scorecard.pdf?unit=SALES").data, tmp_path))
    lines = text.splitlines()
    marks = [n for n, line in enumerate(lines) if re.search(r"\boverdue\b", line)]
    assert len(marks) == 1, marks
    first = next(n for n, line in enumerate(lines) if titles["overdue"][:20] in line)
    # The word sits in the status cell, under the status, on the action's second line.
    assert 0 < marks[0] - first <= 2, lines[first : marks[0] + 1]


def test_the_services_mark_overdue_against_the_day_they_are_given(store: Store) -> None:
    make_organisation(store, STANDARD)
    store.put_plan_action(make_plan_action(survey_slug=SLUG, catalogue_id=None,
                                           due=date(2027, 1, 31)))  # fmt: skip
    for today, overdue in ((date(2027, 1, 31), False), (date(2027, 2, 1), True)):
        card = scorecard(store, SLUG, "baseline", department="SALES", today=today)
        [line] = [line for line in card.pages[0].plan if line.saved]
        assert line.overdue is overdue
        plan = plans.unit_plan(store, SLUG, "baseline", "SALES", today=today)
        assert plan.overdue == ({"0123456789abcdef"} if overdue else set())


def test_an_action_dropped_in_the_baseline_is_not_suggested_again_in_the_follow_up(
    admin: FlaskClient, store: Store
) -> None:
    follow_up(store)
    catalogue_id, lever = first_lever_suggestion(store)
    found = CATALOGUE.get(catalogue_id)
    title = found.in_language("en", "the new CRM").title
    store.put_plan_action(
        make_plan_action(
            survey_slug=SLUG,
            action_id="d" * 16,
            lever_id=found.lever_id,
            catalogue_id=catalogue_id,
            title=title,
            status=ActionStatus.DROPPED,
            due=date.today() - timedelta(days=30),
        )
    )
    body = html.unescape(admin.get(f"{FOLLOW_UP}/scorecard?unit=SALES").get_data(as_text=True))
    assert title not in body  # not carried over, not suggested
    card = scorecard(store, SLUG, "follow-up", department="SALES", max_plan_lines=None)
    fresh = [line for line in card.pages[0].plan if not line.saved and line.lever_id == lever]
    assert fresh and all(line.catalogue_id != catalogue_id for line in fresh)
    plan_page = html.unescape(admin.get(f"{FOLLOW_UP}/plan/SALES").get_data(as_text=True))
    assert catalogue_id not in suggested(plan_page)
