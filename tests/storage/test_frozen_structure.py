"""A wave's departments are frozen when it opens, on every storage target.

The contract suite checks the port (``freeze_departments``); these tests check
the rule on top of it: opening freezes, later edits change nothing a closed
wave shows, a wave opened before freezing existed is frozen on its first read,
racing freezes agree on one list, and SQLite's migration freezes old waves.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from portal.domain.entities import Audience, Department
from portal.services import participation, quality, raw_export, readiness, surveys
from portal.services.structure import wave_departments
from portal.storage import codec
from portal.storage.port import Store
from portal.storage.sqlite import MIGRATIONS, SqliteStore
from tests.builders import make_department, make_survey, make_wave
from tests.web.test_results import SLUG, STANDARD, make_organisation
from tests.web.test_results_attacks import drawn

TODAY = date(2026, 11, 2)


def edit_everything(store: Store) -> None:
    """Move, rename, resize and retire departments, and add one."""
    surveys.update_department(
        store, SLUG, "TINY", name="Tiny", site="Aarhus", headcount=60, parent=None
    )
    surveys.update_department(
        store, SLUG, "WH", name="Storage", site="Oslo", headcount=4, parent=None
    )
    surveys.set_department_retired(store, SLUG, "OPS", retired=True)
    surveys.add_department(store, Department(SLUG, "NEW", "Newcomers", "Hamburg", 9))


def everything_shown(store: Store) -> tuple[object, ...]:
    """Return what the results, participation and raw export of the baseline hold."""
    department = readiness.department_results(store, SLUG, "baseline", "FEW")
    raw = raw_export.export_raw_responses(
        store, SLUG, "baseline", actor="hr@example.com", include_comments=True
    )
    return (
        readiness.wave_results(store, SLUG, "baseline").rows,
        readiness.results_csv(readiness.wave_results(store, SLUG, "baseline", site="Hamburg")),
        department[1],
        participation.read_participation(store, SLUG, "baseline").table,
        quality.instrument_quality(store, SLUG, "baseline"),
        raw.text,
    )


def test_a_closed_wave_shows_the_same_after_its_departments_change(store: Store) -> None:
    make_organisation(store, STANDARD)
    surveys.close_wave(store, SLUG, "baseline", today=date.today())
    before = everything_shown(store)

    edit_everything(store)
    assert everything_shown(store) == before


def test_a_wave_opened_before_freezing_existed_is_frozen_on_its_first_read(
    store: Store,
) -> None:
    store.add_survey(make_survey())
    store.put_departments([make_department(code="A"), make_department(code="B")])
    store.add_wave(make_wave())
    legacy = make_wave().opened(store.get_survey("crm-rollout"), TODAY)
    store.update_wave(legacy, expected_status=make_wave().status)  # as older versions did
    assert store.get_frozen_departments("crm-rollout", "baseline") is None

    first = wave_departments(store, legacy)
    store.put_departments([make_department(code="A", site="Oslo"), make_department(code="C")])
    assert wave_departments(store, legacy) == first
    assert [d.code for d in first] == ["A", "B"]
    assert wave_departments(store, make_wave(wave_id="draft")) == store.list_departments(
        "crm-rollout"
    )


def test_racing_freezes_all_get_the_one_list_that_was_kept(store: Store) -> None:
    lists = [[make_department(code=f"D{n}", headcount=n), make_department()] for n in range(6)]
    kept: list[list[Department]] = []
    barrier = threading.Barrier(len(lists))

    def freeze(departments: list[Department]) -> None:
        barrier.wait()
        kept.append(store.freeze_departments("crm-rollout", "baseline", departments))

    threads = [threading.Thread(target=freeze, args=(x,)) for x in lists]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = store.get_frozen_departments("crm-rollout", "baseline")
    assert stored is not None and kept == [stored] * len(lists)
    assert stored in [sorted(x, key=lambda d: d.code) for x in lists]


def test_upgrading_an_older_sqlite_database_freezes_its_opened_waves(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:7]:
        conn.executescript(migration)
    conn.execute("PRAGMA user_version = 7")
    departments = [make_department(code="WH", site="Hamburg"), make_department(retired=True)]
    for d in departments:
        conn.execute(
            "INSERT INTO departments VALUES (?, ?, ?)",
            (d.survey_slug, d.code, json.dumps(codec.department_to_dict(d))),
        )
    opened = replace(make_wave(), wave_id="opened").opened(make_survey(), TODAY)
    for wave in (make_wave(), opened, replace(opened.closed(TODAY), wave_id="closed")):
        conn.execute(
            "INSERT INTO waves VALUES (?, ?, ?, ?, ?)",
            (SLUG, wave.wave_id, wave.status.value, wave.created_on.isoformat(),
             json.dumps(codec.wave_to_dict(wave))),
        )  # fmt: skip
    conn.commit()
    conn.close()

    store = SqliteStore(path)
    store.create_schema()
    expected = sorted(departments, key=lambda d: d.code)
    assert store.get_frozen_departments(SLUG, "opened") == expected
    assert store.get_frozen_departments(SLUG, "closed") == expected
    assert store.get_frozen_departments(SLUG, "baseline") is None
    store.close()


def shown_for(store: Store, codes: list[str]) -> tuple[object, ...]:
    """Return every results row, filter, department page and participation row of the baseline."""
    views: list[object] = [participation.read_participation(store, SLUG, "baseline").table]
    for site in ("S1", "S2", "S3"):
        views.append(readiness.wave_results(store, SLUG, "baseline", site=site).rows)
    for audience in Audience:
        views.append(readiness.wave_results(store, SLUG, "baseline", audience=audience).rows)
    views.append(readiness.wave_results(store, SLUG, "baseline").rows)
    for code in codes:
        report, row = readiness.department_results(store, SLUG, "baseline", code)
        views.append((row, readiness.item_distributions(report, row)))
    return tuple(views)


@pytest.mark.parametrize("seed", range(12))
def test_random_edits_after_closing_change_nothing_a_random_organisation_showed(
    sqlite_store: SqliteStore, seed: int
) -> None:
    site_of, cells = drawn(seed)
    rng = random.Random(seed)
    departments = {c: (f"Team {c}", site, rng.randint(0, 12)) for c, site in site_of.items()}
    make_organisation(sqlite_store, cells, departments=departments, seed=seed)
    surveys.close_wave(sqlite_store, SLUG, "baseline", today=date.today())
    before = shown_for(sqlite_store, list(site_of))

    for code in site_of:
        move = rng.choice(["site", "name", "headcount", "retire", "keep"])
        name, site, headcount = departments[code]
        if move == "retire":
            surveys.set_department_retired(sqlite_store, SLUG, code, retired=True)
            continue
        surveys.update_department(
            sqlite_store, SLUG, code,
            name=f"Renamed {code}" if move == "name" else name,
            site=rng.choice(["S1", "S2", "S3"]) if move == "site" else site,
            headcount=rng.randint(0, 12) if move == "headcount" else headcount,
            parent=None,
        )  # fmt: skip
    surveys.add_department(sqlite_store, Department(SLUG, "ADDED", "Added", "S1", 7))
    assert shown_for(sqlite_store, list(site_of)) == before
