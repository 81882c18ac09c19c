"""Release steps over HTTP: answers arrive one by one, and no one answer ever shows on its own.

A viewer polls after every single submission — the participation page, every
department page and the API's counts — with the refresh interval forced to
zero, the worst case. Every two states the viewer sees in a row must differ
by 0 or at least k people in every group shown in both, pages must stay byte
for byte the same while nothing is released, and the snapshots behind two
consecutive states must pass the exact two-state elimination of
``tests/unit/test_release.py``. A closed wave whose last answers cannot be
released keeps its last state and says so.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.domain.anonymity import AUDIENCES, Group, Structure
from portal.domain.entities import Audience
from portal.services import results
from portal.services.readiness import _counts
from portal.services.surveys import close_wave
from portal.storage.port import Store
from tests.builders import make_response
from tests.unit.test_release import leaks_across
from tests.web.conftest import sign_in
from tests.web.test_admin_distribution import cells, total_cells
from tests.web.test_api import api, collect, token_for
from tests.web.test_results import SLUG, make_organisation, random_answers
from tests.web.test_results_attacks import K, get

SITE_OF = {"A1": "S1", "A2": "S1", "B1": "S2"}
START = {"A1": (8, 5), "A2": (7, 5), "B1": (9, 6)}
BIG = {"A1": (14, 11), "A2": (13, 12), "B1": (15, 12)}
State = dict[Group, int]


@pytest.fixture
def always_due(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make every view look for a new state (no refresh interval): the attacker's best case."""
    defaults = results.current_snapshot.__kwdefaults__
    assert defaults is not None and "max_age" in defaults
    monkeypatch.setitem(defaults, "max_age", -1)
    yield


@pytest.fixture
def viewer(app: Flask, make_account: Callable[..., object]) -> FlaskClient:
    """Return a client signed in as a viewer (results and participation of everyone)."""
    make_account("viewer@example.com", Role.VIEWER)
    client = app.test_client()
    sign_in(client, "viewer@example.com")
    return client


def answer_one(store: Store, rng: random.Random) -> None:
    """Store one more response, in a department and audience drawn at random."""
    code, audience = rng.choice(list(SITE_OF)), rng.choice(AUDIENCES)
    store.add_response(
        make_response(
            survey_slug=SLUG,
            wave_id="baseline",
            department_code=code,
            audience=audience,
            day=date.today(),
            answers=random_answers(rng, audience),
        )
    )


def poll(app: Flask, client: FlaskClient, secret: str) -> tuple[State, list[str]]:
    """Read everything the viewer polls; return the counts seen and the pages read."""
    seen: State = {}
    participation = get(client, "participation")
    for code in SITE_OF:
        shown = cells(participation, code)[3]
        if shown.isdigit():
            seen[Group(department=code)] = int(shown)
    if (total := total_cells(participation)[3]).isdigit():
        seen[Group()] = int(total)
    pages = [participation[participation.index("<main") : participation.index("</main>")]]
    for code in SITE_OF:
        page = get(client, f"results/departments/{code}")
        pages.append(page[page.index("<main") : page.index("</main>")])
        if counted := re.search(r"<p>(\d+) responses", page):
            assert seen.setdefault(Group(department=code), int(counted.group(1))) == int(
                counted.group(1)
            )
    raw: dict[Group, int] = {}
    base = f"/api/v1/surveys/{SLUG}/waves/baseline/results"
    for audience in (None, *AUDIENCES):
        response = api(app, base, secret, **({"audience": audience.value} if audience else {}))
        if response.status_code == 200:
            collect(response.get_json(), audience, raw)
    for group, count in raw.items():
        assert seen.setdefault(group, count) == count, group
    return seen, pages


def test_answers_arriving_one_by_one_are_released_only_in_steps_of_at_least_k(
    app: Flask, viewer: FlaskClient, make_account: Callable[..., object], always_due: None
) -> None:
    store = app.extensions["portal.store"]
    departments = {code: (f"Dept {code}", site, 40) for code, site in SITE_OF.items()}
    make_organisation(store, START, departments=departments)
    secret = token_for(app, make_account, "api@example.com", Role.VIEWER)
    structure = Structure(SITE_OF)
    rng = random.Random(11)

    state, pages = poll(app, viewer, secret)
    behind = _counts(store.get_snapshot(SLUG, "baseline"))
    states = [state]
    for _ in range(45):
        answer_one(store, rng)
        new_state, new_pages = poll(app, viewer, secret)
        if new_state == state:
            # Nothing released: every page reads exactly as before, the newcomer nowhere.
            assert new_pages == pages
            continue
        for group in state.keys() & new_state.keys():
            moved = new_state[group] - state[group]
            assert moved == 0 or moved >= K, (group, state[group], new_state[group])
        now_behind = _counts(store.get_snapshot(SLUG, "baseline"))
        assert leaks_across(structure, behind, now_behind, K) == []
        state, pages, behind = new_state, new_pages, now_behind
        states.append(state)
    # The wave does move: several steps were released over 45 answers.
    assert len(states) >= 3, states


def test_a_closed_wave_whose_last_answers_cannot_be_released_keeps_its_state_and_says_so(
    app: Flask, viewer: FlaskClient, make_account: Callable[..., object], always_due: None
) -> None:
    store = app.extensions["portal.store"]
    departments = {code: (f"Dept {code}", site, 40) for code, site in SITE_OF.items()}
    make_organisation(store, START, departments=departments)
    secret = token_for(app, make_account, "api@example.com", Role.VIEWER)
    before, _ = poll(app, viewer, secret)
    page = get(viewer, "participation")
    assert 'id="held-back"' not in page

    answer_one(store, random.Random(3))  # one late answer: never to be shown alone
    close_wave(store, SLUG, "baseline", today=date.today())
    after, _ = poll(app, viewer, secret)
    assert after == before
    page = get(viewer, "participation")
    assert 'id="held-back"' in page and "Some late answers are not included" in page
    for path in ("results", "results/departments/A1"):
        assert "Some late answers are not included" in get(viewer, path), path
    assert store.get_snapshot(SLUG, "baseline").responses == sum(map(sum, START.values()))


def test_a_closed_wave_whose_last_answers_can_be_released_shows_them_all(
    app: Flask, viewer: FlaskClient, make_account: Callable[..., object], always_due: None
) -> None:
    store = app.extensions["portal.store"]
    departments = {code: (f"Dept {code}", site, 40) for code, site in SITE_OF.items()}
    # Cells well above K, so no statement's count sits near K either: every decision, per
    # measure too, shows the same groups before and after (a decision that hides another
    # group after the release would hold that measure back, rightly).
    make_organisation(store, BIG, departments=departments)
    secret = token_for(app, make_account, "api@example.com", Role.VIEWER)
    poll(app, viewer, secret)
    rng = random.Random(5)
    for _ in range(K):  # K newcomers in each of A1's cells, every statement on the scale
        for audience in AUDIENCES:
            given = random_answers(rng, audience)
            store.add_response(
                make_response(
                    survey_slug=SLUG,
                    wave_id="baseline",
                    department_code="A1",
                    audience=audience,
                    day=date.today(),
                    answers={item: value or 3 for item, value in given.items()},
                )
            )
    close_wave(store, SLUG, "baseline", today=date.today())
    after, _ = poll(app, viewer, secret)
    assert after[Group(department="A1")] == sum(BIG["A1"]) + 2 * K
    assert 'id="held-back"' not in get(viewer, "participation")
    assert 'id="held-back"' not in get(viewer, "results")


def test_a_step_releases_whole_cells_sums_and_comments_and_keeps_the_rest_as_published(
    app: Flask,
) -> None:
    store = app.extensions["portal.store"]
    departments = {code: (f"Dept {code}", site, 40) for code, site in SITE_OF.items()}
    make_organisation(store, START, departments=departments)
    start = datetime.now(UTC)
    first = results.current_snapshot(store, SLUG, "baseline", now=start)
    rng = random.Random(7)

    def add(code: str, audience: Audience, comment: str) -> None:
        store.add_response(
            make_response(
                survey_slug=SLUG,
                wave_id="baseline",
                department_code=code,
                audience=audience,
                day=date.today(),
                answers=random_answers(rng, audience),
                comment=comment,
            )
        )

    for n in range(K):
        add("A1", Audience.EMPLOYEE, f"A1 newcomer {n}")
    add("B1", Audience.MANAGER, "the one late manager")
    later = results.current_snapshot(store, SLUG, "baseline", now=start + timedelta(hours=1))
    assert later.snapshot_id != first.snapshot_id
    employees = later.cells["A1"].part(Audience.EMPLOYEE)
    assert employees is not None and employees.responses == START["A1"][0] + K
    assert later.cells["B1"] == first.cells["B1"]  # its one newcomer waits
    a1 = store.get_snapshot_comments(SLUG, "baseline", "A1").all_texts()
    assert {f"A1 newcomer {n}" for n in range(K)} <= set(a1)
    assert "the one late manager" not in " ".join(
        store.get_snapshot_comments(SLUG, "baseline", "B1").all_texts()
    )
