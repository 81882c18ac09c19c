"""Settings, read once from ``PORTAL_*`` environment variables into a typed object.

Order of precedence: built-in defaults, then the environment, then explicit
overrides (tests). Nothing else in the portal reads ``os.environ``.
"""

from __future__ import annotations

import secrets
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


def resolve_secret_key(settings: Settings) -> str:
    """Return the session-signing key: from the environment, else AWS SSM, else refuse.

    Outside production a random key is made per process when none is given;
    sessions then end when the process restarts, which is fine locally.
    """
    if settings.secret_key:
        if settings.is_production and len(settings.secret_key) < 32:
            raise ConfigError("PORTAL_SECRET_KEY must be at least 32 characters in production.")
        return settings.secret_key
    if settings.secret_key_ssm_parameter:
        return _secret_from_ssm(settings)
    if settings.is_production:
        raise ConfigError(
            "No secret key: set PORTAL_SECRET_KEY, or PORTAL_SECRET_KEY_SSM_PARAMETER to the "
            "name of a SecureString parameter in AWS SSM Parameter Store."
        )
    return secrets.token_urlsafe(48)


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
    if len(value) < 32:
        raise ConfigError(f"The SSM parameter {name!r} must hold at least 32 characters.")
    return str(value)
