"""Test builders: plain functions with sensible defaults, overridable per test."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from portal.domain.accounts import Role, User
from portal.domain.entities import (
    AccessCode,
    Audience,
    Department,
    Link,
    Response,
    Survey,
    Thresholds,
    Wave,
    WaveKind,
    WaveStatus,
)

TODAY = date(2026, 11, 23)


def make_survey(**overrides: Any) -> Survey:
    """Build a valid survey."""
    values: dict[str, Any] = {
        "slug": "crm-rollout",
        "title": "CRM rollout",
        "system_name": {"en": "the new CRM", "da": "det nye CRM"},
        "questionnaire_id": "change-readiness",
        "questionnaire_version": 1,
        "languages": ("en", "da"),
        "default_language": "en",
        "thresholds": Thresholds(),
        "created_on": TODAY,
    }
    values.update(overrides)
    return Survey(**values)


def make_department(**overrides: Any) -> Department:
    """Build a valid department."""
    values: dict[str, Any] = {
        "survey_slug": "crm-rollout",
        "code": "SALES",
        "name": "Sales",
        "site": "Aarhus",
        "headcount": 20,
    }
    values.update(overrides)
    return Department(**values)


def make_wave(**overrides: Any) -> Wave:
    """Build a valid draft wave (or an open/closed one when ``status`` says so)."""
    values: dict[str, Any] = {
        "survey_slug": "crm-rollout",
        "wave_id": "baseline",
        "name": "Baseline",
        "kind": WaveKind.BASELINE,
        "created_on": TODAY,
    }
    values.update(overrides)
    status = values.get("status", WaveStatus.DRAFT)
    if status is not WaveStatus.DRAFT:
        values.setdefault("thresholds", Thresholds())
        values.setdefault("questionnaire_version", 1)
        values.setdefault("opened_on", TODAY)
    if status is WaveStatus.CLOSED:
        values.setdefault("closed_on", TODAY)
    return Wave(**values)


def make_response(**overrides: Any) -> Response:
    """Build a valid response with a fresh random key."""
    values: dict[str, Any] = {
        "survey_slug": "crm-rollout",
        "wave_id": "baseline",
        "department_code": "SALES",
        "audience": Audience.EMPLOYEE,
        "language": "en",
        "day": TODAY,
        "answers": {"purpose-why": 4, "skills-basics": None},
        "key": secrets.token_urlsafe(16),
        "comment": None,
    }
    values.update(overrides)
    return Response(**values)


def make_link(**overrides: Any) -> Link:
    """Build a valid open link with a fresh random token."""
    values: dict[str, Any] = {
        "token": secrets.token_urlsafe(12),
        "survey_slug": "crm-rollout",
        "wave_id": "baseline",
        "department_code": "SALES",
    }
    values.update(overrides)
    return Link(**values)


def make_access_code(**overrides: Any) -> AccessCode:
    """Build an unused access code with a fresh random hash."""
    values: dict[str, Any] = {
        "code_hash": secrets.token_hex(32),
        "survey_slug": "crm-rollout",
        "wave_id": "baseline",
        "department_code": "SALES",
    }
    values.update(overrides)
    return AccessCode(**values)


def make_user(**overrides: Any) -> User:
    """Build an active admin account (the hash is a placeholder, not a real password)."""
    values: dict[str, Any] = {
        "email": "hr@example.com",
        "role": Role.ADMIN,
        "password_hash": "scrypt$test",
        "created_on": TODAY,
    }
    values.update(overrides)
    return User(**values)
