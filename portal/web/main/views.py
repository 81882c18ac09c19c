"""The front page and the health check."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template

from portal.domain.errors import StorageError
from portal.web import get_store

bp = Blueprint("main", __name__)


@bp.get("/")
def home() -> str:
    """Explain where respondents and HR go from here."""
    return render_template("main/home.html")


@bp.get("/healthz")
def health() -> tuple[Response, int]:
    """Report whether the app can reach its store (for load balancers and smoke tests)."""
    try:
        get_store().check()
    except StorageError as exc:
        return jsonify(status="unavailable", detail=str(exc)), 503
    return jsonify(status="ok"), 200
