"""Admin "Compare side by side": sites, departments or waves, lever by lever.

The page is a GET form (it works without JavaScript); every figure and rule
comes from ``portal.services.compare``, which reads the same published results
as the overview. A choice the reader may not make answers 400 with the form
and a message saying what to change.
"""

from __future__ import annotations

import functools

from flask import Blueprint, render_template, request

from portal.services import compare as compare_service
from portal.services import readiness
from portal.web import get_store
from portal.web.admin.results import BAND_WORDS, WAVE
from portal.web.auth.guard import READERS, reader_scope, require

bp = Blueprint("admin_compare", __name__, url_prefix="/admin")


def _selection() -> compare_service.Selection:
    """Return what the query string asks to compare (checked by the service)."""
    args = request.args
    return compare_service.Selection(
        by=args.get("by") or None,
        sites=tuple(args.getlist("site")),
        departments=tuple(args.getlist("department")),
        site=args.get("of_site") or None,
        unit=args.get("unit") or None,
        waves=tuple(args.getlist("wave")),
    )


@bp.get(WAVE + "/results/compare")
@require(*READERS)
def compare(slug: str, wave_id: str) -> tuple[str, int]:
    """Show the chosen sites, departments or waves side by side, lever by lever."""
    _, allowed = reader_scope(slug)
    found = compare_service.compare(get_store(), slug, wave_id, _selection(), allowed=allowed)
    page = render_template(
        "admin/results/compare.html",
        c=found,
        r=found.results,
        max_groups=compare_service.MAX_GROUPS,
        whole=readiness.whole_index,
        band=functools.partial(readiness.band, attention=found.results.attention),
        band_words=BAND_WORDS,
    )
    return page, 400 if found.problem else 200
