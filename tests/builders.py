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


def make_lever_line(**overrides: Any) -> Any:
    """Build a scorecard lever row (published, below target) for the renderers."""
    from portal.services.scorecard_model import LeverLine

    values: dict[str, Any] = {
        "lever_id": "purpose",
        "label": "Purpose",
        "outcome": False,
        "index": 58,
        "low": 51,
        "high": 65,
        "target": 70,
        "light": "amber",
        "light_word": "Below target",
        "gap_to_target": -12,
        "employees": 55,
        "managers": 71,
        "change": 4,
        "trend_word": "no clear change",
    }
    values.update(overrides)
    return LeverLine(**values)


def make_plan_line(**overrides: Any) -> Any:
    """Build a saved reinforcement-plan action for the renderers."""
    from portal.services.scorecard_model import PlanLine

    values: dict[str, Any] = {
        "action_id": "a1",
        "lever_id": "purpose",
        "lever_label": "Purpose",
        "title": "Localise the vision and its benefits",
        "description": "Managers retell why the CRM exists in their own team's terms.",
        "owner_role": "Head of Sales",
        "mandate_holder": "Sales director",
        "due": date(2027, 1, 15),
        "kpi": "Purpose index",
        "kpi_target": "≥ 70",
        "status": "planned",
        "saved": True,
        "reason": "",
        "from_wave": None,
        "movement": None,
    }
    values.update(overrides)
    return PlanLine(**values)


#: The default instrument's levers as (id, label, index, target, light) for page builders.
SCORECARD_LEVERS = (
    ("purpose", "Purpose", 58, 70, "amber"),
    ("involvement", "Involvement", 44, 70, "red"),
    ("managers", "Managers", 73, 70, "green"),
    ("skills", "Skills", 61, 70, "amber"),
    ("governance", "Governance", 39, 70, "red"),
    ("ownership", "Ownership", 66, 70, "amber"),
    ("adoption", "Adoption", 64, 65, "amber"),
)


def make_scorecard_page(**overrides: Any) -> Any:
    """Build a published English scorecard page for Sales with seven levers and two actions."""
    from portal.services.scorecard_model import TEXTS, ScorecardPage

    language = overrides.get("language", "en")
    texts = TEXTS[language]
    levers = tuple(
        make_lever_line(
            lever_id=lever_id,
            label=label,
            outcome=lever_id == "adoption",
            index=index,
            low=index - 6,
            high=index + 6,
            target=target,
            light=light,
            light_word=texts[light],
            gap_to_target=index - target,
            employees=index - 3,
            managers=index + 8,
            change=3,
            trend_word=texts["trend_no_clear_change"],
        )  # fmt: skip
        for lever_id, label, index, target, light in SCORECARD_LEVERS
    )
    values: dict[str, Any] = {
        "language": language,
        "texts": texts,
        "survey_slug": "crm-rollout",
        "survey_title": "CRM rollout",
        "system_name": "the new CRM",
        "wave_id": "follow-up",
        "wave_name": "Follow-up",
        "previous_wave_name": "Baseline",
        "department": "SALES",
        "unit_label": "Sales",
        "site": "Aarhus",
        "responses": 14,
        "headcount": 20,
        "response_rate": 70.0,
        "low_response": False,
        "min_group_size": 5,
        "attention": 50,
        "published": True,
        "levers": levers,
        "barrier_sentence": texts["barrier_sentence"].format(
            lever="Involvement", index=44, attention=50
        ),
        "plan": (
            make_plan_line(),
            make_plan_line(
                action_id=None,
                lever_id="involvement",
                lever_label="Involvement",
                title="Recruit and equip change agents",
                description="One key person per team explains the CRM and collects questions.",
                owner_role="Team lead",
                mandate_holder="Head of Sales",
                due=date(2027, 2, 1),
                kpi="Involvement index",
                kpi_target="Target ≥ 70",
                status=texts["suggested"],
                saved=False,
                reason=texts["reason_barrier"],
            ),  # fmt: skip
        ),
        "computed_on": TODAY,
        "more_actions": 0,
    }
    values.update(overrides)
    return ScorecardPage(**values)


def make_scorecard(*pages: Any, **overrides: Any) -> Any:
    """Build a scorecard of ``pages`` (one default page when none are given)."""
    from portal.services.scorecard_model import Scorecard

    values: dict[str, Any] = {
        "survey_title": "CRM rollout",
        "wave_name": "Follow-up",
        "language": "en",
        "pages": pages or (make_scorecard_page(),),
    }
    values.update(overrides)
    return Scorecard(**values)


def make_plan_action(**overrides: Any) -> Any:
    """Build a valid plan action (a ``PlanAction``)."""
    from portal.domain.scorecard import ActionStatus, PlanAction

    values: dict[str, Any] = {
        "survey_slug": "crm-rollout",
        "department": "SALES",
        "action_id": "0123456789abcdef",
        "wave_id": "baseline",
        "lever_id": "skills",
        "catalogue_id": "skills-restart-training",
        "title": "Restart training",
        "owner_role": "Local change lead",
        "mandate_holder": "Department manager",
        "due": date(2027, 1, 31),
        "kpi": "Share of staff trained",
        "kpi_target": "80 %",
        "status": ActionStatus.PLANNED,
        "updated_on": TODAY,
    }
    values.update(overrides)
    return PlanAction(**values)
