"""The results overview as an Excel workbook, hidden exactly as the page and the CSV.

Department viewers are limited exactly as on the results page (its own
``_filters`` is reused). The export is audited as
``results.export`` with a detail starting ``xlsx``.

The rows and cells are those of ``readiness.results_csv`` (one source of
truth): a hidden or empty group's cells are empty, a refused filter gives the
header and the neutral message only. Numbers are written as numbers; text
cells that a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) keep the CSV's leading ``'``, and every
text cell is stored as a string, never as a formula. A workbook cannot hold
control characters (openpyxl refuses them, and the download would fail for
good), so every text cell is written ``printable``: a name stored with one
before import and edit refused them still downloads.
"""

from __future__ import annotations

import csv
import io

from flask import Blueprint, make_response
from werkzeug.wrappers import Response

from portal.domain.text import printable
from portal.services import readiness
from portal.services.accounts import audit
from portal.web import get_store
from portal.web.admin.results import WAVE, _filters
from portal.web.auth.guard import READERS, reader_scope, require

bp = Blueprint("admin_results_xlsx", __name__, url_prefix="/admin")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Columns holding numbers (responses, response rate, lever indices); the rest is text.
NUMBER_COLUMNS_FROM = 4
#: The response-rate column (0-based), shown with one decimal as in the CSV.
RATE_COLUMN = 5


def _cell(value: str, column: int) -> str | int | float | None:
    """Return a CSV cell as a workbook value: empty → blank, numbers as numbers."""
    if value == "":
        return None
    value = printable(value)
    if column >= NUMBER_COLUMNS_FROM:
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def workbook_bytes(csv_text: str, title: str) -> bytes:
    """Turn the overview's CSV rows into an .xlsx workbook with one sheet."""
    # Imported here: openpyxl is a sixth of the portal's cold start on Lambda (bench/package.py)
    # and only this download needs it.
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = printable(title)[:31]
    for line in csv.reader(io.StringIO(csv_text)):
        row = [_cell(value, i) for i, value in enumerate(line)]
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            # Never let openpyxl read a text starting with "=" as a formula.
            if isinstance(cell.value, str):
                cell.data_type = "s"
            elif cell.column == RATE_COLUMN + 1 and cell.value is not None:
                cell.number_format = "0.0"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@bp.get(WAVE + "/results.xlsx")
@require(*READERS)
def results_xlsx(slug: str, wave_id: str) -> Response:
    """Download the overview as an Excel workbook, hidden exactly as on the page."""
    user, allowed = reader_scope(slug)
    site, audience = _filters()
    store = get_store()
    report = readiness.wave_results(
        store, slug, wave_id, allowed=allowed, site=site, audience=audience
    )
    selection = "".join(
        f"; {part}" for part in (f"site {site}" if site else "", audience or "") if part
    )
    audit(
        store,
        user.email,
        "results.export",
        f"{slug}/{wave_id}",
        f"xlsx; {len(report.rows)} row(s){selection}",
    )
    response = make_response(workbook_bytes(readiness.results_csv(report), "Results"))
    response.mimetype = XLSX
    response.headers["Content-Disposition"] = (
        f'attachment; filename="results-{slug}-{wave_id}.xlsx"'
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
