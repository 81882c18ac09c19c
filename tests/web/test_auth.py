"""Signing in: strong passwords, throttling, timeouts, and sessions that end when they should."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.services import accounts
from tests.web.conftest import PASSWORD, csrf_token, sign_in


def test_anonymous_visitors_are_sent_to_sign_in_and_back(client: FlaskClient, make_account) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login?next=/admin/"
    make_account()
    token = csrf_token(client.get("/admin/login?next=/admin/").get_data(as_text=True))
    signed = client.post(
        "/admin/login?next=/admin/",
        data={"csrf_token": token, "email": " HR@Example.com ", "password": PASSWORD},
    )
    assert signed.status_code == 302 and signed.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_sign_in_returns_to_the_page_under_the_apps_mount_point(
    client: FlaskClient, make_account
) -> None:  # type: ignore[no-untyped-def]
    # Behind API Gateway's stage prefix the app is mounted at /dev (SCRIPT_NAME).
    make_account()
    mounted = "http://localhost/dev"
    asked = client.get("/admin/", base_url=mounted)
    assert asked.headers["Location"] == "/dev/admin/login?next=/admin/"
    page = client.get("/admin/login?next=/admin/", base_url=mounted).get_data(as_text=True)
    signed = client.post(
        "/admin/login?next=/admin/",
        data={"csrf_token": csrf_token(page), "email": "hr@example.com", "password": PASSWORD},
        base_url=mounted,
    )
    assert signed.status_code == 302 and signed.headers["Location"] == "/dev/admin/"


def test_the_session_cookie_is_httponly_and_samesite(client: FlaskClient, make_account) -> None:  # type: ignore[no-untyped-def]
    make_account()
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie


def test_a_wrong_password_says_nothing_about_which_part_was_wrong(
    client: FlaskClient, make_account
) -> None:  # type: ignore[no-untyped-def]
    make_account()
    wrong = sign_in(client, password="not the password")
    unknown = sign_in(client, email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    message = "The e-mail address or password is not right"
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_five_failures_lock_the_account_for_a_while(client: FlaskClient, make_account) -> None:  # type: ignore[no-untyped-def]
    make_account()
    for _ in range(5):
        assert sign_in(client, password="wrong password!").status_code == 401
    locked = sign_in(client)  # even the right password is refused now
    assert locked.status_code == 429
    assert "Too many failed sign-ins. Try again in" in locked.get_data(as_text=True)


def test_twenty_failures_from_one_client_lock_that_client(
    client: FlaskClient, make_account
) -> None:  # type: ignore[no-untyped-def]
    make_account()
    for n in range(20):
        sign_in(client, email=f"guess{n}@example.com")
    assert sign_in(client).status_code == 429
    other_client = client.application.test_client()
    token = csrf_token(other_client.get("/admin/login").get_data(as_text=True))
    elsewhere = other_client.post(
        "/admin/login",
        data={"csrf_token": token, "email": "hr@example.com", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.9"},
    )
    assert elsewhere.status_code == 302  # another client, and the account itself, are fine


def test_an_idle_session_ends_after_thirty_minutes(client: FlaskClient, make_account) -> None:  # type: ignore[no-untyped-def]
    make_account()
    sign_in(client)
    with client.session_transaction() as session:
        session["auth"] = {**session["auth"], "seen": session["auth"]["seen"] - 31 * 60}
    response = client.get("/admin/")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Please sign in again" in page or "Sign in for HR" in page


def test_revoking_an_account_ends_its_sessions_at_once(
    app: Flask, client: FlaskClient, make_account
) -> None:  # type: ignore[no-untyped-def]
    make_account("viewer@example.com", Role.VIEWER)
    sign_in(client, "viewer@example.com")
    assert client.get("/admin/").status_code == 200
    store = app.extensions["portal.store"]
    accounts.update_access(store, "viewer@example.com", actor="hr@example.com", active=False)
    assert client.get("/admin/").status_code == 302
    assert sign_in(client, "viewer@example.com").status_code == 401


def test_changing_the_password_ends_other_sessions(app: Flask, make_account) -> None:  # type: ignore[no-untyped-def]
    make_account()
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop)
    sign_in(phone)
    page = laptop.get("/admin/password").get_data(as_text=True)
    changed = laptop.post(
        "/admin/password",
        data={
            "csrf_token": csrf_token(page),
            "current": PASSWORD,
            "new": "a brand new passphrase",
            "confirm": "a brand new passphrase",
        },
    )
    assert changed.status_code == 302
    assert laptop.get("/admin/").status_code == 200
    assert phone.get("/admin/").status_code == 302


def test_a_weak_new_password_is_refused_with_the_reason(client: FlaskClient, make_account) -> None:  # type: ignore[no-untyped-def]
    make_account()
    sign_in(client)
    page = client.get("/admin/password").get_data(as_text=True)
    response = client.post(
        "/admin/password",
        data={"csrf_token": csrf_token(page), "current": PASSWORD, "new": "password1234",
              "confirm": "password1234"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "too easy to guess" in response.get_data(as_text=True)


def test_an_account_with_a_one_time_password_must_change_it_first(
    client: FlaskClient, make_account
) -> None:  # type: ignore[no-untyped-def]
    make_account(must_change_password=True)
    sign_in(client)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/password"


def test_signing_out_needs_a_post_with_a_csrf_token(client: FlaskClient, make_account) -> None:  # type: ignore[no-untyped-def]
    make_account()
    sign_in(client)
    assert client.get("/admin/logout").status_code == 405
    assert client.post("/admin/logout").status_code == 400
    page = client.get("/admin/").get_data(as_text=True)
    assert client.post("/admin/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_the_return_address_cannot_leave_the_admin(app: Flask, make_account) -> None:  # type: ignore[no-untyped-def]
    make_account()
    for evil in ("//evil.example/", "https://evil.example/admin/", "/admin//evil.example"):
        client = app.test_client()
        token = csrf_token(client.get("/admin/login").get_data(as_text=True))
        response = client.post(
            f"/admin/login?next={evil}",
            data={"csrf_token": token, "email": "hr@example.com", "password": PASSWORD},
        )
        assert response.headers["Location"] == "/admin/"


def test_passwords_are_stored_as_salted_scrypt_hashes(make_account) -> None:  # type: ignore[no-untyped-def]
    user = make_account()
    assert user.password_hash.startswith("scrypt$32768$8$1$")
    assert PASSWORD not in user.password_hash
    assert accounts.verify_password(user.password_hash, PASSWORD)
    assert not accounts.verify_password(user.password_hash, PASSWORD + "!")
    assert accounts.hash_password(PASSWORD) != accounts.hash_password(PASSWORD)


def test_admin_pages_accept_uploads_larger_than_respondent_forms(client: FlaskClient) -> None:
    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    response = client.post(
        "/admin/login", data={"csrf_token": token, "email": "x" * 200_000, "password": "p"}
    )
    assert response.status_code != 413  # 200 KB is fine here; a respondent's limit is 64 KB
    huge = client.post("/admin/login", data={"csrf_token": token, "email": "x" * 3_000_000})
    assert huge.status_code == 413
