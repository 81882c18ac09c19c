"""Forwarded headers count only from a trusted proxy; logs name routes, never who or what."""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, jsonify, request
from flask.testing import FlaskClient
from gunicorn.config import Config
from werkzeug.serving import make_server

from portal.app import create_app
from portal.server import AnonymousLogger
from portal.storage.sqlite import SqliteStore
from portal.web.logging import LOGGABLE_ARGUMENTS, ROUTE_KEY, UNROUTED, AnonymousRequestHandler
from tests.web.conftest import PASSWORD, csrf_token

FORWARDED = {
    "X-Forwarded-For": "198.51.100.1, 203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "survey.example.com",
}


def probed(app: Flask) -> Flask:
    """Add a test-only page that tells who and where the portal thinks the request came from."""

    @app.get("/_probe")
    def probe():  # type: ignore[no-untyped-def]
        return jsonify(addr=request.remote_addr, scheme=request.scheme, host=request.host)

    return app


def portal(sqlite_store: SqliteStore, **settings: object) -> Flask:
    """Return the portal in testing mode on ``sqlite_store`` with ``settings``."""
    overrides = {"env": "testing", "secret_key": "proxy-test-" + "x" * 40, **settings}
    return create_app(overrides, store=sqlite_store)


def test_forwarded_headers_are_ignored_unless_a_proxy_is_trusted(
    sqlite_store: SqliteStore,
) -> None:
    client = probed(portal(sqlite_store)).test_client()
    seen = client.get("/_probe", headers=FORWARDED, environ_base={"REMOTE_ADDR": "192.0.2.4"})
    assert seen.json == {"addr": "192.0.2.4", "scheme": "http", "host": "localhost"}


def test_a_trusted_proxy_names_the_client_scheme_and_host(sqlite_store: SqliteStore) -> None:
    client = probed(portal(sqlite_store, trusted_proxies=1)).test_client()
    seen = client.get("/_probe", headers=FORWARDED, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    # One proxy: only the address it appended counts; the client's own claim (198.51.100.1) not.
    assert seen.json == {"addr": "203.0.113.9", "scheme": "https", "host": "survey.example.com"}


def failed_sign_ins(client: FlaskClient, count: int, forwarded_for: list[str]) -> None:
    """Post ``count`` wrong sign-ins, the n-th claiming ``forwarded_for[n]``."""
    for n in range(count):
        token = csrf_token(client.get("/admin/login").get_data(as_text=True))
        form = {"csrf_token": token, "email": f"guess{n}@example.com", "password": "wrong!"}
        headers = {"X-Forwarded-For": forwarded_for[n % len(forwarded_for)]}
        assert client.post("/admin/login", data=form, headers=headers).status_code == 401


def sign_in_status(client: FlaskClient, forwarded_for: str) -> int:
    """Sign in with the right password, claiming ``forwarded_for``; return the status."""
    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    form = {"csrf_token": token, "email": "hr@example.com", "password": PASSWORD}
    return client.post(
        "/admin/login", data=form, headers={"X-Forwarded-For": forwarded_for}
    ).status_code


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance(
    sqlite_store: SqliteStore, make_account_on
) -> None:  # type: ignore[no-untyped-def]
    app = portal(sqlite_store, trusted_proxies=1)
    make_account_on(sqlite_store)
    client = app.test_client()
    failed_sign_ins(client, 20, ["203.0.113.50"])
    assert sign_in_status(client, "203.0.113.50") == 429
    assert sign_in_status(app.test_client(), "203.0.113.51") == 302


def test_without_a_trusted_proxy_a_made_up_forwarded_for_does_not_escape_the_throttle(
    sqlite_store: SqliteStore, make_account_on
) -> None:  # type: ignore[no-untyped-def]
    app = portal(sqlite_store)
    make_account_on(sqlite_store)
    client = app.test_client()
    failed_sign_ins(client, 20, [f"203.0.113.{n}" for n in range(20)])
    assert sign_in_status(client, "198.51.100.77") == 429


@pytest.fixture
def make_account_on():  # type: ignore[no-untyped-def]
    """Return a function that makes the admin ``hr@example.com`` on a store."""
    from portal.domain.accounts import Role
    from portal.services.accounts import create_user

    def make(store: SqliteStore) -> None:
        create_user(
            store, email="hr@example.com", role=Role.ADMIN, password=PASSWORD, actor="test",
            must_change_password=False,
        )  # fmt: skip

    return make


def fill(rule: str, values: dict[str, str]) -> str:
    """Put ``values`` into a URL rule's ``<converter:name>`` placeholders."""
    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", lambda m: values[m.group(1)], rule)


@pytest.fixture
def logged_routes(app: Flask) -> list[str]:
    """Return a list that collects the route each request leaves for the server's log."""
    routes: list[str] = []
    inner = app.wsgi_app

    def keep_route(environ, start_response):  # type: ignore[no-untyped-def]
        try:
            return inner(environ, start_response)
        finally:
            routes.append(environ.get(ROUTE_KEY, "(none)"))

    app.wsgi_app = keep_route  # type: ignore[method-assign]
    return routes


def test_every_route_is_logged_as_its_template_with_only_slug_wave_and_file_filled_in(
    app: Flask, logged_routes: list[str]
) -> None:
    client = app.test_client()
    secret_names: set[str] = set()
    for rule in app.url_map.iter_rules():
        values = {name: f"SECRET{name}X" for name in rule.arguments}
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            client.open(fill(rule.rule, values) + "?c=QUERYSECRET", method=method)
            label = logged_routes[-1]
            assert "QUERYSECRET" not in label and "?" not in label
            for name in rule.arguments:
                if name in LOGGABLE_ARGUMENTS:
                    assert values[name] in label, (rule.rule, label)
                else:
                    secret_names.add(name)
                    assert values[name] not in label and f"<{name}>" in label, (rule.rule, label)
            if not rule.arguments:
                assert label == rule.rule
    # The respondent's link token, the department/single-use code, e-mail and API token hash.
    assert {"token", "code", "email", "token_hash"} <= secret_names


def test_a_path_that_matches_no_route_is_logged_as_unrouted(
    client: FlaskClient, logged_routes: list[str]
) -> None:
    assert client.get("/s/SECRETTOKEN/not-a-page").status_code == 404
    assert logged_routes == [UNROUTED]


@pytest.fixture
def built_in_server(sqlite_store: SqliteStore) -> Iterator[int]:
    """Serve the probed portal with the built-in server's handler; yield its port."""
    server = make_server(
        "127.0.0.1", 0, probed(portal(sqlite_store)), request_handler=AnonymousRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def get_from(address: str, port: int, path: str) -> http.client.HTTPResponse:
    """GET ``path`` from the loopback ``address``; return the read response."""
    connection = http.client.HTTPConnection("127.0.0.1", port, source_address=(address, 0))
    connection.request("GET", path, headers={"User-Agent": "SecretBrowser/9.9"})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_the_built_in_server_gives_the_portal_each_clients_address_but_not_the_log(
    built_in_server: int, caplog: pytest.LogCaptureFixture
) -> None:
    import json

    caplog.set_level("INFO", logger="werkzeug")
    seen = []
    for address in ("127.0.0.7", "127.0.0.8"):
        connection = http.client.HTTPConnection(
            "127.0.0.1", built_in_server, source_address=(address, 0)
        )
        connection.request("GET", "/_probe")
        response = connection.getresponse()
        seen.append(json.loads(response.read())["addr"])
        assert response.headers["Server"] == "portal"
        connection.close()
    get_from("127.0.0.7", built_in_server, "/s/SECRETTOKEN/q?aud=employee")
    assert seen == ["127.0.0.7", "127.0.0.8"]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert '"GET /s/<token>/q HTTP/1.1" 404' in logged
    for secret in ("127.0.0.7", "127.0.0.8", "SECRETTOKEN", "SecretBrowser", "employee"):
        assert secret not in logged


def test_gunicorns_own_error_lines_name_no_address_and_no_path(tmp_path: Path) -> None:
    config = Config()
    config.set("errorlog", str(tmp_path / "error.log"))
    logger = AnonymousLogger(config)
    logger.warning("Invalid request from ip=203.0.113.5: Invalid HTTP request line: 'x'")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("Error handling request %s %s", "POST", "/s/SECRETTOKEN/q")
    for handler in logger.error_log.handlers:
        handler.flush()
    logged = (tmp_path / "error.log").read_text()
    assert "Invalid request from ip=(withheld)" in logged
    assert "Error handling request (path withheld)" in logged and "boom" in logged
    assert "203.0.113.5" not in logged and "SECRETTOKEN" not in logged
