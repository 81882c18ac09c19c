"""The packaged Lambda logs nothing about respondents: no path, token, code, address or browser.

Runs the built zip in the emulated Lambda (``bench/lambda_harness.py``) against moto,
answers through a link and a single-use code over both API Gateway payloads, and
reads everything the function wrote to stdout and stderr — what CloudWatch would
keep. Once with the shipped settings (``log_level: WARNING``), and once with the
zip's baked ``LOG_LEVEL`` turned up to ``DEBUG``, where Zappa would log every
request in Common Log Format and every raw event, as an operator chasing a bug
might leave it (docs/anonymity.md, "Logs").
"""

from __future__ import annotations

import base64
import re
import shutil
import urllib.parse
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest

from bench import lambda_harness as harness
from portal.domain.entities import Audience
from portal.services.respond import make_codes, make_links
from portal.services.surveys import add_wave, create_survey, open_wave
from portal.storage.dynamodb import DynamoStore
from tests.lambda_zip import shared_lambda_zip
from tests.prod import lambda_front
from tests.web.conftest import CSV, full_answers

pytestmark = pytest.mark.slow

STAGE = "dev"
ADDRESS = "198.51.100.23"
BROWSER = "SecretBrowser/9.9 (respondent's own)"
COMMENT = "Zebra42 wrote this"


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("lambda-logs")
    task = harness.unzip(shared_lambda_zip(tmp_path_factory, STAGE), base / "task")
    return task, harness.make_runtime_dir(base / "runtime")


class Respondent:
    """Sends browser-like requests to one emulated Lambda container, as API Gateway would."""

    def __init__(self, process: harness.LambdaProcess, payload: str) -> None:
        self.process, self.payload, self.cookies = process, payload, ""

    def send(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(form).encode() if form is not None else b""
        headers = [("User-Agent", BROWSER), ("Accept", "text/html"), ("Cookie", self.cookies)]
        if form is not None:
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        client = (ADDRESS, 50123)
        if self.payload == "v1":
            event = lambda_front.rest_api_event(
                method, f"/{STAGE}{path}", headers, body, client=client, port=443, stage=STAGE
            )
        else:
            event = lambda_front.http_api_event(
                method, path, headers, body, client=client, port=443
            )
        answer = self.process.invoke(event)
        status, response_headers, data = lambda_front.http_answer(answer)
        for name, value in response_headers:
            if name.lower() == "set-cookie":
                self.cookies = "; ".join(filter(None, [self.cookies, value.split(";", 1)[0]]))
        return status, data.decode("utf-8", "replace")


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match, f"the page has no {name} field"
    return match.group(1)


def _answer_everything(
    endpoint: str, settings: dict[str, Any], process: harness.LambdaProcess
) -> list[str]:
    """Answer through a link and a code on both payloads; return the secrets that went by."""
    table = boto3.resource(
        "dynamodb", region_name=settings["aws_region"], endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ).Table(settings["environment_variables"]["PORTAL_DYNAMODB_TABLE"])  # fmt: skip
    store = DynamoStore(table)
    today = date.today()
    create_survey(
        store, slug="crm-rollout", title="CRM", system_name={"en": "the new CRM"},
        today=today, departments_csv=CSV,
    )  # fmt: skip
    add_wave(store, "crm-rollout", wave_id="baseline", name="Baseline", today=today)
    open_wave(store, "crm-rollout", "baseline", today=today)
    token = next(
        x.token for x in make_links(store, "crm-rollout", "baseline") if x.department_code == "WH"
    )
    codes = make_codes(store, "crm-rollout", "baseline", "WH", 2)
    seen = [token, *codes, *(c.replace("-", "") for c in codes)]
    for payload, code in zip(("v1", "v2"), codes, strict=True):
        link = Respondent(process, payload)
        first = link.send("GET", f"/s/{token}")
        assert first[0] == 200, "\n".join(process.log)[-3000:]
        status, html = link.send("GET", f"/s/{token}/q?aud=employee&lang=en")
        assert status == 200
        form = {"key": _field(html, "key"), "lang": "en", "aud": "employee", "comment": COMMENT}
        assert link.send("POST", f"/s/{token}/q", form | full_answers(Audience.EMPLOYEE))[0] == 303
        assert link.send("GET", f"/s/{token}/thanks")[0] == 200
        by_code = Respondent(process, payload)
        status, html = by_code.send("POST", "/code", {"code": code, "aud": "employee"})
        assert status == 200
        form = {"key": _field(html, "key"), "access": _field(html, "access"), "lang": "en"}
        form |= {"aud": "employee"} | full_answers(Audience.EMPLOYEE)
        assert by_code.send("POST", "/code/answer", form)[0] == 303
        assert by_code.send("POST", "/code", {"code": code})[0] in {200, 409}  # used already
        assert by_code.send("POST", "/code", {"code": "ABCD-EFGH-JK"})[0] == 404
        assert by_code.send("GET", f"/s/{token[:-2]}xx")[0] == 404
        seen.append("ABCD-EFGH-JK")
    assert len(store.list_responses("crm-rollout", "baseline").items) == 4
    return seen


@pytest.fixture(scope="module", params=["shipped", "debug"])
def lambda_log(
    request: pytest.FixtureRequest,
    unpacked: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[list[str], list[str]]]:
    """Return what the function logged while respondents answered, and the secrets they sent."""
    task, runtime = unpacked
    if request.param == "debug":
        copy = tmp_path_factory.mktemp("debug") / "task"
        shutil.copytree(task, copy)
        baked = copy / "zappa_settings.py"
        text = baked.read_text()
        shipped = re.compile(r"^LOG_LEVEL\s*=\s*['\"]WARNING['\"]$", re.MULTILINE)
        assert shipped.search(text), "the zip's baked settings no longer say LOG_LEVEL='WARNING'"
        text = shipped.sub("LOG_LEVEL='DEBUG'", text).replace("\nDEBUG=False\n", "\nDEBUG=True\n")
        baked.write_text(text)
        assert "DEBUG=True" in text
        # The zip's bytecode is trusted unchecked (as on Lambda): drop it, or the edit is ignored.
        for compiled in (copy / "__pycache__").glob("zappa_settings.*.pyc"):
            compiled.unlink()
        task = copy
    settings = harness.zappa_stage(STAGE)
    with harness.moto_endpoint() as endpoint:
        harness.provision(endpoint, settings)
        with harness.LambdaProcess(
            task, runtime, endpoint, environment=dict(settings["environment_variables"]),
            region=settings["aws_region"],
        ) as process:  # fmt: skip
            seen = _answer_everything(endpoint, settings, process)
            yield list(process.log), seen


def test_the_lambda_logs_no_respondent_path_token_code_address_or_browser(
    lambda_log: tuple[list[str], list[str]],
) -> None:
    log, seen = lambda_log
    text = "\n".join(log)
    assert "Instancing.." in text  # Zappa's cold-start print: the function's output is read
    encoded = [base64.b64encode(s.encode()).decode()[:12] for s in (ADDRESS, BROWSER)]
    for secret in [*seen, ADDRESS, "198.51.100", BROWSER, "SecretBrowser", COMMENT, *encoded]:
        assert secret not in text, f"the Lambda logged {secret!r}"
    for path in ("/s/", "/code", "GET ", "POST "):
        assert path not in text, f"the Lambda logged a request line ({path!r})"
