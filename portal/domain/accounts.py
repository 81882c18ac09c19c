"""HR accounts, their roles, and the audit trail of what they did."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from portal.domain.errors import ValidationError

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
DEPARTMENT_REF_RE = re.compile(r"^[a-z0-9-]{1,40}/[A-Za-z0-9_.-]{1,32}$")
ACTION_RE = re.compile(r"^[a-z]+(\.[a-z-]+)+$")


class Role(StrEnum):
    """What an account may do.

    - ``admin``: manages surveys, waves, departments and accounts, and reads everything;
    - ``viewer``: reads results and scorecards for the whole organisation;
    - ``department-viewer``: reads results only for the departments assigned to it.
    """

    ADMIN = "admin"
    VIEWER = "viewer"
    DEPARTMENT_VIEWER = "department-viewer"


def normalise_email(email: str) -> str:
    """Return an e-mail address trimmed and lower-cased, the form accounts are keyed by."""
    return email.strip().lower()


@dataclass(frozen=True)
class User:
    """An HR account. ``departments`` holds ``survey-slug/CODE`` refs for department viewers.

    ``session_epoch`` is copied into each sign-in; raising it (password change,
    revoked access) signs out every session of the account at once.
    """

    email: str
    role: Role
    password_hash: str = field(repr=False)
    departments: tuple[str, ...] = ()
    active: bool = True
    session_epoch: int = 0
    must_change_password: bool = False
    created_on: date = field(default_factory=date.today)

    def __post_init__(self) -> None:
        if not isinstance(self.email, str) or self.email != normalise_email(self.email):
            raise ValidationError("Account e-mail addresses are stored trimmed and in lower case.")
        if len(self.email) > 254 or not EMAIL_RE.match(self.email):
            raise ValidationError(f"{self.email!r} is not an e-mail address.")
        if not isinstance(self.role, Role):
            raise ValidationError("An account's role must be admin, viewer or department-viewer.")
        for ref in self.departments:
            if not DEPARTMENT_REF_RE.match(ref):
                raise ValidationError(
                    f"Department {ref!r} must be written survey-slug/CODE, e.g. crm-rollout/SALES."
                )
        if self.role is Role.DEPARTMENT_VIEWER and not self.departments:
            raise ValidationError("A department viewer needs at least one department.")
        if self.role is not Role.DEPARTMENT_VIEWER and self.departments:
            raise ValidationError("Only department viewers are limited to departments.")

    def may_manage(self) -> bool:
        """Tell whether the account may change surveys, waves and accounts."""
        return self.active and self.role is Role.ADMIN

    def may_read(self, survey_slug: str, department_code: str | None = None) -> bool:
        """Tell whether the account may read results of a survey (or one department)."""
        if not self.active:
            return False
        if self.role in (Role.ADMIN, Role.VIEWER):
            return True
        if department_code is None:
            return any(ref.split("/", 1)[0] == survey_slug for ref in self.departments)
        return f"{survey_slug}/{department_code}" in self.departments


@dataclass(frozen=True)
class AuditEvent:
    """One administrative action: who did what to which record, and when (to the second)."""

    at: datetime
    actor: str
    action: str
    target: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValidationError("Audit times are kept in UTC with a time zone.")
        if not ACTION_RE.match(self.action):
            raise ValidationError(f"Audit action {self.action!r} must look like 'wave.open'.")
        if not self.actor or len(self.actor) > 254 or len(self.target) > 200:
            raise ValidationError("An audit event needs an actor and a short target.")
        if len(self.detail) > 1000:
            raise ValidationError("Audit details are at most 1,000 characters.")


TOKEN_HASH_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ApiToken:
    """A personal API token of an account; only the SHA-256 (hex) of the secret is kept.

    The token acts with its account's *current* role and departments, so a
    changed or revoked account changes what its tokens may do at once.
    """

    token_hash: str
    email: str
    name: str
    created_on: date = field(default_factory=date.today)
    revoked: bool = False

    def __post_init__(self) -> None:
        if not TOKEN_HASH_RE.match(self.token_hash):
            raise ValidationError("An API token is stored as a SHA-256 hex digest.")
        if self.email != normalise_email(self.email) or not EMAIL_RE.match(self.email):
            raise ValidationError(f"{self.email!r} is not a normalised e-mail address.")
        if not self.name.strip() or len(self.name) > 80:
            raise ValidationError("Give the token a name of 1 to 80 characters.")
