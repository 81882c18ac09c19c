"""The front page and the health check."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, render_template

from portal.domain.errors import StorageError
from portal.web import get_store

bp = Blueprint("main", __name__)
log = logging.getLogger("portal.health")


@bp.get("/")
def home() -> str:
    """Explain where respondents and HR go from here."""
    return render_template("main/home.html")


@bp.get("/healthz")
def health() -> tuple[Response, int]:
    """Report whether the app can write to its store (for load balancers and monitoring).

    A store that answers reads but cannot write (full or read-only disk, lost
    write permission) turns respondents away, so it is unhealthy. The 503 body
    is generic: the reason, which may name the database file or endpoint, goes
    to the log only.
    """
    try:
        get_store().check_write()
    except StorageError as exc:
        log.error("health check failed: %s", exc)
        response = jsonify(status="unavailable", detail="The store cannot accept writes.")
        response.headers["Cache-Control"] = "no-store"
        return response, 503
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response, 200
