"""How sure the barrier and the managers' gap are, on the department page, CSV and API."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.services import readiness
from portal.storage.port import Store
from tests.web.test_api import api, token_for
from tests.web.test_results import QUESTIONNAIRE, SLUG, STANDARD, make_organisation

MakeAccount = Callable[..., object]
BASE = f"/admin/surveys/{SLUG}/waves/baseline"


def test_the_barrier_and_the_gap_say_how_sure_they_are_on_every_output(
    app: Flask, admin: FlaskClient, store: Store, make_account: MakeAccount
) -> None:
    make_organisation(store, STANDARD, bias=-1)
    report = readiness.wave_results(store, SLUG, "baseline")
    row = report.department("SALES")
    assert row is not None and row.result is not None and row.result.barrier is not None
    result = row.result
    sure = readiness.barrier_certainty(report, result)
    assert sure is not None
    barrier = result.scores[sure.lever_id]
    assert barrier.ci_high is not None
    assert sure.reaches_line == (barrier.ci_high >= report.attention)

    page = admin.get(f"{BASE}/results/departments/SALES").get_data(as_text=True)
    words = re.search(r'<span id="barrier-certainty">\((.*?)\)</span>', page)
    assert words is not None and words.group(1) == readiness.barrier_words(report, result)
    assert words.group(1).startswith("clearly") == sure.clear

    table = re.search(r'<table class="results-gaps">.*?</table>', page, re.S)
    assert table is not None
    findings = readiness.gap_findings(result)
    for lever in QUESTIONNAIRE.levers:
        found = findings[lever.id]
        assert found is not None
        assert f"{found.ci_low:+.1f} to {found.ci_high:+.1f}" in table.group(0)
    flagged = sum(f is not None and f.flagged for f in findings.values())
    assert table.group(0).count("managers clearly higher") == flagged

    text = admin.get(f"{BASE}/results.csv").get_data(as_text=True)
    sales = next(r for r in csv.DictReader(io.StringIO(text)) if r["department"] == "SALES")
    assert sales["first_lever_to_reinforce_sure"] == ("yes" if sure.clear else "no")

    secret = token_for(app, make_account, "reader@example.com", Role.VIEWER)
    body = api(app, f"/api/v1/surveys/{SLUG}/waves/baseline/results/departments/SALES", secret)
    shaped = body.get_json()["rows"][0]["result"]
    assert shaped["barrier_sure"] == sure.clear and shaped["barrier_close_to"] == sure.close_to
    for gap in shaped["audiences"]:
        low, high = gap["gap_interval_95"]
        assert low <= gap["gap"] <= high
        # a finding needs 15 points and an interval above 0, never the point alone
        assert gap["managers_clearly_higher"] == (gap["gap"] >= 15 and low > 0) or (
            abs(gap["gap"] - 15) < 0.1 or abs(low) < 0.1
        )
