"""The session-signing key, read from AWS SSM when a request first needs it.

On Lambda the key is a SecureString in SSM Parameter Store. Reading it builds
boto3's SSM client, which costs a cold start about as much as creating the
whole Flask app; most first requests need it (a questionnaire's submission key,
a form's CSRF token, a signed-in admin's cookie), but the front page, a static
file, a 404 or the health check do not. So the key is ``Deferred``:

* ``DeferredConfig`` (the app's ``config_class``) makes a deferred value on its
  first read through ``config[...]`` or ``config.get`` (which ``app.secret_key``,
  Flask-WTF and the portal's own code use), once, under a lock; a read that
  fails (SSM unreachable, a weak key) raises ``ConfigError`` and leaves it
  deferred, so the next request tries again;
* ``CookieFirstSessions`` opens a request that carries no session cookie as an
  empty session without asking for the key (Flask's own interface asks first);
  the key is read only to check a cookie or to write one.

Rule: only the SSM key is deferred. A key from the environment (or the
development key file) is checked while the app starts, and
``portal serve --production`` still reads and checks the key, from wherever it
comes, before any worker starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, Request
from flask.config import Config
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from portal.config import Settings, resolve_secret_key


class Deferred:
    """A config value made by ``make`` when it is first read."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make
        self.lock = threading.Lock()

    def __repr__(self) -> str:
        return "<deferred until first read>"


class DeferredConfig(Config):
    """A Flask config whose ``Deferred`` values are made on their first read, once."""

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        if not isinstance(value, Deferred):
            return value
        with value.lock:
            if super().__getitem__(key) is value:  # not made by another thread meanwhile
                self[key] = value.make()
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        """Return ``self[key]`` (made if deferred), or ``default`` if ``key`` is not set."""
        return self[key] if key in self else default


class CookieFirstSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, but a request without the cookie needs no key."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Open an empty session for a request without a session cookie; else check it."""
        if not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def secret_key_setting(settings: Settings) -> str | Deferred:
    """Return the key to put in ``SECRET_KEY``: deferred when it comes from SSM.

    Rules: see the module docstring; every key, deferred or not, comes from
    ``resolve_secret_key`` and passes its checks.
    """
    if settings.secret_key_ssm_parameter and not settings.secret_key:
        return Deferred(lambda: resolve_secret_key(settings))
    return resolve_secret_key(settings)
