"""Admin pages: surveys (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin_surveys", __name__, url_prefix="/admin")
