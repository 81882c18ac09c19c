"""Comments are kept apart from the snapshot cells, exactly, on every backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from portal.domain import aggregates
from portal.domain.aggregates import Snapshot
from portal.domain.entities import Audience
from portal.instruments import get_questionnaire
from portal.services import results
from portal.services.surveys import close_wave
from portal.storage.port import Store
from tests.builders import make_response
from tests.storage.test_results import open_survey

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SLUG, WAVE = "crm-rollout", "baseline"


def answer_with(store: Store, comments: list[str | None], department: str = "A") -> None:
    """Store one employee response per comment."""
    items = get_questionnaire("change-readiness").items_for(Audience.EMPLOYEE)
    for comment in comments:
        store.add_response(
            make_response(
                department_code=department, answers={i.id: 4 for i in items}, comment=comment
            )
        )


def test_a_stored_snapshot_counts_comments_in_cells_and_keeps_texts_apart(store: Store) -> None:
    open_survey(store)
    answer_with(store, ["Mere træning, tak 🙂", None, "  ", "Ask us first", "Ask us first"])
    answer_with(store, ["Only in C"], "C")
    results.refresh_snapshot(store, SLUG, WAVE, now=NOW)
    stored = store.get_snapshot(SLUG, WAVE)
    assert stored is not None and stored.comments is None
    part = stored.cells["A"].part(Audience.EMPLOYEE)
    assert part is not None and part.comment_count == 3
    texts = store.get_snapshot_comments(SLUG, WAVE, "A")
    assert texts.snapshot_id == stored.snapshot_id
    assert sorted(texts.all_texts()) == ["Ask us first", "Ask us first", "Mere træning, tak 🙂"]
    assert store.get_snapshot_comments(SLUG, WAVE, "C").all_texts() == ("Only in C",)
    assert results.verify(store, SLUG, WAVE).problems == []


def test_verify_reports_a_comment_missing_from_the_stored_texts(store: Store) -> None:
    open_survey(store)
    answer_with(store, ["first", "second"])
    answer_with(store, ["third"], "C")
    snapshot = results.compute_snapshot(store, SLUG, WAVE, now=NOW)
    texts = snapshot.comments_of("A")
    damaged = replace(texts, texts={Audience.EMPLOYEE: texts.texts[Audience.EMPLOYEE][:1]})
    store.put_snapshot(replace(snapshot, comments={**(snapshot.comments or {}), "A": damaged}))
    assert results.verify(store, SLUG, WAVE).problems == [
        "Department A: the stored employee comments (1 kept) differ from the ones the raw "
        "responses give (2 kept)."
    ]


def test_verify_reports_comment_texts_the_store_lost(store: Store) -> None:
    open_survey(store)
    answer_with(store, ["first"])
    snapshot = results.compute_snapshot(store, SLUG, WAVE, now=NOW)
    store.put_snapshot(replace(snapshot, comments={}))
    problems = results.verify(store, SLUG, WAVE).problems
    assert len(problems) == 1 and problems[0].startswith("Department A: the stored employee comm")


def old_layout(cell: aggregates.Aggregate, schema: int) -> aggregates.Aggregate:
    """Return ``cell`` as an older schema would have stored it (read back)."""
    data = aggregates.to_dict(cell)
    parts = []
    for part in data["parts"]:  # type: ignore[attr-defined]
        # Schema 4 added the lever cross-products and Σx·total to complete cases.
        part = {k: v for k, v in part.items() if k != "drivers"}
        part["complete_cases"] = [
            {k: v for k, v in entry.items() if k != "sum_xt"} for entry in part["complete_cases"]
        ]
        if schema == 1:
            part = {k: v for k, v in part.items() if k != "comment_count"}
        elif schema == 2:
            part = {**part, "comments": []}
        parts.append(part)
    return aggregates.from_dict({**data, "schema": schema, "parts": parts})


@pytest.mark.parametrize("schema", [1, 2, 3])
def test_a_snapshot_in_an_old_layout_is_recomputed_even_for_a_closed_wave(
    store: Store, schema: int
) -> None:
    open_survey(store)
    answer_with(store, ["a comment the old layout kept elsewhere"] * 3)
    close_wave(store, SLUG, WAVE, today=date(2026, 11, 2))
    fresh = results.compute_snapshot(store, SLUG, WAVE, now=NOW)
    old_cells = {code: old_layout(cell, schema) for code, cell in fresh.cells.items()}
    store.put_snapshot(Snapshot(SLUG, WAVE, "old-layout", NOW, old_cells))
    problems = results.verify(store, SLUG, WAVE).problems
    assert problems[0].startswith("The stored aggregates are in an older")
    assert store.get_snapshot_comments(SLUG, WAVE, "A").all_texts() == ()
    current = results.current_snapshot(store, SLUG, WAVE, now=NOW)
    assert current.snapshot_id != "old-layout"
    part = current.cells["A"].part(Audience.EMPLOYEE)
    assert part is not None and part.comment_count == 3
    assert store.get_snapshot_comments(SLUG, WAVE, "A").count == 3
    assert results.verify(store, SLUG, WAVE).problems == []
