"""The admin home page."""

from __future__ import annotations

from flask import Blueprint, render_template

from portal.domain.accounts import Role
from portal.web import get_store
from portal.web.auth.guard import current_user, require

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@require()
def home() -> str:
    """List the surveys the signed-in account may see, with their waves."""
    user = current_user()
    assert user is not None
    store = get_store()
    surveys = [(s, store.list_waves(s.slug)) for s in store.list_surveys() if user.may_read(s.slug)]
    return render_template("admin/home.html", surveys=surveys, is_admin=user.role is Role.ADMIN)
