"""One place that turns errors into HTTP answers: an HTML page or a JSON body."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, make_response, render_template, request
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.domain.errors import (
    AlreadyExists,
    Conflict,
    NotAllowed,
    NotFound,
    PortalError,
    StorageError,
    ValidationError,
)

bp = Blueprint("errors", __name__)
log = logging.getLogger(__name__)

#: Status → (title, what the reader can do next). Written for a respondent on a phone.
MESSAGES: dict[int, tuple[LazyString, LazyString]] = {
    400: (
        _l("We could not use what was sent"),
        _l(
            "Something in the request was missing or not in the expected form. Go back, "
            "check the page and try again."
        ),
    ),
    403: (_l("Not allowed"), _l("You do not have access to this page.")),
    404: (
        _l("Page not found"),
        _l(
            "The address may be mistyped or the link may be out of date. If you followed a "
            "survey link, ask the person who sent it for a new one."
        ),
    ),
    405: (
        _l("That action is not possible here"),
        _l(
            "This address does not accept that kind of request. Go back and use the page's "
            "own buttons."
        ),
    ),
    409: (
        _l("Something changed meanwhile"),
        _l("The record changed while you were working on it. Reload the page and try again."),
    ),
    413: (
        _l("Too much was sent"),
        _l("What you sent is larger than this portal accepts. Shorten your comment and try again."),
    ),
    429: (_l("Too many attempts"), _l("Please wait a moment before trying again.")),
    500: (
        _l("Something went wrong on our side"),
        _l("The error has been noted. Please try again in a little while."),
    ),
    503: (
        _l("The portal is busy"),
        _l("Nothing was lost. Please wait a few seconds and try again."),
    ),
}


#: Statuses only the JSON API answers; the API is in English and not translated.
API_MESSAGES: dict[int, tuple[str, str]] = {
    401: (
        "Authentication required",
        "Send a valid API token as 'Authorization: Bearer <token>'. Create one on the "
        "portal's API tokens page.",
    ),
}


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(status: int, detail: str | None = None) -> Response:
    """Answer ``status`` as JSON or as a page in the base layout."""
    title, advice = (
        MESSAGES.get(status) or API_MESSAGES.get(status) or MESSAGES[500 if status >= 500 else 400]
    )
    if _wants_json():
        response = jsonify(
            error={"status": status, "title": str(title), "detail": detail or str(advice)}
        )
    else:
        response = make_response(
            render_template(
                "errors/error.html", status=status, title=title, advice=advice, detail=detail
            )
        )
    response.status_code = status
    return response


@bp.app_errorhandler(CSRFError)
def csrf_error(exc: CSRFError) -> Response:
    """A form came back without a valid CSRF token (expired page, forged post)."""
    return error_response(
        400,
        _("The form expired or did not come from this site. Reload the page and submit it again."),
    )


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response | HTTPException:
    """Render werkzeug's HTTP errors (404, 405, 413, ...) in our layout."""
    if exc.code is None or exc.code < 400:
        return exc
    detail = exc.description if exc.code == 400 and exc.description else None
    response = error_response(exc.code, detail)
    for name in ("Allow", "Retry-After"):
        value = dict(exc.get_headers()).get(name)
        if value:
            response.headers[name] = value
    return response


@bp.app_errorhandler(PortalError)
def portal_error(exc: PortalError) -> Response:
    """Map domain errors to status codes; the domain never knows about HTTP."""
    if isinstance(exc, NotFound):
        return error_response(404, str(exc))
    if isinstance(exc, NotAllowed):
        return error_response(403)
    if isinstance(exc, AlreadyExists | Conflict):
        return error_response(409, str(exc))
    if isinstance(exc, ValidationError):
        return error_response(400, str(exc))
    if isinstance(exc, StorageError):
        # The store is out of reach, locked, full or read-only: the portal is unavailable,
        # not broken, so readers get a 503 (never the store's words); the log gets the reason.
        if exc.transient:
            log.warning("transient storage failure: %s", exc)
        else:
            log.error("storage failure: %s", exc)
        response = error_response(503)
        response.headers["Retry-After"] = "5" if exc.transient else "60"
        return response
    log.error("unhandled portal error: %s", exc, exc_info=exc)
    return error_response(500)


@bp.app_errorhandler(Exception)
def unexpected_error(exc: Exception) -> Response:
    """Log the failure and show the reader a calm 500 page."""
    log.exception("unhandled error")
    return error_response(500)
