"""Deploy or upgrade one stage: ``python infra/deploy.py deploy|upgrade --stage prod``.

``make deploy STAGE=prod`` and ``make upgrade STAGE=prod`` run this after building the
bundles. Every step checks before it acts, so running either again does no harm and
finishes what an interrupted run left undone:

``deploy`` (first installation, and safe to repeat)
    1. the Zappa bucket (created private if missing);
    2. the stack ``change-readiness-portal-infra-<stage>`` from ``infra/portal.yaml``
       (created, or updated if the template or its parameters changed);
    3. the session-signing key in SSM (created once as a SecureString, never replaced or
       printed);
    4. the function's log group with 30 days' retention, unless it exists;
    5. the zip (``infra/package.py``) and the merged settings beside it;
    6. ``zappa deploy`` if the function does not exist yet, else ``zappa update`` (the
       daily job is the stack's schedule, not Zappa's ``events``);
    6a. the function's architecture, if it differs (Zappa sets it only on create);
    6b. the stack again with ``ApiId``, the REST API's id, if the template takes it and
       it changed (the API exists only after ``zappa deploy``);
    6c. the REST API's integrations get the stack's API Gateway role (Zappa writes the
       function's role into them), and the stage is redeployed if one changed;
    7. API stage throttling (``portal_api_throttling``): Zappa has no setting for it;
    8. the custom domain: for a REGIONAL endpoint, an API Gateway regional domain name with
       the certificate, a mapping of its root to the stage, and a Route 53 alias if
       ``portal_route53_hosted_zone_id`` is set (else the DNS record to make is printed);
       for EDGE, ``zappa certify`` (whose domain is always edge-optimized);
    9. with ``--admin-email``, the first admin (``portal user create``; skipped if the
       account exists);
    10. a health check of ``/healthz`` on the API Gateway address and the domain.

``upgrade`` runs steps 2, 5, 6, 6a, 6c, 7, 8 and 10: the stack (a no-op unless the template or a
parameter changed; it keeps the stack's other parameters as they are), the zip,
``zappa update``, throttling, domain, health check.

``--dry-run`` prints the steps and touches nothing. ``--no-zappa`` runs every AWS step
but only prints the Zappa commands and skips the health check: that is what runs in the
tests against a moto server, which cannot run Zappa's deploy and update through.

The deployment's values come from ``deploy/<stage>.json`` (``infra/stage_settings.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stage_settings import SettingsError, stage_settings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "portal.yaml"
PACKAGE_SCRIPT = ROOT / "infra" / "package.py"
ZAPPA = ROOT / ".venv-lambda" / "bin" / "zappa"
PORTAL = Path(sys.executable).parent / "portal"
LOG_RETENTION_DAYS = 30
#: CloudFormation takes a template body up to this size; larger ones go through S3.
MAX_TEMPLATE_BODY = 51_200
HEALTH_WAIT_SECONDS = 120
STAGES = ("dev", "prod")


class DeployError(Exception):
    """A step failed; the message says what to do about it."""


def stack_name(stage: str) -> str:
    """Return the infra stack's name (never Zappa's own ``<project>-<stage>``)."""
    return f"change-readiness-portal-infra-{stage}"


@dataclass
class Deployment:
    """One run: the stage, its merged settings, and how much of it really happens."""

    stage: str
    settings: dict[str, Any]
    dist: Path
    dry_run: bool = False
    run_zappa: bool = True
    admin_email: str | None = None
    overlay: Path | None = None
    session: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def function_name(self) -> str:
        """Return the name Zappa gives the function and its REST API."""
        return f"{self.settings['project_name']}-{self.stage}"

    @property
    def zip_path(self) -> Path:
        """Return where this run's zip is built."""
        return self.dist / f"change-readiness-portal-{self.stage}.zip"

    @property
    def settings_path(self) -> Path:
        """Return the merged settings Zappa is given (written beside the zip)."""
        return self.dist / f"zappa_settings.{self.stage}.json"

    def client(self, service: str) -> Any:
        """Return a boto3 client in the stage's region (honours ``AWS_ENDPOINT_URL``)."""
        if self.session is None:
            import boto3

            self.session = boto3.Session(region_name=self.settings["aws_region"])
        return self.session.client(service)

    def say(self, message: str) -> None:
        """Print one line of progress."""
        print(message, flush=True)

    def command(self, cmd: list[str], *, doing: str, env: dict[str, str] | None = None) -> str:
        """Run ``cmd`` (print it in a dry run); return its output, raise on failure."""
        shown = " ".join(str(part) for part in cmd)
        if self.dry_run:
            self.say(f"  would run: {shown}")
            return ""
        self.say(f"  running: {shown}")
        result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise DeployError(
                f"{doing} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return result.stdout


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


# Steps. Each checks, then acts; in a dry run it only says what it would check and do.


def ensure_bucket(run: Deployment) -> None:
    """Create the Zappa bucket, private, unless it exists."""
    bucket = run.settings["s3_bucket"]
    run.say(f"Bucket {bucket}")
    if run.dry_run:
        run.say("  would create it (private, public access blocked) unless it exists")
        return
    s3 = run.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
        run.say("  exists")
        return
    except Exception as exc:
        if _error_code(exc) in {"403", "Forbidden"}:
            raise DeployError(
                f"The bucket {bucket} belongs to another account: choose another s3_bucket "
                f"in deploy/{run.stage}.json."
            ) from exc
        if _error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    region = run.settings["aws_region"]
    location = (
        {}
        if region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    s3.create_bucket(Bucket=bucket, **location)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    run.say("  created")


def template_parameters(text: str) -> list[str]:
    """Return the names under the template's top-level ``Parameters:`` key, in order."""
    names: list[str] = []
    inside = False
    for line in text.splitlines():
        if re.match(r"^\S", line):
            inside = line.rstrip() == "Parameters:"
        elif inside and (match := re.match(r"^  ([A-Za-z0-9]+):", line)):
            names.append(match[1])
    return names


def _stack(run: Deployment) -> dict[str, Any] | None:
    try:
        stacks = run.client("cloudformation").describe_stacks(StackName=stack_name(run.stage))
    except Exception as exc:
        if "does not exist" not in str(exc):
            raise
        return None
    return dict(stacks["Stacks"][0])


def stack_parameters(
    run: Deployment, declared: list[str], current: dict[str, str]
) -> list[dict[str, Any]]:
    """Return the stack's parameters: ours, the REST API's id, and the rest kept as they are.

    Ours are ``Stage`` and the overlay's ``portal_stack_parameters``. ``ApiId`` (if the
    template takes it) is the id of the REST API Zappa made, once it exists. Any other
    parameter the stack already has keeps its value (passed again as it is, or as
    ``UsePreviousValue`` if it is hidden by ``NoEcho``), so a value set by hand or by an
    earlier run is not reset to the default; new ones take their default.
    """
    given: dict[str, Any] = {"Stage": run.stage, **run.settings.get("portal_stack_parameters", {})}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise DeployError(
            f"portal_stack_parameters in deploy/{run.stage}.json names {', '.join(unknown)}, "
            f"which infra/portal.yaml does not take (it takes {', '.join(declared)})."
        )
    if "ApiId" in declared and "ApiId" not in given and (api_id := _rest_api_id(run)):
        given["ApiId"] = api_id
    parameters: list[dict[str, Any]] = [
        {"ParameterKey": key, "ParameterValue": str(value)} for key, value in given.items()
    ]
    parameters += [
        {"ParameterKey": key, "UsePreviousValue": True}
        if current[key] == "****"
        else {"ParameterKey": key, "ParameterValue": current[key]}
        for key in declared
        if key in current and key not in given
    ]
    return parameters


def ensure_stack(run: Deployment) -> None:
    """Create the infra stack, or update it if the template or its parameters changed."""
    name = stack_name(run.stage)
    ours = {"Stage": run.stage, **run.settings.get("portal_stack_parameters", {})}
    run.say(f"Stack {name} ({', '.join(f'{k}={v}' for k, v in ours.items())})")
    if run.dry_run:
        run.say(
            "  would create it, or update it (no change is no error); ApiId once the API exists"
        )
        return
    cloudformation = run.client("cloudformation")
    body = TEMPLATE.read_text()
    template: dict[str, str] = {"TemplateBody": body}
    if len(body.encode()) > MAX_TEMPLATE_BODY:
        key = f"cloudformation/{name}.yaml"
        bucket, region = run.settings["s3_bucket"], run.settings["aws_region"]
        run.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())
        template = {"TemplateURL": f"https://{bucket}.s3.{region}.amazonaws.com/{key}"}
    stack = _stack(run)
    if stack is not None and stack["StackStatus"] == "ROLLBACK_COMPLETE":
        raise DeployError(
            f"The stack {name} failed to create (ROLLBACK_COMPLETE): read its events, delete it "
            "(the table, if made, is kept) and run again."
        )
    current = {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in (stack or {}).get("Parameters", [])
    }
    arguments = {
        "StackName": name,
        **template,
        "Parameters": stack_parameters(run, template_parameters(body), current),
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "Tags": [{"Key": k, "Value": str(v)} for k, v in run.settings.get("tags", {}).items()],
    }
    waiter_config = {"Delay": 10, "MaxAttempts": 90}
    if stack is None:
        cloudformation.create_stack(**arguments)
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=name, WaiterConfig=waiter_config
        )
        run.say("  created")
        return
    try:
        cloudformation.update_stack(**arguments)
    except Exception as exc:
        if "No updates are to be performed" in str(exc):
            run.say("  unchanged")
            return
        raise
    cloudformation.get_waiter("stack_update_complete").wait(
        StackName=name, WaiterConfig=waiter_config
    )
    run.say("  updated")


def link_stack_to_api(run: Deployment) -> None:
    """Update the stack with the REST API's id once Zappa has made it (if it takes ``ApiId``)."""
    run.say("Stack parameter ApiId")
    if run.dry_run:
        run.say("  would update the stack if the template takes ApiId and it changed")
        return
    stack = _stack(run) or {}
    current = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
    if "ApiId" not in template_parameters(TEMPLATE.read_text()):
        run.say("  the template takes none")
        return
    api_id = _rest_api_id(run)
    if api_id is None:
        run.say(f"  no REST API named {run.function_name} (yet): skipped")
        return
    if current.get("ApiId") == api_id:
        run.say(f"  {api_id} (unchanged)")
        return
    ensure_stack(run)


def ensure_secret(run: Deployment) -> None:
    """Create the session-signing key once; never replace or show it."""
    name = run.settings["environment_variables"]["PORTAL_SECRET_KEY_SSM_PARAMETER"]
    run.say(f"Secret key {name}")
    if run.dry_run:
        run.say("  would create it (SecureString, 64 random hex characters) unless it exists")
        return
    ssm = run.client("ssm")
    try:
        ssm.get_parameter(Name=name)
        run.say("  exists (kept)")
        return
    except Exception as exc:
        if _error_code(exc) != "ParameterNotFound":
            raise
    ssm.put_parameter(Name=name, Type="SecureString", Value=secrets.token_hex(32), Overwrite=False)
    run.say("  created")


def ensure_log_group(run: Deployment) -> None:
    """Create the function's log group with 30 days' retention unless it exists."""
    name = f"/aws/lambda/{run.function_name}"
    run.say(f"Log group {name}")
    if run.dry_run:
        run.say(f"  would create it with {LOG_RETENTION_DAYS} days' retention unless it exists")
        return
    logs = run.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    if any(group["logGroupName"] == name for group in groups):
        run.say("  exists")
        return
    logs.create_log_group(logGroupName=name)
    logs.put_retention_policy(logGroupName=name, retentionInDays=LOG_RETENTION_DAYS)
    run.say(f"  created, {LOG_RETENTION_DAYS} days' retention")


def build_zip(run: Deployment) -> None:
    """Build the stage's zip and its merged settings into ``run.dist``."""
    run.say(f"Package {run.zip_path}")
    cmd = [sys.executable, str(PACKAGE_SCRIPT), "--stage", run.stage, "--output", str(run.zip_path)]
    if run.overlay is not None:
        cmd += ["--overlay", str(run.overlay)]
    run.command(cmd, doing="Packaging")


def _zappa(run: Deployment, *args: str) -> None:
    cmd = [str(ZAPPA), *args, run.stage, "-s", str(run.settings_path)]
    if not run.run_zappa:
        run.say(f"  not run here (--no-zappa): {' '.join(cmd)}")
        return
    run.command(cmd, doing=f"zappa {args[0]}")


def zappa_deploy_or_update(run: Deployment) -> None:
    """``zappa deploy`` for a new function, ``zappa update`` for an existing one."""
    run.say(f"Function {run.function_name}")
    if run.dry_run:
        run.say(f"  would run zappa deploy (new) or zappa update (exists) with {run.zip_path}")
        return
    try:
        run.client("lambda").get_function(FunctionName=run.function_name)
        exists = True
    except Exception as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
        exists = False
    _zappa(run, "update" if exists else "deploy", "--zip", str(run.zip_path))


def ensure_architecture(run: Deployment) -> None:
    """Move an existing function to the settings' ``architecture`` (Zappa only sets it on create).

    Zappa 0.63 passes ``Architectures`` when it creates the function but not when it
    updates it, so a function first deployed as x86_64 stays so. ``UpdateFunctionCode``
    takes the architecture with the code: upload the same zip again with it.
    """
    wanted = run.settings.get("architecture", "x86_64")
    run.say(f"Architecture {wanted}")
    if run.dry_run:
        run.say("  would upload the zip again with it if the function runs on another")
        return
    lambda_ = run.client("lambda")
    try:
        configuration = lambda_.get_function(FunctionName=run.function_name)["Configuration"]
    except Exception as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
        run.say("  no function (yet): skipped")
        return
    current = configuration.get("Architectures", ["x86_64"])
    if current == [wanted]:
        run.say("  unchanged")
        return
    lambda_.update_function_code(
        FunctionName=run.function_name,
        ZipFile=run.zip_path.read_bytes(),
        Architectures=[wanted],
        Publish=True,
    )
    lambda_.get_waiter("function_updated_v2").wait(FunctionName=run.function_name)
    run.say(f"  moved from {current[0]}")


def _rest_api_id(run: Deployment) -> str | None:
    apis = run.client("apigateway").get_rest_apis(limit=500)["items"]
    ids = [api["id"] for api in apis if api["name"] == run.function_name]
    return ids[0] if len(ids) == 1 else None


def ensure_api_role(run: Deployment) -> None:
    """Give the REST API's integrations the stack's API Gateway role, then redeploy the stage.

    Zappa 0.63 writes ``role_name`` (the function's role, trusted by Lambda alone) into the
    integrations' credentials on every deploy and on updates that change its API template;
    until they carry ``ApiGatewayRoleArn`` every request fails with 500. Integrations that
    already carry it are left alone, and the stage is redeployed only if one changed.
    """
    run.say("API integrations' role")
    if run.dry_run:
        run.say("  would give each ANY integration the stack's ApiGatewayRoleArn and redeploy")
        return
    outputs = {o["OutputKey"]: o["OutputValue"] for o in (_stack(run) or {}).get("Outputs", [])}
    role = outputs.get("ApiGatewayRoleArn")
    if not role:
        run.say("  the stack has no ApiGatewayRoleArn output: skipped")
        return
    api_id = _rest_api_id(run)
    if api_id is None:
        run.say(f"  no REST API named {run.function_name} (yet): skipped")
        run.notes.append("The API's role was not set: run the upgrade once deployed.")
        return
    apigateway = run.client("apigateway")
    changed = 0
    for resource in apigateway.get_resources(restApiId=api_id, limit=500)["items"]:
        try:
            integration = apigateway.get_integration(
                restApiId=api_id, resourceId=resource["id"], httpMethod="ANY"
            )
        except Exception as exc:
            if _error_code(exc) != "NotFoundException":
                raise
            continue
        if integration.get("credentials") == role:
            continue
        apigateway.put_integration(
            restApiId=api_id,
            resourceId=resource["id"],
            httpMethod="ANY",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=integration["uri"],
            credentials=role,
            passthroughBehavior="NEVER",
        )
        changed += 1
    if changed:
        apigateway.create_deployment(restApiId=api_id, stageName=run.stage)
        run.say(f"  {changed} integration(s) now use {role}; stage redeployed")
    else:
        run.say("  unchanged")


def apply_throttling(run: Deployment) -> None:
    """Set the API stage's default rate and burst limits (Zappa has no setting for them)."""
    throttling = run.settings.get("portal_api_throttling")
    run.say(f"API stage throttling {throttling or 'off'}")
    if throttling is None or run.dry_run:
        if throttling:
            run.say("  would set them on every method of the stage")
        return
    api_id = _rest_api_id(run)
    if api_id is None:
        run.say(f"  no REST API named {run.function_name} (yet): skipped")
        run.notes.append("API stage throttling was not set: run the upgrade once deployed.")
        return
    run.client("apigateway").update_stage(
        restApiId=api_id,
        stageName=run.stage,
        patchOperations=[
            {
                "op": "replace",
                "path": "/*/*/throttling/rateLimit",
                "value": str(throttling["rate_limit"]),
            },
            {
                "op": "replace",
                "path": "/*/*/throttling/burstLimit",
                "value": str(throttling["burst_limit"]),
            },
        ],
    )
    run.say("  set")


def _ensure_root_mapping(run: Deployment, apigateway: Any, domain: str, api_id: str) -> None:
    """Map the domain's root to the stage's REST API, or move it there (a recreated API)."""
    mappings = apigateway.get_base_path_mappings(domainName=domain).get("items", [])
    root = next((m for m in mappings if m.get("basePath") in ("(none)", "")), None)
    if root is None:
        apigateway.create_base_path_mapping(
            domainName=domain, basePath="", restApiId=api_id, stage=run.stage
        )
        run.say(f"  / mapped to {api_id}/{run.stage}")
    elif root["restApiId"] != api_id or root.get("stage") != run.stage:
        apigateway.update_base_path_mapping(
            domainName=domain,
            basePath="(none)",
            patchOperations=[
                {"op": "replace", "path": "/restapiId", "value": api_id},
                {"op": "replace", "path": "/stage", "value": run.stage},
            ],
        )
        run.say(f"  / moved to {api_id}/{run.stage}")
    else:
        run.say("  mapping unchanged")


def ensure_domain(run: Deployment) -> None:
    """Serve the stage at its custom domain (REGIONAL here; EDGE through ``zappa certify``)."""
    domain = run.settings.get("domain")
    if not domain:
        run.say("Custom domain: none (links use the API Gateway address)")
        return
    endpoint = run.settings.get("endpoint_configuration", ["EDGE"])[0]
    run.say(f"Custom domain {domain} ({endpoint})")
    if endpoint == "EDGE":
        if run.dry_run:
            run.say("  would run zappa certify (an edge-optimized domain, CloudFront)")
            return
        _zappa(run, "certify", "--yes")
        return
    if run.dry_run:
        run.say("  would create the regional domain name and map its root to the stage")
        return
    api_id = _rest_api_id(run)
    if api_id is None:
        run.say(f"  no REST API named {run.function_name} (yet): skipped")
        run.notes.append("The custom domain was not set up: run the upgrade once deployed.")
        return
    apigateway = run.client("apigateway")
    certificate = run.settings["certificate_arn"]
    try:
        found = apigateway.get_domain_name(domainName=domain)
    except Exception as exc:
        if _error_code(exc) != "NotFoundException":
            raise
        found = apigateway.create_domain_name(
            domainName=domain,
            regionalCertificateArn=certificate,
            endpointConfiguration={"types": ["REGIONAL"]},
            securityPolicy="TLS_1_2",
            tags={k: str(v) for k, v in run.settings.get("tags", {}).items()},
        )
        run.say("  domain name created")
        apigateway.create_base_path_mapping(
            domainName=domain, basePath="", restApiId=api_id, stage=run.stage
        )
        run.say(f"  / mapped to {api_id}/{run.stage}")
    else:
        if found.get("regionalCertificateArn") != certificate:
            apigateway.update_domain_name(
                domainName=domain,
                patchOperations=[
                    {"op": "replace", "path": "/regionalCertificateArn", "value": certificate}
                ],
            )
            run.say("  certificate replaced")
        _ensure_root_mapping(run, apigateway, domain, api_id)
    target = found.get("regionalDomainName")
    zone = run.settings.get("portal_route53_hosted_zone_id")
    if zone and target:
        run.client("route53").change_resource_record_sets(
            HostedZoneId=zone,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": domain,
                            "Type": "A",
                            "AliasTarget": {
                                "HostedZoneId": found["regionalHostedZoneId"],
                                "DNSName": target,
                                "EvaluateTargetHealth": False,
                            },
                        },
                    }
                ]
            },
        )
        run.say(f"  Route 53: {domain} is an alias of {target}")
    else:
        run.notes.append(f"DNS: make {domain} a CNAME of {target} (or an alias in Route 53).")


def ensure_admin(run: Deployment) -> None:
    """Create the first admin account unless it exists; its one-time password is printed once."""
    if not run.admin_email:
        return
    run.say(f"First admin {run.admin_email}")
    env = {
        **os.environ,
        "PORTAL_ENV": "production",
        "PORTAL_STORAGE": "dynamodb",
        "PORTAL_DYNAMODB_TABLE": run.settings["environment_variables"]["PORTAL_DYNAMODB_TABLE"],
        "AWS_REGION": run.settings["aws_region"],
        "AWS_DEFAULT_REGION": run.settings["aws_region"],
    }
    cmd = [str(PORTAL), "user", "create", "--email", run.admin_email, "--role", "admin"]
    if run.dry_run:
        run.say(f"  would run: {' '.join(cmd)} (unless the account exists)")
        return
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0 and "already" in result.stderr:
        run.say("  exists (kept)")
        return
    if result.returncode != 0:
        raise DeployError(f"Creating the first admin failed:\n{result.stdout}{result.stderr}")
    for line in result.stdout.splitlines():
        run.say(f"  {line}")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (https only)
            return bool(response.status == 200 and json.load(response) == {"status": "ok"})
    except (urllib.error.URLError, OSError, ValueError):
        return False


def health_check(run: Deployment) -> None:
    """Ask ``/healthz`` on the API Gateway address (and the domain) until it answers ok."""
    run.say("Health check")
    if run.dry_run:
        run.say("  would request /healthz on the API Gateway address and the custom domain")
        return
    if not run.run_zappa:
        run.say("  skipped (--no-zappa: nothing was deployed to answer)")
        return
    api_id = _rest_api_id(run)
    if api_id is None:
        raise DeployError(f"No REST API named {run.function_name}: did zappa deploy fail?")
    region = run.settings["aws_region"]
    urls = [f"https://{api_id}.execute-api.{region}.amazonaws.com/{run.stage}/healthz"]
    if run.settings.get("domain"):
        urls.append(f"https://{run.settings['domain']}/healthz")
    deadline = time.monotonic() + HEALTH_WAIT_SECONDS
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        pending = [url for url in pending if not _healthy(url)]
        if pending:
            time.sleep(5)
    if urls[0] in pending:
        raise DeployError(f"{urls[0]} did not answer ok within {HEALTH_WAIT_SECONDS} s.")
    for url in urls:
        run.say(f"  {url}: {'not yet reachable (DNS?)' if url in pending else 'ok'}")


STEPS: dict[str, list[Callable[[Deployment], None]]] = {
    "deploy": [
        ensure_bucket,
        ensure_stack,
        ensure_secret,
        ensure_log_group,
        build_zip,
        zappa_deploy_or_update,
        ensure_architecture,
        link_stack_to_api,
        ensure_api_role,
        apply_throttling,
        ensure_domain,
        ensure_admin,
        health_check,
    ],
    "upgrade": [
        ensure_stack,
        build_zip,
        zappa_deploy_or_update,
        ensure_architecture,
        ensure_api_role,
        apply_throttling,
        ensure_domain,
        health_check,
    ],
}


def main(argv: list[str] | None = None) -> int:
    """Run the deploy or upgrade steps; exit 1 with a message if one fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=sorted(STEPS))
    parser.add_argument("--stage", choices=STAGES, required=True)
    parser.add_argument("--overlay", type=Path, help="default deploy/<stage>.json")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the zip goes")
    parser.add_argument("--admin-email", help="deploy: create this first admin account")
    parser.add_argument("--dry-run", action="store_true", help="print the steps, change nothing")
    parser.add_argument(
        "--no-zappa", action="store_true", help="print the Zappa commands instead of running them"
    )
    args = parser.parse_args(argv)
    try:
        settings = stage_settings(args.stage, args.overlay)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if settings["s3_bucket"].endswith("-replace-me"):
        print(
            f"error: s3_bucket is still {settings['s3_bucket']}: set your own bucket's name as "
            f"s3_bucket in deploy/{args.stage}.json (docs/self-hosting-aws.md, step 2).",
            file=sys.stderr,
        )
        return 1
    run = Deployment(
        stage=args.stage,
        settings=settings,
        dist=args.dist.resolve(),
        dry_run=args.dry_run,
        run_zappa=not args.no_zappa,
        admin_email=args.admin_email if args.action == "deploy" else None,
        overlay=args.overlay.resolve() if args.overlay else None,
    )
    run.say(f"{args.action} {args.stage}{' (dry run)' if args.dry_run else ''}")
    try:
        for step in STEPS[args.action]:
            step(run)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    variables = settings["environment_variables"]
    if "domain" not in settings:
        run.notes.append(
            "No custom domain: posters and links point at the API Gateway address, which "
            "changes if the API is ever made anew (docs/self-hosting-aws.md, step 7a)."
        )
    run.notes.append(
        "For the portal command on this machine: export PORTAL_STORAGE=dynamodb "
        f"PORTAL_DYNAMODB_TABLE={variables['PORTAL_DYNAMODB_TABLE']} "
        f"AWS_REGION={settings['aws_region']}"
        + (
            f" PORTAL_PUBLIC_URL={variables['PORTAL_PUBLIC_URL']}"
            if "PORTAL_PUBLIC_URL" in variables
            else ""
        )
    )
    for note in run.notes:
        run.say(f"Note: {note}")
    run.say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
