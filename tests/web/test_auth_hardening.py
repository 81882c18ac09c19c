"""Signing in and out under attack: parallel guesses are throttled; sign-out ends the session."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from flask import Flask
from flask.testing import FlaskClient

from portal.services import accounts
from tests.live_server import serve
from tests.web.conftest import PASSWORD, csrf_token, sign_in


def signed_in_browser(base: str, email: str = "hr@example.com") -> requests.Session:
    """Return an HTTP session that has the sign-in page open (its cookie holds the CSRF secret)."""
    browser = requests.Session()
    page = browser.get(f"{base}/admin/login", timeout=30)
    browser.headers["X-Test-Token"] = csrf_token(page.text)
    return browser


def post_sign_in(browser: requests.Session, base: str, password: str) -> int:
    """Post the sign-in form; return the status."""
    data = {"csrf_token": browser.headers["X-Test-Token"], "email": "hr@example.com",
            "password": password}  # fmt: skip
    return browser.post(
        f"{base}/admin/login", data=data, allow_redirects=False, timeout=120
    ).status_code


def test_thirty_parallel_wrong_passwords_get_at_most_five_checks(app: Flask, make_account) -> None:  # type: ignore[no-untyped-def]
    make_account()
    with serve(app) as base:
        browsers = [signed_in_browser(base) for _ in range(30)]
        start = threading.Barrier(len(browsers))

        def guess(n: int) -> int:
            start.wait()
            return post_sign_in(browsers[n], base, f"wrong password {n}")

        with ThreadPoolExecutor(max_workers=len(browsers)) as pool:
            statuses = list(pool.map(guess, range(len(browsers))))
        # 401: the password was checked and was wrong; 429: refused before any check.
        assert statuses.count(401) == accounts.ACCOUNT_ATTEMPTS
        assert statuses.count(429) == len(browsers) - accounts.ACCOUNT_ATTEMPTS
        assert post_sign_in(signed_in_browser(base), base, PASSWORD) == 429


def test_successful_sign_ins_do_not_use_up_the_allowance(client: FlaskClient, make_account) -> None:  # type: ignore[no-untyped-def]
    make_account()
    for _ in range(accounts.ACCOUNT_ATTEMPTS - 1):
        assert sign_in(client, password="not the password").status_code == 401
    for _ in range(accounts.ACCOUNT_ATTEMPTS + 2):
        assert sign_in(client).status_code == 302
        logout_page = client.get("/admin/").get_data(as_text=True)
        client.post("/admin/logout", data={"csrf_token": csrf_token(logout_page)})
    assert sign_in(client, password="not the password").status_code == 401  # the fifth failure
    assert sign_in(client).status_code == 429


def test_a_copied_session_cookie_stops_working_after_sign_out(app: Flask, make_account) -> None:  # type: ignore[no-untyped-def]
    make_account()
    with serve(app) as base:
        browser = requests.Session()
        page = browser.get(f"{base}/admin/login", timeout=30)
        browser.post(
            f"{base}/admin/login",
            data={"csrf_token": csrf_token(page.text), "email": "hr@example.com",
                  "password": PASSWORD},
            timeout=30,
        )  # fmt: skip
        home = browser.get(f"{base}/admin/", allow_redirects=False, timeout=30)
        assert home.status_code == 200
        stolen = browser.cookies.get_dict()
        out = browser.post(
            f"{base}/admin/logout", data={"csrf_token": csrf_token(home.text)}, timeout=30
        )
        assert out.status_code == 200 and "signed out" in out.text
        replay = requests.get(f"{base}/admin/", cookies=stolen, allow_redirects=False, timeout=30)
        assert replay.status_code == 302
        assert re.match(r"(http://127\.0\.0\.1:\d+)?/admin/login", replay.headers["Location"])


def test_sign_out_says_it_ends_every_session_of_the_account(app: Flask, make_account) -> None:  # type: ignore[no-untyped-def]
    make_account()
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop)
    sign_in(phone)
    page = laptop.get("/admin/").get_data(as_text=True)
    out = laptop.post("/admin/logout", data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert "signed out on every device" in out.get_data(as_text=True)
    assert phone.get("/admin/").status_code == 302
    assert sign_in(laptop).status_code == 302  # signing in again works at once
