"""Admin pages for HR accounts and the audit trail (admins only).

Every change is a POST carrying a CSRF token, and every change is written to the
audit trail by ``portal.services.accounts``. One-time passwords are generated
here, shown once on a page the browser must not keep, and never stored in clear.
"""

from __future__ import annotations

import re
from datetime import UTC

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
from wtforms.fields.choices import SelectChoice

from portal.domain.accounts import Role, User, normalise_email
from portal.domain.errors import AlreadyExists, ValidationError
from portal.services import accounts
from portal.web import get_store
from portal.web.admin.user_forms import AccessForm, NewUserForm, department_choices
from portal.web.auth.guard import current_user, require, start_session

bp = Blueprint("admin_users", __name__, url_prefix="/admin")

#: Accounts per page of the list, audit events per page of the trail.
USERS_PER_PAGE = 50
EVENTS_PER_PAGE = 50
#: Audit cursors are the store's sort keys (``codec.audit_sort_key``):
#: ``<ISO time, seconds, UTC>#<20-digit nanosecond clock>#<4 hex digits>``.
CURSOR_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00#\d{20}#[0-9a-f]{4}$")


def _actor() -> str:
    user = current_user()
    assert user is not None  # the guard let only a signed-in admin through
    return user.email


def _choices(keep: tuple[str, ...] = ()) -> list[SelectChoice]:
    store = get_store()
    return department_choices(
        ((s, store.list_departments(s.slug)) for s in store.list_surveys()), keep
    )


def _keep_own_session(changed: User) -> None:
    # A change bumps the account's session epoch, which ends every session of it. When
    # admins change their own account, keep the session they are using (as a password
    # change does) and end only the others.
    if changed.email == _actor():
        start_session(changed)


def _one_time_password(user: User, password: str, *, reset: bool) -> Response:
    """Show a new one-time password once, on a page no cache or history may keep."""
    response = make_response(
        render_template("admin/users/password.html", user=user, password=password, reset=reset)
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.get("/users")
@require(Role.ADMIN)
def users() -> str:
    """List accounts, 50 to a page, ordered by e-mail."""
    everyone = get_store().list_users()
    pages = max(1, -(-len(everyone) // USERS_PER_PAGE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    shown = everyone[(page - 1) * USERS_PER_PAGE : page * USERS_PER_PAGE]
    return render_template(
        "admin/users/list.html", users=shown, page=page, pages=pages, total=len(everyone)
    )


@bp.route("/users/new", methods=["GET", "POST"])
@require(Role.ADMIN)
def new_user() -> Response | tuple[str, int]:
    """Create an account with a one-time password that must be changed at first sign-in."""
    form = NewUserForm()
    form.departments.choices = _choices()
    if form.validate_on_submit():
        password = accounts.new_password()
        try:
            user = accounts.create_user(
                get_store(),
                email=form.email.data or "",
                role=form.chosen_role(),
                departments=form.chosen_departments(),
                password=password,
                actor=_actor(),
                must_change_password=True,
            )
        except AlreadyExists:
            form.email.errors = [*form.email.errors, "An account with this e-mail exists already."]
        except ValidationError as exc:
            form.form_errors.extend(exc.errors)
        else:
            return _one_time_password(user, password, reset=False)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/users/new.html", form=form), status


def _edit_page(user: User, form: AccessForm, status: int = 200) -> tuple[str, int]:
    you = user.email == _actor()
    return render_template("admin/users/edit.html", user=user, form=form, you=you), status


@bp.route("/users/<path:email>/edit", methods=["GET", "POST"])
@require(Role.ADMIN)
def edit_user(email: str) -> Response | tuple[str, int]:
    """Show an account and change its role and departments."""
    user = get_store().get_user(normalise_email(email))
    if request.method == "GET":
        form = AccessForm(role=user.role.value, departments=list(user.departments))
    else:
        form = AccessForm()
    form.departments.choices = _choices(user.departments)
    if form.validate_on_submit():
        try:
            changed = accounts.update_access(
                get_store(),
                user.email,
                actor=_actor(),
                role=form.chosen_role(),
                departments=form.chosen_departments(),
            )
        except ValidationError as exc:
            form.form_errors.extend(exc.errors)
        else:
            _keep_own_session(changed)
            flash(f"Access of {user.email} changed; the account's open sessions have ended.")
            return redirect(url_for(".edit_user", email=user.email))
    return _edit_page(user, form, 400 if request.method == "POST" else 200)


def _set_active(email: str, active: bool) -> Response | tuple[str, int]:
    user = get_store().get_user(normalise_email(email))
    try:
        accounts.update_access(get_store(), user.email, actor=_actor(), active=active)
    except ValidationError as exc:
        form = AccessForm(role=user.role.value, departments=list(user.departments))
        form.departments.choices = _choices(user.departments)
        form.form_errors.extend(exc.errors)
        return _edit_page(user, form, 400)
    if active:
        flash(f"Access of {user.email} restored. They sign in with their existing password.")
    else:
        flash(f"Access of {user.email} revoked. Their open sessions have ended.")
    return redirect(url_for(".edit_user", email=user.email))


@bp.post("/users/<path:email>/revoke")
@require(Role.ADMIN)
def revoke_user(email: str) -> Response | tuple[str, int]:
    """Revoke an account's access; its sessions end at once."""
    return _set_active(email, False)


@bp.post("/users/<path:email>/restore")
@require(Role.ADMIN)
def restore_user(email: str) -> Response | tuple[str, int]:
    """Restore a revoked account's access."""
    return _set_active(email, True)


@bp.post("/users/<path:email>/reset-password")
@require(Role.ADMIN)
def reset_password(email: str) -> Response:
    """Give an account a new one-time password, shown once; its sessions end."""
    user = get_store().get_user(normalise_email(email))
    changed, password = accounts.reset_password(get_store(), user.email, actor=_actor())
    _keep_own_session(changed)
    return _one_time_password(changed, password, reset=True)


@bp.get("/audit")
@require(Role.ADMIN)
def audit() -> str:
    """Show the audit trail, newest first, a page at a time (``?cursor=`` for older ones)."""
    cursor = request.args.get("cursor") or None
    if cursor is not None and not CURSOR_RE.match(cursor):
        abort(400, "This audit page address is not valid. Start again from the newest events.")
    page = get_store().list_audit_events(cursor=cursor, limit=EVENTS_PER_PAGE)
    return render_template("admin/audit.html", events=page.items, cursor=cursor, page=page, utc=UTC)
