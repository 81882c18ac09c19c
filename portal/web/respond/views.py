"""The respondent's pages. Views parse input, call one service and render."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from portal.domain.entities import CODE_HASH_RE, Audience, StoreOutcome
from portal.domain.errors import CodeAlreadyUsed, NotFound, StorageError, Unavailable
from portal.services import respond
from portal.services.respond import Ballot, Sheet
from portal.web import get_reads, get_settings
from portal.web.i18n import (
    DEFAULT_LANGUAGE,
    INTERFACE_LANGUAGES,
    choose_language,
    set_page_language,
)
from portal.web.respond.forms import (
    AnswerForm,
    BadInput,
    BadKey,
    mint_key,
    parse_answer_form,
    read_key,
    read_sheet,
)
from portal.web.respond.limits import BallotLimiter

bp = Blueprint("respond", __name__)


@bp.record_once
def _make_limiter(state: BlueprintSetupState) -> None:
    settings = state.app.extensions["portal.settings"]
    limiter = BallotLimiter(settings.ballot_burst, settings.ballot_interval)
    state.app.extensions["portal.ballot_limiter"] = limiter


def _limiter() -> BallotLimiter:
    limiter: BallotLimiter = current_app.extensions["portal.ballot_limiter"]
    return limiter


def _client() -> str | None:
    """Return the client address to limit by, or ``None`` for one that is not limited.

    A loopback (or unknown) address is a reverse proxy on the same machine whose
    forwarded address the portal was not told to trust (``PORTAL_TRUSTED_PROXIES``):
    limiting it would hold every respondent back together.
    """
    address = request.remote_addr or ""
    try:
        return None if ipaddress.ip_address(address).is_loopback else address
    except ValueError:
        return None


DONE_COOKIE_DAYS = 180
#: On a kiosk, the thank-you page returns to the start for the next person after this.
KIOSK_RESTART_SECONDS = 20


# -- helpers ------------------------------------------------------------------


def _language(ballot: Ballot, requested: str | None) -> str:
    survey = ballot.survey
    language = choose_language(survey.languages, survey.default_language, requested)
    set_page_language(language)
    return language


def _audience(ballot: Ballot, requested: str | None) -> Audience | None:
    if ballot.link and ballot.link.audience:
        return ballot.link.audience
    try:
        return Audience(requested) if requested else None
    except ValueError:
        abort(400, _("Choose whether you answer as an employee or as a manager."))


def _done_cookie(ballot: Ballot) -> str:
    return f"done-{ballot.survey.slug}-{ballot.wave.wave_id}"


def _no_store(response: Response) -> Response:
    # Forms hold a signed key and, on a shared device, the previous person's answers.
    response.headers["Cache-Control"] = "no-store"
    return response


def _render_form(
    sheet: Sheet,
    *,
    language: str,
    audience: Audience,
    action: str,
    key: str,
    form: AnswerForm | None = None,
    notice: str | None = None,
    status: int = 200,
    code_hash: str | None = None,
) -> Response:
    response = make_response(
        render_template(
            "respond/questionnaire.html",
            code_hash=code_hash,
            sheet=sheet,
            language=language,
            audience=audience,
            action=action,
            key=key,
            form=form or AnswerForm(),
            notice=notice,
            system=sheet.system,
        ),
        status,
    )
    if status == 503:
        response.headers["Retry-After"] = "5"
    return _no_store(response)


def _interface_language() -> None:
    """Choose the page language for pages that belong to no survey yet."""
    requested = request.values.get("lang")
    set_page_language(choose_language(INTERFACE_LANGUAGES, DEFAULT_LANGUAGE, requested))


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


# -- links ----------------------------------------------------------------------


@bp.get("/s/<token>")
def landing(token: str) -> Response:
    """Introduce the survey: what it is, how long, the anonymity promise, language, role."""
    ballot = respond.open_link(get_reads(), token)
    language = _language(ballot, request.args.get("lang"))
    answered = not ballot.kiosk and request.cookies.get(_done_cookie(ballot)) == "1"
    response = make_response(
        render_template(
            "respond/landing.html",
            ballot=ballot,
            token=token,
            language=language,
            answered=answered,
            audience_missing=request.args.get("err") == "aud",
            language_href=lambda lang: url_for("respond.landing", token=token, lang=lang),
            fixed_audience=ballot.link.audience if ballot.link else None,
            system=ballot.survey.system_in(language),
            thresholds=ballot.wave.effective_thresholds(ballot.survey),
        )
    )
    return _no_store(response)


@bp.get("/s/<token>/q")
def questionnaire(token: str) -> BaseResponse:
    """Show the questionnaire for the chosen language and role."""
    ballot = respond.open_link(get_reads(), token)
    language = _language(ballot, request.args.get("lang"))
    audience = _audience(ballot, request.args.get("aud"))
    if audience is None:
        return redirect(url_for("respond.landing", token=token, lang=language, err="aud"))
    return _render_form(
        ballot.sheet(language),
        language=language,
        audience=audience,
        action=url_for("respond.submit_link", token=token),
        key=mint_key(_secret(), token, ballot.sheet(language).to_dict()),
    )


@bp.post("/s/<token>/q")
def submit_link(token: str) -> BaseResponse:
    """Store the answers sent through a link."""
    action = url_for("respond.submit_link", token=token)
    try:
        ballot = respond.open_link(get_reads(), token)
    except StorageError:
        return _not_saved(scope=token, action=action)
    return _submit(
        ballot,
        scope=token,
        action=action,
        thanks=lambda lang: url_for("respond.thanks", token=token, lang=lang),
    )


@bp.get("/s/<token>/thanks")
def thanks(token: str) -> Response:
    """Thank the respondent; on a kiosk, return to the start for the next person."""
    ballot = respond.open_link(get_reads(), token)
    language = _language(ballot, request.args.get("lang"))
    restart = url_for("respond.landing", token=token, lang=language)
    return _no_store(
        make_response(
            render_template(
                "respond/thanks.html",
                ballot=ballot,
                kiosk=ballot.kiosk,
                restart=restart,
                restart_seconds=KIOSK_RESTART_SECONDS,
            )
        )
    )


# -- single-use codes -----------------------------------------------------------


@bp.route("/code", methods=["GET", "POST"])
def code() -> Response:
    """Ask for a single-use code, then show its questionnaire, used or not.

    A used code opens the questionnaire exactly like an unused one (and its
    answers are then thanked for and discarded), so HR, who hold the codes,
    cannot learn here whose code was used. An unknown code is asked for
    again: it is most likely mistyped, and telling so reveals nothing HR
    does not know (they made the codes).
    """
    _interface_language()
    if request.method == "GET":
        return _no_store(make_response(render_template("respond/code.html", error=None)))
    typed = (request.form.get("code") or "")[:40]
    try:
        ballot, code_hash = respond.open_code(get_reads(), typed)
    except NotFound:
        error = _("We do not recognise that code. Check it against your slip and try again.")
        page = render_template("respond/code.html", error=error, typed=typed)
        return _no_store(make_response(page, 404))
    except StorageError:
        error = _("We could not check your code just now. Please wait a moment and try again.")
        page = render_template("respond/code.html", error=error, typed=typed)
        response = _no_store(make_response(page, 503))
        response.headers["Retry-After"] = "5"
        return response
    language = _language(ballot, request.form.get("lang"))
    audience = _audience(ballot, request.form.get("aud")) or Audience.EMPLOYEE
    return _render_form(
        ballot.sheet(language),
        language=language,
        audience=audience,
        action=url_for("respond.submit_code"),
        key=mint_key(_secret(), f"code:{code_hash}", ballot.sheet(language).to_dict()),
        code_hash=code_hash,
    )


@bp.post("/code/answer")
def submit_code() -> BaseResponse:
    """Store the answers sent with a single-use code, using the code up.

    A code used by an earlier form gets the same thank-you and its answers are
    discarded (``respond.submit``): the first answers sent with a code count.
    """
    code_hash = request.form.get("access", "")
    if not CODE_HASH_RE.match(code_hash):
        abort(400)
    scope, action = f"code:{code_hash}", url_for("respond.submit_code")
    try:
        ballot = respond.open_code_hash(get_reads(), code_hash)
    except StorageError:
        return _not_saved(scope=scope, action=action, code_hash=code_hash)
    return _submit(
        ballot,
        scope=scope,
        action=action,
        thanks=lambda lang: url_for("respond.code_thanks", lang=lang),
        code_hash=code_hash,
    )


@bp.get("/code/thanks")
def code_thanks() -> Response:
    """Thank a respondent who answered with a code."""
    _interface_language()
    return _no_store(
        make_response(
            render_template(
                "respond/thanks.html",
                ballot=None,
                kiosk=False,
                restart=url_for("respond.code"),
                restart_seconds=KIOSK_RESTART_SECONDS,
            )
        )
    )


# -- submitting -------------------------------------------------------------------


def _submit(
    ballot: Ballot,
    *,
    scope: str,
    action: str,
    thanks: Callable[[str], str],
    code_hash: str | None = None,
) -> BaseResponse:
    """Validate, store once, and thank — or show the form again with every answer kept."""
    language = _language(ballot, request.form.get("lang"))
    sheet = ballot.sheet(language)
    audience = _audience(ballot, request.form.get("aud"))
    if audience is None:
        abort(400, _("Choose whether you answer as an employee or as a manager."))
    signed = request.form.get("key", "")
    try:
        form = parse_answer_form(request.form, ballot.questionnaire, audience)
    except BadInput as exc:
        abort(400, str(exc))
    try:
        nonce = read_key(_secret(), signed, scope)
    except BadKey as exc:
        if not exc.expired:
            abort(400, _("We could not verify this form. Please open the survey link again."))
        notice = _(
            "This page was open for a long time, so we could not accept it as it was. "
            "Your answers are still here: please press “Send my answers” again."
        )
        return _render_form(
            sheet, language=language, audience=audience, action=action,
            key=mint_key(_secret(), scope, sheet.to_dict()), form=form, notice=notice,
            status=400, code_hash=code_hash,
        )  # fmt: skip
    if not form.complete:
        return _render_form(
            sheet, language=language, audience=audience, action=action, key=signed,
            form=form, status=400, code_hash=code_hash,
        )  # fmt: skip
    # A link can be posted through again and again; a single-use code limits itself.
    client = _client() if ballot.link is not None else None
    wait = _limiter().take(client, scope) if client else 0
    if wait:
        notice = _(
            "Many answers came through this link from your network just now, so we must "
            "ask you to wait. Nothing is lost: your answers are all still here. Please wait "
            "%(seconds)d seconds and press “Send my answers” again.",
            seconds=math.ceil(wait),
        )
        page = _render_form(
            sheet, language=language, audience=audience, action=action, key=signed,
            form=form, notice=notice, status=429, code_hash=code_hash,
        )  # fmt: skip
        page.headers["Retry-After"] = str(math.ceil(wait))
        return page
    try:
        outcome = respond.submit(
            get_reads(),
            ballot,
            audience=audience,
            language=language,
            answers=form.answers,
            comment=form.comment,
            key=nonce,
            today=date.today(),
            code_hash=code_hash,
        )
    except StorageError:
        if client:
            _limiter().give_back(client, scope)
        return _render_form(
            sheet, language=language, audience=audience, action=action, key=signed,
            form=form, notice=_not_saved_notice(), status=503, code_hash=code_hash,
        )  # fmt: skip
    response = redirect(thanks(language), code=303)
    if outcome in (StoreOutcome.STORED, StoreOutcome.ALREADY_STORED) and not ballot.kiosk:
        settings = get_settings()
        response.set_cookie(
            _done_cookie(ballot),
            "1",
            max_age=DONE_COOKIE_DAYS * 24 * 3600,
            httponly=True,
            samesite="Lax",
            secure=settings.is_production,
        )
    return response


def _not_saved_notice() -> str:
    return str(
        _(
            "We could not save your answers just now. Nothing is lost: they are all still "
            "here. Please wait a moment and press “Send my answers” again."
        )
    )


def _not_saved(*, scope: str, action: str, code_hash: str | None = None) -> BaseResponse:
    """Show a post whose link, code, survey or wave could not be read again, answers kept (503).

    Nothing is read from the store: the page is drawn from the sheet signed
    into the form's key and the questionnaire shipped with the portal. The key
    is kept, so the respondent's retry is stored once when the store is back.
    """
    signed = request.form.get("key", "")
    try:
        sheet = Sheet.from_dict(read_sheet(_secret(), signed, scope))
    except BadKey:
        abort(400, _("We could not verify this form. Please open the survey link again."))
    sheet = sheet or respond.fallback_sheet(_("the system"))
    questionnaire = sheet.questionnaire
    language = choose_language(
        questionnaire.languages, questionnaire.default_language, request.form.get("lang")
    )
    set_page_language(language)
    try:
        audience = Audience(request.form.get("aud", ""))
        form = parse_answer_form(request.form, questionnaire, audience)
    except ValueError:
        abort(400, _("Choose whether you answer as an employee or as a manager."))
    except BadInput as exc:
        abort(400, str(exc))
    return _render_form(
        sheet, language=language, audience=audience, action=action, key=signed, form=form,
        notice=_not_saved_notice(), status=503, code_hash=code_hash,
    )  # fmt: skip


@bp.app_errorhandler(CodeAlreadyUsed)
def code_used(exc: CodeAlreadyUsed) -> Response:
    """Explain that a single-use code cannot be used twice."""
    return _unavailable("used", 409)


@bp.app_errorhandler(Unavailable)
def unavailable(exc: Unavailable) -> Response:
    """Explain why a link cannot be used now, with the fitting status code."""
    return _unavailable(exc.reason, {"draft": 403, "closed": 410, "revoked": 410}[exc.reason])


def _unavailable(reason: str, status: int) -> Response:
    _interface_language()
    page = render_template("respond/unavailable.html", reason=reason)
    return _no_store(make_response(page, status))
