"""The storage port: the one seam between the portal and its databases.

Every adapter implements ``Store`` and passes ``tests/storage``'s contract suite.
The port speaks domain objects only; nothing above it sees SQL or boto3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

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

T = TypeVar("T")

#: The largest page ``list_responses`` returns; callers loop over cursors for more.
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Page(Generic[T]):
    """A slice of a longer listing; ``next_cursor`` is ``None`` on the last page."""

    items: list[T]
    next_cursor: str | None = None


#: ``put_snapshot(replaces=NO_SNAPSHOT)``: store the wave's first snapshot only if it has none.
NO_SNAPSHOT = ""


class Store(Protocol):
    """What the portal needs from a database.

    Errors: ``NotFound`` and ``AlreadyExists`` for missing or clashing keys,
    ``Conflict`` when a conditional update loses a race, and ``StorageError``
    (``transient=True`` when a retry may succeed) for backend failures.
    """

    def create_schema(self) -> None:
        """Create or upgrade the tables; safe to run again."""

    def check(self) -> None:
        """Raise ``StorageError`` unless the store is reachable and its schema current."""

    def check_write(self) -> None:
        """Raise ``StorageError`` unless the store can write now; change nothing a reader sees.

        For health checks, run every 30 s or so: it costs one small write (SQLite:
        one page committed to the WAL; DynamoDB: one conditional put that stores
        nothing), so a full or read-only disk and lost write permission show.
        """

    def add_survey(self, survey: Survey) -> None:
        """Store a new survey; raise ``AlreadyExists`` if its slug is taken."""

    def get_survey(self, slug: str) -> Survey:
        """Return the survey with ``slug``; raise ``NotFound`` if there is none."""

    def list_surveys(self) -> list[Survey]:
        """Return every survey, ordered by slug."""

    def put_departments(self, departments: Sequence[Department]) -> None:
        """Create or replace departments (matched by survey and code)."""

    def list_departments(self, survey_slug: str) -> list[Department]:
        """Return the survey's departments, retired ones included, ordered by code."""

    def add_wave(self, wave: Wave) -> None:
        """Store a new wave; raise ``AlreadyExists`` if the survey has one with that id."""

    def update_wave(self, wave: Wave, *, expected_status: WaveStatus) -> None:
        """Replace a wave only if its stored status is still ``expected_status``.

        Raise ``NotFound`` if the wave does not exist and ``Conflict`` if its
        status changed meanwhile (e.g. another admin closed it).
        """

    def get_wave(self, survey_slug: str, wave_id: str) -> Wave:
        """Return one wave; raise ``NotFound`` if there is none."""

    def list_waves(self, survey_slug: str) -> list[Wave]:
        """Return the survey's waves, oldest first (by creation day, then id)."""

    def freeze_departments(
        self, survey_slug: str, wave_id: str, departments: Sequence[Department]
    ) -> list[Department]:
        """Keep ``departments`` as the wave's structure unless it has one; return the kept one.

        The first list stored for a wave wins and never changes afterwards,
        however many callers race (the others get the winner's list back);
        an empty list is a structure too. Ordered by code.
        """

    def get_frozen_departments(self, survey_slug: str, wave_id: str) -> list[Department] | None:
        """Return the departments frozen for a wave, by code, or ``None`` if none were."""

    def put_links(self, links: Sequence[Link]) -> None:
        """Create or replace survey links (matched by token)."""

    def get_link(self, token: str) -> Link:
        """Return the link with ``token``; raise ``NotFound`` if there is none."""

    def list_links(self, survey_slug: str, wave_id: str) -> list[Link]:
        """Return a wave's links ordered by department code, then token."""

    def add_access_codes(self, codes: Sequence[AccessCode]) -> None:
        """Store new single-use codes; raise ``AlreadyExists`` (storing none) on a clash."""

    def get_access_code(self, code_hash: str) -> AccessCode:
        """Return a code by its hash; raise ``NotFound`` if there is none."""

    def add_response(self, response: Response, *, code_hash: str | None = None) -> StoreOutcome:
        """Store a response unless one with its key exists in its wave.

        Costs one write and no read. Return ``ALREADY_STORED`` (and change
        nothing) when the key was stored before.

        With ``code_hash``, the response and the code's consumption are written
        in one transaction, so neither can exist without the other; nothing
        links the two afterwards. Raise ``CodeAlreadyUsed`` if another response
        used the code, ``NotFound`` if there is no such code.
        """

    def list_responses(
        self, survey_slug: str, wave_id: str, *, cursor: str | None = None, limit: int = 500
    ) -> Page[Response]:
        """Return up to ``limit`` of a wave's responses, ordered by their random key.

        Pass the returned ``next_cursor`` to get the next page. The order
        carries no information about when a response arrived.
        """

    # -- accounts, audit trail, sign-in throttling ---------------------------------

    def add_user(self, user: User) -> None:
        """Store a new account; raise ``AlreadyExists`` if its e-mail is taken."""

    def put_user(self, user: User) -> None:
        """Replace an existing account (role, password, departments, state)."""

    def get_user(self, email: str) -> User:
        """Return the account for a normalised e-mail; raise ``NotFound`` if none."""

    def list_users(self) -> list[User]:
        """Return every account, ordered by e-mail."""

    def add_audit_event(self, event: AuditEvent) -> None:
        """Append an event to the audit trail."""

    def list_audit_events(self, *, cursor: str | None = None, limit: int = 50) -> Page[AuditEvent]:
        """Return audit events, newest first, a page at a time."""

    def take_attempt(self, key: str, *, limit: int, window: int, now: int) -> bool:
        """Record one attempt for ``key`` if fewer than ``limit`` are recorded; say if it was.

        One atomic conditional increment ("add one if the count is below the
        limit, else refuse"), so however many requests arrive at once, across
        processes and Lambda instances, at most ``limit`` get through in a
        window. Windows are fixed (``now // window`` seconds) and expire on
        their own, without cleanup.
        """

    def give_back_attempt(self, key: str, *, window: int, now: int) -> None:
        """Remove one attempt taken with ``take_attempt`` at the same ``now``; never below 0."""

    def count_attempts(self, key: str, *, window: int, now: int) -> int:
        """Return the attempts recorded for ``key`` in the current ``window`` (seconds)."""

    # -- API tokens --------------------------------------------------------------------

    def add_api_token(self, token: ApiToken) -> None:
        """Store a new API token; raise ``AlreadyExists`` if its hash is taken."""

    def get_api_token(self, token_hash: str) -> ApiToken:
        """Return the token with ``token_hash``; raise ``NotFound`` if there is none."""

    def list_api_tokens(self, email: str) -> list[ApiToken]:
        """Return an account's tokens (revoked ones included), oldest first, then by hash."""

    def put_api_token(self, token: ApiToken) -> None:
        """Replace an existing token (e.g. revoked); raise ``NotFound`` if there is none."""

    # -- result aggregates -------------------------------------------------------------

    def put_snapshot(self, snapshot: Snapshot, *, replaces: str | None = None) -> bool:
        """Store a wave's aggregates and comment texts, then make them the current ones.

        The cells and each department's texts (``snapshot.comments``; ``None``
        stores none) are written first, apart from each other, and the wave's
        pointer switched last, so an interrupted write leaves the previous
        snapshot — cells and texts — in force; a retry writes a complete new
        one. The replaced snapshot's cells and texts are removed.

        With ``replaces``, the switch is conditional: it happens only if the
        wave's current snapshot is still the one with that id (``NO_SNAPSHOT``:
        only if the wave has none yet); otherwise nothing changes (what was
        written is removed) and ``False`` is returned. Release
        steps use it, so that two processes releasing at once never publish two
        states that were each checked only against a third.
        """

    def get_snapshot(self, survey_slug: str, wave_id: str) -> Snapshot | None:
        """Return the wave's current aggregates, or ``None`` before the first computation.

        Reads the numeric cells only (``comments`` is ``None``): what this costs
        does not depend on how much people wrote.
        """

    def get_snapshot_comments(
        self, survey_slug: str, wave_id: str, department: str
    ) -> DepartmentComments:
        """Return one department's comment texts in the wave's current snapshot.

        The result names the snapshot it was read from (``snapshot_id``, ``None``
        before the first computation) and has no texts when the department has
        none, or the wave no snapshot.
        """

    # -- reinforcement plans and scorecard settings -----------------------------------

    def put_plan_action(self, action: PlanAction) -> None:
        """Create or replace a plan action (matched by survey, department and action id)."""

    def get_plan_action(self, survey_slug: str, department: str, action_id: str) -> PlanAction:
        """Return one plan action; raise ``NotFound`` if there is none."""

    def list_plan_actions(
        self, survey_slug: str, department: str | None = None
    ) -> list[PlanAction]:
        """Return a survey's plan actions, or one department's (``ORGANISATION`` for "*").

        Ordered by ``portal.domain.scorecard.plan_order``: department, then due
        date (undated last), then title ignoring case, then id.
        """

    def delete_plan_action(self, survey_slug: str, department: str, action_id: str) -> None:
        """Remove a plan action; raise ``NotFound`` if there is none."""

    def get_scorecard_settings(self, survey_slug: str) -> ScorecardSettings:
        """Return the survey's scorecard settings, or the defaults when none are stored."""

    def put_scorecard_settings(self, settings: ScorecardSettings) -> None:
        """Create or replace a survey's scorecard settings."""
