"""DynamoDB backups restore into a new table with every item, on moto in-process and over HTTP.

moto emulates CreateBackup, DescribeBackup, RestoreTableFromBackup and UpdateTimeToLive
(docs/self-hosting-aws.md says what it does not show).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from click.testing import CliRunner, Result

from portal.cli import main
from portal.domain.entities import WaveStatus
from portal.domain.errors import AlreadyExists, NotFound
from portal.services.backup import TTL_ATTRIBUTE, backup_dynamodb, restore_dynamodb
from portal.storage.dynamodb import DynamoStore
from tests.builders import make_access_code, make_response, make_survey, make_wave


@dataclass
class Target:
    """A DynamoDB store and the environment that points the ``portal`` command at it."""

    store: DynamoStore
    env: dict[str, str]

    def other(self, table: str) -> DynamoStore:
        """Return a store on another table of the same DynamoDB."""
        endpoint = self.env.get("PORTAL_DYNAMODB_ENDPOINT_URL")
        resource = boto3.resource("dynamodb", region_name="eu-west-1", endpoint_url=endpoint)
        return DynamoStore(resource.Table(table))

    def run(self, *args: str, table: str | None = None) -> Result:
        """Run ``portal ARGS`` against this DynamoDB (on ``table`` if given)."""
        env = {**self.env, "PORTAL_DYNAMODB_TABLE": table or self.store.table.name}
        return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture(params=["dynamodb-moto", "dynamodb-server"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """Return a fresh portal table on moto in-process, then on a moto server over HTTP."""
    env = {"PORTAL_STORAGE": "dynamodb", "AWS_DEFAULT_REGION": "eu-west-1"}
    if request.param == "dynamodb-moto":
        store: DynamoStore = request.getfixturevalue("dynamo_moto_store")
    else:
        store = request.getfixturevalue("dynamo_server_store")
        env["PORTAL_DYNAMODB_ENDPOINT_URL"] = request.getfixturevalue("moto_endpoint")
    yield Target(store, env)


def fill(store: DynamoStore, responses: int = 12) -> str:
    """Store a survey, an open wave, responses and one used code; return the code's hash."""
    store.add_survey(make_survey())
    store.add_wave(make_wave(status=WaveStatus.OPEN))
    for number in range(responses):
        store.add_response(make_response(comment=f"answer {number}"))
    code = make_access_code()
    store.add_access_codes([code])
    store.add_response(make_response(comment="by code"), code_hash=code.code_hash)
    store.take_attempt("sign-in:someone", limit=5, window=900, now=1_800_000_000)
    return code.code_hash


def items(store: DynamoStore) -> list[dict[str, object]]:
    """Return every item of the store's table, in key order."""
    found, kwargs = [], {}
    while True:
        page = store.table.scan(**kwargs)
        found.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    return sorted(found, key=lambda item: (str(item["pk"]), str(item["sk"])))


def test_a_backup_restores_into_a_new_table_with_every_item_and_ttl(target: Target) -> None:
    code_hash = fill(target.store)
    taken = backup_dynamodb(target.store, name="before-update")
    assert taken.name == "before-update" and taken.table == target.store.table.name
    target.store.add_response(make_response(comment="after the backup"))
    restored = target.other(f"restored-{uuid.uuid4().hex[:8]}")
    contents = restore_dynamodb(restored, taken.arn, poll_seconds=1)
    assert (contents.surveys, contents.waves, contents.responses) == (1, 1, 13)
    comments = {r.comment for r in restored.list_responses("crm-rollout", "baseline").items}
    assert "after the backup" not in comments and "by code" in comments
    assert restored.get_access_code(code_hash).used
    assert items(restored) == [
        i for i in items(target.store) if i.get("comment") != "after the backup"
    ]
    ttl = restored.table.meta.client.describe_time_to_live(TableName=restored.table.name)
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": TTL_ATTRIBUTE,
    }


def test_a_restore_never_writes_into_an_existing_table(target: Target) -> None:
    fill(target.store, 2)
    taken = backup_dynamodb(target.store, name="nightly")
    with pytest.raises(AlreadyExists, match="new table name"):
        restore_dynamodb(target.store, taken.arn, poll_seconds=1)
    assert len(target.store.list_responses("crm-rollout", "baseline").items) == 3


def test_an_unknown_backup_is_refused_and_no_table_appears(target: Target) -> None:
    fill(target.store, 1)
    arn = backup_dynamodb(target.store, name="real").arn
    unknown = arn.rsplit("/", 1)[0] + "/01700000000000-deadbeef"
    name = f"restored-{uuid.uuid4().hex[:8]}"
    with pytest.raises(NotFound, match="no backup"):
        restore_dynamodb(target.other(name), unknown, poll_seconds=1)
    assert name not in target.store.table.meta.client.list_tables()["TableNames"]


def test_the_portal_command_backs_up_restores_and_verifies_a_table(target: Target) -> None:
    fill(target.store, 7)
    backup = target.run("backup", "--dynamodb", "--name", "weekly")
    assert backup.exit_code == 0, backup.output
    assert f"Backup 'weekly' of '{target.store.table.name}' requested" in backup.output
    arn = re.search(r"ARN: (\S+)", backup.output).group(1)  # type: ignore[union-attr]
    new = f"restored-{uuid.uuid4().hex[:8]}"
    restore = target.run("restore", "--dynamodb", "--backup-arn", arn, "--target-table", new)
    assert restore.exit_code == 0, restore.output
    assert f"Restored into the new table '{new}': 1 survey(s), 1 wave(s), 8 response(s)." in (
        restore.output
    )
    again = target.run("restore", "--dynamodb", "--backup-arn", arn, "--target-table", new)
    assert again.exit_code == 1 and "restore into a new table name" in again.output
    refreshed = target.run(
        "results", "refresh", "--survey", "crm-rollout", "--wave", "baseline", table=new
    )
    assert "8 responses" in refreshed.output, refreshed.output
    verified = target.run(
        "results", "verify", "--survey", "crm-rollout", "--wave", "baseline", table=new
    )
    assert verified.exit_code == 0, verified.output


def test_a_backup_name_dynamodb_would_refuse_is_explained(target: Target) -> None:
    refused = target.run("backup", "--dynamodb", "--name", "my backup")
    assert refused.exit_code == 1 and "3 to 255 letters, digits" in refused.output
    default = target.run("backup", "--dynamodb")
    assert default.exit_code == 0 and f"'{target.store.table.name}-20" in default.output


def test_the_portal_command_asks_for_what_a_dynamodb_restore_needs(target: Target) -> None:
    assert target.run("backup", "--dynamodb", "out.sqlite3").exit_code == 2
    missing = target.run("restore", "--dynamodb", "--backup-arn", "arn:x")
    assert missing.exit_code == 2 and "--target-table" in missing.output
