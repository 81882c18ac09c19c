"""The reinforcement scorecard: one page per department and one for the organisation.

It adds nothing to the anonymity rules: every number comes from
``readiness.wave_results`` — the same published decision as the dashboard,
cut down to the reader's departments — and a hidden group reads as "not
enough responses". On top of those numbers it applies the survey's
scorecard settings (targets, the "needs attention" line), recommends actions
from the questionnaire's catalogue (``portal.domain.scorecard.recommend``)
and lists the reinforcement plan HR saved for the unit.

Plans carry over: an action planned in an earlier wave appears on later
waves' scorecards (unless it was dropped) with how its lever moved since
the previous wave, so the follow-up meeting starts from what was promised.
A catalogue action the unit has done in an earlier wave is not suggested
again while the catalogue has another for its lever (``recommend``, rule 3);
an open action whose due date has passed is marked overdue.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from portal.domain import aggregates
from portal.domain.certainty import UnderLine, under_line
from portal.domain.errors import NotFound
from portal.domain.scorecard import (
    ORGANISATION,
    ActionText,
    Catalogue,
    CatalogueAction,
    Light,
    PlanAction,
    Recommendation,
    ScorecardSettings,
    done_catalogue_actions,
    dropped_catalogue_actions,
    planned_catalogue_actions,
    recommend,
    wave_plan,
)
from portal.domain.scoring import LeverScore, Trend, WaveChange
from portal.instruments import get_action_catalogue
from portal.services import key_drivers, readiness
from portal.services.accounts import audit
from portal.services.readiness import GroupResult, ResultRow, RowKind, WaveResults
from portal.services.scorecard_model import (
    TEXTS,
    LeverLine,
    PlanLine,
    Scorecard,
    ScorecardPage,
)
from portal.services.structure import wave_departments
from portal.storage.port import Store

#: Languages the scorecard can be printed in (the catalogue and ``TEXTS`` carry both).
LANGUAGES = ("en", "da")
#: A response rate below this (per cent) is flagged on the page.
LOW_RESPONSE_RATE = 60.0
#: The most plan lines one printed page holds; the rest are counted, not dropped.
MAX_PLAN_LINES = 5


def language_of(requested: str | None) -> str:
    """Return a supported scorecard language, English unless Danish is asked for."""
    return requested if requested in LANGUAGES else "en"


def unit_key(row: ResultRow) -> str:
    """Return the plan key of a results row: the department code, or ``ORGANISATION``."""
    return ORGANISATION if row.kind is RowKind.ORGANISATION else row.key


@dataclass(frozen=True)
class _Context:
    """What every page of one scorecard shares."""

    results: WaveResults
    settings: ScorecardSettings
    catalogue: Catalogue
    plans: Mapping[str, Sequence[PlanAction]]
    wave_order: Mapping[str, int]
    wave_names: Mapping[str, str]
    headcounts: Mapping[str, int]
    language: str
    #: The results of earlier waves (other than the previous one) that carried actions
    #: were planned in, as this reader may see them.
    origins: Mapping[str, WaveResults]
    #: The key drivers of the outcome that rank the suggestions (``recommend``'s
    #: ``drivers``): empty unless this reader sees the organisation and its key-driver
    #: analysis is usable (shown, stable, both methods naming the same top lever).
    drivers: frozenset[str] = frozenset()

    @property
    def texts(self) -> Mapping[str, str]:
        return TEXTS[self.language]

    def text(self, action: CatalogueAction) -> ActionText:
        """Return a catalogue action's texts in the page's language, the system named."""
        return self.catalogue.text(
            action, self.language, self.results.survey.system_in(self.language)
        )


def catalogued(catalogue: Catalogue, catalogue_id: str | None) -> CatalogueAction | None:
    """Return the catalogue action with ``catalogue_id``, or ``None`` (also for ``None``)."""
    return next((a for a in catalogue.actions if a.id == catalogue_id), None)


def _lever_label(ctx: _Context, lever_id: str) -> str:
    for lever in ctx.results.levers:
        if lever.id == lever_id:
            return lever.name.get(ctx.language) or next(iter(lever.name.values()))
    return lever_id


def _index(value: float | None) -> int | None:
    return None if value is None else readiness.whole_index(value)


def _trend_word(ctx: _Context, trend: Trend) -> str:
    return ctx.texts["trend_" + trend.name.lower()]


def _lever_lines(ctx: _Context, result: GroupResult | None) -> tuple[LeverLine, ...]:
    lines = []
    for lever in ctx.results.levers:
        score = result.scores.get(lever.id) if result is not None else None
        exact = score.index if score is not None else None
        shown = _index(exact)
        target = ctx.settings.target(lever.id)
        light = ctx.settings.light(exact, lever.id)
        light_word = ctx.texts[light.value]
        if light is Light.RED and _unsure(ctx, score):
            # Red only when the whole interval is under the line (``certainty.under_line``).
            light, light_word = Light.AMBER, ctx.texts["red_unsure"]
        gap = result.gaps.get(lever.id) if result is not None and result.gaps else None
        change = result.changes.get(lever.id) if result is not None and result.changes else None
        moved = None if change is None or change.change is None else round(change.change)
        lines.append(
            LeverLine(
                lever_id=lever.id,
                label=_lever_label(ctx, lever.id),
                outcome=lever.outcome,
                index=shown,
                low=_index(score.ci_low) if score is not None and shown is not None else None,
                high=_index(score.ci_high) if score is not None and shown is not None else None,
                target=target,
                light=light.value,
                light_word=light_word,
                gap_to_target=None if shown is None else shown - target,
                employees=_index(gap.employee.index) if gap and gap.employee else None,
                managers=_index(gap.manager.index) if gap and gap.manager else None,
                change=moved,
                trend_word=_trend_word(ctx, change.outcome) if change is not None else None,
            )
        )
    return tuple(lines)


def _unsure(ctx: _Context, score: LeverScore | None) -> bool:
    """Tell whether a lever under the line may not be under it (its interval reaches it)."""
    return under_line(score, ctx.results.attention) is UnderLine.PERHAPS


def _barrier_sentence(ctx: _Context, result: GroupResult | None) -> tuple[str | None, str]:
    """Return the barrier lever's id and the sentence naming it (against the survey's line).

    The barrier is the results' own (``GroupResult.barrier``, found against
    ``readiness.attention_line``), so the scorecard and every results output agree.
    """
    attention = ctx.results.attention
    if result is None:
        return None, ""
    barrier = result.barrier
    if barrier is None or barrier.index is None:
        return None, ctx.texts["no_barrier"].format(attention=attention)
    sentence = ctx.texts["barrier_sentence"].format(
        lever=_lever_label(ctx, barrier.lever_id),
        index=readiness.whole_index(barrier.index),
        attention=attention,
    )
    sure = readiness.barrier_certainty(ctx.results, result)
    if sure is not None and sure.close_to is not None:
        other = _lever_label(ctx, sure.close_to)
        sentence += " " + ctx.texts["barrier_close_to"].format(other=other, attention=attention)
    elif sure is not None and sure.reaches_line:
        sentence += " " + ctx.texts["barrier_reaches_line"].format(attention=attention)
    return barrier.lever_id, sentence


def _change_since(
    ctx: _Context, key: str, result: GroupResult | None, action: PlanAction
) -> WaveChange | None:
    """Return how an action's lever moved for its unit since the wave it was planned in.

    Rule (the results' rule for a change): only when the unit and the
    action's lever score are published in both waves to this reader (each
    wave's per-lever decision, ``services.measures``) and both waves were
    answered with the same questionnaire version; the previous wave's change
    is the results' own.
    """
    if result is None:
        return None
    previous = ctx.results.previous_wave
    if previous is not None and action.wave_id == previous.wave_id:
        return result.changes.get(action.lever_id) if result.changes else None
    earlier = ctx.origins.get(action.wave_id)
    if earlier is None or earlier.questionnaire.version != ctx.results.questionnaire.version:
        return None
    row = next((r for r in earlier.rows if unit_key(r) == key and r.kind is not RowKind.SITE), None)
    if row is None or row.result is None:
        return None
    if action.lever_id not in row.result.scores or action.lever_id not in result.scores:
        return None
    q = ctx.results.questionnaire
    return aggregates.compare_waves(q, row.result.aggregate, result.aggregate, action.lever_id)


def _movement(ctx: _Context, change: WaveChange | None) -> str:
    """Return, in words, how a lever moved: points and the test's outcome."""
    if change is None or change.change is None:
        return ctx.texts["trend_not_enough_data"]
    return ctx.texts["points"].format(
        change=f"{round(change.change):+d}", trend=_trend_word(ctx, change.outcome)
    )


def _saved_line(
    ctx: _Context, key: str, action: PlanAction, result: GroupResult | None, today: date
) -> PlanLine:
    carried = action.wave_id != ctx.results.wave.wave_id
    origin = catalogued(ctx.catalogue, action.catalogue_id) if action.catalogue_id else None
    return PlanLine(
        action_id=action.action_id,
        lever_id=action.lever_id,
        lever_label=_lever_label(ctx, action.lever_id),
        title=action.title,
        description=ctx.text(origin).description if origin else "",
        owner_role=action.owner_role,
        mandate_holder=action.mandate_holder,
        due=action.due,
        kpi=action.kpi,
        kpi_target=action.kpi_target,
        status=ctx.texts["status_" + action.status.name.lower()],
        saved=True,
        reason="",
        from_wave=ctx.wave_names.get(action.wave_id, action.wave_id) if carried else None,
        movement=_movement(ctx, _change_since(ctx, key, result, action)) if carried else None,
        catalogue_id=action.catalogue_id,
        overdue=action.is_overdue(today),
    )


def lever_target(
    texts: Mapping[str, str], label: str, settings: ScorecardSettings, lever_id: str
) -> str:
    """Return the KPI target an action starts with: its lever reaching the target."""
    return texts["lever_target"].format(lever=label, target=settings.target(lever_id))


def suggested_due(action: CatalogueAction, today: date) -> date:
    """Return the due date a recommended action suggests, counted from ``today``."""
    return today + timedelta(weeks=action.due_weeks)


def _reason(ctx: _Context, found: Recommendation, done: Mapping[str, str]) -> str:
    """Return why an action is suggested, in words; a repeat names the wave it was done in."""
    reason = ctx.texts["reason_" + found.reason.replace(" ", "_")]
    if found.driver:
        reason = ctx.texts["reason_driver"].format(reason=reason)
    if not found.again:
        return reason
    wave_id = done.get(found.action.id, "")
    return ctx.texts["reason_again"].format(
        wave=ctx.wave_names.get(wave_id, wave_id), reason=reason
    )


def _suggested_line(
    ctx: _Context, found: Recommendation, today: date, done: Mapping[str, str]
) -> PlanLine:
    text = ctx.text(found.action)
    return PlanLine(
        action_id=None,
        lever_id=found.lever_id,
        lever_label=_lever_label(ctx, found.lever_id),
        title=text.title,
        description=text.description,
        owner_role=text.owner_role,
        mandate_holder=text.mandate_holder,
        due=suggested_due(found.action, today),
        kpi=text.kpi,
        kpi_target=lever_target(
            ctx.texts, _lever_label(ctx, found.lever_id), ctx.settings, found.lever_id
        ),
        status=ctx.texts["suggested"],
        saved=False,
        reason=_reason(ctx, found, done),
        from_wave=None,
        movement=None,
        catalogue_id=found.action.id,
    )


def recommendations(
    ctx: _Context,
    result: GroupResult | None,
    barrier: str | None,
    done: Collection[str] = (),
    dropped: Collection[str] = (),
) -> tuple[Recommendation, ...]:
    """Return the catalogue's recommendations for a unit's published scores.

    ``done`` holds the catalogue actions the unit has done in earlier waves:
    they give way to the lever's other actions (``recommend``, rule 3);
    ``dropped`` those it dropped in earlier waves, never suggested again.
    """
    if result is None:
        return ()
    levers = [(lever.id, lever.outcome) for lever in ctx.results.levers]
    scores = {lever_id: score.index for lever_id, score in result.scores.items()}
    # A managers' gap counts only as a finding: 15 points or more, its interval above 0.
    findings = readiness.gap_findings(result)
    gaps = {lever_id: f.gap for lever_id, f in findings.items() if f is not None and f.flagged}
    unsure = [lever_id for lever_id, score in result.scores.items() if _unsure(ctx, score)]
    rate = result.response_rate
    return recommend(
        levers,
        scores,
        ctx.settings,
        ctx.catalogue,
        barrier=barrier,
        gaps=gaps,
        low_response=rate is not None and rate < LOW_RESPONSE_RATE,
        done=done,
        unsure=unsure,
        drivers=ctx.drivers,
        dropped=dropped,
    )


def _plan_lines(
    ctx: _Context, key: str, result: GroupResult | None, barrier: str | None, today: date
) -> list[PlanLine]:
    """Return a unit's plan: this wave's saved actions, carried ones, then open suggestions."""
    own, carried = wave_plan(ctx.plans.get(key, ()), ctx.results.wave.wave_id, ctx.wave_order)
    lines = [_saved_line(ctx, key, action, result, today) for action in (*own, *carried)]
    taken = planned_catalogue_actions(own, carried)
    done = done_catalogue_actions(carried, ctx.wave_order)
    dropped = dropped_catalogue_actions(
        ctx.plans.get(key, ()), ctx.results.wave.wave_id, ctx.wave_order
    )
    # A low response rate is the second thing to fix (after the barrier): it
    # decides how far the next wave's scores can be trusted, so it must reach
    # the printed page rather than fall behind the page's cut.
    found = sorted(
        recommendations(ctx, result, barrier, done, dropped),
        key=lambda r: (r.lever_id != barrier, r.reason != "low response"),
    )
    lines += [_suggested_line(ctx, r, today, done) for r in found if r.action.id not in taken]
    return lines


def _page(ctx: _Context, row: ResultRow, today: date, limit: int | None) -> ScorecardPage:
    result = row.result
    key = unit_key(row)
    barrier, sentence = _barrier_sentence(ctx, result)
    plan = _plan_lines(ctx, key, result, barrier, today)
    survey, wave = ctx.results.survey, ctx.results.wave
    previous = ctx.results.previous_wave
    rate = result.response_rate if result is not None else None
    return ScorecardPage(
        language=ctx.language,
        texts=ctx.texts,
        survey_slug=survey.slug,
        survey_title=survey.title,
        system_name=survey.system_in(ctx.language),
        wave_id=wave.wave_id,
        wave_name=wave.name,
        previous_wave_name=previous.name if previous is not None else None,
        department=key,
        unit_label=ctx.texts["organisation"] if key == ORGANISATION else row.label,
        site=row.site,
        responses=result.responses if result is not None else None,
        headcount=result.headcount if result is not None else _headcount(ctx, row),
        response_rate=rate,
        low_response=rate is not None and rate < LOW_RESPONSE_RATE,
        min_group_size=ctx.results.min_group_size,
        attention=ctx.results.attention,
        published=result is not None,
        levers=_lever_lines(ctx, result),
        barrier_sentence=sentence,
        plan=tuple(plan[:limit]),
        computed_on=ctx.results.computed_at.date(),
        more_actions=0 if limit is None else max(0, len(plan) - limit),
        barrier_lever=barrier,
        over_headcount=result is not None and result.over_headcount,
    )


def _headcount(ctx: _Context, row: ResultRow) -> int:
    # Headcount is HR's own figure, not a response count: it is shown even when
    # the scores are hidden.
    if row.kind is RowKind.ORGANISATION:
        return sum(ctx.headcounts.values())
    return ctx.headcounts.get(row.key, 0)


def _context(
    store: Store,
    results: WaveResults,
    language: str,
    department: str | None,
    allowed: Callable[[str], bool] | None,
) -> _Context:
    survey = results.survey
    waves = store.list_waves(survey.slug)
    order = {w.wave_id: position for position, w in enumerate(waves)}
    plans: dict[str, list[PlanAction]] = {}
    for action in store.list_plan_actions(survey.slug, department):
        plans.setdefault(action.department, []).append(action)
    previous = results.previous_wave.wave_id if results.previous_wave else None
    current = order.get(results.wave.wave_id, 0)
    older = {
        action.wave_id
        for actions in plans.values()
        for action in actions
        if action.wave_id != previous and order.get(action.wave_id, current) < current
    }
    return _Context(
        results=results,
        settings=store.get_scorecard_settings(survey.slug),
        catalogue=get_action_catalogue(survey.questionnaire_id),
        plans=plans,
        wave_order={w.wave_id: position for position, w in enumerate(waves)},
        wave_names={w.wave_id: w.name for w in waves},
        headcounts={d.code: d.headcount for d in wave_departments(store, results.wave)},
        language=language,
        origins={
            wave_id: readiness.wave_results(store, survey.slug, wave_id, allowed=allowed)
            for wave_id in sorted(older)
        },
        drivers=_drivers(store, results, allowed),
    )


def _drivers(
    store: Store, results: WaveResults, allowed: Callable[[str], bool] | None
) -> frozenset[str]:
    """Return the key drivers that rank suggestions, as this reader may see the organisation.

    A one-department scorecard's results hold no organisation row, so the
    organisation's view is read for the same reader: a reader who may not see
    the organisation (a department viewer) gets no ranking by drivers.
    """
    whole = results
    if results.organisation is None:
        whole = readiness.wave_results(
            store, results.survey.slug, results.wave.wave_id, allowed=allowed
        )
    found = key_drivers.cached_key_drivers(whole)
    return found.key_levers() if found.usable else frozenset()


def _rows(results: WaveResults, department: str | None) -> list[ResultRow]:
    rows = [r for r in results.rows if r.kind is not RowKind.SITE]
    if department is None:
        return rows
    return [r for r in rows if unit_key(r) == department]


def scorecard(
    store: Store,
    survey_slug: str,
    wave_id: str,
    *,
    department: str | None = None,
    language: str = "en",
    allowed: Callable[[str], bool] | None = None,
    today: date | None = None,
    max_plan_lines: int | None = MAX_PLAN_LINES,
) -> Scorecard:
    """Return the scorecard pages of a wave: the organisation's and each department's.

    ``department`` limits it to one unit (a code, or ``ORGANISATION``);
    ``allowed`` limits it to the reader's departments exactly as the results
    pages do (a department viewer gets no organisation page).
    ``max_plan_lines`` cuts each page's plan for print (``None``: the whole
    plan, as the plan page lists it). Raise
    ``NotFound`` for an unknown survey, wave or department and ``NotAllowed``
    for a department the reader may not see.
    """
    language = language_of(language)
    if department is not None and department != ORGANISATION:
        results, _row = readiness.department_results(
            store, survey_slug, wave_id, department, allowed=allowed
        )
    else:
        results = readiness.wave_results(store, survey_slug, wave_id, allowed=allowed)
    rows = _rows(results, department)
    if department is not None and not rows:
        raise NotFound("There is no scorecard for this unit.")
    ctx = _context(store, results, language, department, allowed)
    day = today or date.today()
    return Scorecard(
        survey_title=results.survey.title,
        wave_name=results.wave.name,
        language=language,
        pages=tuple(_page(ctx, row, day, max_plan_lines) for row in rows),
    )


def units(
    store: Store, survey_slug: str, allowed: Callable[[str], bool], wave_id: str | None = None
) -> list[tuple[str, str]]:
    """Return the units a reader may ask a scorecard for: (key, label), by name.

    The organisation (``ORGANISATION``) comes first, and only for a reader
    of every department, as on the results pages. With ``wave_id``, the
    departments are that wave's as of its opening (``structure.wave_departments``).
    """
    if wave_id is None:
        departments = store.list_departments(survey_slug)
    else:
        departments = wave_departments(store, store.get_wave(survey_slug, wave_id))
    readable = sorted((d for d in departments if allowed(d.code)), key=lambda d: (d.name, d.code))
    found = [(d.code, d.name) for d in readable]
    if len(readable) == len(departments):
        found.insert(0, (ORGANISATION, TEXTS["en"]["organisation"]))
    return found


def audit_download(
    store: Store, actor: str, card: Scorecard, survey_slug: str, wave_id: str
) -> None:
    """Record a scorecard PDF download in the audit trail."""
    units = ", ".join(page.department for page in card.pages[:5])
    more = f" and {len(card.pages) - 5} more" if len(card.pages) > 5 else ""
    audit(store, actor, "scorecard.pdf", f"{survey_slug}/{wave_id}", f"{units}{more}")
