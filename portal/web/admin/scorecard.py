"""The printable reinforcement scorecard: HTML with a print stylesheet, and a PDF download.

Readers (admins, viewers, department viewers for their own departments) see
each unit from a new A4 page — the organisation (``unit=*``) and each
department — with its whole plan, continued on further pages when it is long. The
charts are SVG made on the server, so the page prints — and the PDF is made —
without JavaScript. The PDF is written in pure Python (``portal.render.pdf``),
so it works on AWS Lambda with no system libraries. Every number is decided
by ``portal.services.scorecard`` from the published results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, make_response, render_template, request
from markupsafe import Markup
from werkzeug.wrappers import Response

from portal.domain.accounts import Role, User
from portal.render.pdf import scorecard_pdf
from portal.render.svg import lever_chart_svg
from portal.services import scorecard as service
from portal.services.scorecard_model import Scorecard, ScorecardPage
from portal.web import get_store
from portal.web.auth.guard import READERS, reader_scope, require

bp = Blueprint("admin_scorecard", __name__, url_prefix="/admin")

WAVE = "/surveys/<slug>/waves/<wave_id>"
LANGUAGE_CHOICES = (("en", "English"), ("da", "Dansk"))


def _chart(page: ScorecardPage) -> Markup:
    # The SVG is built by our renderer from escaped text; it carries no script or style.
    return Markup(lever_chart_svg(page))  # noqa: S704


@dataclass(frozen=True)
class _Request:
    """A scorecard asked for: by whom, which unit (``None`` for all), in which language."""

    user: User
    allowed: Callable[[str], bool]
    unit: str | None
    language: str
    card: Scorecard


def _scorecard(slug: str, wave_id: str) -> _Request:
    """Build the scorecard the query string asks for, within the reader's departments."""
    user, allowed = reader_scope(slug)
    unit = request.args.get("unit") or None
    language = service.language_of(request.args.get("lang"))
    # Printed in full: every action of the plan, continued on further pages if need be.
    card = service.scorecard(
        get_store(),
        slug,
        wave_id,
        department=unit,
        language=language,
        allowed=allowed,
        max_plan_lines=None,
    )
    return _Request(user, allowed, unit, language, card)


@bp.get(WAVE + "/scorecard")
@require(*READERS)
def sheet(slug: str, wave_id: str) -> str:
    """Show the scorecard pages, ready to print (one A4 page per unit)."""
    asked = _scorecard(slug, wave_id)
    return render_template(
        "admin/scorecard/sheet.html",
        card=asked.card,
        units=service.units(get_store(), slug, asked.allowed, wave_id),
        unit=asked.unit,
        language=asked.language,
        languages=LANGUAGE_CHOICES,
        slug=slug,
        wave_id=wave_id,
        may_plan=asked.user.role is Role.ADMIN,
        chart=_chart,
    )


@bp.get(WAVE + "/scorecard.pdf")
@require(*READERS)
def pdf(slug: str, wave_id: str) -> Response:
    """Download the scorecard as PDF: one unit, or every unit the reader may see."""
    asked = _scorecard(slug, wave_id)
    service.audit_download(get_store(), asked.user.email, asked.card, slug, wave_id)
    response = make_response(scorecard_pdf(asked.card))
    response.mimetype = "application/pdf"
    # The unit is a checked department code (or *) by now: scorecard() found it.
    part = {None: "", "*": "-organisation"}.get(asked.unit, f"-{asked.unit}")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="scorecard-{slug}-{wave_id}{part}.pdf"'
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
