"""The CloudFormation template: lint-clean, and the same table the code creates."""

from __future__ import annotations

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


def test_template_outputs_table_name_and_policy_arn() -> None:
    assert set(load_template()["Outputs"]) == {"TableName", "PolicyArn"}
