"""What every page of the scorecard PDF shares: its geometry, tables and page flow.

``Flow`` fills a unit's pages top to bottom and starts a continuation page
(headed "<unit> (continued)") when the next block does not fit above the
footer; ``table_header`` sets a table's column headings, wrapped in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal.render.canvas import PAGE_HEIGHT, PAGE_WIDTH, Canvas
from portal.render.metrics import fit, winansi, wrap
from portal.render.palette import ACCENT, MUTED, RULE
from portal.services.scorecard_model import ScorecardPage

MARGIN = 42.52  # 15 mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
BOTTOM = PAGE_HEIGHT - MARGIN
FOOTER = 14.0
#: The lowest baseline the content of a page may reach, above the footer.
LIMIT = BOTTOM - FOOTER - 4
DASH = "–"


@dataclass
class Column:
    """A table column: its header, width and alignment."""

    header: str
    width: float
    align: str = "left"


class Flow:
    """A unit's pages as they fill: the current canvas and y; a new page once one is full."""

    def __init__(self, page: ScorecardPage) -> None:
        self.page = page
        self.canvases = [Canvas()]
        self.y = 0.0

    @property
    def canvas(self) -> Canvas:
        """Return the page being drawn on."""
        return self.canvases[-1]

    def room(self, height: float) -> None:
        """Start a new page unless ``height`` more points fit on this one."""
        if self.y + height > LIMIT:
            self.next_page()

    def next_page(self) -> None:
        """Start a continuation page of the unit; ``y`` is below its heading."""
        self.canvases.append(Canvas())
        self.y = continued(self.canvas, self.page)


def continued(canvas: Canvas, page: ScorecardPage) -> float:
    """Draw a continuation page's heading: the title and "<unit> (continued)"; return y."""
    texts = page.texts
    y = MARGIN + 8
    canvas.text(MARGIN, y, texts["title"].upper(), size=8, bold=True, colour=ACCENT)
    heading = f"{page.unit_label} ({texts['continued']})"
    for line in wrap(winansi(heading), CONTENT_WIDTH, 12, bold=True):
        y += 16
        canvas.text(MARGIN, y, line, size=12, bold=True)
    return y + 8


def section(canvas: Canvas, title: str, y: float) -> float:
    canvas.text(MARGIN, y, fit(winansi(title), CONTENT_WIDTH, 10.5, bold=True), size=10.5,
                bold=True, colour=ACCENT)  # fmt: skip
    return y + 6


def table_header(canvas: Canvas, columns: Sequence[Column], y: float) -> float:
    lines = [wrap(winansi(c.header), c.width - 8, 6.5, bold=True) or [""] for c in columns]
    height = 8 + 7.5 * max(len(cell) for cell in lines)
    x = MARGIN
    for column, cell in zip(columns, lines, strict=True):
        for index, line in enumerate(cell):
            baseline = y + height - 4 - 7.5 * (len(cell) - 1 - index)
            anchor = x + column.width - 4 if column.align == "right" else x + 4
            canvas.text(anchor, baseline, line, size=6.5, bold=True, colour=MUTED,
                        align=column.align)  # fmt: skip
        x += column.width
    canvas.line(MARGIN, y + height + 1, MARGIN + CONTENT_WIDTH, y + height + 1, colour=RULE)
    return y + height + 1
