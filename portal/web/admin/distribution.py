"""Admin pages for handing out a wave and watching who takes part.

- the distribution page (admins): every department's links, QR codes and
  posters, kiosk links, replacing a leaked link, single-use codes as a CSV
  download, and the printable poster sheet;
- live participation (admins, viewers, department viewers for their own
  departments): responses per department, small groups hidden.

Every change is a POST with a CSRF token; changes and exports are audited by
``portal.services.participation``. Link changes go through the read-through
cache (``get_reads``), so this process stops serving a withdrawn link at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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

from portal.domain.accounts import Role, User
from portal.domain.entities import Department, Survey
from portal.domain.errors import Conflict, ValidationError
from portal.services import participation
from portal.web import get_reads, get_settings, get_store
from portal.web.admin.distribution_forms import (
    ActionForm,
    CodesForm,
    PosterForm,
    ReplaceLinkForm,
)
from portal.web.auth.guard import READERS, current_user, reader_scope, require
from portal.web.i18n import LANGUAGE_NAMES, choose_language, set_page_language
from portal.web.posters.views import poster_context, public_link

bp = Blueprint("admin_distribution", __name__, url_prefix="/admin")

WAVE = "/surveys/<slug>/waves/<wave_id>"
#: Departments per page of the distribution page (each row carries several forms).
PER_PAGE = 100


# -- helpers ------------------------------------------------------------------


@dataclass(frozen=True)
class Pager:
    """Which slice of a long list one page shows."""

    page: int
    pages: int
    start: int
    stop: int


def _pager(total: int, requested: int | None) -> Pager:
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(requested or 1, 1), pages)
    return Pager(page, pages, (page - 1) * PER_PAGE, min(page * PER_PAGE, total))


def _user() -> User:
    user = current_user()
    assert user is not None  # the guard let only a signed-in account through
    return user


def _page_arg() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _back_to(slug: str, wave_id: str, code: str | None = None) -> Response:
    anchor = f"dept-{code}" if code else None
    target = url_for(".wave", slug=slug, wave_id=wave_id, page=_page_arg(), _anchor=anchor)
    return redirect(target, code=303)


def _department_choices(departments: Iterable[Department]) -> list[tuple[str, str]]:
    return [(d.code, f"{d.code} — {d.name} ({d.site})") for d in departments if not d.retired]


def _poster_form(survey: Survey) -> PosterForm:
    form = PosterForm(lang=survey.default_language)
    form.lang.choices = [(x, LANGUAGE_NAMES.get(x, x)) for x in survey.languages]
    return form


def _download(text: str, filename: str) -> Response:
    response = make_response(text)
    response.mimetype = "text/csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _code_address() -> str:
    """Return where respondents type a code: ``PORTAL_PUBLIC_URL`` if set, as for links."""
    base = get_settings().public_url
    return f"{base.rstrip('/')}/code" if base else url_for("respond.code", _external=True)


def _render_wave(
    slug: str, wave_id: str, *, codes_form: CodesForm | None = None, status: int = 200
) -> tuple[str, int]:
    distribution = participation.describe_distribution(get_store(), slug, wave_id)
    pager = _pager(len(distribution.departments), _page_arg())
    codes_form = codes_form or CodesForm(formdata=None)
    codes_form.department.choices = _department_choices(
        r.department for r in distribution.departments
    )
    page = render_template(
        "admin/distribution/wave.html",
        distribution=distribution,
        survey=distribution.survey,
        wave=distribution.wave,
        rows=distribution.departments[pager.start : pager.stop],
        pager=pager,
        codes_form=codes_form,
        poster_form=_poster_form(distribution.survey),
        thresholds=distribution.wave.effective_thresholds(distribution.survey),
        public_link=public_link,
    )
    return page, status


# -- distribution (admins) --------------------------------------------------------


@bp.get(WAVE)
@require(Role.ADMIN)
def wave(slug: str, wave_id: str) -> tuple[str, int]:
    """Show every department's links, QR codes and posters, 100 departments a page."""
    return _render_wave(slug, wave_id)


@bp.post(WAVE + "/links")
@require(Role.ADMIN)
def create_links(slug: str, wave_id: str) -> Response:
    """Give every active department without an open link one."""
    if not ActionForm().validate_on_submit():
        abort(400)
    created = participation.create_missing_links(get_reads(), slug, wave_id, actor=_user().email)
    flash(f"{created} new link(s) created." if created else "Every department has a link already.")
    return _back_to(slug, wave_id)


@bp.post(WAVE + "/departments/<code>/kiosk-links")
@require(Role.ADMIN)
def add_kiosk_link(slug: str, wave_id: str, code: str) -> Response:
    """Add a kiosk link (for a shared tablet) to one department."""
    if not ActionForm().validate_on_submit():
        abort(400)
    participation.add_kiosk_link(get_reads(), slug, wave_id, code, actor=_user().email)
    flash(f"Kiosk link added for {code}.")
    return _back_to(slug, wave_id, code)


@bp.post(WAVE + "/links/replace")
@require(Role.ADMIN)
def replace_link(slug: str, wave_id: str) -> Response:
    """Withdraw a leaked link and make a new one for the same department."""
    form = ReplaceLinkForm()
    if not form.validate_on_submit():
        abort(400)
    new = participation.replace_link(
        get_reads(), slug, wave_id, form.token.data or "", actor=_user().email
    )
    flash(
        f"The old link for {new.department_code} is withdrawn and answers 'no longer valid'. "
        "Hand out the new link (and reprint its posters)."
    )
    return _back_to(slug, wave_id, new.department_code)


@bp.post(WAVE + "/codes")
@require(Role.ADMIN)
def create_codes(slug: str, wave_id: str) -> Response | tuple[str, int]:
    """Make single-use codes for a department and send them as a CSV download, once."""
    form = CodesForm()
    form.department.choices = _department_choices(get_store().list_departments(slug))
    if not form.validate_on_submit():
        return _render_wave(slug, wave_id, codes_form=form, status=400)
    code, count = form.department.data or "", form.count.data or 0
    try:
        codes = participation.create_codes(
            get_store(), slug, wave_id, code, count, actor=_user().email
        )
    except (Conflict, ValidationError) as exc:
        form.form_errors.append(str(exc))
        return _render_wave(slug, wave_id, codes_form=form, status=409)
    text = participation.codes_csv(code, codes, _code_address())
    return _download(text, f"codes-{slug}-{wave_id}-{code}.csv")


@bp.get(WAVE + "/posters")
@require(Role.ADMIN)
def posters(slug: str, wave_id: str) -> Response:
    """Show the printable poster sheet: one A4 poster per active link (``?lang=``)."""
    survey = get_store().get_survey(slug)
    requested = request.args.get("lang") or survey.default_language
    language = choose_language(survey.languages, survey.default_language, requested)
    ballots = participation.poster_ballots(
        get_reads(), slug, wave_id, actor=_user().email, language=language
    )
    set_page_language(language)
    sheet = [poster_context(b, b.link.token, language) for b in ballots if b.link]
    response = make_response(render_template("posters/sheet.html", posters=sheet))
    response.headers["Cache-Control"] = "no-store"
    return response


# -- participation (readers) ----------------------------------------------------------


def _total_label(user: User) -> str:
    return "Your departments" if user.role is Role.DEPARTMENT_VIEWER else "All departments"


@bp.get(WAVE + "/participation", endpoint="participation")
@require(*READERS)
def participation_page(slug: str, wave_id: str) -> str:
    """Show responses, headcount and response rate per department, small groups hidden."""
    user, may_read = reader_scope(slug)
    report = participation.read_participation(get_store(), slug, wave_id, may_read=may_read)
    return render_template(
        "admin/distribution/participation.html",
        report=report,
        table=report.table,
        total_label=_total_label(user),
        is_admin=user.role is Role.ADMIN,
    )


@bp.get(WAVE + "/participation.csv")
@require(*READERS)
def participation_csv(slug: str, wave_id: str) -> Response:
    """Download the participation table, hidden exactly as on the page."""
    user, may_read = reader_scope(slug)
    report = participation.export_participation(
        get_store(), slug, wave_id, actor=user.email, may_read=may_read
    )
    # A byte-order mark lets spreadsheet programs read department names as UTF-8.
    text = "\ufeff" + participation.participation_csv(report.table, _total_label(user))
    return _download(text, f"participation-{slug}-{wave_id}.csv")
