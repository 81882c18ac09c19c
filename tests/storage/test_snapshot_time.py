"""A snapshot records its day only, under a random id: no stored time singles out later answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from portal.services import results
from portal.storage.dynamodb import DynamoStore
from portal.storage.port import Store
from portal.storage.sqlite import SqliteStore
from tests.storage.test_results import answer, open_survey

AT = datetime(2026, 11, 23, 14, 37, 12, tzinfo=UTC)


def stored_text(store: Store) -> str:
    """Return everything the backend holds, as someone reading the disk or the table would."""
    if isinstance(store, SqliteStore):
        parts = [Path(store.path + suffix) for suffix in ("", "-wal", "-journal")]
        return b"".join(p.read_bytes() for p in parts if p.exists()).decode("latin-1")
    assert isinstance(store, DynamoStore)
    return repr(store.table.scan()["Items"])


def test_a_stored_snapshot_keeps_its_day_only_and_a_random_id(store: Store) -> None:
    open_survey(store)
    answer(store, 6)
    computed = results.refresh_snapshot(store, "crm-rollout", "baseline", now=AT)
    stored = store.get_snapshot("crm-rollout", "baseline")
    assert stored is not None and stored.snapshot_id == computed.snapshot_id
    assert stored.computed_at == datetime(2026, 11, 23, tzinfo=UTC)
    assert re.fullmatch(r"[0-9a-f]{16}", stored.snapshot_id)  # no time in the id either
    text = stored_text(store)
    for trace in ("14:37", "1437", "T14", "2026-11-23T14", "20261123"):
        assert trace not in text


def test_an_open_waves_snapshot_is_refreshed_when_due_though_only_its_day_is_stored(
    store: Store,
) -> None:
    open_survey(store)
    answer(store, 2)
    first = results.current_snapshot(store, "crm-rollout", "baseline", now=AT)
    answer(store, 3)
    soon = results.current_snapshot(store, "crm-rollout", "baseline", now=AT + timedelta(minutes=4))
    assert soon.snapshot_id == first.snapshot_id
    later = results.current_snapshot(
        store, "crm-rollout", "baseline", now=AT + timedelta(minutes=6)
    )
    assert later.responses == 5


def test_a_snapshot_from_another_process_counts_from_its_first_read_or_from_its_day(
    store: Store,
) -> None:
    open_survey(store)
    answer(store, 2)
    made_elsewhere = results.refresh_snapshot(store, "crm-rollout", "baseline", now=AT)
    results._first_seen.clear()  # this process never saw it computed (a restart, a container)
    answer(store, 3)
    read = results.current_snapshot(store, "crm-rollout", "baseline", now=AT + timedelta(hours=2))
    assert read.snapshot_id == made_elsewhere.snapshot_id  # from today: fresh for now
    due = results.current_snapshot(
        store, "crm-rollout", "baseline", now=AT + timedelta(hours=2, minutes=6)
    )
    assert due.responses == 5
    results._first_seen.clear()
    answer(store, 5)
    next_day = results.current_snapshot(
        store, "crm-rollout", "baseline", now=AT + timedelta(days=1)
    )
    assert next_day.responses == 10  # yesterday's snapshot is due at once
