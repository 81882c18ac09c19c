"""The JSON API: surveys, waves and their suppressed results, for an API token's account.

Every number comes from ``portal.services.readiness.wave_results`` — the same
decision the results pages show — and is published exactly as on the overview
page: a lever index as the same whole number (cut off, never rounded, so it is
on the same side of every threshold as the exact index), the response rate
with one decimal. A hidden group and an empty group both read ``"result":
null``. Department viewers are limited to their departments as on the pages.
Every answer carries ``Cache-Control: no-store``; errors are JSON
(``portal.web.errors``). Reading results is not audited (too frequent); the
exports are. The department endpoint adds what the department page shows
(intervals, employees versus managers, the change since the previous wave,
answers per statement) under the same rules; comments are not served here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from flask.typing import ResponseReturnValue

from portal.domain.certainty import GapFinding
from portal.domain.entities import Audience, Survey, Wave
from portal.domain.scoring import LeverScore, WaveChange
from portal.services import readiness
from portal.services.readiness import GroupResult, ItemResult, ResultRow, WaveResults
from portal.web import get_store
from portal.web.auth.guard import READERS, api_require, current_user, reader_scope

bp = Blueprint("api", __name__, url_prefix="/api/v1")

WAVE = "/surveys/<slug>/waves/<wave_id>"
OPENAPI = Path(__file__).with_name("openapi.json")


@bp.after_app_request
def no_store(response: Response) -> Response:
    """Keep every API answer (errors included) out of every cache."""
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


# -- shaping -----------------------------------------------------------------------------


def _query(name: str) -> str | None:
    """Return a query parameter, or None when absent.

    Rule, as the OpenAPI description says: a parameter given is given once and
    not empty (``?audience=`` is not "no filter"); otherwise the answer is 400.
    """
    values = request.args.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        abort(400, f"Give the {name} parameter at most once.")
    if not values[0]:
        abort(400, f"The {name} parameter must not be empty; leave it out for no filter.")
    return values[0]


def _audience() -> Audience | None:
    raw = _query("audience")
    try:
        return Audience(raw) if raw is not None else None
    except ValueError:
        abort(400, "The audience parameter must be 'employee' or 'manager'.")


def _survey(survey: Survey) -> dict[str, Any]:
    return {"slug": survey.slug, "title": survey.title}


def _wave(wave: Wave) -> dict[str, Any]:
    def day(value: object) -> str | None:
        return None if value is None else str(value)

    return {
        "wave_id": wave.wave_id,
        "name": wave.name,
        "kind": wave.kind.value,
        "status": wave.status.value,
        "opened_on": day(wave.opened_on),
        "closed_on": day(wave.closed_on),
    }


def _row(results: WaveResults, row: ResultRow) -> dict[str, Any]:
    """Return one row; ``result`` is ``None`` for a hidden group exactly as for an empty one."""
    result = row.result
    shaped: dict[str, Any] | None = None
    if result is not None:
        indices: dict[str, int | None] = {}
        for lever in results.levers:
            score = result.scores.get(lever.id)
            index = None if score is None else score.index
            indices[lever.id] = None if index is None else readiness.whole_index(index)
        rate = result.response_rate
        shaped = {
            "responses": result.responses,
            "response_rate_percent": None if rate is None else round(rate, 1),
            "more_responses_than_headcount": result.over_headcount,
            "indices": indices,
            "favourable_percent": {
                lever_id: _whole(share)
                for lever_id, share in readiness.favourable_percents(results, result).items()
            },
            "barrier": result.barrier.lever_id if result.barrier else None,
            **_barrier_certainty(results, result),
        }
    return {
        "kind": row.kind.value,
        "key": row.key,
        "label": row.label,
        "site": row.site,
        "result": shaped,
    }


def _barrier_certainty(results: WaveResults, result: GroupResult) -> dict[str, Any]:
    """Return ``barrier_sure`` and ``barrier_close_to``, both null without a barrier."""
    sure = readiness.barrier_certainty(results, result)
    return {
        "barrier_sure": None if sure is None else sure.clear,
        "barrier_close_to": None if sure is None else sure.close_to,
    }


def _index(score: LeverScore | None) -> int | None:
    return None if score is None or score.index is None else readiness.whole_index(score.index)


def _tenth(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


def _gap_finding(found: GapFinding | None) -> dict[str, Any]:
    """Return the gap's 95 % interval (one decimal) and whether it is a finding (null without)."""
    return {
        "gap_interval_95": None
        if found is None
        else [round(found.ci_low, 1), round(found.ci_high, 1)],
        "managers_clearly_higher": None if found is None else found.flagged,
    }


def _change(change: WaveChange) -> dict[str, Any]:
    """Return a lever's change as the department page prints it, its test's figures added.

    ``interval_95`` (of the change) and ``detectable`` in index points to one
    decimal, ``hedges_g`` to two, ``p`` and ``q`` (Benjamini–Hochberg over the
    report) to four; all ``null`` where there is no test.
    """
    comparison, effect = change.comparison, change.effect
    return {
        "id": change.lever_id,
        "change": _tenth(change.change),
        "interval_95": None
        if comparison is None
        else [round(comparison.ci_low, 1), round(comparison.ci_high, 1)],
        "hedges_g": None if effect is None else round(effect.g, 2),
        "p": None if comparison is None else round(comparison.p, 4),
        "q": None if change.q is None else round(change.q, 4),
        "detectable": None if comparison is None else round(comparison.detectable, 1),
        "outcome": change.outcome.value,
    }


def _details(results: WaveResults, result: GroupResult, items: tuple[ItemResult, ...]) -> Any:
    """Return what a department page shows for a published group, rounded as printed there.

    Index: cut off to a whole number; interval ends, per cents and favourable
    shares: rounded to whole numbers; gaps and changes: rounded to one
    decimal. Whatever the page leaves out is ``null`` (a withheld lever, a
    statement answered by a hidden audience) or absent as a whole (``audiences``
    unless both employees and managers are published, ``change`` unless the
    department is published in the previous wave too).
    """
    levers = []
    favourable = readiness.favourable_percents(results, result)
    for lever in results.levers:
        score = result.scores.get(lever.id)
        interval = None
        if score is not None and score.ci_low is not None and score.ci_high is not None:
            interval = [round(score.ci_low), round(score.ci_high)]
        levers.append(
            {
                "id": lever.id,
                "index": _index(score),
                "n": None if score is None else score.n,
                "interval_95": interval,
                "favourable_percent": _whole(favourable[lever.id]),
            }
        )
    audiences = None
    if result.gaps is not None:
        findings = readiness.gap_findings(result)
        audiences = [
            {
                "id": lever.id,
                "employees": _index(result.gaps[lever.id].employee),
                "managers": _index(result.gaps[lever.id].manager),
                "gap": _tenth(result.gaps[lever.id].gap),
                **_gap_finding(findings.get(lever.id)),
            }
            for lever in results.levers
        ]
    change = None
    if result.changes is not None and results.previous_wave is not None:
        change = {
            "previous_wave": results.previous_wave.wave_id,
            "levers": [_change(result.changes[lever.id]) for lever in results.levers],
        }
    system = results.survey.system_in("en")
    statements = []
    for it in items:
        dist = it.distribution
        percents = None if dist is None else dist.percents
        statements.append(
            {
                "id": it.item.id,
                "lever": it.item.lever,
                "text": it.item.render("en", system),
                "reverse": it.item.reverse,
                "percents": None if percents is None else [round(p) for p in percents],
                "favourable": None if dist is None else _whole(dist.favourable),
                "dont_know": None if dist is None else dist.dont_know,
            }
        )
    return {"levers": levers, "audiences": audiences, "change": change, "statements": statements}


def _results(results: WaveResults, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "survey": _survey(results.survey),
        "wave": _wave(results.wave),
        "min_group_size": results.min_group_size,
        "attention": results.attention,
        "site": results.site,
        "audience": results.audience.value if results.audience else None,
        "refused": results.refused,
        "message": readiness.NOT_ENOUGH if results.refused else None,
        "levers": [
            {"id": lever.id, "name": lever.name.get("en", lever.id), "outcome": lever.outcome}
            for lever in results.levers
        ],
        "rows": rows,
    }


# -- views -------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """Return the OpenAPI 3.1 description of this API (public: it holds no data)."""
    return jsonify(json.loads(OPENAPI.read_text(encoding="utf-8")))


@bp.get("/surveys")
@api_require(*READERS)
def surveys() -> ResponseReturnValue:
    """List the surveys the token's account may read, by slug."""
    user = current_user()
    assert user is not None
    readable = [s for s in get_store().list_surveys() if user.may_read(s.slug)]
    return jsonify(surveys=[_survey(s) for s in readable])


@bp.get("/surveys/<slug>/waves")
@api_require(*READERS)
def waves(slug: str) -> ResponseReturnValue:
    """List a survey's waves, oldest first."""
    reader_scope(slug)
    store = get_store()
    survey = store.get_survey(slug)
    return jsonify(survey=_survey(survey), waves=[_wave(w) for w in store.list_waves(slug)])


@bp.get(WAVE + "/results")
@api_require(*READERS)
def results(slug: str, wave_id: str) -> ResponseReturnValue:
    """Return the overview rows (organisation, sites, departments), small groups hidden."""
    _, allowed = reader_scope(slug)
    site = _query("site")
    report = readiness.wave_results(
        get_store(), slug, wave_id, allowed=allowed, site=site, audience=_audience()
    )
    return jsonify(_results(report, [_row(report, r) for r in report.rows]))


@bp.get(WAVE + "/results/departments/<code>")
@api_require(*READERS)
def department(slug: str, wave_id: str, code: str) -> ResponseReturnValue:
    """Return one department's row and what its page shows; ``result`` null when hidden or empty."""
    _, allowed = reader_scope(slug)
    report, row = readiness.department_results(get_store(), slug, wave_id, code, allowed=allowed)
    body = _results(report, [_row(report, row)])
    shaped = body["rows"][0]
    if shaped["result"] is not None and row.result is not None:
        items = readiness.item_distributions(report, row)
        shaped["result"].update(_details(report, row.result, items))
    return jsonify(body)
