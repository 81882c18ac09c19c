"""The HTTPS front builds the events API Gateway sends, and Zappa reads them as it should.

The shape is checked against the harness's hand-written API Gateway events
(``bench.lambda_harness``), and the meaning against Zappa's own
``create_wsgi_request`` from the built zip, in the emulated Lambda's isolated
interpreter: what the app would see as its mount point, path, query, cookies,
scheme, host and body.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import lambda_harness as harness
from tests.prod.lambda_front import API_HOST, http_answer, http_api_event, rest_api_event

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLIENT = ("127.0.0.1", 50123)
FORM = b"csrf_token=abc&email=hr%40example.com&password=tulip+kettle"
BROWSER_HEADERS = [
    ("Host", f"{API_HOST}:8443"),
    ("Connection", "keep-alive"),
    ("Content-Type", "application/x-www-form-urlencoded"),
    ("Content-Length", str(len(FORM))),
    ("Origin", f"https://{API_HOST}:8443"),
    ("Referer", f"https://{API_HOST}:8443/dev/admin/login?next=/admin/"),
    ("Accept", "text/html"),
    ("Accept", "application/xhtml+xml"),
    ("Cookie", "portal_session=s1; lang=da"),
    ("User-Agent", "Chromium"),
]
TARGET = "/dev/admin/login?next=%2Fadmin%2F&tag=a&tag=b&empty="

# Runs inside the emulated Lambda: Zappa's own reading of each event.
_ZAPPA_READS = """
import json, sys
config = json.loads(sys.argv[1])
sys.path[:0] = [config["task"], config["runtime"]]
from zappa.wsgi import create_wsgi_request
out = []
for event, script_name in config["events"]:
    env = create_wsgi_request(event, script_name=script_name, binary_support=True)
    keep = {k: v for k, v in env.items() if isinstance(v, str)}
    keep["body"] = env["wsgi.input"].read().decode()
    out.append(keep)
print(json.dumps(out))
"""


def zappa_environ(task: tuple[Path, Path], *events: tuple[dict[str, Any], str]) -> list[Any]:
    """Return the WSGI environ Zappa's handler makes of each (event, script name)."""
    config = {"task": str(task[0]), "runtime": str(task[1]), "events": list(events)}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", _ZAPPA_READS, json.dumps(config)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return list(json.loads(result.stdout))


def _v1() -> dict[str, Any]:
    return rest_api_event("POST", TARGET, BROWSER_HEADERS, FORM, client=CLIENT, port=8443)


def _v2() -> dict[str, Any]:
    target = TARGET.removeprefix("/dev")
    return http_api_event("POST", target, BROWSER_HEADERS, FORM, client=CLIENT, port=8443)


def _keys(event: dict[str, Any]) -> set[str]:
    return set(event) | {f"requestContext.{k}" for k in event["requestContext"]}


def test_rest_api_events_have_every_field_the_harness_events_have() -> None:
    assert _keys(harness.rest_api_event("/")) <= _keys(_v1())


def test_http_api_events_have_every_field_the_harness_events_have() -> None:
    template = _keys(harness.http_api_event("/")) - {"rawQueryString"}
    assert template <= _keys(_v2()) | {"rawQueryString"}


def test_a_rest_api_event_keeps_the_stage_out_of_its_path_and_every_repeated_value() -> None:
    event = _v1()
    assert event["path"] == "/admin/login"
    assert event["requestContext"]["path"] == "/dev/admin/login"
    assert event["requestContext"]["stage"] == "dev"
    assert event["multiValueQueryStringParameters"] == {
        "next": ["/admin/"],
        "tag": ["a", "b"],
        "empty": [""],
    }
    assert event["queryStringParameters"]["tag"] == "b"
    assert event["multiValueHeaders"]["Accept"] == ["text/html", "application/xhtml+xml"]
    assert event["headers"]["X-Forwarded-Proto"] == "https"
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert "Connection" not in event["headers"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == FORM


def test_an_http_api_event_moves_cookies_out_of_the_headers_and_lowers_their_names() -> None:
    event = _v2()
    assert event["rawPath"] == "/admin/login"
    assert event["rawQueryString"] == "next=%2Fadmin%2F&tag=a&tag=b&empty="
    assert event["cookies"] == ["portal_session=s1", "lang=da"]
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    assert event["headers"]["accept"] == "text/html,application/xhtml+xml"
    assert event["queryStringParameters"]["tag"] == "a,b"
    assert event["isBase64Encoded"] is True  # a form post is binary to an HTTP API


def test_an_http_api_event_passes_json_as_text() -> None:
    headers = [("Host", "127.0.0.1:8443"), ("Content-Type", "application/json")]
    event = http_api_event("POST", "/api", headers, b'{"a": 1}', client=CLIENT, port=8443)
    assert event["isBase64Encoded"] is False and event["body"] == '{"a": 1}'


def test_zappa_reads_both_events_as_the_same_https_request_under_their_mount_points(
    lambda_task: tuple[Path, Path],
) -> None:
    # The handler passes "/dev" for a REST API on an amazonaws.com host, "" for $default.
    v1, v2 = zappa_environ(lambda_task, (_v1(), "/dev"), (_v2(), ""))
    for environ, script_name in ((v1, "/dev"), (v2, "")):
        assert environ["SCRIPT_NAME"] == script_name
        assert environ["PATH_INFO"] == "/admin/login"
        assert environ["wsgi.url_scheme"] == "https"
        assert environ["HTTP_HOST"] == f"{API_HOST}:8443"
        assert environ["REMOTE_ADDR"] == "127.0.0.1"
        assert environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
        assert environ["body"] == FORM.decode()
        assert environ["HTTP_REFERER"].endswith("/dev/admin/login?next=/admin/")
        assert "portal_session=s1" in environ["HTTP_COOKIE"]
        assert "lang=da" in environ["HTTP_COOKIE"]
    assert sorted(v1["QUERY_STRING"].split("&")) == sorted(v2["QUERY_STRING"].split("&"))


def test_answers_come_back_with_every_cookie_and_a_decoded_body() -> None:
    v1 = {
        "statusCode": 302,
        "headers": {"Location": "/dev/admin/", "Set-Cookie": "b=2"},
        "multiValueHeaders": {"Location": ["/dev/admin/"], "Set-Cookie": ["a=1", "b=2"]},
        "body": base64.b64encode(b"%PDF-1.7").decode(),
        "isBase64Encoded": True,
    }
    status, headers, body = http_answer(v1)
    assert status == 302 and body == b"%PDF-1.7"
    assert [v for n, v in headers if n == "Set-Cookie"] == ["a=1", "b=2"]
    assert [v for n, v in headers if n == "Location"] == ["/dev/admin/"]
    v2 = {"statusCode": 200, "headers": {"Vary": "Cookie"}, "cookies": ["a=1", "b=2"], "body": "ok"}
    status, headers, body = http_answer(v2)
    assert [v for n, v in headers if n == "Set-Cookie"] == ["a=1", "b=2"] and body == b"ok"


def test_a_function_error_or_an_answer_over_6_mb_is_api_gateways_502() -> None:
    assert http_answer({"errorMessage": "boom", "errorType": "KeyError"})[0] == 502
    assert http_answer({"statusCode": 200, "body": "x" * (6 * 1024 * 1024)})[0] == 502
