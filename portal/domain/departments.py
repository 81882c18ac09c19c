"""Reading departments from CSV: ``code,name,site,headcount[,parent]``."""

from __future__ import annotations

import csv
import io

from portal.domain.entities import Department
from portal.domain.errors import ValidationError
from portal.domain.text import printable, unprintable_characters

COLUMNS = ("code", "name", "site", "headcount", "parent")
REQUIRED = COLUMNS[:4]
MAX_ROWS = 5000
FORMULA_STARTS = ("=", "+", "-", "@")


def parse_departments_csv(text: str, survey_slug: str) -> list[Department]:
    """Parse departments from CSV text with a header row.

    Rules: values are separated by commas, or by semicolons or tabs as
    spreadsheets in many European locales save them (decided from the header
    line); the header must name ``code,name,site,headcount`` and may add
    ``parent`` (in any order; case and surrounding spaces are ignored); blank
    lines are skipped; codes must be unique; a parent must be another listed
    department and parents may not form a cycle; a name or site may not hold
    a control or invisible character (``text_problems``). Every problem is
    reported at once, each with its line number, in ``ValidationError.errors``.
    """
    text = text.lstrip("\ufeff")  # spreadsheets often save a byte-order mark
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)))
    except csv.Error as exc:
        raise ValidationError(f"The file is not valid CSV: {exc}.") from exc
    if not rows:
        raise ValidationError(
            "The departments file is empty; it needs a header and one row per department."
        )
    header = [cell.strip().lower() for cell in rows[0]]
    missing = [column for column in REQUIRED if column not in header]
    unknown = [column for column in header if column and column not in COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(unknown)}")
        raise ValidationError(
            f"Line 1: {'; '.join(parts)}. The header must be code,name,site,headcount[,parent]."
        )
    if len(rows) - 1 > MAX_ROWS:
        raise ValidationError(f"The file has more than {MAX_ROWS} departments.")
    index = {column: header.index(column) for column in COLUMNS if column in header}
    errors: list[str] = []
    departments: list[Department] = []
    lines: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            errors.append(
                f"Line {line}: {len(row)} values but the header has {len(header)} columns."
            )
            continue
        cells = {column: (row[i].strip() if i < len(row) else "") for column, i in index.items()}
        empty = [column for column in REQUIRED if not cells[column]]
        if empty:
            errors.append(f"Line {line}: {', '.join(empty)} must not be empty.")
            continue
        unreadable = text_problems(name=cells["name"], site=cells["site"])
        if unreadable:
            errors.extend(f"Line {line}: {problem}" for problem in unreadable)
            continue
        try:
            headcount = int(cells["headcount"])
        except ValueError:
            errors.append(f"Line {line}: headcount {cells['headcount']!r} is not a whole number.")
            continue
        try:
            department = Department(
                survey_slug=survey_slug,
                code=cells["code"],
                name=_from_text(cells["name"]),
                site=_from_text(cells["site"]),
                headcount=headcount,
                parent=cells.get("parent") or None,
            )
        except ValidationError as exc:
            errors.append(f"Line {line}: {exc}")
            continue
        if department.code in lines:
            errors.append(
                f"Line {line}: code {department.code!r} is already used "
                f"on line {lines[department.code]}."
            )
            continue
        lines[department.code] = line
        departments.append(department)
    errors.extend(_parent_problems(departments, lines))
    if errors:
        raise ValidationError(f"{len(errors)} problem(s) in the departments file.", errors=errors)
    if not departments:
        raise ValidationError("The departments file has a header but no departments.")
    return departments


def text_problems(*, name: str, site: str) -> list[str]:
    """Say which of a department's name and site hold characters a name may not hold.

    Rule (``portal.domain.text``): no control characters (tab, line breaks,
    the vertical tab Word pastes), no invisible format characters, no line or
    paragraph separators. Each problem names the field and the characters.
    """
    problems = []
    for field, value in (("name", name), ("site", site)):
        found = unprintable_characters(value)
        if found:
            problems.append(
                f"the {field} holds a control or invisible character ({', '.join(found)}), "
                "e.g. a line break pasted from Word; retype it as plain text."
            )
    return problems


def check_department_text(department: Department) -> None:
    """Refuse a department whose name or site holds a control or invisible character."""
    problems = [f"Department {department.code}: {p}" for p in text_problems(
        name=department.name, site=department.site
    )]  # fmt: skip
    if problems:
        raise ValidationError(" ".join(problems), errors=problems)


def _delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    return max(",;\t", key=header.count) if header else ","


def _parent_problems(departments: list[Department], lines: dict[str, int]) -> list[str]:
    parents = {d.code: d.parent for d in departments}
    problems = []
    for d in departments:
        if d.parent is not None and d.parent not in parents:
            problems.append(
                f"Line {lines[d.code]}: parent {d.parent!r} is not a department in this file."
            )
            continue
        seen = {d.code}
        current = d.parent
        while current is not None and current in parents:
            if current in seen:
                problems.append(f"Line {lines[d.code]}: the parents of {d.code!r} form a loop.")
                break
            seen.add(current)
            current = parents[current]
    return problems


def departments_to_csv(departments: list[Department]) -> str:
    """Write departments in the same format ``parse_departments_csv`` reads.

    A name or site starting with ``=``, ``+``, ``-`` or ``@`` gets a leading
    apostrophe, so a spreadsheet shows it as text instead of running it as a
    formula; ``parse_departments_csv`` removes that apostrophe again. A name
    stored with a control character (before the rule refused them) is written
    ``printable``, so the file imports again.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for d in departments:
        name, site = _as_text(printable(d.name)), _as_text(printable(d.site))
        writer.writerow([d.code, name, site, d.headcount, d.parent or ""])
    return out.getvalue()


def _as_text(value: str) -> str:
    return f"'{value}" if value[:1] in FORMULA_STARTS else value


def _from_text(value: str) -> str:
    return value[1:] if value[:1] == "'" and value[1:2] in FORMULA_STARTS else value
