"""The domain's error hierarchy; the web layer alone turns these into HTTP."""

from __future__ import annotations


class PortalError(Exception):
    """Base class of every error the portal raises on purpose."""


class ValidationError(PortalError):
    """Input that breaks a domain rule; the message says what to fix."""

    def __init__(self, message: str, *, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [message]


class NotFound(PortalError):
    """A survey, wave, department or other record does not exist."""


class NotAllowed(PortalError):
    """The reader may not see this record (e.g. another department's results)."""


class AlreadyExists(PortalError):
    """A record with the same key exists already."""


class Conflict(PortalError):
    """The record changed state underneath the caller (e.g. a wave was closed)."""


class StorageError(PortalError):
    """The storage backend failed; ``transient`` says whether a retry may succeed."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class ConfigError(PortalError):
    """The deployment is misconfigured; the message names the setting to change."""


class CodeAlreadyUsed(PortalError):
    """A single-use access code was used for an earlier response."""


class Unavailable(PortalError):
    """A survey link or code cannot be used now; ``reason`` says why.

    Reasons: ``draft`` (the wave has not opened), ``closed`` (it has ended),
    ``revoked`` (HR withdrew the link).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
