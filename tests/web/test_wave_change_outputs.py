"""Wave changes on every output: q-values per report, interval, Hedges' g and the words.

One report is one wave pair as one reader sees it: the admin's q-values are
Benjamini–Hochberg's over every change the admin's overview shows, a
department viewer's over the changes of their departments only; the page,
CSV and API print the same figures.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from statsmodels.stats.multitest import multipletests

from portal.domain.accounts import Role
from portal.domain.scoring import Trend, WaveChange
from portal.services import readiness
from portal.services.readiness import WaveResults
from portal.services.surveys import close_wave
from portal.storage.port import Store
from tests.web.test_api import api, token_for
from tests.web.test_results import QUESTIONNAIRE, SLUG, STANDARD, make_organisation

MakeAccount = Callable[..., object]


@pytest.fixture
def two_waves(store: Store) -> None:
    make_organisation(store, STANDARD, wave_id="baseline", bias=-1)
    close_wave(store, SLUG, "baseline", today=date.today())
    make_organisation(store, STANDARD, wave_id="follow-up", create=False, seed=2, bias=1)


def shown_changes(report: WaveResults) -> list[WaveChange]:
    return [
        change
        for row in report.rows
        if row.result is not None and row.result.changes is not None
        for change in row.result.changes.values()
    ]


def assert_controlled(report: WaveResults) -> None:
    """Every tested change's q is BH over the report's tests; the words follow from q."""
    tested = [c for c in shown_changes(report) if c.comparison is not None]
    assert len(tested) >= len(QUESTIONNAIRE.levers)
    expected = multipletests([c.comparison.p for c in tested], method="fdr_bh")[1]  # type: ignore[union-attr]
    assert [c.q for c in tested] == pytest.approx(list(expected), rel=1e-12)
    for change in tested:
        assert change.q is not None and change.comparison is not None
        called = change.outcome in (Trend.IMPROVED, Trend.DECLINED)
        assert called == (change.q <= 0.05)


@pytest.mark.usefixtures("two_waves")
def test_q_values_are_controlled_over_the_readers_report(
    store: Store, make_account: MakeAccount
) -> None:
    everything = readiness.wave_results(store, SLUG, "follow-up")
    assert_controlled(everything)
    sales_only = readiness.wave_results(store, SLUG, "follow-up", allowed=lambda c: c == "SALES")
    assert_controlled(sales_only)
    # the same change, judged in a smaller family, has its own q (never another reader's)
    whole = everything.department("SALES")
    mine = sales_only.department("SALES")
    assert whole and whole.result and whole.result.changes
    assert mine and mine.result and mine.result.changes
    p_values = [c.comparison.p for c in mine.result.changes.values() if c.comparison]
    lever = QUESTIONNAIRE.levers[0].id
    assert mine.result.changes[lever].q == pytest.approx(
        multipletests(p_values, method="fdr_bh")[1][0], rel=1e-12
    )


@pytest.mark.usefixtures("two_waves")
def test_the_department_page_csv_and_api_print_each_changes_figures(
    app: Flask, admin: FlaskClient, store: Store, make_account: MakeAccount
) -> None:
    report = readiness.wave_results(store, SLUG, "follow-up")
    row = report.department("SALES")
    assert row and row.result and row.result.changes
    changes = row.result.changes
    page = admin.get(f"/admin/surveys/{SLUG}/waves/follow-up/results/departments/SALES")
    text = page.get_data(as_text=True)
    table = re.search(r'<table class="results-levers">.*?</table>', text, re.S)
    assert table
    cells = [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", table.group(0), re.S)
    ]
    # index, n, interval, change, its interval, g, q, trend, favourable
    per_lever = [cells[i : i + 9] for i in range(0, len(cells), 9)]
    for lever, line in zip(QUESTIONNAIRE.levers, per_lever, strict=True):
        c = changes[lever.id]
        assert c.comparison is not None and c.effect is not None and c.q is not None
        assert line[3] == f"{c.change:+.1f}"
        assert line[4] == f"{c.comparison.ci_low:+.1f} to {c.comparison.ci_high:+.1f}"
        assert line[5] == f"{c.effect.g:+.2f}"
        assert line[6] == f"{c.q:.3f}" and line[7].startswith(c.outcome.value)
    assert "false-discovery rate" in text
    for lever in QUESTIONNAIRE.levers:
        assert changes[lever.id].outcome.value in text

    csv_text = admin.get(f"/admin/surveys/{SLUG}/waves/follow-up/results.csv").get_data(
        as_text=True
    )
    header, *lines = list(csv.reader(io.StringIO(csv_text)))
    sales = next(line for line in lines if line[2] == "SALES")
    for lever in QUESTIONNAIRE.levers:
        c = changes[lever.id]
        assert c.comparison is not None and c.effect is not None
        value = dict(zip(header, sales, strict=True))
        assert value[f"{lever.id}_change"] == f"{c.change:.1f}"  # a fall reads "-3.1", no quote
        assert value[f"{lever.id}_change_low"] == f"{c.comparison.ci_low:.1f}"
        assert value[f"{lever.id}_change_high"] == f"{c.comparison.ci_high:.1f}"
        assert value[f"{lever.id}_change_hedges_g"] == f"{c.effect.g:.2f}"
        assert value[f"{lever.id}_change_q"] == f"{c.q:.4f}"
        assert value[f"{lever.id}_trend"] == c.outcome.value

    secret = token_for(app, make_account, "reader@example.com", Role.VIEWER)
    path = f"/api/v1/surveys/{SLUG}/waves/follow-up/results/departments/SALES"
    body = api(app, path, secret).get_json()
    for item in body["rows"][0]["result"]["change"]["levers"]:
        c = changes[item["id"]]
        assert c.comparison is not None and c.effect is not None and c.q is not None
        assert item["interval_95"] == [
            round(c.comparison.ci_low, 1),
            round(c.comparison.ci_high, 1),
        ]
        assert item["hedges_g"] == round(c.effect.g, 2)
        assert item["q"] == round(c.q, 4) and item["p"] == round(c.comparison.p, 4)
        assert item["detectable"] == round(c.comparison.detectable, 1)
        assert item["outcome"] == c.outcome.value


def test_a_first_wave_leaves_the_change_columns_empty(admin: FlaskClient, store: Store) -> None:
    make_organisation(store, STANDARD, wave_id="baseline")
    csv_text = admin.get(f"/admin/surveys/{SLUG}/waves/baseline/results.csv").get_data(as_text=True)
    header, *lines = list(csv.reader(io.StringIO(csv_text)))
    columns = [i for i, name in enumerate(header) if name.endswith(("_trend", "_change_q"))]
    assert len(columns) == 2 * len(QUESTIONNAIRE.levers)
    assert all(line[i] == "" for line in lines for i in columns)
