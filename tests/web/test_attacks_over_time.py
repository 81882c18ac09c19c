"""Attacks over time: a reader who watches open waves through every published state learns no one.

Organisations are drawn at random (2 sites, 3–7 departments, 2–9 people per
department × audience around the minimum k = 5, or on odd seeds up to 14 with
one department of 10–20 whose page moves in steps; some "don't know"). Their
answers arrive in batches of 1 to 4; after every batch the clock moves on (no
refresh interval at all, ``always_due``) and the readers look: an admin, a
viewer and a department viewer whose scope is every department but one, each
with their own API token. Whenever a new state is published, each reads
everything: the participation page and its CSV, the results overview (table
and chart JSON), its CSV and the API under every site and audience filter,
every department page (tables and chart JSON) and the API's department
details; in between, each opens the unfiltered outputs and one department.

The test is white box about *when*: it knows the batch of every response.
The unknowns are (leaf cell, batch) counts, per family — head counts, each
lever's respondents (``LeverSums.n``), each statement's answers on the scale.
After every request it reads the wave's published snapshot from the store and
places each cell in it at the latest batch with that cumulative count, so every
figure a page shows maps to an indicator row over the unknowns. Every figure
is parsed from the outputs (never from the snapshot) and must equal what that
mapping gives, so an output that bypassed the published state fails here.

Then the attack: with exact elimination over everything all readers saw in
every state (and, once the wave is closed, the raw export's label groups), no
set of (cell, batch) unknowns whose true total is 1 to k − 1 may be computable.
A closed wave must read the same after a department moves site and another
retires, and a second wave on the edited organisation goes through the same;
the two waves' outputs are checked together.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.domain import scoring
from portal.domain.accounts import Role
from portal.domain.anonymity import AUDIENCES, Group, Structure
from portal.domain.entities import Audience, Response, WaveStatus
from portal.instruments import get_questionnaire
from portal.services import readiness, results, surveys
from portal.services.measures import item_counts, lever_counts
from portal.services.readiness import _counts
from portal.services.structure import wave_departments
from portal.storage.port import Store
from tests.builders import make_response
from tests.web.conftest import csrf_token, sign_in
from tests.web.test_api import api, token_for
from tests.web.test_results import SLUG, departments_csv

pytestmark = pytest.mark.slow

K = 5
Q = get_questionnaire("change-readiness")
LEVERS = [lever.id for lever in Q.levers]
LEVER_NAMES = {lever.name["en"]: lever.id for lever in Q.levers}
STATEMENTS = {item.render("en", "the new CRM"): item.id for item in Q.items}
ITEMS = {item.id: item for item in Q.items}
Cell = tuple[str, Audience]
#: A family of counts: ("head", ""), ("lever", lever id) or ("item", statement id).
Family = tuple[str, str]
HEAD: Family = ("head", "")
FAMILIES: list[Family] = [HEAD, *(("lever", x) for x in LEVERS), *(("item", i) for i in ITEMS)]
ROW = re.compile(r'<tr class="level-(\w+)" id="row-\w+-([^"]*)">(.*?)</tr>', re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)


def asked(family: Family) -> tuple[Audience, ...]:
    """Return the audiences a family can count at all (the others count 0, and everyone knows)."""
    kind, name = family
    if kind == "head":
        return AUDIENCES
    items = [i for i in Q.items if i.id == name or i.lever == name]
    return tuple(a for a in AUDIENCES if any(i.applies_to(a) for i in items))


# -- the organisation and its answers, with the batch of each ----------------------------------


@dataclass
class Plan:
    """A drawn organisation: its sites, the first wave's batches and the largest cell size."""

    site_of: dict[str, str]
    batches: list[list[Cell]]
    most: int


def drawn(
    rng: random.Random, site_of: Mapping[str, str], retired: set[str], most: int
) -> list[list[Cell]]:
    """Draw people per cell (now and then none, else 2 to ``most``); deal them out in batches.

    With ``most`` above 9 the first department draws 10–20 per audience: a department
    shown early, whose figures keep moving while the others wait. Batches hold 1–4
    answers, in random cells.
    """
    arrivals: list[Cell] = []
    big = next(iter(site_of)) if most > 9 else None
    for code in site_of:
        for audience in AUDIENCES:
            people = 0 if code in retired or rng.random() < 0.1 else rng.randint(2, most)
            if code == big and code not in retired:
                people = rng.randint(10, 20)
            arrivals += [(code, audience)] * people
    rng.shuffle(arrivals)
    batches = []
    while arrivals:
        size = rng.randint(1, 4)
        batches.append(arrivals[:size])
        arrivals = arrivals[size:]
    return batches


def organisation(seed: int) -> Plan:
    """Return a random organisation: 2 sites, 3–7 departments, and its first wave's batches.

    Even seeds draw 2–9 people per department × audience, where a wave mostly waits
    until it closes; odd seeds 2–14 and one department of 10–20 per audience, whose
    page (with its statements) is shown early and keeps growing in steps.
    """
    rng = random.Random(seed)
    departments = rng.randint(3, 7)
    site_of = {f"D{i + 1}": ("S1" if i == 0 else "S2" if i == 1 else rng.choice(["S1", "S2"]))
               for i in range(departments)}  # fmt: skip
    most = 9 if seed % 2 == 0 else 14
    return Plan(site_of, drawn(rng, site_of, set(), most), most)


def answers(rng: random.Random, audience: Audience, full: bool = False) -> dict[str, int | None]:
    """Answer at random, with "don't know" now and then (unless ``full``), at times to a lever."""
    skipped = rng.choice(LEVERS) if rng.random() < 0.25 and not full else None
    return {
        item.id: None
        if item.lever == skipped or (rng.random() < 0.08 and not full)
        else rng.randint(1, 5)
        for item in Q.items_for(audience)
    }


def counts_for(response: Response, family: Family) -> int:
    """Return 1 if ``response`` counts in ``family`` (white box, from its answers)."""
    kind, name = family
    if kind == "head":
        return 1
    if kind == "lever":  # a lever score needs half of the lever's statements scored
        return int(scoring.respondent_index(Q, response, name) is not None)
    return int(response.answers.get(name) is not None)


# -- what the readers saw, state by state --------------------------------------------------


@dataclass
class Wave:
    """One wave under attack: its structure, responses by batch and published states."""

    wave_id: str
    structure: Structure
    batch: int = 0
    #: Cumulative counts per family and cell, after each batch (index 0: before any).
    cumulative: dict[Family, dict[Cell, list[int]]] = field(default_factory=dict)
    #: Published snapshot id → per family, the count of each cell in it.
    states: dict[str, dict[Family, dict[Cell, int]]] = field(default_factory=dict)
    #: (state, family, group) → the value shown, or None where a figure shows without it.
    figures: dict[tuple[str, Family, Group], int | None] = field(default_factory=dict)
    #: Rows of the raw export: label group (cells) → how many rows.
    raw: dict[frozenset[Cell], int] = field(default_factory=dict)
    final: str | None = None

    def __post_init__(self) -> None:
        self.cumulative = {f: {c: [0] for c in self.cells} for f in FAMILIES}

    @property
    def cells(self) -> list[Cell]:
        return [(d, a) for d in self.structure.departments for a in AUDIENCES]

    def add_batch(
        self, store: Store, rng: random.Random, cells: list[Cell], full: bool = False
    ) -> None:
        """Store one batch of answers and extend the white-box cumulative counts."""
        self.batch += 1
        added: dict[Family, dict[Cell, int]] = defaultdict(lambda: defaultdict(int))
        for code, audience in cells:
            response = make_response(
                survey_slug=SLUG,
                wave_id=self.wave_id,
                department_code=code,
                audience=audience,
                day=date.today(),
                answers=answers(rng, audience, full),
            )
            store.add_response(response)
            for family in FAMILIES:
                added[family][(code, audience)] += counts_for(response, family)
        for family, per_cell in self.cumulative.items():
            for cell, series in per_cell.items():
                series.append(series[-1] + added[family][cell])

    def state(self, store: Store) -> str | None:
        """Return the published snapshot's id, noting its counts per family and cell.

        Every count must be a cumulative count of its cell after some batch so far:
        each published cell is a real set of responses, all those of some moment.
        """
        snapshot = store.get_snapshot(SLUG, self.wave_id)
        if snapshot is None:
            return None
        if snapshot.snapshot_id in self.states:
            return snapshot.snapshot_id
        shown: dict[Family, Mapping[Cell, int]] = {HEAD: _counts(snapshot)}
        shown.update({("lever", x): lever_counts(snapshot, x) for x in LEVERS})
        shown.update({("item", i): item_counts(snapshot, i) for i in ITEMS})
        counts: dict[Family, dict[Cell, int]] = {}
        for family, per_cell in shown.items():
            counts[family] = {cell: per_cell.get(cell, 0) for cell in self.cells}
            for cell, n in counts[family].items():
                series = self.cumulative[family][cell]
                assert n in series, f"{family} {cell} stands at {n}, which no batch gives: {series}"
        self.states[snapshot.snapshot_id] = counts
        return snapshot.snapshot_id

    def behind(self, store: Store) -> list[Cell]:
        """Return the cells whose published counts (of any family) lag behind their answers."""
        state = self.state(store)
        if state is None:
            return []
        counts = self.states[state]
        return [
            cell
            for cell in self.cells
            if any(counts[f][cell] != self.cumulative[f][cell][-1] for f in FAMILIES)
        ]

    def placed(self, state: str, family: Family) -> dict[Cell, int]:
        """Return the batch each cell of a state stands at, for ``family``.

        The latest batch whose cumulative count is the state's: people who arrived
        between the true moment and that batch do not count in the family, so they
        are unknowns of 0 either way, and states with equal counts share a breakpoint.
        """
        found = {}
        for cell, n in self.states[state][family].items():
            series = self.cumulative[family][cell]
            found[cell] = max(b for b, total in enumerate(series) if total == n)
        return found

    def members(self, family: Family, group: Group) -> list[Cell]:
        """Return the cells a group's figure of ``family`` sums."""
        departments = self.structure.departments_of(group)
        audiences = AUDIENCES if group.audience is None else (group.audience,)
        return [(d, a) for d in departments for a in audiences if a in asked(family)]

    def true(self, state: str, family: Family, group: Group) -> int:
        """Return the white-box value of a group's figure in a published state."""
        counts = self.states[state][family]
        return sum(counts[c] for c in self.members(family, group))

    def saw(self, state: str | None, family: Family, group: Group, value: Value) -> None:
        """Note a figure an output showed; it must be the published state's.

        A count must be the state's count; per cent shares must be the rounded shares
        of some split of the state's count of answers on the scale.
        """
        assert state is not None, f"{family} of {group} is shown while nothing is published"
        expected = self.true(state, family, group)
        if isinstance(value, tuple):
            assert shares_of(expected, value), (
                f"{self.wave_id}: {family} of {group} shows {value} %; "
                f"the published state has {expected} answers on the scale"
            )
        elif value is not None:
            assert value == expected, (
                f"{self.wave_id}: {family} of {group} shows {value}; "
                f"the published state gives {expected}"
            )
        self.figures.setdefault((state, family, group), None)


def shares_of(n: int, percents: tuple[int, ...]) -> bool:
    """Tell whether whole per cents can be those of counts summing to ``n`` (within rounding)."""
    if n <= 0:
        return False
    low = [max(0, math.ceil((p - 0.5) * n / 100 - 1e-9)) for p in percents]
    high = [math.floor((p + 0.5) * n / 100 + 1e-9) for p in percents]
    return all(a <= b for a, b in zip(low, high, strict=True)) and sum(low) <= n <= sum(high)


# -- reading the outputs -------------------------------------------------------------------


def text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup)).strip()


def unit_of(kind: str, key: str) -> Group:
    if kind == "organisation":
        return Group()
    return Group(site=key) if kind == "site" else Group(department=key)


def chart(page: str, name: str) -> dict[str, Any] | None:
    found = re.search(rf'<script type="application/json" id="chart-{name}"[^>]*>(.*?)</script>',
                      page, re.S)  # fmt: skip
    return None if found is None else json.loads(found.group(1))


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


#: A figure's value: a count, the per cent shares of a statement's answers, or None (shown).
Value = int | tuple[int, ...] | None
Seen = Callable[[Family, Group, Value], None]


def read_participation(seen: Seen, page: str) -> None:
    for code, row in re.findall(r'<tr id="dept-([^"]+)">(.*?)</tr>', page, re.S):
        cells = [text_of(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        if cells[3].isdigit():
            seen(HEAD, Group(department=code), int(cells[3]))
    total = re.search(r'<tr class="total">(.*?)</tr>', page, re.S)
    if total is not None:
        cells = [text_of(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", total.group(1), re.S)]
        if cells[3].isdigit():
            seen(HEAD, Group(), int(cells[3]))


def read_participation_csv(seen: Seen, text: str) -> None:
    rows = parse_csv(text)
    header = rows[0]
    for line in rows[1:]:
        if len(line) != len(header) or not line[header.index("responses")].isdigit():
            continue
        code = line[header.index("department")]
        group = Group() if code == "TOTAL" else Group(department=code)
        seen(HEAD, group, int(line[header.index("responses")]))


def read_overview(seen: Seen, page: str, audience: Audience | None) -> None:
    for kind, key, row in ROW.findall(page):
        group = unit_of(kind, key).with_audience(audience)
        cells = CELL.findall(row)
        if cells and re.fullmatch(r"\d+", text_of(cells[0])):
            seen(HEAD, group, int(text_of(cells[0])))
        for lever, cell in zip(LEVERS, cells[2:], strict=False):
            if "heat-value" in cell:
                seen(("lever", lever), group, None)
    organisation = chart(page, "organisation")
    for series in organisation["series"] if organisation else []:
        for label, value in zip(organisation["labels"], series["data"], strict=False):  # type: ignore[index]
            if value is not None and label in LEVER_NAMES:
                seen(("lever", LEVER_NAMES[label]), Group(audience=audience), None)


def read_results_csv(seen: Seen, text: str, audience: Audience | None) -> None:
    rows = parse_csv(text)
    header = rows[0]
    for line in rows[1:]:
        if len(line) < len(header) or line[0] not in ("organisation", "site", "department"):
            continue
        group = unit_of(line[0], line[2] if line[0] == "department" else line[1])
        group = group.with_audience(audience)
        if line[header.index("responses")] != "":
            seen(HEAD, group, int(line[header.index("responses")]))
        for lever in LEVERS:
            if line[header.index(f"{lever}_index")] != "":
                seen(("lever", lever), group, None)


def read_statement(seen: Seen, group: Group, item: str, percents: list[int | None]) -> None:
    """Note a statement's shares: per cent of the answers on the scale, per point."""
    if any(p is not None for p in percents):
        seen(("item", item), group, tuple(p or 0 for p in percents))


def read_department(seen: Seen, code: str, page: str) -> None:
    group = Group(department=code)
    counted = re.search(r"<p>(\d+) responses", page)
    responses = int(counted.group(1)) if counted else None
    if responses is not None:
        seen(HEAD, group, responses)
    levers = re.search(r'<table class="results-levers">(.*?)</table>', page, re.S)
    for row in re.findall(r"<tr>(.*?)</tr>", levers.group(1) if levers else "", re.S):
        name = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
        if name is None:
            continue
        lever = LEVER_NAMES[text_of(name.group(1))]
        cells = [text_of(c) for c in CELL.findall(row)]
        if cells[1].isdigit():
            seen(("lever", lever), group, int(cells[1]))
        elif "heat-value" in row or re.search(r"\d", cells[2]):
            seen(("lever", lever), group, None)
    gaps = re.search(r'<table class="results-gaps">(.*?)</table>', page, re.S)
    for row in re.findall(r"<tr>(.*?)</tr>", gaps.group(1) if gaps else "", re.S):
        name = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
        if name is None:
            continue
        lever = LEVER_NAMES[text_of(name.group(1))]
        cells = CELL.findall(row)
        both = bool(re.search(r"\d", text_of(cells[2])))
        for audience, cell in zip(AUDIENCES, cells[:2], strict=True):
            if "heat-value" in cell or both:
                seen(("lever", lever), group.with_audience(audience), None)
    for table in re.findall(r'<table class="results-items">(.*?)</table>', page, re.S):
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
            name = re.search(r'<th scope="row">(.*?)(?: <span|</th>)', row, re.S)
            if name is None or text_of(name.group(1)) not in STATEMENTS:
                continue
            cells = [text_of(c) for c in CELL.findall(row)]
            percents = [int(c[:-2]) if c.endswith(" %") else None for c in cells[:5]]
            read_statement(seen, group, STATEMENTS[text_of(name.group(1))], percents)
    read_charts(seen, group, page)


def read_charts(seen: Seen, group: Group, page: str) -> None:
    levers = chart(page, "levers")
    for series in levers["series"] if levers else []:
        for lever, value in zip(LEVERS, series["data"], strict=True):
            if value is not None:
                seen(("lever", lever), group, None)
    audiences = chart(page, "audiences")
    for audience, series in zip(AUDIENCES, audiences["series"] if audiences else [], strict=False):
        for lever, value in zip(LEVERS, series["data"], strict=True):
            if value is not None:
                seen(("lever", lever), group.with_audience(audience), None)
    for lever in LEVERS:
        shares = chart(page, f"answers-{lever}")
        for position, label in enumerate(shares["labels"] if shares else []):
            if any(s["data"][position] is not None for s in shares["series"]):  # type: ignore[index]
                seen(("item", STATEMENTS[label]), group, None)


def read_api(seen: Seen, body: Mapping[str, Any], audience: Audience | None) -> None:
    for row in body["rows"]:
        result = row["result"]
        if result is None:
            continue
        group = unit_of(row["kind"], row["key"]).with_audience(audience)
        responses = result.get("responses")
        if responses is not None:
            seen(HEAD, group, responses)
        for lever, index in result["indices"].items():
            if index is not None:
                seen(("lever", lever), group, None)
        for lever in result.get("levers", []):
            if lever["n"] is not None:
                seen(("lever", lever["id"]), group, lever["n"])
            elif lever["index"] is not None or lever["interval_95"] is not None:
                seen(("lever", lever["id"]), group, None)
        for lever in result.get("audiences") or []:
            for half, name in zip(AUDIENCES, ("employees", "managers"), strict=True):
                if lever[name] is not None or lever["gap"] is not None:
                    seen(("lever", lever["id"]), group.with_audience(half), None)
        for statement in result.get("statements", []):
            read_statement(seen, group, statement["id"], statement["percents"] or [])


@dataclass
class Reader:
    """A signed-in client with its own API token."""

    name: str
    client: FlaskClient
    token: str
    departments: frozenset[str] | None = None


class ServerError(AssertionError):
    """An output answered with a server error (it must answer, or refuse with a 4xx)."""


def answered(response: Any, path: str, query: Mapping[str, str] | None = None) -> None:
    """Raise ``ServerError`` if ``response`` is a 5xx."""
    if response.status_code >= 500:
        raise ServerError(f"{path} {dict(query or {})} answered {response.status_code}")


def get(client: FlaskClient, path: str, **query: str) -> str | None:
    """Return a page's text, or None when it is refused (never a server error)."""
    response = client.get(path, query_string=query)
    answered(response, path, query)
    return response.get_data(as_text=True) if response.status_code == 200 else None


def read_everything(
    app: Flask, store: Store, wave: Wave, reader: Reader, probe: int | None = None
) -> dict[Any, Any]:
    """Open every output ``reader`` may get; note each figure under the state it came from.

    With ``probe`` (a number), open only the unfiltered outputs and one department's
    page and details, chosen by the number. Returns what each output showed (by output
    and group), to compare states of a closed wave.
    """
    base = f"/admin/surveys/{SLUG}/waves/{wave.wave_id}"
    shown: dict[Any, Any] = {}

    def reading(source: str) -> Seen:
        state = wave.state(store)  # the state the request just read (and maybe released)

        def seen(family: Family, group: Group, value: Value) -> None:
            wave.saw(state, family, group, value)
            shown[(source, family, group)] = value

        return seen

    def open_(source: str, path: str, read: Callable[[Seen, str], None], **query: str) -> None:
        text = get(reader.client, path, **query)
        if text is not None:
            read(reading(source), text)

    open_("participation", base + "/participation", read_participation)
    open_("participation.csv", base + "/participation.csv", read_participation_csv)
    sites = (None,) if probe is not None else (None, *wave.structure.sites)
    audiences = (None,) if probe is not None else (None, *AUDIENCES)
    departments = wave.structure.departments
    if probe is not None:
        departments = (departments[probe % len(departments)],)
    for site in sites:
        for audience in audiences:
            query = {"site": site or "", "audience": audience.value if audience else ""}
            where = f"{site}/{audience}"
            open_(f"results {where}", base + "/results",
                  lambda s, t, a=audience: read_overview(s, t, a), **query)  # fmt: skip
            open_(f"results.csv {where}", base + "/results.csv",
                  lambda s, t, a=audience: read_results_csv(s, t, a), **query)  # fmt: skip
            api_query = {name: value for name, value in query.items() if value}
            path = f"/api/v1/surveys/{SLUG}/waves/{wave.wave_id}/results"
            body = api(app, path, reader.token, **api_query)
            answered(body, path, api_query)
            if body.status_code == 200:
                read_api(reading(f"api {where}"), body.get_json(), audience)
    for code in departments:
        open_(f"department {code}", f"{base}/results/departments/{code}",
              lambda s, t, c=code: read_department(s, c, t))  # fmt: skip
        path = f"/api/v1/surveys/{SLUG}/waves/{wave.wave_id}/results/departments/{code}"
        body = api(app, path, reader.token)
        answered(body, path)
        if body.status_code == 200:
            read_api(reading(f"api department {code}"), body.get_json(), None)
    return shown


def readers(
    app: Flask, make_account: Callable[..., object], departments: list[str]
) -> list[Reader]:
    """Sign in an admin, a viewer and a department viewer of every department but the last."""
    made = []
    scope = departments[:-1]
    for name, role, extra in (
        ("admin", Role.ADMIN, {}),
        ("viewer", Role.VIEWER, {}),
        ("department viewer", Role.DEPARTMENT_VIEWER,
         {"departments": [f"{SLUG}/{code}" for code in scope]}),
    ):  # fmt: skip
        email = f"{name.replace(' ', '-')}@example.com"
        token = token_for(app, make_account, email, role, **extra)
        client = app.test_client()
        sign_in(client, email)
        made.append(Reader(name, client, token, frozenset(scope) if extra else None))
    return made


def download_raw(client: FlaskClient, wave: Wave) -> str | None:
    """Download the raw export of a closed wave as an admin; None when it is refused."""
    base = f"/admin/surveys/{SLUG}/waves/{wave.wave_id}/results"
    page = client.get(f"{base}/raw").get_data(as_text=True)
    response = client.post(f"{base}/raw.csv", data={"csrf_token": csrf_token(page)})
    assert response.status_code in (200, 409), response.status_code
    return response.get_data(as_text=True) if response.status_code == 200 else None


def read_raw(wave: Wave, text: str) -> None:
    """Note the raw export's label groups: each a whole cell (or department), final state."""
    rows = parse_csv(text)
    header = rows[0]
    groups: dict[frozenset[Cell], int] = defaultdict(int)
    for line in rows[1:]:
        code, audience = line[header.index("department")], line[header.index("audience")]
        audiences = (Audience(audience),) if audience else AUDIENCES
        groups[frozenset((code, a) for a in audiences)] += 1
    assert wave.final is not None
    for cells, n in groups.items():
        final = wave.states[wave.final][HEAD]
        assert all(final[c] == wave.cumulative[HEAD][c][-1] for c in cells), "unpublished rows"
        assert n == sum(wave.cumulative[HEAD][c][wave.batch] for c in cells), cells
        assert n >= K, (cells, n)
    wave.raw = dict(groups)


# -- exact elimination over (cell, batch) unknowns ------------------------------------------

PRIME = (1 << 61) - 1


@dataclass(frozen=True)
class Leak:
    """A computable set of people below k: its (cell, first batch, last batch) parts."""

    family: Family
    parts: tuple[tuple[Cell, int, int], ...]
    people: int


def columns(wave: Wave, family: Family) -> list[tuple[Cell, int, int]]:
    """Return the unknowns that matter: per cell, the batches between consecutive breakpoints.

    Every published figure sums whole such segments (the per-batch unknowns inside one
    are never apart), so eliminating over segments is exact for (cell, batch) sets.
    """
    found = []
    for cell in wave.cells:
        if cell[1] not in asked(family):
            continue
        breakpoints = sorted({wave.placed(state, family)[cell] for state in wave.states} - {0})
        start = 0
        for end in breakpoints:
            found.append((cell, start, end))
            start = end
    return found


def rows_of(
    wave: Wave, family: Family, index: Mapping[tuple[Cell, int, int], int]
) -> set[frozenset[int]]:
    """Return every published figure of ``family`` as the set of unknowns it sums."""
    rows = set()
    placements = {state: wave.placed(state, family) for state in wave.states}
    for state, fam, group in wave.figures:
        if fam != family:
            continue
        placed = placements[state]
        members = set(wave.members(family, group))
        rows.add(
            frozenset(i for (c, _, end), i in index.items() if c in members and end <= placed[c])
        )
    for cells in wave.raw:
        assert wave.final is not None
        placed = wave.placed(wave.final, family)
        rows.add(
            frozenset(i for (c, _, end), i in index.items() if c in cells and end <= placed[c])
        )
    return {row for row in rows if row}


def signatures(rows: set[frozenset[int]], width: int, rng: random.Random) -> list[int]:
    """Return per unknown a random projection of its kernel coordinates (mod a prime).

    A 0/1 vector lies in the span of ``rows`` exactly when it is orthogonal to the kernel;
    with the kernel projected on a random direction, when its unknowns' values sum to 0
    (false positives have probability about 1/PRIME and are checked exactly afterwards).
    """
    reduced: list[dict[int, int]] = []  # reduced rows, pivot = smallest column
    for members in rows:
        row = dict.fromkeys(members, 1)
        for pivot_row in reduced:
            pivot = min(pivot_row)
            factor = row.get(pivot)
            if factor:
                for c, v in pivot_row.items():
                    value = (row.get(c, 0) - factor * v) % PRIME
                    if value:
                        row[c] = value
                    else:
                        row.pop(c, None)
        if not row:
            continue
        pivot = min(row)
        inverse = pow(row[pivot], PRIME - 2, PRIME)
        row = {c: v * inverse % PRIME for c, v in row.items()}
        for other in reduced:
            factor = other.get(pivot)
            if factor:
                for c, v in row.items():
                    value = (other.get(c, 0) - factor * v) % PRIME
                    if value:
                        other[c] = value
                    else:
                        other.pop(c, None)
        reduced.append(row)
    pivots = {min(row): row for row in reduced}
    free = [c for c in range(width) if c not in pivots]
    weight = {c: rng.randrange(1, PRIME) for c in free}
    sign = [0] * width
    for c in free:
        sign[c] = weight[c]
    for pivot, row in pivots.items():
        sign[pivot] = -sum(v * weight[c] for c, v in row.items() if c != pivot) % PRIME
    return sign


def in_span(vector: set[int], rows: set[frozenset[int]]) -> bool:
    """Tell exactly (rational arithmetic) whether a 0/1 vector is a combination of ``rows``."""
    basis: list[dict[int, Fraction]] = []
    rest: dict[int, Fraction] = {}
    for members in [*rows, frozenset(vector)]:
        rest = {c: Fraction(1) for c in members}
        for row in basis:
            factor = rest.get(min(row))
            if factor:
                for c, v in row.items():
                    value = rest.get(c, Fraction(0)) - factor * v
                    if value:
                        rest[c] = value
                    else:
                        rest.pop(c, None)
        if rest:
            lead = rest[min(rest)]
            basis.append({c: v / lead for c, v in rest.items()})
    return not rest  # the vector came last: in the span exactly when nothing is left


def leaks(wave: Wave, family: Family, seed: int = 0) -> list[Leak]:
    """Return the computable sets of unknowns of ``family`` whose true total is 1 to k − 1."""
    unknowns = columns(wave, family)
    index = {u: i for i, u in enumerate(unknowns)}
    rows = rows_of(wave, family, index)
    if not rows:
        return []
    series = wave.cumulative[family]
    people = [series[c][end] - series[c][start] for c, start, end in unknowns]
    sign = signatures(rows, len(unknowns), random.Random(seed))
    zero = [i for i, n in enumerate(people) if n == 0 and sign[i]]
    small = [i for i, n in enumerate(people) if 0 < n < K]
    # Every subset sum of the empty unknowns (they add nobody, but may complete a combination).
    sums: dict[int, tuple[int, ...]] = {0: ()}
    assert len(zero) <= 16, f"{len(zero)} empty unknowns: too many to enumerate"
    for i in zero:
        for total, chosen in list(sums.items()):
            sums.setdefault((total + sign[i]) % PRIME, (*chosen, i))
    found: list[Leak] = []

    def search(start: int, chosen: tuple[int, ...], count: int, total: int) -> None:
        if len(found) >= 3:
            return
        if chosen:
            completion = sums.get(-total % PRIME)
            if completion is not None:
                vector = {*chosen, *completion}
                if in_span(vector, rows):
                    parts = tuple(sorted(unknowns[i] for i in vector))
                    found.append(Leak(family, parts, count))
        for position in range(start, len(small)):
            i = small[position]
            if count + people[i] < K:
                search(position + 1, (*chosen, i), count + people[i], (total + sign[i]) % PRIME)

    search(0, (), 0, 0)
    return found


def assert_no_leak(waves: list[Wave]) -> None:
    """No set of 1 to k − 1 people (cell, batch) follows from everything seen, per family.

    The waves' figures share no unknowns, so a combination across waves computes a set
    in each wave on its own: checking each wave checks them together.
    """
    found = [leak for wave in waves for family in FAMILIES for leak in leaks(wave, family)]
    assert not found, "\n".join(
        f"{leak.family}: {leak.people} people in {leak.parts}" for leak in found[:5]
    )


# -- the scenario ------------------------------------------------------------------------------


@pytest.fixture
def always_due(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make every view look for a new state (no refresh interval): the attacker's best case."""
    defaults = results.current_snapshot.__kwdefaults__
    assert defaults is not None and "max_age" in defaults
    monkeypatch.setitem(defaults, "max_age", -1)
    yield


def structure_of(store: Store, wave_id: str) -> Structure:
    """Return the structure a wave is decided on (its frozen departments)."""
    wave = store.get_wave(SLUG, wave_id)
    return Structure({d.code: d.site for d in wave_departments(store, wave)})


def run_wave(app: Flask, store: Store, wave: Wave, batches: list[list[Cell]],
             who: list[Reader], rng: random.Random) -> None:  # fmt: skip
    """Let the batches arrive, the readers looking after each; then close the wave.

    After every batch each reader opens the unfiltered outputs and one department
    (a different one each time); whenever that shows a new published state, every
    reader reads everything. (Every output is a function of the published state, so
    reading all of them again while it stands still would only cost time; an output
    that bypassed it would show a figure the probes or the full reads disagree with.)
    """

    def look(number: int) -> None:
        known = len(wave.states)
        for reader in who:
            read_everything(app, store, wave, reader, probe=number)
        if len(wave.states) > known:
            for reader in who:
                read_everything(app, store, wave, reader)

    for reader in who:
        read_everything(app, store, wave, reader)
    for number, cells in enumerate(batches):
        wave.add_batch(store, rng, cells)
        look(number)
    # Late answers, all on the scale, k at a time in every cell still behind, then in both
    # halves of its department, then in its whole site: so that the wave can often close
    # with every answer published and its raw export be read.
    for widen in range(3):
        behind = wave.behind(store)
        if widen == 2 and len(behind) > 6:
            break  # held back this widely, a wave waits for its close whatever comes now
        if widen == 1:
            behind = [(d, a) for d in {d for d, _ in behind} for a in AUDIENCES]
        elif widen == 2:
            sites = {wave.structure.site_of[d] for d, _ in behind}
            answered = {d for d, a in wave.cells if wave.cumulative[HEAD][(d, a)][-1]}
            behind = [
                (d, a)
                for d, a in wave.cells
                if d in answered and wave.structure.site_of[d] in sites
            ]
        late = [cell for cell in sorted(behind, key=lambda c: (c[0], c[1].value)) for _ in range(K)]
        for start in range(0, len(late), 4):
            wave.add_batch(store, rng, late[start : start + 4], full=True)
            look(wave.batch)
    surveys.close_wave(store, SLUG, wave.wave_id, today=date.today())
    for reader in who:
        read_everything(app, store, wave, reader)
    wave.final = wave.state(store)


SEEDS = range(4)


def replay(store: Store, seed: int) -> Iterator[int]:
    """Create seed's organisation and let its first wave's batches arrive; yield each batch."""
    plan = organisation(seed)
    surveys.create_survey(
        store, slug=SLUG, title="CRM rollout", system_name={"en": "the new CRM"},
        today=date.today(), departments_csv=departments_csv(
            {code: (f"Dept {code}", site, 20) for code, site in plan.site_of.items()}),
    )  # fmt: skip
    surveys.add_wave(store, SLUG, wave_id="baseline", name="Baseline", today=date.today())
    surveys.open_wave(store, SLUG, "baseline", today=date.today())
    wave, rng = Wave("baseline", structure_of(store, "baseline")), random.Random(1000 + seed)
    for number, cells in enumerate(plan.batches):
        wave.add_batch(store, rng, cells)
        yield number


@pytest.mark.parametrize("seed", SEEDS)
def test_every_state_a_live_wave_publishes_can_be_read(
    app: Flask, always_due: None, seed: int
) -> None:
    # Release steps per family once dropped a held family from a cell released for the
    # first time, and merging the cells then failed (AggregateError: a 500 on every page).
    store = app.extensions["portal.store"]
    for _ in replay(store, seed):
        readiness.wave_results(store, SLUG, "baseline")  # what every results view merges


@pytest.mark.parametrize("seed", SEEDS)
def test_no_one_is_isolated_across_every_published_state_of_two_waves(
    app: Flask, make_account: Callable[..., object], always_due: None, seed: int
) -> None:
    store = app.extensions["portal.store"]
    plan = organisation(seed)
    rng = random.Random(1000 + seed)
    today = date.today()
    surveys.create_survey(
        store,
        slug=SLUG,
        title="CRM rollout",
        system_name={"en": "the new CRM"},
        today=today,
        departments_csv=departments_csv(
            {code: (f"Dept {code}", site, 20) for code, site in plan.site_of.items()}
        ),
    )
    surveys.add_wave(store, SLUG, wave_id="baseline", name="Baseline", today=today)
    surveys.open_wave(store, SLUG, "baseline", today=today)
    who = readers(app, make_account, list(plan.site_of))
    first = Wave("baseline", structure_of(store, "baseline"))
    run_wave(app, store, first, plan.batches, who, rng)
    assert len(first.states) >= 3, "the wave should move through several published states"
    text = download_raw(who[0].client, first)
    if text is None:  # refused only while the published state leaves answers out
        assert first.final is not None and first.final.endswith(results.PARTIAL)
    else:
        read_raw(first, text)
    assert_no_leak([first])

    # Structure edits after closing: the closed wave reads exactly the same.
    before = [read_everything(app, store, first, reader) for reader in who]
    codes = list(plan.site_of)
    moved = rng.choice(codes[:-1])
    retired = rng.choice([code for code in codes[1:] if code != moved])
    other = "S2" if plan.site_of[moved] == "S1" else "S1"
    surveys.update_department(store, SLUG, moved, name=f"Dept {moved}", site=other,
                              headcount=20, parent=None)  # fmt: skip
    surveys.set_department_retired(store, SLUG, retired, retired=True)
    after = [read_everything(app, store, first, reader) for reader in who]
    assert after == before
    assert store.get_wave(SLUG, "baseline").status is WaveStatus.CLOSED

    # A second wave on the edited organisation: the same, and both waves together.
    surveys.add_wave(store, SLUG, wave_id="follow-up", name="Follow-up", today=today)
    surveys.open_wave(store, SLUG, "follow-up", today=today)
    second = Wave("follow-up", structure_of(store, "follow-up"))
    assert second.structure.site_of[moved] == other
    batches = drawn(rng, second.structure.site_of, {retired}, plan.most)
    run_wave(app, store, second, batches, who, rng)
    text = download_raw(who[0].client, second)
    if text is None:
        assert second.final is not None and second.final.endswith(results.PARTIAL)
    else:
        read_raw(second, text)
    assert_no_leak([first, second])
