"""Every admin form, posted over real HTTPS to the portal as production runs it.

The route walk of ``tests/route_walk.py`` (every admin page opened, every POST
form on it submitted with the Referer its page's policy lets a browser send)
against each deployment: the Lambda zip behind the API Gateway front (payloads
v1 and v2, under the ``/dev`` stage prefix for v1) and the production server
behind Caddy. Each walk gets a deployment of its own, loaded with the demo
organisation, since it closes waves, revokes accounts and signs out.
"""

from __future__ import annotations

import http.cookiejar
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence

import pytest
from flask import Flask

from portal.app import create_app
from portal.storage.sqlite import SqliteStore
from tests.prod.conftest import DEPLOYMENTS, start_deployment
from tests.prod.deployment import Deployment
from tests.route_walk import Answer, Walker, check_walk

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EMAIL, PASSWORD = "walker@example.org", "a long walk over HTTPS 2026"


class HttpsTransport:
    """The walker's transport: urllib over HTTPS with a cookie jar, like one browser tab."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.cookies = http.cookiejar.CookieJar()

    def _open(self, request: urllib.request.Request) -> Answer:
        try:
            response = self.deployment.urlopen(request, cookies=self.cookies, timeout=60)
        except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx and 5xx
            headers, status, body = error.headers, error.code, error.read()
        else:
            with response:
                headers, status, body = response.headers, response.status, response.read()
        return Answer(
            status=status,
            text=body.decode("utf-8", errors="replace"),
            content_type=headers.get("Content-Type", ""),
            location=headers.get("Location", ""),
            referrer_policy=headers.get("Referrer-Policy", ""),
            set_cookie=headers.get_all("Set-Cookie") or [],
        )

    def get(self, url: str) -> Answer:
        """GET ``url``."""
        return self._open(urllib.request.Request(url))

    def post(
        self,
        url: str,
        fields: Sequence[tuple[str, str]],
        files: Sequence[tuple[str, str, bytes]],
        headers: dict[str, str],
    ) -> Answer:
        """POST a form: URL-encoded, or multipart when it carries a file, as browsers do."""
        if files:
            body, content_type = multipart(fields, files)
        else:
            body = urllib.parse.urlencode(list(fields)).encode()
            content_type = "application/x-www-form-urlencoded"
        request = urllib.request.Request(
            url, data=body, method="POST", headers={**headers, "Content-Type": content_type}
        )
        return self._open(request)


def multipart(
    fields: Sequence[tuple[str, str]], files: Sequence[tuple[str, str, bytes]]
) -> tuple[bytes, str]:
    """Encode a form as ``multipart/form-data``; return the body and its content type."""
    boundary = "----walk" + secrets.token_hex(12)
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            ).encode()
        )
    for name, filename, content in files:
        parts.append(
            (
                f"--{boundary}\r\nContent-Disposition: form-data; "
                f'name="{name}"; filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@pytest.fixture(scope="module")
def local_app() -> Flask:
    """Return an app whose URL map tells which endpoint a form posts to."""
    return create_app(
        {"env": "testing", "secret_key": "w" * 8 + "alk-map-" * 5}, store=SqliteStore(":memory:")
    )


@pytest.fixture(scope="module", params=DEPLOYMENTS)
def walked(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """A deployment of the walk's own with the demo, an admin and a second account."""
    name: str = request.param
    with start_deployment(name, request, tmp_path_factory.mktemp(f"walk-{name}")) as running:
        running.portal("demo")
        for email, role in ((EMAIL, "admin"), ("viewer@example.org", "viewer")):
            running.portal(
                "user", "create", "--email", email, "--role", role, "--password-stdin",
                input=PASSWORD + "\n",
            )  # fmt: skip
        yield running


def test_every_admin_form_is_accepted_over_https(walked: Deployment, local_app: Flask) -> None:
    walker = Walker(
        HttpsTransport(walked), walked.base_url, local_app, email=EMAIL, password=PASSWORD
    )
    outcomes = check_walk(walker)
    assert outcomes["auth.logout"] == 302
