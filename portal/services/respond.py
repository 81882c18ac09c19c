"""The respondent's use cases: open a link or code, and hand in answers."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from portal.domain.entities import (
    TOKEN_RE,
    AccessCode,
    Audience,
    Department,
    Link,
    StoreOutcome,
    Survey,
    Wave,
    WaveStatus,
)
from portal.domain.errors import CodeAlreadyUsed, NotFound, Unavailable, ValidationError
from portal.domain.questionnaire import Questionnaire
from portal.instruments import DEFAULT_QUESTIONNAIRE, get_questionnaire
from portal.services.responses import record_response
from portal.services.structure import taking_part
from portal.storage.port import Store

#: Letters and digits that cannot be mistaken for each other on a printed slip.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
#: Seconds a respondent needs per item, for the "about N minutes" estimate.
SECONDS_PER_ITEM = 9


@dataclass(frozen=True)
class Sheet:
    """What a questionnaire page shows besides the answers, in one language.

    A form carries its sheet (signed, in its submission key), so that a post
    the store cannot take can still be shown again with every answer — even
    in a fresh process that never read the link, survey or department. Only
    what the respondent already sees on the page goes in it.
    """

    questionnaire_id: str
    version: int
    system: str
    department: str = ""
    site: str = ""
    kiosk: bool = False

    @property
    def questionnaire(self) -> Questionnaire:
        """Return the questionnaire (shipped YAML, read without the store)."""
        return get_questionnaire(self.questionnaire_id, self.version)

    def to_dict(self) -> dict[str, Any]:
        """Return the sheet as short-keyed JSON data."""
        return {
            "q": self.questionnaire_id,
            "v": self.version,
            "y": self.system,
            "d": self.department,
            "s": self.site,
            "k": self.kiosk,
        }

    @classmethod
    def from_dict(cls, data: object) -> Sheet | None:
        """Return the sheet in ``data``, or ``None`` if it is not one we shipped."""
        if not isinstance(data, dict):
            return None
        q, v, y, d, s, k = (data.get(x) for x in ("q", "v", "y", "d", "s", "k"))
        if not (isinstance(q, str) and type(v) is int and isinstance(y, str)):
            return None
        try:
            get_questionnaire(q, v)
        except (NotFound, ValidationError):
            return None
        text = {name: x if isinstance(x, str) else "" for name, x in (("d", d), ("s", s))}
        return cls(q, v, y, text["d"], text["s"], k is True)


def fallback_sheet(system: str) -> Sheet:
    """Return a sheet for a form that carries none: the default questionnaire, newest version.

    Forms rendered before sheets were carried have none; ``system`` stands in
    for the survey's own name for the system, which only the store knows.
    """
    questionnaire = get_questionnaire(DEFAULT_QUESTIONNAIRE)
    return Sheet(questionnaire.id, questionnaire.version, system, kiosk=True)


@dataclass(frozen=True)
class Ballot:
    """Everything needed to show and accept one department's questionnaire."""

    survey: Survey
    wave: Wave
    department: Department
    questionnaire: Questionnaire
    link: Link | None = None

    @property
    def kiosk(self) -> bool:
        """Tell whether this is a shared device where every answer starts afresh."""
        return bool(self.link and self.link.kiosk)

    def sheet(self, language: str) -> Sheet:
        """Return what the ballot's questionnaire page shows, in ``language``."""
        return Sheet(
            self.questionnaire.id,
            self.questionnaire.version,
            self.survey.system_in(language),
            self.department.name,
            self.department.site,
            self.kiosk,
        )

    def minutes(self, audience: Audience | None) -> int:
        """Estimate the minutes needed, rounded up, for ``audience`` (or the longer one)."""
        audiences = [audience] if audience else list(Audience)
        items = max(len(self.questionnaire.items_for(a)) for a in audiences)
        return max(1, -(-items * SECONDS_PER_ITEM // 60))


def open_link(store: Store, token: str) -> Ballot:
    """Resolve a survey link to its ballot.

    Raise ``NotFound`` for an unknown token and ``Unavailable`` for a revoked
    link or a wave that is not open.
    """
    link = _link(store, token)
    if link.revoked:
        raise Unavailable("revoked", "This survey link has been withdrawn.")
    return _ballot(store, link.survey_slug, link.wave_id, link.department_code, link)


def _link(store: Store, token: str) -> Link:
    # A token that cannot exist is not looked up (and cannot upset a database key limit).
    if not TOKEN_RE.match(token):
        raise NotFound("There is no survey link with that token.")
    return store.get_link(token)


def describe_link(store: Store, token: str) -> Ballot:
    """Resolve a link whatever its wave's state, for posters printed before a wave opens.

    Raise ``NotFound`` for an unknown token and ``Unavailable`` for a revoked link.
    """
    link = _link(store, token)
    if link.revoked:
        raise Unavailable("revoked", "This survey link has been withdrawn.")
    return _ballot(
        store, link.survey_slug, link.wave_id, link.department_code, link, require_open=False
    )


def describe_wave_links(store: Store, survey_slug: str, wave_id: str) -> list[Ballot]:
    """Return a ballot for every usable link of a wave, by department, for a poster sheet.

    Revoked links and links of retired departments are left out. The survey,
    wave and departments are read once, whatever the number of links.
    """
    survey = store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    departments = {d.code: d for d in store.list_departments(survey_slug) if not d.retired}
    version = wave.questionnaire_version or survey.questionnaire_version
    questionnaire = get_questionnaire(survey.questionnaire_id, version)
    return [
        Ballot(survey, wave, departments[x.department_code], questionnaire, x)
        for x in store.list_links(survey_slug, wave_id)
        if not x.revoked and x.department_code in departments
    ]


def open_code(store: Store, code: str) -> tuple[Ballot, str]:
    """Resolve a typed single-use code to its ballot and the code's hash.

    Raise ``NotFound`` for an unknown code and ``Unavailable`` when its wave
    is not open. A used code opens its questionnaire exactly like an unused
    one (see ``open_code_hash``).
    """
    code_hash = hash_code(code)
    return open_code_hash(store, code_hash), code_hash


def open_code_hash(store: Store, code_hash: str) -> Ballot:
    """Resolve a code, known by its hash, to its ballot, whether it was used or not.

    Rule: whoever holds the list of codes (HR) must not learn from the portal
    whether a particular person's code was used, so a used and an unused code
    read the same records and open the same questionnaire; only the
    submission tells them apart, and ``submit`` answers both alike.
    """
    access = store.get_access_code(code_hash)
    return _ballot(store, access.survey_slug, access.wave_id, access.department_code, None)


def _ballot(
    store: Store,
    slug: str,
    wave_id: str,
    code: str,
    link: Link | None,
    *,
    require_open: bool = True,
) -> Ballot:
    survey = store.get_survey(slug)
    wave = store.get_wave(slug, wave_id)
    if require_open and wave.status is WaveStatus.DRAFT:
        raise Unavailable("draft", "This survey has not started yet.")
    if require_open and wave.status is WaveStatus.CLOSED:
        raise Unavailable("closed", "This survey has closed.")
    department = next((d for d in store.list_departments(slug) if d.code == code), None)
    if department is None or department.retired:
        raise NotFound("This survey link's department no longer exists.")
    version = wave.questionnaire_version or survey.questionnaire_version
    return Ballot(
        survey, wave, department, get_questionnaire(survey.questionnaire_id, version), link
    )


def submit(
    store: Store,
    ballot: Ballot,
    *,
    audience: Audience,
    language: str,
    answers: Mapping[str, int | None],
    comment: str | None,
    key: str,
    today: date,
    code_hash: str | None = None,
) -> StoreOutcome:
    """Store a ballot's answers once (see ``record_response`` for the rules).

    With a code that was used for an earlier response (by another form), the
    answers are discarded and ``ALREADY_STORED`` is returned, exactly as for
    a retry of the form that used it: the respondent sees the same thank-you
    page either way, so the submission tells nobody whether the code had been
    used, and a code still counts only once (the first answers stay).
    """
    if ballot.link and ballot.link.audience and ballot.link.audience is not audience:
        raise NotFound("This link is for another group of respondents.")
    try:
        return record_response(
            store,
            survey=ballot.survey,
            wave=ballot.wave,
            questionnaire=ballot.questionnaire,
            department_code=ballot.department.code,
            audience=audience,
            language=language,
            answers=answers,
            comment=comment,
            key=key,
            today=today,
            code_hash=code_hash,
        )
    except CodeAlreadyUsed:
        return StoreOutcome.ALREADY_STORED


def normalise_code(code: str) -> str:
    """Uppercase a typed code and drop spaces and dashes, as printed slips group them."""
    return re.sub(r"[\s-]+", "", code).upper()


def hash_code(code: str) -> str:
    """Return the SHA-256 hex digest under which a code is stored."""
    return hashlib.sha256(normalise_code(code).encode("ascii", "replace")).hexdigest()


def new_code() -> str:
    """Return a fresh random code, grouped for reading aloud: ``ABCD-EFGH-JK``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def make_codes(
    store: Store, survey_slug: str, wave_id: str, department_code: str, count: int
) -> list[str]:
    """Create ``count`` single-use codes for a department; return them (they are not kept)."""
    if not 1 <= count <= 5000:
        raise ValidationError("Ask for between 1 and 5,000 codes at a time.")
    codes = [new_code() for _ in range(count)]
    store.add_access_codes(
        [AccessCode(hash_code(c), survey_slug, wave_id, department_code) for c in codes]
    )
    return codes


def make_links(store: Store, survey_slug: str, wave_id: str) -> list[Link]:
    """Give every active department of a wave an open link, keeping existing ones.

    The wave's departments are those it opened with (``structure.taking_part``):
    one added since gets no link for it. A department counts as linked only by
    a usable open link: kiosk links, links for one audience and revoked links
    do not count.
    """
    existing = {
        link.department_code
        for link in store.list_links(survey_slug, wave_id)
        if not link.revoked and not link.kiosk and link.audience is None
    }
    # Only the wave's own departments: one added after it opened takes part from the next wave.
    wave = store.get_wave(survey_slug, wave_id)
    new = [
        Link(secrets.token_urlsafe(12), survey_slug, wave_id, d.code)
        for d in taking_part(store, wave)
        if not d.retired and d.code not in existing
    ]
    if new:
        store.put_links(new)
    return store.list_links(survey_slug, wave_id)
