"""The DynamoDB table keeps no per-second history of answers unless the operator chooses it."""

from __future__ import annotations

from tests.infra.test_cloudformation import _table, load_template


def test_point_in_time_recovery_is_a_parameter_that_defaults_to_off() -> None:
    template = load_template()
    parameter = template["Parameters"]["PointInTimeRecovery"]
    assert parameter["Default"] == "false"
    assert sorted(parameter["AllowedValues"]) == ["false", "true"]
    assert "second" in parameter["Description"]  # the risk is stated where it is switched
    condition = template["Conditions"]["WithPointInTimeRecovery"]
    assert condition == {"Fn::Equals": [{"Ref": "PointInTimeRecovery"}, "true"]}
    spec = _table(template)["Properties"]["PointInTimeRecoverySpecification"]
    assert spec == {
        "PointInTimeRecoveryEnabled": {"Fn::If": ["WithPointInTimeRecovery", True, False]}
    }


def test_the_table_streams_no_changes() -> None:
    # A stream would keep 24 hours of every write, in order: answers and used codes together.
    properties = _table(load_template())["Properties"]
    assert "StreamSpecification" not in properties
    assert "KinesisStreamSpecification" not in properties
