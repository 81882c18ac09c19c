"""Backend failures become ``StorageError``s that say whether a retry may help and what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws

from portal.config import Settings
from portal.domain.errors import StorageError
from portal.storage import open_store
from portal.storage.dynamodb import DynamoStore
from portal.storage.sqlite import SqliteStore
from tests.builders import make_response
from tests.moto_server import free_port


def test_an_uninitialised_sqlite_database_says_to_run_init_db(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="Run `portal init-db`"):
        SqliteStore(tmp_path / "new.db").list_surveys()


def test_a_database_from_a_newer_portal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    sqlite3.connect(path).execute("PRAGMA user_version = 99").connection.close()
    with pytest.raises(StorageError, match="newer than this portal"):
        SqliteStore(path).create_schema()


def test_a_locked_sqlite_database_is_a_transient_failure(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    SqliteStore(path).create_schema()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError) as caught:
            SqliteStore(path, timeout=0.05).add_response(make_response())
        assert caught.value.transient
    finally:
        blocker.execute("ROLLBACK")


def test_dynamodb_throttling_is_a_transient_failure() -> None:
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="eu-west-1").Table("throttled")
        store = DynamoStore(table, allow_create=True)
        store.create_schema()
        with Stubber(table.meta.client) as stub:
            stub.add_client_error("put_item", "ProvisionedThroughputExceededException")
            with pytest.raises(StorageError) as caught:
                store.add_response(make_response())
    assert caught.value.transient


def test_a_missing_dynamodb_table_says_how_to_create_it() -> None:
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="eu-west-1").Table("absent")
        with pytest.raises(StorageError, match="infra/") as caught:
            DynamoStore(table).list_surveys()
        assert not caught.value.transient
        with pytest.raises(StorageError, match="not allowed here"):
            DynamoStore(table, allow_create=False).create_schema()


def test_an_unreachable_dynamodb_endpoint_is_a_transient_failure() -> None:
    resource = boto3.resource(
        "dynamodb",
        region_name="eu-west-1",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(connect_timeout=0.5, retries={"max_attempts": 1}),
    )
    with pytest.raises(StorageError) as caught:
        DynamoStore(resource.Table("t")).add_response(make_response())
    assert caught.value.transient


def test_open_store_picks_the_configured_backend(tmp_path: Path) -> None:
    assert isinstance(open_store(Settings(database_path=str(tmp_path / "x.db"))), SqliteStore)
    dynamo = open_store(Settings(storage="dynamodb", dynamodb_table="portal-prod"))
    assert isinstance(dynamo, DynamoStore) and dynamo.table.name == "portal-prod"
