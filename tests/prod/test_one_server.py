"""The one-server production mode, as users reach it: over HTTPS through Caddy.

These check what only this deployment can get wrong (the journeys in
``test_journeys.py`` run over it like over the Lambda ones): that the portal
behind the reverse proxy knows it is served over HTTPS (CSRF's same-origin
Referer check, ``Secure`` cookie, HSTS), that it takes the client's address
from the proxy it trusts and from nothing else, and that neither server names
its software.

Which X-Forwarded-For is trusted: the portal trusts exactly one proxy hop
(``PORTAL_TRUSTED_PROXIES=1``), i.e. the last address in the header, which
Caddy sets to the address the connection really came from; Caddy replaces
whatever a client sent, so a client cannot choose its own address through it.
The app server itself cannot tell Caddy's connection from any other local
one, which is why it listens on 127.0.0.1 only. Here every client is
127.0.0.1, so a second client is simulated by talking to the app server
directly with the headers Caddy would send for another address.
"""

from __future__ import annotations

import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from portal.services.accounts import CLIENT_ATTEMPTS
from tests.prod.deployment import Deployment
from tests.prod.one_server import one_server_deployment, tail

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EMAIL, PASSWORD = "hr-admin@example.org", "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _deploy(tmp: Path) -> Iterator[Deployment]:
    with one_server_deployment(tmp) as deployment:
        deployment.portal(
            "user", "create", "--email", EMAIL, "--role", "admin", "--password-stdin",
            input=PASSWORD + "\n",
        )  # fmt: skip
        try:
            yield deployment
        finally:
            logs: dict[str, Path] = deployment.extra["logs"]  # type: ignore[assignment]
            for name, log in logs.items():
                print(f"--- {name} log ---\n{tail(log)}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The one-server deployment with one admin, shared by this module's read-only checks."""
    yield from _deploy(tmp_path_factory.mktemp("one-server"))


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Deployment]:
    """A deployment of its own, for a test that locks its client out."""
    yield from _deploy(tmp_path / "one-server")


def https(deployment: Deployment) -> requests.Session:
    """Return a session that trusts this deployment's certificate alone."""
    session = direct()
    session.verify = str(deployment.certificate.cert_pem)
    return session


def direct() -> requests.Session:
    """Return a session that ignores the environment's proxies and CA bundle (REQUESTS_CA_BUNDLE
    would override ``verify``; a proxy variable must never route 127.0.0.1 elsewhere)."""
    session = requests.Session()
    session.trust_env = False
    return session


def csrf_token(html: str) -> str:
    """Return the CSRF token of the page's form."""
    match = CSRF_RE.search(html)
    assert match, "the sign-in page has no CSRF token"
    return match.group(1)


def sign_in(
    session: requests.Session,
    deployment: Deployment,
    *,
    email: str = EMAIL,
    password: str = PASSWORD,
    headers: dict[str, str] | None = None,
    referer: bool = True,
    token: bool = True,
) -> requests.Response:
    """Post the sign-in form through Caddy as Chromium would.

    The Referer is the one a browser sends under the page's Referrer-Policy as
    it arrived through Caddy (none under ``no-referrer``), or none at all when
    ``referer`` is false.
    """
    login = f"{deployment.base_url}/admin/login"
    page = session.get(login, headers=headers)
    assert page.status_code == 200, page.text[:300]
    form = {"email": email, "password": password}
    if token:
        form["csrf_token"] = csrf_token(page.text)
    sent = dict(headers or {})
    if referer:
        sent.update(browser_referer(login, page.headers.get("Referrer-Policy")))
    return session.post(login, data=form, headers=sent, allow_redirects=False)


def browser_referer(page_url: str, policy: str | None) -> dict[str, str]:
    """Return the Referer a browser sends from ``page_url`` to a page of the same origin."""
    # A list of policies means the last one the browser knows; all of these are known.
    chosen = (policy or "strict-origin-when-cross-origin").split(",")[-1].strip().lower()
    if chosen == "no-referrer":
        return {}
    if chosen in ("origin", "strict-origin"):
        return {"Referer": page_url.split("/admin/", 1)[0] + "/"}
    return {"Referer": page_url}


def signs_in_at_the_app_server(deployment: Deployment, client: str) -> requests.Response:
    """Sign in by talking to the app server directly, with what Caddy sends for ``client``."""
    app_url = str(deployment.extra["app_url"])
    origin = deployment.base_url.removeprefix("https://")
    forwarded = {
        "Host": origin,
        "X-Forwarded-For": client,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": origin,
    }
    session = direct()
    page = session.get(f"{app_url}/admin/login", headers=forwarded)
    assert page.status_code == 200, page.text[:300]
    # The session cookie is Secure, so a cookie jar would not send it over plain HTTP.
    cookie = page.cookies["portal_session"]
    return session.post(
        f"{app_url}/admin/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_token(page.text)},
        headers={
            **forwarded,
            "Cookie": f"portal_session={cookie}",
            "Referer": f"{deployment.base_url}/admin/login",
        },
        allow_redirects=False,
    )


def test_healthz_answers_over_https_through_caddy(server: Deployment) -> None:
    response = https(server).get(f"{server.base_url}/healthz")

    assert response.status_code == 200
    assert response.url.startswith("https://")


def test_an_admin_signs_in_over_https_with_the_csrf_token_and_a_same_origin_referer(
    server: Deployment,
) -> None:
    session = https(server)

    response = sign_in(session, server)

    assert response.status_code == 302, response.text[:500]
    assert session.get(f"{server.base_url}/admin/", allow_redirects=False).status_code == 200


def test_a_sign_in_without_a_referer_is_refused_because_the_portal_knows_it_is_on_https(
    server: Deployment,
) -> None:
    # Flask-WTF checks the Referer only on HTTPS: refused means X-Forwarded-Proto was trusted.
    response = sign_in(https(server), server, referer=False)

    assert response.status_code == 400


def test_a_sign_in_without_its_csrf_token_is_refused(server: Deployment) -> None:
    response = sign_in(https(server), server, token=False)

    assert response.status_code == 400


def test_the_session_cookie_is_secure_httponly_and_samesite_lax(server: Deployment) -> None:
    response = https(server).get(f"{server.base_url}/admin/login")

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("portal_session=")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax"} <= attributes


@pytest.mark.parametrize("path", ["/healthz", "/", "/admin/login", "/s/no-such-link", "/static/x"])
def test_every_answer_asks_browsers_for_https_only_and_names_no_server_software(
    server: Deployment, path: str
) -> None:
    response = https(server).get(f"{server.base_url}{path}", allow_redirects=False)

    hsts = response.headers.get("Strict-Transport-Security", "")
    assert re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts), (path, hsts)
    assert int(hsts.split("=")[1].split(";")[0]) >= 180 * 24 * 3600
    # The guide's `header -Server` removes Caddy's and the app server's alike.
    assert "Server" not in response.headers, response.headers["Server"]
    assert "X-Powered-By" not in response.headers


def test_the_logs_hold_no_link_token_code_or_forwarded_client_address(
    server: Deployment,
) -> None:
    token, code, address = uuid.uuid4().hex, "QX7K-M2PD", "198.51.100.23"
    session = https(server)
    session.get(f"{server.base_url}/s/{token}", headers={"X-Forwarded-For": address})
    session.get(f"{server.base_url}/s/{token}/q?aud=employee", headers={"X-Forwarded-For": address})
    session.post(f"{server.base_url}/code", data={"code": code})
    app_url = str(server.extra["app_url"])
    direct().get(f"{app_url}/s/{token}", headers={"X-Forwarded-For": address})
    time.sleep(0.5)  # let both servers write what they log

    logs: dict[str, Path] = server.extra["logs"]  # type: ignore[assignment]
    # The access log did record these requests, with the route in place of the token.
    assert "/s/" in logs["app server"].read_text(errors="replace")
    for name, log in logs.items():
        text = log.read_text(errors="replace")
        for secret in (token, code, address):
            assert secret not in text, f"the {name} log records {secret!r}"


def test_the_throttle_counts_the_client_caddy_saw_and_spares_a_different_client(
    fresh_server: Deployment,
) -> None:
    session = https(fresh_server)
    refused_at = None
    # Every bad sign-in claims a new address and a new account, so only the client limit binds.
    for attempt in range(1, CLIENT_ATTEMPTS + 2):
        response = sign_in(
            session,
            fresh_server,
            email=f"nobody-{attempt}@example.org",
            password="wrong password",
            headers={"X-Forwarded-For": f"203.0.113.{attempt}"},
        )
        assert response.status_code in (401, 429), response.text[:300]
        if response.status_code == 429:
            refused_at = attempt
            break
    # A spoofed X-Forwarded-For through Caddy does not escape the client's limit ...
    assert refused_at is not None, "the client limit never applied: a spoofed address was trusted"
    locked = sign_in(session, fresh_server, headers={"X-Forwarded-For": "192.0.2.99"})
    assert locked.status_code == 429

    # ... and a different client, as Caddy would forward it, is not locked out.
    other = signs_in_at_the_app_server(fresh_server, client="198.51.100.200")

    assert other.status_code == 302, other.text[:500]


def test_a_graceful_restart_of_the_app_server_drops_no_request_through_caddy(
    server: Deployment,
) -> None:
    statuses: list[int] = []
    stop = threading.Event()

    def keep_asking() -> None:
        session = https(server)
        while not stop.is_set():
            statuses.append(session.get(f"{server.base_url}/healthz").status_code)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    time.sleep(0.3)
    server.extra["app_process"].send_signal(signal.SIGHUP)  # type: ignore[attr-defined]
    time.sleep(3)  # new workers start, old ones finish what they hold
    stop.set()
    asker.join(timeout=10)

    assert statuses and set(statuses) == {200}, sorted(set(statuses))
