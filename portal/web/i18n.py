"""Interface languages: gettext catalogs through Flask-Babel.

A page's language comes from an explicit choice (``?lang=`` in the address or
the form), else the browser's ``Accept-Language``, else the survey's (or the
portal's) default. Questionnaire texts come from the questionnaire file.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, g, request
from flask_babel import Babel

#: Languages the interface is translated into (portal/translations/<lang>).
INTERFACE_LANGUAGES = ("en", "da")
DEFAULT_LANGUAGE = "en"
#: Each language's name in itself, for language switches.
LANGUAGE_NAMES = {"en": "English", "da": "Dansk", "de": "Deutsch", "sv": "Svenska", "nb": "Norsk"}


def choose_language(offered: Sequence[str], default: str, requested: str | None) -> str:
    """Pick the page language among ``offered`` (see the module docstring for the order)."""
    if requested in offered:
        return str(requested)
    best = request.accept_languages.best_match(list(offered))
    return best or default


def set_page_language(language: str) -> None:
    """Use ``language`` for this request's interface texts and ``<html lang>``."""
    g.page_lang = language


def _select_locale() -> str:
    chosen = g.get("page_lang")
    if chosen:
        return str(chosen)
    return choose_language(INTERFACE_LANGUAGES, DEFAULT_LANGUAGE, request.args.get("lang"))


def init_app(app: Flask) -> None:
    """Attach Flask-Babel and expose the page language to templates."""
    Babel(app, locale_selector=_select_locale)
    app.jinja_env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES

    @app.context_processor
    def page_language() -> dict[str, object]:
        return {"page_lang": _select_locale()}
