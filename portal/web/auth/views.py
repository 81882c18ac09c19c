"""Sign in, sign out, change password."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal.domain.errors import ValidationError
from portal.services import accounts
from portal.web import get_store
from portal.web.auth.forms import PasswordForm, SignInForm
from portal.web.auth.guard import current_user, end_session, require, safe_next, start_session

bp = Blueprint("auth", __name__, url_prefix="/admin")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    """Show the sign-in form and sign in."""
    if current_user() is not None:
        return redirect(safe_next(request.args.get("next")))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.sign_in(
                get_store(),
                email=form.email.data or "",
                password=form.password.data or "",
                client=request.remote_addr or "unknown",
                secret=str(current_app.config["SECRET_KEY"]),
                now=int(time.time()),
            )
        except accounts.TooManyAttempts as exc:
            form.form_errors.append(str(exc))
            return render_template("admin/login.html", form=form), 429
        except accounts.SignInRefused as exc:
            form.form_errors.append(str(exc))
            status = 401
        else:
            start_session(user)
            return redirect(safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    expired = bool(g.get("session_expired"))
    return render_template("admin/login.html", form=form, expired=expired), status


@bp.post("/logout")
@require()
def logout() -> Response:
    """Sign out everywhere (copies of the session cookie stop working too)."""
    user = current_user()
    assert user is not None
    accounts.sign_out(get_store(), user)
    end_session()
    flash("You are signed out on every device.")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@require()
def password() -> Response | tuple[str, int]:
    """Change one's own password (required after a reset)."""
    user = current_user()
    assert user is not None
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            changed = accounts.change_password(
                get_store(), user, current=form.current.data or "", new=form.new.data or ""
            )
        except ValidationError as exc:
            form.new.errors = list(form.new.errors) + exc.errors
        else:
            start_session(changed)
            flash("Your password is changed. Other sessions of your account have ended.")
            return redirect(url_for("admin.home"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/password.html", form=form, forced=user.must_change_password
    ), status
