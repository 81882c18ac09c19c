"""Sign-in attempts are taken atomically: parallel requests cannot all get past a limit."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from portal.storage.dynamodb import TTL_ATTRIBUTE, DynamoStore
from portal.storage.port import Store

NOW = 1_800_000_000
WINDOW = 900


def take_at_once(store: Store, key: str, *, requests: int, limit: int) -> list[bool]:
    """Send ``requests`` attempts for ``key`` from as many threads released together."""
    start = threading.Barrier(requests)

    def take(_: int) -> bool:
        start.wait()
        return store.take_attempt(key, limit=limit, window=WINDOW, now=NOW)

    with ThreadPoolExecutor(max_workers=requests) as pool:
        return list(pool.map(take, range(requests)))


def test_thirty_attempts_at_once_let_exactly_five_through(store: Store) -> None:
    results = take_at_once(store, "account:x", requests=30, limit=5)
    assert results.count(True) == 5
    assert store.count_attempts("account:x", window=WINDOW, now=NOW) == 5


def test_an_attempt_past_the_limit_is_refused_and_not_counted(store: Store) -> None:
    for _ in range(3):
        assert store.take_attempt("k", limit=3, window=WINDOW, now=NOW)
    assert not store.take_attempt("k", limit=3, window=WINDOW, now=NOW + 1)
    assert store.count_attempts("k", window=WINDOW, now=NOW) == 3
    assert store.take_attempt("other", limit=3, window=WINDOW, now=NOW)


def test_a_new_window_starts_from_zero(store: Store) -> None:
    for _ in range(2):
        store.take_attempt("k", limit=2, window=WINDOW, now=NOW)
    assert not store.take_attempt("k", limit=2, window=WINDOW, now=NOW)
    later = (NOW // WINDOW + 1) * WINDOW
    assert store.take_attempt("k", limit=2, window=WINDOW, now=later)


def test_a_given_back_attempt_frees_its_slot_but_never_goes_below_zero(store: Store) -> None:
    assert store.take_attempt("k", limit=1, window=WINDOW, now=NOW)
    assert not store.take_attempt("k", limit=1, window=WINDOW, now=NOW)
    store.give_back_attempt("k", window=WINDOW, now=NOW)
    assert store.count_attempts("k", window=WINDOW, now=NOW) == 0
    store.give_back_attempt("k", window=WINDOW, now=NOW)
    store.give_back_attempt("never-taken", window=WINDOW, now=NOW)
    assert store.count_attempts("k", window=WINDOW, now=NOW) == 0
    assert store.count_attempts("never-taken", window=WINDOW, now=NOW) == 0
    assert store.take_attempt("k", limit=1, window=WINDOW, now=NOW)


def test_given_back_attempts_at_once_free_exactly_their_slots(store: Store) -> None:
    assert take_at_once(store, "k", requests=10, limit=10).count(True) == 10
    start = threading.Barrier(6)

    def give(_: int) -> None:
        start.wait()
        store.give_back_attempt("k", window=WINDOW, now=NOW)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(give, range(6)))
    assert store.count_attempts("k", window=WINDOW, now=NOW) == 4


def test_a_table_created_by_the_portal_deletes_attempt_counters_by_ttl(
    dynamo_moto_store: DynamoStore,
) -> None:
    client = dynamo_moto_store.table.meta.client
    ttl = client.describe_time_to_live(TableName=dynamo_moto_store.table.name)
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
    assert ttl["TimeToLiveDescription"]["AttributeName"] == TTL_ATTRIBUTE
    dynamo_moto_store.take_attempt("k", limit=5, window=WINDOW, now=NOW)
    [item] = dynamo_moto_store.table.scan()["Items"]
    assert int(item[TTL_ATTRIBUTE]) == (NOW // WINDOW + 1) * WINDOW + 60


def test_the_production_template_enables_ttl_on_the_same_attribute() -> None:
    template = (Path(__file__).resolve().parents[2] / "infra" / "portal.yaml").read_text()
    ttl = re.search(r"TimeToLiveSpecification:\s+AttributeName: (\w+)\s+Enabled: true", template)
    assert ttl is not None and ttl.group(1) == TTL_ATTRIBUTE
