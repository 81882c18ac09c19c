"""infra/deploy.py: `make deploy` and `make upgrade`, idempotent, as far as moto emulates AWS.

A moto server stands in for AWS (on 127.0.0.1). Zappa's deploy and update cannot run
through against it (docs/self-hosting-aws.md), so ``--no-zappa`` prints those commands;
everything else (bucket, stack, secret, log group, zip, stage throttling, the regional
custom domain, the first admin) really happens, twice, and the second run must change
nothing it should keep. A REST API made here stands in for the one ``zappa deploy`` makes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import lambda_harness as harness

pytestmark = [
    pytest.mark.slow,
    # moto warns once for each stack resource it skips (its server runs in this process).
    pytest.mark.filterwarnings("ignore:Tried to parse AWS::"),
]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "infra" / "deploy.py"
STAGE = "dev"
FUNCTION = f"change-readiness-portal-{STAGE}"
DOMAIN = "survey.example.com"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0123456789ab"
OVERLAY = {
    "s3_bucket": "crp-zappa-dev-deploy-test",
    "domain": DOMAIN,
    "certificate_arn": CERTIFICATE,
}
ADMIN = "hr.lead@example.com"


def _run(
    *args: str, endpoint: str = "http://127.0.0.1:9", overlay: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    extra = ["--overlay", str(overlay)] if overlay else []
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--stage", STAGE, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def overlay(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("deploy") / "dev.json"
    path.write_text(json.dumps(OVERLAY))
    return path


def _headings(output: str) -> list[str]:
    """Return the first word of each step's line (notes at the end left out)."""
    lines = [line for line in output.splitlines() if line and not line[0].isspace()]
    return [line.split(" ")[0] for line in lines if not line.startswith("Note:")]


def test_dry_run_lists_every_deploy_step_in_order_and_calls_no_aws(overlay: Path) -> None:
    # AWS_ENDPOINT_URL points at a closed port: any AWS call would fail the run.
    result = _run("deploy", "--dry-run", "--admin-email", ADMIN, overlay=overlay)
    assert result.returncode == 0, result.stderr
    assert _headings(result.stdout) == [
        "deploy",
        "Bucket",
        "Stack",
        "Secret",
        "Log",
        "Package",
        "Function",
        "Architecture",
        "Stack",
        "API",
        "API",
        "Custom",
        "First",
        "Health",
        "done",
    ]


def test_upgrade_leaves_bucket_secret_and_accounts_alone(overlay: Path) -> None:
    result = _run("upgrade", "--dry-run", "--admin-email", ADMIN, overlay=overlay)
    assert result.returncode == 0, result.stderr
    assert _headings(result.stdout) == [
        "upgrade",
        "Stack",
        "Package",
        "Function",
        "Architecture",
        "API",
        "API",
        "Custom",
        "Health",
        "done",
    ]


def test_refuses_the_placeholder_bucket(tmp_path: Path) -> None:
    result = _run("deploy", "--dry-run", overlay=tmp_path / "none.json")
    assert result.returncode == 1
    assert "s3_bucket" in result.stderr and "deploy/dev.json" in result.stderr


def test_refuses_a_stack_parameter_the_template_does_not_take(
    tmp_path: Path, moto: dict[str, Any]
) -> None:
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({**OVERLAY, "portal_stack_parameters": {"NoSuch": "1"}}))
    result = _run("upgrade", "--no-zappa", endpoint=moto["endpoint"], overlay=path)
    assert result.returncode == 1
    assert "NoSuch" in result.stderr


@pytest.fixture(scope="module")
def moto(overlay: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Deploy twice and upgrade once against one moto server; yield what they did."""
    import boto3

    dist = tmp_path_factory.mktemp("dist")
    # moto_endpoint starts empty and leaves nothing (moto servers in one process share state).
    with harness.moto_endpoint() as endpoint:
        clients = {
            name: boto3.client(
                name,
                endpoint_url=endpoint,
                region_name="eu-west-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            for name in ("apigateway", "cloudformation", "s3", "ssm", "lambda", "dynamodb")
        }
        runs = {}
        for name in ("first", "second"):
            if name == "second":
                _stand_in_for_zappa(clients)
            runs[name] = _run(
                "deploy",
                "--no-zappa",
                "--admin-email",
                ADMIN,
                "--dist",
                str(dist),
                endpoint=endpoint,
                overlay=overlay,
            )
        runs["upgrade"] = _run(
            "upgrade", "--no-zappa", "--dist", str(dist), endpoint=endpoint, overlay=overlay
        )
        yield {"endpoint": endpoint, "clients": clients, "runs": runs, "dist": dist}


def _stand_in_for_zappa(clients: dict[str, Any]) -> None:
    """Make the REST API (with its stage) and the function, as `zappa deploy` would.

    Zappa's API has ``/`` and ``/{proxy+}``, each ``ANY`` with an ``AWS_PROXY`` integration
    whose credentials are the function's own role.
    """
    apigateway = clients["apigateway"]
    api = apigateway.create_rest_api(name=FUNCTION)["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    proxy = apigateway.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")["id"]
    function_arn = f"arn:aws:lambda:eu-west-1:{harness.FAKE_ACCOUNT}:function:{FUNCTION}"
    for resource in (root, proxy):
        apigateway.put_method(
            restApiId=api, resourceId=resource, httpMethod="ANY", authorizationType="NONE"
        )
        apigateway.put_integration(
            restApiId=api,
            resourceId=resource,
            httpMethod="ANY",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{function_arn}/invocations",
            credentials=f"arn:aws:iam::{harness.FAKE_ACCOUNT}:role/{FUNCTION}-lambda",
        )
    apigateway.create_deployment(restApiId=api, stageName=STAGE)
    clients["lambda"].create_function(
        FunctionName=FUNCTION,
        Runtime="python3.13",
        Role=f"arn:aws:iam::{harness.FAKE_ACCOUNT}:role/{FUNCTION}-lambda",
        Handler="handler.lambda_handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
        Architectures=["x86_64"],
    )


def test_every_run_succeeds(moto: dict[str, Any]) -> None:
    for name, result in moto["runs"].items():
        assert result.returncode == 0, f"{name}:\n{result.stdout}{result.stderr}"


def test_first_deploy_makes_the_private_bucket_the_stack_and_the_secret(
    moto: dict[str, Any],
) -> None:
    clients = moto["clients"]
    block = clients["s3"].get_public_access_block(Bucket=OVERLAY["s3_bucket"])
    assert all(block["PublicAccessBlockConfiguration"].values())
    stack = clients["cloudformation"].describe_stacks(
        StackName=f"change-readiness-portal-infra-{STAGE}"
    )["Stacks"][0]
    assert stack["StackStatus"].endswith("_COMPLETE")
    assert FUNCTION in clients["dynamodb"].list_tables()["TableNames"]
    secret = clients["ssm"].get_parameter(
        Name=f"/change-readiness-portal/{STAGE}/secret-key", WithDecryption=True
    )["Parameter"]
    assert secret["Type"] == "SecureString"
    assert len(secret["Value"]) == 64
    for result in moto["runs"].values():
        assert secret["Value"] not in result.stdout + result.stderr


def test_second_deploy_keeps_the_bucket_secret_and_admin(moto: dict[str, Any]) -> None:
    first, second = moto["runs"]["first"].stdout, moto["runs"]["second"].stdout
    assert "  created" in first.split("Secret key", 1)[1].split("\n")[1]
    assert "exists (kept)" in second.split("Secret key", 1)[1]
    assert "One-time password" in first
    assert "One-time password" not in second
    assert "exists (kept)" in second.split("First admin", 1)[1]


def test_zappa_deploys_a_new_function_and_updates_an_existing_one(moto: dict[str, Any]) -> None:
    runs = moto["runs"]
    assert "zappa deploy --zip" in runs["first"].stdout
    assert "zappa update --zip" in runs["second"].stdout
    assert "zappa update --zip" in runs["upgrade"].stdout
    assert f"-s {moto['dist'] / 'zappa_settings.dev.json'}" in runs["upgrade"].stdout


def test_the_zip_carries_the_deployments_own_settings(moto: dict[str, Any]) -> None:
    with zipfile.ZipFile(moto["dist"] / "change-readiness-portal-dev.zip") as archive:
        baked = archive.read("zappa_settings.py").decode()
    assert f"'PORTAL_PUBLIC_URL': 'https://{DOMAIN}'" in baked


def test_a_function_made_on_x86_is_moved_to_arm64(moto: dict[str, Any]) -> None:
    # Zappa 0.63 sets the architecture only when it creates the function. moto answers the
    # UpdateFunctionCode call but ignores its Architectures, so the script's decision is
    # what is checked here, not the function's new architecture.
    runs = moto["runs"]
    assert "Architecture arm64\n  no function (yet): skipped" in runs["first"].stdout
    assert "Architecture arm64\n  moved from x86_64" in runs["second"].stdout


def test_the_apis_integrations_get_the_stacks_api_gateway_role(moto: dict[str, Any]) -> None:
    clients = moto["clients"]
    stack = clients["cloudformation"].describe_stacks(
        StackName=f"change-readiness-portal-infra-{STAGE}"
    )["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if "ApiGatewayRoleArn" not in outputs:
        pytest.skip("infra/portal.yaml has no ApiGatewayRoleArn output")
    api = _api_id(moto)
    credentials = [
        clients["apigateway"].get_integration(
            restApiId=api, resourceId=resource["id"], httpMethod="ANY"
        )["credentials"]
        for resource in clients["apigateway"].get_resources(restApiId=api)["items"]
    ]
    assert credentials == [outputs["ApiGatewayRoleArn"]] * 2
    assert "2 integration(s) now use" in moto["runs"]["second"].stdout
    assert "API integrations' role\n  unchanged" in moto["runs"]["upgrade"].stdout


def _api_id(moto: dict[str, Any]) -> str:
    apis = moto["clients"]["apigateway"].get_rest_apis()["items"]
    return next(api["id"] for api in apis if api["name"] == FUNCTION)


def test_the_api_stage_is_throttled(moto: dict[str, Any]) -> None:
    stage = moto["clients"]["apigateway"].get_stage(restApiId=_api_id(moto), stageName=STAGE)
    limits = harness.zappa_stage(STAGE)["portal_api_throttling"]
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == limits["rate_limit"]
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == limits["burst_limit"]


def test_the_custom_domain_is_regional_and_serves_the_stage_at_its_root(
    moto: dict[str, Any],
) -> None:
    apigateway = moto["clients"]["apigateway"]
    domain = apigateway.get_domain_name(domainName=DOMAIN)
    assert domain["endpointConfiguration"]["types"] == ["REGIONAL"]
    assert domain["regionalCertificateArn"] == CERTIFICATE
    assert domain.get("securityPolicy") == "TLS_1_2"
    [mapping] = apigateway.get_base_path_mappings(domainName=DOMAIN)["items"]
    assert (mapping["basePath"], mapping["restApiId"], mapping["stage"]) == (
        "(none)",
        _api_id(moto),
        STAGE,
    )
    assert "mapping unchanged" in moto["runs"]["upgrade"].stdout


def test_the_stack_learns_the_rest_apis_id_once_it_exists(moto: dict[str, Any]) -> None:
    stack = moto["clients"]["cloudformation"].describe_stacks(
        StackName=f"change-readiness-portal-infra-{STAGE}"
    )["Stacks"][0]
    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stack["Parameters"]}
    if "ApiId" not in parameters:
        pytest.skip("infra/portal.yaml takes no ApiId parameter")
    assert parameters["ApiId"] == _api_id(moto)
