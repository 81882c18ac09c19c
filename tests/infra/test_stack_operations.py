"""The stack runs the stage: table protection and backups, logs, alarms, dashboard, costs, tags."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from tests.infra.test_cloudformation import (
    ACCOUNT,
    REGION,
    Resolver,
    _table,
    load_template,
)

#: Every parameter combination worth evaluating: defaults, and everything switched on.
EVERYTHING_ON = {
    "TableEncryption": "customer-managed",
    "BackupRetentionDays": "7",
    "BackupCopyVaultArn": "arn:aws:backup:eu-central-1:210987654321:backup-vault:copies",
    "AlarmEmail": "hr-it@example.com",
    "WafRateLimit": "2000",
    "ApiId": "abc123defg",
    "FunctionName": "hr-portal-prod",
    "ApiName": "hr-portal-api",
}


def _resources(**parameters: str) -> dict[str, dict[str, Any]]:
    return Resolver(load_template(), "prod", parameters).resources()


def _of_type(resources: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources.values() if r["Type"] == kind]


# --- The table --------------------------------------------------------------------------


def test_table_refuses_deletion_until_protection_is_turned_off() -> None:
    assert _table(load_template())["Properties"]["DeletionProtectionEnabled"] is True


def test_table_is_encrypted_with_dynamodbs_own_key_by_default() -> None:
    resources = _resources()
    (table,) = _of_type(resources, "AWS::DynamoDB::Table")
    assert table["Properties"]["SSESpecification"] == {"SSEEnabled": False}
    assert not _of_type(resources, "AWS::KMS::Key")


def test_a_customer_managed_key_is_optional_rotated_and_outlives_the_stack() -> None:
    resources = _resources(TableEncryption="customer-managed")
    (table,) = _of_type(resources, "AWS::DynamoDB::Table")
    (key,) = _of_type(resources, "AWS::KMS::Key")
    assert table["Properties"]["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0123abcd-key",
    }
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    # Outside the account's administrators, the key is used only through DynamoDB.
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    wide = [s for s in statements if s["Principal"] == {"AWS": "*"}]
    assert wide and all(
        s["Condition"]["StringEquals"]
        == {"kms:CallerAccount": ACCOUNT, "kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}
        for s in wide
    )


def test_no_backup_plan_unless_a_retention_is_chosen() -> None:
    assert load_template()["Parameters"]["BackupRetentionDays"]["Default"] == 0
    assert not [t for t in map(lambda r: r["Type"], _resources().values()) if "Backup" in t]


def test_backup_plan_backs_up_daily_at_night_and_keeps_backups_the_chosen_days() -> None:
    resources = _resources(BackupRetentionDays="7")
    (plan,) = _of_type(resources, "AWS::Backup::BackupPlan")
    (rule,) = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["ScheduleExpression"] == "cron(0 2 * * ? *)"  # daily, 02:00 UTC
    assert rule["Lifecycle"] == {"DeleteAfterDays": "7"}
    assert "CopyActions" not in rule
    (vault,) = _of_type(resources, "AWS::Backup::BackupVault")
    assert vault["DeletionPolicy"] == "Retain"


def test_backups_can_be_copied_to_another_accounts_vault_with_the_same_retention() -> None:
    vault = EVERYTHING_ON["BackupCopyVaultArn"]
    resources = _resources(BackupRetentionDays="7", BackupCopyVaultArn=vault)
    (plan,) = _of_type(resources, "AWS::Backup::BackupPlan")
    (rule,) = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["CopyActions"] == [
        {"DestinationBackupVaultArn": vault, "Lifecycle": {"DeleteAfterDays": "7"}}
    ]


def test_point_in_time_recovery_stays_off_with_a_backup_plan() -> None:
    resources = _resources(**EVERYTHING_ON)
    assert _of_type(resources, "AWS::Backup::BackupPlan")
    (table,) = _of_type(resources, "AWS::DynamoDB::Table")
    spec = table["Properties"]["PointInTimeRecoverySpecification"]
    assert spec == {"PointInTimeRecoveryEnabled": False}


# --- Logs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("function", ["", "hr-portal-prod"])
def test_log_group_is_the_one_lambda_writes_to_and_keeps_30_days_at_most(function: str) -> None:
    template = load_template()
    (group,) = _of_type(_resources(FunctionName=function), "AWS::Logs::LogGroup")
    assert (
        group["Properties"]["LogGroupName"]
        == f"/aws/lambda/{function or 'change-readiness-portal-prod'}"
    )
    assert group["Properties"]["RetentionInDays"] == "30"
    allowed = template["Parameters"]["LogRetentionDays"]["AllowedValues"]
    assert max(allowed) == 30


def test_log_group_can_be_left_to_an_older_hand_made_one() -> None:
    assert load_template()["Parameters"]["ManageLogGroup"]["Default"] == "true"
    assert not _of_type(_resources(ManageLogGroup="false"), "AWS::Logs::LogGroup")


# --- Monitoring -----------------------------------------------------------------------------


def _alarmed_metrics(alarm: dict[str, Any]) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    properties = alarm["Properties"]
    if "MetricName" in properties:
        stats = [{"Metric": properties}]
    else:
        stats = [m["MetricStat"] for m in properties["Metrics"] if "MetricStat" in m]
    return {
        (
            s["Metric"]["Namespace"],
            s["Metric"]["MetricName"],
            tuple(sorted((d["Name"], d["Value"]) for d in s["Metric"]["Dimensions"])),
        )
        for s in stats
    }


@pytest.mark.parametrize(
    ("parameters", "function", "api"),
    [
        ({}, "change-readiness-portal-prod", "change-readiness-portal-prod"),
        ({"FunctionName": "hr-portal-prod"}, "hr-portal-prod", "hr-portal-prod"),
        ({"FunctionName": "hr-portal-prod", "ApiName": "hr-api"}, "hr-portal-prod", "hr-api"),
    ],
)
def test_alarms_watch_the_function_the_api_the_table_and_the_daily_job(
    parameters: dict[str, str], function: str, api: str
) -> None:
    resources = _resources(**parameters)
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm")
    watched = set().union(*(_alarmed_metrics(a) for a in alarms))
    table = "change-readiness-portal-prod"
    for expected in [
        ("AWS/Lambda", "Errors", (("FunctionName", function),)),
        ("AWS/Lambda", "Throttles", (("FunctionName", function),)),
        ("AWS/Lambda", "AsyncEventsDropped", (("FunctionName", function),)),
        ("AWS/ApiGateway", "5XXError", (("ApiName", api),)),
        ("AWS/Scheduler", "TargetErrorCount", (("ScheduleGroup", table),)),
        ("AWS/Scheduler", "InvocationDroppedCount", (("ScheduleGroup", table),)),
    ]:
        assert expected in watched, expected
    for metric in ("ThrottledRequests", "SystemErrors"):
        operations = {
            dict(dims)["Operation"]
            for namespace, name, dims in watched
            if (namespace, name) == ("AWS/DynamoDB", metric) and dict(dims)["TableName"] == table
        }
        # Every operation the portal's DynamoDB adapter calls.
        assert operations >= {"GetItem", "PutItem", "UpdateItem", "Query", "TransactWriteItems"}
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:change-readiness-portal-prod-alarms"
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [topic]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"
        assert alarm["Properties"]["AlarmName"].startswith("change-readiness-portal-prod-")


def test_alarm_math_adds_up_every_metric_it_reads() -> None:
    alarms = _of_type(_resources(), "AWS::CloudWatch::Alarm")
    with_math = [a for a in alarms if "Metrics" in a["Properties"]]
    assert with_math
    for alarm in with_math:
        metrics = alarm["Properties"]["Metrics"]
        (result,) = [m for m in metrics if m["ReturnData"]]
        ids = {m["Id"] for m in metrics if "MetricStat" in m}
        expression = result["Expression"]
        assert expression == "SUM(METRICS())" or all(i in expression for i in ids), expression


def test_alarm_mail_is_subscribed_only_when_an_address_is_given() -> None:
    assert not _of_type(_resources(), "AWS::SNS::Subscription")
    (subscription,) = _of_type(_resources(AlarmEmail="hr-it@example.com"), "AWS::SNS::Subscription")
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "hr-it@example.com"


def test_topic_takes_messages_from_this_accounts_alarms_and_budgets_only() -> None:
    (policy,) = _of_type(_resources(), "AWS::SNS::TopicPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {s["Principal"]["Service"] for s in statements} == {
        "cloudwatch.amazonaws.com",
        "budgets.amazonaws.com",
    }
    for statement in statements:
        assert statement["Action"] == "sns:Publish"
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}


@pytest.mark.parametrize("parameters", [{}, EVERYTHING_ON])
def test_dashboard_is_valid_json_showing_every_alarm_and_the_stages_metrics(
    parameters: dict[str, str],
) -> None:
    resources = _resources(**parameters)
    (dashboard,) = _of_type(resources, "AWS::CloudWatch::Dashboard")
    body = json.loads(dashboard["Properties"]["DashboardBody"])
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    alarm_names = {
        a["Properties"]["AlarmName"] for a in _of_type(resources, "AWS::CloudWatch::Alarm")
    }
    assert {a.rsplit(":", 1)[1] for a in alarm_widget["properties"]["alarms"]} == alarm_names
    text = json.dumps(body)
    function = parameters.get("FunctionName", "change-readiness-portal-prod")
    assert f'"FunctionName", "{function}"' in text
    assert f'"ApiName", "{parameters.get("ApiName", function)}"' in text
    assert '"TableName", "change-readiness-portal-prod"' in text


# --- Cost and abuse ---------------------------------------------------------------------------


def test_monthly_budget_alerts_the_topic_before_it_is_spent() -> None:
    (budget,) = _of_type(_resources(MonthlyBudgetUsd="40"), "AWS::Budgets::Budget")
    properties = budget["Properties"]
    assert properties["Budget"]["TimeUnit"] == "MONTHLY"
    assert properties["Budget"]["BudgetLimit"] == {"Amount": "40", "Unit": "USD"}
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:change-readiness-portal-prod-alarms"
    kinds = set()
    for notification in properties["NotificationsWithSubscribers"]:
        assert notification["Subscribers"] == [{"SubscriptionType": "SNS", "Address": topic}]
        kinds.add(notification["Notification"]["NotificationType"])
    assert kinds == {"ACTUAL", "FORECASTED"}


def test_waf_is_off_by_default() -> None:
    assert load_template()["Parameters"]["WafRateLimit"]["Default"] == 0
    resources = _resources()
    assert not [r for r in resources.values() if r["Type"].startswith("AWS::WAFv2")]


def test_waf_blocks_an_address_over_the_rate_limit_and_keeps_no_samples() -> None:
    resources = _resources(WafRateLimit="2000")
    (acl,) = _of_type(resources, "AWS::WAFv2::WebACL")
    (rule,) = acl["Properties"]["Rules"]
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"] == {"RateBasedStatement": {"Limit": "2000", "AggregateKeyType": "IP"}}
    # Sampled requests would keep client addresses and headers for three hours.
    assert rule["VisibilityConfig"]["SampledRequestsEnabled"] is False
    assert acl["Properties"]["VisibilityConfig"]["SampledRequestsEnabled"] is False
    assert acl["Properties"]["DefaultAction"] == {"Allow": {}}
    # Associated with the REST API's stage once its id is known.
    assert not _of_type(resources, "AWS::WAFv2::WebACLAssociation")
    (association,) = _of_type(
        _resources(WafRateLimit="2000", ApiId="abc123defg"), "AWS::WAFv2::WebACLAssociation"
    )
    assert association["Properties"]["ResourceArn"] == (
        f"arn:aws:apigateway:{REGION}::/restapis/abc123defg/stages/prod"
    )


# --- Tags ---------------------------------------------------------------------------------------


def _tags(resource: dict[str, Any], prop: str) -> dict[str, str]:
    tags = resource["Properties"][prop]
    return tags if isinstance(tags, dict) else {t["Key"]: t["Value"] for t in tags}


def test_every_taggable_resource_carries_the_application_and_stage_tags() -> None:
    checked = set()
    for logical_id, resource in _resources(**EVERYTHING_ON).items():
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, resource["Type"]).schema
        if not schema.get("tagging", {}).get("taggable", False):
            continue
        prop = schema["tagging"].get("tagProperty", "/properties/Tags").rsplit("/", 1)[1]
        assert prop in resource["Properties"], f"{logical_id} ({resource['Type']}) has no {prop}"
        assert _tags(resource, prop) == {
            "Application": "change-readiness-portal",
            "Stage": "prod",
        }, logical_id
        checked.add(resource["Type"])
    assert {"AWS::DynamoDB::Table", "AWS::IAM::Role", "AWS::CloudWatch::Alarm"} <= checked
