"""Surveys, waves, departments and responses: the records the portal keeps.

Every entity validates itself on construction, so an invalid one cannot reach
storage from any entry point (web form, CLI, demo or Lambda).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from portal.domain.errors import Conflict, ValidationError

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
CODE_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,30}[A-Za-z0-9])?$")
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2}$")

#: Anonymity floor: no setting may report a group smaller than this.
MIN_GROUP_FLOOR = 3
DEFAULT_MIN_GROUP = 5
#: Free text identifies people more easily than numbers, so its floor is higher.
MIN_COMMENT_FLOOR = 5
DEFAULT_MIN_COMMENT_GROUP = 10
MAX_GROUP_SETTING = 1000
MAX_COMMENT_LENGTH = 5000
#: Slugs that would clash with admin addresses such as /admin/surveys/new.
RESERVED_SURVEY_SLUGS = frozenset({"new"})
MAX_HEADCOUNT = 1_000_000


class Audience(StrEnum):
    """Who answers: the two questionnaires overlap but are not the same."""

    EMPLOYEE = "employee"
    MANAGER = "manager"


class WaveKind(StrEnum):
    """A baseline measurement, or a follow-up that is compared with earlier waves."""

    BASELINE = "baseline"
    FOLLOW_UP = "follow-up"


class WaveStatus(StrEnum):
    """A wave moves draft → open → closed and never back on its own."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class StoreOutcome(StrEnum):
    """What an idempotent write did."""

    STORED = "stored"
    ALREADY_STORED = "already stored"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValidationError(message)


def check_slug(value: str, what: str) -> None:
    """Reject a slug that is not 1–40 lowercase letters, digits and inner hyphens."""
    _require(
        isinstance(value, str) and bool(SLUG_RE.match(value)),
        f"{what} {value!r} must be 1–40 lowercase letters, digits or hyphens "
        "(not starting or ending with a hyphen), e.g. 'crm-rollout'.",
    )


def check_language(value: str) -> None:
    """Reject anything but a two-letter lowercase language code."""
    _require(
        isinstance(value, str) and bool(LANGUAGE_RE.match(value)),
        f"Language {value!r} must be a two-letter code such as 'en' or 'da'.",
    )


def check_day(value: object, what: str) -> None:
    """Reject anything finer than a calendar day (a ``datetime`` is a ``date`` too)."""
    _require(
        type(value) is date,
        f"{what} must be a calendar day without a time, not {type(value).__name__}.",
    )


@dataclass(frozen=True)
class Thresholds:
    """Minimum group sizes for reporting numbers and free-text comments.

    Rules: numbers need at least ``MIN_GROUP_FLOOR`` (3) people, comments at
    least ``MIN_COMMENT_FLOOR`` (5), and the comment threshold is never below
    the number threshold, since a comment says more about its author than a
    score does.
    """

    min_group_size: int = DEFAULT_MIN_GROUP
    min_comment_group_size: int = DEFAULT_MIN_COMMENT_GROUP

    def __post_init__(self) -> None:
        n, c = self.min_group_size, self.min_comment_group_size
        _require(
            isinstance(n, int) and MIN_GROUP_FLOOR <= n <= MAX_GROUP_SETTING,
            f"The minimum group size must be a whole number from {MIN_GROUP_FLOOR} "
            f"to {MAX_GROUP_SETTING}; got {n!r}.",
        )
        _require(
            isinstance(c, int) and MIN_COMMENT_FLOOR <= c <= MAX_GROUP_SETTING,
            f"The minimum group size for comments must be a whole number from "
            f"{MIN_COMMENT_FLOOR} to {MAX_GROUP_SETTING}; got {c!r}.",
        )
        _require(
            c >= n,
            f"The minimum group size for comments ({c}) must not be below the one "
            f"for numbers ({n}).",
        )


@dataclass(frozen=True)
class Survey:
    """A survey of one system's adoption, asked with one questionnaire over several waves."""

    slug: str
    title: str
    system_name: Mapping[str, str]
    questionnaire_id: str
    questionnaire_version: int
    languages: tuple[str, ...]
    default_language: str
    thresholds: Thresholds = field(default_factory=Thresholds)
    created_on: date = field(default_factory=date.today)

    def __post_init__(self) -> None:
        check_slug(self.slug, "Survey slug")
        _require(
            self.slug not in RESERVED_SURVEY_SLUGS,
            f"The survey slug {self.slug!r} is reserved for the portal's own pages; "
            "choose another.",
        )
        _require(
            isinstance(self.title, str) and 0 < len(self.title.strip()) <= 120,
            "The survey title must be 1–120 characters.",
        )
        _require(bool(self.languages), "A survey needs at least one language.")
        for language in self.languages:
            check_language(language)
        _require(
            len(set(self.languages)) == len(self.languages),
            "Each survey language may be listed only once.",
        )
        _require(
            self.default_language in self.languages,
            f"The default language {self.default_language!r} must be one of the "
            f"survey's languages ({', '.join(self.languages)}).",
        )
        _require(
            self.default_language in self.system_name,
            "Name the system in the survey's default language, e.g. 'the new CRM'.",
        )
        for language, name in self.system_name.items():
            _require(
                language in self.languages,
                f"The system name is given for {language!r}, which is not a survey language.",
            )
            _require(
                isinstance(name, str) and 0 < len(name.strip()) <= 60,
                f"The system name in {language!r} must be 1–60 characters.",
            )
        check_slug(self.questionnaire_id, "Questionnaire id")
        _require(
            isinstance(self.questionnaire_version, int) and self.questionnaire_version >= 1,
            "The questionnaire version must be a positive whole number.",
        )
        check_day(self.created_on, "The creation date")

    def system_in(self, language: str) -> str:
        """Return the system's name in ``language``, falling back to the default language."""
        return self.system_name.get(language) or self.system_name[self.default_language]


@dataclass(frozen=True)
class Department:
    """A unit that answers together: its results are reported for the group, never a person."""

    survey_slug: str
    code: str
    name: str
    site: str
    headcount: int
    parent: str | None = None
    retired: bool = False

    def __post_init__(self) -> None:
        check_slug(self.survey_slug, "Survey slug")
        _require(
            isinstance(self.code, str) and bool(CODE_RE.match(self.code)),
            f"Department code {self.code!r} must be 1–32 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit.",
        )
        _require(
            isinstance(self.name, str) and 0 < len(self.name.strip()) <= 100,
            f"Department {self.code}: the name must be 1–100 characters.",
        )
        _require(
            isinstance(self.site, str) and 0 < len(self.site.strip()) <= 100,
            f"Department {self.code}: the site must be 1–100 characters.",
        )
        _require(
            isinstance(self.headcount, int)
            and not isinstance(self.headcount, bool)
            and 0 <= self.headcount <= MAX_HEADCOUNT,
            f"Department {self.code}: the headcount must be a whole number from 0 to "
            f"{MAX_HEADCOUNT}.",
        )
        if self.parent is not None:
            _require(
                bool(CODE_RE.match(self.parent)) and self.parent != self.code,
                f"Department {self.code}: the parent must be another department's code.",
            )


@dataclass(frozen=True)
class Wave:
    """One round of measurement; thresholds and questionnaire version lock when it opens."""

    survey_slug: str
    wave_id: str
    name: str
    kind: WaveKind = WaveKind.BASELINE
    status: WaveStatus = WaveStatus.DRAFT
    thresholds: Thresholds | None = None
    questionnaire_version: int | None = None
    created_on: date = field(default_factory=date.today)
    opened_on: date | None = None
    closed_on: date | None = None
    planned_close: date | None = None

    def __post_init__(self) -> None:
        check_slug(self.survey_slug, "Survey slug")
        check_slug(self.wave_id, "Wave id")
        _require(
            isinstance(self.name, str) and 0 < len(self.name.strip()) <= 80,
            "The wave name must be 1–80 characters.",
        )
        check_day(self.created_on, "The creation date")
        for label, day in (
            ("The opening date", self.opened_on),
            ("The closing date", self.closed_on),
            ("The planned closing date", self.planned_close),
        ):
            if day is not None:
                check_day(day, label)
        if self.status is not WaveStatus.DRAFT:
            _require(
                self.thresholds is not None
                and self.questionnaire_version is not None
                and self.opened_on is not None,
                "An opened wave must record its locked thresholds, questionnaire "
                "version and opening day.",
            )
        if self.status is WaveStatus.CLOSED:
            _require(self.closed_on is not None, "A closed wave must record its closing day.")

    def opened(self, survey: Survey, today: date) -> Wave:
        """Return this wave opened today, locking the survey's current thresholds and version."""
        if self.status is not WaveStatus.DRAFT:
            raise Conflict(f"Wave {self.wave_id!r} is {self.status}; only a draft wave can open.")
        return replace(
            self,
            status=WaveStatus.OPEN,
            thresholds=survey.thresholds,
            questionnaire_version=survey.questionnaire_version,
            opened_on=today,
        )

    def closed(self, today: date) -> Wave:
        """Return this wave closed today."""
        if self.status is not WaveStatus.OPEN:
            raise Conflict(f"Wave {self.wave_id!r} is {self.status}; only an open wave can close.")
        return replace(self, status=WaveStatus.CLOSED, closed_on=today)

    def reopened(self, today: date, *, planned_close: date | None = None) -> Wave:
        """Return this closed wave open again (an exception HR must justify and log).

        Rules: only a closed wave reopens. It keeps the thresholds, questionnaire
        version and opening day locked when it first opened, so the answers given
        before and after the pause stay one comparable wave; its closing day is
        cleared. A planned closing day before ``today`` is dropped, because the
        daily job would otherwise close the wave again at once; ``planned_close``
        sets a new one, which must not lie before ``today``.
        """
        if self.status is not WaveStatus.CLOSED:
            raise Conflict(
                f"Wave {self.wave_id!r} is {self.status}; only a closed wave can reopen."
            )
        check_day(today, "Today")
        if planned_close is not None:
            check_day(planned_close, "The planned closing date")
            _require(
                planned_close >= today, "The new planned closing date must not be in the past."
            )
            keep = planned_close
        elif self.planned_close is not None and self.planned_close >= today:
            keep = self.planned_close
        else:
            keep = None
        return replace(self, status=WaveStatus.OPEN, closed_on=None, planned_close=keep)

    def effective_thresholds(self, survey: Survey) -> Thresholds:
        """Return the locked thresholds once open, else the survey's current ones."""
        return self.thresholds or survey.thresholds


@dataclass(frozen=True)
class Response:
    """One anonymous set of answers.

    It deliberately holds nothing that points at a person or a moment: no
    account, address, browser, code or time of day — only the calendar day.
    ``key`` is a random idempotency key minted for the form, so a repeated
    submission is recognised without knowing who sent it. ``answers`` maps item
    ids to 1–5, or to ``None`` for "don't know / not applicable".
    """

    survey_slug: str
    wave_id: str
    department_code: str
    audience: Audience
    language: str
    day: date
    answers: Mapping[str, int | None]
    key: str
    comment: str | None = None

    def __post_init__(self) -> None:
        check_slug(self.survey_slug, "Survey slug")
        check_slug(self.wave_id, "Wave id")
        _require(
            isinstance(self.department_code, str) and bool(CODE_RE.match(self.department_code)),
            "A response must name a valid department code.",
        )
        _require(isinstance(self.audience, Audience), "A response needs an audience.")
        check_language(self.language)
        check_day(self.day, "A response's date")
        _require(
            isinstance(self.key, str) and bool(KEY_RE.match(self.key)),
            "A response key must be 16–64 URL-safe characters.",
        )
        _require(bool(self.answers), "A response needs at least one answer.")
        for item_id, value in self.answers.items():
            _require(
                isinstance(item_id, str) and 0 < len(item_id) <= 64,
                "Answer keys must be item ids.",
            )
            _require(
                value is None
                or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5),
                f"The answer to {item_id!r} must be 1–5 or 'not applicable'.",
            )
        if self.comment is not None:
            _require(
                isinstance(self.comment, str) and len(self.comment) <= MAX_COMMENT_LENGTH,
                f"A comment may be at most {MAX_COMMENT_LENGTH} characters.",
            )


TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,43}$")
CODE_HASH_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Link:
    """A department's survey link for one wave, behind an unguessable random token.

    ``audience`` fixes who answers (e.g. a link sent only to managers); ``None``
    lets the respondent choose. ``kiosk`` marks a shared device, where every
    submission starts afresh and no "already answered" cookie is set.
    ``revoked`` links answer with a friendly "no longer valid" page.
    """

    token: str
    survey_slug: str
    wave_id: str
    department_code: str
    audience: Audience | None = None
    kiosk: bool = False
    revoked: bool = False

    def __post_init__(self) -> None:
        _require(
            isinstance(self.token, str) and bool(TOKEN_RE.match(self.token)),
            "A link token must be 16–43 URL-safe characters.",
        )
        check_slug(self.survey_slug, "Survey slug")
        check_slug(self.wave_id, "Wave id")
        _require(
            isinstance(self.department_code, str) and bool(CODE_RE.match(self.department_code)),
            "A link must name a valid department code.",
        )
        _require(
            self.audience is None or isinstance(self.audience, Audience),
            "A link's audience must be employee, manager or open.",
        )


@dataclass(frozen=True)
class AccessCode:
    """A single-use code for one department of one wave, kept only as a hash.

    The store records whether the code was used, and nothing about which
    response used it.
    """

    code_hash: str
    survey_slug: str
    wave_id: str
    department_code: str
    used: bool = False

    def __post_init__(self) -> None:
        _require(
            isinstance(self.code_hash, str) and bool(CODE_HASH_RE.match(self.code_hash)),
            "An access code is stored as its SHA-256 hash (64 hex digits).",
        )
        check_slug(self.survey_slug, "Survey slug")
        check_slug(self.wave_id, "Wave id")
        _require(
            isinstance(self.department_code, str) and bool(CODE_RE.match(self.department_code)),
            "An access code must name a valid department code.",
        )
