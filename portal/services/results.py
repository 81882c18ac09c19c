"""Result aggregates: computed from the raw responses, stored as snapshots, verified.

Design (see docs/architecture.md, "Results at scale"): a dashboard view never
scans raw responses. It reads the wave's current snapshot — one aggregate per
department — whose read cost depends on the number of departments only.

- A **closed** wave's snapshot is final once it was computed after the closing
  day (a late answer accepted by another process within its 30-second cache is
  still counted), so its views cost the same whatever the number of responses.
- An **open** wave's snapshot is recomputed when older than ``REFRESH_SECONDS``;
  every other view reads the snapshot as it is, so a view's cost is bounded.

Each department's cell also carries its free-text comments (``aggregates``,
schema 2), capped per audience at ``aggregates.COMMENT_BUDGET`` bytes so a cell
stays one DynamoDB item; whether they may be shown is decided by the readers
(``readiness.department_comments``), never here. A snapshot stored in an older
layout is recomputed on its next view, even for a closed wave.

A computation builds a complete new snapshot and the store switches to it only
at the end, so an interrupted computation changes nothing and a retry counts
every response exactly once. ``verify`` recomputes everything from the raw
responses and lists every difference.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from portal.domain import aggregates
from portal.domain.aggregates import Aggregate, Snapshot
from portal.domain.entities import Response, WaveStatus
from portal.instruments import get_questionnaire
from portal.storage.port import MAX_PAGE_SIZE, Store

REFRESH_SECONDS = 300


def compute_snapshot(store: Store, survey_slug: str, wave_id: str, *, now: datetime) -> Snapshot:
    """Aggregate every raw response of a wave, a page at a time, into a new snapshot."""
    survey = store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    version = wave.questionnaire_version or survey.questionnaire_version
    questionnaire = get_questionnaire(survey.questionnaire_id, version)
    cells: dict[str, Aggregate] = {}
    cursor: str | None = None
    while True:
        page = store.list_responses(survey_slug, wave_id, cursor=cursor, limit=MAX_PAGE_SIZE)
        by_department: dict[str, list[Response]] = defaultdict(list)
        for response in page.items:
            by_department[response.department_code].append(response)
        for code, responses in by_department.items():
            part = aggregates.aggregate_responses(questionnaire, responses)
            cells[code] = aggregates.merge(cells[code], part) if code in cells else part
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    snapshot_id = f"{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"
    # Capped once, on the finished cells: the cap depends only on a cell's comments,
    # so a recomputation (and ``verify``) keeps exactly the same texts.
    capped = {code: aggregates.cap_comments(cell) for code, cell in sorted(cells.items())}
    return Snapshot(survey_slug, wave_id, snapshot_id, now, capped)


def refresh_snapshot(store: Store, survey_slug: str, wave_id: str, *, now: datetime) -> Snapshot:
    """Compute a new snapshot and make it the wave's current one."""
    snapshot = compute_snapshot(store, survey_slug, wave_id, now=now)
    store.put_snapshot(snapshot)
    return snapshot


def current_snapshot(
    store: Store,
    survey_slug: str,
    wave_id: str,
    *,
    now: datetime | None = None,
    max_age: int = REFRESH_SECONDS,
) -> Snapshot:
    """Return the snapshot a view should use, recomputing it only when it is due.

    Rules: none yet, or stored in an older layout (``outdated``) → compute;
    closed wave and computed after its closing day → final, never recomputed;
    otherwise recomputed when older than ``max_age``.
    """
    now = now or datetime.now(UTC)
    snapshot = store.get_snapshot(survey_slug, wave_id)
    if snapshot is None or outdated(snapshot):
        return refresh_snapshot(store, survey_slug, wave_id, now=now)
    wave = store.get_wave(survey_slug, wave_id)
    final = (
        wave.status is WaveStatus.CLOSED
        and wave.closed_on is not None
        and snapshot.computed_at.date() > wave.closed_on
    )
    if final or now - snapshot.computed_at <= timedelta(seconds=max_age):
        return snapshot
    return refresh_snapshot(store, survey_slug, wave_id, now=now)


def outdated(snapshot: Snapshot) -> bool:
    """Tell whether any cell of ``snapshot`` is stored in an older aggregate layout."""
    return any(cell.schema != aggregates.SCHEMA_VERSION for cell in snapshot.cells.values())


def verify(store: Store, survey_slug: str, wave_id: str) -> list[str]:
    """Recompute the wave from its raw responses; list every difference from the stored snapshot.

    An empty list means the stored aggregates are exact. For an open wave,
    responses that arrived after the snapshot show up as differences.
    """
    stored = store.get_snapshot(survey_slug, wave_id)
    fresh = compute_snapshot(store, survey_slug, wave_id, now=datetime.now(UTC))
    if stored is None:
        return [f"No stored aggregates yet; the raw responses number {fresh.responses}."]
    if outdated(stored):
        return [
            "The stored aggregates are in an older layout (without comments); the next "
            "results view recomputes them, or run `portal results refresh`."
        ]
    problems = []
    for code in sorted(set(stored.cells) | set(fresh.cells)):
        mine, truth = stored.cells.get(code), fresh.cells.get(code)
        if mine is None or truth is None:
            where = "missing from the stored aggregates" if mine is None else "has no responses"
            problems.append(f"Department {code}: {where}.")
        elif aggregates.to_dict(mine) != aggregates.to_dict(truth):
            problems.append(
                f"Department {code}: stored aggregates cover {mine.responses} responses with "
                f"different sums; the raw responses give {truth.responses}."
            )
    return problems
