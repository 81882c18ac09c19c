"""Shared fixtures: an app on a fresh SQLite store, its client and CLI runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

# Tests never reach real AWS: fake credentials, and every endpoint is moto on 127.0.0.1.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}.items():
    os.environ[_name] = _value
for _name in [n for n in os.environ if n.startswith("PORTAL_")]:
    del os.environ[_name]

from portal.app import create_app  # noqa: E402
from portal.storage.sqlite import SqliteStore  # noqa: E402


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    """Return a migrated SQLite store in a temporary folder."""
    store = SqliteStore(tmp_path / "portal.sqlite3")
    store.create_schema()
    yield store
    store.close()


@pytest.fixture
def app(sqlite_store: SqliteStore) -> Flask:
    """Return the portal in testing mode on a fresh SQLite store."""
    return create_app({"env": "testing", "secret_key": "test-" + "x" * 40}, store=sqlite_store)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client for ``app``."""
    return app.test_client()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """Start Playwright once per test process: a second sync instance in one process fails."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


@pytest.fixture(autouse=True)
def sign_in_clock_inside_one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each test's sign-ins at the start of a throttle window, the clock still moving.

    Failed sign-ins are counted in fixed 15-minute windows; a test that crossed a
    window's end mid-way would see its count start again (a flaky lockout test).
    """
    import time
    import types

    from portal.services.accounts import ATTEMPT_WINDOW
    from portal.web.auth import views

    started = time.time()
    base = started - started % ATTEMPT_WINDOW + ATTEMPT_WINDOW + 1  # the next window's start
    clock = types.SimpleNamespace(time=lambda: base + (time.time() - started))
    monkeypatch.setattr(views, "time", clock)
