"""Remembered results views: the same bytes as a fresh computation, never an older snapshot's.

``services.view_cache`` and the decoded-snapshot cache of ``storage.codec``
keep, per process, what the results pages derive from a snapshot. Every page
rendered from them must equal, byte for byte, the page rendered with every
cache off — for an admin and for a department viewer, whoever viewed first —
and a new snapshot (a new id, or even other sums under the same id) must be
rendered from its own figures.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.domain import aggregates
from portal.domain.accounts import Role
from portal.domain.entities import Audience, Response
from portal.services import readiness, results, view_cache
from portal.services.surveys import close_wave
from portal.storage import codec
from portal.storage.port import Store
from tests.builders import make_response
from tests.web.conftest import sign_in
from tests.web.test_results import SLUG, STANDARD, make_organisation, random_answers

MakeAccount = Callable[..., object]
WAVE = f"/admin/surveys/{SLUG}/waves/follow-up"
#: Every page a reader opens on a wave's results; department viewers read SALES only.
ADMIN_PAGES = (
    "/results",
    "/results?site=Hamburg",
    "/results?audience=manager",
    "/results.csv",
    "/results/departments/SALES",
    "/results/departments/WH",
    "/results/quality",
)
VIEWER_PAGES = ("/results", "/results?audience=employee", "/results.csv",
                "/results/departments/SALES")  # fmt: skip


@pytest.fixture(autouse=True)
def forget_before_and_after() -> Iterator[None]:
    """Start and end every test with empty caches."""
    clear()
    yield
    clear()


def clear() -> None:
    view_cache.clear()
    codec.forget_decoded_snapshots()
    aggregates._scales.clear()


@pytest.fixture
def two_waves(store: Store) -> list[Response]:
    """Return the follow-up wave's responses, after a closed baseline (so changes are shown)."""
    make_organisation(store, STANDARD, wave_id="baseline", bias=-1)
    close_wave(store, SLUG, "baseline", today=date.today())
    return make_organisation(store, STANDARD, wave_id="follow-up", create=False, seed=2, bias=1)


@pytest.fixture
def readers(app: Flask, make_account: MakeAccount) -> dict[str, FlaskClient]:
    """Return an admin's client and a SALES department viewer's client, both signed in."""
    make_account("hr@example.com", Role.ADMIN)
    make_account("dv@example.com", Role.DEPARTMENT_VIEWER, departments=(f"{SLUG}/SALES",))
    admin, viewer = app.test_client(), app.test_client()
    sign_in(admin, "hr@example.com")
    sign_in(viewer, "dv@example.com")
    return {"admin": admin, "viewer": viewer}


def pages(readers: dict[str, FlaskClient]) -> dict[tuple[str, str], bytes]:
    """Return every page both readers open, as bytes (the sign-out form's token masked)."""
    found = {}
    for who, paths in (("admin", ADMIN_PAGES), ("viewer", VIEWER_PAGES)):
        for path in paths:
            response = readers[who].get(WAVE + path)
            assert response.status_code == 200, (who, path, response.status_code)
            # The sign-out form's CSRF token carries a timestamp; nothing else may differ.
            found[(who, path)] = re.sub(
                rb'name="csrf_token" value="[^"]+"', b'name="csrf_token"', response.data
            )
    return found


def uncached(readers: dict[str, FlaskClient]) -> dict[tuple[str, str], bytes]:
    """Return the pages rendered with every per-process cache off (each computes all)."""
    clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(view_cache, "MAX_ENTRIES", 0)
        patch.setattr(codec, "DECODED_SNAPSHOTS", 0)
        patch.setattr(aggregates, "index_scale", aggregates._index_scale)
        found = pages(readers)
    assert view_cache.stats()["entries"] == 0
    return found


def differences(one: dict[Any, bytes], other: dict[Any, bytes]) -> list[Any]:
    return [page for page in one if one[page] != other[page]]


def test_remembered_pages_equal_fresh_ones_byte_for_byte_for_an_admin_and_a_department_viewer(
    readers: dict[str, FlaskClient], two_waves: list[Response]
) -> None:
    fresh = uncached(readers)
    clear()
    first = pages(readers)  # the admin first: the viewer's pages come after the admin's entries
    later = pages(readers)
    assert view_cache.stats()["hits"] > 0
    assert differences(fresh, first) == [] and differences(fresh, later) == []
    assert b"row-department-WH" not in later[("viewer", "/results")]


def test_a_department_viewer_first_then_an_admin_get_their_own_figures(
    readers: dict[str, FlaskClient], two_waves: list[Response]
) -> None:
    fresh = uncached(readers)
    clear()
    viewer = {("viewer", p): readers["viewer"].get(WAVE + p).data for p in VIEWER_PAGES}
    admin = pages(readers)
    assert differences(fresh, admin) == []
    assert all(
        re.sub(rb'name="csrf_token" value="[^"]+"', b'name="csrf_token"', body) == fresh[page]
        for page, body in viewer.items()
    )


def add_answers(store: Store, department: str, count: int) -> None:
    """Store ``count`` more employee responses in ``department`` of the follow-up wave."""
    import random

    rng = random.Random(99)
    for _ in range(count):
        store.add_response(
            make_response(
                survey_slug=SLUG,
                wave_id="follow-up",
                department_code=department,
                audience=Audience.EMPLOYEE,
                day=date.today(),
                answers=random_answers(rng, Audience.EMPLOYEE, -2),
            )  # fmt: skip
        )


def test_a_new_snapshot_is_never_served_from_the_previous_ones_entries(
    readers: dict[str, FlaskClient], two_waves: list[Response], store: Store
) -> None:
    before = pages(readers)
    pages(readers)  # remembered now
    add_answers(store, "SALES", 7)
    published = results.refresh_snapshot(store, SLUG, "follow-up", now=datetime.now(UTC))
    after = pages(readers)
    assert after == uncached(readers)
    assert (
        after[("admin", "/results/departments/SALES")]
        != before[("admin", "/results/departments/SALES")]
    )
    assert store.get_snapshot(SLUG, "follow-up").snapshot_id == published.snapshot_id  # type: ignore[union-attr]


def test_other_sums_stored_under_the_same_snapshot_id_are_never_served_from_the_old_entries(
    readers: dict[str, FlaskClient], two_waves: list[Response], store: Store
) -> None:
    old = store.get_snapshot(SLUG, "follow-up") or results.refresh_snapshot(
        store, SLUG, "follow-up", now=datetime.now(UTC)
    )
    before = pages(readers)
    pages(readers)
    add_answers(store, "SALES", 7)
    add_answers(store, "WH", 5)
    recount = results.compute_snapshot(store, SLUG, "follow-up", now=datetime.now(UTC))
    # A store that reuses an id (a restored backup, a hand-made test state): the id alone
    # must never decide what is shown.
    store.put_snapshot(replace(recount, snapshot_id=old.snapshot_id, comments={}))
    after = pages(readers)
    assert after == uncached(readers)
    assert after[("viewer", "/results")] != before[("viewer", "/results")]


def test_a_later_view_decides_and_scores_nothing_again(
    readers: dict[str, FlaskClient], two_waves: list[Response], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: dict[str, int] = {}

    def counted(module: object, name: str) -> None:
        real = getattr(module, name)

        def spy(*args: Any, **kwargs: Any) -> Any:
            calls[name] = calls.get(name, 0) + 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)

    counted(readiness, "disclose")
    counted(aggregates, "merge_all")
    counted(aggregates, "score_levers")
    counted(aggregates, "from_dict")
    pages(readers)
    assert calls["disclose"] and calls["score_levers"] and calls["from_dict"]
    calls.clear()
    pages(readers)
    assert calls == {}
