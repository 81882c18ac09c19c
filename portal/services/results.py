"""Result aggregates: computed from the raw responses, stored as snapshots, verified.

Design (see docs/architecture.md, "Results at scale"): a dashboard view never
scans raw responses. It reads the wave's current snapshot — one aggregate per
department — whose read cost depends on the number of departments only.

- A **closed** wave's snapshot is final once it was computed after the closing
  day (a late answer accepted by another process within its 30-second cache is
  still counted), so its views cost the same whatever the number of responses.
- An **open** wave's snapshot is recomputed when older than ``REFRESH_SECONDS``
  and published only in release steps (``current_snapshot``,
  ``portal.domain.release``); every other view reads the snapshot as it is, so
  a view's cost is bounded.

A department's cell counts its comments (``comment_count``); the texts are kept
apart from the cells, per department (``aggregates.DepartmentComments``, capped
per audience at ``aggregates.COMMENT_BUDGET`` bytes), so a dashboard view, which
reads every cell, costs the same whatever people wrote. Only a department page
reads its own texts (``Store.get_snapshot_comments``); whether they may be shown
is decided there (``readiness.department_comments``), never here. A snapshot
stored in an older layout (schema 1 without comments, schema 2 with the texts
inside the cells) is recomputed on its next view, even for a closed wave.

A computation builds a complete new snapshot and the store switches to it only
at the end, so an interrupted computation changes nothing and a retry counts
every response exactly once. ``verify`` recomputes everything from the raw
responses and lists every difference.

Nothing stored tells when a snapshot was computed beyond its day
(``snapshot_day``), and its id is random: a precise time beside the raw rows
would single out the responses that arrived after it (docs/anonymity.md,
"Storage"). The rows keep their day anyway, so the day adds nothing. How old a
snapshot is, for the refresh rule, is known from this process's memory only
(``snapshot_age``).
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

from portal.domain import aggregates
from portal.domain.aggregates import Aggregate, DepartmentComments, Snapshot
from portal.domain.entities import Audience, Response, Wave, WaveStatus
from portal.domain.errors import PortalError
from portal.domain.release import release_step
from portal.instruments import get_questionnaire
from portal.services.structure import wave_departments
from portal.storage.port import MAX_PAGE_SIZE, NO_SNAPSHOT, Store

REFRESH_SECONDS = 300


def compute_snapshot(store: Store, survey_slug: str, wave_id: str, *, now: datetime) -> Snapshot:
    """Aggregate every raw response of a wave, a page at a time, into a new snapshot."""
    survey = store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    version = wave.questionnaire_version or survey.questionnaire_version
    questionnaire = get_questionnaire(survey.questionnaire_id, version)
    snapshot_id = secrets.token_hex(8)
    cells: dict[str, Aggregate] = {}
    written: dict[str, list[tuple[Audience, str | None]]] = defaultdict(list)
    cursor: str | None = None
    while True:
        page = store.list_responses(survey_slug, wave_id, cursor=cursor, limit=MAX_PAGE_SIZE)
        by_department: dict[str, list[Response]] = defaultdict(list)
        for response in page.items:
            by_department[response.department_code].append(response)
        for code, responses in by_department.items():
            part = aggregates.aggregate_responses(questionnaire, responses)
            cells[code] = aggregates.merge(cells[code], part) if code in cells else part
            written[code].extend((r.audience, r.comment) for r in responses if r.comment)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    # Capped once, on all of a department's comments: the cap depends only on them,
    # so a recomputation (and ``verify``) keeps exactly the same texts.
    kept = {code: aggregates.collect_comments(snapshot_id, got) for code, got in written.items()}
    _remember(snapshot_id, now)
    return Snapshot(
        survey_slug,
        wave_id,
        snapshot_id,
        snapshot_day(now),
        dict(sorted(cells.items())),
        {code: texts for code, texts in sorted(kept.items()) if texts.texts},
    )


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
    """Return the snapshot a view should use: the wave's published state, moved in release steps.

    Rules: none yet, or stored in an older layout (``outdated``) → compute
    and publish; closed wave and computed after its closing day → final,
    never recomputed; otherwise, once the published snapshot is older than
    ``max_age``, a candidate is computed from the raw responses and published
    only as far as ``release.release_step`` allows: the cells whose newcomers
    may be shown take their new sums, the others keep the published ones
    until a later step (so no published figure ever moves by fewer than the
    minimum group size, see docs/anonymity.md "Release steps"). After a look
    that released nothing, the next look is ``max_age`` later; a closed wave
    is looked at once more and then kept (``held_back`` tells whether its
    published figures leave answers out).
    """
    now = now or datetime.now(UTC)
    snapshot = store.get_snapshot(survey_slug, wave_id)
    if snapshot is None or outdated(snapshot):
        # Conditional, so two processes making the first state at once publish one.
        fresh = compute_snapshot(store, survey_slug, wave_id, now=now)
        replaces = NO_SNAPSHOT if snapshot is None else snapshot.snapshot_id
        if store.put_snapshot(fresh, replaces=replaces):
            return fresh
        return store.get_snapshot(survey_slug, wave_id) or fresh
    wave = store.get_wave(survey_slug, wave_id)
    final = (
        wave.status is WaveStatus.CLOSED
        and wave.closed_on is not None
        and snapshot.computed_at.date() > wave.closed_on
    )
    if final or snapshot_age(snapshot, now) <= timedelta(seconds=max_age):
        return snapshot
    checked = _held_back.get((survey_slug, wave_id, snapshot.snapshot_id))
    if checked is not None and (checked[1] or now - checked[0] <= timedelta(seconds=max_age)):
        return snapshot
    return _release(store, wave, snapshot, now=now)


def release_now(store: Store, survey_slug: str, wave_id: str, *, now: datetime) -> Snapshot:
    """Look for a release step now, whatever the refresh interval; return the published state.

    What ``portal results refresh`` runs: the same rule as every view
    (``current_snapshot``), never a full recount published over the release
    steps — a wave without a state (or with one in an older layout) gets its
    first one, any other gets what ``release_step`` allows of a recount.
    """
    snapshot = store.get_snapshot(survey_slug, wave_id)
    if snapshot is None or outdated(snapshot):
        return current_snapshot(store, survey_slug, wave_id, now=now)
    return _release(store, store.get_wave(survey_slug, wave_id), snapshot, now=now)


#: When this process last looked for a release after a published snapshot: (survey,
#: wave, snapshot id) → (when, whether the wave was closed then — a closed wave's counts
#: no longer change, so that answer is final —, whether answers were left out). Per
#: process; a process that has not looked yet looks once itself, and the rule gives
#: every process the same answer.
_held_back: dict[tuple[str, str, str], tuple[datetime, bool, bool]] = {}


def _release(store: Store, wave: Wave, published: Snapshot, *, now: datetime) -> Snapshot:
    """Compute a candidate, publish what the release rule allows of it; return the published one.

    A closed wave whose answers cannot all be released keeps its published
    sums under a new id marked ``PARTIAL`` (``held_back``), so every process
    can tell, without recounting, that some late answers are left out.
    """
    candidate = compute_snapshot(store, wave.survey_slug, wave.wave_id, now=now)
    step = _release_step(store, wave, published, candidate)
    closed = wave.status is WaveStatus.CLOSED
    more = not _same_sums(published, candidate)
    if step is None and closed and more and not published.snapshot_id.endswith(PARTIAL):
        step = Step(frozenset(), {})  # nothing new may be shown: publish the same sums, marked
    if step is not None:
        released = _mixed(store, published, candidate, step)
        if closed and not _same_sums(released, candidate):
            released = _renamed(released, released.snapshot_id + PARTIAL)
        # Checked against ``published`` only, so it may replace only that one: if another
        # process released meanwhile, its state stands and this one is dropped.
        if not store.put_snapshot(released, replaces=published.snapshot_id):
            return store.get_snapshot(wave.survey_slug, wave.wave_id) or published
        published = released
    left = not _same_sums(published, candidate)
    _held_back[(wave.survey_slug, wave.wave_id, published.snapshot_id)] = (now, closed, left)
    return published


def _same_sums(one: Snapshot, other: Snapshot) -> bool:
    """Tell whether two snapshots hold the same sums in every cell (ids and texts aside)."""
    return one.cells.keys() == other.cells.keys() and all(
        aggregates.to_dict(cell) == aggregates.to_dict(other.cells[code])
        for code, cell in one.cells.items()
    )


#: The end of a closed wave's snapshot id whose sums leave some of its answers out.
PARTIAL = "-partial"


def held_back(wave: Wave, snapshot: Snapshot) -> bool:
    """Tell whether a closed wave's published ``snapshot`` leaves out some of its answers for good.

    True when the wave's final counts could not be released (in full) safely
    after its last published state: too few answers arrived since it to be
    shown without singling anyone out (its snapshot id ends in ``PARTIAL``).
    """
    return wave.status is WaveStatus.CLOSED and snapshot.snapshot_id.endswith(PARTIAL)


Leaf = tuple[str, Audience]
#: One family of sums a part holds for the same responses, each published over its own
#: respondents: ``("lever", lever id)``, ``("item", item id)``, ``("cases", lever id, *items)``,
#: ``("drivers", *lever ids)`` (the levers' cross-products).
Family = tuple[str, ...]


@dataclass(frozen=True)
class Step:
    """What a release takes from a candidate: whole cells, minus some families in some of them.

    ``cells`` take the candidate's responses (head count, comments and every
    family of sums); ``held[leaf]`` names the families of a released cell that
    keep their published sums, because their own respondents did not step by 0
    or at least the minimum (``_release_step``).
    """

    cells: frozenset[Leaf]
    held: dict[Leaf, frozenset[Family]]


FamilySums = (
    aggregates.ItemTally | aggregates.LeverSums | aggregates.CompleteCases | aggregates.DriverSums
)


def part_families(part: aggregates.AudiencePart) -> dict[Family, FamilySums]:
    """Return every family of sums ``part`` holds, by family."""
    found: dict[Family, FamilySums] = {("item", t.item_id): t for t in part.items}
    found |= {("lever", s.lever_id): s for s in part.levers}
    found |= {("cases", c.lever_id, *c.item_ids): c for c in part.complete_cases}
    found |= {("drivers", *d.lever_ids): d for d in part.drivers}
    return found


def released_count(sums: FamilySums) -> int:
    """Return the respondents a family's published figures are taken of.

    A lever's: those who scored it (``LeverSums.n``); a statement's: its
    answers on the scale, "don't know" left out (what its shares are taken
    of); a complete-case set's: its complete cases (what alpha sums); a
    lever set's cross-products: the respondents with a score on every lever.
    """
    return sum(sums.counts) if isinstance(sums, aggregates.ItemTally) else sums.n


def family_counts(snapshot: Snapshot) -> dict[Family, dict[Leaf, int]]:
    """Return, per family of sums, its ``released_count`` per (department, audience) cell."""
    found: dict[Family, dict[Leaf, int]] = defaultdict(dict)
    for code, cell in snapshot.cells.items():
        for part in cell.parts:
            for family, sums in part_families(part).items():
                found[family][(code, part.audience)] = released_count(sums)
    return found


def _release_step(
    store: Store, wave: Wave, published: Snapshot, candidate: Snapshot
) -> Step | None:
    """Return what of ``candidate`` may replace ``published`` (``release.release_step``), or None.

    Both are decided exactly as every results view decides them: on the
    wave's departments as of its opening (plus any department only the
    responses name), with the wave's locked minimum group size. First the
    head counts choose the cells that move (their comments move with them);
    then every family of sums — each lever's, each statement's, each
    complete-case set's, the levers' cross-products, whose respondents "don't
    know" makes fewer than the group's — takes its own step inside those cells, checked on its own
    respondents with the same rule, and keeps its published sums where that
    step refuses. Each family stays, per cell, the sums of a real set of
    responses (all of the cell's as of one state or the other), so between
    two published states every figure moves by 0 or at least ``k`` of the
    people it sums.
    """
    # The results views read their snapshots through this module, so their
    # decision's building blocks are imported here, when first needed.
    from portal.services import readiness

    survey = store.get_survey(wave.survey_slug)
    structure = readiness._structure(wave_departments(store, wave), [published, candidate])
    k = wave.effective_thresholds(survey).min_group_size
    cells = release_step(structure, readiness._counts(published), readiness._counts(candidate), k)
    if cells is None:
        return None
    before, after = family_counts(published), family_counts(candidate)
    held: dict[Leaf, set[Family]] = defaultdict(set)
    for family in sorted(before.keys() | after.keys()):
        old, new = before.get(family, {}), after.get(family, {})
        moving = {leaf for leaf in cells if new.get(leaf, 0) != old.get(leaf, 0)}
        if not moving:
            continue
        # Cross-products ("drivers") step per cell like a lever: the key-driver
        # jackknife reads each shown department's sums (organisation minus one).
        if family[0] == "cases":
            moved = _organisation_step(old, new, moving, k)
        else:
            mixed = {**old, **{leaf: new.get(leaf, 0) for leaf in moving}}
            moved = release_step(structure, old, mixed, k) or frozenset()
        for leaf in moving - moved:
            held[leaf].add(family)
    return Step(cells, {leaf: frozenset(families) for leaf, families in held.items()})


def _organisation_step(
    old: dict[Leaf, int], new: dict[Leaf, int], moving: set[Leaf], k: int
) -> frozenset[Leaf]:
    """Return the cells whose complete cases may move: per audience, by 0 or at least ``k``.

    Complete-case sums feed one figure only, the organisation's alpha (per
    audience, or both together), so the organisation's count of each audience
    is all a reader can difference.
    """
    moved: set[Leaf] = set()
    for audience in Audience:
        mine = {leaf for leaf in moving if leaf[1] is audience}
        if sum(new.get(leaf, 0) - old.get(leaf, 0) for leaf in mine) >= k:
            moved |= mine
    return frozenset(moved)


def _mixed(store: Store, published: Snapshot, candidate: Snapshot, step: Step) -> Snapshot:
    """Return ``candidate`` with the parts outside ``step.cells`` and held families as published.

    Each part — its sums and its comment texts — is either all of that cell's
    responses as of ``published`` or all as of ``candidate``, and so is each
    family of sums within it, so every figure is one of a real set of
    responses; the result carries ``candidate``'s id.
    """
    cells = step.cells
    if not step.held and all((code, a) in cells for code in candidate.cells for a in Audience):
        return candidate
    merged: dict[str, Aggregate] = {}
    comments: dict[str, DepartmentComments] = {}
    for code in sorted(set(published.cells) | set(candidate.cells)):
        template = candidate.cells.get(code) or published.cells[code]
        old_texts: DepartmentComments | None = None
        parts, texts = [], {}
        for audience in sorted(Audience, key=lambda a: a.value):
            new = (code, audience) in cells
            source = (candidate if new else published).cells.get(code)
            part = source.part(audience) if source is not None else None
            if part is not None and new and step.held.get((code, audience)):
                before = published.cells.get(code)
                part = _keep_families(
                    part, before.part(audience) if before else None, step.held[(code, audience)]
                )
            if part is not None:
                parts.append(part)
            if new:
                kept = candidate.comments_of(code).texts.get(audience)
            else:
                if old_texts is None:
                    old_texts = store.get_snapshot_comments(
                        published.survey_slug, published.wave_id, code
                    )
                kept = old_texts.texts.get(audience)
            if kept:
                texts[audience] = kept
        if parts:
            merged[code] = replace(template, parts=tuple(parts))
            if texts:
                comments[code] = DepartmentComments(candidate.snapshot_id, texts)
    return replace(candidate, cells=merged, comments=comments)


def _keep_families(
    part: aggregates.AudiencePart,
    before: aggregates.AudiencePart | None,
    families: frozenset[Family],
) -> aggregates.AudiencePart:
    """Return ``part`` with the sums of ``families`` as in ``before``.

    A family ``before`` lacks (the cell had no respondents then) keeps its
    published state all the same: sums over nobody, the entry kept with
    zeros, so the part still holds every entry its audience is asked.
    """
    old_items = {t.item_id: t for t in before.items} if before else {}
    old_levers = {s.lever_id: s for s in before.levers} if before else {}
    old_cases = {(c.lever_id, c.item_ids): c for c in before.complete_cases} if before else {}
    old_drivers = {d.lever_ids: d for d in before.drivers} if before else {}
    items = [
        old_items.get(t.item_id, aggregates.ItemTally(t.item_id, (0, 0, 0, 0, 0), 0))
        if ("item", t.item_id) in families
        else t
        for t in part.items
    ]
    levers = [
        old_levers.get(s.lever_id, aggregates.LeverSums(s.lever_id, 0, 0, 0))
        if ("lever", s.lever_id) in families
        else s
        for s in part.levers
    ]
    cases = [
        old_cases.get((c.lever_id, c.item_ids), _no_cases(c))
        if ("cases", c.lever_id, *c.item_ids) in families
        else c
        for c in part.complete_cases
    ]
    drivers = [
        old_drivers.get(d.lever_ids, _no_drivers(d)) if ("drivers", *d.lever_ids) in families else d
        for d in part.drivers
    ]
    return replace(
        part,
        items=tuple(items),
        levers=tuple(levers),
        complete_cases=tuple(cases),
        drivers=tuple(drivers),
    )


def _no_cases(cases: aggregates.CompleteCases) -> aggregates.CompleteCases:
    """Return the complete-case sums of the same items over nobody."""
    zeros = (0,) * len(cases.item_ids)
    return aggregates.CompleteCases(
        cases.lever_id, cases.item_ids, 0, zeros, zeros, 0, zeros if cases.sum_xt else ()
    )


def _no_drivers(sums: aggregates.DriverSums) -> aggregates.DriverSums:
    """Return the cross-products of the same levers over nobody."""
    return aggregates.DriverSums(sums.lever_ids, 0, (0,) * len(sums.sum_v), (0,) * len(sums.cross))


def _renamed(snapshot: Snapshot, snapshot_id: str) -> Snapshot:
    """Return the same sums and texts under another id."""
    comments = {
        code: replace(texts, snapshot_id=snapshot_id)
        for code, texts in (snapshot.comments or {}).items()
    }
    return replace(snapshot, snapshot_id=snapshot_id, comments=comments)


def outdated(snapshot: Snapshot) -> bool:
    """Tell whether any cell of ``snapshot`` is stored in an older aggregate layout."""
    return any(cell.schema != aggregates.SCHEMA_VERSION for cell in snapshot.cells.values())


def snapshot_day(now: datetime) -> datetime:
    """Return the time a snapshot records for ``now``: the start of its UTC day.

    Rule: a snapshot keeps its day only, never the hour, minute or second, in
    storage and on every page ("Figures as of 2026-11-23").
    """
    return datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)


#: When this process computed (or first read) each snapshot, by snapshot id: precise
#: times live here, in memory, never in storage. Bounded; the oldest are forgotten first.
_first_seen: dict[str, datetime] = {}
_FIRST_SEEN_MAX = 1000


def _remember(snapshot_id: str, at: datetime) -> datetime:
    _first_seen.setdefault(snapshot_id, at)
    while len(_first_seen) > _FIRST_SEEN_MAX:
        del _first_seen[next(iter(_first_seen))]
    return _first_seen.get(snapshot_id, at)


def snapshot_age(snapshot: Snapshot, now: datetime) -> timedelta:
    """Return how old ``snapshot`` is, for the refresh rule, as far as this process knows.

    Rules: a snapshot this process computed is as old as the time since; one it
    did not (another process, or before a restart) counts from the first time
    this process reads it if it is from today — so it is at most ``max_age``
    late here — and from the start of its day otherwise, so an older day's
    snapshot is due at once.
    """
    seen = _first_seen.get(snapshot.snapshot_id)
    if seen is None:
        today = snapshot.computed_at.date() == now.astimezone(UTC).date()
        seen = _remember(snapshot.snapshot_id, now if today else snapshot.computed_at)
    return now - seen


class NothingToVerify(PortalError):
    """The wave has no stored aggregates yet, so there is nothing to compare (not a mismatch)."""

    def __init__(self, responses: int) -> None:
        super().__init__(
            f"No stored aggregates yet, so nothing to verify; the raw responses number "
            f"{responses}. The first results view or `portal results refresh` computes them."
        )
        self.responses = responses


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: real differences, and answers the release steps still hold back.

    ``problems`` are differences no release step explains (a published count
    above the raw one, equal counts with different sums, missing comments):
    the stored aggregates are wrong. ``held_back`` is how many responses the
    published head counts leave out, which release steps do on purpose
    (docs/anonymity.md, "Release steps"); ``held_families`` counts the cells
    where a lever's, statement's or complete-case set's sums lag behind.
    """

    problems: list[str]
    held_back: int
    held_families: int


def verify(store: Store, survey_slug: str, wave_id: str) -> Verification:
    """Recompute the wave from its raw responses and compare the stored snapshot with it.

    Rules, per department × audience part (read one department at a time for
    its comments, as a department page does): a published part is either the
    raw part exactly, or one the release steps keep at an earlier state —
    fewer responses, and each family of sums either equal to the raw one or
    over fewer respondents. Anything else is a problem: a part or a family
    over more respondents than the raw data has, equal counts with different
    sums, a department the raw data lacks, or kept comments that differ where
    the part is fully released. A wave without stored aggregates raises
    ``NothingToVerify`` (an unknown survey or wave, ``NotFound``).
    """
    stored = store.get_snapshot(survey_slug, wave_id)
    fresh = compute_snapshot(store, survey_slug, wave_id, now=datetime.now(UTC))
    if stored is None:
        raise NothingToVerify(fresh.responses)
    if outdated(stored):
        problem = (
            "The stored aggregates are in an older layout; the next results view "
            "recomputes them, or run `portal results refresh`."
        )
        return Verification([problem], 0, 0)
    problems: list[str] = []
    held = held_families = 0
    current: list[str] = []
    for code in sorted(set(stored.cells) | set(fresh.cells)):
        mine, truth = stored.cells.get(code), fresh.cells.get(code)
        if truth is None:
            problems.append(f"Department {code}: has no responses.")
            continue
        for audience in Audience:
            part = mine.part(audience) if mine is not None else None
            raw = truth.part(audience)
            if part == raw:
                if part is not None:
                    current.append(code)
                continue
            found, families = _lagging(code, audience, part, raw)
            problems.extend(found)
            if not found and raw is not None:
                held += raw.responses - (part.responses if part else 0)
                held_families += families
    for code in sorted(set(current)):
        texts = store.get_snapshot_comments(survey_slug, wave_id, code)
        if texts.snapshot_id != stored.snapshot_id:
            return Verification(
                [*problems, "The stored aggregates changed while being verified; run again."],
                held,
                held_families,
            )
        expected = fresh.comments_of(code).texts
        for audience in Audience:
            mine_part = stored.cells[code].part(audience)
            if mine_part is not None and mine_part == fresh.cells[code].part(audience):
                if texts.texts.get(audience) != expected.get(audience):
                    problems.append(
                        f"Department {code}: the stored {audience} comments "
                        f"({len(texts.texts.get(audience, ()))} kept) differ from the ones "
                        f"the raw responses give ({len(expected.get(audience, ()))} kept)."
                    )
    return Verification(problems, held, held_families)


def _lagging(
    code: str,
    audience: Audience,
    part: aggregates.AudiencePart | None,
    raw: aggregates.AudiencePart | None,
) -> tuple[list[str], int]:
    """Check a published part that differs from the raw one; return its problems and held families.

    A part the raw data lacks, or one over more responses, is wrong; a
    family of sums over as many respondents as the raw one must equal it, and
    one over more is wrong; a part over as many responses as the raw one
    whose families are all current must equal it (nothing a release step
    keeps back could explain the difference).
    """
    where = f"Department {code}, {audience}s"
    if raw is None:
        return [f"{where}: stored aggregates where the raw responses have none."], 0
    if part is None:
        return [], 0
    if part.responses > raw.responses:
        return [
            f"{where}: stored aggregates cover {part.responses} responses; "
            f"the raw responses give {raw.responses}."
        ], 0
    truth = part_families(raw)
    problems, lagging = [], 0
    for family, sums in part_families(part).items():
        raw_sums = truth.get(family)
        size, raw_size = _covered(sums), _covered(raw_sums) if raw_sums else 0
        if size > raw_size or (size == raw_size and sums != raw_sums):
            problems.append(
                f"{where}: the stored sums of {' '.join(family)} do not come from "
                "the raw responses."
            )
        elif size < raw_size:
            lagging += 1
    if not problems and not lagging and part.responses == raw.responses:
        problems.append(
            f"{where}: stored aggregates cover {part.responses} responses with different "
            "sums; the raw responses give the same number."
        )
    return problems, lagging


def _covered(sums: FamilySums) -> int:
    """Return the respondents a family's sums cover ("don't know" counted for a statement)."""
    return sums.answered if isinstance(sums, aggregates.ItemTally) else sums.n
