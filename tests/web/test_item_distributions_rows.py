"""Answer distributions can be built for every kind of results row, the organisation too."""

from __future__ import annotations

import pytest

from portal.domain.entities import Response
from portal.services import readiness
from portal.services.readiness import RowKind
from portal.storage.port import Store
from tests.web.test_results import DEPARTMENTS, SLUG, STANDARD, make_organisation


def raw_counts(responses: list[Response], item_id: str) -> tuple[list[int], int]:
    """Return an item's answers per category 1–5 and its don't-knows, counted from raw answers."""
    counts, dont_know = [0] * 5, 0
    for response in responses:
        if item_id not in response.answers:
            continue
        value = response.answers[item_id]
        if value is None:
            dont_know += 1
        else:
            counts[value - 1] += 1
    return counts, dont_know


@pytest.mark.parametrize(("kind", "key"), [(RowKind.ORGANISATION, ""), (RowKind.SITE, "Aarhus")])
def test_an_organisation_or_site_row_gets_the_distributions_of_its_raw_answers(
    store: Store, kind: RowKind, key: str
) -> None:
    responses = make_organisation(store, STANDARD)
    report = readiness.wave_results(store, SLUG, "baseline")
    row = next(r for r in report.rows if r.kind is kind and r.key == key)
    assert row.result is not None
    items = readiness.item_distributions(report, row)
    assert [it.item.id for it in items] == [item.id for item in report.questionnaire.items]
    mine = [
        r
        for r in responses
        if kind is RowKind.ORGANISATION or DEPARTMENTS[r.department_code][1] == key
    ]
    shown = [it for it in items if it.distribution is not None]
    assert shown
    for it in shown:
        assert it.distribution is not None
        counts, dont_know = raw_counts(mine, it.item.id)
        assert list(it.distribution.counts) == counts
        assert it.distribution.dont_know == dont_know
