"""SQLite keeps its WAL short: a burst of submissions leaves no megabytes (and no order) behind."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, date, datetime

from portal.domain.entities import Audience
from portal.instruments import get_questionnaire
from portal.services import respond
from portal.services.results import compute_snapshot, refresh_snapshot, verify
from portal.services.surveys import add_wave, create_survey, open_wave
from portal.storage.sqlite import JOURNAL_SIZE_LIMIT, SqliteStore

CSV = "code,name,site,headcount\nSALES,Sales,Aarhus,600\n"
SUBMISSIONS = 500


def test_a_burst_of_500_submissions_leaves_a_short_wal_and_every_row(
    sqlite_store: SqliteStore,
) -> None:
    store = sqlite_store
    today = date.today()
    create_survey(
        store, slug="crm-rollout", title="CRM", system_name={"en": "the new CRM"},
        today=today, departments_csv=CSV,
    )  # fmt: skip
    add_wave(store, "crm-rollout", wave_id="baseline", name="Baseline", today=today)
    open_wave(store, "crm-rollout", "baseline", today=today)
    token = respond.make_links(store, "crm-rollout", "baseline")[0].token
    ballot = respond.open_link(store, token)
    items = get_questionnaire("change-readiness").items_for(Audience.EMPLOYEE)
    wal = f"{store.path}-wal"
    longest = 0
    for n in range(SUBMISSIONS):
        respond.submit(
            store, ballot, audience=Audience.EMPLOYEE, language="en",
            answers={i.id: 1 + (n + k) % 5 for k, i in enumerate(items)},
            comment=f"comment {n}" if n % 3 == 0 else None,
            key=secrets.token_urlsafe(16), today=today,
        )  # fmt: skip
        longest = max(longest, os.path.getsize(wal))
    assert longest < JOURNAL_SIZE_LIMIT, "the WAL grew past its limit during the burst"
    assert os.path.getsize(wal) == 0, "the WAL was not emptied after the last submission"
    assert compute_snapshot(store, "crm-rollout", "baseline", now=datetime.now(UTC)).responses == (
        SUBMISSIONS
    )
    refresh_snapshot(store, "crm-rollout", "baseline", now=datetime.now(UTC))
    assert verify(store, "crm-rollout", "baseline").problems == []


def test_the_wal_is_emptied_after_every_write(sqlite_store: SqliteStore) -> None:
    from tests.builders import make_response

    wal = f"{sqlite_store.path}-wal"
    sizes = []
    for _ in range(20):
        sqlite_store.add_response(make_response(comment="x" * 2000))
        sizes.append(os.path.getsize(wal))
    assert sizes == [0] * 20  # truncated to nothing each time, not merely reused
