"""The DynamoDB store the app opens builds its boto3 resource on first use, once."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest
from moto import mock_aws

from portal.config import Settings
from portal.storage import open_store
from portal.storage.dynamodb import DynamoStore


def test_opening_the_dynamodb_store_makes_no_boto3_resource_until_it_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[str] = []
    real_resource = boto3.resource

    def counting_resource(service: str, **kwargs: Any) -> Any:
        made.append(service)
        return real_resource(service, **kwargs)

    monkeypatch.setattr(boto3, "resource", counting_resource)
    with mock_aws():
        settings = Settings(
            storage="dynamodb", dynamodb_table="portal-deferred", dynamodb_create_table=True
        )
        store = open_store(settings)
        assert made == []
        store.create_schema()
        assert store.list_surveys() == []
        assert made == ["dynamodb"]
        assert isinstance(store, DynamoStore) and store.table.name == "portal-deferred"
        assert made == ["dynamodb"]


def test_threads_first_using_a_deferred_store_together_make_one_table() -> None:
    with mock_aws():
        calls: list[int] = []

        def slow_table() -> Any:
            calls.append(1)
            time.sleep(0.05)  # wide enough for every thread to find no table yet
            return boto3.resource("dynamodb", region_name="eu-west-1").Table("portal-threads")

        store = DynamoStore(slow_table)
        tables: list[Any] = []
        threads = [threading.Thread(target=lambda: tables.append(store.table)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(calls) == 1
    assert len(tables) == 8 and all(table is tables[0] for table in tables)
