"""zappa_settings.json: two stages that deploy the portal with production settings."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from bench.lambda_harness import ZAPPA_SETTINGS, zappa_stage
from tests.infra.test_cloudformation import load_template

STAGES = ("dev", "prod")
ROOT = Path(__file__).resolve().parents[2]


def test_settings_file_is_json_with_dev_and_prod_stages() -> None:
    assert set(json.loads(ZAPPA_SETTINGS.read_text())) == set(STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_stage_serves_portal_wsgi_app_on_python_311(stage: str) -> None:
    settings = zappa_stage(stage)
    assert settings["app_function"] == "portal.wsgi.app"
    assert settings["runtime"] == "python3.11"
    assert settings["use_precompiled_packages"] is False


@pytest.mark.parametrize("stage", STAGES)
def test_stage_never_returns_tracebacks_to_clients(stage: str) -> None:
    # Zappa's default is debug=True, which puts the traceback of any exception that escapes
    # Flask (a missing secret, say) into the HTTP response.
    assert zappa_stage(stage)["debug"] is False


@pytest.mark.parametrize("stage", STAGES)
def test_stage_uses_its_own_table_and_secret(stage: str) -> None:
    env = dict(zappa_stage(stage)["environment_variables"])
    # The one setting a deployment may add (docs/self-hosting-aws.md): where links point.
    public_url = env.pop("PORTAL_PUBLIC_URL", "https://")
    assert public_url.startswith("https://")
    assert env == {
        "PORTAL_ENV": "production",
        "PORTAL_STORAGE": "dynamodb",
        "PORTAL_DYNAMODB_TABLE": f"change-readiness-portal-{stage}",
        "PORTAL_SECRET_KEY_SSM_PARAMETER": f"/change-readiness-portal/{stage}/secret-key",
    }


@pytest.mark.parametrize("stage", STAGES)
def test_excludes_are_safe_at_any_depth(stage: str) -> None:
    # Zappa matches `exclude` against base names at every depth: a name like "tests" or
    # "six.py" would also drop folders inside packages (webassets ships its own six.py).
    # Such names belong in `exclude_glob`, which is relative to the package root.
    exclude = set(zappa_stage(stage)["exclude"])
    assert not exclude & {"tests", "docs", "static", "templates", "portal", "six.py", "src"}


@pytest.mark.parametrize("stage", STAGES)
def test_scheduled_functions_exist(stage: str) -> None:
    for event in zappa_stage(stage).get("events", []):
        module, _, function = event["function"].rpartition(".")
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None, f"{module} is not importable"
        assert Path(spec.origin).is_relative_to(ROOT)
        assert f"def {function}(" in Path(spec.origin).read_text()


@pytest.mark.parametrize("stage", STAGES)
def test_stage_runs_as_the_templates_role_not_a_zappa_managed_one(stage: str) -> None:
    # With manage_roles (Zappa's default) Zappa creates <name>-ZappaLambdaExecutionRole with
    # logs:*, s3:*, dynamodb:*, sqs:*, sns:*, kinesis:* ... on every resource in the account.
    settings = zappa_stage(stage)
    assert settings["manage_roles"] is False
    # role_arn would override role_name and tie the settings to one AWS account.
    assert "role_arn" not in settings
    roles = [r for r in load_template()["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert len(roles) == 1
    pattern = roles[0]["Properties"]["RoleName"]["Fn::Sub"]
    assert settings["role_name"] == pattern.replace("${Stage}", stage)


@pytest.mark.parametrize("stage", STAGES)
def test_stage_logs_no_request_lines(stage: str) -> None:
    # Zappa's default log_level is DEBUG. At INFO it logs every request in Common Log Format
    # with the client's IP address; at DEBUG botocore also logs every request and response
    # body (the answers being stored, the secret key read from SSM).
    settings = zappa_stage(stage)
    assert settings.get("log_level") in {"WARNING", "ERROR", "CRITICAL"}


@pytest.mark.parametrize("stage", STAGES)
def test_stage_keeps_api_gateway_execution_logging_off(stage: str) -> None:
    # Zappa applies these to the API Gateway stage on every deploy and update; INFO with
    # data trace would log whole requests, IP addresses included.
    settings = zappa_stage(stage)
    assert settings["cloudwatch_log_level"] == "OFF"
    assert settings["cloudwatch_data_trace"] is False


def test_documented_infra_stack_is_not_named_like_zappas_own_stack() -> None:
    # Zappa keeps API Gateway in a CloudFormation stack named <project_name>-<stage>: an infra
    # stack of that name would be overwritten by `zappa deploy` and deleted by `zappa undeploy`.
    project = re.escape(zappa_stage("dev")["project_name"])
    documents = [ROOT / "infra" / "portal.yaml", ROOT / "docs" / "self-hosting-aws.md"]
    names = [n for d in documents for n in re.findall(r"--stack-name\s+(\S+)", d.read_text())]
    assert names
    for name in names:
        assert not re.fullmatch(rf"{project}-(dev|prod|\$\{{?\w+\}}?)", name), name
