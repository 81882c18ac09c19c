"""Admin pages: surveys, their waves and their departments (admins only).

Every change is a POST through a Flask-WTF form (CSRF-checked) and is written
to the audit trail with the acting account.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from portal.domain.accounts import Role
from portal.domain.entities import Department, WaveStatus
from portal.domain.errors import AlreadyExists, Conflict, ValidationError
from portal.services import surveys
from portal.services.accounts import audit
from portal.web import get_settings, get_store
from portal.web.admin.survey_forms import (
    ActionForm,
    DepartmentForm,
    EditDepartmentForm,
    ImportForm,
    ReopenForm,
    WaveForm,
    language_name,
    new_survey_form,
    newest_questionnaires,
)
from portal.web.auth.guard import current_user, require

bp = Blueprint("admin_surveys", __name__, url_prefix="/admin")


def _actor() -> str:
    user = current_user()
    assert user is not None  # every view here is behind @require
    return user.email


def _status() -> int:
    """Return 400 for a POST that comes back to its form, else 200."""
    return 400 if request.method == "POST" else 200


def _require_action() -> None:
    """Refuse a POST whose form does not validate (a missing or stale CSRF token)."""
    if not ActionForm().validate_on_submit():
        abort(400)


# -- surveys -------------------------------------------------------------------


@bp.route("/surveys/new", methods=["GET", "POST"])
@require(Role.ADMIN)
def new_survey() -> ResponseReturnValue:
    """Show the new-survey form and create the survey with its departments."""
    form = new_survey_form(newest_questionnaires(), get_settings().default_thresholds())
    if form.validate_on_submit():
        try:
            survey = surveys.create_survey(
                get_store(),
                slug=form.slug.data,
                title=form.title.data,
                system_name=form.system_names(),
                today=date.today(),
                departments_csv=form.departments_text,
                questionnaire_id=form.questionnaire.data,
                languages=form.chosen_languages(),
                thresholds=form.thresholds(),
            )
        except AlreadyExists:
            form.slug.errors = [*form.slug.errors, "A survey with this slug exists already."]
        except ValidationError as exc:
            if exc.errors != [str(exc)]:
                form.form_errors.append(f"Nothing was saved: {exc}")
            form.form_errors.extend(exc.errors)
        else:
            t = survey.thresholds
            audit(
                get_store(),
                _actor(),
                "survey.create",
                survey.slug,
                f"questionnaire {survey.questionnaire_id} v{survey.questionnaire_version}; "
                f"languages {', '.join(survey.languages)}; thresholds "
                f"{t.min_group_size}/{t.min_comment_group_size}"
                + ("; with a departments file" if form.departments_text else ""),
            )
            flash(f"The survey “{survey.title}” is created.")
            return redirect(url_for(".survey", slug=survey.slug))
    return render_template(
        "admin/surveys/new.html", form=form, max_upload=get_settings().max_content_length
    ), _status()


@bp.get("/surveys/<slug>")
@require(Role.ADMIN)
def survey(slug: str) -> ResponseReturnValue:
    """Show a survey: its settings, waves and departments."""
    return _survey_page(slug, WaveForm(), 200)


def _survey_page(slug: str, wave_form: WaveForm, status: int) -> ResponseReturnValue:
    overview = surveys.survey_overview(get_store(), slug)
    return render_template(
        "admin/surveys/survey.html",
        o=overview,
        wave_form=wave_form,
        language_name=language_name,
        WaveStatus=WaveStatus,
    ), status


# -- waves -----------------------------------------------------------------------


@bp.post("/surveys/<slug>/waves")
@require(Role.ADMIN)
def add_wave(slug: str) -> ResponseReturnValue:
    """Add a draft wave (the first is the baseline, later ones follow-ups)."""
    form = WaveForm()
    if form.validate_on_submit():
        try:
            wave = surveys.add_wave(
                get_store(),
                slug,
                wave_id=form.wave_id.data,
                name=form.name.data,
                today=date.today(),
                planned_close=form.planned_close.data,
            )
        except AlreadyExists:
            form.wave_id.errors = [*form.wave_id.errors, "This survey has a wave with this id."]
        except ValidationError as exc:
            form.form_errors.extend(exc.errors)
        else:
            audit(get_store(), _actor(), "wave.create", f"{slug}/{wave.wave_id}", wave.kind.value)
            flash(f"The {wave.kind.value} wave “{wave.name}” is added as a draft.")
            return redirect(url_for(".survey", slug=slug))
    return _survey_page(slug, form, 400)


@bp.route("/surveys/<slug>/waves/<wave_id>/open", methods=["GET", "POST"])
@require(Role.ADMIN)
def open_wave(slug: str, wave_id: str) -> ResponseReturnValue:
    """Confirm, then open a draft wave and give every active department a link."""
    form = ActionForm()
    if form.validate_on_submit():
        wave, links = surveys.open_wave_with_links(get_store(), slug, wave_id, today=date.today())
        t = wave.thresholds
        assert t is not None  # an open wave has locked its thresholds
        audit(
            get_store(),
            _actor(),
            "wave.open",
            f"{slug}/{wave_id}",
            f"locked thresholds {t.min_group_size}/{t.min_comment_group_size} and "
            f"questionnaire version {wave.questionnaire_version}; {len(links)} link(s)",
        )
        flash(f"The wave “{wave.name}” is open; {len(links)} department link(s) are ready.")
        return redirect(url_for(".survey", slug=slug))
    overview = surveys.wave_overview(get_store(), slug, wave_id)
    if overview.wave.status is not WaveStatus.DRAFT:
        raise Conflict(f"The wave “{overview.wave.name}” is {overview.wave.status} already.")
    return render_template("admin/surveys/open_wave.html", o=overview, form=form)


@bp.post("/surveys/<slug>/waves/<wave_id>/close")
@require(Role.ADMIN)
def close_wave(slug: str, wave_id: str) -> BaseResponse:
    """Close an open wave: its links stop taking answers."""
    _require_action()
    wave = surveys.close_wave(get_store(), slug, wave_id, today=date.today())
    audit(get_store(), _actor(), "wave.close", f"{slug}/{wave_id}")
    flash(f"The wave “{wave.name}” is closed.")
    return redirect(url_for(".survey", slug=slug))


@bp.route("/surveys/<slug>/waves/<wave_id>/reopen", methods=["GET", "POST"])
@require(Role.ADMIN)
def reopen_wave(slug: str, wave_id: str) -> ResponseReturnValue:
    """Confirm with a reason, then reopen a closed wave; the reason is logged."""
    form = ReopenForm()
    if form.validate_on_submit():
        try:
            wave = surveys.reopen_wave(
                get_store(),
                slug,
                wave_id,
                today=date.today(),
                planned_close=form.planned_close.data,
            )
        except ValidationError as exc:
            form.planned_close.errors = [*form.planned_close.errors, *exc.errors]
        else:
            audit(get_store(), _actor(), "wave.reopen", f"{slug}/{wave_id}", form.reason.data)
            flash(f"The wave “{wave.name}” is open again.")
            return redirect(url_for(".survey", slug=slug))
    overview = surveys.wave_overview(get_store(), slug, wave_id)
    if overview.wave.status is not WaveStatus.CLOSED:
        raise Conflict(f"The wave “{overview.wave.name}” is {overview.wave.status}, not closed.")
    return render_template("admin/surveys/reopen_wave.html", o=overview, form=form), _status()


# -- departments -----------------------------------------------------------------


@bp.get("/surveys/<slug>/departments")
@require(Role.ADMIN)
def departments(slug: str) -> ResponseReturnValue:
    """List a survey's departments, 50 to a page (``?page=``)."""
    page = surveys.department_page(get_store(), slug, request.args.get("page", 1, type=int))
    return render_template("admin/surveys/departments.html", p=page)


@bp.route("/surveys/<slug>/departments/new", methods=["GET", "POST"])
@require(Role.ADMIN)
def new_department(slug: str) -> ResponseReturnValue:
    """Add one department."""
    survey = get_store().get_survey(slug)
    form = DepartmentForm()
    if form.validate_on_submit():
        try:
            department = surveys.add_department(
                get_store(),
                Department(
                    survey_slug=slug,
                    code=form.code.data,
                    name=form.name.data,
                    site=form.site.data,
                    headcount=form.headcount.data,
                    parent=form.parent.data or None,
                ),
            )
        except AlreadyExists:
            form.code.errors = [*form.code.errors, "This survey has a department with this code."]
        except ValidationError as exc:
            form.form_errors.extend(exc.errors)
        else:
            audit(
                get_store(),
                _actor(),
                "department.create",
                f"{slug}/{department.code}",
                f"{department.name}, {department.site}, headcount {department.headcount}",
            )
            flash(f"Department {department.code} is added.")
            return redirect(url_for(".departments", slug=slug))
    return render_template(
        "admin/surveys/department_form.html", survey=survey, form=form, department=None
    ), _status()


@bp.route("/surveys/<slug>/departments/<code>/edit", methods=["GET", "POST"])
@require(Role.ADMIN)
def edit_department(slug: str, code: str) -> ResponseReturnValue:
    """Change a department's name, site, headcount or parent (never its code)."""
    department = surveys.get_department(get_store(), slug, code)
    form = EditDepartmentForm(obj=department)
    if form.validate_on_submit():
        try:
            before, after = surveys.update_department(
                get_store(),
                slug,
                code,
                name=form.name.data,
                site=form.site.data,
                headcount=form.headcount.data,
                parent=form.parent.data or None,
            )
        except ValidationError as exc:
            form.form_errors.extend(exc.errors)
        else:
            detail = surveys.describe_department_change(before, after)
            audit(get_store(), _actor(), "department.update", f"{slug}/{code}", detail)
            flash(f"Department {code} is saved.")
            return redirect(url_for(".departments", slug=slug))
    survey = get_store().get_survey(slug)
    return render_template(
        "admin/surveys/department_form.html", survey=survey, form=form, department=department
    ), _status()


@bp.post("/surveys/<slug>/departments/<code>/retire")
@require(Role.ADMIN)
def retire_department(slug: str, code: str) -> BaseResponse:
    """Retire a department: its survey links stop working; its results stay."""
    return _set_retired(slug, code, retired=True)


@bp.post("/surveys/<slug>/departments/<code>/restore")
@require(Role.ADMIN)
def restore_department(slug: str, code: str) -> BaseResponse:
    """Make a retired department active again."""
    return _set_retired(slug, code, retired=False)


def _set_retired(slug: str, code: str, *, retired: bool) -> BaseResponse:
    _require_action()
    department = surveys.set_department_retired(get_store(), slug, code, retired=retired)
    action = "retire" if retired else "restore"
    audit(get_store(), _actor(), f"department.{action}", f"{slug}/{code}", department.name)
    flash(f"Department {code} is {'retired' if retired else 'active again'}.")
    page = request.args.get("page", 1, type=int)
    return redirect(url_for(".departments", slug=slug, page=page if page > 1 else None))


@bp.route("/surveys/<slug>/departments/import", methods=["GET", "POST"])
@require(Role.ADMIN)
def import_departments(slug: str) -> ResponseReturnValue:
    """Add or update departments from a CSV file; nothing is stored unless all of it is valid."""
    survey = get_store().get_survey(slug)
    form = ImportForm()
    if form.validate_on_submit():
        try:
            summary = surveys.import_departments(get_store(), slug, form.departments_text or "")
        except ValidationError as exc:
            if exc.errors != [str(exc)]:
                form.form_errors.append(f"Nothing was imported: {exc}")
            form.form_errors.extend(exc.errors)
        else:
            audit(get_store(), _actor(), "departments.import", slug, str(summary))
            flash(f"Departments imported: {summary}.")
            return redirect(url_for(".departments", slug=slug))
    return render_template(
        "admin/surveys/import.html",
        survey=survey,
        form=form,
        max_upload=get_settings().max_content_length,
    ), _status()


@bp.get("/surveys/<slug>/departments.csv")
@require(Role.ADMIN)
def export_departments(slug: str) -> Response:
    """Download a survey's departments as CSV (with a byte-order mark, for spreadsheets)."""
    export = surveys.export_departments(get_store(), slug)
    audit(get_store(), _actor(), "departments.export", slug, f"{export.count} department(s)")
    return Response(
        "\ufeff" + export.text,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "no-store",
        },
    )
