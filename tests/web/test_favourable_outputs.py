"""Favourable per cent per lever beside the index: page, CSV and API, from the raw answers."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.domain.entities import Response
from portal.storage.port import Store
from tests.web.test_api import api, token_for
from tests.web.test_results import QUESTIONNAIRE, SLUG, STANDARD, make_organisation

MakeAccount = Callable[..., object]
BASE = f"/admin/surveys/{SLUG}/waves/baseline"


def favourable_by_hand(responses: list[Response], lever_id: str) -> float:
    """Return the per cent of answers on the scale to the lever's statements scoring 4–5."""
    on_scale = favourable = 0
    for response in responses:
        for item in QUESTIONNAIRE.items_for(response.audience):
            answer = response.answers.get(item.id)
            if item.lever != lever_id or answer is None:
                continue
            scored = 6 - answer if item.reverse else answer
            on_scale += 1
            favourable += scored >= 4
    return 100 * favourable / on_scale


def test_each_levers_favourable_per_cent_is_the_share_of_answers_scoring_4_or_5(
    app: Flask, admin: FlaskClient, store: Store, make_account: MakeAccount
) -> None:
    responses = make_organisation(store, STANDARD)
    sales = [r for r in responses if r.department_code == "SALES"]
    expected = {
        lever.id: round(favourable_by_hand(sales, lever.id)) for lever in QUESTIONNAIRE.levers
    }

    page = admin.get(f"{BASE}/results/departments/SALES").get_data(as_text=True)
    shown = re.findall(r'<td class="num favourable">(\d+) %</td>', page)
    assert shown == [str(expected[lever.id]) for lever in QUESTIONNAIRE.levers]

    overview = admin.get(f"{BASE}/results").get_data(as_text=True)
    sentence = re.search(r'<p id="organisation-favourable">(.*?)</p>', overview, re.S)
    assert sentence is not None
    for lever in QUESTIONNAIRE.levers:
        share = round(favourable_by_hand(responses, lever.id))
        assert f"{lever.name['en']} {share} %" in sentence.group(1)

    text = admin.get(f"{BASE}/results.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    line = next(r for r in rows if r["department"] == "SALES")
    for lever in QUESTIONNAIRE.levers:
        assert line[f"{lever.id}_favourable_percent"] == str(expected[lever.id])
    # a hidden department shows no favourable per cent, exactly like no index
    tiny = next(r for r in rows if r["department"] == "TINY")
    assert all(tiny[f"{lever.id}_favourable_percent"] == "" for lever in QUESTIONNAIRE.levers)

    secret = token_for(app, make_account, "reader@example.com", Role.VIEWER)
    body = api(app, f"/api/v1/surveys/{SLUG}/waves/baseline/results", secret).get_json()
    for row in body["rows"]:
        result = row["result"]
        if result is None:
            continue
        for lever_id, index in result["indices"].items():
            assert (index is None) == (result["favourable_percent"][lever_id] is None)
    department = api(
        app, f"/api/v1/surveys/{SLUG}/waves/baseline/results/departments/SALES", secret
    ).get_json()["rows"][0]["result"]
    assert department["favourable_percent"] == expected
    assert {lv["id"]: lv["favourable_percent"] for lv in department["levers"]} == expected
