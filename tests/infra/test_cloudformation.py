"""The CloudFormation template: lint-clean, the same table the code creates, a narrow function role.

The helpers here (``load_template``, ``Resolver``, ``statements_of``) serve the other
``tests/infra/test_stack_*.py`` modules too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from portal.storage.dynamodb import table_definition

INFRA = Path(__file__).resolve().parents[2] / "infra"
TEMPLATE = INFRA / "portal.yaml"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
STAGES = ("dev", "prod")
ACCOUNT = "123456789012"
REGION = "eu-west-1"
#: The function's role is trusted by Lambda alone; API Gateway and the scheduler have their own.
FUNCTION_SERVICE = "lambda.amazonaws.com"
#: Everything the function may do. Adding an action here is a decision, not a detail.
ROLE_ACTIONS = {
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
    "ssm:GetParameter",
    "kms:Decrypt",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
}


class _CloudFormationLoader(yaml.SafeLoader):
    """A safe loader that reads short-form intrinsics (``!Sub x``) as ``{"Fn::Sub": x}``."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(
            None, None, f"unexpected !{suffix}", node.start_mark
        )
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path | None = None) -> dict[str, Any]:
    """Parse a CloudFormation YAML template (``TEMPLATE`` by default), short-form tags included."""
    text = (path or TEMPLATE).read_text()
    template: dict[str, Any] = yaml.load(text, Loader=_CloudFormationLoader)
    return template


def _table(template: dict[str, Any]) -> dict[str, Any]:
    tables = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(tables) == 1
    return tables[0]


def test_cfn_lint_finds_nothing_in_any_template() -> None:
    templates = sorted(str(p) for p in INFRA.glob("*.yaml"))
    assert templates
    result = subprocess.run(
        [str(CFN_LINT), "--include-checks", "I", "--", *templates],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("key", ["KeySchema", "AttributeDefinitions", "BillingMode"])
def test_template_table_matches_table_definition(key: str) -> None:
    properties = _table(load_template())["Properties"]
    assert properties[key] == table_definition("any")[key]


def test_table_is_named_per_stage_and_kept_on_delete() -> None:
    table = _table(load_template())
    assert table["Properties"]["TableName"] == {"Fn::Sub": "change-readiness-portal-${Stage}"}
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_template_outputs_what_the_deployment_steps_need() -> None:
    template = load_template()
    assert set(template["Outputs"]) == {
        "TableName",
        "PolicyArn",
        "RoleArn",
        "ApiGatewayRoleArn",
        "AlarmTopicArn",
        "OperatorPolicyArn",
        "SecretKeyParameter",
    }
    role_id, _ = function_role(template)
    assert template["Outputs"]["RoleArn"]["Value"] == {"Fn::GetAtt": [role_id, "Arn"]}


# --- Evaluating the template for one stage -------------------------------------------------


def _only(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    """Return the logical id and body of the template's one resource of type ``kind``."""
    found = [(k, r) for k, r in template["Resources"].items() if r["Type"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def function_role(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Return the logical id and body of the one role Lambda may assume (Zappa's role_name)."""
    found = [
        (k, r)
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and FUNCTION_SERVICE in trusted_services(r)
    ]
    assert len(found) == 1, f"expected one role for {FUNCTION_SERVICE}, found {len(found)}"
    return found[0]


def trusted_services(role: dict[str, Any]) -> set[str]:
    """Return every service principal the role's trust policy names."""
    statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return {
        service
        for statement in statements
        for service in as_list(statement.get("Principal", {}).get("Service", []))
    }


class Resolver:
    """Evaluate the template's intrinsics for one stage in a fake account.

    Parameters take their defaults unless ``parameters`` says otherwise; conditions are
    evaluated from them; resources resolve to the names and ARNs AWS would give them.
    """

    def __init__(
        self, template: dict[str, Any], stage: str, parameters: dict[str, str] | None = None
    ) -> None:
        self.template = template
        values = {k: str(p.get("Default", "")) for k, p in template["Parameters"].items()}
        values.update(Stage=stage, **(parameters or {}))
        self.refs: dict[str, Any] = {
            **values,
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::NoValue": None,
        }
        self.attrs: dict[str, str] = {}
        resources = template["Resources"]
        self._name(
            resources, "AWS::DynamoDB::Table", "TableName", "arn:aws:dynamodb:{r}:{a}:table/{n}"
        )
        self._name(resources, "AWS::IAM::Role", "RoleName", "arn:aws:iam::{a}:role/{n}", ref="name")
        self._name(
            resources,
            "AWS::IAM::ManagedPolicy",
            "ManagedPolicyName",
            "arn:aws:iam::{a}:policy/{n}",
            ref="arn",
        )
        self._name(resources, "AWS::SNS::Topic", "TopicName", "arn:aws:sns:{r}:{a}:{n}", ref="arn")
        self._name(
            resources,
            "AWS::Scheduler::ScheduleGroup",
            "Name",
            "arn:aws:scheduler:{r}:{a}:schedule-group/{n}",
        )
        self._name(
            resources,
            "AWS::Backup::BackupVault",
            "BackupVaultName",
            "arn:aws:backup:{r}:{a}:backup-vault:{n}",
        )
        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::KMS::Key":
                self.refs[logical_id] = "0123abcd-key"
                self.attrs[f"{logical_id}.Arn"] = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0123abcd-key"
            elif resource["Type"] == "AWS::WAFv2::WebACL":
                self.attrs[f"{logical_id}.Arn"] = (
                    f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/{logical_id}/id"
                )
            elif resource["Type"] == "AWS::Backup::BackupPlan":
                self.refs[logical_id] = "plan-id"

    def _name(
        self, resources: dict[str, Any], kind: str, prop: str, arn: str, ref: str = "name"
    ) -> None:
        for logical_id, resource in resources.items():
            if resource["Type"] != kind:
                continue
            name = self(resource["Properties"][prop])
            full = arn.format(r=REGION, a=ACCOUNT, n=name)
            self.refs[logical_id] = full if ref == "arn" else name
            self.attrs[f"{logical_id}.Arn"] = full

    def condition(self, name: str) -> bool:
        """Return whether the named condition holds for these parameters."""
        return bool(self._condition(self.template["Conditions"][name]))

    def _condition(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Fn::Equals":
                left, right = (str(self(a)) for a in argument)
                return left == right
            if function == "Fn::Not":
                return not self._condition(argument[0])
            if function == "Fn::And":
                return all(self._condition(a) for a in argument)
            if function == "Fn::Or":
                return any(self._condition(a) for a in argument)
            if function == "Condition":
                return self.condition(argument)
        return self(value)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self(v) for v in value) if v is not None]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.refs[value["Ref"]]
        if set(value) == {"Fn::GetAtt"}:
            return self.attrs[".".join(value["Fn::GetAtt"])]
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            return self(when_true if self.condition(name) else when_false)
        if set(value) == {"Fn::Sub"}:
            if isinstance(value["Fn::Sub"], str):
                text, local = value["Fn::Sub"], {}
            else:
                text, variables = value["Fn::Sub"]
                local = {k: self(v) for k, v in variables.items()}
            return re.sub(
                r"\$\{([^}!]+)\}",
                lambda m: str(
                    local.get(m.group(1)) or self.attrs.get(m.group(1)) or self.refs[m.group(1)]
                ),
                text,
            )
        return {k: v for k, v in ((k, self(v)) for k, v in value.items()) if v is not None}

    def resources(self) -> dict[str, dict[str, Any]]:
        """Return the resources this stage creates (conditions applied), intrinsics resolved."""
        return {
            logical_id: {**resource, "Properties": self(resource.get("Properties", {}))}
            for logical_id, resource in self.template["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }


def as_list(value: Any) -> list[Any]:
    """Return ``value`` as a list (IAM allows one value or a list almost everywhere)."""
    return value if isinstance(value, list) else [value]


AWS_MANAGED = "arn:${AWS::Partition}:iam::aws:policy/"


def role_statements(
    role: dict[str, Any], template: dict[str, Any], *, aws_managed_ok: bool = False
) -> list[dict[str, Any]]:
    """Return every permission statement a role carries: its stack-managed and inline policies.

    A policy from outside the stack fails the test, unless ``aws_managed_ok`` lets an AWS
    managed policy through (its statements are then not returned).
    """
    statements: list[dict[str, Any]] = []
    for arn in role["Properties"].get("ManagedPolicyArns", []):
        if aws_managed_ok and str(arn.get("Fn::Sub", "")).startswith(AWS_MANAGED):
            continue
        assert set(arn) == {"Ref"}, f"a managed policy from outside the stack: {arn}"
        policy = template["Resources"][arn["Ref"]]
        statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    for inline in role["Properties"].get("Policies", []):
        statements.extend(inline["PolicyDocument"]["Statement"])
    return statements


# --- The function's role ---------------------------------------------------------------------


def test_role_is_named_per_stage() -> None:
    _, role = function_role(load_template())
    assert role["Properties"]["RoleName"] == {"Fn::Sub": "change-readiness-portal-${Stage}-lambda"}


def test_function_role_is_trusted_by_lambda_alone_and_only_from_this_account() -> None:
    _, role = function_role(load_template())
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert as_list(statement["Action"]) == ["sts:AssumeRole"]
    assert statement["Principal"] == {"Service": FUNCTION_SERVICE}
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_role_gets_the_portal_policy_and_nothing_else_attaches_to_it() -> None:
    template = load_template()
    role_id, role = function_role(template)
    assert role["Properties"]["ManagedPolicyArns"] == [{"Ref": "LambdaPolicy"}]
    # Nothing else in the stack can add permissions to the role behind its back.
    for logical_id, resource in template["Resources"].items():
        if logical_id == role_id:
            continue
        for key in ("Roles", "Role", "Users", "Groups"):
            assert f'"Ref": "{role_id}"' not in json.dumps(
                resource.get("Properties", {}).get(key, [])
            ), logical_id
    assert "AWS::IAM::Policy" not in {r["Type"] for r in template["Resources"].values()}


def test_role_may_do_exactly_the_listed_actions() -> None:
    template = load_template()
    statements = role_statements(function_role(template)[1], template)
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
    assert {a for s in statements for a in as_list(s["Action"])} == ROLE_ACTIONS


def test_no_role_in_the_template_has_a_wildcard_action() -> None:
    template = load_template()
    for logical_id, role in template["Resources"].items():
        if role["Type"] != "AWS::IAM::Role":
            continue
        statements = role_statements(role, template, aws_managed_ok=True)
        statements += role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        for statement in statements:
            for action in as_list(statement["Action"]):
                assert "*" not in action, (
                    f"{logical_id} {statement.get('Sid', statement)}: {action}"
                )


@pytest.mark.parametrize("stage", STAGES)
def test_role_reaches_only_this_stages_resources(stage: str) -> None:
    template = load_template()
    resolve = Resolver(template, stage)
    statements = resolve(role_statements(function_role(template)[1], template))
    other = next(s for s in STAGES if s != stage)
    assert f"portal-{other}" not in json.dumps(statements)
    assert f"portal/{other}/" not in json.dumps(statements)
    for statement in statements:
        for resource in as_list(statement["Resource"]):
            service = resource.split(":")[2]
            assert resource.startswith(f"arn:aws:{service}:{REGION}:{ACCOUNT}:"), resource
            if resource == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*":
                # Any key, but only to decrypt this stage's parameters through SSM.
                assert statement["Condition"] == {
                    "StringEquals": {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"},
                    "StringLike": {
                        "kms:EncryptionContext:PARAMETER_ARN": (
                            f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/change-readiness-portal/"
                            f"{stage}/*"
                        )
                    },
                }
            else:
                assert (
                    f"change-readiness-portal-{stage}" in resource
                    or f":parameter/change-readiness-portal/{stage}/" in resource
                ), resource


@pytest.mark.parametrize("stage", STAGES)
def test_function_writes_only_its_own_log_group_and_invokes_nothing(stage: str) -> None:
    template = load_template()
    statements = Resolver(template, stage)(role_statements(function_role(template)[1], template))
    by_service: dict[str, set[str]] = {}
    for statement in statements:
        for action in as_list(statement["Action"]):
            service = action.split(":")[0]
            by_service.setdefault(service, set()).update(as_list(statement["Resource"]))
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/change-readiness-portal-{stage}"
    assert by_service["logs"] == {group, f"{group}:*"}
    assert "lambda" not in by_service
    assert by_service["ssm"] == {
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/change-readiness-portal/{stage}/*"
    }
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/change-readiness-portal-{stage}"
    assert by_service["dynamodb"] == {table, f"{table}/index/*"}


def test_a_named_function_moves_the_log_group_permission_with_it() -> None:
    template = load_template()
    resolve = Resolver(template, "prod", {"FunctionName": "hr-portal-prod"})
    statements = resolve(role_statements(function_role(template)[1], template))
    logs = {r for s in statements if "logs:PutLogEvents" in s["Action"] for r in s["Resource"]}
    assert logs == {
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/hr-portal-prod",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/hr-portal-prod:*",
    }
