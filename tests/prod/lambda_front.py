"""The Lambda zip behind a local HTTPS front that speaks to it as API Gateway does.

The front is a small TLS server on 127.0.0.1. Each browser request becomes an
API Gateway proxy event, exactly as API Gateway would build it, and goes to a
long-lived emulated Lambda process (``bench.lambda_harness.LambdaPool``) that
imported Zappa's handler from the built zip; the handler's answer goes back to
the browser as API Gateway would send it.

Two payloads, two deployments:

* ``lambda-v1``: a REST API on its ``execute-api`` host with the stage in the
  address (``https://abcdef1234.execute-api.eu-west-1.amazonaws.com:PORT/dev/...``).
  Zappa puts the stage back into the app's URLs only when the ``Host`` header
  names ``amazonaws.com``, so the front answers to that very name: Chromium and
  ``Deployment.urlopen`` resolve it to 127.0.0.1, nothing asks DNS.
* ``lambda-v2``: an HTTP API on its ``$default`` stage (no prefix), on 127.0.0.1.

What each event carries, and why:

* REST (v1): ``path`` without the stage, ``requestContext.path`` with it, headers
  as sent plus ``X-Forwarded-For/-Port/-Proto`` (``multiValueHeaders`` keeps every
  value, ``headers`` the last), query parameters decoded (``multiValue...`` keeps
  repeats), ``null`` where there are none. Zappa deploys with binary support,
  which sets the API's binary media types to ``*/*``: every request body then
  arrives base64-encoded.
* HTTP API (v2): ``rawPath`` and ``rawQueryString`` as sent, lower-case header
  names with repeats joined by commas, the ``Cookie`` header moved to a
  ``cookies`` array, bodies base64-encoded unless their type is text (form posts
  and uploads are binary to an HTTP API).
* Answers: ``statusCode``, ``headers`` merged with ``multiValueHeaders`` (the
  latter win), v2 ``cookies`` as one ``Set-Cookie`` each, ``isBase64Encoded``
  bodies decoded. An answer or event over Lambda's 6 MB payload limit, or a
  function error, gives API Gateway's own 413/502 answers.
"""

from __future__ import annotations

import base64
import json
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench import lambda_harness as harness
from tests.moto_server import moto_server
from tests.prod.deployment import Deployment, make_certificate

STAGE = "dev"
REGION = "eu-west-1"
API_HOST = f"{harness.API_ID}.execute-api.{REGION}.amazonaws.com"
#: API Gateway gives up on the function after this many seconds (504).
INTEGRATION_TIMEOUT = 29.0
#: Lambda refuses a synchronous invocation or an answer larger than this.
PAYLOAD_LIMIT = 6 * 1024 * 1024
#: Hop-by-hop headers: the connection's business, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


# --------------------------------------------------------------------------- events


def _end_to_end(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP]


def _is_text(content_type: str | None) -> bool:
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return kind.startswith(TEXT_TYPES) or kind.endswith("+json") or kind.endswith("+xml")


def rest_api_event(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    client: tuple[str, int],
    port: int,
    stage: str = STAGE,
) -> dict[str, Any]:
    """Return the REST API (payload v1) proxy event for a request to ``/STAGE/...``."""
    split = urllib.parse.urlsplit(target)
    path = split.path[len(stage) + 1 :] or "/"
    headers = _end_to_end(headers)
    forwarded = [value for name, value in headers if name.lower() == "x-forwarded-for"]
    headers = [(n, v) for n, v in headers if n.lower() not in {"x-forwarded-for"}]
    headers += [
        ("X-Forwarded-For", ", ".join([*forwarded, client[0]])),
        ("X-Forwarded-Port", str(port)),
        ("X-Forwarded-Proto", "https"),
        ("X-Amzn-Trace-Id", "Root=1-00000000-000000000000000000000000"),
    ]
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
    user_agent = next((v for n, v in headers if n.lower() == "user-agent"), None)
    root = path == "/"
    return {
        "resource": "/" if root else "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None if root else {"proxy": urllib.parse.unquote(path[1:])},
        "stageVariables": None,
        "requestContext": {
            "accountId": harness.FAKE_ACCOUNT,
            "apiId": harness.API_ID,
            "domainName": API_HOST,
            "domainPrefix": harness.API_ID,
            "extendedRequestId": "front",
            "httpMethod": method,
            "identity": {"sourceIp": client[0], "userAgent": user_agent},
            "path": split.path,
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            # API Gateway's own clock; the portal must never store it near a response.
            "requestTimeEpoch": int(time.time() * 1000),
            "resourceId": "front",
            "resourcePath": "/" if root else "/{proxy+}",
            "stage": stage,
        },
        # Zappa's binary support sets binaryMediaTypes to */*: every body is base64.
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def http_api_event(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    client: tuple[str, int],
    port: int,
) -> dict[str, Any]:
    """Return the HTTP API (payload format 2.0) event for a request on the ``$default`` stage."""
    split = urllib.parse.urlsplit(target)
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in _end_to_end(headers):
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        elif key != "x-forwarded-for":
            joined[key] = f"{joined[key]},{value}" if key in joined else value
    forwarded = [value for name, value in headers if name.lower() == "x-forwarded-for"]
    joined["x-forwarded-for"] = ", ".join([*forwarded, client[0]])
    joined["x-forwarded-port"] = str(port)
    joined["x-forwarded-proto"] = "https"
    joined["x-amzn-trace-id"] = "Root=1-00000000-000000000000000000000000"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": split.path,
        "rawQueryString": split.query,
        "headers": joined,
        "requestContext": {
            "accountId": harness.FAKE_ACCOUNT,
            "apiId": harness.API_ID,
            "domainName": joined.get("host", "").split(":")[0],
            "domainPrefix": harness.API_ID,
            "http": {
                "method": method,
                "path": urllib.parse.unquote(split.path),
                "protocol": "HTTP/1.1",
                "sourceIp": client[0],
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
    if query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
    if body:
        text = _is_text(joined.get("content-type"))
        event["body"] = body.decode() if text else base64.b64encode(body).decode()
        event["isBase64Encoded"] = not text
    return event


# --------------------------------------------------------------------------- answers


def gateway_error(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """Return API Gateway's own JSON answer (e.g. 502 when the function fails)."""
    body = json.dumps({"message": message}).encode()
    return status, [("Content-Type", "application/json")], body


def http_answer(answer: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Turn a proxy integration answer (v1 or v2) into status, headers and body."""
    if "errorMessage" in answer or "statusCode" not in answer:
        return gateway_error(502, "Internal server error")
    if len(json.dumps(answer)) > PAYLOAD_LIMIT:
        return gateway_error(502, "Internal server error")
    headers: list[tuple[str, str]] = []
    multi: dict[str, list[str]] = answer.get("multiValueHeaders") or {}
    for name, values in multi.items():
        headers += [(name, str(value)) for value in values]
    taken = {name.lower() for name in multi}
    for name, value in (answer.get("headers") or {}).items():
        if name.lower() not in taken:
            headers.append((name, str(value)))
    headers += [("Set-Cookie", cookie) for cookie in answer.get("cookies") or []]
    headers = [
        (n, v) for n, v in headers if n.lower() not in HOP_BY_HOP and n.lower() != "content-length"
    ]
    body = answer.get("body") or ""
    data = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
    return int(answer["statusCode"]), headers, data


# --------------------------------------------------------------------------- the front


class _Front(ThreadingHTTPServer):
    daemon_threads = True
    payload: str
    invoke: Any

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser dropping a spare connection (or its TLS handshake) is not an error here.
        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY a short answer waits
    # ~40 ms for the client's delayed ACK, which API Gateway does not add.
    disable_nagle_algorithm = True
    server: _Front

    def log_message(self, format: str, *args: Any) -> None:
        """Keep no access log: paths carry respondents' link tokens."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        method = self.command
        port = self.server.server_address[1]
        pairs = list(self.headers.items())
        if self.server.payload == "v1":
            path = urllib.parse.urlsplit(self.path).path
            if not (path == f"/{STAGE}" or path.startswith(f"/{STAGE}/")):
                self._send(*gateway_error(403, "Missing Authentication Token"))
                return
            event = rest_api_event(
                method, self.path, pairs, body, client=self.client_address, port=port
            )
        else:
            event = http_api_event(
                method, self.path, pairs, body, client=self.client_address, port=port
            )
        if len(json.dumps(event)) > PAYLOAD_LIMIT:
            self._send(*gateway_error(413, "Request Too Long"))
            return
        try:
            answer = self.server.invoke(event)
        except harness.LambdaError as failure:
            # What API Gateway answers when the function crashes or runs past its timeout.
            if failure.timed_out:
                self._send(*gateway_error(504, "Endpoint request timed out"))
            else:
                self._send(*gateway_error(502, "Internal server error"))
            return
        self._send(*http_answer(answer))

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        # API Gateway names no server software; it adds its own request id.
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        self.send_header("x-amzn-RequestId", "front")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer


@contextmanager
def https_front(payload: str, invoke: Any, context: ssl.SSLContext) -> Iterator[int]:
    """Serve the API Gateway front on a free port of 127.0.0.1; yield the port."""
    server = _Front(("127.0.0.1", 0), _Handler)
    server.payload = payload
    server.invoke = invoke
    # The TLS handshake happens in each connection's own thread, on its first read.
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def lambda_deployment(
    payload: str, folder: Path, task_dir: Path, runtime_dir: Path, *, concurrency: int = 2
) -> Iterator[Deployment]:
    """Run the unpacked zip behind the HTTPS front (``payload`` "v1" or "v2"), on a fresh moto.

    The function gets the stage's environment from zappa_settings.json
    (``PORTAL_ENV=production``, the DynamoDB table, the SSM parameter of the
    secret key); every AWS call goes to a moto server over HTTP.
    """
    settings = harness.zappa_stage(STAGE)
    environment = dict(settings["environment_variables"])
    certificate = make_certificate(folder / "tls", dns_names=[API_HOST])
    rule = f"{settings['project_name']}-{STAGE}-lambdas.close_due_waves.handler"
    with moto_server() as endpoint:
        harness.provision(endpoint, settings)
        pool = harness.LambdaPool(
            concurrency,
            task_dir=task_dir,
            runtime_dir=runtime_dir,
            endpoint=endpoint,
            environment=environment,
            region=settings["aws_region"],
            timeout=INTEGRATION_TIMEOUT,
        )

        def close_due_waves() -> None:
            answer = pool.invoke(harness.scheduled_event(rule, settings["aws_region"]))
            if not isinstance(answer, dict) or "closed" not in answer:
                raise AssertionError(f"the scheduled handler answered {answer!r}")

        cli_env = {
            "PORTAL_ENV": "production",
            "PORTAL_STORAGE": "dynamodb",
            "PORTAL_DYNAMODB_TABLE": environment["PORTAL_DYNAMODB_TABLE"],
            "PORTAL_DYNAMODB_ENDPOINT_URL": endpoint,
            "PORTAL_SECRET_KEY_SSM_PARAMETER": environment["PORTAL_SECRET_KEY_SSM_PARAMETER"],
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": settings["aws_region"],
            "AWS_DEFAULT_REGION": settings["aws_region"],
        }
        try:
            with https_front(payload, pool.invoke, certificate.server_context()) as port:
                if payload == "v1":
                    base_url = f"https://{API_HOST}:{port}/{STAGE}"
                    local_hosts: tuple[str, ...] = (API_HOST,)
                else:
                    base_url, local_hosts = f"https://127.0.0.1:{port}", ()
                yield Deployment(
                    name=f"lambda-{payload}",
                    base_url=base_url,
                    certificate=certificate,
                    cli_env=cli_env,
                    close_due_waves=close_due_waves,
                    local_hosts=local_hosts,
                    extra={"log": lambda: pool.log},
                )
        finally:
            pool.close()
