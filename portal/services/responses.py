"""Recording a respondent's answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from portal.domain.entities import Audience, Response, StoreOutcome, Survey, Wave, WaveStatus
from portal.domain.errors import Conflict, ValidationError
from portal.domain.questionnaire import Questionnaire
from portal.storage.port import Store


def record_response(
    store: Store,
    *,
    survey: Survey,
    wave: Wave,
    questionnaire: Questionnaire,
    department_code: str,
    audience: Audience,
    language: str,
    answers: Mapping[str, int | None],
    comment: str | None,
    key: str,
    today: date,
    code_hash: str | None = None,
) -> StoreOutcome:
    """Check the answers against the questionnaire and store them once.

    Rules: the wave must be open; the language must be one of the survey's;
    every item asked of ``audience`` must be answered; a blank comment is
    stored as none. Only the calendar day is kept. Sending the same ``key``
    again stores nothing and returns ``ALREADY_STORED``. With ``code_hash``
    the single-use code is consumed in the same write.
    """
    if wave.status is not WaveStatus.OPEN:
        raise Conflict(f"Wave {wave.wave_id!r} is {wave.status.value}; it takes no answers now.")
    if language not in survey.languages:
        raise ValidationError(f"The survey is not offered in {language!r}.")
    checked = questionnaire.check_answers(audience, answers)
    text = (comment or "").strip() or None
    if text is not None:
        limit = questionnaire.comment.max_length if questionnaire.comment else 0
        if len(text) > limit:
            raise ValidationError(f"The comment may be at most {limit} characters.")
    response = Response(
        survey_slug=survey.slug,
        wave_id=wave.wave_id,
        department_code=department_code,
        audience=audience,
        language=language,
        day=today,
        answers=checked,
        key=key,
        comment=text,
    )
    return store.add_response(response, code_hash=code_hash)
