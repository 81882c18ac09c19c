"""HR accounts: passwords, sign-in with throttling, roles, and the audit trail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

from portal.domain.accounts import AuditEvent, Role, User, normalise_email
from portal.domain.errors import NotFound, PortalError, ValidationError
from portal.storage.port import Store

#: scrypt cost: 2**15 × 8 × 128 bytes = 32 MiB and ~0.1 s per check on one core.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSWORD_LENGTH = 12
#: Failed sign-ins allowed per window, per account and per client.
ACCOUNT_ATTEMPTS, CLIENT_ATTEMPTS, ATTEMPT_WINDOW = 5, 20, 15 * 60
COMMON_PASSWORDS = frozenset(
    {"password1234", "123456789012", "qwertyuiopas", "changeme1234", "welcome12345",
     "passwordpassword", "administrator", "letmein12345"}
)  # fmt: skip
# A fixed hash to check against when the account does not exist, so that
# timing does not reveal which e-mail addresses have accounts.
_DUMMY_HASH = ""


class SignInRefused(PortalError):
    """E-mail or password is wrong, or the account is inactive (deliberately not said which)."""


class TooManyAttempts(PortalError):
    """Too many failed sign-ins; ``minutes`` says when to try again."""

    def __init__(self, minutes: int) -> None:
        super().__init__(f"Too many failed sign-ins. Try again in {minutes} minutes.")
        self.minutes = minutes


def hash_password(password: str) -> str:
    """Return an scrypt hash: ``scrypt$N$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 * 1024 * 1024
    )
    encode = base64.b64encode
    return (
        f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"
    )


def verify_password(stored: str, password: str) -> bool:
    """Tell whether ``password`` matches ``stored``, in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 1024 * 1024,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def check_password_rules(password: str, email: str) -> None:
    """Refuse passwords shorter than 12 characters, common ones, or ones built from the e-mail."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > 256:
        problems.append("Use at most 256 characters.")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4:
        problems.append("This password is too easy to guess.")
    local = normalise_email(email).split("@")[0]
    if len(local) >= 4 and local in lowered:
        problems.append("Do not build the password from your e-mail address.")
    if problems:
        raise ValidationError(" ".join(problems), errors=problems)


def new_password() -> str:
    """Return a random password for a new account or a reset (shown once)."""
    return secrets.token_urlsafe(15)


def audit(store: Store, actor: str, action: str, target: str, detail: str = "") -> None:
    """Record an administrative action in the audit trail."""
    now = datetime.now(UTC).replace(microsecond=0)
    store.add_audit_event(AuditEvent(now, actor, action, target, detail[:1000]))


def create_user(
    store: Store,
    *,
    email: str,
    role: Role,
    password: str,
    actor: str,
    departments: Sequence[str] = (),
    must_change_password: bool = True,
    today: date | None = None,
) -> User:
    """Create an account and write it to the audit trail."""
    email = normalise_email(email)
    check_password_rules(password, email)
    user = User(
        email=email,
        role=role,
        password_hash=hash_password(password),
        departments=tuple(sorted(set(departments))),
        must_change_password=must_change_password,
        created_on=today or date.today(),
    )
    store.add_user(user)
    audit(store, actor, "user.create", email, f"role {role.value}")
    return user


def _client_key(secret: str, client: str) -> str:
    # The client's address is kept only as a keyed hash, and only for 15 minutes.
    return "client:" + hmac.new(secret.encode(), client.encode(), hashlib.sha256).hexdigest()[:32]


def _account_key(email: str) -> str:
    return "account:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def sign_in(store: Store, *, email: str, password: str, client: str, secret: str, now: int) -> User:
    """Return the account if the password is right and the account active.

    Rules: at most 5 failures per account and 20 per client in a fixed
    15-minute window; past that, every attempt is refused with
    ``TooManyAttempts`` before the password is even checked. Failures never
    say whether the e-mail exists.

    Every attempt takes a slot of the account's and of the client's allowance
    *before* the password is checked (one atomic conditional increment each),
    so parallel guesses cannot all be checked: at most 5 passwords of one
    account are ever checked at once or in a window. A successful sign-in gives
    its slots back, so only failures (and checks still running) count, and
    signing in many times a day never locks anyone out.
    """
    email = normalise_email(email)
    keys = [(_account_key(email), ACCOUNT_ATTEMPTS), (_client_key(secret, client), CLIENT_ATTEMPTS)]
    minutes = max(1, (ATTEMPT_WINDOW - now % ATTEMPT_WINDOW + 59) // 60)
    taken: list[str] = []
    for key, limit in keys:
        if not store.take_attempt(key, limit=limit, window=ATTEMPT_WINDOW, now=now):
            _give_back(store, taken, now)
            raise TooManyAttempts(minutes)
        taken.append(key)
    try:
        user: User | None = store.get_user(email)
    except NotFound:
        user = None
    stored = user.password_hash if user else _dummy_hash()
    if verify_password(stored, password) and user is not None and user.active:
        _give_back(store, taken, now)
        return user
    raise SignInRefused("The e-mail address or password is not right, or the account is closed.")


def _give_back(store: Store, keys: Sequence[str], now: int) -> None:
    for key in keys:
        store.give_back_attempt(key, window=ATTEMPT_WINDOW, now=now)


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if not _DUMMY_HASH:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def sign_out(store: Store, user: User) -> User:
    """End every session of the account, on every device, server-side.

    Sessions live in signed cookies, so clearing one browser's cookie would
    leave any copy of it working until it expires; moving the account's
    ``session_epoch`` on makes every cookie issued before unusable at once.
    Signing out therefore signs the account out everywhere (as a password
    change does), and needs no store of live sessions.
    """
    changed = replace(user, session_epoch=user.session_epoch + 1)
    store.put_user(changed)
    return changed


def change_password(store: Store, user: User, *, current: str, new: str) -> User:
    """Change an account's own password; every other session of the account ends."""
    if not verify_password(user.password_hash, current):
        raise ValidationError("Your current password is not right.")
    if current == new:
        raise ValidationError("Choose a password different from the current one.")
    check_password_rules(new, user.email)
    changed = replace(
        user,
        password_hash=hash_password(new),
        session_epoch=user.session_epoch + 1,
        must_change_password=False,
    )
    store.put_user(changed)
    audit(store, user.email, "user.password-change", user.email)
    return changed


def update_access(
    store: Store,
    email: str,
    *,
    actor: str,
    role: Role | None = None,
    departments: Sequence[str] | None = None,
    active: bool | None = None,
) -> User:
    """Change an account's role, departments or state; its sessions end at once."""
    user = store.get_user(normalise_email(email))
    if actor == user.email and (active is False or (role and role is not Role.ADMIN)):
        raise ValidationError("You cannot remove your own admin access; ask another admin.")
    changed = replace(
        user,
        role=role or user.role,
        departments=tuple(sorted(set(departments)))
        if departments is not None
        else user.departments,
        active=user.active if active is None else active,
        session_epoch=user.session_epoch + 1,
    )
    store.put_user(changed)
    state = "active" if changed.active else "revoked"
    detail = f"role {changed.role.value}, {state}"
    if changed.departments:
        detail += ", departments " + ", ".join(changed.departments)
    audit(store, actor, "user.access-change", changed.email, detail)
    return changed


def reset_password(store: Store, email: str, *, actor: str) -> tuple[User, str]:
    """Give an account a new random password to change at next sign-in; return it once.

    A reset is what an admin does when an account may be compromised, so it also
    ends the account's sessions and revokes all its API tokens.
    """
    user = store.get_user(normalise_email(email))
    password = new_password()
    changed = replace(
        user,
        password_hash=hash_password(password),
        session_epoch=user.session_epoch + 1,
        must_change_password=True,
    )
    store.put_user(changed)
    revoked = 0
    for token in store.list_api_tokens(user.email):
        if not token.revoked:
            store.put_api_token(replace(token, revoked=True))
            revoked += 1
    detail = f"{revoked} API token(s) revoked" if revoked else ""
    audit(store, actor, "user.password-reset", user.email, detail)
    return changed, password
