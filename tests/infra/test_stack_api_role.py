"""The documented step that gives the REST API its own role works, run as written against moto.

Zappa 0.63 puts the function's role into the REST API's integrations as their credentials;
the function's role is trusted by Lambda alone, so docs/self-hosting-aws.md has the admin
point both integrations at the stack's API Gateway role after every deploy and update. This
runs that shell block with the AWS CLI against the stack and a REST API made as Zappa makes
it (two resources, ``/`` and ``/{proxy+}``, each ``ANY`` with an ``AWS_PROXY`` integration).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from bench.lambda_harness import moto_endpoint
from tests.infra.test_cloudformation import REGION, load_template

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS::")

DOC = Path(__file__).resolve().parents[2] / "docs" / "self-hosting-aws.md"
HEADING = "### After every `zappa deploy` and `update`: the API's own role"
STAGE = "prod"
FUNCTION = f"change-readiness-portal-{STAGE}"
ACCOUNT = "123456789012"


def documented_block() -> str:
    """Return the first ``sh`` block under the heading, as the admin would paste it."""
    section = DOC.read_text().split(HEADING, 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "the section has no sh block"
    return match.group(1)


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """Yield boto3 arguments for a moto server holding the stack and a Zappa-made REST API."""
    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI (aws) is not installed")
    with moto_endpoint() as endpoint:
        arguments = {
            "endpoint_url": endpoint,
            "region_name": REGION,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        boto3.client("cloudformation", **arguments).create_stack(
            StackName=f"change-readiness-portal-infra-{STAGE}",
            TemplateBody=json.dumps(load_template()),
            Parameters=[{"ParameterKey": "Stage", "ParameterValue": STAGE}],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        apigateway = boto3.client("apigateway", **arguments)
        api = apigateway.create_rest_api(name=FUNCTION)["id"]
        (root,) = apigateway.get_resources(restApiId=api)["items"]
        proxy = apigateway.create_resource(restApiId=api, parentId=root["id"], pathPart="{proxy+}")
        function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"
        for resource in (root["id"], proxy["id"]):
            apigateway.put_method(
                restApiId=api, resourceId=resource, httpMethod="ANY", authorizationType="NONE"
            )
            apigateway.put_integration(
                restApiId=api,
                resourceId=resource,
                httpMethod="ANY",
                type="AWS_PROXY",
                integrationHttpMethod="POST",
                uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function}/invocations",
                credentials=f"arn:aws:iam::{ACCOUNT}:role/{FUNCTION}-lambda",
                passthroughBehavior="NEVER",
            )
        apigateway.create_deployment(restApiId=api, stageName=STAGE)
        yield arguments


def test_the_documented_step_points_both_integrations_at_the_api_gateway_role(
    aws: dict[str, Any], tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": aws["endpoint_url"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", documented_block()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    apigateway = boto3.client("apigateway", **aws)
    (api,) = apigateway.get_rest_apis()["items"]
    resources = apigateway.get_resources(restApiId=api["id"])["items"]
    assert len(resources) == 2
    for resource in resources:
        integration = apigateway.get_integration(
            restApiId=api["id"], resourceId=resource["id"], httpMethod="ANY"
        )
        assert integration["credentials"] == f"arn:aws:iam::{ACCOUNT}:role/{FUNCTION}-apigateway"
        assert integration["type"] == "AWS_PROXY"
        assert integration["uri"].endswith(f"function:{FUNCTION}/invocations")
    assert len(apigateway.get_deployments(restApiId=api["id"])["items"]) == 2
