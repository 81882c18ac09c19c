"""``portal results verify``: nothing to verify and held-back answers are not mismatches."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from portal.cli import main
from portal.services.demo import DEMO_SLUG
from portal.storage.sqlite import SqliteStore
from tests.builders import make_response


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Return the path of a database with the demo loaded."""
    path = tmp_path / "portal.sqlite3"
    assert run(path, "init-db").exit_code == 0
    assert run(path, "demo").exit_code == 0
    return path


def run(db: Path, *args: str) -> Result:
    """Run ``portal ARGS`` against the database at ``db``."""
    return CliRunner().invoke(main, list(args), env={"PORTAL_DATABASE_PATH": str(db)})


def verify(db: Path, wave: str) -> Result:
    """Run ``portal results verify`` for a wave of the demo survey."""
    return run(db, "results", "verify", "--survey", "demo-crm", "--wave", wave)


def test_a_wave_without_aggregates_has_nothing_to_verify_and_exits_0(db: Path) -> None:
    result = verify(db, "follow-up-1")
    assert result.exit_code == 0, result.output
    assert "No stored aggregates yet" in result.output
    assert "nothing to verify" in result.output


def test_a_newcomer_the_release_steps_hold_back_is_said_and_is_not_a_difference(db: Path) -> None:
    refresh = run(db, "results", "refresh", "--survey", DEMO_SLUG, "--wave", "follow-up-1")
    assert refresh.exit_code == 0, refresh.output
    assert verify(db, "follow-up-1").exit_code == 0
    store = SqliteStore(db)
    department = store.list_departments(DEMO_SLUG)[0].code
    store.add_response(make_response(survey_slug=DEMO_SLUG, wave_id="follow-up-1",
                                     department_code=department))  # fmt: skip
    store.close()
    # One newcomer is never published alone, not even by `results refresh`.
    again = run(db, "results", "refresh", "--survey", DEMO_SLUG, "--wave", "follow-up-1")
    assert again.exit_code == 0 and "1 more response(s) wait for a release step" in again.output
    result = verify(db, "follow-up-1")
    assert result.exit_code == 0, result.output
    assert "Held back by release steps (not a difference): 1 response(s)" in result.output


def test_once_aggregates_exist_a_difference_still_exits_1(db: Path) -> None:
    assert (
        run(db, "results", "refresh", "--survey", DEMO_SLUG, "--wave", "follow-up-1").exit_code == 0
    )
    store = SqliteStore(db)
    snapshot = store.get_snapshot(DEMO_SLUG, "follow-up-1")
    department, cell = next(iter(snapshot.cells.items()))
    part = cell.parts[0]
    # Stored sums over more responses than the raw data holds: nothing explains that.
    grown = replace(part, responses=part.responses + 1)
    store.put_snapshot(
        replace(
            snapshot,
            cells={**snapshot.cells, department: replace(cell, parts=(grown, *cell.parts[1:]))},
        )
    )
    store.close()
    result = verify(db, "follow-up-1")
    assert result.exit_code == 1 and f"Department {department}" in result.output


def test_an_unknown_wave_is_still_an_error(db: Path) -> None:
    result = verify(db, "no-such-wave")
    assert result.exit_code == 1 and "Traceback" not in result.output
