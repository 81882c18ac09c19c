"""Every page that says how fresh its figures are names the day only, never the time."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

BASE = "/admin/surveys/crm-rollout/waves/baseline"
AS_OF = re.compile(r'class="muted as-of">([^<]*)<')


@pytest.mark.parametrize("page", ["results", "results/quality", "participation"])
def test_figures_are_dated_by_the_day_only(admin: FlaskClient, standard: object, page: str) -> None:
    html = admin.get(f"{BASE}/{page}").get_data(as_text=True)
    [said] = AS_OF.findall(html)
    assert datetime.now(UTC).date().isoformat() in said
    assert not re.search(r"\d{1,2}:\d{2}", said), f"{page} says the time: {said}"
