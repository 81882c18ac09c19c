"""Request logs that keep respondents anonymous.

The built-in server logs each request with the client's address; ours logs
"-" instead. Nothing else in the portal logs anything about a respondent: no
address, no browser, no answers (``tests/web/test_privacy_logs.py``).
"""

from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler


class AnonymousRequestHandler(WSGIRequestHandler):
    """A request handler whose access log never names the client."""

    def address_string(self) -> str:
        """Return a placeholder instead of the client's address."""
        return "-"
