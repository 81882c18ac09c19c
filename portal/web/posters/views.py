"""QR codes and A4 posters per survey link.

These pages are public by token on purpose: whoever holds a link may print it.
They work before a wave opens, so posters can go up in advance.
"""

from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template, request, url_for

from portal.services import respond
from portal.services.qr import qr_png, qr_svg
from portal.services.respond import Ballot
from portal.web import get_reads, get_settings
from portal.web.i18n import choose_language, set_page_language

bp = Blueprint("posters", __name__)


def public_link(token: str) -> str:
    """Return the address respondents type or scan: ``PORTAL_PUBLIC_URL`` if set."""
    base = get_settings().public_url
    if base:
        return f"{base.rstrip('/')}/s/{token}"
    return url_for("respond.landing", token=token, _external=True)


def _download(response: Response, ballot: Ballot, extension: str) -> Response:
    if request.args.get("download"):
        name = f"survey-{ballot.wave.wave_id}-{ballot.department.code}.{extension}"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.get("/s/<token>/qr.svg")
def qr_code_svg(token: str) -> Response:
    """Serve the link's QR code as SVG."""
    ballot = respond.describe_link(get_reads(), token)
    svg = qr_svg(public_link(token), title=ballot.department.name)
    return _download(Response(svg, mimetype="image/svg+xml"), ballot, "svg")


@bp.get("/s/<token>/qr.png")
def qr_code_png(token: str) -> Response:
    """Serve the link's QR code as PNG (``?scale=`` pixels per module)."""
    ballot = respond.describe_link(get_reads(), token)
    scale = request.args.get("scale", default=10, type=int) or 10
    return _download(
        Response(qr_png(public_link(token), scale=scale), mimetype="image/png"), ballot, "png"
    )


@bp.get("/s/<token>/poster")
def poster(token: str) -> Response:
    """Show a printable A4 poster for the link."""
    ballot = respond.describe_link(get_reads(), token)
    survey = ballot.survey
    language = choose_language(survey.languages, survey.default_language, request.args.get("lang"))
    set_page_language(language)
    page = render_template(
        "posters/sheet.html",
        posters=[poster_context(ballot, token, language)],
        language=language,
    )
    return make_response(page)


def poster_context(ballot: Ballot, token: str, language: str) -> dict[str, object]:
    """Gather what one poster shows."""
    link = public_link(token)
    return {
        "ballot": ballot,
        "link": link,
        "short_link": link.split("://", 1)[-1],
        "svg": qr_svg(link, title=ballot.department.name),
        "system": ballot.survey.system_in(language),
        "thresholds": ballot.wave.effective_thresholds(ballot.survey),
        "others": [lang for lang in ballot.survey.languages if lang != language],
    }
