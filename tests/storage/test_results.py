"""Result aggregates stay exact: computed from raw responses, retried safely, verified."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from portal.domain import aggregates
from portal.domain.entities import Audience
from portal.domain.errors import StorageError
from portal.instruments import get_questionnaire
from portal.services import results
from portal.services.surveys import add_wave, close_wave, create_survey, open_wave
from portal.storage.dynamodb import DynamoStore
from portal.storage.port import Store
from portal.storage.sqlite import SqliteStore
from tests.builders import make_response

CSV = "code,name,site,headcount\nA,Alpha,Aarhus,40\nB,Beta,Aarhus,30\nC,Gamma,Oslo,20\n"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def open_survey(store: Store) -> None:
    """Create a survey with an open baseline."""
    create_survey(store, slug="crm-rollout", title="CRM", system_name={"en": "the CRM"},
                  today=date(2026, 11, 1), departments_csv=CSV)  # fmt: skip
    add_wave(store, "crm-rollout", wave_id="baseline", name="Baseline", today=date(2026, 11, 1))
    open_wave(store, "crm-rollout", "baseline", today=date(2026, 11, 1))


def answer(store: Store, count: int, department: str = "A", comment: str | None = None) -> None:
    """Store ``count`` responses for a department, each with ``comment``."""
    items = get_questionnaire("change-readiness").items_for(Audience.EMPLOYEE)
    for n in range(count):
        store.add_response(
            make_response(department_code=department, comment=comment,
                          answers={i.id: 1 + (n + len(i.id)) % 5 for i in items})
        )  # fmt: skip


def test_a_snapshot_counts_every_response_once_per_department(store: Store) -> None:
    open_survey(store)
    answer(store, 7, "A")
    answer(store, 3, "C")
    snapshot = results.refresh_snapshot(store, "crm-rollout", "baseline", now=NOW)
    assert {code: cell.responses for code, cell in snapshot.cells.items()} == {"A": 7, "C": 3}
    assert results.verify(store, "crm-rollout", "baseline").problems == []


def test_verify_counts_responses_the_published_state_holds_back_without_calling_them_wrong(
    store: Store,
) -> None:
    open_survey(store)
    answer(store, 4)
    results.refresh_snapshot(store, "crm-rollout", "baseline", now=NOW)
    answer(store, 1, "B")
    answer(store, 1, "A")
    found = results.verify(store, "crm-rollout", "baseline")
    assert found.problems == [] and found.held_back == 2


def test_verify_reports_stored_sums_no_release_step_explains(store: Store) -> None:
    open_survey(store)
    answer(store, 4)
    answer(store, 2, "B")
    snapshot = results.compute_snapshot(store, "crm-rollout", "baseline", now=NOW)
    a = snapshot.cells["A"]
    part = a.parts[0]
    lever = part.levers[0]
    damaged = replace(part, levers=(replace(lever, sum_v=lever.sum_v - 1), *part.levers[1:]))
    # A's sums stored under B too (more responses than B has), and one lever of A off by one
    # with as many respondents as the raw data (no release step makes that).
    cells = {"A": replace(a, parts=(damaged, *a.parts[1:])), "B": a}
    store.put_snapshot(replace(snapshot, cells=cells))
    assert results.verify(store, "crm-rollout", "baseline").problems == [
        f"Department A, employees: the stored sums of lever {lever.lever_id} do not come "
        "from the raw responses.",
        "Department B, employees: stored aggregates cover 4 responses; the raw responses give 2.",
    ]


def test_an_open_waves_snapshot_is_recomputed_only_when_due(store: Store) -> None:
    open_survey(store)
    answer(store, 2)
    first = results.current_snapshot(store, "crm-rollout", "baseline", now=NOW)
    answer(store, 3)
    soon = results.current_snapshot(
        store, "crm-rollout", "baseline", now=NOW + timedelta(seconds=60)
    )
    assert soon.snapshot_id == first.snapshot_id and soon.responses == 2
    later = results.current_snapshot(
        store, "crm-rollout", "baseline", now=NOW + timedelta(minutes=6)
    )
    assert later.responses == 5


def test_a_closed_waves_snapshot_is_final_once_computed_after_closing(store: Store) -> None:
    open_survey(store)
    answer(store, 2)
    close_wave(store, "crm-rollout", "baseline", today=date(2026, 11, 20))
    final = results.current_snapshot(store, "crm-rollout", "baseline", now=NOW)
    much_later = results.current_snapshot(
        store, "crm-rollout", "baseline", now=NOW + timedelta(days=90)
    )
    assert much_later.snapshot_id == final.snapshot_id


def interrupt_pointer_switch(store: Store) -> Callable[[], None]:
    """Make the store fail when it switches a wave to a new snapshot; return the undo."""
    if isinstance(store, SqliteStore):
        conn = store._connect()  # a real SQLite trigger on the store's own connection
        conn.execute(
            "CREATE TEMP TRIGGER interrupt BEFORE UPDATE ON aggregate_heads "
            "BEGIN SELECT RAISE(ABORT, 'interrupted'); END"
        )
        return lambda: conn.execute("DROP TRIGGER interrupt")
    assert isinstance(store, DynamoStore)
    events = store.table.meta.client.meta.events

    def fail(params: dict, **_: object) -> None:  # a real botocore hook, before the request
        if str(params.get("Item", {}).get("sk", "")).startswith("AGGHEAD#"):
            raise ConnectionError("interrupted")

    events.register("before-parameter-build.dynamodb.PutItem", fail)
    return lambda: events.unregister("before-parameter-build.dynamodb.PutItem", fail)


def test_an_interrupted_computation_changes_nothing_and_a_retry_counts_exactly(
    store: Store,
) -> None:
    open_survey(store)
    answer(store, 6, comment="written before")
    before = results.refresh_snapshot(store, "crm-rollout", "baseline", now=NOW)
    answer(store, 4, "B", comment="written after")
    answer(store, 1, "A", comment="also after")
    undo = interrupt_pointer_switch(store)
    with pytest.raises((StorageError, ConnectionError)):
        results.refresh_snapshot(store, "crm-rollout", "baseline", now=NOW + timedelta(hours=1))
    undo()
    # the old one is in force, cells and comment texts alike
    assert store.get_snapshot("crm-rollout", "baseline") == replace(before, comments=None)
    assert before.comments_of("A").count == 6
    for code in ("A", "B"):
        stored = store.get_snapshot_comments("crm-rollout", "baseline", code)
        assert stored == before.comments_of(code)
    after = results.refresh_snapshot(store, "crm-rollout", "baseline", now=NOW + timedelta(hours=2))
    assert {code: c.responses for code, c in after.cells.items()} == {"A": 7, "B": 4}
    texts = store.get_snapshot_comments("crm-rollout", "baseline", "B")
    assert texts.snapshot_id == after.snapshot_id and texts.all_texts() == ("written after",) * 4
    assert store.get_snapshot_comments("crm-rollout", "baseline", "A").count == 7
    again = results.refresh_snapshot(store, "crm-rollout", "baseline", now=NOW + timedelta(hours=3))
    assert aggregates.to_dict(again.cells["A"]) == aggregates.to_dict(after.cells["A"])
    assert results.verify(store, "crm-rollout", "baseline").problems == []
