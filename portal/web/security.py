"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, Response, request

from portal.config import Settings

#: No inline script or style anywhere: chart data travels as JSON in a
#: <script type="application/json"> element, which CSP does not execute.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

#: Pages under this prefix hold the CSRF-protected forms of HR's accounts.
ADMIN_PREFIX = "/admin"


def referrer_policy(path: str) -> str:
    """Return the Referrer-Policy for a page at ``path`` (the path inside the app).

    Respondents' pages carry a link token in their address, so they send no
    Referer at all (``no-referrer``): neither another site nor our own log ever
    learns it from a Referer. Admin pages send a full Referer to the portal itself
    only (``same-origin``): Flask-WTF's CSRF check on HTTPS requires a Referer of
    the same origin (``WTF_CSRF_SSL_STRICT``), and with ``no-referrer`` every admin
    form post over HTTPS was refused. Other sites still get nothing from them.
    """
    if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
        return "same-origin"
    return "no-referrer"


def init_app(app: Flask, settings: Settings) -> None:
    """Register the header hook."""

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", referrer_policy(request.path))
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if settings.is_production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
