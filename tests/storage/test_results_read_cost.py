"""A dashboard view reads the same DynamoDB items however much people wrote.

Every dashboard view reads every snapshot cell, so comment texts must not be in
them: DynamoDB bills a read by the size of the items it returns. These tests
count what each read returns through a real botocore hook (moto does not meter
reads), on both DynamoDB targets, for a closed wave without comments and the
same wave with 500 long comments.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from portal.domain.entities import Audience
from portal.instruments import get_questionnaire
from portal.services import readiness, results
from portal.services.surveys import add_wave, close_wave, create_survey, open_wave
from portal.storage import codec
from portal.storage.dynamodb import DynamoStore
from tests.builders import make_response

WAVE = "baseline"
CSV = "code,name,site,headcount\nA,Alpha,Aarhus,400\nB,Beta,Aarhus,400\nC,Gamma,Oslo,400\n"
#: 500 responses per wave, spread over three departments.
PER_DEPARTMENT = {"A": 167, "B": 167, "C": 166}
#: Each comment is 800 characters, so a department writes about 133 KB: all are kept.
COMMENT_LENGTH = 800


@pytest.fixture(params=["dynamodb-moto", "dynamodb-server"])
def dynamo(request: pytest.FixtureRequest) -> DynamoStore:
    """Return each DynamoDB target in turn."""
    name = {"dynamodb-moto": "dynamo_moto_store", "dynamodb-server": "dynamo_server_store"}
    store: DynamoStore = request.getfixturevalue(name[request.param])
    return store


def closed_wave(
    store: DynamoStore,
    slug: str,
    *,
    comments: bool,
    per_department: Mapping[str, int] = PER_DEPARTMENT,
) -> None:
    """Create a survey whose closed baseline has 500 responses, with long comments or none."""
    today = date(2026, 11, 1)
    create_survey(store, slug=slug, title="CRM", system_name={"en": "the CRM"},
                  today=today, departments_csv=CSV)  # fmt: skip
    add_wave(store, slug, wave_id=WAVE, name="Baseline", today=today)
    open_wave(store, slug, WAVE, today=today)
    items = get_questionnaire("change-readiness").items_for(Audience.EMPLOYEE)
    for code, count in per_department.items():
        for n in range(count):
            text = f"{code}{n:03d} " + "why " * COMMENT_LENGTH
            store.add_response(
                make_response(
                    survey_slug=slug,
                    wave_id=WAVE,
                    department_code=code,
                    answers={i.id: 1 + (n + len(i.id)) % 5 for i in items},
                    comment=text[:COMMENT_LENGTH] if comments else None,
                )
            )
    close_wave(store, slug, WAVE, today=date(2026, 11, 2))
    results.refresh_snapshot(store, slug, WAVE, now=datetime.now(UTC))


def _value_size(value: Any) -> int:
    """Return an attribute value's size as DynamoDB counts it (UTF-8 bytes of the data).

    The hook sees values already turned into Python by boto3's resource layer.
    """
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, Mapping):
        return 3 + _item_size(value)
    if isinstance(value, list | set):
        return 3 + sum(1 + _value_size(v) for v in value)
    if isinstance(value, bool) or value is None:
        return 1
    return len(str(value))


def _item_size(item: Mapping[str, Any]) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


class ReadMeter:
    """What each DynamoDB read returns: its operation and item bytes, via a botocore hook."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, int]] = []

    def count(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        """Record a read's returned item bytes (called after each DynamoDB call)."""
        if model.name == "GetItem":
            self.reads.append(("GetItem", _item_size(parsed.get("Item", {}))))
        elif model.name in {"Query", "Scan", "BatchGetItem"}:
            self.reads.append((model.name, sum(_item_size(i) for i in parsed.get("Items", []))))

    @property
    def bytes(self) -> int:
        """Return the item bytes read."""
        return sum(size for _, size in self.reads)

    @property
    def units(self) -> float:
        """Return the read units, eventually consistent: ½ per started 4 KB of each request."""
        return sum(max(1, math.ceil(size / 4096)) / 2 for _, size in self.reads)


@contextmanager
def metered(store: DynamoStore) -> Iterator[ReadMeter]:
    """Count the reads made through ``store`` inside the block."""
    meter = ReadMeter()
    events = store.table.meta.client.meta.events
    events.register("after-call.dynamodb", meter.count)
    try:
        yield meter
    finally:
        events.unregister("after-call.dynamodb", meter.count)


def test_a_dashboard_view_reads_the_same_however_many_long_comments_were_written(
    dynamo: DynamoStore,
) -> None:
    closed_wave(dynamo, "quiet", comments=False)
    closed_wave(dynamo, "noisy", comments=True)  # same length of slug: same key sizes

    with metered(dynamo) as quiet_cells:
        dynamo.get_snapshot("quiet", WAVE)
    with metered(dynamo) as noisy_cells:
        dynamo.get_snapshot("noisy", WAVE)
    assert [op for op, _ in noisy_cells.reads] == ["GetItem", "Query"]
    assert noisy_cells.units == quiet_cells.units
    # only the digits of each part's comment_count differ (0 against 166 or 167)
    assert 0 <= noisy_cells.bytes - quiet_cells.bytes <= 2 * len(PER_DEPARTMENT)

    codec.forget_decoded_snapshots()  # as in a fresh process: each view reads its cells
    with metered(dynamo) as quiet_view:
        readiness.wave_results(dynamo, "quiet", WAVE)
    with metered(dynamo) as noisy_view:
        readiness.wave_results(dynamo, "noisy", WAVE)
    assert noisy_view.units == quiet_view.units
    assert noisy_view.bytes - quiet_view.bytes == noisy_cells.bytes - quiet_cells.bytes


def test_a_later_view_reads_the_snapshot_pointer_and_none_of_its_cells(
    dynamo: DynamoStore,
) -> None:
    closed_wave(dynamo, "noisy", comments=True)
    codec.forget_decoded_snapshots()
    with metered(dynamo) as first:
        dynamo.get_snapshot("noisy", WAVE)
    with metered(dynamo) as later:
        snapshot = dynamo.get_snapshot("noisy", WAVE)
    assert [op for op, _ in first.reads] == ["GetItem", "Query"]
    assert [op for op, _ in later.reads] == ["GetItem"]
    assert snapshot is not None and snapshot.responses == sum(PER_DEPARTMENT.values())


def test_the_department_page_reads_its_own_comments_only(dynamo: DynamoStore) -> None:
    closed_wave(dynamo, "noisy", comments=True)
    report, row = readiness.department_results(dynamo, "noisy", WAVE, "A")
    with metered(dynamo) as meter:
        comments = readiness.department_comments(report, row)
    assert comments.shown and len(comments.texts) == PER_DEPARTMENT["A"]
    assert comments.not_kept == 0
    assert all(text.startswith("A") for text in comments.texts)
    # the pointer, then this department's texts item: about 133 KB, not the wave's 400 KB
    assert [op for op, _ in meter.reads] == ["GetItem", "GetItem"]
    assert PER_DEPARTMENT["A"] * COMMENT_LENGTH < meter.bytes < 1.1 * 167 * COMMENT_LENGTH


def test_the_participation_page_reads_as_much_for_500_responses_as_for_15(
    dynamo: DynamoStore,
) -> None:
    from portal.services.participation import read_participation

    closed_wave(dynamo, "large", comments=False)
    closed_wave(dynamo, "small", comments=False, per_department={"A": 5, "B": 5, "C": 5})
    with metered(dynamo) as large:
        report = read_participation(dynamo, "large", WAVE)
    with metered(dynamo) as small:
        read_participation(dynamo, "small", WAVE)
    assert large.units == small.units
    assert [row.figures.responses for row in report.table.rows] == list(PER_DEPARTMENT.values())


def test_other_sums_stored_under_the_same_snapshot_id_are_read_again(dynamo: DynamoStore) -> None:
    closed_wave(dynamo, "noisy", comments=False)
    before = dynamo.get_snapshot("noisy", WAVE)
    assert before is not None and dynamo.get_snapshot("noisy", WAVE) is before
    cells = dict(before.cells)
    cells["C"] = cells["A"]
    dynamo.put_snapshot(replace(before, cells=cells, comments={}))
    with metered(dynamo) as meter:
        after = dynamo.get_snapshot("noisy", WAVE)
    assert [op for op, _ in meter.reads] == ["GetItem", "Query"]
    assert after is not None and after.snapshot_id == before.snapshot_id
    assert after.cells["C"] == before.cells["A"] != before.cells["C"]
