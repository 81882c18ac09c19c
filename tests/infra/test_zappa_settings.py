"""zappa_settings.json: two stages that deploy the portal with production settings, and the
deployment's own overlay (deploy/<stage>.json) merged over them."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest

from bench.lambda_harness import ZAPPA_SETTINGS, zappa_stage
from infra.stage_settings import SettingsError, stage_settings, write_zappa_settings
from tests.infra.test_cloudformation import function_role, load_template

STAGES = ("dev", "prod")
ROOT = Path(__file__).resolve().parents[2]


def test_settings_file_is_json_with_dev_and_prod_stages() -> None:
    assert set(json.loads(ZAPPA_SETTINGS.read_text())) == set(STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_stage_serves_portal_wsgi_app_on_python_313(stage: str) -> None:
    # python3.13: the Python runtime with the longest support window AWS lists (until 2029).
    settings = zappa_stage(stage)
    assert settings["app_function"] == "portal.wsgi.app"
    assert settings["runtime"] == "python3.13"
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
def test_stage_leaves_schedules_and_the_first_request_to_the_stack_and_make_deploy(
    stage: str,
) -> None:
    # Zappa hands role_name to EventBridge for `events`, and the function's role is trusted by
    # Lambda alone: the daily job is the stack's EventBridge Scheduler schedule instead. Zappa's
    # `touch` request comes before the API has its own role, so it would fail the deploy;
    # make deploy checks /healthz afterwards.
    settings = zappa_stage(stage)
    assert "events" not in settings
    assert settings["touch"] is False


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
    _, role = function_role(load_template())  # the one role Lambda may assume
    pattern = role["Properties"]["RoleName"]["Fn::Sub"]
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


# Runtime settings (issue 13, item 6).


@pytest.mark.parametrize("stage", STAGES)
def test_stage_ends_tls_in_its_own_region_unless_the_admin_chooses_edge(stage: str) -> None:
    # Zappa's default (EDGE) puts CloudFront in front: TLS ends at edge locations worldwide.
    assert zappa_stage(stage)["endpoint_configuration"] == ["REGIONAL"]


@pytest.mark.parametrize("stage", STAGES)
def test_stage_runs_on_arm64(stage: str) -> None:
    # The zip carries no compiled extension (tests/infra/test_package.py checks it).
    assert zappa_stage(stage)["architecture"] == "arm64"


@pytest.mark.parametrize("stage", STAGES)
def test_function_gives_up_before_api_gateway_does(stage: str) -> None:
    # API Gateway answers 504 after 29 s; a function still running after that is billed for
    # work nobody receives.
    assert zappa_stage(stage)["timeout_seconds"] < 29


@pytest.mark.parametrize("stage", STAGES)
def test_stage_caps_its_concurrency_and_its_request_rate(stage: str) -> None:
    settings = zappa_stage(stage)
    assert isinstance(settings["lambda_concurrency"], int)
    assert 1 <= settings["lambda_concurrency"] <= 50
    throttling = settings["portal_api_throttling"]
    assert 0 < throttling["rate_limit"] <= throttling["burst_limit"]


@pytest.mark.parametrize("stage", STAGES)
def test_stage_tags_its_resources_with_the_application_and_the_stage(stage: str) -> None:
    assert zappa_stage(stage)["tags"] == {"application": "change-readiness-portal", "stage": stage}


# A deployment's own values live in deploy/<stage>.json, merged over the tracked defaults
# (issue 13, item 8; infra/stage_settings.py).


@pytest.mark.parametrize("stage", STAGES)
def test_tracked_settings_hold_no_deployments_own_values(stage: str) -> None:
    settings = zappa_stage(stage)
    assert settings["s3_bucket"].endswith("-replace-me")
    assert not {"domain", "certificate_arn"} & set(settings)
    assert "PORTAL_PUBLIC_URL" not in settings["environment_variables"]


def test_git_ignores_each_deployments_own_settings() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "deploy/prod.json", "deploy/dev.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == ["deploy/prod.json", "deploy/dev.json"]


def test_the_documented_example_overlay_is_valid(tmp_path: Path) -> None:
    example = ROOT / "deploy" / "example.json"
    settings = stage_settings("prod", overlay=example)
    assert settings["domain"] == json.loads(example.read_text())["domain"]


def _overlay(tmp_path: Path, **values: object) -> Path:
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(values))
    return path


REGIONAL_CERT = (
    "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
)
EDGE_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"


def test_overlay_values_win_and_variables_and_tags_merge_name_by_name(tmp_path: Path) -> None:
    overlay = _overlay(
        tmp_path,
        s3_bucket="acme-portal-zappa",
        aws_region="eu-central-1",
        environment_variables={"PORTAL_DYNAMODB_TABLE": "restored-2026"},
        tags={"cost-center": "4711"},
    )
    settings = stage_settings("prod", overlay=overlay)
    assert settings["s3_bucket"] == "acme-portal-zappa"
    assert settings["aws_region"] == "eu-central-1"
    assert settings["environment_variables"] == {
        **zappa_stage("prod")["environment_variables"],
        "PORTAL_DYNAMODB_TABLE": "restored-2026",
    }
    assert settings["tags"] == {
        "application": "change-readiness-portal",
        "stage": "prod",
        "cost-center": "4711",
    }
    assert settings["log_level"] == "WARNING"


def test_a_missing_overlay_leaves_the_tracked_defaults(tmp_path: Path) -> None:
    tracked = {k: v for k, v in zappa_stage("prod").items() if k != "extends"}
    assert stage_settings("prod", overlay=tmp_path / "none.json") == tracked


def test_null_in_the_overlay_removes_a_setting(tmp_path: Path) -> None:
    # For an account whose concurrency quota is still 10, where no function may reserve any.
    settings = stage_settings("prod", overlay=_overlay(tmp_path, lambda_concurrency=None))
    assert "lambda_concurrency" not in settings


@pytest.mark.parametrize(
    "values",
    [
        {"log_level": "INFO"},
        {"debug": True},
        {"cloudwatch_log_level": "INFO"},
        {"cloudwatch_data_trace": True},
        {"manage_roles": True},
        {"role_arn": "arn:aws:iam::123456789012:role/admin"},
        {"exclude_glob": []},
        {"runtime": "python3.12"},
        {"environment_variables": {"PORTAL_ENV": "development"}},
        {"environment_variables": {"PORTAL_STORAGE": "sqlite"}},
    ],
    ids=lambda values: next(iter(values)) + str(values.get("environment_variables", "")),
)
def test_overlay_may_not_touch_what_anonymity_and_least_privilege_rest_on(
    tmp_path: Path, values: dict[str, object]
) -> None:
    with pytest.raises(SettingsError, match="may not"):
        stage_settings("prod", overlay=_overlay(tmp_path, **values))


def test_public_url_follows_the_custom_domain(tmp_path: Path) -> None:
    overlay = _overlay(tmp_path, domain="survey.example.com", certificate_arn=REGIONAL_CERT)
    settings = stage_settings("prod", overlay=overlay)
    assert settings["environment_variables"]["PORTAL_PUBLIC_URL"] == "https://survey.example.com"


def test_a_public_url_that_disagrees_with_the_domain_is_refused(tmp_path: Path) -> None:
    overlay = _overlay(
        tmp_path,
        domain="survey.example.com",
        certificate_arn=REGIONAL_CERT,
        environment_variables={"PORTAL_PUBLIC_URL": "https://old.example.com"},
    )
    with pytest.raises(SettingsError, match="follows the domain"):
        stage_settings("prod", overlay=overlay)


@pytest.mark.parametrize(
    ("endpoint", "certificate", "accepted"),
    [
        ("REGIONAL", REGIONAL_CERT, True),
        ("REGIONAL", EDGE_CERT, False),
        ("EDGE", EDGE_CERT, True),
        ("EDGE", REGIONAL_CERT, False),
    ],
)
def test_certificate_must_be_where_the_endpoint_type_needs_it(
    tmp_path: Path, endpoint: str, certificate: str, accepted: bool
) -> None:
    overlay = _overlay(
        tmp_path,
        domain="survey.example.com",
        certificate_arn=certificate,
        endpoint_configuration=[endpoint],
    )
    if accepted:
        assert stage_settings("prod", overlay=overlay)["certificate_arn"] == certificate
    else:
        with pytest.raises(SettingsError, match="needs the certificate in"):
            stage_settings("prod", overlay=overlay)


@pytest.mark.parametrize(
    "values",
    [
        {"domain": "survey.example.com"},
        {"certificate_arn": REGIONAL_CERT},
        {"domain": "https://survey.example.com", "certificate_arn": REGIONAL_CERT},
        {"domain": "survey.example.com", "certificate_arn": "arn:aws:iam::1:role/x"},
        {"endpoint_configuration": ["PRIVATE"]},
        {"lambda_concurrency": 0},
        {"portal_api_throttling": {"rate_limit": 0, "burst_limit": 10}},
        {"environment_variables": {"PORTAL_PUBLIC_URL": "http://survey.example.com"}},
    ],
    ids=str,
)
def test_unusable_overlays_are_refused_with_a_reason(
    tmp_path: Path, values: dict[str, object]
) -> None:
    with pytest.raises(SettingsError):
        stage_settings("prod", overlay=_overlay(tmp_path, **values))


def test_zappa_gets_a_flat_stage_without_the_portals_own_keys(tmp_path: Path) -> None:
    settings = stage_settings("prod", overlay=_overlay(tmp_path, s3_bucket="acme"))
    written = json.loads(write_zappa_settings("prod", settings, tmp_path / "z.json").read_text())
    assert list(written) == ["prod"]
    assert "extends" not in written["prod"]
    assert not [key for key in written["prod"] if key.startswith("portal_")]
    assert written["prod"]["s3_bucket"] == "acme"
