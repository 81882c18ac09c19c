"""The scorecard PDF's reinforcement plan: every action in full, over as many pages as it takes.

Each action is a table row whose cells wrap every text (title, description,
lever and origin, roles, due date, KPI and target, status) onto as many lines
as it needs. A row that does not fit the rest of a page moves to the next page
whole, under the repeated table header; only a row taller than a whole page is
split, line by line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from portal.render.canvas import Canvas
from portal.render.metrics import winansi, wrap
from portal.render.palette import ACCENT, INK, MUTED, RULE, TINT
from portal.render.pdf_layout import (
    CONTENT_WIDTH,
    DASH,
    LIMIT,
    MARGIN,
    Column,
    Flow,
    continued,
    section,
    table_header,
)
from portal.services.scorecard_model import PlanLine, ScorecardPage

#: The plan table's column widths in points; the status column takes the rest.
PLAN_COLUMNS = (186.0, 70.0, 70.0, 50.0, 84.0)


def _plan_columns(texts: Mapping[str, str]) -> list[Column]:
    keys = ("action", "owner_role", "mandate", "due", "kpi")
    columns = [Column(texts[key], width) for key, width in zip(keys, PLAN_COLUMNS, strict=True)]
    columns.append(Column(texts["status"], CONTENT_WIDTH - sum(PLAN_COLUMNS)))
    return columns


def plan(flow: Flow, page: ScorecardPage, y: float) -> None:
    """Draw the whole reinforcement plan, continuing on further pages while it lasts.

    Rule: an action that does not fit the rest of a page moves to the next page
    whole (under the repeated table header); only one taller than a whole page is
    split, line by line. Then "+ N more actions" if the scorecard was cut short.
    """
    texts = page.texts
    columns = _plan_columns(texts)
    rows = [_plan_row(page, line, columns) for line in page.plan]
    header = table_header(Canvas(), columns, 0.0)
    flow.y = y
    flow.room(14 + 4 + header + (rows[0].height if rows else 24))
    flow.y = section(flow.canvas, texts["plan"], flow.y + 8)
    if not page.plan:
        for index, line in enumerate(wrap(winansi(texts["no_plan"]), CONTENT_WIDTH - 8, 8.5)):
            canvas_y = flow.y + 12 + 11 * index
            flow.canvas.text(MARGIN + 4, canvas_y, line, size=8.5)
        return
    flow.y = table_header(flow.canvas, columns, flow.y + 4)
    fresh = LIMIT - continued(Canvas(), page) - 4 - header
    drawn = 0
    for whole in rows:
        row: _PlanRow | None = whole
        while row is not None:
            if row.height <= LIMIT - flow.y:
                _draw_plan_row(flow.canvas, columns, row, flow.y, striped=drawn % 2 == 1)
                flow.y += row.height
                drawn += 1
                row = None
                continue
            part = None
            if row.height > fresh:
                part, row = _split_row(row, LIMIT - flow.y)
            if part is not None:
                _draw_plan_row(flow.canvas, columns, part, flow.y, striped=drawn % 2 == 1)
                flow.y += part.height
            flow.canvas.line(MARGIN, flow.y, MARGIN + CONTENT_WIDTH, flow.y, colour=RULE)
            flow.next_page()
            flow.y = table_header(flow.canvas, columns, flow.y + 4)
    flow.canvas.line(MARGIN, flow.y, MARGIN + CONTENT_WIDTH, flow.y, colour=RULE)
    if page.more_actions:
        flow.room(14)
        flow.canvas.text(MARGIN + 4, flow.y + 11, texts["more"].format(count=page.more_actions),
                         size=8, bold=True, colour=ACCENT)  # fmt: skip


_Line = tuple[str, float, bool, str]


@dataclass
class _PlanRow:
    """One plan action laid out: its cells' lines and the row's height."""

    cells: list[list[_Line]]
    height: float


PLAN_LEADING = 1.22


def _row_height(cells: Sequence[Sequence[_Line]]) -> float:
    return max(sum(size * PLAN_LEADING for _, size, _, _ in cell) for cell in cells) + 6


def _split_row(row: _PlanRow, room: float) -> tuple[_PlanRow | None, _PlanRow]:
    """Split a row into the lines that fit ``room`` and the rest (``None`` if none fit)."""
    head: list[list[_Line]] = []
    tail: list[list[_Line]] = []
    for cell in row.cells:
        used = 6.0
        taken = 0
        while taken < len(cell) and used + cell[taken][1] * PLAN_LEADING <= room:
            used += cell[taken][1] * PLAN_LEADING
            taken += 1
        head.append(cell[:taken])
        tail.append(cell[taken:])
    if not any(head):
        return None, row
    return _PlanRow(head, _row_height(head)), _PlanRow(tail, _row_height(tail))


def _draw_plan_row(
    canvas: Canvas, columns: Sequence[Column], row: _PlanRow, y: float, *, striped: bool
) -> None:
    if striped:
        canvas.rect(MARGIN, y, CONTENT_WIDTH, row.height, fill=TINT)
    x = MARGIN
    for column, cell in zip(columns, row.cells, strict=True):
        baseline = y + 4
        for text, size, bold, colour in cell:
            baseline += size * PLAN_LEADING
            canvas.text(x + 4, baseline - size * 0.22, text, size=size, bold=bold, colour=colour)
        x += column.width


def _plan_row(page: ScorecardPage, line: PlanLine, columns: Sequence[Column]) -> _PlanRow:
    texts = page.texts
    widths = [c.width - 8 for c in columns]

    def lines(
        text: str, width: float, size: float, *, bold: bool = False, colour: str = INK
    ) -> list[_Line]:
        return [(part, size, bold, colour) for part in wrap(winansi(text), width, size, bold=bold)]

    meta = [line.lever_label]
    if not line.saved:
        meta.append(texts["suggested"])
    if line.reason:
        meta.append(line.reason)
    if line.from_wave:
        meta.append(f"{texts['carried']} {line.from_wave}")
    action = lines(line.title, widths[0], 8, bold=True)
    action += lines(line.description, widths[0], 7, colour=MUTED)
    action += lines(" · ".join(meta), widths[0], 6.5, colour=ACCENT)
    if line.movement:
        moved = f"{texts['moved'].format(wave=line.from_wave or '')}: {line.movement}"
        action += lines(moved, widths[0], 6.5, colour=ACCENT)
    kpi = lines(line.kpi, widths[4], 7.5)
    kpi += lines(line.kpi_target, widths[4], 7.5, bold=True)
    status_colour = ACCENT if not line.saved else INK
    status = lines(line.status, widths[5], 7.5, bold=not line.saved, colour=status_colour)
    if line.overdue:
        # The word, not a colour alone: the page is often printed in black and white.
        status += lines(texts["overdue"], widths[5], 7.5, bold=True)
    cells = [
        action,
        lines(line.owner_role, widths[1], 7.5),
        lines(line.mandate_holder, widths[2], 7.5),
        lines(line.due.isoformat() if line.due else DASH, widths[3], 7.5),
        kpi,
        status,
    ]
    return _PlanRow(cells=cells, height=_row_height(cells))
