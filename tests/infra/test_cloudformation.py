"""The CloudFormation template: lint-clean, the same table the code creates, a narrow role."""

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
#: Zappa hands its one role to Lambda (the function runs as it), to API Gateway (the REST
#: API's integration invokes the function with it as `Credentials`) and to EventBridge
#: (PutRule for `events` gets it as RoleArn and rejects a role events cannot assume).
TRUSTED_SERVICES = {"lambda.amazonaws.com", "apigateway.amazonaws.com", "events.amazonaws.com"}
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
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "lambda:InvokeFunction",
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


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """Parse a CloudFormation YAML template, short-form tags included."""
    template: dict[str, Any] = yaml.load(path.read_text(), Loader=_CloudFormationLoader)
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


def test_template_outputs_table_name_policy_arn_and_role_arn() -> None:
    template = load_template()
    assert set(template["Outputs"]) == {"TableName", "PolicyArn", "RoleArn"}
    role_id, _ = _only(template, "AWS::IAM::Role")
    assert template["Outputs"]["RoleArn"]["Value"] == {"Fn::GetAtt": [role_id, "Arn"]}


# --- The Lambda execution role ---------------------------------------------------------


def _only(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    """Return the logical id and body of the template's one resource of type ``kind``."""
    found = [(k, r) for k, r in template["Resources"].items() if r["Type"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


class _Resolver:
    """Evaluate the intrinsics the template's policies use, for one stage in a fake account."""

    def __init__(self, template: dict[str, Any], stage: str) -> None:
        self.refs: dict[str, str] = {
            "Stage": stage,
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
        }
        self.attrs: dict[str, str] = {}
        table_id, table = _only(template, "AWS::DynamoDB::Table")
        table_name = self(table["Properties"]["TableName"])
        self.refs[table_id] = table_name
        self.attrs[f"{table_id}.Arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table_name}"
        policy_id, policy = _only(template, "AWS::IAM::ManagedPolicy")
        policy_name = self(policy["Properties"]["ManagedPolicyName"])
        self.refs[policy_id] = f"arn:aws:iam::{ACCOUNT}:policy/{policy_name}"
        role_id, role = _only(template, "AWS::IAM::Role")
        self.attrs[f"{role_id}.Arn"] = (
            f"arn:aws:iam::{ACCOUNT}:role/{self(role['Properties']['RoleName'])}"
        )

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.refs[value["Ref"]]
        if set(value) == {"Fn::GetAtt"}:
            return self.attrs[".".join(value["Fn::GetAtt"])]
        if set(value) == {"Fn::Sub"}:
            assert isinstance(value["Fn::Sub"], str), "only the one-argument Fn::Sub is resolved"
            return re.sub(
                r"\$\{([^}]+)\}",
                lambda m: self.attrs.get(m.group(1)) or self.refs[m.group(1)],
                value["Fn::Sub"],
            )
        return {k: self(v) for k, v in value.items()}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every permission statement the role carries: its managed and inline policies."""
    _, policy = _only(template, "AWS::IAM::ManagedPolicy")
    _, role = _only(template, "AWS::IAM::Role")
    statements = list(policy["Properties"]["PolicyDocument"]["Statement"])
    for inline in role["Properties"].get("Policies", []):
        statements.extend(inline["PolicyDocument"]["Statement"])
    return statements


def test_role_is_named_per_stage() -> None:
    _, role = _only(load_template(), "AWS::IAM::Role")
    assert role["Properties"]["RoleName"] == {"Fn::Sub": "change-readiness-portal-${Stage}-lambda"}


def test_role_trusts_only_the_services_zappa_hands_it_to() -> None:
    _, role = _only(load_template(), "AWS::IAM::Role")
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert _as_list(statement["Action"]) == ["sts:AssumeRole"]
    assert set(statement["Principal"]) == {"Service"}
    assert set(_as_list(statement["Principal"]["Service"])) == TRUSTED_SERVICES


def test_role_gets_the_portal_policy_and_no_other_managed_policy() -> None:
    template = load_template()
    policy_id, _ = _only(template, "AWS::IAM::ManagedPolicy")
    _, role = _only(template, "AWS::IAM::Role")
    assert role["Properties"]["ManagedPolicyArns"] == [{"Ref": policy_id}]
    # Nothing else in the stack can add permissions to the role behind its back.
    iam_types = {
        r["Type"] for r in template["Resources"].values() if r["Type"].startswith("AWS::IAM")
    }
    assert iam_types == {"AWS::IAM::ManagedPolicy", "AWS::IAM::Role"}


def test_role_may_do_exactly_the_listed_actions() -> None:
    statements = _role_statements(load_template())
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
    assert {a for s in statements for a in _as_list(s["Action"])} == ROLE_ACTIONS


def test_no_policy_in_the_template_has_a_wildcard_action() -> None:
    template = load_template()
    statements = _role_statements(template)
    _, role = _only(template, "AWS::IAM::Role")
    statements += role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    for statement in statements:
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"{statement.get('Sid', statement)}: {action}"


@pytest.mark.parametrize("stage", STAGES)
def test_role_reaches_only_this_stages_resources(stage: str) -> None:
    template = load_template()
    statements = _Resolver(template, stage)(_role_statements(template))
    other = next(s for s in STAGES if s != stage)
    assert f"portal-{other}" not in json.dumps(statements)
    assert f"portal/{other}/" not in json.dumps(statements)
    for statement in statements:
        for resource in _as_list(statement["Resource"]):
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
def test_logs_and_invocation_are_limited_to_this_stages_function(stage: str) -> None:
    template = load_template()
    statements = _Resolver(template, stage)(_role_statements(template))
    by_service: dict[str, set[str]] = {}
    for statement in statements:
        for action in _as_list(statement["Action"]):
            service = action.split(":")[0]
            by_service.setdefault(service, set()).update(_as_list(statement["Resource"]))
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/change-readiness-portal-{stage}"
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:change-readiness-portal-{stage}"
    assert by_service["logs"] == {group, f"{group}:*"}
    assert by_service["lambda"] == {function, f"{function}:*"}
    assert by_service["ssm"] == {
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/change-readiness-portal/{stage}/*"
    }
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/change-readiness-portal-{stage}"
    assert by_service["dynamodb"] == {table, f"{table}/index/*"}
