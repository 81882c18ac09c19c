"""A read-through cache in front of a store, for the respondent's hot path.

Opening a survey link needs the link, its survey, wave and department. These
change rarely, so they are kept in memory for ``ttl`` seconds: a warm process
renders a questionnaire without touching the database. Writes made through
this wrapper drop the affected entries at once; changes made by another
process (another Lambda instance) are seen after at most ``ttl`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from portal.domain.accounts import ApiToken, AuditEvent, User
from portal.domain.aggregates import DepartmentComments, Snapshot
from portal.domain.entities import (
    AccessCode,
    Department,
    Link,
    Response,
    StoreOutcome,
    Survey,
    Wave,
    WaveStatus,
)
from portal.domain.scorecard import PlanAction, ScorecardSettings
from portal.storage.port import Page, Store

T = TypeVar("T")
DEFAULT_TTL = 30.0


class CachedStore:
    """A ``Store`` that remembers links, surveys, waves and department lists briefly."""

    def __init__(
        self, store: Store, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self.misses = 0

    def _cached(self, key: tuple[str, ...], load: Callable[[], T]) -> T:
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                value: T = entry[1]
                return value
        self.misses += 1
        value = load()
        with self._lock:
            self._entries[key] = (now + self.ttl, value)
        return value

    def forget(self, *prefix: str) -> None:
        """Drop every entry whose key starts with ``prefix`` (everything if empty)."""
        with self._lock:
            for key in [k for k in self._entries if k[: len(prefix)] == prefix]:
                del self._entries[key]

    # -- cached reads --------------------------------------------------------

    def get_link(self, token: str) -> Link:
        """Return a link, from memory when fresh."""
        return self._cached(("link", token), lambda: self.store.get_link(token))

    def get_survey(self, slug: str) -> Survey:
        """Return a survey, from memory when fresh."""
        return self._cached(("survey", slug), lambda: self.store.get_survey(slug))

    def get_wave(self, survey_slug: str, wave_id: str) -> Wave:
        """Return a wave, from memory when fresh."""
        return self._cached(
            ("wave", survey_slug, wave_id), lambda: self.store.get_wave(survey_slug, wave_id)
        )

    def list_departments(self, survey_slug: str) -> list[Department]:
        """Return a survey's departments, from memory when fresh."""
        return list(
            self._cached(
                ("departments", survey_slug), lambda: self.store.list_departments(survey_slug)
            )
        )

    def get_frozen_departments(self, survey_slug: str, wave_id: str) -> list[Department] | None:
        """Return a wave's frozen departments, from memory when fresh (frozen ones never change)."""
        key = ("frozen", survey_slug, wave_id)
        found = self._cached(key, lambda: self.store.get_frozen_departments(survey_slug, wave_id))
        if found is None:
            self.forget(*key)  # not frozen yet: ask the store again next time
        return None if found is None else list(found)

    def freeze_departments(
        self, survey_slug: str, wave_id: str, departments: Sequence[Department]
    ) -> list[Department]:
        """Freeze a wave's departments (the first list stored wins)."""
        kept = self.store.freeze_departments(survey_slug, wave_id, departments)
        self.forget("frozen", survey_slug, wave_id)
        return kept

    # -- writes drop what they change ----------------------------------------

    def add_survey(self, survey: Survey) -> None:
        """Store a survey."""
        self.store.add_survey(survey)
        self.forget("survey", survey.slug)

    def put_departments(self, departments: Sequence[Department]) -> None:
        """Store departments."""
        self.store.put_departments(departments)
        for slug in {d.survey_slug for d in departments}:
            self.forget("departments", slug)

    def add_wave(self, wave: Wave) -> None:
        """Store a wave."""
        self.store.add_wave(wave)
        self.forget("wave", wave.survey_slug, wave.wave_id)

    def update_wave(self, wave: Wave, *, expected_status: WaveStatus) -> None:
        """Update a wave."""
        try:
            self.store.update_wave(wave, expected_status=expected_status)
        finally:
            self.forget("wave", wave.survey_slug, wave.wave_id)

    def put_links(self, links: Sequence[Link]) -> None:
        """Store links."""
        self.store.put_links(links)
        for link in links:
            self.forget("link", link.token)

    # -- everything else passes straight through -----------------------------

    def create_schema(self) -> None:
        """Create the schema."""
        self.store.create_schema()

    def check(self) -> None:
        """Check the store."""
        self.store.check()

    def check_write(self) -> None:
        """Check the store can write."""
        self.store.check_write()

    def list_surveys(self) -> list[Survey]:
        """List surveys."""
        return self.store.list_surveys()

    def list_waves(self, survey_slug: str) -> list[Wave]:
        """List waves."""
        return self.store.list_waves(survey_slug)

    def list_links(self, survey_slug: str, wave_id: str) -> list[Link]:
        """List a wave's links."""
        return self.store.list_links(survey_slug, wave_id)

    def add_access_codes(self, codes: Sequence[AccessCode]) -> None:
        """Store codes."""
        self.store.add_access_codes(codes)

    def get_access_code(self, code_hash: str) -> AccessCode:
        """Read a code (never cached: its use must be seen at once)."""
        return self.store.get_access_code(code_hash)

    def add_response(self, response: Response, *, code_hash: str | None = None) -> StoreOutcome:
        """Store a response."""
        return self.store.add_response(response, code_hash=code_hash)

    def add_user(self, user: User) -> None:
        """Store an account."""
        self.store.add_user(user)

    def put_user(self, user: User) -> None:
        """Replace an account."""
        self.store.put_user(user)

    def get_user(self, email: str) -> User:
        """Read an account (never cached: revoked access must end at once)."""
        return self.store.get_user(email)

    def list_users(self) -> list[User]:
        """List accounts."""
        return self.store.list_users()

    def add_audit_event(self, event: AuditEvent) -> None:
        """Append an audit event."""
        self.store.add_audit_event(event)

    def list_audit_events(self, *, cursor: str | None = None, limit: int = 50) -> Page[AuditEvent]:
        """List audit events."""
        return self.store.list_audit_events(cursor=cursor, limit=limit)

    def take_attempt(self, key: str, *, limit: int, window: int, now: int) -> bool:
        """Take a sign-in attempt (never cached: the count is shared by every instance)."""
        return self.store.take_attempt(key, limit=limit, window=window, now=now)

    def give_back_attempt(self, key: str, *, window: int, now: int) -> None:
        """Give a sign-in attempt back."""
        self.store.give_back_attempt(key, window=window, now=now)

    def count_attempts(self, key: str, *, window: int, now: int) -> int:
        """Count sign-in attempts."""
        return self.store.count_attempts(key, window=window, now=now)

    def add_api_token(self, token: ApiToken) -> None:
        """Store an API token."""
        self.store.add_api_token(token)

    def get_api_token(self, token_hash: str) -> ApiToken:
        """Read an API token (never cached: a revoked token must stop at once)."""
        return self.store.get_api_token(token_hash)

    def list_api_tokens(self, email: str) -> list[ApiToken]:
        """List an account's API tokens."""
        return self.store.list_api_tokens(email)

    def put_api_token(self, token: ApiToken) -> None:
        """Replace an API token."""
        self.store.put_api_token(token)

    def put_snapshot(self, snapshot: Snapshot, *, replaces: str | None = None) -> bool:
        """Store result aggregates (conditionally with ``replaces``)."""
        return self.store.put_snapshot(snapshot, replaces=replaces)

    def get_snapshot(self, survey_slug: str, wave_id: str) -> Snapshot | None:
        """Read result aggregates (not cached here; the results service decides freshness)."""
        return self.store.get_snapshot(survey_slug, wave_id)

    def get_snapshot_comments(
        self, survey_slug: str, wave_id: str, department: str
    ) -> DepartmentComments:
        """Read one department's comment texts (not cached, like the snapshot)."""
        return self.store.get_snapshot_comments(survey_slug, wave_id, department)

    def list_responses(
        self, survey_slug: str, wave_id: str, *, cursor: str | None = None, limit: int = 500
    ) -> Page[Response]:
        """List responses."""
        return self.store.list_responses(survey_slug, wave_id, cursor=cursor, limit=limit)

    def put_plan_action(self, action: PlanAction) -> None:
        """Store a plan action."""
        self.store.put_plan_action(action)

    def get_plan_action(self, survey_slug: str, department: str, action_id: str) -> PlanAction:
        """Read a plan action (never cached: HR edits it and expects to see the change)."""
        return self.store.get_plan_action(survey_slug, department, action_id)

    def list_plan_actions(
        self, survey_slug: str, department: str | None = None
    ) -> list[PlanAction]:
        """List plan actions (never cached)."""
        return self.store.list_plan_actions(survey_slug, department)

    def delete_plan_action(self, survey_slug: str, department: str, action_id: str) -> None:
        """Remove a plan action."""
        self.store.delete_plan_action(survey_slug, department, action_id)

    def get_scorecard_settings(self, survey_slug: str) -> ScorecardSettings:
        """Read scorecard settings (never cached)."""
        return self.store.get_scorecard_settings(survey_slug)

    def put_scorecard_settings(self, settings: ScorecardSettings) -> None:
        """Store scorecard settings."""
        self.store.put_scorecard_settings(settings)
