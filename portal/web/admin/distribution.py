"""Admin pages: distribution (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin_distribution", __name__, url_prefix="/admin")
