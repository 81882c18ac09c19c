"""Settings, read once from ``PORTAL_*`` environment variables into a typed object.

Order of precedence: built-in defaults, then the environment, then explicit
overrides (tests). Nothing else in the portal reads ``os.environ``.
"""

from __future__ import annotations

import math
import os
import secrets
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from portal.domain.entities import (
    DEFAULT_MIN_COMMENT_GROUP,
    DEFAULT_MIN_GROUP,
    Thresholds,
)
from portal.domain.errors import ConfigError, ValidationError

ENVIRONMENTS = ("production", "development", "testing")
STORAGE_BACKENDS = ("sqlite", "dynamodb")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"PORTAL_{name} must be true or false (1/0, yes/no), not {raw!r}.")


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"PORTAL_{name} must be a whole number, not {raw!r}.") from exc


@dataclass(frozen=True)
class Settings:
    """Everything the portal can be configured with. See docs/configuration.md."""

    env: str = "production"
    storage: str = "sqlite"
    database_path: str = str(PROJECT_ROOT / "instance" / "portal.sqlite3")
    dynamodb_table: str = "change-readiness-portal"
    dynamodb_endpoint_url: str | None = None
    dynamodb_create_table: bool = False
    aws_region: str = "eu-west-1"
    secret_key: str | None = field(default=None, repr=False)
    secret_key_ssm_parameter: str | None = None
    min_group_size: int = DEFAULT_MIN_GROUP
    min_comment_group_size: int = DEFAULT_MIN_COMMENT_GROUP
    max_content_length: int = 64 * 1024
    public_url: str | None = None
    assets_auto_build: bool = False
    trusted_proxies: int = 0
    #: Answers one client may send through one link at once, then one per interval
    #: (seconds), per process; a burst of 0 turns the limit off (portal.web.respond.limits).
    ballot_burst: int = 30
    ballot_interval: int = 20

    def __post_init__(self) -> None:
        if self.env not in ENVIRONMENTS:
            raise ConfigError(
                f"PORTAL_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}."
            )
        if self.storage not in STORAGE_BACKENDS:
            raise ConfigError(
                f"PORTAL_STORAGE must be one of {', '.join(STORAGE_BACKENDS)}, "
                f"not {self.storage!r}."
            )
        try:
            self.default_thresholds()
        except ValidationError as exc:
            raise ConfigError(
                f"PORTAL_MIN_GROUP_SIZE / PORTAL_MIN_COMMENT_GROUP_SIZE: {exc}"
            ) from exc
        if not 1024 <= self.max_content_length <= 16 * 1024 * 1024:
            raise ConfigError("PORTAL_MAX_CONTENT_LENGTH must be between 1024 and 16777216 bytes.")
        if not 0 <= self.trusted_proxies <= 5:
            raise ConfigError(
                "PORTAL_TRUSTED_PROXIES must be the number of reverse proxies in front of the "
                f"portal (0 to 5; 0 trusts no X-Forwarded-* header), not {self.trusted_proxies}."
            )
        if not (0 <= self.ballot_burst <= 100_000 and 1 <= self.ballot_interval <= 86_400):
            raise ConfigError(
                "PORTAL_BALLOT_BURST must be 0 (no limit) to 100000 and PORTAL_BALLOT_INTERVAL "
                "1 to 86400 seconds."
            )

    @property
    def is_production(self) -> bool:
        """Tell whether cookies must be Secure and a real secret key is required."""
        return self.env == "production"

    def default_thresholds(self) -> Thresholds:
        """Return the minimum group sizes new surveys start with."""
        return Thresholds(self.min_group_size, self.min_comment_group_size)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from ``PORTAL_*`` variables (and AWS's region variables)."""
        values: dict[str, Any] = {}
        kinds = {f.name: f.type for f in fields(cls)}
        for name, kind in kinds.items():
            raw = environ.get(f"PORTAL_{name.upper()}")
            if raw is None:
                continue
            if kind == "bool":
                values[name] = _bool(name.upper(), raw)
            elif kind == "int":
                values[name] = _int(name.upper(), raw)
            else:
                values[name] = raw or None if "None" in str(kind) else raw
        if "aws_region" not in values:
            region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
            if region:
                values["aws_region"] = region
        return cls(**values)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> Settings:
        """Return a copy with ``overrides`` applied (unknown names are refused)."""
        if not overrides:
            return self
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
        return replace(self, **overrides)


#: What a signing key needs: its length, how many different characters, and how many bits of
#: estimated strength (see ``check_secret_key``).
SECRET_KEY_MIN_LENGTH = 32
SECRET_KEY_MIN_DISTINCT = 10
SECRET_KEY_MIN_BITS = 80
SECRET_KEY_RULE = (
    f"at least {SECRET_KEY_MIN_LENGTH} characters, at least {SECRET_KEY_MIN_DISTINCT} of them "
    f"different, and about {SECRET_KEY_MIN_BITS} bits of estimated strength; make one with "
    "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
)
#: Name of the development key file, kept next to the SQLite database.
DEV_SECRET_KEY_FILE = "secret_key"


def check_secret_key(key: str, source: str) -> str:
    """Return ``key`` if it is strong enough to sign sessions, else raise ``ConfigError``.

    Rule: at least 32 characters, at least 10 distinct characters, and an
    estimated strength of at least 80 bits, where the estimate is the key's
    length times the Shannon entropy of its own character frequencies. This
    refuses keys like 32 identical characters, ``"ab" * 16`` or a word repeated,
    while every key made by ``secrets.token_urlsafe(24)`` or more, or by
    ``secrets.token_hex(16)`` or more, passes (even the least varied of them
    estimate above 90 bits). ``source`` names where the key came from, for the
    error message.
    """
    counts = Counter(key).values()
    bits = -sum(n * math.log2(n / len(key)) for n in counts) if key else 0.0
    if (
        len(key) < SECRET_KEY_MIN_LENGTH
        or len(counts) < SECRET_KEY_MIN_DISTINCT
        or bits < SECRET_KEY_MIN_BITS
    ):
        raise ConfigError(
            f"{source} is too weak to sign sessions: it must have {SECRET_KEY_RULE}. "
            f"This one has {len(key)} characters, {len(counts)} different, "
            f"about {bits:.0f} bits."
        )
    return key


def resolve_secret_key(settings: Settings) -> str:
    """Return the session-signing key: from the environment, else AWS SSM, else refuse.

    Rules: in production a key must be configured and pass ``check_secret_key``
    (a key from SSM always must). In development, when none is given, one
    generated key is kept in ``secret_key`` beside the SQLite database (mode
    0600, created atomically), so every worker and every restart signs with
    the same key and a form served by one worker is accepted by another.
    Testing makes a random key per process.
    """
    if settings.secret_key:
        if settings.is_production:
            check_secret_key(settings.secret_key, "PORTAL_SECRET_KEY")
        return settings.secret_key
    if settings.secret_key_ssm_parameter:
        return _secret_from_ssm(settings)
    if settings.is_production:
        raise ConfigError(
            "No secret key: set PORTAL_SECRET_KEY, or PORTAL_SECRET_KEY_SSM_PARAMETER to the "
            "name of a SecureString parameter in AWS SSM Parameter Store."
        )
    if settings.env == "development":
        return _shared_development_key(Path(settings.database_path).parent / DEV_SECRET_KEY_FILE)
    return secrets.token_urlsafe(48)


def _shared_development_key(path: Path) -> str:
    """Read the development key at ``path``, making it first if it is missing.

    The new key is written to a private temporary file and hard-linked into
    place: the link either appears complete or fails because another process
    won the race, in which case that process's key is read.
    """
    try:
        return _read_development_key(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".secret_key.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as file:  # mkstemp makes it 0600
                file.write(secrets.token_urlsafe(48) + "\n")
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
        return _read_development_key(path)
    except OSError as exc:
        raise ConfigError(
            f"Cannot keep the development secret key in {path}: {exc}. Make that folder "
            "writable, or set PORTAL_SECRET_KEY."
        ) from exc


def _read_development_key(path: Path) -> str:
    return check_secret_key(path.read_text(encoding="ascii").strip(), f"The key in {path}")


def _secret_from_ssm(settings: Settings) -> str:
    import boto3  # only deployments that use SSM need boto3
    from botocore.exceptions import BotoCoreError, ClientError

    name = settings.secret_key_ssm_parameter
    try:
        client = boto3.client("ssm", region_name=settings.aws_region)
        value = client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except (BotoCoreError, ClientError) as exc:
        raise ConfigError(
            f"Cannot read the secret key from SSM parameter {name!r}: {exc}. Check the "
            "parameter exists in this region and the Lambda role may ssm:GetParameter it."
        ) from exc
    return check_secret_key(str(value), f"The key in SSM parameter {name!r}")
