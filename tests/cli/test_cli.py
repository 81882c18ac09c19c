"""The ``portal`` command, run as an admin would on a fresh deployment."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from portal.cli import main
from portal.storage.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Return the path of a not-yet-created database."""
    return tmp_path / "portal.sqlite3"


def run(db: Path, *args: str) -> Result:
    """Run ``portal ARGS`` against the database at ``db``."""
    return CliRunner().invoke(main, list(args), env={"PORTAL_DATABASE_PATH": str(db)})


def test_init_db_creates_the_schema_and_can_run_again(db: Path) -> None:
    assert run(db, "init-db").exit_code == 0
    result = run(db, "init-db")
    assert result.exit_code == 0 and "Database ready (sqlite" in result.output
    SqliteStore(db).check()


def test_demo_loads_two_waves_and_hundreds_of_responses_once(db: Path) -> None:
    run(db, "init-db")
    first = run(db, "demo")
    assert first.exit_code == 0, first.output
    assert "8 departments across 2 sites (Aarhus, Hamburg)" in first.output
    assert "wave baseline: Baseline, closed" in first.output
    assert "wave follow-up-1: Follow-up 1, open" in first.output
    stored = int(first.output.split(" synthetic responses stored")[0].split()[-1])
    assert 200 <= stored <= 600
    again = run(db, "demo")
    assert again.exit_code == 0 and "was already loaded" in again.output
    store = SqliteStore(db)
    counted = sum(
        len(store.list_responses("demo-crm", wave, limit=1000).items)
        for wave in ("baseline", "follow-up-1")
    )
    assert counted == stored


def test_demo_without_a_database_says_to_run_init_db(db: Path) -> None:
    result = run(db, "demo")
    assert result.exit_code == 1
    assert "Run `portal init-db`" in result.output


def test_creates_a_survey_with_departments_from_csv(db: Path, tmp_path: Path) -> None:
    csv = tmp_path / "departments.csv"
    csv.write_text("code,name,site,headcount\nS,Sales,Aarhus,12\nW,Warehouse,Hamburg,40\n")
    run(db, "init-db")
    result = run(
        db,
        "survey", "create", "--slug", "erp-2027", "--title", "ERP 2027",
        "--system", "the new ERP", "--system", "da=det nye ERP",
        "--departments", str(csv), "--min-group-size", "6",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Survey 'erp-2027' created on change-readiness v1 with 2 department(s)." in result.output
    survey = SqliteStore(db).get_survey("erp-2027")
    assert dict(survey.system_name) == {"en": "the new ERP", "da": "det nye ERP"}
    assert survey.thresholds.min_group_size == 6
    listed = run(db, "survey", "list")
    assert "erp-2027\tERP 2027\tno waves" in listed.output


def test_a_bad_departments_file_is_reported_by_line_and_nothing_is_created(
    db: Path, tmp_path: Path
) -> None:
    csv = tmp_path / "departments.csv"
    csv.write_text("code,name,site,headcount\nS,Sales,Aarhus,twelve\nW,,Hamburg,40\n")
    run(db, "init-db")
    result = run(
        db, "survey", "create", "--slug", "erp", "--title", "ERP", "--system", "the ERP",
        "--departments", str(csv),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "Line 2: headcount 'twelve' is not a whole number." in result.output
    assert "Line 3: name must not be empty." in result.output
    assert SqliteStore(db).list_surveys() == []


def test_refuses_a_minimum_group_size_below_three(db: Path) -> None:
    run(db, "init-db")
    result = run(
        db, "survey", "create", "--slug", "x", "--title", "X", "--system", "it",
        "--min-group-size", "2",
    )  # fmt: skip
    assert result.exit_code == 1 and "from 3" in result.output


def test_validates_the_shipped_questionnaire(db: Path) -> None:
    path = ROOT / "portal/instruments/change-readiness/v1.yaml"
    result = run(db, "questionnaire", "validate", str(path))
    assert result.exit_code == 0
    assert "OK — change-readiness v1, 7 levers" in result.output


def test_validate_lists_every_problem_and_fails(db: Path, tmp_path: Path) -> None:
    broken = tmp_path / "v1.yaml"
    text = (ROOT / "portal/instruments/change-readiness/v1.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("lever: skills", "lever: skils", 1), encoding="utf-8")
    result = run(db, "questionnaire", "validate", str(broken))
    assert result.exit_code == 1
    assert "lever: 'skils' is not a lever defined under 'levers'." in result.output


def test_lists_questionnaires(db: Path) -> None:
    assert "change-readiness\tversions 1" in run(db, "questionnaire", "list").output


def test_a_wave_is_added_opened_linked_coded_and_closed_from_the_command_line(
    db: Path, tmp_path: Path
) -> None:
    csv = tmp_path / "departments.csv"
    csv.write_text("code,name,site,headcount\nS,Sales,Aarhus,12\nW,Warehouse,Hamburg,40\n")
    run(db, "init-db")
    run(db, "survey", "create", "--slug", "erp", "--title", "ERP", "--system", "the ERP",
        "--departments", str(csv))  # fmt: skip
    added = run(db, "waves", "add", "--survey", "erp", "--wave", "baseline", "--name", "Baseline")
    assert "added as a baseline draft" in added.output
    opened = run(db, "waves", "open", "--survey", "erp", "--wave", "baseline")
    assert opened.exit_code == 0 and "at least 5, comments for at least 10" in opened.output
    links = run(db, "waves", "links", "--survey", "erp", "--wave", "baseline", "--kiosk", "W")
    lines = links.output.splitlines()
    assert len(lines) == 3 and sum("(kiosk)" in line for line in lines) == 1
    out = tmp_path / "codes.csv"
    coded = run(db, "waves", "codes", "--survey", "erp", "--wave", "baseline",
                "--department", "S", "--count", "3", "--out", str(out))  # fmt: skip
    assert coded.exit_code == 0, coded.output
    rows = out.read_text().splitlines()
    assert rows[0] == "department,code,where" and len(rows) == 4
    code = rows[1].split(",")[1]
    from portal.services.respond import hash_code

    assert SqliteStore(db).get_access_code(hash_code(code)).department_code == "S"
    closed = run(db, "waves", "close", "--survey", "erp", "--wave", "baseline")
    assert closed.exit_code == 0
    again = run(db, "waves", "close", "--survey", "erp", "--wave", "baseline")
    assert again.exit_code == 1 and "only an open wave can close" in again.output


def test_codes_for_an_unknown_department_are_refused(db: Path, tmp_path: Path) -> None:
    run(db, "init-db")
    run(db, "demo")
    out = str(tmp_path / "c.csv")
    result = run(db, "waves", "codes", "--survey", "demo-crm", "--wave", "follow-up-1",
                 "--department", "NOPE", "--count", "2", "--out", out)  # fmt: skip
    assert result.exit_code == 1 and "There is no active department 'NOPE'" in result.output
    assert not (tmp_path / "c.csv").exists()


def test_results_are_refreshed_and_verified_from_the_command_line(db: Path) -> None:
    run(db, "init-db")
    run(db, "demo")
    # The demo's reinforcement meeting read the baseline's results: they are stored.
    baseline = run(db, "results", "verify", "--survey", "demo-crm", "--wave", "baseline")
    assert baseline.exit_code == 0 and "match the raw responses" in baseline.output
    unverified = run(db, "results", "verify", "--survey", "demo-crm", "--wave", "follow-up-1")
    assert unverified.exit_code == 0 and "No stored aggregates yet" in unverified.output
    refreshed = run(db, "results", "refresh", "--survey", "demo-crm", "--wave", "follow-up-1")
    assert refreshed.exit_code == 0 and "in 8 department(s)" in refreshed.output
    verified = run(db, "results", "verify", "--survey", "demo-crm", "--wave", "follow-up-1")
    assert verified.exit_code == 0 and "match the raw responses" in verified.output


def test_scorecard_writes_every_unit_from_a_new_pdf_page(db: Path, tmp_path: Path) -> None:
    run(db, "init-db")
    run(db, "demo")
    out = tmp_path / "card.pdf"
    result = run(db, "scorecard", "--survey", "demo-crm", "--wave", "baseline", "--out", str(out))
    assert result.exit_code == 0, result.output
    # The demo has 8 departments, so 9 units with the organisation; a long plan runs on.
    assert "Wrote 9 scorecard unit(s)" in result.output
    assert out.read_bytes().startswith(b"%PDF-")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
        assert text.count("Minimum group size") == 9, text[:300]
    one = run(db, "scorecard", "--survey", "demo-crm", "--wave", "baseline", "--unit", "*",
              "--lang", "da", "--out", str(out))  # fmt: skip
    assert one.exit_code == 0 and "Wrote 1 scorecard unit(s)" in one.output
    missing = run(db, "scorecard", "--survey", "demo-crm", "--wave", "nope", "--out", str(out))
    assert missing.exit_code == 1 and "Traceback" not in missing.output
