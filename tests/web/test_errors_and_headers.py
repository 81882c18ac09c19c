"""Every error is a helpful page or JSON, never a bare 500; every answer has security headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.app import create_app
from portal.domain.errors import StorageError
from portal.storage.sqlite import SqliteStore


def test_front_page_explains_the_portal(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Change readiness</h1>" in page
    assert "Open the link you were sent" in page


def test_unknown_page_is_a_friendly_404_in_the_layout(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Page not found" in page and 'class="site-header"' in page


def test_unknown_api_path_answers_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.json == {
        "error": {
            "status": 404,
            "title": "Page not found",
            "detail": response.json["error"]["detail"],
        }
    }


def test_json_clients_get_json_errors(client: FlaskClient) -> None:
    response = client.get("/nope", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.json["error"]["status"] == 404


def test_wrong_method_is_a_405_page_with_allowed_methods(client: FlaskClient) -> None:
    response = client.delete("/")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "That action is not possible here" in response.get_data(as_text=True)


@pytest.fixture
def form_app(app: Flask) -> Flask:
    """Add a form endpoint, as every feature's forms have, to test the shared guards."""

    @app.post("/test-form")
    def test_form() -> str:
        return "stored"

    return app


def test_a_post_without_csrf_token_is_a_400_that_says_what_to_do(form_app: Flask) -> None:
    response = form_app.test_client().post("/test-form", data={"x": "1"})
    assert response.status_code == 400
    assert "Reload the page and submit it again" in response.get_data(as_text=True)


def test_an_oversized_body_is_a_413_page(form_app: Flask) -> None:
    response = form_app.test_client().post("/test-form", data={"comment": "x" * 200_000})
    assert response.status_code == 413
    assert "Too much was sent" in response.get_data(as_text=True)


def test_an_unexpected_failure_is_a_calm_500_page(app: Flask) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("kaput")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong on our side" in page and "kaput" not in page


def test_a_transient_storage_failure_is_a_503_that_promises_nothing_was_lost(app: Flask) -> None:
    @app.get("/busy")
    def busy() -> str:
        raise StorageError("throttled", transient=True)

    response = app.test_client().get("/busy")
    assert response.status_code == 503
    assert "Nothing was lost" in response.get_data(as_text=True)


def test_a_full_or_read_only_store_is_a_503_that_names_no_path_and_is_logged(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/full")
    def full() -> str:
        raise StorageError("SQLite error: database or disk is full (/srv/portal/portal.sqlite3)")

    with caplog.at_level("ERROR", logger="portal.web.errors"):
        response = app.test_client().get("/full")
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert "/srv/portal" not in response.get_data(as_text=True)
    assert any("disk is full" in r.getMessage() for r in caplog.records)


def test_every_answer_has_a_strict_content_security_policy(client: FlaskClient) -> None:
    for path in ("/", "/nope", "/healthz"):
        csp = client.get(path).headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp


def test_pages_carry_no_inline_script_or_style(client: FlaskClient) -> None:
    for path in ("/", "/nope"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>" not in page and "<style" not in page and " style=" not in page


def test_links_never_leak_through_the_referrer(client: FlaskClient) -> None:
    assert client.get("/").headers["Referrer-Policy"] == "no-referrer"


def test_fingerprinted_static_files_are_cached_for_a_year(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    href = page.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    assert href.startswith("/static/gen/portal.") and href.endswith(".css")
    response = client.get(href)
    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert "immutable" in response.headers["Cache-Control"]
    assert "no-cache" not in response.headers["Cache-Control"]


def test_health_check_reports_an_unreachable_store_and_logs_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(
        {"env": "testing", "secret_key": "k" * 40}, store=SqliteStore(tmp_path / "uninit.db")
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert str(tmp_path) not in response.get_data(as_text=True)  # the path goes to the log only
    assert "portal init-db" in caplog.text


def test_health_check_is_ok_on_a_ready_store(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}


@pytest.mark.parametrize(("env", "secure"), [("production", True), ("development", False)])
def test_session_cookies_are_secure_outside_local_development(env: str, secure: bool) -> None:
    app = create_app({"env": env, "secret_key": "Cookie-Test-Key-7d41f0a9c3b2e865-2026"})
    assert app.config["SESSION_COOKIE_SECURE"] is secure
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
