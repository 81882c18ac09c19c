"""Attacks on the rendered results: nothing the pages and the CSV publish exposes a small group.

The attacker reads every output a full reader gets — the overview with every
site and audience filter, every department page, the CSV and the printable
scorecard — and collects
each group whose numbers appear: the responses count of a row, or any score
of a group (lever indices of employees and managers, answers to statements
put to one audience only). Every such group is additive: its count and its
score sums combine the same way. The attacker's linear system over the leaf
cells (department × audience) is then solved exactly, as in
``tests/unit/test_anonymity_attacks.py``, and no set of 0 to k − 1 people may
follow from it. Hidden groups must render byte for byte like empty ones.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.domain.anonymity import AUDIENCES, Disclosure, Group, Structure, group_count
from portal.domain.entities import Audience
from portal.instruments import get_questionnaire
from tests.unit.test_anonymity_attacks import relations, small_computable_sets
from tests.web.conftest import sign_in
from tests.web.test_results import SLUG, make_organisation, parse_csv

K = 5
QUESTIONNAIRE = get_questionnaire("change-readiness")
Cells = dict[str, tuple[int, int]]
Case = tuple[dict[str, str], Cells]
ROW = re.compile(r'<tr class="level-(\w+)" id="row-\w+-([^"]*)">(.*?)</tr>', re.S)
SCORECARD_PAGE = re.compile(
    r'<article class="scorecard-page"[^>]*data-unit="([^"]+)">(.*?)</article>', re.S
)


def hand_made() -> list[Case]:
    """Return organisations known to need secondary suppression."""
    return [
        # A site of one shown department and one small one: both hide.
        ({"D1": "S1", "D2": "S1", "D3": "S2"}, {"D1": (8, 5), "D2": (2, 0), "D3": (7, 6)}),
        # A department of 3 next to an empty one in the same site.
        (
            {"D1": "S1", "D2": "S1", "D3": "S2", "D4": "S2"},
            {"D1": (8, 8), "D2": (3, 0), "D3": (6, 5), "D4": (0, 0)},
        ),
        # Managers small in one department: pairs must hide across the site.
        (
            {"D1": "S1", "D2": "S1", "D3": "S2", "D4": "S2", "D5": "S2"},
            {"D1": (8, 6), "D2": (7, 1), "D3": (5, 5), "D4": (6, 0), "D5": (4, 4)},
        ),
    ]


def drawn(seed: int) -> Case:
    """Return a random organisation: 2 sites, 3–5 departments, 0–8 people per cell."""
    rng = random.Random(seed)
    departments = rng.randint(3, 5)
    site_of = {f"D{i + 1}": ("S1" if i == 0 else "S2" if i == 1 else rng.choice(["S1", "S2"]))
               for i in range(departments)}  # fmt: skip

    def cell() -> int:
        return rng.choice([0, 0, 1, 2, 3, 4]) if rng.random() < 0.4 else rng.randint(0, 8)

    return site_of, {d: (cell(), cell()) for d in site_of}


CASES = [pytest.param(*case, id=f"hand-{i}") for i, case in enumerate(hand_made())]
CASES += [pytest.param(*drawn(seed), id=f"seed-{seed}") for seed in range(30)]


# -- reading the outputs -------------------------------------------------------------


def unit(kind: str, key: str) -> Group:
    """Return the group a heatmap row describes."""
    if kind == "organisation":
        return Group()
    return Group(site=key) if kind == "site" else Group(department=key)


def get(client: FlaskClient, path: str, **query: str) -> str:
    """Return a page that must open."""
    response = client.get(f"/admin/surveys/{SLUG}/waves/baseline/{path}", query_string=query)
    assert response.status_code == 200, (path, query, response.status_code)
    return response.get_data(as_text=True)


class Attacker:
    """Collects every group whose numbers any output shows, with the count shown if any."""

    def __init__(self) -> None:
        self.published: dict[Group, int | None] = {}
        self.hidden_cells: set[str] = set()

    def saw(self, group: Group, count: int | None = None) -> None:
        known = self.published.get(group)
        assert known is None or count is None or known == count, group
        self.published[group] = count if count is not None else known

    def read_overview(self, page: str, audience: Audience | None) -> None:
        for kind, key, cells in ROW.findall(page):
            cells = re.sub(r'<th scope="row">.*?</th>', "", cells, flags=re.S).strip()
            # A hidden row has no head count; a shown one may hide a lever its own
            # respondents are too few for ("Per-lever minimum").
            if '<span class="no-figure"' in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)[0]:
                self.hidden_cells.add(cells)
                assert not re.search(r"\d", re.sub(r"<[^>]+>", "", cells)), cells
                continue
            count = int(re.findall(r'<td class="num">(\d+)</td>', cells)[0])
            self.saw(unit(kind, key).with_audience(audience), count)

    def read_department(self, code: str, page: str) -> None:
        counted = re.search(r"<p>(\d+) responses", page)
        if counted is None:
            assert "Not enough responses to show results" in page
            assert "heat-value" not in page
            return
        group = Group(department=code)
        self.saw(group, int(counted.group(1)))
        if "results-gaps" in page:
            for audience in AUDIENCES:
                self.saw(group.with_audience(audience))
        for item in QUESTIONNAIRE.items:
            if item.audience in ("employee", "manager"):
                text = re.escape(item.render("en", "the new CRM"))
                row = re.search(rf"{text}.*?</tr>", page, re.S)
                assert row is not None, item.id
                if "%" in row.group(0):
                    self.saw(group.with_audience(Audience(item.audience)))

    def read_scorecard(self, html: str) -> None:
        """Read the printable scorecard: each unit's responses and its audience columns."""
        for unit_key, body in SCORECARD_PAGE.findall(html):
            group = Group() if unit_key == "*" else Group(department=unit_key)
            shown = re.search(r'<dd class="sc-responses">(\d+)</dd>', body)
            if shown is None:
                assert "Not enough responses to publish scores" in body, unit_key
                assert 'class="num sc-score"' not in body, unit_key
                continue
            self.saw(group, int(shown.group(1)))
            for cells in re.findall(r'<tr data-lever="[a-z-]+">(.*?)</tr>', body, re.S):
                employees, managers = re.findall(r'<td class="num">([^<]*)</td>', cells)[2:4]
                if employees != "–":
                    self.saw(group.with_audience(Audience.EMPLOYEE))
                if managers != "–":
                    self.saw(group.with_audience(Audience.MANAGER))

    def read_csv(self, text: str, audience: Audience | None) -> None:
        for line in parse_csv(text)[1:]:
            if line == ["Not enough responses for this selection"]:
                continue
            kind, site, code = line[0], line[1], line[2]
            key = code if kind == "department" else site
            if line[4] == "":
                assert all(cell == "" for cell in line[4:]), line
                continue
            self.saw(unit(kind, key).with_audience(audience), int(line[4]))


@pytest.fixture
def reader(app: Flask, make_account: Callable[..., object]) -> FlaskClient:
    """Return a client signed in as a viewer (reads the whole organisation)."""
    make_account("viewer@example.com", Role.VIEWER)
    client = app.test_client()
    sign_in(client, "viewer@example.com")
    return client


def read_everything(client: FlaskClient, structure: Structure) -> Attacker:
    """Open every output a reader can get and collect what they publish."""
    attacker = Attacker()
    for site in (None, *structure.sites):
        for audience in (None, *AUDIENCES):
            query = {"site": site or "", "audience": audience.value if audience else ""}
            attacker.read_overview(get(client, "results", **query), audience)
            attacker.read_csv(get(client, "results.csv", **query), audience)
    for code in structure.departments:
        attacker.read_department(code, get(client, f"results/departments/{code}"))
    attacker.read_scorecard(get(client, "scorecard"))
    return attacker


# -- the attacks ----------------------------------------------------------------------


@pytest.mark.parametrize(("site_of", "cells"), CASES)
def test_no_small_group_follows_from_everything_a_reader_sees(
    app: Flask, reader: FlaskClient, site_of: Mapping[str, str], cells: Cells
) -> None:
    departments = {code: (f"Dept {code}", site, 10) for code, site in site_of.items()}
    make_organisation(app.extensions["portal.store"], cells, departments=departments)
    structure = Structure(site_of)
    counts = {(d, a): cells[d][i] for d in site_of for i, a in enumerate(AUDIENCES)}
    attacker = read_everything(reader, structure)

    for group, shown in attacker.published.items():
        true = group_count(structure, counts, group)
        assert true >= K, f"{group} is published with {true} respondents"
        assert shown is None or shown == true, group

    published = Disclosure(
        structure,
        K,
        MappingProxyType({g: group_count(structure, counts, g) for g in attacker.published}),
    )
    assert small_computable_sets(published, counts) == []
    # The simple form of the same rule: a shown total minus its shown parts is 0 or ≥ k.
    for total, parts in relations(structure):
        if total in attacker.published:
            hidden = [p for p in parts if p not in attacker.published]
            rest = sum(group_count(structure, counts, p) for p in hidden)
            assert not hidden or rest >= K, (total, hidden, rest)


@pytest.mark.parametrize(("site_of", "cells"), CASES)
def test_hidden_and_empty_groups_render_byte_for_byte_alike(
    app: Flask, reader: FlaskClient, site_of: Mapping[str, str], cells: Cells
) -> None:
    # Add an empty department to every site, so each output has an empty group to compare.
    site_of = {**site_of, "E1": "S1", "E2": "S2"}
    cells = {**cells, "E1": (0, 0), "E2": (0, 0)}
    departments = {code: (f"Dept {code}", site, 10) for code, site in site_of.items()}
    make_organisation(app.extensions["portal.store"], cells, departments=departments)
    structure = Structure(site_of)
    attacker = read_everything(reader, structure)
    assert len(attacker.hidden_cells) == 1, attacker.hidden_cells

    def neutral(code: str) -> str:
        page = get(reader, f"results/departments/{code}")
        page = page[page.index("<main") : page.index("</main>")]
        return page.replace(f"Dept {code}", "X").replace(code, "X").replace(site_of[code], "S")

    empty = neutral("E1")
    for code in site_of:
        counts = cells[code]
        page = neutral(code)
        if "Not enough responses to show results" in page:
            assert page == empty, code
        else:
            assert sum(counts) >= K, code


# -- the admin's extra outputs and the API's department details ---------------------------


@pytest.mark.parametrize(("site_of", "cells"), CASES[:12])
def test_nothing_an_admin_or_the_api_adds_exposes_a_small_group(
    app: Flask, make_account: Callable[..., object], site_of: Mapping[str, str], cells: Cells
) -> None:
    from datetime import date

    from portal.services.raw_export import export_raw_responses
    from portal.services.surveys import close_wave
    from tests.web.test_api import api, collect, token_for

    departments = {code: (f"Dept {code}", site, 10) for code, site in site_of.items()}
    store = app.extensions["portal.store"]
    make_organisation(store, cells, departments=departments)
    structure = Structure(site_of)
    counts = {(d, a): cells[d][i] for d in site_of for i, a in enumerate(AUDIENCES)}
    make_account("admin@example.com", Role.ADMIN)
    admin = app.test_client()
    sign_in(admin, "admin@example.com")
    attacker = read_everything(admin, structure)

    # The quality page: the organisation's alpha, or nothing.
    quality = get(admin, "results/quality")
    if 'id="alpha-' in quality:
        attacker.saw(Group())
    # The API's department details (the rows' counts and the groups their details use).
    secret = token_for(app, make_account, "api@example.com", Role.VIEWER)
    seen: dict[Group, int] = {}
    for code in structure.departments:
        body = api(app, f"/api/v1/surveys/{SLUG}/waves/baseline/results/departments/{code}", secret)
        collect(body.get_json(), None, seen)
    for group, count in seen.items():
        attacker.saw(group, None if count == -1 else count)

    for group in attacker.published:
        assert group_count(structure, counts, group) >= K, group
    published = Disclosure(
        structure,
        K,
        MappingProxyType({g: group_count(structure, counts, g) for g in attacker.published}),
    )
    assert small_computable_sets(published, counts) == []

    # The raw export (closed waves only): every set of rows sharing department, site and
    # audience is 0 or ≥ k (tests/web/test_raw_export_safety.py attacks it in full).
    close_wave(store, SLUG, "baseline", today=date.today())
    raw = export_raw_responses(store, SLUG, "baseline", actor="a@example.com",
                               include_comments=True)  # fmt: skip
    labels: dict[tuple[str, str, str], int] = {}
    for line in parse_csv(raw.text)[1:]:
        key = (line[1], line[2], line[3])
        labels[key] = labels.get(key, 0) + 1
    assert all(n >= K for n in labels.values()), labels
