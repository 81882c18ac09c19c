"""The printable scorecard and its PDF: every number equals the results service's."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.domain.entities import Audience, Response
from portal.domain.scorecard import ORGANISATION, ActionStatus, ScorecardSettings
from portal.services import readiness
from portal.services.surveys import close_wave
from portal.storage.port import Store
from tests.builders import make_plan_action, make_response
from tests.web.conftest import sign_in
from tests.web.test_results import SLUG, STANDARD, MakeAccount, make_organisation

SHEET = f"/admin/surveys/{SLUG}/waves/baseline/scorecard"
PAGE = re.compile(r'<article class="scorecard-page"[^>]*data-unit="([^"]+)">(.*?)</article>', re.S)
LEVER_ROW = re.compile(r'<tr data-lever="([a-z-]+)">(.*?)</tr>', re.S)
SCORE = re.compile(r'<td class="num sc-score">(\d+)</td>')
HIDDEN = ("TINY", "NONE", "FEW")
needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils is installed by `make test`"
)


def pages(html: str) -> dict[str, str]:
    """Return each scorecard page's HTML by unit."""
    return {unit: body for unit, body in PAGE.findall(html)}


def shown_scores(body: str) -> dict[str, int | None]:
    """Return the score each lever row of a page shows (``None`` for "not enough")."""
    found: dict[str, int | None] = {}
    for lever, cells in LEVER_ROW.findall(body):
        match = SCORE.search(cells)
        found[lever] = int(match.group(1)) if match else None
    return found


def expected_scores(where: Store, unit: str) -> dict[str, int | None] | None:
    """Return the results service's whole indices for a unit, ``None`` when hidden."""
    results = readiness.wave_results(where, SLUG, "baseline")
    row = next(
        r
        for r in results.rows
        if (r.kind is readiness.RowKind.ORGANISATION and unit == ORGANISATION)
        or (r.kind is readiness.RowKind.DEPARTMENT and r.key == unit)
    )
    if row.result is None:
        return None
    return {
        lever.id: readiness.whole_index(s.index)
        if (s := row.result.scores.get(lever.id)) is not None and s.index is not None
        else None
        for lever in results.levers
    }


def test_one_page_per_unit_with_the_services_numbers(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    response = admin.get(SHEET)
    assert response.status_code == 200
    found = pages(response.get_data(as_text=True))
    assert list(found)[0] == ORGANISATION
    assert set(found) == {ORGANISATION, *STANDARD}
    for unit, body in found.items():
        expected = expected_scores(store, unit)
        if expected is None:
            assert "Not enough responses to publish scores" in body, unit
            assert not SCORE.search(body), unit
        else:
            assert shown_scores(body) == expected, unit


def test_a_hidden_department_reads_exactly_like_an_empty_one(
    admin: FlaskClient,
    standard: list[Response],
) -> None:
    found = pages(admin.get(SHEET).get_data(as_text=True))

    def neutral(unit: str) -> str:
        text = re.sub(r"<[^>]+>", " ", found[unit])
        for code in HIDDEN:
            text = text.replace(code, "")
        for name in ("Tiny team", "Nobody yet", "Few"):
            text = text.replace(name, "")
        # Headcount is HR's own figure, not a response figure.
        return re.sub(r"Headcount \d+", "", re.sub(r"\s+", " ", text))

    assert neutral("TINY") == neutral("NONE") == neutral("FEW")
    assert "Responses Not enough responses" in neutral("TINY")


def test_the_barrier_sentence_and_recommendations_follow_the_scores(
    admin: FlaskClient,
    store: Store,
) -> None:
    make_organisation(store, STANDARD, bias=-2)  # low scores everywhere
    body = pages(admin.get(SHEET).get_data(as_text=True))["SALES"]
    expected = expected_scores(store, "SALES")
    assert expected is not None
    first_low = next(lever for lever, index in expected.items() if index is not None and index < 60)
    sentence = re.search(r'<p class="sc-barrier">(.*?)</p>', body, re.S)
    assert sentence is not None
    assert f"({expected[first_low]}) is the first lever below 60" in sentence.group(1)
    assert 'class="sc-suggested"' in body and "sc-no-barrier" not in body
    assert "suggested" in body


def test_survey_targets_decide_the_lights(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    store.put_scorecard_settings(
        ScorecardSettings(SLUG, attention=1, default_target=2, lever_targets={})
    )
    body = pages(admin.get(SHEET).get_data(as_text=True))[ORGANISATION]
    assert "light-green" in body and "light-red" not in body and "light-amber" not in body
    assert "sc-no-barrier" in body and "No lever is below 1" in body
    store.put_scorecard_settings(ScorecardSettings(SLUG, attention=99, default_target=100))
    body = pages(admin.get(SHEET).get_data(as_text=True))[ORGANISATION]
    assert "light-red" in body and "light-green" not in body
    assert "No lever is below" not in body


def test_danish_pages(admin: FlaskClient, standard: list[Response]) -> None:
    html = admin.get(SHEET, query_string={"lang": "da"}).get_data(as_text=True)
    assert "Forankringsscorekort" in html
    assert "Hele organisationen" in html
    # An unknown language falls back to English rather than failing.
    assert "Reinforcement scorecard" in admin.get(SHEET + "?lang=xx").get_data(as_text=True)


def test_one_unit_and_unknown_units(admin: FlaskClient, standard: list[Response]) -> None:
    found = pages(admin.get(SHEET, query_string={"unit": "SALES"}).get_data(as_text=True))
    assert list(found) == ["SALES"]
    assert admin.get(SHEET, query_string={"unit": "NOPE"}).status_code == 404
    assert admin.get(f"/admin/surveys/{SLUG}/waves/nope/scorecard").status_code == 404
    assert admin.get("/admin/surveys/nope/waves/baseline/scorecard.pdf").status_code == 404


def test_a_department_viewer_gets_only_their_departments(
    client: FlaskClient,
    make_account: MakeAccount,
    standard: list[Response],
) -> None:
    make_account("lead@example.com", Role.DEPARTMENT_VIEWER, departments=(f"{SLUG}/SALES",))
    sign_in(client, "lead@example.com")
    found = pages(client.get(SHEET).get_data(as_text=True))
    assert list(found) == ["SALES"]
    assert client.get(SHEET, query_string={"unit": "MKT"}).status_code == 403
    assert client.get(SHEET + ".pdf", query_string={"unit": "MKT"}).status_code == 403
    assert client.get(SHEET, query_string={"unit": "*"}).status_code in (403, 404)


def test_a_plan_carries_over_with_how_its_lever_moved(
    admin: FlaskClient,
    store: Store,
) -> None:
    make_organisation(store, STANDARD)
    close_wave(store, SLUG, "baseline", today=date.today())
    store.put_plan_action(
        make_plan_action(
            lever_id="managers",
            catalogue_id=None,
            title="Monthly adoption check-in per team",
            status=ActionStatus.IN_PROGRESS,
        )
    )
    make_organisation(store, STANDARD, create=False, wave_id="follow-up", seed=7, bias=1)
    html = admin.get(f"/admin/surveys/{SLUG}/waves/follow-up/scorecard?unit=SALES").get_data(
        as_text=True
    )
    body = pages(html)["SALES"]
    assert "Monthly adoption check-in per team" in body
    assert "from Baseline" in body
    assert re.search(
        r"Lever since Baseline: [+-]\d+ points, (improved|declined|no clear change)", body
    )
    # The baseline's own scorecard lists it as this wave's action, without a movement.
    base = pages(admin.get(SHEET + "?unit=SALES").get_data(as_text=True))["SALES"]
    assert "Monthly adoption check-in per team" in base
    assert "Lever since" not in base


def test_comments_are_never_printed(admin: FlaskClient, store: Store, tmp_path: Path) -> None:
    make_organisation(store, {"SALES": (15, 0)})
    for n in range(12):
        store.add_response(
            make_response(survey_slug=SLUG, department_code="SALES", comment=f"Zebra remark {n}")
        )
    assert "Zebra remark" not in admin.get(SHEET).get_data(as_text=True)
    if shutil.which("pdftotext"):
        texts = pdf_pages(admin.get(SHEET + ".pdf").data, tmp_path)
        assert texts and not any("Zebra" in text for text in texts)


# -- the PDF download ---------------------------------------------------------------


def pdf_pages(data: bytes, tmp_path: Path) -> list[str]:
    """Return the text of each page of a PDF, laid out, using poppler's pdftotext."""
    path = tmp_path / "card.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    count = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))  # type: ignore[union-attr]
    texts = []
    for number in range(1, count + 1):
        texts.append(
            subprocess.run(
                ["pdftotext", "-layout", "-f", str(number), "-l", str(number), str(path), "-"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
    return texts


@needs_poppler
def test_the_pdf_starts_a_page_per_unit_with_the_services_numbers(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
    tmp_path: Path,
) -> None:
    response = admin.get(SHEET + ".pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    every = pdf_pages(response.data, tmp_path)
    # Each unit starts a page; a long plan runs on to "(continued)" pages without the facts.
    texts = [text for text in every if "Minimum group size" in text]
    assert all("(continued)" in text for text in every if text not in texts)
    units = list(pages(admin.get(SHEET).get_data(as_text=True)))
    assert len(texts) == len(units) and every[0] == texts[0]
    labels = {"SALES": "Sales", "MKT": "Marketing", "WH": "Warehouse", "OPS": "Operations"}
    for text, unit in zip(texts, units, strict=True):
        expected = expected_scores(store, unit)
        if expected is None:
            assert "Not enough responses to publish scores" in text.replace("\n", " ")
            continue
        if unit in labels:
            assert labels[unit] in text
        for lever, index in expected.items():
            line = next(
                (ln for ln in text.splitlines() if re.match(rf"\s*{lever}\b", ln, re.I)), ""
            )
            assert index is None or re.search(rf"\b{index}\b", line), (unit, lever, line)
    events = [e for e in store.list_audit_events().items if e.action == "scorecard.pdf"]
    assert events and events[0].actor == "hr@example.com"


@needs_poppler
def test_one_departments_pdf_in_danish(
    admin: FlaskClient,
    standard: list[Response],
    tmp_path: Path,
) -> None:
    response = admin.get(SHEET + ".pdf", query_string={"unit": "SALES", "lang": "da"})
    assert response.status_code == 200
    assert (
        'filename="scorecard-crm-rollout-baseline-SALES.pdf"'
        in response.headers["Content-Disposition"]
    )
    texts = pdf_pages(response.data, tmp_path)
    assert "Forankringsscorekort" in texts[0]
    assert "Måling" in texts[0]
    assert all("Sales (fortsat)" in text for text in texts[1:])


def test_viewers_may_read_the_scorecard(
    client: FlaskClient,
    make_account: MakeAccount,
    standard: list[Response],
) -> None:
    make_account("viewer@example.com", Role.VIEWER)
    sign_in(client, "viewer@example.com")
    html = client.get(SHEET).get_data(as_text=True)
    assert len(pages(html)) == len(STANDARD) + 1
    assert "Edit the plan" not in html


def test_the_employee_manager_columns_follow_the_gap_rule(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    results = readiness.wave_results(store, SLUG, "baseline")
    found = pages(admin.get(SHEET).get_data(as_text=True))
    for row in results.rows:
        if row.kind is not readiness.RowKind.DEPARTMENT or row.result is None:
            continue
        body = found[row.key]
        rows = dict(LEVER_ROW.findall(body))
        for lever_id, cells in rows.items():
            numbers = re.findall(r'<td class="num">([^<]*)</td>', cells)
            employees, managers = numbers[2], numbers[3]
            if row.result.gaps is None:
                assert (employees, managers) == ("–", "–"), row.key
            else:
                gap = row.result.gaps[lever_id]
                assert employees == str(readiness.whole_index(gap.employee.index)), row.key
                assert managers == str(readiness.whole_index(gap.manager.index)), row.key
    assert Audience.MANAGER  # the gap needs both audiences published


def test_a_low_response_rate_is_flagged_and_answered_with_an_action(
    admin: FlaskClient, standard: list[Response]
) -> None:
    found = pages(admin.get(SHEET).get_data(as_text=True))
    # Warehouse: 14 responses of 40 people (35 %); Sales: 15 of 20 (75 %).
    assert "35.0 %" in found["WH"] and "Under 60 %" in found["WH"]
    assert "· low response" in found["WH"]
    assert "Under 60 %" not in found["SALES"] and "· low response" not in found["SALES"]


def test_an_action_two_waves_old_shows_the_change_since_its_own_wave(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD, bias=1)
    close_wave(store, SLUG, "baseline", today=date.today())
    store.put_plan_action(
        make_plan_action(catalogue_id=None, title="Weekly drop-in hour", due=None)
    )
    make_organisation(store, STANDARD, create=False, wave_id="follow-up", seed=5, bias=-2)
    close_wave(store, SLUG, "follow-up", today=date.today())
    make_organisation(store, STANDARD, create=False, wave_id="second", seed=9, bias=1)

    def skills(wave_id: str) -> float:
        row = readiness.wave_results(store, SLUG, wave_id).department("SALES")
        assert row is not None and row.result is not None
        index = row.result.scores["skills"].index
        assert index is not None
        return index

    since_baseline = round(skills("second") - skills("baseline"))
    since_follow_up = round(skills("second") - skills("follow-up"))
    assert since_baseline != since_follow_up
    body = pages(
        admin.get(f"/admin/surveys/{SLUG}/waves/second/scorecard?unit=SALES").get_data(as_text=True)
    )["SALES"]
    assert f"Lever since Baseline: {since_baseline:+d} points" in body
