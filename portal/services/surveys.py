"""Creating surveys with their departments, and moving waves through their life."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

from portal.domain.departments import (
    check_department_text,
    departments_to_csv,
    parse_departments_csv,
)
from portal.domain.entities import (
    Department,
    Link,
    Survey,
    Thresholds,
    Wave,
    WaveKind,
    WaveStatus,
)
from portal.domain.errors import AlreadyExists, Conflict, NotFound, ValidationError
from portal.domain.questionnaire import Questionnaire
from portal.instruments import DEFAULT_QUESTIONNAIRE, get_questionnaire
from portal.services.respond import make_links
from portal.services.structure import freeze_structure
from portal.storage.port import Store

#: Departments shown per page in the admin listing.
DEPARTMENTS_PER_PAGE = 50


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
    """Open a draft wave, locking the survey's thresholds, questionnaire version and departments.

    The departments are read before the wave opens and frozen with it right
    after (``structure.freeze_structure``); later edits apply from the next
    wave on. Should the freeze be interrupted, the wave's first read freezes it.
    """
    survey = store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    opened = wave.opened(survey, today)
    departments = store.list_departments(survey_slug)
    store.update_wave(opened, expected_status=WaveStatus.DRAFT)
    freeze_structure(store, opened, departments)
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


def open_wave_with_links(
    store: Store, survey_slug: str, wave_id: str, *, today: date
) -> tuple[Wave, list[Link]]:
    """Open a draft wave (see ``open_wave``) and give every active department a link."""
    wave = open_wave(store, survey_slug, wave_id, today=today)
    return wave, make_links(store, survey_slug, wave_id)


def reopen_wave(
    store: Store,
    survey_slug: str,
    wave_id: str,
    *,
    today: date,
    planned_close: date | None = None,
) -> Wave:
    """Reopen a closed wave, keeping what it locked when it first opened.

    See ``Wave.reopened`` for the rules. Raise ``Conflict`` if the wave is not
    closed, or stops being closed before the change is stored.
    """
    wave = store.get_wave(survey_slug, wave_id)
    reopened = wave.reopened(today, planned_close=planned_close)
    store.update_wave(reopened, expected_status=WaveStatus.CLOSED)
    return reopened


@dataclass(frozen=True)
class SurveyOverview:
    """A survey with its questionnaire, waves and a summary of its departments."""

    survey: Survey
    questionnaire: Questionnaire
    waves: list[Wave]
    departments: int
    active_departments: int
    headcount: int


def survey_overview(store: Store, survey_slug: str) -> SurveyOverview:
    """Return what the survey's admin page shows; ``headcount`` counts active departments."""
    survey = store.get_survey(survey_slug)
    departments = store.list_departments(survey_slug)
    active = [d for d in departments if not d.retired]
    return SurveyOverview(
        survey=survey,
        questionnaire=get_questionnaire(survey.questionnaire_id, survey.questionnaire_version),
        waves=store.list_waves(survey_slug),
        departments=len(departments),
        active_departments=len(active),
        headcount=sum(d.headcount for d in active),
    )


@dataclass(frozen=True)
class WaveOverview:
    """A wave with its survey, and how many departments would get a link."""

    survey: Survey
    wave: Wave
    active_departments: int


def wave_overview(store: Store, survey_slug: str, wave_id: str) -> WaveOverview:
    """Return a wave, its survey and its number of active departments."""
    survey = store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    active = sum(1 for d in store.list_departments(survey_slug) if not d.retired)
    return WaveOverview(survey, wave, active)


@dataclass(frozen=True)
class DepartmentPage:
    """One page of a survey's departments, by code."""

    survey: Survey
    items: list[Department]
    page: int
    pages: int
    total: int


def department_page(
    store: Store, survey_slug: str, page: int, *, per_page: int = DEPARTMENTS_PER_PAGE
) -> DepartmentPage:
    """Return page ``page`` (from 1) of a survey's departments, retired ones included.

    A survey without departments has one empty page; asking for a page
    outside ``1..pages`` raises ``NotFound``.
    """
    survey = store.get_survey(survey_slug)
    departments = store.list_departments(survey_slug)
    pages = max(1, -(-len(departments) // per_page))
    if not 1 <= page <= pages:
        raise NotFound(
            f"There is no page {page} of departments; there are {pages} page(s) of {per_page}."
        )
    start = (page - 1) * per_page
    return DepartmentPage(
        survey, departments[start : start + per_page], page, pages, len(departments)
    )


def get_department(store: Store, survey_slug: str, code: str) -> Department:
    """Return one of a survey's departments; raise ``NotFound`` if it has none by ``code``."""
    store.get_survey(survey_slug)
    for department in store.list_departments(survey_slug):
        if department.code == code:
            return department
    raise NotFound(f"Survey {survey_slug!r} has no department {code!r}.")


def _check_parent(known: Mapping[str, Department], department: Department) -> None:
    """Refuse a parent that is not one of the survey's departments, or that closes a loop."""
    if department.parent is None:
        return
    if department.parent not in known:
        raise ValidationError(
            f"Department {department.code}: there is no department {department.parent!r} "
            "in this survey to be its parent. Add the parent first, or leave it empty."
        )
    seen = {department.code}
    current: str | None = department.parent
    while current is not None and current in known:
        if current in seen:
            raise ValidationError(
                f"Department {department.code}: with {department.parent!r} as its parent, "
                "the parents would form a loop."
            )
        seen.add(current)
        current = known[current].parent


def add_department(store: Store, department: Department) -> Department:
    """Add one department to a survey; its code must be new and its parent must exist.

    Its name and site may not hold control or invisible characters.
    """
    check_department_text(department)
    store.get_survey(department.survey_slug)
    known = {d.code: d for d in store.list_departments(department.survey_slug)}
    if department.code in known:
        raise AlreadyExists(
            f"Survey {department.survey_slug!r} has a department {department.code!r} already."
        )
    _check_parent(known, department)
    store.put_departments([department])
    return department


def update_department(
    store: Store,
    survey_slug: str,
    code: str,
    *,
    name: str,
    site: str,
    headcount: int,
    parent: str | None,
) -> tuple[Department, Department]:
    """Change a department's name, site, headcount or parent; return it before and after.

    The code never changes (links, responses and accounts refer to it), and
    neither does the retired mark. The parent must be another department of
    the survey, and parents may not form a loop; the name and site may not
    hold control or invisible characters.
    """
    known = {d.code: d for d in store.list_departments(survey_slug)}
    before = known.get(code)
    if before is None:
        store.get_survey(survey_slug)  # says so if the survey itself is missing
        raise NotFound(f"Survey {survey_slug!r} has no department {code!r}.")
    after = replace(
        before, name=name.strip(), site=site.strip(), headcount=headcount, parent=parent or None
    )
    check_department_text(after)
    _check_parent(known, after)
    if after != before:
        store.put_departments([after])
    return before, after


def describe_department_change(before: Department, after: Department) -> str:
    """Describe what changed between two versions of a department, for the audit trail."""
    changes = [
        f"{label} {old!r} -> {new!r}"
        for label, old, new in (
            ("name", before.name, after.name),
            ("site", before.site, after.site),
            ("headcount", before.headcount, after.headcount),
            ("parent", before.parent, after.parent),
        )
        if old != new
    ]
    return "; ".join(changes) or "no change"


def set_department_retired(
    store: Store, survey_slug: str, code: str, *, retired: bool
) -> Department:
    """Retire a department (its links stop working, its results are kept) or restore it."""
    department = get_department(store, survey_slug, code)
    changed = replace(department, retired=retired)
    if changed != department:
        store.put_departments([changed])
    return changed


@dataclass(frozen=True)
class ImportSummary:
    """What a departments import did."""

    added: int
    updated: int
    unchanged: int

    def __str__(self) -> str:
        return f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged"


def import_departments(store: Store, survey_slug: str, csv_text: str) -> ImportSummary:
    """Add or update a survey's departments from CSV, matched by code.

    Rules: the whole file is checked first (see ``parse_departments_csv``;
    every problem is reported with its line number) and nothing is stored
    unless all of it is valid. Codes not yet in the survey are added, known
    codes get the file's name, site, headcount and parent, and departments
    missing from the file are left as they are. A parent must be listed in the
    same file. The retired mark is kept: retire and restore are done one by one.
    """
    store.get_survey(survey_slug)
    incoming = parse_departments_csv(csv_text, survey_slug)
    known = {d.code: d for d in store.list_departments(survey_slug)}
    added, updated, unchanged = [], [], 0
    for department in incoming:
        before = known.get(department.code)
        if before is None:
            added.append(department)
            continue
        after = replace(department, retired=before.retired)
        if after == before:
            unchanged += 1
        else:
            updated.append(after)
    if added or updated:
        store.put_departments([*added, *updated])
    return ImportSummary(len(added), len(updated), unchanged)


@dataclass(frozen=True)
class DepartmentExport:
    """A survey's departments as CSV, ready to download."""

    filename: str
    text: str
    count: int


def export_departments(store: Store, survey_slug: str) -> DepartmentExport:
    """Write a survey's departments (retired ones too) as CSV that ``import_departments`` reads."""
    store.get_survey(survey_slug)
    departments = store.list_departments(survey_slug)
    return DepartmentExport(
        f"{survey_slug}-departments.csv", departments_to_csv(departments), len(departments)
    )
