"""Turn entities into plain JSON-ready dicts and back, for every adapter alike."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from portal.domain import aggregates
from portal.domain.accounts import ApiToken, AuditEvent, Role, User
from portal.domain.aggregates import DepartmentComments, Snapshot
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
from portal.domain.errors import StorageError, ValidationError
from portal.domain.scorecard import ActionStatus, PlanAction, ScorecardSettings

T = TypeVar("T")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_day(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _int(value: Any) -> int:
    # DynamoDB hands numbers back as Decimal; they are whole numbers here.
    return int(value)


def thresholds_to_dict(t: Thresholds) -> dict[str, Any]:
    """Encode thresholds."""
    return {"min_group_size": t.min_group_size, "min_comment_group_size": t.min_comment_group_size}


def thresholds_from_dict(d: Mapping[str, Any]) -> Thresholds:
    """Decode thresholds."""
    return Thresholds(_int(d["min_group_size"]), _int(d["min_comment_group_size"]))


def survey_to_dict(s: Survey) -> dict[str, Any]:
    """Encode a survey."""
    return {
        "slug": s.slug,
        "title": s.title,
        "system_name": dict(s.system_name),
        "questionnaire_id": s.questionnaire_id,
        "questionnaire_version": s.questionnaire_version,
        "languages": list(s.languages),
        "default_language": s.default_language,
        "thresholds": thresholds_to_dict(s.thresholds),
        "created_on": _day(s.created_on),
    }


def survey_from_dict(d: Mapping[str, Any]) -> Survey:
    """Decode a survey."""
    return _decode(
        "survey",
        lambda: Survey(
            slug=d["slug"],
            title=d["title"],
            system_name=dict(d["system_name"]),
            questionnaire_id=d["questionnaire_id"],
            questionnaire_version=_int(d["questionnaire_version"]),
            languages=tuple(d["languages"]),
            default_language=d["default_language"],
            thresholds=thresholds_from_dict(d["thresholds"]),
            created_on=date.fromisoformat(d["created_on"]),
        ),
    )


def department_to_dict(x: Department) -> dict[str, Any]:
    """Encode a department."""
    return {
        "survey_slug": x.survey_slug,
        "code": x.code,
        "name": x.name,
        "site": x.site,
        "headcount": x.headcount,
        "parent": x.parent,
        "retired": x.retired,
    }


def department_from_dict(d: Mapping[str, Any]) -> Department:
    """Decode a department."""
    return _decode(
        "department",
        lambda: Department(
            survey_slug=d["survey_slug"],
            code=d["code"],
            name=d["name"],
            site=d["site"],
            headcount=_int(d["headcount"]),
            parent=d.get("parent"),
            retired=bool(d.get("retired", False)),
        ),
    )


def wave_to_dict(w: Wave) -> dict[str, Any]:
    """Encode a wave."""
    return {
        "survey_slug": w.survey_slug,
        "wave_id": w.wave_id,
        "name": w.name,
        "kind": w.kind.value,
        "status": w.status.value,
        "thresholds": thresholds_to_dict(w.thresholds) if w.thresholds else None,
        "questionnaire_version": w.questionnaire_version,
        "created_on": _day(w.created_on),
        "opened_on": _day(w.opened_on),
        "closed_on": _day(w.closed_on),
        "planned_close": _day(w.planned_close),
    }


def wave_from_dict(d: Mapping[str, Any]) -> Wave:
    """Decode a wave."""
    version = d.get("questionnaire_version")
    return _decode(
        "wave",
        lambda: Wave(
            survey_slug=d["survey_slug"],
            wave_id=d["wave_id"],
            name=d["name"],
            kind=WaveKind(d["kind"]),
            status=WaveStatus(d["status"]),
            thresholds=thresholds_from_dict(d["thresholds"]) if d.get("thresholds") else None,
            questionnaire_version=_int(version) if version is not None else None,
            created_on=date.fromisoformat(d["created_on"]),
            opened_on=_parse_day(d.get("opened_on")),
            closed_on=_parse_day(d.get("closed_on")),
            planned_close=_parse_day(d.get("planned_close")),
        ),
    )


def answers_from_dict(d: Mapping[str, Any]) -> dict[str, int | None]:
    """Decode stored answers (``None`` is "not applicable")."""
    return {item: (None if value is None else _int(value)) for item, value in d.items()}


def response_from_fields(
    survey_slug: str,
    wave_id: str,
    key: str,
    department: str,
    audience: str,
    language: str,
    day: str,
    answers: Mapping[str, Any],
    comment: str | None,
) -> Response:
    """Build a response from its stored columns."""
    return _decode(
        "response",
        lambda: Response(
            survey_slug=survey_slug,
            wave_id=wave_id,
            department_code=department,
            audience=Audience(audience),
            language=language,
            day=date.fromisoformat(day),
            answers=answers_from_dict(answers),
            key=key,
            comment=comment,
        ),
    )


def link_to_dict(x: Link) -> dict[str, Any]:
    """Encode a survey link."""
    return {
        "token": x.token,
        "survey_slug": x.survey_slug,
        "wave_id": x.wave_id,
        "department_code": x.department_code,
        "audience": x.audience.value if x.audience else None,
        "kiosk": x.kiosk,
        "revoked": x.revoked,
    }


def link_from_dict(d: Mapping[str, Any]) -> Link:
    """Decode a survey link."""
    return _decode(
        "link",
        lambda: Link(
            token=d["token"],
            survey_slug=d["survey_slug"],
            wave_id=d["wave_id"],
            department_code=d["department_code"],
            audience=Audience(d["audience"]) if d.get("audience") else None,
            kiosk=bool(d.get("kiosk", False)),
            revoked=bool(d.get("revoked", False)),
        ),
    )


def access_code_from_dict(d: Mapping[str, Any]) -> AccessCode:
    """Decode an access code."""
    return _decode(
        "access code",
        lambda: AccessCode(
            code_hash=d["code_hash"],
            survey_slug=d["survey_slug"],
            wave_id=d["wave_id"],
            department_code=d["department_code"],
            used=bool(d.get("used", False)),
        ),
    )


def user_to_dict(u: User) -> dict[str, Any]:
    """Encode an account."""
    return {
        "email": u.email,
        "role": u.role.value,
        "password_hash": u.password_hash,
        "departments": list(u.departments),
        "active": u.active,
        "session_epoch": u.session_epoch,
        "must_change_password": u.must_change_password,
        "created_on": _day(u.created_on),
    }


def user_from_dict(d: Mapping[str, Any]) -> User:
    """Decode an account."""
    return _decode(
        "account",
        lambda: User(
            email=d["email"],
            role=Role(d["role"]),
            password_hash=d["password_hash"],
            departments=tuple(d.get("departments") or ()),
            active=bool(d.get("active", True)),
            session_epoch=_int(d.get("session_epoch", 0)),
            must_change_password=bool(d.get("must_change_password", False)),
            created_on=date.fromisoformat(d["created_on"]),
        ),
    )


def api_token_to_dict(t: ApiToken) -> dict[str, Any]:
    """Encode an API token (its hash only; the secret is never stored)."""
    return {
        "token_hash": t.token_hash,
        "email": t.email,
        "name": t.name,
        "created_on": _day(t.created_on),
        "revoked": t.revoked,
    }


def api_token_from_dict(d: Mapping[str, Any]) -> ApiToken:
    """Decode an API token."""
    return _decode(
        "API token",
        lambda: ApiToken(
            token_hash=d["token_hash"],
            email=d["email"],
            name=d["name"],
            created_on=date.fromisoformat(d["created_on"]),
            revoked=bool(d.get("revoked", False)),
        ),
    )


def audit_to_dict(e: AuditEvent) -> dict[str, Any]:
    """Encode an audit event."""
    return {
        "at": e.at.isoformat(timespec="seconds"),
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "detail": e.detail,
    }


def audit_sort_key(e: AuditEvent) -> str:
    """Return a key that orders events by time, then by arrival within the same second.

    Admin actions are not anonymous, so their precise order may be kept.
    """
    return f"{e.at.isoformat(timespec='seconds')}#{time.time_ns():020d}#{secrets.token_hex(2)}"


def audit_from_dict(d: Mapping[str, Any]) -> AuditEvent:
    """Decode an audit event."""
    return _decode(
        "audit event",
        lambda: AuditEvent(
            at=datetime.fromisoformat(d["at"]),
            actor=d["actor"],
            action=d["action"],
            target=d["target"],
            detail=d.get("detail", ""),
        ),
    )


#: Snapshots decoded lately, by names, id, day and the digest of their cells' stored texts
#: (``snapshot_digest``), most recently read last.
_decoded: OrderedDict[tuple[str, str, str, str, str], Snapshot] = OrderedDict()
_decoded_lock = threading.Lock()
#: How many decoded snapshots this process keeps (a few waves' current states).
DECODED_SNAPSHOTS = 16


def snapshot_digest(rows: Iterable[tuple[str, str]]) -> str:
    """Return the SHA-256 of a snapshot's stored cells (department code, JSON text), any order.

    Written beside a snapshot's pointer (DynamoDB), so a reader that already
    decoded those very cells can tell without reading them again.
    """
    digest = hashlib.sha256()
    for code, text in sorted(rows):
        for part in (code, text):
            data = part.encode()
            digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def snapshot_from_rows(
    survey_slug: str,
    wave_id: str,
    snapshot_id: str,
    computed_at: str,
    rows: Iterable[tuple[str, str]],
) -> Snapshot:
    """Build a snapshot from its stored cells (department code, JSON text).

    Rule: the same stored content (names, id, day and the digest of every
    cell's text) gives back the same decoded object, kept for the last
    ``DECODED_SNAPSHOTS`` snapshots read: decoding and checking 60 cells is
    most of a view's cost, and ``services.view_cache`` keys on that object.
    Keyed by the content itself, so other stored figures — even under a
    reused id — are always decoded afresh.
    """
    cells = tuple(rows)
    stored = (survey_slug, wave_id, snapshot_id, computed_at, snapshot_digest(cells))
    known = decoded_snapshot(*stored)
    if known is not None:
        return known
    snapshot = _decode(
        "result snapshot",
        lambda: Snapshot(
            survey_slug=survey_slug,
            wave_id=wave_id,
            snapshot_id=snapshot_id,
            computed_at=datetime.fromisoformat(computed_at),
            cells={code: aggregates.from_dict(json.loads(data)) for code, data in cells},
        ),
    )
    with _decoded_lock:
        _decoded[stored] = snapshot
        while len(_decoded) > DECODED_SNAPSHOTS:
            _decoded.popitem(last=False)
    return snapshot


def decoded_snapshot(
    survey_slug: str, wave_id: str, snapshot_id: str, computed_at: str, digest: str
) -> Snapshot | None:
    """Return the snapshot decoded from cells of this ``snapshot_digest``, if still kept."""
    stored = (survey_slug, wave_id, snapshot_id, computed_at, digest)
    with _decoded_lock:
        if stored in _decoded:
            _decoded.move_to_end(stored)
            return _decoded[stored]
    return None


def forget_decoded_snapshots() -> None:
    """Forget the decoded snapshots kept by ``snapshot_from_rows`` (benchmarks, tests)."""
    with _decoded_lock:
        _decoded.clear()


def snapshot_cell_text(cell: aggregates.Aggregate) -> str:
    """Encode one department's numeric cell as compact JSON (no comment texts)."""
    return json.dumps(aggregates.to_dict(cell), separators=(",", ":"))


def snapshot_comments_text(comments: DepartmentComments) -> str:
    """Encode one department's comment texts as compact JSON, non-ASCII escaped.

    Escaping is what ``aggregates.comment_cost`` counts, so the stored size of
    a department's texts is bounded by ``aggregates.COMMENT_BUDGET`` per audience.
    """
    return json.dumps(aggregates.comments_to_dict(comments), separators=(",", ":"))


def snapshot_comments_from_text(snapshot_id: str | None, data: str | None) -> DepartmentComments:
    """Build a department's comment texts from their stored JSON (``None``: no texts)."""
    if snapshot_id is None or data is None:
        return DepartmentComments(snapshot_id)
    return _decode(
        "result comments",
        lambda: aggregates.comments_from_dict(snapshot_id, json.loads(data)),
    )


def plan_action_to_dict(a: PlanAction) -> dict[str, Any]:
    """Encode a reinforcement plan action."""
    return {
        "survey_slug": a.survey_slug,
        "department": a.department,
        "action_id": a.action_id,
        "wave_id": a.wave_id,
        "lever_id": a.lever_id,
        "catalogue_id": a.catalogue_id,
        "title": a.title,
        "owner_role": a.owner_role,
        "mandate_holder": a.mandate_holder,
        "due": _day(a.due),
        "kpi": a.kpi,
        "kpi_target": a.kpi_target,
        "status": a.status.value,
        "updated_on": _day(a.updated_on),
    }


def plan_action_from_dict(d: Mapping[str, Any]) -> PlanAction:
    """Decode a reinforcement plan action."""
    return _decode(
        "plan action",
        lambda: PlanAction(
            survey_slug=d["survey_slug"],
            department=d["department"],
            action_id=d["action_id"],
            wave_id=d["wave_id"],
            lever_id=d["lever_id"],
            catalogue_id=d.get("catalogue_id"),
            title=d["title"],
            owner_role=d["owner_role"],
            mandate_holder=d["mandate_holder"],
            due=_parse_day(d.get("due")),
            kpi=d.get("kpi", ""),
            kpi_target=d.get("kpi_target", ""),
            status=ActionStatus(d["status"]),
            updated_on=date.fromisoformat(d["updated_on"]),
        ),
    )


def scorecard_settings_to_dict(x: ScorecardSettings) -> dict[str, Any]:
    """Encode a survey's scorecard settings."""
    return {
        "survey_slug": x.survey_slug,
        "attention": x.attention,
        "default_target": x.default_target,
        "lever_targets": dict(x.lever_targets),
    }


def scorecard_settings_from_dict(d: Mapping[str, Any]) -> ScorecardSettings:
    """Decode a survey's scorecard settings."""
    return _decode(
        "scorecard settings",
        lambda: ScorecardSettings(
            survey_slug=d["survey_slug"],
            attention=_int(d["attention"]),
            default_target=_int(d["default_target"]),
            lever_targets={k: _int(v) for k, v in (d.get("lever_targets") or {}).items()},
        ),
    )


def _decode(what: str, build: Callable[[], T]) -> T:
    try:
        return build()
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise StorageError(
            f"A stored {what} record is damaged or from an unknown version: {exc}"
        ) from exc
