"""A secret key kept in SSM is read when a request first needs it, once; checked as before."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from flask import Flask
from moto import mock_aws

from portal.app import create_app
from portal.storage.sqlite import SqliteStore
from portal.web.sessions import Deferred, DeferredConfig

PARAMETER = "/portal/test/secret-key"


@pytest.fixture
def ssm_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Run on moto and list every SSM client the code makes (one per key read)."""
    made: list[str] = []
    real_client = boto3.client

    def counting_client(service: str, **kwargs: Any) -> Any:
        if service == "ssm":
            made.append(service)
        return real_client(service, **kwargs)

    with mock_aws():
        monkeypatch.setattr(boto3, "client", counting_client)
        yield made


def put_key(value: str) -> None:
    # Through a session of its own: ``ssm_reads`` counts the module-level ``boto3.client``.
    boto3.session.Session(region_name="eu-west-1").client("ssm").put_parameter(
        Name=PARAMETER, Value=value, Type="SecureString", Overwrite=True
    )


def ssm_app(store: SqliteStore) -> Flask:
    return create_app(
        {"env": "testing", "secret_key_ssm_parameter": PARAMETER, "aws_region": "eu-west-1"},
        store=store,
    )


def test_neither_starting_nor_the_front_page_nor_a_static_file_reads_the_key(
    ssm_reads: list[str], sqlite_store: SqliteStore
) -> None:
    put_key(secrets.token_urlsafe(48))
    client = ssm_app(sqlite_store).test_client()
    page = client.get("/")
    assert page.status_code == 200
    stylesheet = page.get_data(as_text=True).split('rel="stylesheet" href="')[1].split('"')[0]
    assert client.get(stylesheet).status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert "Set-Cookie" not in page.headers
    assert ssm_reads == []


def test_a_form_reads_the_key_once_and_the_session_is_signed_with_it(
    ssm_reads: list[str], sqlite_store: SqliteStore
) -> None:
    key = secrets.token_urlsafe(48)
    put_key(key)
    app = ssm_app(sqlite_store)
    client = app.test_client()
    assert client.get("/admin/login").status_code == 200  # its CSRF token lives in the session
    assert client.get("/admin/login").status_code == 200
    assert ssm_reads == ["ssm"]
    cookie = client.get_cookie("portal_session")
    assert cookie is not None
    # An app given the same key directly opens the cookie; so the SSM key signed it.
    same_key = create_app({"env": "testing", "secret_key": key}, store=sqlite_store)
    serializer = same_key.session_interface.get_signing_serializer(same_key)  # type: ignore[attr-defined]
    assert "csrf_token" in serializer.loads(cookie.value)


def test_a_weak_or_missing_key_fails_the_request_that_needs_it_until_it_is_fixed(
    ssm_reads: list[str], sqlite_store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    client = ssm_app(sqlite_store).test_client()
    assert client.get("/admin/login").status_code == 500
    assert "Cannot read the secret key from SSM" in caplog.text
    put_key("a" * 60)
    assert client.get("/admin/login").status_code == 500
    assert "too weak" in caplog.text
    put_key(secrets.token_urlsafe(48))
    assert client.get("/admin/login").status_code == 200
    assert len(ssm_reads) == 3


def test_a_session_cookie_is_checked_with_the_key(
    ssm_reads: list[str], sqlite_store: SqliteStore
) -> None:
    put_key(secrets.token_urlsafe(48))
    client = ssm_app(sqlite_store).test_client()
    client.set_cookie("portal_session", "forged.value.signature")
    assert client.get("/").status_code == 200
    assert ssm_reads == ["ssm"]


def test_threads_reading_a_deferred_value_together_make_it_once() -> None:
    made: list[int] = []

    def slow_key() -> str:
        made.append(1)
        time.sleep(0.05)  # wide enough for every thread to find it still deferred
        return "the-key"

    config = DeferredConfig(".", {"SECRET_KEY": Deferred(slow_key)})
    seen: list[object] = []
    threads = [
        threading.Thread(target=lambda: seen.append(config.get("SECRET_KEY"))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == [1] and seen == ["the-key"] * 8
    assert config["SECRET_KEY"] == "the-key" and config.get("MISSING", 3) == 3
