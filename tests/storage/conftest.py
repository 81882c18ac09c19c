"""The storage targets every contract test runs against.

- ``sqlite``: the embedded adapter on a temporary file;
- ``dynamodb-moto``: the DynamoDB adapter through boto3 against moto in-process;
- ``dynamodb-server``: the same adapter over HTTP against a moto server process.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from portal.storage.dynamodb import DynamoStore
from portal.storage.port import Store
from tests.moto_atomic import make_writes_atomic
from tests.moto_server import moto_server

TARGETS = ["sqlite", "dynamodb-moto", "dynamodb-server"]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Run one moto server for the whole session."""
    with moto_server() as url:
        yield url


@pytest.fixture
def dynamo_moto_store() -> Iterator[DynamoStore]:
    """Return a DynamoDB store on a fresh table in in-process moto, writes atomic as DynamoDB's."""
    make_writes_atomic()
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="eu-west-1").Table("portal-test")
        store = DynamoStore(table, allow_create=True)
        store.create_schema()
        yield store


@pytest.fixture
def dynamo_server_store(moto_endpoint: str) -> DynamoStore:
    """Return a DynamoDB store on a fresh table in the moto server, reached over HTTP."""
    resource = boto3.resource("dynamodb", region_name="eu-west-1", endpoint_url=moto_endpoint)
    store = DynamoStore(resource.Table(f"portal-{uuid.uuid4().hex[:12]}"), allow_create=True)
    store.create_schema()
    return store


@pytest.fixture(params=TARGETS)
def store(request: pytest.FixtureRequest) -> Store:
    """Return each storage target in turn."""
    name = {
        "sqlite": "sqlite_store",
        "dynamodb-moto": "dynamo_moto_store",
        "dynamodb-server": "dynamo_server_store",
    }[request.param]
    target: Store = request.getfixturevalue(name)
    return target
