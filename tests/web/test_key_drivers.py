"""Key drivers on the dashboard and in the scorecard, against an independent reference.

The reference is numpy on the raw responses: each respondent's lever index
(``scoring.respondent_index``), the respondents with an index on every lever,
Johnson's (2000) relative weights by numpy's eigen-decomposition of the
correlation matrix, and the delete-a-group jackknife by leaving each shown
department's respondents out. The page prints shares to whole per cent and
weights to one decimal (× 100), so each shown figure must lie within rounding
of the reference.
"""

from __future__ import annotations

import random
import re
from datetime import date

import numpy as np
from flask.testing import FlaskClient

from portal.domain import scoring
from portal.domain.accounts import Role
from portal.domain.entities import Audience, Response
from portal.services import key_drivers, readiness
from portal.services.scorecard import scorecard
from portal.storage.port import Store
from tests.builders import make_response
from tests.web.conftest import sign_in
from tests.web.test_results import QUESTIONNAIRE, SLUG, make_organisation

BASE = f"/admin/surveys/{SLUG}/waves/baseline/results"
LEVERS = [lever.id for lever in QUESTIONNAIRE.levers]
OUTCOME = "adoption"
#: How strongly each lever's level carries into adoption in the generated organisation.
EFFECT = {"skills": 0.6, "purpose": 0.35, "managers": 0.1}
#: Four departments large enough to show, and TINY (3) and FEW (4) hidden together.
CELLS = {
    "SALES": (20, 6),
    "MKT": (18, 5),
    "WH": (22, 4),
    "OPS": (16, 5),
    "TINY": (3, 0),
    "FEW": (4, 0),
}
SHOWN = ("SALES", "MKT", "WH", "OPS")
TAG = re.compile(r"<[^>]+>")


def text_of(html: str) -> str:
    return " ".join(TAG.sub("", html).split())


def answers(rng: random.Random, audience: Audience) -> dict[str, int | None]:
    """Answer with a level per lever; adoption follows skills and purpose, plus noise."""
    levels = {lever: rng.gauss(3.0, 0.8) for lever in LEVERS if lever != OUTCOME}
    levels[OUTCOME] = 3.0 + sum(w * (levels[lever] - 3.0) for lever, w in EFFECT.items())
    levels[OUTCOME] += rng.gauss(0, 0.5)
    found: dict[str, int | None] = {}
    for item in QUESTIONNAIRE.items_for(audience):
        if rng.random() < 0.04:
            found[item.id] = None
            continue
        value = min(5, max(1, round(levels[item.lever] + rng.gauss(0, 0.5))))
        found[item.id] = 6 - value if item.reverse else value
    return found


def store_organisation(
    store: Store, cells: dict[str, tuple[int, int]], seed: int
) -> list[Response]:
    make_organisation(store, {}, seed=seed)
    rng = random.Random(seed)
    responses = []
    for code, (employees, managers) in cells.items():
        for audience, count in ((Audience.EMPLOYEE, employees), (Audience.MANAGER, managers)):
            for _ in range(count):
                response = make_response(
                    survey_slug=SLUG,
                    wave_id="baseline",
                    department_code=code,
                    audience=audience,
                    day=date.today(),
                    answers=answers(rng, audience),
                )
                store.add_response(response)
                responses.append(response)
    return responses


def complete_rows(responses: list[Response]) -> np.ndarray:
    """Return each respondent's index per lever, for those with an index on every lever."""
    rows = []
    for response in responses:
        found = [scoring.respondent_index(QUESTIONNAIRE, response, lever) for lever in LEVERS]
        if all(v is not None for v in found):
            rows.append(found)
    return np.array(rows, dtype=float)


def johnson(data: np.ndarray) -> tuple[float, dict[str, float]]:
    """Return R² and Johnson's relative weights of the outcome on the other levers (numpy)."""
    target = LEVERS.index(OUTCOME)
    others = [i for i in range(len(LEVERS)) if i != target]
    r = np.corrcoef(data, rowvar=False)
    rxx, rxy = r[np.ix_(others, others)], r[others, target]
    values, vectors = np.linalg.eigh(rxx)
    lam = vectors @ np.diag(np.sqrt(values)) @ vectors.T
    beta = np.linalg.solve(lam, rxy)
    weights = (lam**2) @ (beta**2)
    return float(weights.sum()), {LEVERS[i]: float(w) for i, w in zip(others, weights, strict=True)}


def driver_rows(page: str) -> dict[str, tuple[float, float, tuple[float, float] | None, bool]]:
    """Return per lever the shown share, weight, interval and key-driver flag."""
    found = {}
    for lever, cells in re.findall(r'<tr id="driver-([a-z-]+)">(.*?)</tr>', page, re.S):
        tds = [text_of(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
        share = float(tds[0].split()[0])
        numbers = [float(x) for x in re.findall(r"\d+\.\d", tds[1])]
        interval = (numbers[1], numbers[2]) if len(numbers) == 3 else None
        found[lever] = (share, numbers[0], interval, tds[2] == "Yes")
    return found


def test_the_dashboard_shows_johnsons_weights_with_a_jackknife_over_shown_departments(
    admin: FlaskClient, store: Store
) -> None:
    responses = store_organisation(store, CELLS, seed=5)
    page = admin.get(BASE).get_data(as_text=True)
    data = complete_rows(responses)
    r2, weights = johnson(data)
    shown = driver_rows(page)
    assert set(shown) == set(weights)
    summary = text_of(re.search(r'<p id="key-drivers-summary">(.*?)</p>', page, re.S).group(1))  # type: ignore[union-attr]
    assert f"{round(r2 * 100)} %" in summary and f"({len(data)} people" in summary
    # Replicates: each shown department's respondents left out; TINY and FEW never alone.
    department_of = [r.department_code for r in responses if _complete(r)]
    replicates = []
    for code in SHOWN:
        keep = np.array([d != code for d in department_of])
        replicates.append(johnson(data[keep])[1])
    g = len(replicates)
    for lever, weight in weights.items():
        share, shown_weight, interval, key = shown[lever]
        assert abs(share - 100 * weight / r2) <= 0.5 + 1e-9, lever
        assert abs(shown_weight - 100 * weight) <= 0.05 + 1e-9, lever
        assert key is (weight > r2 / len(weights))
        values = np.array([rep[lever] for rep in replicates])
        se = float(np.sqrt((g - 1) / g * ((values - values.mean()) ** 2).sum()))
        low, high = max(0.0, weight - 1.959963984540054 * se), weight + 1.959963984540054 * se
        assert interval is not None
        assert (
            abs(interval[0] - 100 * low) <= 0.05 + 1e-9
            and abs(interval[1] - 100 * high) <= 0.05 + 1e-9
        )
    # The strongest generated effect comes out on top.
    order = sorted(weights, key=lambda lever: -weights[lever])
    assert order[0] == "skills"
    assert list(shown) == order
    stability = text_of(re.search(r'<p id="key-drivers-stability">(.*?)</p>', page, re.S).group(1))  # type: ignore[union-attr]
    tops = sum(1 for rep in replicates if max(rep, key=rep.__getitem__) == order[0])
    assert f"in {tops} of {g} cases" in stability


def _complete(response: Response) -> bool:
    return all(
        scoring.respondent_index(QUESTIONNAIRE, response, lever) is not None for lever in LEVERS
    )


def test_a_hidden_department_is_never_left_out_alone(admin: FlaskClient, store: Store) -> None:
    # Had TINY + FEW (hidden) been a replicate of their own, the intervals would differ.
    responses = store_organisation(store, CELLS, seed=6)
    page = admin.get(BASE).get_data(as_text=True)
    data = complete_rows(responses)
    department_of = [r.department_code for r in responses if _complete(r)]
    _, weights = johnson(data)
    with_hidden = []
    for codes in ([c] for c in SHOWN):
        keep = np.array([d not in codes for d in department_of])
        with_hidden.append(johnson(data[keep])[1])
    keep = np.array([d not in ("TINY", "FEW") for d in department_of])
    with_hidden.append(johnson(data[keep])[1])
    g = len(with_hidden)
    differs = 0
    for lever, (_, _, interval, _) in driver_rows(page).items():
        values = np.array([rep[lever] for rep in with_hidden])
        se = float(np.sqrt((g - 1) / g * ((values - values.mean()) ** 2).sum()))
        high = weights[lever] + 1.959963984540054 * se
        assert interval is not None
        differs += abs(interval[1] - 100 * high) > 0.05
    assert differs > 0


def test_too_few_complete_answers_say_how_many_are_needed(admin: FlaskClient, store: Store) -> None:
    store_organisation(store, {"SALES": (12, 4), "MKT": (10, 4), "WH": (9, 3)}, seed=7)
    page = admin.get(BASE).get_data(as_text=True)
    summary = text_of(re.search(r'<p id="key-drivers-summary">(.*?)</p>', page, re.S).group(1))  # type: ignore[union-attr]
    assert "Not enough answers yet" in summary and "needs 60" in summary
    assert 'id="driver-' not in page


def test_a_count_under_the_minimum_group_size_is_never_printed(
    admin: FlaskClient, store: Store
) -> None:
    # Twenty people; every lever scored by at least 16 of them, but only three scored every
    # lever (the others each skipped one): "fewer than 5", not "3".
    make_organisation(store, {}, seed=8)
    rng = random.Random(8)
    for person in range(20):
        given = answers(rng, Audience.EMPLOYEE)
        for item in QUESTIONNAIRE.items_for(Audience.EMPLOYEE):
            if person >= 3 and item.lever == LEVERS[person % len(LEVERS)]:
                given[item.id] = None
            elif given[item.id] is None:
                given[item.id] = 3
        store.add_response(
            make_response(
                survey_slug=SLUG,
                wave_id="baseline",
                department_code=("SALES", "MKT")[person % 2],
                audience=Audience.EMPLOYEE,
                day=date.today(),
                answers=given,
            )
        )
    page = admin.get(BASE).get_data(as_text=True)
    summary = text_of(re.search(r'<p id="key-drivers-summary">(.*?)</p>', page, re.S).group(1))  # type: ignore[union-attr]
    assert "fewer than 5 people answered enough on every lever" in summary
    assert "needs 60" in summary and not re.search(r"\b3 people", summary)


def test_a_department_viewer_gets_no_key_drivers_and_no_ranking_by_them(
    client: FlaskClient,
    make_account,
    store: Store,  # type: ignore[no-untyped-def]
) -> None:
    store_organisation(store, CELLS, seed=5)
    make_account("dv@example.com", Role.DEPARTMENT_VIEWER, departments=(f"{SLUG}/SALES",))
    sign_in(client, "dv@example.com")
    page = client.get(BASE).get_data(as_text=True)
    assert "key-drivers" not in page
    card = scorecard(
        store, SLUG, "baseline", department="SALES", allowed=lambda code: code == "SALES"
    )
    assert all("key driver" not in line.reason for page in card.pages for line in page.plan)


def test_the_scorecard_puts_a_weak_key_driver_first_after_the_barrier(store: Store) -> None:
    store_organisation(store, CELLS, seed=5)
    results = readiness.wave_results(store, SLUG, "baseline")
    found = key_drivers.key_drivers(results)
    assert found.usable and "skills" in found.key_levers()
    organisation = results.organisation
    assert organisation is not None
    barrier = organisation.barrier.lever_id if organisation.barrier else None
    card = scorecard(store, SLUG, "baseline", department="*", max_plan_lines=None)
    levers = []
    for line in card.pages[0].plan:
        if line.reason and "low response" not in line.reason and line.lever_id not in levers:
            levers.append(line.lever_id)
            assert ("a key driver of adoption" in line.reason) is (
                line.lever_id in found.key_levers()
            )
    after_barrier = [lever for lever in levers if lever != barrier]
    key = [lever for lever in after_barrier if lever in found.key_levers()]
    assert key and after_barrier[: len(key)] == key
    # Without the drivers the lowest scores would lead: here that order differs.
    scores = {k: v.index for k, v in organisation.scores.items() if k != OUTCOME}
    by_score = sorted((lever for lever in scores if lever != barrier), key=lambda x: scores[x])
    assert by_score[: len(key)] != key
