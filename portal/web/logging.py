"""Request logs that keep respondents anonymous.

An access log line names the method, the *route* (the URL rule's template,
not the address that was asked for), the status, the size and, under
gunicorn, the duration. It never holds the client's address, its browser, the
referrer, a query string, or a value from the path other than a survey slug,
a wave id or a static file's name: a link token, a single-use code, a
department code, an e-mail address or an API token's hash appears only as its
placeholder (``/s/<token>/q``). Arguments are logged by name from the URL map,
so a route added later is redacted without anyone remembering to. Nothing else
in the portal logs anything about a respondent (``tests/web/test_privacy_logs.py``).

The built-in server's ``address_string()`` is left alone: Werkzeug also uses it
for ``REMOTE_ADDR``, which the sign-in throttle needs to tell clients apart.
The address is kept out of the log by formatting the line ourselves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import Flask, request
from werkzeug._internal import _log  # Werkzeug's own logger set-up, as its handler uses
from werkzeug.routing import Rule
from werkzeug.serving import WSGIRequestHandler

#: Route arguments whose values may be logged: they name a survey, a wave or a static file,
#: which every admin can see, and never a person, a respondent's link or code.
LOGGABLE_ARGUMENTS = frozenset({"slug", "wave_id", "filename"})
#: What a request that matched no route is logged as (its path could hold a mistyped token).
UNROUTED = "<unrouted>"
#: What the built-in server answers in its ``Server`` header: no product, no version.
SERVER_NAME = "portal"

_ARGUMENT = re.compile(r"<(?:[a-zA-Z_][\w]*(?:\([^)]*\))?:)?([a-zA-Z_]\w*)>")


#: Where the handled request's loggable route is left for the server's access log.
ROUTE_KEY = "portal.route"


def init_app(app: Flask) -> None:
    """Leave each request's loggable route in its WSGI environ for the server's access log.

    Flask forgets the matched rule when the request ends, before the server
    writes its log line, so the route is worked out while the request is alive.
    """

    @app.teardown_request
    def remember_route(_exc: BaseException | None) -> None:
        request.environ[ROUTE_KEY] = route_label(request.url_rule, request.view_args)


def route_label(rule: Rule | None, values: Mapping[str, Any] | None) -> str:
    """Return the loggable form of a request's path, from its URL rule.

    Rule: the matched URL rule's template, with the values of
    ``LOGGABLE_ARGUMENTS`` filled in and every other argument left as its
    ``<name>`` placeholder; a request that matched no route (404, 405, a
    trailing-slash redirect) is ``UNROUTED``. Query strings are never logged.
    """
    if rule is None:
        return UNROUTED
    given = values or {}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in LOGGABLE_ARGUMENTS and name in given:
            return quote(str(given[name]), safe="/-_.~")
        return f"<{name}>"

    return _ARGUMENT.sub(fill, rule.rule)


def logged_route(environ: Mapping[str, Any]) -> str:
    """Return the route ``init_app`` left in ``environ``, or ``UNROUTED`` if the portal never saw
    the request (refused by the server itself)."""
    return str(environ.get(ROUTE_KEY) or UNROUTED)


class AnonymousRequestHandler(WSGIRequestHandler):
    """The built-in server's handler: real ``REMOTE_ADDR``, anonymous log lines, no version."""

    def version_string(self) -> str:
        """Answer ``Server: portal`` instead of Werkzeug's and Python's versions."""
        return SERVER_NAME

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log ``"METHOD /route/<template> HTTP/1.1" status size``: no address, time or token."""
        environ = getattr(self, "environ", None) or {}
        method = environ.get("REQUEST_METHOD") or "-"
        version = getattr(self, "request_version", None) or "-"
        self.log("info", '"%s %s %s" %s %s', method, logged_route(environ), version, code, size)

    def log_error(self, format: str, *args: Any) -> None:
        """Log that a request was refused, without its text (a request line can hold a token)."""
        code = args[0] if format.startswith("code %d") and args else "-"
        self.log("error", "request refused before it reached the portal (status %s)", code)

    def log(self, type: str, message: str, *args: Any) -> None:
        """Log ``message`` without the client's address or the time of day."""
        _log(type, message, *args)
