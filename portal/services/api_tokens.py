"""Personal API tokens: create (shown once), revoke, and authenticate a request.

A token is 32 random bytes, URL-safe base64 (43 characters). Only its SHA-256
(hex) is stored, so a copy of the database gives nobody a usable token. A token
acts with its account's *current* role and departments: a revoked token, a
revoked (inactive) account or a deleted account is refused at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import date

from portal.domain.accounts import ApiToken, User, normalise_email
from portal.domain.errors import NotFound, PortalError, ValidationError
from portal.services.accounts import audit
from portal.storage.port import Store

#: Random bytes in a token; 256 bits cannot be guessed.
TOKEN_BYTES = 32
#: Tokens one account may hold (revoked ones included), to keep the listing small.
MAX_TOKENS_PER_ACCOUNT = 20


class TokenRefused(PortalError):
    """The bearer token is missing, malformed, unknown, revoked, or its account is closed.

    Deliberately not said which: the answer must not help guessing.
    """


def hash_token(secret: str) -> str:
    """Return the SHA-256 hex digest a token is stored and looked up by."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    store: Store, user: User, *, name: str, today: date | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``'s own use; return the record and the secret (shown once)."""
    name = " ".join(name.split())
    if len(store.list_api_tokens(user.email)) >= MAX_TOKENS_PER_ACCOUNT:
        raise ValidationError(
            f"An account may hold at most {MAX_TOKENS_PER_ACCOUNT} tokens; "
            "ask an admin to clean up old ones."
        )
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken(
        token_hash=hash_token(secret), email=user.email, name=name, created_on=today or date.today()
    )
    store.add_api_token(token)
    audit(store, user.email, "token.create", user.email, f"token {name!r} ({token.token_hash[:8]})")
    return token, secret


def revoke_token(store: Store, actor: User, token_hash: str) -> ApiToken:
    """Revoke a token: its owner may revoke it, and so may any admin.

    Raises ``NotFound`` for an unknown token and for someone else's token when
    ``actor`` is no admin (so that the hashes of others' tokens cannot be probed).
    """
    token = store.get_api_token(token_hash)
    if token.email != actor.email and not actor.may_manage():
        raise NotFound("There is no such API token.")
    if token.revoked:
        return token
    revoked = replace(token, revoked=True)
    store.put_api_token(revoked)
    audit(
        store, actor.email, "token.revoke", token.email, f"token {token.name!r} ({token_hash[:8]})"
    )
    return revoked


def list_tokens(store: Store, email: str) -> list[ApiToken]:
    """Return an account's tokens, newest first."""
    return sorted(
        store.list_api_tokens(normalise_email(email)),
        key=lambda t: (t.created_on, t.token_hash),
        reverse=True,
    )


def parse_bearer(header: str | None) -> str:
    """Return the token in an ``Authorization: Bearer <token>`` header; ``TokenRefused`` if none."""
    scheme, _, value = (header or "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 200 or " " in value:
        raise TokenRefused("Send an API token as 'Authorization: Bearer <token>'.")
    return value


def authenticate(store: Store, header: str | None) -> User:
    """Return the account a bearer token acts for, with its current role and departments.

    Refused (``TokenRefused``, one message for every reason) when the header is
    missing or malformed, the token unknown or revoked, or its account missing
    or inactive.
    """
    refused = TokenRefused("The API token is missing, not valid, or revoked.")
    secret = parse_bearer(header)
    try:
        token = store.get_api_token(hash_token(secret))
        user = store.get_user(token.email)
    except NotFound:
        raise refused from None
    if token.revoked or not user.active:
        raise refused
    return user
