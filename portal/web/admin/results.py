"""Admin results pages: readiness per organisation, site and department, small groups hidden.

Readers (admins, viewers, department viewers for their own departments) see a
heatmap of lever indices, one page per department (with its comments when the
comment decision allows) and a CSV of the overview. Every number comes from
``portal.services.readiness``, which publishes only what the wave's disclosure
decision allows; a hidden group renders exactly like a group without responses.

Admins alone get the instrument-quality page (Cronbach's alpha per lever and
leadership level, agreement per department, ICCs; ``portal.services.quality``) and
the raw anonymous responses (``portal.services.raw_export``), downloaded
through a POST form so the choice to include comments is explicit and
CSRF-protected.
"""

from __future__ import annotations

import functools

from flask import Blueprint, abort, make_response, render_template, request
from werkzeug.wrappers import Response

from portal.domain.accounts import Role
from portal.domain.agreement import AGREEMENT_FLOOR
from portal.domain.entities import Audience
from portal.render.numbers import percent
from portal.services import key_drivers, raw_export, readiness
from portal.services import quality as quality_service
from portal.web import get_store
from portal.web.admin import results_charts
from portal.web.admin.results_forms import RawExportForm
from portal.web.auth.guard import READERS, current_user, reader_scope, require

bp = Blueprint("admin_results", __name__, url_prefix="/admin")
# Every admin page (results, scorecard, their macros) prints rates the same way.
bp.add_app_template_global(percent, "percent")

WAVE = "/surveys/<slug>/waves/<wave_id>"
BAND_WORDS = {"low": "low", "attention": "needs attention", "fair": "fair", "good": "good"}
AUDIENCE_CHOICES = (("", "Everyone"), ("employee", "Employees"), ("manager", "Managers"))


def _filters() -> tuple[str | None, Audience | None]:
    """Return the site and audience asked for in the query string (400 for a bad audience)."""
    site = request.args.get("site") or None
    raw = request.args.get("audience") or None
    try:
        audience = Audience(raw) if raw else None
    except ValueError:
        abort(400)
    return site, audience


def _helpers(report: readiness.WaveResults) -> dict[str, object]:
    return {
        "whole": readiness.whole_index,
        # Bands against the survey's own attention line, as the barrier and charts.
        "band": functools.partial(readiness.band, attention=report.attention),
        "band_words": BAND_WORDS,
        # How sure the barrier and the managers' gap are (``portal.domain.certainty``).
        "barrier_words": functools.partial(readiness.barrier_words, report),
        "gap_findings": readiness.gap_findings,
        "favourable_percents": readiness.favourable_percents,
        "not_enough": readiness.NOT_ENOUGH,
        "audience_choices": AUDIENCE_CHOICES,
    }


@bp.get(WAVE + "/results")
@require(*READERS)
def results(slug: str, wave_id: str) -> str:
    """Show the heatmap of lever indices per organisation, site and department."""
    _, allowed = reader_scope(slug)
    site, audience = _filters()
    report = readiness.wave_results(
        get_store(), slug, wave_id, allowed=allowed, site=site, audience=audience
    )
    organisation = report.organisation
    chart = None
    if organisation is not None:
        chart = results_charts.lever_figure(
            readiness.lever_chart(report, organisation),
            report,
            organisation,
            get_store().get_scorecard_settings(slug),
            "Organisation" + (f" ({audience.value}s only)" if audience else ""),
        )
    # The key drivers need the organisation (and a questionnaire with an outcome lever).
    drivers = key_drivers.cached_key_drivers(report) if organisation is not None else None
    if drivers is not None and drivers.status is key_drivers.Status.NO_OUTCOME:
        drivers = None
    return render_template(
        "admin/results/overview.html", r=report, chart=chart, drivers=drivers, **_helpers(report)
    )


@bp.get(WAVE + "/results/departments/<code>")
@require(*READERS)
def department(slug: str, wave_id: str, code: str) -> str:
    """Show one department's levers, answer distributions, audience gaps and trend."""
    _, allowed = reader_scope(slug)
    report, row = readiness.department_results(get_store(), slug, wave_id, code, allowed=allowed)
    items = readiness.item_distributions(report, row)
    return render_template(
        "admin/results/department.html",
        r=report,
        row=row,
        items=items,
        charts=_department_charts(report, row, items),
        comments=readiness.department_comments(report, row),
        agreement=quality_service.lever_agreement(report, row),
        agreement_floor=AGREEMENT_FLOOR,
        two=quality_service.two_places,
        **_helpers(report),
    )


def _department_charts(
    report: readiness.WaveResults,
    row: readiness.ResultRow,
    items: tuple[readiness.ItemResult, ...],
) -> dict[str, object]:
    """Return the department page's chart data, built from the figures its tables show."""
    if row.result is None:
        return {}
    settings = get_store().get_scorecard_settings(report.survey.slug)
    return {
        "levers": results_charts.lever_figure(
            readiness.lever_chart(report, row.result, interval=True),
            report,
            row.result,
            settings,
            row.label,
        ),
        "audiences": results_charts.audience_figure(
            readiness.audience_chart(report, row.result), report
        ),
        "answers": readiness.answer_charts(report, items, report.survey.system_in("en")),
    }


@bp.get(WAVE + "/results.csv")
@require(*READERS)
def results_csv(slug: str, wave_id: str) -> Response:
    """Download the overview as CSV, hidden exactly as on the page."""
    user, allowed = reader_scope(slug)
    site, audience = _filters()
    report = readiness.export_results(
        get_store(), slug, wave_id, actor=user.email, allowed=allowed, site=site, audience=audience
    )
    # A byte-order mark lets spreadsheet programs read department names as UTF-8.
    response = make_response("\ufeff" + readiness.results_csv(report))
    response.mimetype = "text/csv"
    response.headers["Content-Disposition"] = f'attachment; filename="results-{slug}-{wave_id}.csv"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.get(WAVE + "/results/quality")
@require(Role.ADMIN)
def quality(slug: str, wave_id: str) -> str:
    """Show α per lever and audience, agreement per department, ICCs per lever (admins only)."""
    report = quality_service.instrument_quality(get_store(), slug, wave_id)
    return render_template("admin/results/quality.html", q=report, two=quality_service.two_places)


@bp.get(WAVE + "/results/raw")
@require(Role.ADMIN)
def raw(slug: str, wave_id: str) -> Response:
    """Explain the raw export, say what the file holds, offer its download (closed waves)."""
    store = get_store()
    survey, wave = store.get_survey(slug), store.get_wave(slug, wave_id)
    plan = raw_export.plan_raw_export(store, slug, wave_id)
    page = render_template(
        "admin/results/raw.html", survey=survey, wave=wave, plan=plan, form=RawExportForm()
    )
    return _no_store(make_response(page))


@bp.post(WAVE + "/results/raw.csv")
@require(Role.ADMIN)
def raw_csv(slug: str, wave_id: str) -> Response:
    """Download the raw anonymous responses, comments only if ticked; audited.

    Refused (409, ``Conflict``) for a wave that is not closed.
    """
    form = RawExportForm()
    if not form.validate_on_submit():
        abort(400)
    user = current_user()
    assert user is not None  # the guard let only a signed-in admin through
    export = raw_export.export_raw_responses(
        get_store(),
        slug,
        wave_id,
        actor=user.email,
        include_comments=bool(form.include_comments.data),
    )
    response = make_response("\ufeff" + export.text)
    response.mimetype = "text/csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return _no_store(response)
