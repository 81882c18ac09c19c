"""Admin pages for personal API tokens.

Every signed-in account manages its own tokens; admins may also list and revoke
anyone's (``?account=<e-mail>``). A new token is shown once, on a page no cache
may keep; only its SHA-256 is stored. Creating and revoking are audited by
``portal.services.api_tokens``.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from portal.domain.accounts import User, normalise_email
from portal.domain.errors import ValidationError
from portal.services import api_tokens
from portal.web import get_store
from portal.web.admin.token_forms import NewTokenForm, RevokeTokenForm
from portal.web.auth.guard import current_user, require

bp = Blueprint("admin_tokens", __name__, url_prefix="/admin")


def _me() -> User:
    user = current_user()
    assert user is not None  # the guard let only a signed-in account through
    return user


def _account() -> str:
    """Return whose tokens to show: one's own, or (admins only) the account asked for."""
    me = _me()
    asked = normalise_email(request.values.get("account") or me.email)
    if asked != me.email and not me.may_manage():
        abort(403)
    return asked


def _page(form: NewTokenForm, status: int = 200) -> tuple[str, int]:
    account = _account()
    tokens = api_tokens.list_tokens(get_store(), account)
    return render_template(
        "admin/tokens/list.html",
        form=form,
        revoke=RevokeTokenForm(),
        tokens=tokens,
        account=account,
        own=account == _me().email,
    ), status


@bp.get("/tokens")
@require()
def tokens() -> tuple[str, int]:
    """List the account's API tokens and offer to create one."""
    return _page(NewTokenForm())


@bp.post("/tokens")
@require()
def create_token() -> Response | tuple[str, int]:
    """Create a token for one's own account and show it once."""
    form = NewTokenForm()
    if form.validate_on_submit():
        try:
            token, secret = api_tokens.create_token(get_store(), _me(), name=form.name.data or "")
        except ValidationError as exc:
            form.form_errors.extend(exc.errors)
        else:
            response = make_response(
                render_template("admin/tokens/created.html", token=token, secret=secret)
            )
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
            return response
    return _page(form, 400)


@bp.post("/tokens/<token_hash>/revoke")
@require()
def revoke_token(token_hash: str) -> Response:
    """Revoke a token (one's own, or anyone's for an admin); it stops working at once."""
    if not RevokeTokenForm().validate_on_submit():
        abort(400)
    token = api_tokens.revoke_token(get_store(), _me(), token_hash)
    flash(f"The token {token.name!r} is revoked; it no longer works.")
    if token.email == _me().email:
        return redirect(url_for(".tokens"))
    return redirect(url_for(".tokens", account=token.email))
