"""The printable reinforcement scorecard: HTML with a print stylesheet, and a PDF download.

Readers (admins, viewers, department viewers for their own departments) see
one A4 page per unit: the organisation (``unit=*``) and each department. The
charts are SVG made on the server, so the page prints — and the PDF is made —
without JavaScript. The PDF is written in pure Python (``portal.render.pdf``),
so it works on AWS Lambda with no system libraries. Every number is decided
by ``portal.services.scorecard`` from the published results.
"""

from __future__ import annotations

from flask import Blueprint, make_response, render_template, request
from markupsafe import Markup
from werkzeug.wrappers import Response

from portal.domain.accounts import Role
from portal.render.pdf import scorecard_pdf
from portal.render.svg import lever_chart_svg
from portal.services import scorecard as service
from portal.services.scorecard_model import ScorecardPage
from portal.web import get_store
from portal.web.auth.guard import READERS, current_user, reader_scope, require

bp = Blueprint("admin_scorecard", __name__, url_prefix="/admin")

WAVE = "/surveys/<slug>/waves/<wave_id>"
LANGUAGE_CHOICES = (("en", "English"), ("da", "Dansk"))


def _chart(page: ScorecardPage) -> Markup:
    # The SVG is built by our renderer from escaped text; it carries no script or style.
    return Markup(lever_chart_svg(page))  # noqa: S704


def _selection() -> tuple[str | None, str]:
    """Return the unit (``None`` for all) and the language asked for."""
    unit = request.args.get("unit") or None
    return unit, service.language_of(request.args.get("lang"))


@bp.get(WAVE + "/scorecard")
@require(*READERS)
def sheet(slug: str, wave_id: str) -> str:
    """Show the scorecard pages, ready to print (one A4 page per unit)."""
    _, allowed = reader_scope(slug)
    unit, language = _selection()
    store = get_store()
    card = service.scorecard(
        store, slug, wave_id, department=unit, language=language, allowed=allowed
    )
    departments = [d for d in store.list_departments(slug) if allowed(d.code)]
    units = [(d.code, d.name) for d in sorted(departments, key=lambda d: (d.name, d.code))]
    if all(allowed(d.code) for d in store.list_departments(slug)):
        units.insert(0, ("*", "Whole organisation"))
    user = current_user()
    return render_template(
        "admin/scorecard/sheet.html",
        card=card,
        units=units,
        unit=unit,
        language=language,
        languages=LANGUAGE_CHOICES,
        slug=slug,
        wave_id=wave_id,
        may_plan=user is not None and user.role is Role.ADMIN,
        chart=_chart,
    )


@bp.get(WAVE + "/scorecard.pdf")
@require(*READERS)
def pdf(slug: str, wave_id: str) -> Response:
    """Download the scorecard as PDF: one unit, or every unit the reader may see."""
    user, allowed = reader_scope(slug)
    unit, language = _selection()
    store = get_store()
    card = service.scorecard(
        store, slug, wave_id, department=unit, language=language, allowed=allowed
    )
    service.audit_download(store, user.email, card, slug, wave_id)
    response = make_response(scorecard_pdf(card))
    response.mimetype = "application/pdf"
    name = f"scorecard-{slug}-{wave_id}" + (
        f"-{'organisation' if unit == '*' else unit}" if unit else ""
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
