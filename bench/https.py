"""Time what users wait for through HTTPS, per production deployment, next to in-process figures.

Run ``.venv/bin/python bench/https.py`` (``--quick`` for a short run; ``make bench`` runs it).

For each deployment of the production-parity suite (``tests/prod``), started
exactly as the tests start it and loaded with the demo through the ``portal``
CLI, this times over HTTPS:

* a respondent's questionnaire GET and the complete POST of its answers (a
  cookie-less client, as a respondent on a fresh phone), and the two together;
* a dashboard view (the demo's closed baseline) by a signed-in admin.

Deployments: (a) the Lambda zip in the emulated Lambda behind the API Gateway
front, REST API (v1) and HTTP API (v2), DynamoDB on a moto server; (b) the one
server (``portal serve --production``) behind Caddy, SQLite. Next to them,
from the same run: the same requests through Flask's test client in this
process, on the same kind of store, which is the portal's own share of the
time.

Each figure is the median and the 95th percentile of N rounds, after warm-up
rounds (warm Lambda containers, warm caches); the rounds go to every
deployment in turn, so a busy moment of the machine weighs on every row alike.
Requests travel on one kept-alive HTTPS connection per client, as a browser
tab holds one: the TLS handshake is paid once, not per request. Times run from
sending the request to the last byte of the body (gzip accepted, as browsers
do). Nothing leaves 127.0.0.1, so network latency is absent and the emulated
Lambda and moto are local processes: read the differences between rows, not
AWS's absolute figures.
This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import http.client
import os
import random
import re
import secrets
import shutil
import socket
import ssl
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Never reach real AWS: fake credentials; every endpoint is a moto server on 127.0.0.1.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }
)

import boto3  # noqa: E402
from flask import Flask  # noqa: E402

from bench import lambda_harness as harness  # noqa: E402
from portal.app import create_app  # noqa: E402
from portal.domain.accounts import Role  # noqa: E402
from portal.domain.entities import Audience  # noqa: E402
from portal.instruments import DEFAULT_QUESTIONNAIRE, get_questionnaire  # noqa: E402
from portal.services.accounts import create_user  # noqa: E402
from portal.services.demo import DEMO_SLUG, load_demo  # noqa: E402
from portal.storage.dynamodb import DynamoStore  # noqa: E402
from portal.storage.port import Store  # noqa: E402
from portal.storage.sqlite import SqliteStore  # noqa: E402
from tests.moto_server import moto_server  # noqa: E402
from tests.prod import lambda_front  # noqa: E402
from tests.prod.deployment import Deployment  # noqa: E402
from tests.prod.lambda_front import STAGE, lambda_deployment  # noqa: E402
from tests.prod.one_server import one_server_deployment  # noqa: E402

EMAIL, PASSWORD = "bench-admin@example.org", "correct horse battery staple"
OPEN_WAVE, CLOSED_WAVE = "follow-up-1", "baseline"
DASHBOARD = f"/admin/surveys/{DEMO_SLUG}/waves/{CLOSED_WAVE}/results"
WARM_UP = 3
IN_PROCESS_KEY = secrets.token_urlsafe(48)
KEY_RE = re.compile(r'name="key" value="([^"]+)"')
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
LINK_RE = re.compile(r"^\S+\t\S+/s/([A-Za-z0-9_-]+)$", re.MULTILINE)
ITEMS = [
    i.id for i in get_questionnaire(DEFAULT_QUESTIONNAIRE).items_for(Audience.EMPLOYEE)
]  # fmt: skip


class BenchError(SystemExit):
    """A request did not answer as a user's would: the figures would mean nothing."""


@dataclass(frozen=True)
class Answer:
    """One response: status, decoded body, a header lookup, and the time it took (ms)."""

    status: int
    text: str
    location: str | None
    ms: float


class Client(Protocol):
    """What the measurements need from a client: GET and form POST on paths of the portal."""

    #: ``https://host:port`` as the browser's address bar shows it.
    origin: str
    #: The path before the portal's own paths (API Gateway's REST stage), or "".
    prefix: str

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer: ...

    def post(
        self, path: str, form: dict[str, str], headers: dict[str, str] | None = None
    ) -> Answer: ...


# -- clients ------------------------------------------------------------------------------


class _Connection(http.client.HTTPSConnection):
    """An HTTPS connection to 127.0.0.1 that sends and checks the deployment's host name."""

    def __init__(self, host: str, port: int, *, address: str, context: ssl.SSLContext) -> None:
        super().__init__(host, port, context=context, timeout=120)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class HttpsClient:
    """A browser tab's worth of HTTP: one kept-alive TLS connection, and cookies if asked."""

    def __init__(self, deployment: Deployment, *, cookies: bool) -> None:
        split = urllib.parse.urlsplit(deployment.base_url)
        assert split.hostname is not None
        self.origin = f"{split.scheme}://{split.netloc}"
        self.prefix = split.path.rstrip("/")
        self._host, self._port = split.hostname, split.port or 443
        self._address = "127.0.0.1" if split.hostname in deployment.local_hosts else split.hostname
        self._context = deployment.ssl_context()
        self._keep_cookies = cookies
        self._cookies: dict[str, str] = {}
        self._connection: _Connection | None = None

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        """GET ``path`` (inside the portal: any stage prefix is added here)."""
        return self._send("GET", path, None, headers or {})

    def post(
        self, path: str, form: dict[str, str], headers: dict[str, str] | None = None
    ) -> Answer:
        """POST ``form`` to ``path`` as a browser posts a form."""
        body = urllib.parse.urlencode(form).encode()
        sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self._send("POST", path, body, sent)

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        sent = {"Accept": "text/html", "Accept-Encoding": "gzip", **headers}
        if self._cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = _Connection(
                    self._host, self._port, address=self._address, context=self._context
                )
                self._connection.connect()  # the handshake is not part of any request's time
            try:
                start = time.perf_counter()
                self._connection.request(method, self.prefix + path, body=body, headers=sent)
                response = self._connection.getresponse()
                data = response.read()
                ms = (time.perf_counter() - start) * 1000
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server closed an idle kept-alive connection: open a new one, once.
                self.close()
                if attempt == 2:
                    raise
        if response.getheader("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        if self._keep_cookies:
            for cookie in response.msg.get_all("Set-Cookie") or []:
                name, _, value = cookie.split(";", 1)[0].partition("=")
                self._cookies[name.strip()] = value.strip()
        if response.will_close:
            self.close()
        location = response.getheader("Location")
        return Answer(response.status, data.decode(errors="replace"), location, ms)


class InProcessClient:
    """Flask's test client on an HTTPS base address, timed the same way."""

    origin = "https://127.0.0.1"
    prefix = ""

    def __init__(self, app: Flask, *, cookies: bool) -> None:
        self._client = app.test_client(use_cookies=cookies)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        """GET ``path`` in this process."""
        return self._timed(
            lambda: self._client.get(path, base_url=self.origin, headers=self._headers(headers))
        )

    def post(
        self, path: str, form: dict[str, str], headers: dict[str, str] | None = None
    ) -> Answer:
        """POST ``form`` to ``path`` in this process."""
        return self._timed(
            lambda: self._client.post(
                path, base_url=self.origin, data=form, headers=self._headers(headers)
            )
        )

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Accept": "text/html", "Accept-Encoding": "gzip", **(headers or {})}

    def _timed(self, call: Callable[[], Any]) -> Answer:
        start = time.perf_counter()
        response = call()
        data = response.get_data()
        ms = (time.perf_counter() - start) * 1000
        if response.headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        return Answer(response.status_code, data.decode(errors="replace"), response.location, ms)


# -- what is measured ---------------------------------------------------------------------


def expect(answer: Answer, status: int, what: str) -> Answer:
    """Stop the run if a request did not answer as it would for a user."""
    if answer.status != status:
        raise BenchError(f"error: {what} answered {answer.status}, expected {status}")
    return answer


def sign_in(client: Client) -> None:
    """Sign the admin in through the form, with its CSRF token and a same-origin Referer."""
    page = expect(client.get("/admin/login"), 200, "GET /admin/login")
    match = CSRF_RE.search(page.text)
    if match is None:
        raise BenchError("error: the sign-in page has no CSRF token")
    form = {"email": EMAIL, "password": PASSWORD, "csrf_token": match.group(1)}
    referer = {"Referer": f"{client.origin}{client.prefix}/admin/login"}
    expect(client.post("/admin/login", form, referer), 302, "POST /admin/login")


@dataclass
class Target:
    """One deployment ready to time: a respondent, a signed-in admin, a link, and the times."""

    name: str
    store: str
    respondent: Client
    admin: Client
    token: str
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    get: list[float] = field(default_factory=list)
    post: list[float] = field(default_factory=list)
    pair: list[float] = field(default_factory=list)
    dashboard: list[float] = field(default_factory=list)

    def round(self, *, keep: bool) -> None:
        """Send one respondent GET + POST and one dashboard view; keep their times if asked."""
        page = expect(
            self.respondent.get(f"/s/{self.token}/q?aud=employee&lang=en"),
            200,
            f"{self.name}: GET questionnaire",
        )
        key = KEY_RE.search(page.text)
        if key is None:
            raise BenchError(f"error: {self.name}: the questionnaire page has no submission key")
        form = {"key": key.group(1), "lang": "en", "aud": "employee"}
        form.update({item: str(self.rng.randint(1, 5)) for item in ITEMS})
        sent = expect(
            self.respondent.post(f"/s/{self.token}/q", form), 303, f"{self.name}: POST answers"
        )
        view = expect(self.admin.get(DASHBOARD), 200, f"{self.name}: GET dashboard")
        if keep:
            self.get.append(page.ms)
            self.post.append(sent.ms)
            self.pair.append(page.ms + sent.ms)
            self.dashboard.append(view.ms)

    def row(self) -> str:
        """Format this target's line of the table: median and p95 per request kind."""
        cells = [
            f"{statistics.median(values):7.1f} {percentile_95(values):7.1f}"
            for values in (self.get, self.post, self.pair, self.dashboard)
        ]
        return f"{self.name:<26}{self.store:<10}" + "".join(f"{c:>19}" for c in cells)


def percentile_95(values: list[float]) -> float:
    """Return the 95th percentile (inclusive interpolation)."""
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def first_link(links_output: str) -> str:
    """Return the token of the first plain link in ``portal waves links`` output."""
    for line in links_output.splitlines():
        match = LINK_RE.match(line)
        if match:
            return match.group(1)
    raise BenchError(f"error: `portal waves links` listed no plain link:\n{links_output}")


def over_https(stack: ExitStack, deployment: Deployment, name: str, store: str) -> Target:
    """Load the demo and an admin through the CLI; return the deployment as a target."""
    deployment.portal("demo")
    deployment.portal(
        "user", "create", "--email", EMAIL, "--role", "admin", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    links = deployment.portal("waves", "links", "--survey", DEMO_SLUG, "--wave", OPEN_WAVE)
    respondent = HttpsClient(deployment, cookies=False)
    admin = HttpsClient(deployment, cookies=True)
    stack.callback(respondent.close)
    stack.callback(admin.close)
    sign_in(admin)
    return Target(name, store, respondent, admin, first_link(links.stdout))


def in_process(store: Store, name: str, kind: str) -> Target:
    """Load the demo and an admin into ``store``; return an app in this process as a target."""
    store.create_schema()
    load_demo(store, today=date.today())
    create_user(
        store, email=EMAIL, role=Role.ADMIN, password=PASSWORD, actor="bench",
        must_change_password=False,
    )  # fmt: skip
    app = create_app({"env": "production", "secret_key": IN_PROCESS_KEY}, store=store)
    token = next(
        link.token
        for link in store.list_links(DEMO_SLUG, OPEN_WAVE)
        if not link.kiosk and link.audience is None
    )
    admin = InProcessClient(app, cookies=True)
    sign_in(admin)
    return Target(name, kind, InProcessClient(app, cookies=False), admin, token)


# -- the run ------------------------------------------------------------------------------


@contextmanager
def lambda_task(folder: Path) -> Iterator[tuple[Path, Path]]:
    """Build the stage's zip and unpack it as /var/task, with the runtime's libraries."""
    zip_path = harness.build_zip(STAGE, folder / f"lambda-{STAGE}.zip")
    yield harness.unzip(zip_path, folder / "task"), harness.make_runtime_dir(folder / "runtime")


def main(argv: list[str] | None = None) -> int:
    """Run every deployment and print one table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 rounds instead of 50")
    parser.add_argument("--runs", type=int, help="rounds to time (default 50, 10 with --quick)")
    args = parser.parse_args(argv)
    runs = args.runs or (10 if args.quick else 50)
    if shutil.which("caddy") is None:
        print("error: caddy is not installed; run `make system-deps`.")
        return 2
    began = time.perf_counter()
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="bench-https-") as name, ExitStack() as stack:
        tmp = Path(name)

        def ready(start: Callable[[], Target]) -> None:
            started = time.perf_counter()
            targets.append(start())
            took = time.perf_counter() - started
            print(f"  ready in {took:3.0f} s: {targets[-1].name}, {targets[-1].store}", flush=True)

        print("Starting every deployment and loading the demo into each ...", flush=True)
        sqlite = SqliteStore(tmp / "in-process.sqlite3")
        stack.callback(sqlite.close)
        ready(lambda: in_process(sqlite, "in-process (test client)", "SQLite"))
        server = stack.enter_context(one_server_deployment(tmp / "one-server"))
        ready(lambda: over_https(stack, server, "(b) one server, Caddy", "SQLite"))
        endpoint = stack.enter_context(moto_server())
        resource = boto3.resource("dynamodb", region_name="eu-west-1", endpoint_url=endpoint)
        dynamo = DynamoStore(resource.Table("bench-https"), allow_create=True)
        ready(lambda: in_process(dynamo, "in-process (test client)", "DynamoDB"))
        task, runtime = stack.enter_context(lambda_task(tmp / "lambda"))
        for payload, label in (("v1", "REST API v1"), ("v2", "HTTP API v2")):
            front = stack.enter_context(
                lambda_deployment(payload, tmp / f"lambda-{payload}", task, runtime)
            )
            ready(partial(over_https, stack, front, f"(a) Lambda, {label}", "DynamoDB"))

        # Round-robin: one round on each target in turn, so the machine's load varies alike
        # for every row instead of favouring whichever ran in a quiet minute.
        print(f"Timing {runs} rounds after {WARM_UP} warm-up rounds ...", flush=True)
        # This process holds more than an app server would (the demo just loaded, boto3's
        # models, every client): keep it out of the collector so in-process rows pay only
        # for the app's own garbage.
        gc.collect()
        gc.freeze()
        for number in range(WARM_UP + runs):
            for target in targets:
                target.round(keep=number >= WARM_UP)

    heads = ("respondent GET", "respondent POST", "GET + POST", "dashboard view")
    print("\nMilliseconds, median and 95th percentile, through HTTPS unless in-process:\n")
    print(f"{'deployment':<26}{'store':<10}" + "".join(f"{h:>19}" for h in heads))
    print(f"{'':<36}" + "".join(f"{'median     p95':>19}" for _ in heads))
    for target in targets:
        print(target.row())
    print(
        "\nIn-process: Flask's test client, same kind of store (DynamoDB on the same moto"
        "\nserver over HTTP). HTTPS: one kept-alive TLS connection per client; Lambda is the"
        "\nzip in a warm emulated container behind the API Gateway front; one server is"
        "\n`portal serve --production` (gunicorn) behind Caddy. All on 127.0.0.1, no network."
        f"\nTook {time.perf_counter() - began:.0f} s."
    )
    if not lambda_front._Handler.disable_nagle_algorithm:
        print(
            "Caveat: the API Gateway front writes an answer's headers and body separately"
            "\nwithout TCP_NODELAY, so a short answer (the POST's 303) can wait ~40 ms for"
            "\nthe client's delayed ACK; API Gateway has no such stall. Set"
            "\n`disable_nagle_algorithm = True` on tests/prod/lambda_front.py's handler."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
