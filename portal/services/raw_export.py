"""The raw, anonymous responses of a wave as CSV: for admins' own analysis, audited.

Every other output publishes aggregates; this one hands over one row per
response, so it is for admins only, every download is written to the audit
trail, and free-text comments are left out unless the admin asks for them.

**Columns.** ``wave``, ``department``, ``site``, ``audience``, ``language``,
``day`` (the calendar day, as stored), then one column per item of the
questionnaire (by item id, in questionnaire order), then ``comment`` only when
comments are included. An answer reads ``1``–``5`` as the respondent chose it
(reverse-scored items are *not* flipped), ``dont_know`` for "don't know / not
applicable", and empty when the item was skipped or not asked of the
respondent's audience.

**Small groups.** A department code next to a row makes a group of two
people's answers readable one by one, so the labels are coarsened with the
wave's disclosure decision (``anonymity.disclose`` on the raw counts per
department and audience, with the wave's minimum group size):

* a row keeps its department (and site) when the department's group for the
  row's audience is published — employees and managers of a unit are
  published as a pair, so a department whose managers are too few loses the
  code on its employees' rows too (else the department's published total
  minus its employees would isolate the managers);
* otherwise it keeps only its site, when the site's group for that audience
  is published;
* otherwise it keeps neither, when the organisation's group for that
  audience is published;
* otherwise (fewer than the minimum of that audience in the whole
  organisation) the row is left out.

One exception: when nobody of one audience answered at all, the other
audience's rows are the wave's rows, and the pair rule would leave out every
row; the groups of all respondents are then used instead (the file then says
only that nobody of the other audience answered).

Rule 3 of the engine makes every set of rows that share a label (shown
department; site without department; neither) hold 0 or at least the minimum
of that audience, and every such set is a difference of groups the results
pages already publish, so the file adds no count that the pages hide. What the
rule does not cover: the language and day columns, and the answers
themselves, can still single a person out inside a group (the only one who
answered in Danish, or on a Sunday); hence admins only, the audit trail and
the "handle with care" label.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from portal.domain.anonymity import Disclosure, Group, Structure, disclose
from portal.domain.entities import Audience, Response
from portal.instruments import get_questionnaire
from portal.services.accounts import audit
from portal.services.readiness import UNLISTED_SITE, safe_cell
from portal.services.structure import wave_departments
from portal.storage.port import MAX_PAGE_SIZE, Store

#: How a "don't know / not applicable" answer is written.
DONT_KNOW = "dont_know"
#: The columns before the items.
LEADING = ("wave", "department", "site", "audience", "language", "day")


@dataclass(frozen=True)
class RawExport:
    """A finished raw export: the CSV text, its file name and what it holds."""

    filename: str
    text: str
    rows: int
    comments: bool


def _all_responses(store: Store, survey_slug: str, wave_id: str) -> list[Response]:
    found: list[Response] = []
    cursor: str | None = None
    while True:
        page = store.list_responses(survey_slug, wave_id, cursor=cursor, limit=MAX_PAGE_SIZE)
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def label(decision: Disclosure, response: Response, alone: bool = False) -> tuple[str, str] | None:
    """Return the (department, site) a row may carry, blanks for coarsened, ``None`` to omit.

    Rules (see the module docstring): the department when its group for the
    response's audience is published; else the site when that is; else
    blanks when the organisation's audience group is; else ``None``. With
    ``alone`` (nobody of the other audience answered at all) the groups of
    all respondents are asked instead, since they are the same people.
    """
    code = response.department_code
    audience = None if alone else response.audience
    site = decision.structure.site_of[code]
    if decision.visible(Group(department=code, audience=audience)):
        return code, site
    if decision.visible(Group(site=site, audience=audience)):
        return "", site
    if decision.visible(Group(audience=audience)):
        return "", ""
    return None


def raw_decision(
    site_of: dict[str, str], responses: list[Response], min_group_size: int
) -> Disclosure:
    """Return the disclosure decision over the responses' own counts per department and audience."""
    for response in responses:
        site_of.setdefault(response.department_code, UNLISTED_SITE)
    counts: dict[tuple[str, Audience], int] = {}
    for response in responses:
        cell = (response.department_code, response.audience)
        counts[cell] = counts.get(cell, 0) + 1
    return disclose(Structure(site_of), counts, min_group_size)


def export_raw_responses(
    store: Store, survey_slug: str, wave_id: str, *, actor: str, include_comments: bool
) -> RawExport:
    """Return a wave's raw anonymous responses as CSV and record the download in the audit trail.

    Reads every raw response of the wave (an admin's rare request, not a
    page view). Rows are sorted by site, department and audience; within
    those, the order is the store's random key order, which says nothing
    about arrival. Every text cell is made formula-safe (a leading ``'``
    before ``=``, ``+``, ``-``, ``@``, tab or carriage return) — comments
    included. Raises ``NotFound`` for an unknown survey or wave.
    """
    survey = store.get_survey(survey_slug)
    wave = store.get_wave(survey_slug, wave_id)
    questionnaire = get_questionnaire(
        survey.questionnaire_id, wave.questionnaire_version or survey.questionnaire_version
    )
    responses = _all_responses(store, survey_slug, wave_id)
    site_of = {d.code: d.site for d in wave_departments(store, wave)}
    k = wave.effective_thresholds(survey).min_group_size
    decision = raw_decision(site_of, responses, k)
    present = {response.audience for response in responses}

    items = [item.id for item in questionnaire.items]
    header = [*LEADING, *items, *(["comment"] if include_comments else [])]
    lines: list[tuple[tuple[str, str, str], list[str]]] = []
    for response in responses:
        labels = label(decision, response, alone=len(present) == 1)
        if labels is None:
            continue
        code, site = labels
        line = [
            wave_id,
            code,
            site,
            response.audience.value,
            response.language,
            response.day.isoformat(),
        ]
        for item_id in items:
            if item_id not in response.answers:
                line.append("")
            else:
                answer = response.answers[item_id]
                line.append(DONT_KNOW if answer is None else str(answer))
        if include_comments:
            line.append(response.comment or "")
        lines.append(((site, code, response.audience.value), line))
    lines.sort(key=lambda entry: entry[0])

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
        f"raw responses: {len(lines)} row(s); {included}",
    )
    suffix = "with-comments" if include_comments else "without-comments"
    return RawExport(
        filename=f"raw-responses-{survey_slug}-{wave_id}-{suffix}.csv",
        text=out.getvalue(),
        rows=len(lines),
        comments=include_comments,
    )
