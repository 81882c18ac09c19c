"""One IAM role per AWS service, each trusted only from this account, none reaching the data.

Whoever may pass a role to a service acts with that role's rights through the service. The
old template's one role was trusted by Lambda, API Gateway and EventBridge, so anyone
allowed to pass it to API Gateway could wire an integration straight to the table.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas import close_due_waves
from tests.infra.test_cloudformation import (
    ACCOUNT,
    REGION,
    STAGES,
    Resolver,
    as_list,
    load_template,
    role_statements,
    trusted_services,
)


def _roles(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}


def _role_trusted_by(template: dict[str, Any], service: str) -> dict[str, Any]:
    (role,) = [r for r in _roles(template).values() if trusted_services(r) == {service}]
    return role


def test_no_role_is_trusted_by_more_than_one_service() -> None:
    for logical_id, role in _roles(load_template()).items():
        statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert len(statements) == 1, logical_id
        assert len(trusted_services(role)) == 1, (logical_id, trusted_services(role))
        assert set(statements[0]["Principal"]) == {"Service"}, logical_id


def test_each_service_has_its_own_role() -> None:
    services = [trusted_services(r) for r in _roles(load_template()).values()]
    assert sorted(s for (s,) in services) == [
        "apigateway.amazonaws.com",
        "backup.amazonaws.com",
        "lambda.amazonaws.com",
        "scheduler.amazonaws.com",
    ]


def test_every_trust_requires_this_account_as_the_source() -> None:
    for logical_id, role in _roles(load_template()).items():
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            condition = statement.get("Condition", {})
            assert condition.get("StringEquals", {}).get("aws:SourceAccount") == {
                "Ref": "AWS::AccountId"
            }, logical_id


@pytest.mark.parametrize("stage", STAGES)
def test_scheduler_role_is_trusted_only_for_this_stages_schedule_group(stage: str) -> None:
    template = load_template()
    role = Resolver(template, stage)(_role_trusted_by(template, "scheduler.amazonaws.com"))
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    group = Resolver(template, stage).attrs["ScheduleGroup.Arn"]
    assert (
        group
        == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/change-readiness-portal-{stage}"
    )
    assert statement["Condition"]["ArnEquals"] == {"aws:SourceArn": group}


@pytest.mark.parametrize("service", ["apigateway.amazonaws.com", "scheduler.amazonaws.com"])
@pytest.mark.parametrize("stage", STAGES)
def test_api_gateway_and_scheduler_may_only_invoke_this_stages_function(
    service: str, stage: str
) -> None:
    template = load_template()
    statements = Resolver(template, stage)(
        role_statements(_role_trusted_by(template, service), template)
    )
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:change-readiness-portal-{stage}"
    assert {a for s in statements for a in as_list(s["Action"])} == {"lambda:InvokeFunction"}
    assert {r for s in statements for r in as_list(s["Resource"])} == {function, f"{function}:*"}


def test_only_the_function_role_may_touch_the_table_or_the_secret() -> None:
    template = load_template()
    for logical_id, role in _roles(template).items():
        if trusted_services(role) in ({"lambda.amazonaws.com"}, {"backup.amazonaws.com"}):
            continue
        actions = {a for s in role_statements(role, template) for a in as_list(s["Action"])}
        assert not {a for a in actions if a.split(":")[0] in {"dynamodb", "ssm", "kms"}}, logical_id


def test_backup_role_uses_aws_backups_own_policies_only_for_the_selected_table() -> None:
    template = load_template()
    role = _role_trusted_by(template, "backup.amazonaws.com")
    assert role["Condition"] == "WithBackupPlan"
    assert role["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::aws:policy/service-role/{name}"}
        for name in (
            "AWSBackupServiceRolePolicyForBackup",
            "AWSBackupServiceRolePolicyForRestores",
        )
    ]
    assert "Policies" not in role["Properties"]
    selection = template["Resources"]["BackupSelection"]["Properties"]["BackupSelection"]
    assert selection["Resources"] == [{"Fn::GetAtt": ["Table", "Arn"]}]
    assert selection["IamRoleArn"] == {"Fn::GetAtt": ["BackupRole", "Arn"]}


def test_the_daily_job_runs_as_the_scheduler_role_and_names_the_close_due_waves_handler() -> None:
    template = load_template()
    resources = Resolver(template, "prod").resources()
    target = resources["DailyJob"]["Properties"]["Target"]
    assert (
        target["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/change-readiness-portal-prod-scheduler"
    )
    assert (
        target["Arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:change-readiness-portal-prod"
    )
    # Zappa's handler runs what an event's "command" names (zappa/handler.py).
    assert json.loads(target["Input"]) == {"command": "lambdas.close_due_waves.handler"}
    assert callable(close_due_waves.handler)
    assert resources["DailyJob"]["Properties"]["ScheduleExpressionTimezone"] == "UTC"
