"""Each in-process moto server starts empty and leaves nothing behind (``harness.moto_endpoint``).

Every moto server started in this process shares moto's one set of backends, and
``pytest -n 2 --dist loadfile`` runs several test files in each worker: a table or stack
one test left would break the next test that makes the same one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from bench import lambda_harness as harness

REGION = "eu-west-1"
TABLE = {
    "TableName": "left-behind",
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


def _dynamodb(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@contextmanager
def _bare_moto_server() -> Iterator[str]:
    """Run a moto server in this process the plain way: no reset at either end."""
    from moto.server import ThreadedMotoServer

    request_log = logging.getLogger("werkzeug")
    level = request_log.level
    request_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        request_log.setLevel(level)


def test_a_table_made_on_one_moto_endpoint_is_gone_on_the_next() -> None:
    with harness.moto_endpoint() as endpoint:
        _dynamodb(endpoint).create_table(**TABLE)
        assert _dynamodb(endpoint).list_tables()["TableNames"] == ["left-behind"]
    with harness.moto_endpoint() as endpoint:
        assert _dynamodb(endpoint).list_tables()["TableNames"] == []
        _dynamodb(endpoint).create_table(**TABLE)  # the same name again: no ResourceInUse


def test_a_moto_endpoint_starts_empty_whatever_the_process_left_in_moto() -> None:
    with _bare_moto_server() as endpoint:
        _dynamodb(endpoint).create_table(**TABLE)
    try:
        with harness.moto_endpoint() as endpoint:
            assert _dynamodb(endpoint).list_tables()["TableNames"] == []
    finally:
        with _bare_moto_server() as endpoint:
            harness.reset_moto(endpoint)


def test_leaving_a_moto_endpoint_empties_moto_for_whoever_comes_next() -> None:
    with harness.moto_endpoint() as endpoint:
        _dynamodb(endpoint).create_table(**TABLE)
    with _bare_moto_server() as endpoint:
        assert _dynamodb(endpoint).list_tables()["TableNames"] == []
