"""Departments from CSV: friendly, line-numbered errors; nothing half-read."""

from __future__ import annotations

import pytest

from portal.domain.departments import departments_to_csv, parse_departments_csv
from portal.domain.errors import ValidationError


def errors_for(text: str) -> list[str]:
    """Return the line-numbered problems reported for ``text``."""
    with pytest.raises(ValidationError) as caught:
        parse_departments_csv(text, "crm-rollout")
    return caught.value.errors


def test_reads_departments_with_optional_parent_and_spreadsheet_quirks() -> None:
    text = (
        "\ufeffCode , Name,site,HEADCOUNT,parent\r\n"
        "HQ,Head office,Aarhus,0,\r\n"
        '"SALES","Sales, Nordics",Aarhus,42,HQ\r\n'
        "\r\n"
        "WH,Warehouse,Hamburg,64\r\n"
    )
    departments = parse_departments_csv(text, "crm-rollout")
    assert [(d.code, d.name, d.site, d.headcount, d.parent) for d in departments] == [
        ("HQ", "Head office", "Aarhus", 0, None),
        ("SALES", "Sales, Nordics", "Aarhus", 42, "HQ"),
        ("WH", "Warehouse", "Hamburg", 64, None),
    ]


def test_reports_every_bad_row_with_its_line_number() -> None:
    text = (
        "code,name,site,headcount\n"
        "A,Alpha,Aarhus,ten\n"
        "B,,Aarhus,3\n"
        "A,Again,Aarhus,4\n"
        "OK,Fine,Aarhus,5\n"
        "a b,Spaces,Aarhus,5\n"
        "C,Gamma,Aarhus,5,extra\n"
    )
    problems = errors_for(text)
    assert problems[0] == "Line 2: headcount 'ten' is not a whole number."
    assert problems[1] == "Line 3: name must not be empty."
    assert problems[2].startswith("Line 5: ") is False  # line 5 is fine
    assert any(p.startswith("Line 6: Department code 'a b'") for p in problems)
    assert any(p.startswith("Line 7: 5 values but the header has 4") for p in problems)
    assert len(problems) == 4  # the duplicate A on line 4 is not reported: line 2 failed


def test_reports_a_duplicate_code_with_both_lines() -> None:
    problems = errors_for("code,name,site,headcount\nA,One,X,1\nA,Two,X,2\n")
    assert problems == ["Line 3: code 'A' is already used on line 2."]


def test_reports_unknown_parents_and_loops() -> None:
    text = "code,name,site,headcount,parent\nA,One,X,1,B\nB,Two,X,1,A\nC,Three,X,1,Z\n"
    problems = errors_for(text)
    assert "Line 2: the parents of 'A' form a loop." in problems
    assert "Line 4: parent 'Z' is not a department in this file." in problems


def test_reports_a_wrong_header() -> None:
    [problem] = errors_for("code,name,location,headcount\nA,B,C,1\n")
    assert problem.startswith("Line 1: missing column(s): site; unknown column(s): location")


@pytest.mark.parametrize("separator", [";", "\t"])
def test_reads_semicolon_and_tab_separated_files(separator: str) -> None:
    text = separator.join(["code", "name", "site", "headcount"]) + "\n"
    text += separator.join(["A", "Salg, Danmark", "Aarhus", "3"]) + "\n"
    [department] = parse_departments_csv(text, "crm-rollout")
    assert (department.code, department.name, department.headcount) == ("A", "Salg, Danmark", 3)


def test_reports_an_empty_file_and_a_header_only_file() -> None:
    assert "empty" in errors_for("")[0]
    assert "no departments" in errors_for("code,name,site,headcount\n")[0]


def test_writes_what_it_reads() -> None:
    text = 'code,name,site,headcount,parent\nHQ,Head office,Aarhus,0,\nS,"Sales, DK",Aarhus,4,HQ\n'
    departments = parse_departments_csv(text, "s")
    assert departments_to_csv(departments) == text


def test_names_that_look_like_formulas_are_exported_as_text_and_read_back() -> None:
    text = "code,name,site,headcount\nA,=HYPERLINK(1),@home,3\nB,-minus,+plus,4\n"
    departments = parse_departments_csv(text, "s")
    exported = departments_to_csv(departments)
    assert "'=HYPERLINK(1)" in exported and "'@home" in exported and "'-minus" in exported
    assert parse_departments_csv(exported, "s") == departments
