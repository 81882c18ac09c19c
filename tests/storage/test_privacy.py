"""What lands on disk for a response is exactly the documented fields: nothing that identifies."""

from __future__ import annotations

import re
import sqlite3

import boto3
from moto import mock_aws

from portal.storage.dynamodb import RESPONSE_FIELDS, DynamoStore
from portal.storage.sqlite import SqliteStore
from tests.builders import make_response

DAY_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def test_sqlite_keeps_only_the_documented_response_columns(sqlite_store: SqliteStore) -> None:
    sqlite_store.add_response(make_response(comment="fine"))
    conn = sqlite3.connect(sqlite_store.path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(responses)")]
    assert columns == [
        "survey_slug",
        "wave_id",
        "key",
        "department",
        "audience",
        "language",
        "day",
        "answers",
        "comment",
    ]
    [day] = conn.execute("SELECT day FROM responses").fetchone()
    assert DAY_ONLY.match(day)


def test_sqlite_keeps_no_insertion_order_for_responses(sqlite_store: SqliteStore) -> None:
    sqlite_store.add_response(make_response())
    conn = sqlite3.connect(sqlite_store.path)
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'responses'").fetchone()[0]
    assert "WITHOUT ROWID" in sql  # no hidden rowid that counts arrivals


def test_dynamodb_keeps_only_the_documented_response_attributes() -> None:
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="eu-west-1").Table("privacy")
        store = DynamoStore(table, allow_create=True)
        store.create_schema()
        store.add_response(make_response(comment="fine"))
        [item] = table.scan()["Items"]
    assert set(item) == set(RESPONSE_FIELDS)
    assert DAY_ONLY.match(item["day"])
