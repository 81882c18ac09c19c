"""Storage adapters, chosen by name from a small registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from portal.config import Settings
from portal.storage.port import Page, Store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

__all__ = ["BACKENDS", "Page", "Store", "open_store"]


def _sqlite(settings: Settings) -> Store:
    from portal.storage.sqlite import SqliteStore

    return SqliteStore(settings.database_path)


def _dynamodb(settings: Settings) -> Store:
    from portal.storage.dynamodb import DynamoStore

    def connect() -> Table:
        import boto3
        from botocore.config import Config

        resource = boto3.resource(
            "dynamodb",
            region_name=settings.aws_region,
            endpoint_url=settings.dynamodb_endpoint_url,
            # Fail fast and let the respondent retry, rather than hang a Lambda for a minute.
            config=Config(
                connect_timeout=3,
                read_timeout=5,
                retries={"mode": "standard", "max_attempts": 3},
            ),
        )
        table: Table = resource.Table(settings.dynamodb_table)
        return table

    # The boto3 resource is made on the first read or write, not while the app starts.
    return DynamoStore(connect, allow_create=settings.dynamodb_create_table)


BACKENDS: dict[str, Callable[[Settings], Store]] = {"sqlite": _sqlite, "dynamodb": _dynamodb}


def open_store(settings: Settings) -> Store:
    """Return the store ``settings.storage`` names; no connection is made yet."""
    return BACKENDS[settings.storage](settings)
