"""The one-server production mode: gunicorn with threaded workers and an anonymous access log.

``portal serve --production`` checks the settings, then replaces itself with
``python -m portal.server`` (this module), so gunicorn's master process holds
none of the portal's own code: on SIGHUP (``systemctl reload``) it starts new
workers that import the portal afresh and stops the old ones once their
requests are done, so an upgrade is served without dropping a request.
SIGTERM stops gracefully (requests in flight get ``GRACEFUL_TIMEOUT``).
Only a change to gunicorn or to this module needs a full restart.

Why these choices:

- ``gthread`` workers behind a buffering proxy. Four bare ``sync`` workers were
  taken down by 300 slow connections held open. Threads let one worker serve
  many requests at once, but gunicorn still gives each new connection a thread
  for up to 5 s while it waits for bytes, so 300 slow clients starve it too:
  the server listens on 127.0.0.1 only and the guide puts Caddy in front, which
  holds slow clients itself and passes on whole requests
  (``tests/cli/test_serve_production.py``, docs/self-hosting-server.md).
- No forwarded header is trusted by gunicorn itself (``forwarded_allow_ips``
  is empty): the portal's ``PORTAL_TRUSTED_PROXIES`` (werkzeug's ProxyFix)
  alone decides whose ``X-Forwarded-*`` headers count.
- The access log (``AnonymousLogger``) holds the day, method, route template,
  status, size and duration; never the client's address, browser, referrer,
  query string, a link token or code, or the time of day (see
  ``portal.web.logging``). Gunicorn's own error lines that would name an
  address or a request's path are reworded.
- ``Server: portal``: gunicorn's name is not sent (it has no setting for it,
  so the module constant its responses read is replaced).

This module imports gunicorn and the standard library only; the portal is
imported by each worker in ``PortalServer.load``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import gunicorn.http.wsgi
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 8
#: A worker that does not report for this long is restarted (threads keep reporting while busy).
TIMEOUT = 30
#: How long a reload or a stop waits for requests in flight.
GRACEFUL_TIMEOUT = 30
#: Idle keep-alive connections (from the reverse proxy) are closed after this many seconds.
KEEPALIVE = 5
#: What responses name as their server: no product, no version.
SERVER_NAME = "portal"

gunicorn.http.wsgi.SERVER = SERVER_NAME  # read by every gunicorn Response for "Server:"


def gunicorn_options(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = DEFAULT_WORKERS,
    threads: int = DEFAULT_THREADS,
    access_log: str | None = "-",
) -> dict[str, Any]:
    """Return gunicorn's settings for the portal; ``access_log`` ``"-"`` is standard output."""
    bind_host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return {
        "bind": [f"{bind_host}:{port}"],
        "worker_class": "gthread",
        "workers": workers,
        "threads": threads,
        "timeout": TIMEOUT,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": KEEPALIVE,
        "preload_app": False,
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        "accesslog": access_log,
        "errorlog": "-",
        "logger_class": AnonymousLogger,
        "proc_name": "change-readiness-portal",
        # gunicorn's runtime control socket is not needed: signals and systemd do the job.
        "control_socket_disable": True,
    }


class PortalServer(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
    """Gunicorn embedded: settings from ``gunicorn_options``, the app from ``portal.wsgi``."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        """Apply the options to gunicorn's configuration."""
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        """Create the portal in the worker, from the ``PORTAL_*`` environment."""
        from portal.wsgi import app

        return app


_ADDRESS = re.compile(r"\bip=\S+")


class AnonymousLogger(Logger):  # type: ignore[misc]
    """Gunicorn's logger, with an access log that cannot identify a respondent."""

    def access(self, resp: Any, req: Any, environ: Mapping[str, Any], request_time: Any) -> None:
        """Log ``YYYY-MM-DD "METHOD /route HTTP/1.1" status bytes duration``.

        Rule: the day only (no time of day, so lines cannot be matched to an
        answer's moment), the route template instead of the path (see
        ``portal.web.logging.route_label``), and nothing about the client.
        """
        if not self.access_log_enabled:
            return
        from portal.web.logging import logged_route  # in the worker, never in the master

        status = str(getattr(resp, "status", None) or "-").split(" ", 1)[0]
        size = getattr(resp, "sent", None)
        version = getattr(req, "version", None) or (1, 1)
        millis = _milliseconds(request_time)
        self.access_log.info(
            '%s "%s %s HTTP/%s.%s" %s %s %sms',
            date.today().isoformat(),
            environ.get("REQUEST_METHOD") or getattr(req, "method", "-"),
            logged_route(environ),
            version[0],
            version[1],
            status,
            size if size is not None else "-",
            millis,
        )

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Log a warning without a client's address (gunicorn names it for malformed requests)."""
        if isinstance(msg, str):
            msg = _ADDRESS.sub("ip=(withheld)", msg)
        super().warning(msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Log an error without the request's path, which may hold a link token."""
        if isinstance(msg, str) and msg.startswith("Error handling request"):
            msg, args = "Error handling request (path withheld)", ()
        super().exception(msg, *args, **kwargs)


def _milliseconds(request_time: Any) -> str:
    if isinstance(request_time, timedelta):
        return str(round(request_time.total_seconds() * 1000))
    return "-"


def exec_server(
    *, host: str, port: int, workers: int, threads: int, access_log: str
) -> None:  # pragma: no cover - replaces the process
    """Replace this process with the production server (``python -m portal.server ...``)."""
    sys.stdout.flush()
    sys.stderr.flush()
    arguments = [
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--access-log",
        access_log,
    ]
    os.execv(sys.executable, [sys.executable, "-m", "portal.server", *arguments])


def main(argv: Sequence[str] | None = None) -> None:
    """Run gunicorn in the foreground until SIGTERM or SIGINT (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m portal.server", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--access-log", default="-", help="a file, or - for standard output")
    args = parser.parse_args(argv)
    options = gunicorn_options(
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        access_log=args.access_log,
    )
    PortalServer(options).run()


if __name__ == "__main__":
    main()
