"""Attacks on the raw export: no row can be put back into a group smaller than the minimum.

The attacker is an admin. They download the raw export of a closed wave and
read every output over HTTP — the overview and its CSV under every site and
audience filter, every department page, the scorecard and the API's
department details — which tells them which groups are published. For each
published group they are then given its exact answer counts per statement
(more than the pages' rounded shares give: a generous attacker). Then, as in
issue 11 (item 2), they match subsets of the file's rows against those counts:
a row whose label leaves its department open (a "site only" row) is put into
a department when it belongs to every subset of rows that matches the
department's counts, and out of it when it belongs to none; this repeats over
every published group until nothing changes.

The guarantee checked: every row ends up known to lie in a group — its
possible departments × its audience, × its language when the file shows it —
that really holds at least the minimum number of respondents. The
organisations are random, with cells around the minimum, and two languages.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import date

import pytest
from flask import Flask

from portal.domain.accounts import Role
from portal.domain.anonymity import AUDIENCES, Group, Structure
from portal.domain.entities import Audience, Response
from portal.services.readiness import wave_results
from portal.services.surveys import add_wave, close_wave, create_survey, open_wave
from portal.storage.port import Store
from tests.builders import make_response
from tests.web.conftest import csrf_token, sign_in
from tests.web.test_results import QUESTIONNAIRE, SLUG, departments_csv, parse_csv, random_answers
from tests.web.test_results_attacks import ROW, Attacker, get, unit

K = 5
ITEMS = [item.id for item in QUESTIONNAIRE.items]
#: A row as the attacker matches it: one cell per item, as the file writes it.
Cells = tuple[str, ...]
Case = tuple[dict[str, str], dict[str, tuple[int, int]]]
#: Search effort per published group; beyond it the attacker gives that group up.
NODE_BUDGET = 200_000


def drawn(seed: int) -> Case:
    """Return a random organisation: 2–3 sites, 3–6 departments, cells around the minimum."""
    rng = random.Random(seed)
    sites = [f"S{i + 1}" for i in range(rng.randint(2, 3))]
    count = rng.randint(3, 6)
    site_of = {f"D{i + 1}": sites[i] if i < len(sites) else rng.choice(sites) for i in range(count)}
    sizes = [0, 1, 2, 3, 4, 5, 5, 6, 6, 7, 8, 9, 11]
    return site_of, {d: (rng.choice(sizes), rng.choice(sizes)) for d in site_of}


HAND_MADE: list[Case] = [
    # The issue's attack: a department's only employee among managers, another's only manager
    # among employees; both departments are shown (≥ k), their halves are not.
    (
        {"D1": "S1", "D2": "S1", "D3": "S1", "D4": "S2"},
        {"D1": (1, 8), "D2": (9, 1), "D3": (6, 6), "D4": (7, 7)},
    ),
    # One department holds the site's only managers but too few of them.
    ({"D1": "S1", "D2": "S1", "D3": "S2"}, {"D1": (9, 2), "D2": (8, 0), "D3": (6, 6)}),
]
CASES = [pytest.param(*case, id=f"hand-{i}") for i, case in enumerate(HAND_MADE)]
CASES += [pytest.param(*drawn(seed), id=f"seed-{seed}") for seed in range(16)]


def build(store: Store, site_of: Mapping[str, str], cells: Mapping[str, tuple[int, int]],
          seed: int) -> list[Response]:  # fmt: skip
    """Create the survey, run its baseline wave with these responses, and close it."""
    today = date.today()
    departments = {code: (f"Dept {code}", site, 20) for code, site in site_of.items()}
    create_survey(
        store, slug=SLUG, title="CRM rollout", system_name={"en": "the new CRM"},
        today=today, departments_csv=departments_csv(departments),
    )  # fmt: skip
    add_wave(store, SLUG, wave_id="baseline", name="Baseline", today=today)
    open_wave(store, SLUG, "baseline", today=today)
    rng = random.Random(seed)
    responses = []
    for code, halves in cells.items():
        for audience, n in zip(AUDIENCES, halves, strict=True):
            for _ in range(n):
                response = make_response(
                    survey_slug=SLUG, wave_id="baseline", department_code=code,
                    audience=audience, day=today, answers=random_answers(rng, audience),
                    language="da" if rng.random() < 0.3 else "en",
                )  # fmt: skip
                store.add_response(response)
                responses.append(response)
    close_wave(store, SLUG, "baseline", today=today)
    return responses


def encode(response: Response) -> Cells:
    """Write a response's answers as the file does."""
    given = response.answers
    return tuple(
        "" if i not in given else "dont_know" if given[i] is None else str(given[i]) for i in ITEMS
    )


def table(rows: list[Cells]) -> Counter[tuple[int, str]]:
    """Count the answers per statement over ``rows``."""
    return Counter((index, cell) for row in rows for index, cell in enumerate(row))


def matching_subsets(
    pool: list[Cells], size: int, target: Counter[tuple[int, str]]
) -> list[frozenset[int]] | None:
    """Return every subset of ``pool`` (by index) of ``size`` rows adding up to ``target``.

    ``None`` when the search gives up (too many nodes or solutions): no conclusion.
    """
    if size < 0 or any(n < 0 for n in target.values()):
        return []
    need = dict(target)
    found: list[frozenset[int]] = []
    chosen: list[int] = []
    nodes = 0

    def search(position: int, left: int) -> bool:
        nonlocal nodes
        nodes += 1
        if nodes > NODE_BUDGET or len(found) > 64:
            return False
        if left == 0:
            if all(n == 0 for n in need.values()):
                found.append(frozenset(chosen))
            return True
        if len(pool) - position < left:
            return True
        row = pool[position]
        keys = [(index, cell) for index, cell in enumerate(row)]
        if all(need.get(key, 0) > 0 for key in keys):
            for key in keys:
                need[key] -= 1
            chosen.append(position)
            ok = search(position + 1, left - 1)
            chosen.pop()
            for key in keys:
                need[key] += 1
            if not ok:
                return False
        return search(position + 1, left)

    return found if search(0, size) else None


class Rows:
    """The file's rows, and what the attacker knows of each row's department."""

    def __init__(self, text: str, structure: Structure) -> None:
        header, *body = parse_csv(text)
        column = {name: header.index(name) for name in ("department", "site", "audience")}
        self.language = header.index("language") if "language" in header else None
        self.audience = [Audience(line[column["audience"]]) for line in body]
        self.languages = [line[self.language] if self.language is not None else ""
                          for line in body]  # fmt: skip
        self.cells: list[Cells] = [tuple(line[header.index(i)] for i in ITEMS) for line in body]
        self.possible: list[frozenset[str]] = []
        for line in body:
            code, site = line[column["department"]], line[column["site"]]
            if code:
                self.possible.append(frozenset({code}))
            elif site:
                self.possible.append(frozenset(structure.departments_in(site)))
            else:
                self.possible.append(frozenset(structure.departments))

    def in_group(self, group: Group, departments: frozenset[str]) -> tuple[list[int], list[int]]:
        """Return the rows surely in ``group`` and the rows that may be in it."""
        surely, maybe = [], []
        for index, possible in enumerate(self.possible):
            if group.audience is not None and self.audience[index] is not group.audience:
                continue
            if possible <= departments:
                surely.append(index)
            elif possible & departments:
                maybe.append(index)
        return surely, maybe


def reattach(rows: Rows, published: dict[Group, Counter[tuple[int, str]]],
             sizes: dict[Group, int], structure: Structure) -> None:  # fmt: skip
    """Narrow each row's possible departments by matching rows against every published group."""
    changed = True
    while changed:
        changed = False
        for group, target in published.items():
            departments = structure.departments_of(group)
            surely, maybe = rows.in_group(group, departments)
            if not maybe:
                continue
            rest = target - table([rows.cells[i] for i in surely])
            size = sizes[group] - len(surely)
            solutions = matching_subsets([rows.cells[i] for i in maybe], size, rest)
            if not solutions:
                continue  # no conclusion (or rows outside the file belong to the group)
            for position, index in enumerate(maybe):
                inside = [position in s for s in solutions]
                if all(inside):
                    rows.possible[index] &= departments
                    changed = True
                elif not any(inside):
                    rows.possible[index] -= departments
                    changed = True


def download(app: Flask, make_account: Callable[..., object]) -> str:
    """Download the raw export as an admin over HTTP; return the CSV text."""
    make_account("raw@example.com", Role.ADMIN)
    client = app.test_client()
    sign_in(client, "raw@example.com")
    base = f"/admin/surveys/{SLUG}/waves/baseline/results"
    page = client.get(f"{base}/raw").get_data(as_text=True)
    response = client.post(f"{base}/raw.csv", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 200
    return response.get_data(as_text=True)


class Reader(Attacker):
    """The attack suite's reader, taking any overview row with a count as published.

    (A row may show its count with some lever hidden; that lever is no group.)
    """

    def read_overview(self, page: str, audience: Audience | None) -> None:
        for kind, key, cells in ROW.findall(page):
            count = re.search(r'<td class="num">(\d+)</td>', cells)
            if count is not None:
                self.saw(unit(kind, key).with_audience(audience), int(count.group(1)))


def read_published(app: Flask, make_account: Callable[..., object],
                   structure: Structure) -> Attacker:  # fmt: skip
    """Read every output an admin and an API token get; return what they publish."""
    from tests.web.test_api import api, collect, token_for

    make_account("reader@example.com", Role.ADMIN)
    client = app.test_client()
    sign_in(client, "reader@example.com")
    attacker = Reader()
    for site in (None, *structure.sites):
        for audience in (None, *AUDIENCES):
            query = {"site": site or "", "audience": audience.value if audience else ""}
            attacker.read_overview(get(client, "results", **query), audience)
            attacker.read_csv(get(client, "results.csv", **query), audience)
    for code in structure.departments:
        attacker.read_department(code, get(client, f"results/departments/{code}"))
    secret = token_for(app, make_account, "api@example.com", Role.VIEWER)
    seen: dict[Group, int] = {}
    for code in structure.departments:
        path = f"/api/v1/surveys/{SLUG}/waves/baseline/results/departments/{code}"
        collect(api(app, path, secret).get_json(), None, seen)
    for group, count in seen.items():
        attacker.saw(group, None if count == -1 else count)
    # Generous: every group the decision publishes, whether or not a page showed it.
    for group in wave_results(app.extensions["portal.store"], SLUG, "baseline").disclosure.groups():
        attacker.saw(group)
    return attacker


@pytest.fixture
def store(app: Flask) -> Iterator[Store]:
    yield app.extensions["portal.store"]


@pytest.mark.parametrize(("site_of", "cells"), CASES)
def test_no_row_can_be_put_back_into_a_group_below_the_minimum(
    app: Flask,
    make_account: Callable[..., object],
    store: Store,
    site_of: dict[str, str],
    cells: dict[str, tuple[int, int]],
) -> None:
    structure = Structure(site_of)
    responses = build(store, site_of, cells, seed=len(site_of) * 31 + sum(map(sum, cells.values())))
    text = download(app, make_account)
    attacker = read_published(app, make_account, structure)
    rows = Rows(text, structure)

    def members(group: Group) -> list[Response]:
        departments = structure.departments_of(group)
        return [r for r in responses if r.department_code in departments
                and group.audience in (None, r.audience)]  # fmt: skip

    published = {g: table([encode(r) for r in members(g)]) for g in attacker.published}
    sizes = {g: len(members(g)) for g in attacker.published}
    reattach(rows, published, sizes, structure)

    for index, possible in enumerate(rows.possible):
        audience, language = rows.audience[index], rows.languages[index]
        known = [r for r in responses if r.department_code in possible and r.audience is audience]
        assert len(known) >= K, (
            f"row {index} is known to be one of {len(known)} {audience.value}s of {set(possible)}"
        )
        if language:
            alike = [r for r in known if r.language == language]
            assert len(alike) >= K, f"row {index}: one of {len(alike)} answering in {language}"
    assert "day" not in parse_csv(text)[0]
    # One decision: each label group in the file is a group the pages publish, with its count.
    header, *body = parse_csv(text)
    labels = Counter((line[header.index("department")], line[header.index("audience")])
                     for line in body)  # fmt: skip
    for (code, audience), n in labels.items():
        assert code, "a row without its department"
        assert attacker.published.get(Group(department=code, audience=Audience(audience))) == n


def test_the_attack_finds_the_issue_s_rows_in_a_file_with_site_only_labels() -> None:
    # The attack itself must work: on a file that labels rows by site only (as the export
    # did before), it puts the issue's two lonely rows back into their departments.
    site_of, cells = HAND_MADE[0]
    structure = Structure(site_of)
    rng = random.Random(3)
    responses = [
        make_response(
            survey_slug=SLUG,
            wave_id="baseline",
            department_code=code,
            audience=audience,
            answers=random_answers(rng, audience),
        )  # fmt: skip
        for code, halves in cells.items()
        for audience, n in zip(AUDIENCES, halves, strict=True)
        for _ in range(n)
    ]
    header = ["wave", "department", "site", "audience", "language", *ITEMS]
    lines = [",".join(header)]
    for r in responses:
        code = r.department_code if r.department_code == "D4" else ""
        lines.append(",".join(["baseline", code, site_of[r.department_code], r.audience.value,
                               "", *encode(r)]))  # fmt: skip
    rows = Rows("\r\n".join(lines) + "\r\n", structure)
    departments = [Group(department=d) for d in ("D1", "D2", "D3")]
    groups = [Group(site="S1"), *departments]

    def members(group: Group) -> list[Response]:
        covered = structure.departments_of(group)
        return [r for r in responses if r.department_code in covered]

    reattach(rows, {g: table([encode(r) for r in members(g)]) for g in groups},
             {g: len(members(g)) for g in groups}, structure)  # fmt: skip
    lonely = [
        index for index, possible in enumerate(rows.possible)
        if possible in ({"D1"}, {"D2"})
        and (possible == {"D1"}) == (rows.audience[index] is Audience.EMPLOYEE)
    ]  # fmt: skip
    assert len(lonely) == 2
