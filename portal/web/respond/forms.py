"""Reading the questionnaire form strictly, and the signed single-use submission key.

The questionnaire's fields depend on the instrument and the audience, so they
are parsed here rather than declared as a WTForms class. The rules are strict:
a field the form never had, a repeated field or an answer off the scale means
the request was not made by our page, and is refused whole.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict

from portal.domain.entities import Audience
from portal.domain.questionnaire import Questionnaire

SUBMISSION_SALT = "portal.submission"
#: A questionnaire left open overnight still submits; older keys are refused.
KEY_MAX_AGE = 24 * 3600
NOT_APPLICABLE = "na"
CONTROL_FIELDS = frozenset({"key", "lang", "aud", "comment", "access"})
SCALE_VALUES = {str(n): n for n in range(1, 6)}


class BadInput(Exception):
    """The form was tampered with or not sent by our page; nothing is stored."""


class BadKey(Exception):
    """The submission key is forged, or expired (``expired``)."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def mint_key(secret: str, scope: str, sheet: Mapping[str, Any] | None = None) -> str:
    """Return a signed key for one form: a random nonce bound to ``scope`` (link or code).

    ``sheet`` (what the page shows besides the answers) rides along, signed,
    so that the form can be shown again when the store cannot be read.
    """
    serializer = URLSafeTimedSerializer(secret, salt=SUBMISSION_SALT)
    data: dict[str, Any] = {"n": secrets.token_urlsafe(16), "s": scope}
    if sheet is not None:
        data["f"] = dict(sheet)
    return serializer.dumps(data)


def read_key(secret: str, signed: str, scope: str) -> str:
    """Return the nonce in ``signed`` if it is ours, fresh and for ``scope``.

    The nonce alone is stored with the response: the signed wrapper holds a
    timestamp, and times are never stored.
    """
    serializer = URLSafeTimedSerializer(secret, salt=SUBMISSION_SALT)
    try:
        data = serializer.loads(signed, max_age=KEY_MAX_AGE)
    except SignatureExpired as exc:
        raise BadKey(expired=True) from exc
    except BadSignature as exc:
        raise BadKey(expired=False) from exc
    if not isinstance(data, dict) or data.get("s") != scope or not isinstance(data.get("n"), str):
        raise BadKey(expired=False)
    return str(data["n"])


def read_sheet(secret: str, signed: str, scope: str) -> object | None:
    """Return the sheet data signed into a key for ``scope``, expired or not.

    Return ``None`` for a genuine key without a sheet (minted before sheets
    were carried); raise ``BadKey`` for a forged one or another scope's.
    """
    serializer = URLSafeTimedSerializer(secret, salt=SUBMISSION_SALT)
    valid, data = serializer.loads_unsafe(signed)
    if not valid or not isinstance(data, dict) or data.get("s") != scope:
        raise BadKey(expired=False)
    return data.get("f")


@dataclass
class AnswerForm:
    """What a respondent sent: answers given so far, and what is still missing."""

    answers: dict[str, int | None] = field(default_factory=dict)
    comment: str = ""
    missing: list[str] = field(default_factory=list)
    comment_too_long: bool = False

    @property
    def complete(self) -> bool:
        """Tell whether the form can be stored as it is."""
        return not self.missing and not self.comment_too_long


def parse_answer_form(
    form: MultiDict[str, str], questionnaire: Questionnaire, audience: Audience
) -> AnswerForm:
    """Read the answers in ``form`` for ``audience``.

    Unanswered items are listed in ``missing`` (the page asks for them, keeping
    the rest); tampering raises ``BadInput``.
    """
    items = {item.id for item in questionnaire.items_for(audience)}
    unknown = sorted(set(form.keys()) - items - CONTROL_FIELDS)
    if unknown:
        raise BadInput(f"Unexpected field(s): {', '.join(unknown[:5])}.")
    repeated = sorted(name for name in form.keys() if len(form.getlist(name)) > 1)
    if repeated:
        raise BadInput(f"Field(s) sent more than once: {', '.join(repeated[:5])}.")
    parsed = AnswerForm()
    for item in questionnaire.items_for(audience):
        raw = form.get(item.id)
        if raw is None or raw == "":
            parsed.missing.append(item.id)
        elif raw == NOT_APPLICABLE and questionnaire.scale.not_applicable is not None:
            parsed.answers[item.id] = None
        elif raw in SCALE_VALUES:
            parsed.answers[item.id] = SCALE_VALUES[raw]
        else:
            raise BadInput(f"The answer to {item.id} is not on the scale.")
    parsed.comment = (form.get("comment") or "").strip()
    limit = questionnaire.comment.max_length if questionnaire.comment else 0
    parsed.comment_too_long = len(parsed.comment) > limit
    return parsed
