"""Nothing that could identify a respondent reaches the logs."""

from __future__ import annotations

import logging
import threading
import urllib.request

import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from portal.web.logging import AnonymousRequestHandler
from tests.web.conftest import OpenWave, full_answers, start


def test_a_submission_logs_no_address_browser_or_answer(
    client: FlaskClient, open_wave_with_links: OpenWave, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = open_wave_with_links.token()
    environ = {"REMOTE_ADDR": "203.0.113.77"}
    headers = {"User-Agent": "SecretBrowser/9.9"}
    key = start(client, token)
    data = {"key": key, "lang": "en", "aud": "employee", **full_answers(), "comment": "Zebra42"}
    response = client.post(f"/s/{token}/q", data=data, environ_base=environ, headers=headers)
    assert response.status_code == 303
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in ("203.0.113.77", "SecretBrowser", "Zebra42"):
        assert secret not in logged


def test_the_built_in_server_logs_requests_without_the_client_address(
    app, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="werkzeug")
    server = make_server("127.0.0.1", 0, app, request_handler=AnonymousRequestHandler)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/").close()
    thread.join(timeout=10)
    server.server_close()
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any('"GET / HTTP/1.1" 200' in line for line in lines)
    assert not any("127.0.0.1" in line for line in lines)
