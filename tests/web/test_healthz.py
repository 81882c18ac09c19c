"""/healthz says whether the store can write, cheaply, and keeps the reason in the log."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from portal.app import create_app
from portal.domain.errors import StorageError
from portal.storage.dynamodb import HEALTH_KEY, DynamoStore
from portal.storage.sqlite import SqliteStore
from tests.faults import empty_wal, full_disk

SECRET = {"env": "testing", "secret_key": "h" * 40}


def test_health_is_ok_when_the_store_can_write(sqlite_store: SqliteStore) -> None:
    response = create_app(SECRET, store=sqlite_store).test_client().get("/healthz")
    assert (response.status_code, response.json) == (200, {"status": "ok"})
    assert response.headers["Cache-Control"] == "no-store"


def test_health_fails_on_a_full_disk_and_the_log_says_why(
    sqlite_store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    client = create_app(SECRET, store=sqlite_store).test_client()
    assert client.get("/healthz").status_code == 200  # reads work, and so does a write now
    empty_wal(sqlite_store.path)
    with full_disk():
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert response.json["status"] == "unavailable"
    assert sqlite_store.path not in body and "sqlite" not in body.lower()
    storage = [r for r in caplog.records if r.name == "portal.storage"]
    assert storage and all(r.levelno == logging.ERROR for r in storage)
    assert "OperationalError" in storage[0].getMessage()
    assert client.get("/healthz").status_code == 200  # space is back: healthy again


def test_health_fails_on_a_read_only_database(tmp_path: Path) -> None:
    path = tmp_path / "portal.sqlite3"
    SqliteStore(path).create_schema()
    read_only = SqliteStore(f"file:{path}?mode=ro")
    read_only.check()  # it reads fine...
    with pytest.raises(StorageError, match="readonly"):
        read_only.check_write()  # ...but cannot write
    response = create_app(SECRET, store=read_only).test_client().get("/healthz")
    assert response.status_code == 503
    assert str(tmp_path) not in response.get_data(as_text=True)


def test_the_write_check_changes_nothing_a_reader_sees(sqlite_store: SqliteStore) -> None:
    def dump() -> list[str]:
        conn = sqlite3.connect(sqlite_store.path)
        try:
            return list(conn.iterdump())
        finally:
            conn.close()

    before = dump()
    sqlite_store.check_write()
    assert dump() == before


@pytest.fixture
def dynamo() -> Iterator[DynamoStore]:
    """Return a DynamoDB store on moto with its table created."""
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="eu-west-1").Table("portal-health")
        store = DynamoStore(table, allow_create=True)
        store.create_schema()
        yield store


def test_dynamodb_write_check_stores_nothing(dynamo: DynamoStore) -> None:
    dynamo.check_write()
    dynamo.check_write()
    assert "Item" not in dynamo.table.get_item(Key=HEALTH_KEY)
    assert dynamo.table.scan()["Count"] == 0


def test_dynamodb_health_fails_when_writes_are_refused(
    dynamo: DynamoStore, caplog: pytest.LogCaptureFixture
) -> None:
    client = create_app(SECRET, store=dynamo).test_client()
    assert client.get("/healthz").status_code == 200
    with Stubber(dynamo.table.meta.client) as stub:
        stub.add_client_error("put_item", "AccessDeniedException", http_status_code=400)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert "portal-health" not in response.get_data(as_text=True)
    assert "AccessDeniedException" in caplog.text
