"""The stack's operator policy allows every AWS call the `portal` command makes, and little more.

The commands run against the stack deployed in moto (in-process); every boto3 call they make
is recorded (operation and parameters) and turned into the IAM actions and resources AWS
authorises it by. moto checks no IAM, so the check is done here against the policy as the
template writes it for the stage.
"""

from __future__ import annotations

import fnmatch
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import pytest
from click.testing import CliRunner, Result
from moto import mock_aws

from portal.cli import main
from portal.domain.entities import WaveStatus
from portal.storage.dynamodb import DynamoStore
from tests.builders import make_response, make_survey, make_wave
from tests.infra.test_cloudformation import ACCOUNT, REGION, Resolver, as_list, load_template
from tests.moto_atomic import make_writes_atomic
from tests.web.conftest import CSV

STAGE = "prod"
TABLE = f"change-readiness-portal-{STAGE}"
RESTORED = f"{TABLE}-r1"
#: DynamoDB authorises a transaction item by item.
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
#: What a restore needs on the new table besides RestoreTableFromBackup: DynamoDB writes the
#: restored items with the caller's rights (the RestoreTableFromBackup API reference).
RESTORE_WRITES = [
    "BatchWriteItem",
    "DeleteItem",
    "GetItem",
    "PutItem",
    "Query",
    "Scan",
    "UpdateItem",
]
#: Granted although no command below calls it: the documented `aws dynamodb list-backups`
#: and `delete-backup`.
GRANTED_FOR_THE_DOCS = {"dynamodb:DeleteBackup", "dynamodb:ListBackups"}

Call = tuple[str, str, dict[str, Any]]


def _table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def authorised_as(call: Call) -> list[tuple[str, str]]:
    """Return the (action, resource) pairs AWS checks for one recorded API call."""
    service, operation, params = call
    assert service == "dynamodb", f"the CLI called {service}:{operation}; extend this test"
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{TRANSACT_ACTIONS[kind]}", _table_arn(body["TableName"]))
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    if operation == "BatchWriteItem":
        return [("dynamodb:BatchWriteItem", _table_arn(t)) for t in params["RequestItems"]]
    if operation == "ListBackups":
        return [("dynamodb:ListBackups", "*")]
    if operation in {"DescribeBackup", "DeleteBackup"}:
        return [(f"dynamodb:{operation}", params["BackupArn"])]
    if operation == "RestoreTableFromBackup":
        target = _table_arn(params["TargetTableName"])
        return [
            ("dynamodb:RestoreTableFromBackup", params["BackupArn"]),
            ("dynamodb:RestoreTableFromBackup", target),
            *((f"dynamodb:{action}", target) for action in RESTORE_WRITES),
        ]
    return [(f"dynamodb:{operation}", _table_arn(params["TableName"]))]


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Return whether an Allow statement (without conditions) matches the action and resource."""
    return any(
        s["Effect"] == "Allow"
        and "Condition" not in s
        and any(fnmatch.fnmatchcase(action, a) for a in as_list(s["Action"]))
        and any(fnmatch.fnmatchcase(resource, r) for r in as_list(s["Resource"]))
        for s in statements
    )


def operator_statements() -> list[dict[str, Any]]:
    """Return the operator policy's statements as the template writes them for the stage."""
    template = load_template()
    (policy,) = [
        r
        for r in Resolver(template, STAGE).resources().values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
        and r["Properties"]["ManagedPolicyName"].endswith("-operator")
    ]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Call]]:
    """Deploy the stack in moto; yield the list every later boto3 call is appended to."""
    make_writes_atomic()
    with mock_aws(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto skips the types it cannot create
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=f"change-readiness-portal-infra-{STAGE}",
            TemplateBody=json.dumps(load_template()),
            Parameters=[{"ParameterKey": "Stage", "ParameterValue": STAGE}],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        store = DynamoStore(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))
        store.add_survey(make_survey())
        store.add_wave(make_wave(status=WaveStatus.OPEN))
        for number in range(6):
            store.add_response(make_response(comment=f"answer {number}"))
        calls: list[Call] = []
        original = botocore.client.BaseClient._make_api_call

        def record(client: Any, operation: str, params: dict[str, Any]) -> Any:
            calls.append((client.meta.service_model.endpoint_prefix, operation, params))
            return original(client, operation, params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
        yield calls


def portal(*args: str, table: str = TABLE) -> Result:
    """Run ``portal ARGS`` against the stage's table (or ``table``) in moto."""
    env = {
        "PORTAL_STORAGE": "dynamodb",
        "PORTAL_DYNAMODB_TABLE": table,
        "AWS_DEFAULT_REGION": REGION,
    }
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def run_the_operators_commands(folder: Path) -> None:
    """Run what docs/self-hosting-aws.md has the operator run with their own credentials."""
    portal("init-db")
    portal("user", "create", "--email", "hr.lead@example.com", "--role", "admin")
    departments = folder / "departments.csv"
    departments.write_text(CSV)
    portal(
        "survey",
        "create",
        "--slug",
        "erp",
        "--title",
        "ERP 2027",
        "--system",
        "the new ERP",
        "--departments",
        str(departments),
    )
    portal(
        "waves",
        "add",
        "--survey",
        "erp",
        "--wave",
        "pilot",
        "--name",
        "Pilot",
        "--planned-close",
        "2027-01-31",
    )
    portal("waves", "open", "--survey", "erp", "--wave", "pilot")
    portal("waves", "links", "--survey", "erp", "--wave", "pilot")
    portal("waves", "close", "--survey", "erp", "--wave", "pilot")
    portal("waves", "close-due")
    portal("survey", "list")
    portal("results", "refresh", "--survey", "crm-rollout", "--wave", "baseline")
    portal("results", "verify", "--survey", "crm-rollout", "--wave", "baseline")
    backup = portal("backup", "--dynamodb", "--name", "before-update")
    arn = re.search(r"ARN: (\S+)", backup.output).group(1)  # type: ignore[union-attr]
    portal("restore", "--dynamodb", "--backup-arn", arn, "--target-table", RESTORED)
    portal("results", "verify", "--survey", "crm-rollout", "--wave", "baseline", table=RESTORED)


def test_operator_policy_allows_every_call_of_the_operators_commands(
    recorded: list[Call], tmp_path: Path
) -> None:
    run_the_operators_commands(tmp_path)
    statements = operator_statements()
    needed = {pair for call in recorded for pair in authorised_as(call)}
    assert len(needed) > 10  # the recording worked
    refused = sorted(pair for pair in needed if not allows(statements, *pair))
    assert not refused, refused


def test_operator_policy_grants_no_action_the_commands_do_not_use(
    recorded: list[Call], tmp_path: Path
) -> None:
    run_the_operators_commands(tmp_path)
    used = {action for call in recorded for action, _ in authorised_as(call)}
    granted = {a for s in operator_statements() for a in as_list(s["Action"])}
    assert granted - used == GRANTED_FOR_THE_DOCS
    assert not [a for a in granted if "*" in a]


def test_operator_policy_reaches_this_stages_tables_only() -> None:
    for statement in operator_statements():
        for resource in as_list(statement["Resource"]):
            if resource == "*":
                assert statement["Action"] == "dynamodb:ListBackups"  # no resource-level form
                continue
            assert resource.startswith(_table_arn(TABLE)), resource
            assert not fnmatch.fnmatchcase(_table_arn("change-readiness-portal-dev"), resource)
