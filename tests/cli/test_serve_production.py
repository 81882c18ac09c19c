"""`portal serve`, run as a server admin runs it: real processes, real sockets on 127.0.0.1.

The production mode is gunicorn's threaded workers (``portal serve --production``);
the development mode is the built-in server. Each client below speaks from its own
loopback address (127.0.0.2, 127.0.0.3, ...) so the server sees different clients.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from portal.domain.accounts import Role
from portal.services.accounts import create_user
from portal.services.respond import make_codes, make_links
from portal.services.surveys import add_wave, create_survey, open_wave
from portal.storage.sqlite import SqliteStore
from tests.moto_server import free_port
from tests.web.conftest import CSV, PASSWORD, csrf_token, form_key, full_answers

pytestmark = pytest.mark.slow

PORTAL = str(Path(sys.executable).with_name("portal"))
KEY = "Serve-Test-Key-" + secrets.token_urlsafe(24)
ADMIN = "hr@example.com"


@dataclass
class Portal:
    """A running portal: its port, process, what it printed, and a prepared database."""

    port: int
    process: subprocess.Popen[bytes]
    output: Path
    token: str
    codes: list[str]
    access_log: Path | None = None

    def printed(self) -> str:
        """Return everything the server wrote to stdout and stderr so far."""
        return self.output.read_text(errors="replace")


@dataclass
class Client:
    """One client: a loopback address of its own, its own cookies, a new connection per request."""

    port: int
    address: str = "127.0.0.2"
    headers: dict[str, str] = field(default_factory=dict)
    cookies: SimpleCookie = field(default_factory=SimpleCookie)

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, str]:
        """Send one request; return its status, headers and body."""
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, source_address=(self.address, 0), timeout=30
        )
        headers = dict(self.headers)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={m.value}" for k, m in self.cookies.items())
        body = urllib.parse.urlencode(form) if form is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", errors="replace")
        finally:
            connection.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            self.cookies.load(cookie)
        return response.status, response.headers, text

    def sign_in(self, email: str = ADMIN, password: str = PASSWORD) -> int:
        """Fetch the sign-in form, post it, and return the post's status."""
        _, _, page = self.request("GET", "/admin/login")
        form = {"csrf_token": csrf_token(page), "email": email, "password": password}
        return self.request("POST", "/admin/login", form)[0]


def prepare(database: Path) -> tuple[str, list[str]]:
    """Create the schema, an admin, an open wave; return one link token and two codes."""
    store = SqliteStore(database)
    store.create_schema()
    today = date.today()
    create_user(
        store, email=ADMIN, role=Role.ADMIN, password=PASSWORD, actor="test",
        must_change_password=False,
    )  # fmt: skip
    create_survey(
        store, slug="crm-rollout", title="CRM rollout", system_name={"en": "the new CRM"},
        today=today, departments_csv=CSV,
    )  # fmt: skip
    add_wave(store, "crm-rollout", wave_id="baseline", name="Baseline", today=today)
    open_wave(store, "crm-rollout", "baseline", today=today)
    token = make_links(store, "crm-rollout", "baseline")[0].token
    codes = make_codes(store, "crm-rollout", "baseline", "SALES", 2)
    store.close()
    return token, codes


def environment(database: Path, **settings: str) -> dict[str, str]:
    """Return this process's environment without PORTAL_* settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_DATABASE_PATH"] = str(database)
    env.update({f"PORTAL_{name.upper()}": value for name, value in settings.items()})
    return env


@contextmanager
def running(
    tmp_path: Path, mode: str, *args: str, prepared: bool = True, **settings: str
) -> Iterator[Portal]:
    """Start the portal in ``mode`` and wait until /healthz answers; stop it afterwards.

    Modes: ``production`` (``portal serve --production``), ``development``
    (``portal serve`` as ``make run`` starts it) and ``workers`` (the production
    server module itself, so its environment is not forced to production).
    """
    database = tmp_path / "db" / "portal.sqlite3"
    database.parent.mkdir(exist_ok=True)
    token, codes = prepare(database) if prepared else ("", [])
    port = free_port()
    where = ["--host", "127.0.0.1", "--port", str(port)]
    access_log = tmp_path / "access.log" if mode != "development" else None
    commands = {
        "production": [PORTAL, "serve", "--production", *where],
        "development": [PORTAL, "serve", *where],
        "workers": [sys.executable, "-m", "portal.server", *where],
    }
    command = commands[mode] + [*args]
    if access_log:
        command += ["--access-log", str(access_log)]
    defaults = {"env": "production", "secret_key": KEY} if mode == "production" else {}
    if mode == "development":
        defaults = {"env": "development"}
    env = environment(database, **{**defaults, **settings})
    output = tmp_path / "server-output.txt"
    with output.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    portal = Portal(port, process, output, token, codes, access_log)
    try:
        wait_until_healthy(portal)
        yield portal
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_healthy(portal: Portal, timeout: float = 30.0) -> None:
    """Poll /healthz until it answers 200, or fail with what the server printed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if Client(portal.port, "127.0.0.1").request("GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        if portal.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the portal did not start:\n{portal.printed()}")
        time.sleep(0.1)


def refused(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run ``portal serve --production ARGS`` expecting it to refuse to start."""
    env = environment(Path("/nonexistent/portal.sqlite3"), **settings)
    command = [PORTAL, "serve", "--production", "--port", str(free_port()), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = refused()
    assert result.returncode == 1
    assert "No secret key: set PORTAL_SECRET_KEY" in result.stderr


def test_production_refuses_a_weak_secret_key_and_says_what_a_good_one_is() -> None:
    result = refused(secret_key="s" * 40)
    assert result.returncode == 1
    assert "PORTAL_SECRET_KEY is too weak" in result.stderr
    assert "at least 32 characters, at least 10 of them different" in result.stderr
    assert "secrets.token_urlsafe(48)" in result.stderr


def test_production_refuses_a_development_environment_it_would_override() -> None:
    # PORTAL_ENV is forced to production, so a missing key is refused even if the shell said
    # development.
    assert refused(env="development").returncode == 1


def test_production_serves_health_checks_and_names_no_software(tmp_path: Path) -> None:
    with running(tmp_path, "production") as portal:
        status, headers, body = Client(portal.port).request("GET", "/healthz")
        assert (status, json.loads(body)["status"]) == (200, "ok")
        assert headers["Server"] == "portal"
        missing = Client(portal.port).request("GET", "/no/such/page")
        assert missing[0] == 404 and missing[1]["Server"] == "portal"
        printed = portal.printed()
    assert f"Portal running at http://127.0.0.1:{portal.port}/" in printed
    assert "2 workers x 8 threads" in printed


def test_the_development_server_names_no_versions(tmp_path: Path) -> None:
    with running(tmp_path, "development") as portal:
        _, headers, _ = Client(portal.port).request("GET", "/healthz")
    assert headers["Server"] == "portal"
    assert "Werkzeug" not in headers["Server"] and "Python" not in headers["Server"]


def sign_in_rounds(portal: Portal, rounds: int = 24) -> list[int]:
    """Sign in ``rounds`` times, four at a time, each with fresh cookies; return the statuses."""
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda _: Client(portal.port).sign_in(), range(rounds)))


@pytest.mark.parametrize(
    ("mode", "settings"),
    [("production", {}), ("workers", {"env": "development"})],
    ids=["production-with-its-key", "development-without-a-key"],
)
def test_every_worker_accepts_a_form_another_worker_served(
    tmp_path: Path, mode: str, settings: dict[str, str]
) -> None:
    with running(tmp_path, mode, "--workers", "2", **settings) as portal:
        statuses = sign_in_rounds(portal)
    assert statuses == [302] * len(statuses)
    if mode == "workers":  # the development key is kept beside the database, for every worker
        assert (tmp_path / "db" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_the_two_workers_really_share_the_load(tmp_path: Path) -> None:
    # The control for the test above: with a random key per worker (testing mode), some
    # forms reach the other worker and are refused, so the rounds do cross workers.
    with running(tmp_path, "workers", "--workers", "2", env="testing") as portal:
        statuses = sign_in_rounds(portal, rounds=32)
    assert 400 in statuses and 302 in statuses


@pytest.mark.parametrize("mode", ["production", "development"])
def test_twenty_failed_sign_ins_lock_out_that_client_only(tmp_path: Path, mode: str) -> None:
    with running(tmp_path, mode) as portal:
        guesser = Client(portal.port, "127.0.0.2")
        for n in range(20):
            assert guesser.sign_in(f"guess{n}@example.com", "not the password") == 401
        assert guesser.sign_in() == 429
        assert Client(portal.port, "127.0.0.3").sign_in() == 302  # everyone else can sign in


def test_a_reload_on_sighup_replaces_the_workers_without_a_failed_request(tmp_path: Path) -> None:
    statuses: list[int] = []
    stop = threading.Event()

    def keep_asking(portal: Portal) -> None:
        while not stop.is_set():
            statuses.append(Client(portal.port).request("GET", "/healthz")[0])

    with running(tmp_path, "production", "--workers", "2") as portal:
        asker = threading.Thread(target=keep_asking, args=(portal,))
        asker.start()
        try:
            time.sleep(0.5)
            portal.process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 30
            while portal.printed().count("Booting worker") < 4 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)
        finally:
            stop.set()
            asker.join(timeout=30)
        assert portal.printed().count("Booting worker") >= 4, portal.printed()
        portal.process.send_signal(signal.SIGTERM)
        assert portal.process.wait(timeout=40) == 0  # a graceful stop
    assert len(statuses) > 10 and set(statuses) == {200}


@pytest.mark.parametrize("mode", ["production", "development"])
def test_the_logs_name_routes_but_no_token_code_address_browser_or_time(
    tmp_path: Path, mode: str
) -> None:
    with running(tmp_path, mode) as portal:
        secrets_sent = [portal.token, *portal.codes, ADMIN, "127.0.0.5"]
        secrets_sent += ["SecretBrowser", "referrer.example"]
        client = Client(portal.port, "127.0.0.5")
        client.headers = {
            "User-Agent": "SecretBrowser/9.9",
            "Referer": "https://referrer.example/page",
        }
        token = portal.token
        assert client.request("GET", f"/s/{token}")[0] == 200
        status, _, page = client.request("GET", f"/s/{token}/q?aud=employee&lang=en")
        assert status == 200
        answers = {"key": form_key(page), "lang": "en", "aud": "employee", **full_answers()}
        assert client.request("POST", f"/s/{token}/q", answers)[0] == 303
        assert client.request("POST", "/code", {"code": portal.codes[0]})[0] == 200
        client.request("GET", f"/code?code={portal.codes[1]}")
        client.request("GET", f"/s/{token}/qr.svg")
        client.request("GET", f"/s/{token}/nonsense")
        client.request("GET", f"/admin/users/{ADMIN}/edit")
        time.sleep(0.5)
        logged = portal.printed() + (portal.access_log.read_text() if portal.access_log else "")
    lines = [line for line in logged.splitlines() if '"GET ' in line or '"POST ' in line]
    assert any('"POST /s/<token>/q HTTP/1.1" 303' in line for line in lines), logged
    assert any('"GET /admin/users/<email>/edit HTTP/1.1" 302' in line for line in lines)
    assert any('"GET <unrouted> HTTP/1.1" 404' in line for line in lines)
    for secret in secrets_sent:
        assert secret not in logged
    for line in lines:
        assert not re.search(r"\d\d:\d\d", line), line  # no time of day beside a request
        if mode == "production":
            assert line.startswith(date.today().isoformat() + ' "'), line


@contextmanager
def caddy_in_front(tmp_path: Path, upstream: int) -> Iterator[int]:
    """Run Debian's Caddy as the guide's reverse proxy (plain HTTP here); yield its port."""
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.fail("caddy is not installed: run `make system-deps` (or apt-get install caddy)")
    port = free_port()
    config = tmp_path / "Caddyfile"
    config.write_text(
        "{\n\tadmin off\n\tauto_https off\n"
        f"\tstorage file_system {tmp_path / 'caddy'}\n}}\n"
        f"http://127.0.0.1:{port} {{\n\tbind 127.0.0.1\n"
        f"\treverse_proxy 127.0.0.1:{upstream}\n\theader -Server\n}}\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "caddy")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "caddy")
    with (tmp_path / "caddy.log").open("wb") as sink:
        command = [caddy, "run", "--config", str(config), "--adapter", "caddyfile"]
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if Client(port, "127.0.0.1").request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail((tmp_path / "caddy.log").read_text())
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def hold_slow_connections(port: int, count: int) -> list[socket.socket]:
    """Open ``count`` connections that never finish: idle, half a header, half a body."""
    starts = [
        b"",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
        b"POST /code HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 1000\r\n\r\ncode=",
    ]
    held = []
    for n in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        if starts[n % 3]:
            connection.sendall(starts[n % 3])
        held.append(connection)
    return held


def test_three_hundred_slow_connections_do_not_starve_the_portal_behind_its_proxy(
    tmp_path: Path,
) -> None:
    # Four bare sync workers fell to this; gunicorn's threads alone would too (each new
    # connection takes a thread for up to 5 s), so the guide puts Caddy in front, which holds
    # slow clients itself and passes only whole requests on.
    with (
        running(tmp_path, "production", trusted_proxies="1") as portal,
        caddy_in_front(tmp_path, portal.port) as front,
    ):
        held = hold_slow_connections(front, 300)
        try:
            time.sleep(1.0)
            for _ in range(5):
                started = time.monotonic()
                status, headers, _ = Client(front).request("GET", "/healthz")
                assert status == 200 and time.monotonic() - started < 3
                assert "Server" not in headers
            assert Client(front, "127.0.0.3").sign_in() == 302
        finally:
            for connection in held:
                connection.close()
