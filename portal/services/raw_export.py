"""The raw, anonymous responses of a closed wave as CSV: for admins' own analysis, audited.

Every other output publishes aggregates; this one hands over one row per
response, so it is for admins only, every download is written to the audit
trail, and free-text comments are left out unless the admin asks for them.

**Closed waves only.** An open wave's file would differ from the next
download by the people who answered in between, row for row. A closed wave's
figures are final; the export is also refused while any of the wave's
published sums does not hold every stored response — its head counts, or a
lever's or statement's sums that a release step kept at an earlier state
(answers that arrived after the last published state would show as the
difference).

**Columns.** ``wave``, ``department``, ``site``, ``audience``, ``language``,
then one column per item of the questionnaire (by item id, in questionnaire
order), then ``comment`` only when comments are included. An answer reads
``1``–``5`` as the respondent chose it (reverse-scored items are *not*
flipped), ``dont_know`` for "don't know / not applicable", and empty when the
item was skipped or not asked of the respondent's audience. There is no day
column: the day someone answered is the one thing a colleague is likely to
know ("she did it on Sunday"), a wave runs a few weeks so even a month would
split small groups, and the wave already dates every row.

**Which rows, with which label (intersection safety).** A row's label group
is the set of rows sharing its department and audience. The results pages
publish, for every published group, answer shares per statement — exact
counts for small groups — so a row whose label straddles a published group
(a "site only" label next to a department page) can be put back in that
group by matching subsets of rows against the shares. The rule is therefore:

* a row is exported, with its department, site and audience, only where the
  department's employees *and* managers are both published in the wave's
  decision — the very decision the pages use (``readiness.wave_results``), so
  every label group is a leaf cell (department × audience) of at least the
  minimum, and every published group holds a label group wholly or not at
  all: nothing published splits a label group further;
* rows of every other department are left out entirely (no coarsened site or
  organisation label); the file's page and the audit note say how many, per
  reason — counts that are differences of published counts anyway;
* one exception: when nobody of one audience answered at all, the label group
  is the department (all its rows are of the other audience), exported where
  the department is published.

**Language** is shown for a label group only when every language in it has at
least the minimum of rows; otherwise it is blank for that whole label group
(nothing else publishes languages). **Comments** (when asked for) are shown
for a department only when each of its label groups holds at least the
wave's comment minimum; otherwise they are blank for the whole department, so
its comment list on the department page cannot be split by audience.

What the rule does not cover: the answers themselves, read together, can
still single a person out inside a label group (the only one who answered
"1" everywhere), and comments can identify their writers; hence admins only,
the audit trail and the "handle with care" label.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field

from portal.domain.anonymity import Disclosure, Group
from portal.domain.entities import Audience, Response, WaveStatus
from portal.domain.errors import Conflict
from portal.instruments import get_questionnaire
from portal.services.accounts import audit
from portal.services.readiness import safe_cell, wave_results
from portal.storage.port import MAX_PAGE_SIZE, Store

#: How a "don't know / not applicable" answer is written.
DONT_KNOW = "dont_know"
#: The columns before the items.
LEADING = ("wave", "department", "site", "audience", "language")
#: Why rows are left out, as the page and the audit note say it.
HIDDEN = "their department's results are not published"
UNPAIRED = "their department's employees and managers are not both published"
#: Why the export is refused.
NOT_CLOSED = (
    "The raw responses can be downloaded once the wave is closed: while it is open, two "
    "downloads would differ by the people who answered in between."
)
NOT_FINAL = (
    "Some answers of this wave arrived after its figures were last published (all of them, or "
    "those of some statements), so the raw responses would show them; the download is not "
    "offered."
)

NOTHING_PUBLISHED = (
    "the wave's figures are not published (too few responses to show safely), so no rows"
)

#: A label group: department and audience (audience ``None`` when one audience answered alone).
Label = tuple[str, Audience | None]


@dataclass(frozen=True)
class RawPlan:
    """What a wave's raw export holds, decided before anything is written.

    ``refusal`` says why there is no export at all (an open wave), ``note``
    why a file holds no rows without saying how many were left out; otherwise
    ``rows`` are the exported responses with their label group, ``left_out``
    the number of rows left out per reason, and ``blank_language`` /
    ``blank_comments`` the label groups and departments whose language or
    comments are blanked.
    """

    refusal: str | None = None
    note: str | None = None
    rows: tuple[tuple[Label, Response], ...] = ()
    left_out: dict[str, int] = field(default_factory=dict)
    blank_language: frozenset[Label] = frozenset()
    blank_comments: frozenset[str] = frozenset()
    site_of: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """Return one line saying how many rows the file holds and what was left out."""
        parts = [f"{len(self.rows)} row(s)", *([self.note] if self.note else [])]
        parts += [f"{n} left out because {why}" for why, n in self.left_out.items() if n]
        if self.blank_language:
            parts.append(f"language blank in {len(self.blank_language)} group(s)")
        return "; ".join(parts)


@dataclass(frozen=True)
class RawExport:
    """A finished raw export: the CSV text, its file name and what it holds."""

    filename: str
    text: str
    rows: int
    comments: bool
    plan: RawPlan


def _all_responses(store: Store, survey_slug: str, wave_id: str) -> list[Response]:
    found: list[Response] = []
    cursor: str | None = None
    while True:
        page = store.list_responses(survey_slug, wave_id, cursor=cursor, limit=MAX_PAGE_SIZE)
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def exported_label(decision: Disclosure, response: Response, alone: bool) -> Label | None:
    """Return the label group a row is exported under, or ``None`` to leave it out.

    Rule: the (department, audience) cell when the department's employee and
    manager groups are both published; with ``alone`` (nobody of the other
    audience answered at all) the department, when it is published; else
    ``None``.
    """
    code = response.department_code
    if alone:
        return (code, None) if decision.visible(Group(department=code)) else None
    paired = all(decision.visible(Group(department=code, audience=a)) for a in Audience)
    return (code, response.audience) if paired else None


def _lagging(store: Store, survey_slug: str, wave_id: str) -> bool:
    """Tell whether any published sum of the wave leaves out stored answers (or is wrong)."""
    from portal.services.results import verify

    found = verify(store, survey_slug, wave_id)
    return bool(found.problems or found.held_back or found.held_families)


def plan_raw_export(store: Store, survey_slug: str, wave_id: str) -> RawPlan:
    """Decide which rows of a wave the raw export holds (see the module docstring).

    Reads the wave's published decision and every raw response: an admin's
    rare request, not a page view. Raises ``NotFound`` for an unknown survey
    or wave; an open or draft wave, or published figures that miss stored
    answers, give a plan with a ``refusal``.
    """
    survey = store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    if wave.status is not WaveStatus.CLOSED:
        return RawPlan(refusal=NOT_CLOSED)
    decision = wave_results(store, survey_slug, wave_id).disclosure
    responses = _all_responses(store, survey_slug, wave_id)
    published = decision.count(Group())
    if published is None:
        # Too few to publish anything: say no number (the count itself is hidden).
        return RawPlan(note=NOTHING_PUBLISHED)
    if published != len(responses) or _lagging(store, survey_slug, wave_id):
        # Every published sum must be over every response: a statement's or lever's sums
        # kept at an earlier state (release steps per family) would show the late answers.
        return RawPlan(refusal=NOT_FINAL)
    thresholds = wave.effective_thresholds(survey)
    k, k_comments = thresholds.min_group_size, thresholds.min_comment_group_size
    alone = len({r.audience for r in responses}) == 1

    rows: list[tuple[Label, Response]] = []
    left_out = {HIDDEN: 0, UNPAIRED: 0}
    for response in responses:
        label = exported_label(decision, response, alone)
        if label is not None:
            rows.append((label, response))
        elif decision.visible(Group(department=response.department_code)):
            left_out[UNPAIRED] += 1
        else:
            left_out[HIDDEN] += 1

    languages: dict[Label, Counter[str]] = {}
    for label, response in rows:
        languages.setdefault(label, Counter())[response.language] += 1
    blank_language = frozenset(label for label, seen in languages.items() if min(seen.values()) < k)
    blank_comments = frozenset(
        code for code, _ in languages if any(
            sum(seen.values()) < k_comments
            for (other, _), seen in languages.items()
            if other == code
        )
    )  # fmt: skip
    return RawPlan(
        rows=tuple(rows),
        left_out=left_out,
        blank_language=blank_language,
        blank_comments=blank_comments,
        site_of=dict(decision.structure.site_of),
    )


def export_raw_responses(
    store: Store, survey_slug: str, wave_id: str, *, actor: str, include_comments: bool
) -> RawExport:
    """Return a closed wave's raw anonymous responses as CSV; record the download in the audit.

    Rows follow ``plan_raw_export``. They are sorted by site, department,
    audience and then by their own cells, so their order says nothing about
    arrival. Every text cell is made formula-safe (a leading ``'`` before
    ``=``, ``+``, ``-``, ``@``, tab or carriage return) — comments included.
    Raises ``Conflict`` for a wave that is not closed (or whose published
    figures miss stored answers), ``NotFound`` for an unknown survey or wave.
    """
    plan = plan_raw_export(store, survey_slug, wave_id)
    if plan.refusal is not None:
        raise Conflict(plan.refusal)
    survey = store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    questionnaire = get_questionnaire(
        survey.questionnaire_id, wave.questionnaire_version or survey.questionnaire_version
    )
    items = [item.id for item in questionnaire.items]
    header = [*LEADING, *items, *(["comment"] if include_comments else [])]
    lines: list[tuple[tuple[str, str, str], list[str]]] = []
    for label, response in plan.rows:
        code = response.department_code
        line = [
            wave_id,
            code,
            plan.site_of[code],
            response.audience.value,
            "" if label in plan.blank_language else response.language,
        ]
        for item_id in items:
            if item_id not in response.answers:
                line.append("")
            else:
                answer = response.answers[item_id]
                line.append(DONT_KNOW if answer is None else str(answer))
        if include_comments:
            line.append("" if code in plan.blank_comments else response.comment or "")
        lines.append(((plan.site_of[code], code, response.audience.value), line))
    lines.sort()

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([safe_cell(cell) for cell in line] for _, line in lines)
    included = "comments included" if include_comments else "comments left out"
    audit(
        store,
        actor,
        "results.raw-export",
        f"{survey_slug}/{wave_id}",
        f"raw responses: {plan.summary()}; {included}",
    )
    suffix = "with-comments" if include_comments else "without-comments"
    return RawExport(
        filename=f"raw-responses-{survey_slug}-{wave_id}-{suffix}.csv",
        text=out.getvalue(),
        rows=len(lines),
        comments=include_comments,
        plan=plan,
    )
