"""Creating surveys with their departments, and moving waves through their life."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from portal.domain.departments import parse_departments_csv
from portal.domain.entities import Survey, Thresholds, Wave, WaveKind, WaveStatus
from portal.domain.errors import Conflict, ValidationError
from portal.instruments import DEFAULT_QUESTIONNAIRE, get_questionnaire
from portal.storage.port import Store


def create_survey(
    store: Store,
    *,
    slug: str,
    title: str,
    system_name: Mapping[str, str],
    today: date,
    departments_csv: str | None = None,
    questionnaire_id: str = DEFAULT_QUESTIONNAIRE,
    languages: tuple[str, ...] | None = None,
    default_language: str | None = None,
    thresholds: Thresholds | None = None,
) -> Survey:
    """Create a survey on the newest version of a questionnaire, with its departments.

    Languages default to all the questionnaire offers; each chosen language must
    be one the questionnaire is written in. A system name given for one
    language only is used for all of them. The departments CSV is checked in
    full before anything is stored, so a bad file leaves nothing half-made.
    """
    questionnaire = get_questionnaire(questionnaire_id)
    chosen = languages or questionnaire.languages
    unsupported = [lang for lang in chosen if lang not in questionnaire.languages]
    if unsupported:
        raise ValidationError(
            f"The questionnaire {questionnaire_id!r} is not written in "
            f"{', '.join(unsupported)}; choose from {', '.join(questionnaire.languages)}."
        )
    default = default_language or (
        questionnaire.default_language if questionnaire.default_language in chosen else chosen[0]
    )
    names = {lang: name.strip() for lang, name in system_name.items() if name and name.strip()}
    if names and default not in names:
        names[default] = next(iter(names.values()))
    survey = Survey(
        slug=slug,
        title=title.strip(),
        system_name=names,
        questionnaire_id=questionnaire.id,
        questionnaire_version=questionnaire.version,
        languages=tuple(chosen),
        default_language=default,
        thresholds=thresholds or Thresholds(),
        created_on=today,
    )
    departments = parse_departments_csv(departments_csv, slug) if departments_csv else []
    store.add_survey(survey)
    if departments:
        store.put_departments(departments)
    return survey


def add_wave(
    store: Store,
    survey_slug: str,
    *,
    wave_id: str,
    name: str,
    today: date,
    planned_close: date | None = None,
) -> Wave:
    """Add a draft wave; the survey's first wave is its baseline, later ones follow-ups."""
    store.get_survey(survey_slug)  # raises NotFound for a mistyped survey
    kind = WaveKind.FOLLOW_UP if store.list_waves(survey_slug) else WaveKind.BASELINE
    if planned_close is not None and planned_close < today:
        raise ValidationError("The planned closing date must not be in the past.")
    wave = Wave(
        survey_slug=survey_slug,
        wave_id=wave_id,
        name=name.strip(),
        kind=kind,
        created_on=today,
        planned_close=planned_close,
    )
    store.add_wave(wave)
    return wave


def open_wave(store: Store, survey_slug: str, wave_id: str, *, today: date) -> Wave:
    """Open a draft wave, locking the survey's thresholds and questionnaire version."""
    survey = store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    opened = wave.opened(survey, today)
    store.update_wave(opened, expected_status=WaveStatus.DRAFT)
    return opened


def close_wave(store: Store, survey_slug: str, wave_id: str, *, today: date) -> Wave:
    """Close an open wave; no more responses are accepted."""
    wave = store.get_wave(survey_slug, wave_id)
    closed = wave.closed(today)
    store.update_wave(closed, expected_status=WaveStatus.OPEN)
    return closed


def close_due_waves(store: Store, *, today: date) -> list[Wave]:
    """Close every open wave whose planned closing day lies before ``today``.

    A wave planned to close on a day stays open through that whole day. A
    wave closed meanwhile by someone else is skipped, not an error.
    """
    closed: list[Wave] = []
    for survey in store.list_surveys():
        for wave in store.list_waves(survey.slug):
            due = wave.planned_close is not None and wave.planned_close < today
            if wave.status is WaveStatus.OPEN and due:
                try:
                    closed.append(close_wave(store, survey.slug, wave.wave_id, today=today))
                except Conflict:
                    continue
    return closed
