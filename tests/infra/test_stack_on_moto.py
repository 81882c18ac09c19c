"""The stack deploys on a moto server, as far as moto's CloudFormation emulates each resource.

moto creates the table, the roles and policies, the log group, the topic, the dashboard and
(when chosen) the KMS key; it skips, with a warning, the resource types listed in
``MOTO_SKIPS``. Those are checked by cfn-lint and the structural tests instead
(``test_stack_roles.py``, ``test_stack_operations.py``); docs/self-hosting-aws.md lists them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from bench.lambda_harness import moto_endpoint, reset_moto
from tests.infra.test_cloudformation import REGION, load_template
from tests.infra.test_stack_operations import EVERYTHING_ON

# moto warns once for each resource it skips (its server runs in this process).
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS::")

DOC = Path(__file__).resolve().parents[2] / "docs" / "self-hosting-aws.md"
#: The template's resource types moto's CloudFormation does not create (moto 5.2).
MOTO_SKIPS = {
    "AWS::Backup::BackupPlan",
    "AWS::Backup::BackupSelection",
    "AWS::Backup::BackupVault",
    "AWS::Budgets::Budget",
    "AWS::CloudWatch::Alarm",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
    "AWS::Scheduler::Schedule",
    "AWS::Scheduler::ScheduleGroup",
    "AWS::WAFv2::WebACL",
    "AWS::WAFv2::WebACLAssociation",
}


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    """Yield the address of a moto server on 127.0.0.1, one for this module."""
    with moto_endpoint() as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto: str) -> Iterator[dict[str, Any]]:
    """Yield boto3 client arguments for the moto server, emptied after each test."""
    yield {
        "endpoint_url": moto,
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    reset_moto(moto)


def _body(*, kms_tags: bool = True) -> str:
    template = load_template()
    if not kms_tags:
        # moto's KMS reads a key's tags as TagKey/TagValue pairs, not CloudFormation's Key/Value.
        template["Resources"]["TableKey"]["Properties"].pop("Tags")
    return json.dumps(template)


def _deploy(aws: dict[str, Any], stack: str, stage: str, body: str, **parameters: str) -> str:
    """Create the stack, or update it if it exists; return its status."""
    cloudformation = boto3.client("cloudformation", **aws)
    arguments = {
        "StackName": stack,
        "TemplateBody": body,
        "Parameters": [
            {"ParameterKey": k, "ParameterValue": v}
            for k, v in {"Stage": stage, **parameters}.items()
        ],
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
    }
    existing = [s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]]
    if stack in existing:
        cloudformation.update_stack(**arguments)
    else:
        cloudformation.create_stack(**arguments)
    status: str = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    return status


def test_stack_deploys_with_defaults_and_deploys_again_unchanged(aws: dict[str, Any]) -> None:
    stack = "change-readiness-portal-infra-dev"
    assert _deploy(aws, stack, "dev", _body()) == "CREATE_COMPLETE"
    assert _deploy(aws, stack, "dev", _body()) == "UPDATE_COMPLETE"
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in boto3.client("cloudformation", **aws).describe_stacks(StackName=stack)["Stacks"][
            0
        ]["Outputs"]
    }
    assert outputs["TableName"] == "change-readiness-portal-dev"
    assert outputs["RoleArn"].endswith(":role/change-readiness-portal-dev-lambda")
    assert outputs["ApiGatewayRoleArn"].endswith(":role/change-readiness-portal-dev-apigateway")
    assert outputs["SecretKeyParameter"] == "/change-readiness-portal/dev/secret-key"


def test_deployed_table_refuses_deletion_and_keeps_no_point_in_time_history(
    aws: dict[str, Any],
) -> None:
    _deploy(aws, "crp-infra-table", "prod", _body())
    dynamodb = boto3.client("dynamodb", **aws)
    table = dynamodb.describe_table(TableName="change-readiness-portal-prod")["Table"]
    assert table["DeletionProtectionEnabled"] is True
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    backups = dynamodb.describe_continuous_backups(TableName="change-readiness-portal-prod")
    recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery["PointInTimeRecoveryStatus"] == "DISABLED"
    with pytest.raises(dynamodb.exceptions.ClientError, match="DeletionProtectionEnabled"):
        dynamodb.delete_table(TableName="change-readiness-portal-prod")


def test_deployed_roles_are_each_trusted_by_one_service_from_this_account(
    aws: dict[str, Any],
) -> None:
    _deploy(aws, "change-readiness-portal-infra-dev", "dev", _body())
    iam = boto3.client("iam", **aws)
    account = boto3.client("sts", **aws).get_caller_identity()["Account"]
    trusted = {}
    for role in iam.list_roles()["Roles"]:
        if not role["RoleName"].startswith("change-readiness-portal-dev-"):
            continue
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
        trusted[role["RoleName"]] = statement["Principal"]["Service"]
        tags = iam.list_role_tags(RoleName=role["RoleName"])["Tags"]
        assert {"Key": "Stage", "Value": "dev"} in tags
    assert trusted == {
        "change-readiness-portal-dev-lambda": "lambda.amazonaws.com",
        "change-readiness-portal-dev-apigateway": "apigateway.amazonaws.com",
        "change-readiness-portal-dev-scheduler": "scheduler.amazonaws.com",
    }


def test_deployed_log_group_and_dashboard(aws: dict[str, Any]) -> None:
    _deploy(aws, "change-readiness-portal-infra-dev", "dev", _body())
    logs = boto3.client("logs", **aws)
    (group,) = logs.describe_log_groups(
        logGroupNamePrefix="/aws/lambda/change-readiness-portal-dev"
    )["logGroups"]
    assert group["retentionInDays"] == 30
    dashboard = boto3.client("cloudwatch", **aws).get_dashboard(
        DashboardName="change-readiness-portal-dev"
    )
    widgets = json.loads(dashboard["DashboardBody"])["widgets"]
    assert {w["type"] for w in widgets} == {"alarm", "metric"}


def test_moto_creates_every_resource_but_the_types_it_cannot(aws: dict[str, Any]) -> None:
    stack = "crp-infra-everything"
    body = _body(kms_tags=False)
    assert _deploy(aws, stack, "dev", body, **EVERYTHING_ON) == "CREATE_COMPLETE"
    summaries = boto3.client("cloudformation", **aws).list_stack_resources(StackName=stack)
    # moto lists each skipped resource with an empty logical id.
    created = {r["LogicalResourceId"] for r in summaries["StackResourceSummaries"]} - {""}
    resources = load_template()["Resources"]
    skipped = {k for k in resources if k not in created}
    assert {resources[k]["Type"] for k in skipped} == MOTO_SKIPS
    assert "AWS::KMS::Key" in {resources[k]["Type"] for k in created}
    # (moto's DescribeKey fails on a key CloudFormation made: it keeps the key policy as an
    # object. The alias and the key list show the key is there.)
    kms = boto3.client("kms", **aws)
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    keys = {k["KeyId"] for k in kms.list_keys()["Keys"]}
    assert aliases["alias/change-readiness-portal-dev"] in keys


def test_docs_name_every_resource_type_moto_cannot_create() -> None:
    section = DOC.read_text().split("## Trying it locally against moto", 1)[1]
    named = set(re.findall(r"`(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)`", section))
    assert named >= MOTO_SKIPS, MOTO_SKIPS - named
