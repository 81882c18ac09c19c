"""The instrument-quality page: Cronbach's alpha per lever for admins, whole organisation only."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import date

import pytest
from flask.testing import FlaskClient

from portal.domain import scoring
from portal.domain.accounts import Role
from portal.domain.entities import Audience, Response
from portal.storage.port import Store
from tests.builders import make_response
from tests.web.conftest import sign_in
from tests.web.test_results import QUESTIONNAIRE, SLUG, make_organisation

MakeAccount = Callable[..., object]
BASE = f"/admin/surveys/{SLUG}/waves/baseline/results"
TWO = {"SALES": ("Sales", "Aarhus", 40), "MKT": ("Marketing", "Aarhus", 40)}


def consistent(store: Store, count: int) -> list[Response]:
    """Store responses whose answers move together within every lever (alpha near 1)."""
    rng = random.Random(3)
    found = []
    for n in range(count):
        audience = Audience.MANAGER if n % 3 == 0 else Audience.EMPLOYEE
        level = rng.randint(1, 5)
        answers = {
            item.id: (6 - level if item.reverse else level)
            if rng.random() > 0.1
            else max(1, min(5, level + rng.choice([-1, 1])))
            for item in QUESTIONNAIRE.items_for(audience)
        }
        response = make_response(survey_slug=SLUG, wave_id="baseline", audience=audience,
                                 department_code="SALES" if n % 2 else "MKT",
                                 day=date.today(), answers=answers)  # fmt: skip
        store.add_response(response)
        found.append(response)
    return found


def alpha_rows(page: str) -> dict[str, tuple[int, str, str]]:
    """Return per lever id: n, the alpha as shown and the reading."""
    rows = {}
    for lever_id, cells in re.findall(r'<tr id="alpha-([\w-]+)">(.*?)</tr>', page, re.S):
        tds = re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)
        reading = re.sub(r"<[^>]+>", "", tds[4]).strip()
        rows[lever_id] = (int(tds[1]), re.sub(r"<[^>]+>", "", tds[2]).strip(), reading)
    return rows


def test_alpha_per_lever_is_the_one_computed_from_the_raw_responses(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, {}, departments=TWO)
    responses = consistent(store, 40)
    page = admin.get(f"{BASE}/quality")
    assert page.status_code == 200
    rows = alpha_rows(page.get_data(as_text=True))
    assert list(rows) == [lever.id for lever in QUESTIONNAIRE.levers]
    for lever in QUESTIONNAIRE.levers:
        expected = scoring.cronbach_alpha(QUESTIONNAIRE, responses, lever.id)
        n, shown, reading = rows[lever.id]
        assert n == expected.n
        if expected.alpha is None:
            assert shown == "–"
        else:
            assert shown == f"{int(expected.alpha * 100) / 100:.2f}"
            assert reading == ("below 0.70" if expected.alpha < 0.70 else "acceptable")
    assert any(reading == "acceptable" for _, _, reading in rows.values())


def test_random_answers_are_flagged_below_the_floor(admin: FlaskClient, store: Store) -> None:
    make_organisation(store, {"SALES": (20, 10), "MKT": (20, 10)}, departments=TWO)
    rows = alpha_rows(admin.get(f"{BASE}/quality").get_data(as_text=True))
    assert any(reading == "below 0.70" for _, _, reading in rows.values())
    page = admin.get(f"{BASE}/quality").get_data(as_text=True)
    assert "What this page tells you" in page and "Cronbach" in page


def test_nothing_is_shown_for_an_organisation_below_the_minimum(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, {"SALES": (2, 0), "MKT": (2, 0)}, departments=TWO)
    page = admin.get(f"{BASE}/quality").get_data(as_text=True)
    assert 'id="not-enough"' in page and 'id="alpha-' not in page


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEPARTMENT_VIEWER])
def test_only_admins_reach_the_quality_page(
    client: FlaskClient, make_account: MakeAccount, store: Store, role: Role
) -> None:
    make_organisation(store, {"SALES": (6, 5), "MKT": (6, 5)}, departments=TWO)
    scope = (f"{SLUG}/SALES",) if role is Role.DEPARTMENT_VIEWER else ()
    make_account("reader@example.com", role, departments=scope)
    sign_in(client, "reader@example.com")
    assert client.get(f"{BASE}/quality").status_code == 403
    assert "Instrument quality" not in client.get(BASE).get_data(as_text=True)


def test_the_overview_links_admins_to_the_quality_page(admin: FlaskClient, store: Store) -> None:
    make_organisation(store, {"SALES": (6, 5), "MKT": (6, 5)}, departments=TWO)
    assert f'href="{BASE}/quality"' in admin.get(BASE).get_data(as_text=True)
