"""Every admin form works over HTTPS as a browser sends it; CSRF still refuses forgeries.

API Gateway serves only HTTPS. There, Flask-WTF's CSRF check also wants a
``Referer`` of the same origin (``WTF_CSRF_SSL_STRICT``), and a browser sends
one only if the page's ``Referrer-Policy`` allows it. With ``no-referrer`` on
every page, nobody could sign in in production while every HTTP test passed.

So these tests model the browser (``tests/route_walk.py``): after each page
they read its ``Referrer-Policy`` and send the Referer a browser would send
with that page's forms. The route walk crawls the demo organisation's admin
pages over HTTPS and posts every form it finds; no form may be refused by CSRF
and none may fail with a 500, and every state-changing admin route must be
reached by some page's form. The same walk runs against the Lambda zip and the
production server over real HTTPS in ``tests/prod/test_route_walk.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from portal.app import create_app
from portal.domain.accounts import Role
from portal.services.accounts import create_user
from portal.services.demo import load_demo
from portal.storage.sqlite import SqliteStore
from portal.web.security import referrer_policy
from tests.route_walk import CSRF_REFUSED, Answer, Walker, check_walk, parse

ORIGIN = "https://portal.example.org"
EMAIL, PASSWORD = "hr@example.org", "correct horse battery staple"


class ClientTransport:
    """The walker's transport on Flask's test client (HTTPS by its base URL)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, url: str) -> Answer:
        """GET ``url``."""
        return _answer(self.client.get(url, base_url=ORIGIN))

    def post(
        self,
        url: str,
        fields: Sequence[tuple[str, str]],
        files: Sequence[tuple[str, str, bytes]],
        headers: dict[str, str],
    ) -> Answer:
        """POST a form."""
        import io

        data: dict[str, list[object]] = {}
        for name, value in fields:
            data.setdefault(name, []).append(value)
        for name, filename, content in files:
            data[name] = [(io.BytesIO(content), filename)]
        return _answer(self.client.post(url, data=data, headers=headers, base_url=ORIGIN))


def _answer(response: TestResponse) -> Answer:
    return Answer(
        status=response.status_code,
        text=response.get_data(as_text=True),
        content_type=response.content_type or "",
        location=response.headers.get("Location", ""),
        referrer_policy=response.headers.get("Referrer-Policy", ""),
        set_cookie=response.headers.getlist("Set-Cookie"),
    )


@pytest.fixture
def https_app(tmp_path) -> Flask:  # type: ignore[no-untyped-def]
    """Return the portal as production runs it (HTTPS-only cookies, strict CSRF) on the demo."""
    store = SqliteStore(tmp_path / "portal.sqlite3")
    store.create_schema()
    load_demo(store, today=date.today())
    create_user(
        store,
        email=EMAIL,
        role=Role.ADMIN,
        password=PASSWORD,
        actor="test",
        must_change_password=False,
    )
    create_user(store, email="viewer@example.org", role=Role.VIEWER, password=PASSWORD, actor="t")
    app = create_app(
        {"env": "production", "secret_key": "Https-Test-Key-9f3a7c21e84d6b05-walk-4d1e"},
        store=store,
    )
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["WTF_CSRF_SSL_STRICT"]
    return app


@pytest.fixture
def browser(https_app: Flask) -> Walker:
    """Return a browser model on the production-mode app."""
    transport = ClientTransport(https_app.test_client())
    return Walker(transport, ORIGIN, https_app, email=EMAIL, password=PASSWORD)


# -- the bug and the policy ------------------------------------------------------------


def test_admin_signs_in_over_https_with_the_referer_the_page_allows(browser: Walker) -> None:
    answer = browser.sign_in()
    assert answer.location.endswith("/admin/")
    home = browser.get(f"{ORIGIN}/admin/")
    assert home.status == 200 and EMAIL in home.text


def test_session_cookie_is_secure_and_http_only_in_production(browser: Walker) -> None:
    (cookie,) = browser.sign_in().set_cookie
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_post_without_referer_over_https_is_still_refused(browser: Walker) -> None:
    url = f"{ORIGIN}/admin/login"
    page = parse(url, browser.get(url))
    browser.policies[url] = "no-referrer"  # what every page said before the fix
    answer = browser.submit(page.forms[0])
    assert answer.status == 400 and CSRF_REFUSED in answer.text


def test_a_post_from_another_site_is_refused(browser: Walker) -> None:
    url = f"{ORIGIN}/admin/login"
    form = parse(url, browser.get(url)).forms[0]
    form.page = "https://evil.example.net/admin/login"
    browser.policies[form.page] = "unsafe-url"
    form.fields += [("email", EMAIL), ("password", PASSWORD)]
    answer = browser.submit(form)
    assert answer.status == 400 and CSRF_REFUSED in answer.text


def test_respondent_pages_send_no_referrer_and_admin_pages_only_to_this_site(
    browser: Walker, https_app: Flask
) -> None:
    store = https_app.extensions["portal.store"]
    link = store.list_links("demo-crm", "follow-up-1")[0]
    for path in (f"/s/{link.token}", f"/s/{link.token}/q?aud=employee", "/code", "/"):
        assert browser.get(ORIGIN + path).referrer_policy == "no-referrer", path
    for path in ("/admin/login", "/admin/"):
        assert browser.get(ORIGIN + path).referrer_policy == "same-origin", path


@pytest.mark.parametrize(
    ("path", "policy"),
    [
        ("/admin", "same-origin"),
        ("/admin/", "same-origin"),
        ("/admin/surveys/x", "same-origin"),
        ("/administrator", "no-referrer"),
        ("/s/token/q", "no-referrer"),
        ("/code", "no-referrer"),
        ("/api/v1/surveys", "no-referrer"),
    ],
)
def test_referrer_policy_by_area(path: str, policy: str) -> None:
    assert referrer_policy(path) == policy


@pytest.mark.slow
def test_every_admin_form_is_accepted_over_https_by_the_csrf_check(browser: Walker) -> None:
    outcomes = check_walk(browser)
    assert outcomes["auth.logout"] == 302
