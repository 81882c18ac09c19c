"""Who is signed in, and what they may open.

Sessions live in Flask's signed cookie (``HttpOnly``, ``SameSite=Lax``,
``Secure`` outside development). Each request under ``/admin`` re-reads the
account, so a revoked account or a changed password ends every session at once
(the session carries the account's ``session_epoch``); signing out moves the
epoch on too, so a copied cookie stops working. A session also ends
after 30 minutes without activity, and 12 hours after sign-in regardless.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Flask, abort, g, redirect, request, session, url_for

from portal.domain.accounts import Role, User
from portal.domain.errors import NotFound
from portal.services.api_tokens import TokenRefused, authenticate
from portal.web import get_store
from portal.web.errors import error_response
from portal.web.i18n import set_page_language

IDLE_SECONDS = 30 * 60
MAX_SECONDS = 12 * 3600
#: The session cookie is refreshed at most this often, not on every request.
TOUCH_SECONDS = 60
ADMIN_PREFIX = "/admin"
ADMIN_MAX_CONTENT_LENGTH = 2 * 1024 * 1024

P = ParamSpec("P")
R = TypeVar("R")


def start_session(user: User, now: int | None = None) -> None:
    """Sign ``user`` in: a fresh session bound to the account's current epoch."""
    now = int(time.time()) if now is None else now
    session.clear()
    session.permanent = True
    session["auth"] = {"email": user.email, "epoch": user.session_epoch, "at": now, "seen": now}


def end_session() -> None:
    """Forget this browser's session (``accounts.sign_out`` ends the others server-side)."""
    session.clear()


def current_user() -> User | None:
    """Return the signed-in account, if any."""
    user: User | None = g.get("user")
    return user


def _load_user() -> None:
    g.user = None
    if not request.path.startswith(ADMIN_PREFIX):
        return
    # The admin pages are not translated yet; keep them whole in English.
    set_page_language("en")
    data = session.get("auth")
    if not isinstance(data, dict):
        return
    now = int(time.time())
    try:
        seen, started = int(data["seen"]), int(data["at"])
        email, epoch = str(data["email"]), int(data["epoch"])
    except (KeyError, TypeError, ValueError):
        end_session()
        return
    if now - seen > IDLE_SECONDS or now - started > MAX_SECONDS:
        end_session()
        g.session_expired = True
        return
    try:
        user = get_store().get_user(email)
    except NotFound:
        end_session()
        return
    if not user.active or user.session_epoch != epoch:
        end_session()
        return
    if now - seen >= TOUCH_SECONDS:
        session["auth"] = {**data, "seen": now}
    g.user = user


def require(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Let only signed-in accounts with one of ``roles`` (any role if none given) through.

    Anonymous visitors are sent to sign in (and back afterwards); signed-in
    accounts without the role get 403; an account that must change its
    password is sent to do that first.
    """

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            user = current_user()
            if user is None:
                target = request.full_path if request.method == "GET" else request.path
                return redirect(url_for("auth.login", next=target.rstrip("?")))  # type: ignore[return-value]
            if user.must_change_password and request.endpoint not in PASSWORD_ENDPOINTS:
                return redirect(url_for("auth.password"))  # type: ignore[return-value]
            if roles and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        guarded.required_roles = roles  # type: ignore[attr-defined]
        return guarded

    return decorate


def api_require(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Let only requests with a valid bearer token whose account has one of ``roles`` through.

    The JSON API's counterpart of ``require`` (it sets ``required_roles`` the
    same way, so the route-access test checks both): no cookie is read; a
    missing, unknown or revoked token, or one of an inactive account, gets 401
    JSON with ``WWW-Authenticate: Bearer``; an account without the role gets
    403. The account is read on every request, so its current role and
    departments apply and ``current_user()`` returns it inside the view.
    """

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                user = authenticate(get_store(), request.headers.get("Authorization"))
            except TokenRefused as exc:
                response = error_response(401, str(exc))
                response.headers["WWW-Authenticate"] = 'Bearer realm="portal-api"'
                return response  # type: ignore[return-value]
            g.user = user
            if roles and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        guarded.required_roles = roles  # type: ignore[attr-defined]
        guarded.bearer_token = True  # type: ignore[attr-defined]
        return guarded

    return decorate


PASSWORD_ENDPOINTS = frozenset({"auth.password", "auth.logout"})
#: Roles that may read results and participation (department viewers only their own).
READERS = (Role.ADMIN, Role.VIEWER, Role.DEPARTMENT_VIEWER)


def reader_scope(survey_slug: str) -> tuple[User, Callable[[str], bool]]:
    """Return the signed-in account and which departments of the survey it may read.

    Answers 403 when the account may read nothing of the survey. Call it only
    in views already behind ``require`` or ``api_require``.
    """
    user = current_user()
    assert user is not None  # the view's guard let only a signed-in account through
    if not user.may_read(survey_slug):
        abort(403)
    return user, lambda code: user.may_read(survey_slug, code)


def safe_next(target: str | None) -> str:
    """Return where to go after sign-in: ``target`` if it is an admin path, else the admin home.

    ``target`` is a path inside the app (``next`` is made from ``request.path``),
    so the app's mount point is put back in front of it: behind API Gateway's
    stage prefix (``/dev``) a bare ``/admin/`` leads out of the API.
    """
    if (
        target
        and target.startswith(ADMIN_PREFIX + "/")
        and "//" not in target
        and "\\" not in target
    ):
        return request.script_root + target
    return url_for("admin.home")


def _admin_upload_limit() -> None:
    # Admins upload department files; respondents keep the small limit.
    if request.path.startswith(ADMIN_PREFIX):
        request.max_content_length = ADMIN_MAX_CONTENT_LENGTH


def init_app(app: Flask) -> None:
    """Load the signed-in account before each admin request."""
    # First of all hooks: CSRF protection reads the form in its own hook.
    app.before_request_funcs.setdefault(None, []).insert(0, _admin_upload_limit)
    app.before_request(_load_user)

    @app.context_processor
    def signed_in() -> dict[str, object]:
        return {"current_user": current_user()}
