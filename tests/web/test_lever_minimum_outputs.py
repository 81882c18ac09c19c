"""Every output shows a lever's score or a statement's shares only where k answered it.

"Don't know" shrinks a lever's n below its group's: a managers-only view once
published lever indices of 4 people. Here an attacker reads every output a
reader (and an admin, and an API token) gets — the overview with each site and
audience filter and its chart, the CSV, the workbook, every department page
with its charts, the API, the scorecard (HTML and PDF), the plan pages and the
quality page — and notes each group a lever's figures (index, interval, n,
employees' or managers' index) or a statement's shares appear for. The test
then counts, from the raw responses and independently of the portal, who
answered that lever or statement in that group: it must be at least k, and no
set of 1 to k − 1 of those people may follow from the published groups by
exact linear elimination (``tests/unit/test_anonymity_attacks``).
"""

from __future__ import annotations

import html
import io
import json
import random
import re
import shutil
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from portal.domain.accounts import Role
from portal.domain.anonymity import AUDIENCES, Disclosure, Group, Structure
from portal.domain.entities import Audience, Response
from portal.domain.questionnaire import Item
from portal.domain.scorecard import DEFAULT_TARGET
from portal.instruments import get_questionnaire
from portal.services.surveys import add_wave, close_wave, create_survey, open_wave
from portal.storage.port import Store
from tests.builders import make_response
from tests.unit.test_anonymity_attacks import small_computable_sets
from tests.web.conftest import sign_in
from tests.web.test_api import api, token_for
from tests.web.test_results import SLUG, departments_csv, parse_csv
from tests.web.test_scorecard import pdf_pages

K = 5
Q = get_questionnaire("change-readiness")
LEVERS = [lever.id for lever in Q.levers]
LEVER_NAMES = {lever.name["en"]: lever.id for lever in Q.levers}
STATEMENTS = {item.render("en", "the new CRM"): item.id for item in Q.items}
WAVE = f"/admin/surveys/{SLUG}/waves/baseline"
ROW = re.compile(r'<tr class="level-(\w+)" id="row-\w+-([^"]*)">(.*?)</tr>', re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)
SCORECARD_PAGE = re.compile(
    r'<article class="scorecard-page"[^>]*data-unit="([^"]+)">(.*?)</article>', re.S
)
#: (department, audience) → how many answer, with (lever or item, how many of them
#: answer "don't know" to all of it). Sites: SALES and MKT in Aarhus, WH in Hamburg.
SITES = {"SALES": "Aarhus", "MKT": "Aarhus", "WH": "Hamburg"}
Plan = dict[tuple[str, Audience], tuple[int, dict[str, int]]]
THIN: Plan = {
    # Three of SALES's five managers know nothing of the purpose: 2 managers score it.
    ("SALES", Audience.EMPLOYEE): (6, {}),
    ("SALES", Audience.MANAGER): (5, {"purpose": 3}),
    # Eight of MKT's twelve answer "don't know" to one statement: its shares are of 4.
    ("MKT", Audience.EMPLOYEE): (6, {"adoption-daily": 6}),
    ("MKT", Audience.MANAGER): (6, {"adoption-daily": 2}),
    # Nine of WH's thirteen know nothing of governance: 4 score it.
    ("WH", Audience.EMPLOYEE): (8, {"governance": 5}),
    ("WH", Audience.MANAGER): (5, {"governance": 4}),
}


# -- building the organisation ------------------------------------------------------------


def answers(rng: random.Random, audience: Audience, blank: set[str]) -> dict[str, int | None]:
    """Answer every statement ``audience`` is asked; "don't know" to those in ``blank``."""
    return {
        item.id: None if item.lever in blank or item.id in blank else rng.randint(1, 5)
        for item in Q.items_for(audience)
    }


def build(
    store: Store,
    site_of: Mapping[str, str],
    plan: Plan,
    seed: int = 7,
    wave_id: str = "baseline",
) -> list[Response]:
    """Create the survey (for the baseline), open ``wave_id`` and store the planned responses."""
    today = date.today()
    # Planned sizes: where a group must be hidden to protect another, the one planned
    # smallest goes (SALES before MKT), whatever the answers.
    planned = {"SALES": 15, "MKT": 25, "WH": 30}
    departments = {
        code: (f"Dept {code}", site, planned.get(code, 20)) for code, site in site_of.items()
    }
    if wave_id == "baseline":
        create_survey(
            store,
            slug=SLUG,
            title="CRM rollout",
            system_name={"en": "the new CRM"},
            today=today,
            departments_csv=departments_csv(departments),
        )
    add_wave(store, SLUG, wave_id=wave_id, name=wave_id.title(), today=today)
    open_wave(store, SLUG, wave_id, today=today)
    rng = random.Random(seed)
    stored = []
    for (code, audience), (people, blanks) in plan.items():
        for person in range(people):
            blank = {measure for measure, first in blanks.items() if person < first}
            response = make_response(
                survey_slug=SLUG,
                wave_id=wave_id,
                department_code=code,
                audience=audience,
                day=today,
                answers=answers(rng, audience, blank),
            )
            store.add_response(response)
            stored.append(response)
    return stored


# -- what the attacker collects ---------------------------------------------------------


class Seen:
    """Every (measure, group) whose figures an output shows: measure is a lever or item id."""

    def __init__(self) -> None:
        self.pairs: set[tuple[str, Group]] = set()

    def saw(self, measure: str, group: Group) -> None:
        assert measure in LEVERS or any(i.id == measure for i in Q.items), measure
        self.pairs.add((measure, group))

    def groups(self, measure: str) -> set[Group]:
        return {g for m, g in self.pairs if m == measure}


def unit_of(kind: str, key: str) -> Group:
    if kind == "organisation":
        return Group()
    return Group(site=key) if kind == "site" else Group(department=key)


def text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup)).strip()


def chart(page: str, name: str) -> dict[str, Any] | None:
    found = re.search(rf'<script type="application/json" id="chart-{name}"[^>]*>(.*?)</script>',
                      page, re.S)  # fmt: skip
    return None if found is None else json.loads(found.group(1))


def read_overview(seen: Seen, page: str, audience: Audience | None) -> None:
    for kind, key, row in ROW.findall(page):
        cells = CELL.findall(row)[2:]  # responses and rate first
        for lever, cell in zip(LEVERS, cells, strict=False):
            if "heat-value" in cell:
                seen.saw(lever, unit_of(kind, key).with_audience(audience))
    data = chart(page, "organisation")
    if data is not None:
        for lever, value in zip(LEVERS, data["series"][0]["data"], strict=True):
            if value is not None:
                seen.saw(lever, Group(audience=audience))


def read_table(seen: Seen, rows: list[list[str]], audience: Audience | None) -> None:
    """Read the CSV's (or the workbook's) rows: a lever's index column filled means shown."""
    header = rows[0]
    for line in rows[1:]:
        if len(line) < len(header) or line[0] not in ("organisation", "site", "department"):
            continue  # the refused filter's message
        kind, site, code = line[0], line[1], line[2]
        group = unit_of(kind, code if kind == "department" else site).with_audience(audience)
        for lever in LEVERS:
            if line[header.index(f"{lever}_index")] not in ("", "None"):
                seen.saw(lever, group)


def read_department(seen: Seen, code: str, page: str) -> None:
    group = Group(department=code)
    levers = re.search(r'<table class="results-levers">(.*?)</table>', page, re.S)
    if levers is None:
        assert "Not enough responses to show results" in page
        return
    for row in re.findall(r"<tr>(.*?)</tr>", levers.group(1), re.S):
        name = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
        if name is None:
            continue
        cells = [text_of(c) for c in CELL.findall(row)]
        # Index, n and interval: any figure in them shows the lever.
        if "heat-value" in row or re.search(r"\d", "".join(cells[1:3])):
            seen.saw(LEVER_NAMES[text_of(name.group(1))], group)
    gaps = re.search(r'<table class="results-gaps">(.*?)</table>', page, re.S)
    for row in re.findall(r"<tr>(.*?)</tr>", gaps.group(1) if gaps else "", re.S):
        name = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
        if name is None:
            continue
        cells = CELL.findall(row)
        lever = LEVER_NAMES[text_of(name.group(1))]
        for audience, cell in zip(AUDIENCES, cells[:2], strict=True):
            if "heat-value" in cell:
                seen.saw(lever, group.with_audience(audience))
        if re.search(r"\d", text_of(cells[2])):  # a gap needs both sides
            seen.saw(lever, group.with_audience(Audience.EMPLOYEE))
            seen.saw(lever, group.with_audience(Audience.MANAGER))
    for table in re.findall(r'<table class="results-items">(.*?)</table>', page, re.S):
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
            name = re.search(r'<th scope="row">(.*?)(?: <span|</th>)', row, re.S)
            if name is None or text_of(name.group(1)) not in STATEMENTS:
                continue
            if re.search(r"\d", "".join(text_of(c) for c in CELL.findall(row))):
                seen.saw(STATEMENTS[text_of(name.group(1))], group)
    read_department_charts(seen, group, page)


def read_department_charts(seen: Seen, group: Group, page: str) -> None:
    levers = chart(page, "levers")
    if levers is not None:
        for series in levers["series"]:
            for lever, value in zip(LEVERS, series["data"], strict=True):
                if value is not None:
                    seen.saw(lever, group)
    audiences = chart(page, "audiences")
    if audiences is not None:
        for audience, series in zip(AUDIENCES, audiences["series"], strict=True):
            for lever, value in zip(LEVERS, series["data"], strict=True):
                if value is not None:
                    seen.saw(lever, group.with_audience(audience))
    for lever in LEVERS:
        answers_chart = chart(page, f"answers-{lever}")
        if answers_chart is None:
            continue
        for position, label in enumerate(answers_chart["labels"]):
            if any(s["data"][position] is not None for s in answers_chart["series"]):
                seen.saw(STATEMENTS[label], group)


def read_api(seen: Seen, body: Mapping[str, Any], audience: Audience | None) -> None:
    for row in body["rows"]:
        result = row["result"]
        if result is None:
            continue
        group = unit_of(row["kind"], row["key"]).with_audience(audience)
        for lever, index in result["indices"].items():
            if index is not None:
                seen.saw(lever, group)
        for lever in result.get("levers", []):
            if any(lever[f] is not None for f in ("index", "n", "interval_95")):
                seen.saw(lever["id"], group)
        for lever in result.get("audiences") or []:
            for half, name in zip(AUDIENCES, ("employees", "managers"), strict=True):
                if lever[name] is not None or lever["gap"] is not None:
                    seen.saw(lever["id"], group.with_audience(half))
        for statement in result.get("statements", []):
            if any(statement[f] is not None for f in ("percents", "favourable", "dont_know")):
                seen.saw(statement["id"], group)


def read_scorecard(seen: Seen, page: str) -> None:
    for unit, body in SCORECARD_PAGE.findall(page):
        group = Group() if unit == "*" else Group(department=unit)
        for lever, row in re.findall(r'<tr data-lever="([a-z-]+)">(.*?)</tr>', body, re.S):
            cells = [text_of(c) for c in CELL.findall(row)]
            if "no-figure" not in CELL.findall(row)[0]:
                seen.saw(lever, group)
            for audience, cell in zip(AUDIENCES, cells[4:6], strict=True):
                if cell != "–":
                    seen.saw(lever, group.with_audience(audience))


def read_plan(seen: Seen, unit: str, page: str) -> None:
    group = Group() if unit == "*" else Group(department=unit)
    table = re.search(r'<table class="plan-levers">(.*?)</table>', page, re.S)
    for row in re.findall(r"<tr>(.*?)</tr>", table.group(1) if table else "", re.S):
        name = re.search(r'<th scope="row">(.*?)(?: <span|</th>)', row, re.S)
        if name is None or text_of(name.group(1)) not in LEVER_NAMES:
            continue
        if re.search(r"\d", text_of(CELL.findall(row)[0])):
            seen.saw(LEVER_NAMES[text_of(name.group(1))], group)


def read_quality(seen: Seen, page: str) -> None:
    for lever, row in re.findall(r'<tr id="alpha-([a-z-]+)">(.*?)</tr>', page, re.S):
        if re.search(r"\d", text_of(CELL.findall(row)[2])):
            seen.saw(lever, Group())


def get(client: FlaskClient, path: str, **query: str) -> Any:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, (path, query, response.status_code)
    return response


def read_everything(app: Flask, make_account: Callable[..., object], structure: Structure) -> Seen:
    """Open every output an admin, a viewer's API token and the printable pages give."""
    make_account("admin@example.com", Role.ADMIN)
    admin = app.test_client()
    sign_in(admin, "admin@example.com")
    secret = token_for(app, make_account, "api@example.com", Role.VIEWER)
    seen = Seen()
    for site in (None, *structure.sites):
        for audience in (None, *AUDIENCES):
            query = {"site": site or "", "audience": audience.value if audience else ""}
            read_overview(seen, get(admin, WAVE + "/results", **query).get_data(as_text=True),
                          audience)  # fmt: skip
            read_table(seen, parse_csv(get(admin, WAVE + "/results.csv", **query).get_data(
                as_text=True)), audience)  # fmt: skip
            book = load_workbook(io.BytesIO(get(admin, WAVE + "/results.xlsx", **query).data))
            rows = [["" if v is None else str(v) for v in r] for r in book.active.values]
            read_table(seen, rows, audience)
            api_query = {name: value for name, value in query.items() if value}
            body = api(app, f"/api/v1/surveys/{SLUG}/waves/baseline/results", secret, **api_query)
            read_api(seen, body.get_json(), audience)
    for code in structure.departments:
        page = get(admin, f"{WAVE}/results/departments/{code}").get_data(as_text=True)
        read_department(seen, code, page)
        body = api(app, f"/api/v1/surveys/{SLUG}/waves/baseline/results/departments/{code}",
                   secret)  # fmt: skip
        read_api(seen, body.get_json(), None)
    read_scorecard(seen, get(admin, WAVE + "/scorecard").get_data(as_text=True))
    for unit in ("*", *structure.departments):
        read_plan(seen, unit, get(admin, f"{WAVE}/plan/{unit}").get_data(as_text=True))
    read_quality(seen, get(admin, WAVE + "/results/quality").get_data(as_text=True))
    return seen


# -- the independent count ------------------------------------------------------------------


def answered(response: Response, measure: str) -> bool:
    """Tell whether a response scored the lever (any statement) or the statement on the scale."""
    items: list[Item] = [i for i in Q.items if i.id == measure or i.lever == measure]
    return any(response.answers.get(i.id) is not None for i in items)


def measure_counts(responses: list[Response], measure: str) -> dict[tuple[str, Audience], int]:
    counts: dict[tuple[str, Audience], int] = {}
    for r in responses:
        cell = (r.department_code, r.audience)
        counts[cell] = counts.get(cell, 0) + int(answered(r, measure))
    return counts


def count(structure: Structure, counts: Mapping[tuple[str, Audience], int], group: Group) -> int:
    departments = structure.departments_of(group)
    audiences = AUDIENCES if group.audience is None else (group.audience,)
    return sum(counts.get((d, a), 0) for d in departments for a in audiences)


def assert_nothing_thin(seen: Seen, structure: Structure, responses: list[Response]) -> None:
    """Every shown (measure, group) has k answers, and no small set of them follows."""
    for measure in sorted({m for m, _ in seen.pairs}):
        counts = measure_counts(responses, measure)
        groups = seen.groups(measure)
        for group in groups:
            n = count(structure, counts, group)
            assert n >= K, f"{measure} is shown for {group}, answered by {n}"
        published = Disclosure(
            structure, K, MappingProxyType({g: count(structure, counts, g) for g in groups})
        )
        assert small_computable_sets(published, counts) == [], measure


# -- the tests ------------------------------------------------------------------------------


def test_no_output_shows_a_lever_or_statement_that_fewer_than_k_answered(
    app: Flask, make_account: Callable[..., object]
) -> None:
    responses = build(app.extensions["portal.store"], SITES, THIN)
    structure = Structure(SITES)
    seen = read_everything(app, make_account, structure)

    sales, wh, mkt = Group(department="SALES"), Group(department="WH"), Group(department="MKT")
    assert ("purpose", sales.with_audience(Audience.MANAGER)) not in seen.pairs
    assert ("governance", wh) not in seen.pairs
    assert ("adoption-daily", mkt) not in seen.pairs
    # The same outputs show what k or more answered (so the reading above is not blind).
    assert ("purpose", sales) in seen.pairs
    assert ("skills", sales.with_audience(Audience.MANAGER)) in seen.pairs
    assert ("adoption-norm", mkt) in seen.pairs
    assert ("governance", mkt) in seen.pairs
    # The organisation's governance minus Aarhus's, or minus SALES's and MKT's, would be
    # WH's 4: the differencing rule holds one of them back as well.
    shown = seen.groups("governance")
    assert not {Group(), Group(site="Aarhus")} <= shown
    assert not {Group(), sales, mkt} <= shown
    assert_nothing_thin(seen, structure, responses)


def drawn(seed: int) -> tuple[dict[str, str], Plan]:
    """Return a random organisation in which whole cells often skip a lever or a statement."""
    rng = random.Random(seed)
    site_of = {f"D{i + 1}": ("S1" if i == 0 else "S2" if i == 1 else rng.choice(["S1", "S2"]))
               for i in range(rng.randint(3, 4))}  # fmt: skip
    measures = [*LEVERS, *(i.id for i in Q.items if i.audience == "both")]
    plan: Plan = {}
    for code in site_of:
        for audience in AUDIENCES:
            people = rng.choice([0, 2, 4, 5, 6, 7, 9])
            blanks = {m: rng.randint(1, people) for m in rng.sample(measures, 3)} if people else {}
            plan[(code, audience)] = (people, blanks)
    return site_of, plan


@pytest.mark.parametrize("seed", range(6))
def test_no_combination_of_shown_lever_or_statement_figures_isolates_few_answers(
    app: Flask, make_account: Callable[..., object], seed: int
) -> None:
    site_of, plan = drawn(seed)
    responses = build(app.extensions["portal.store"], site_of, plan, seed=seed)
    structure = Structure(site_of)
    assert_nothing_thin(seen=read_everything(app, make_account, structure),
                        structure=structure, responses=responses)  # fmt: skip


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
def test_the_scorecard_pdf_withholds_the_thin_levers(
    app: Flask, make_account: Callable[..., object], tmp_path: Path
) -> None:
    build(app.extensions["portal.store"], SITES, THIN)
    make_account("admin@example.com", Role.ADMIN)
    admin = app.test_client()
    sign_in(admin, "admin@example.com")
    sheet = get(admin, WAVE + "/scorecard").get_data(as_text=True)
    units = [unit for unit, _ in SCORECARD_PAGE.findall(sheet)]
    every = pdf_pages(get(admin, WAVE + "/scorecard.pdf").data, tmp_path)
    texts = [text for text in every if "Minimum group size" in text]  # each unit's first page
    assert len(texts) == len(units)
    governance = Q.lever("governance").name["en"]
    for unit, text in zip(units, texts, strict=True):
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(governance))
        figures = re.findall(r"[+-]?\d+", line)
        if unit == "WH":
            assert figures == [str(DEFAULT_TARGET)], line  # the target alone
        elif unit == "MKT":
            assert len(figures) > 1, line


def test_a_change_since_a_wave_where_the_lever_was_thin_is_not_shown(
    app: Flask, make_account: Callable[..., object]
) -> None:
    # WH's governance was scored by 4 people in the baseline: its change since then,
    # next to today's index, would give the baseline's index of those 4.
    store = app.extensions["portal.store"]
    build(store, SITES, THIN)
    close_wave(store, SLUG, "baseline", today=date.today())
    build(store, SITES, {cell: (people, {}) for cell, (people, _) in THIN.items()},
          seed=8, wave_id="follow-up")  # fmt: skip
    make_account("admin@example.com", Role.ADMIN)
    admin = app.test_client()
    sign_in(admin, "admin@example.com")
    follow_up = f"/admin/surveys/{SLUG}/waves/follow-up"
    page = get(admin, f"{follow_up}/results/departments/WH").get_data(as_text=True)
    changes = {}
    levers = re.search(r'<table class="results-levers">(.*?)</table>', page, re.S)
    assert levers is not None
    for row in re.findall(r"<tr>(.*?)</tr>", levers.group(1), re.S):
        name = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
        if name is not None:
            cells = [text_of(c) for c in CELL.findall(row)]
            changes[LEVER_NAMES[text_of(name.group(1))]] = cells[3:8]
    # change, its interval, Hedges' g, q: none for the thin lever
    assert changes["governance"] == ["–", "–", "–", "–", "not enough data"]
    assert re.fullmatch(r"[+-]\d+\.\d", changes["skills"][0]), changes["skills"]

    secret = token_for(app, make_account, "api@example.com", Role.VIEWER)
    body = api(app, f"/api/v1/surveys/{SLUG}/waves/follow-up/results/departments/WH", secret)
    change = {
        lever["id"]: lever for lever in body.get_json()["rows"][0]["result"]["change"]["levers"]
    }
    assert change["governance"]["change"] is None
    assert change["governance"]["interval_95"] is None and change["governance"]["q"] is None
    assert change["skills"]["change"] is not None
    sheet = get(admin, f"{follow_up}/scorecard", unit="WH").get_data(as_text=True)
    row = re.search(r'<tr data-lever="governance">(.*?)</tr>', sheet, re.S)
    assert row is not None
    assert not re.search(r"\d", text_of(CELL.findall(row.group(1))[-1]))


def test_the_quality_page_withholds_alpha_from_fewer_complete_answers_than_the_minimum(
    app: Flask, make_account: Callable[..., object]
) -> None:
    # All 15 score governance, but 11 said "don't know" to one of its statements:
    # alpha would rest on the 4 who answered all three (and that count reads "fewer than 5").
    plan: Plan = {
        ("SALES", Audience.EMPLOYEE): (10, {"governance-requests": 8}),
        ("SALES", Audience.MANAGER): (5, {"governance-requests": 3}),
    }
    build(app.extensions["portal.store"], {"SALES": "Aarhus"}, plan)
    make_account("admin@example.com", Role.ADMIN)
    admin = app.test_client()
    sign_in(admin, "admin@example.com")
    page = get(admin, WAVE + "/results/quality").get_data(as_text=True)
    alphas = {
        lever: [text_of(c) for c in CELL.findall(row)]
        for lever, row in re.findall(r'<tr id="alpha-([a-z-]+)">(.*?)</tr>', page, re.S)
    }
    assert alphas["governance"][1:3] == ["fewer than 5", "–"], alphas["governance"]
    assert re.fullmatch(r"-?\d+\.\d\d", alphas["skills"][2]), alphas["skills"]
