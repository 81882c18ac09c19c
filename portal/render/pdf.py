"""The scorecard PDF: one A4 portrait page per ``ScorecardPage``, written with pydyf.

Pure Python, so it runs on Lambda: the text is set in the standard fonts
Helvetica and Helvetica-Bold with ``WinAnsiEncoding`` (nothing embedded) and
measured with their Adobe metrics (``portal.render.metrics``); characters
WinAnsi lacks are spelled with ones it has (``≥`` as ``>=``). The chart is
drawn with vector operations, the same chart as ``portal.render.svg``.

Every page holds exactly one ``ScorecardPage`` whatever its content: long
texts are wrapped to a fixed number of lines and cut with "…", and a plan
shows as many actions as fit, then "+ N more actions in the portal". Text
stays real text, so ``pdftotext`` reads the numbers and words as printed.
The output is deterministic: no clock, no random identifier.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import pydyf

from portal.render.metrics import ELLIPSIS, fit, text_width, winansi, wrap
from portal.render.numbers import percent
from portal.render.palette import (
    ACCENT,
    GRID,
    INK,
    LIGHT_COLOURS,
    LIGHT_HATCH,
    MUTED,
    RULE,
    TINT,
    rgb,
)
from portal.services.scorecard_model import LeverLine, PlanLine, Scorecard, ScorecardPage

PAGE_WIDTH = 595.28
PAGE_HEIGHT = 841.89
MARGIN = 42.52  # 15 mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
BOTTOM = PAGE_HEIGHT - MARGIN
FOOTER = 14.0
PRODUCER = "Change readiness portal"
DASH = "–"


def scorecard_pdf(card: Scorecard) -> bytes:
    """Return the scorecard as PDF bytes: one A4 page per page of ``card``, in order."""
    document = pydyf.PDF()
    regular = _font(document, "Helvetica")
    bold = _font(document, "Helvetica-Bold")
    resources = pydyf.Dictionary(
        {"Font": pydyf.Dictionary({"F1": regular.reference, "F2": bold.reference})}
    )
    document.add_object(resources)
    for number, page in enumerate(card.pages, start=1):
        canvas = Canvas()
        _draw_page(canvas, page, number, len(card.pages))
        content = pydyf.Stream(canvas.operations, compress=True)
        document.add_object(content)
        document.add_page(
            pydyf.Dictionary(
                {
                    "Type": "/Page",
                    "Parent": document.pages.reference,
                    "MediaBox": pydyf.Array([0, 0, PAGE_WIDTH, PAGE_HEIGHT]),
                    "Contents": content.reference,
                    "Resources": resources.reference,
                }
            )
        )
    texts = card.pages[0].texts if card.pages else {}
    title = " – ".join(p for p in (texts.get("title", ""), card.survey_title, card.wave_name) if p)
    document.info["Title"] = pydyf.String(title)
    document.info["Producer"] = pydyf.String(PRODUCER)
    document.info["Creator"] = pydyf.String(PRODUCER)
    document.catalog["Lang"] = pydyf.String(card.language)
    output = io.BytesIO()
    document.write(output, version=b"1.7", compress=True)
    return output.getvalue()


def _font(document: pydyf.PDF, base: str) -> pydyf.Dictionary:
    font = pydyf.Dictionary(
        {
            "Type": "/Font",
            "Subtype": "/Type1",
            "BaseFont": f"/{base}",
            "Encoding": "/WinAnsiEncoding",
        }
    )
    document.add_object(font)
    return font


class Canvas:
    """Drawing operations in top-down page coordinates (y grows downwards from the top)."""

    def __init__(self) -> None:
        self.operations: list[bytes] = []

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        size: float = 8.0,
        bold: bool = False,
        colour: str = INK,
        align: str = "left",
    ) -> float:
        """Draw one line of ``text`` with its baseline at ``y``; return its width."""
        shown = winansi(text)
        width = text_width(shown, size, bold=bold)
        if align == "right":
            x -= width
        elif align == "center":
            x -= width / 2
        encoded = shown.encode("cp1252", "replace")
        escaped = encoded.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
        self.operations.append(
            b"BT /F%d %s Tf %s rg 1 0 0 1 %s %s Tm (%s) Tj ET"
            % (
                2 if bold else 1,
                _num(size),
                _colour(colour),
                _num(x),
                _num(PAGE_HEIGHT - y),
                escaped,
            )
        )
        return width

    def rect(
        self,
        x: float,
        y: float,
        width: float,
        height: float,
        *,
        fill: str | None = None,
        stroke: str | None = None,
        line_width: float = 0.5,
    ) -> None:
        """Draw a rectangle whose top-left corner is ``(x, y)``."""
        box = b"%s %s %s %s re" % (
            _num(x),
            _num(PAGE_HEIGHT - y - height),
            _num(width),
            _num(height),
        )
        if fill and stroke:
            paint = b"%s rg %s RG %s w %s B" % (
                _colour(fill),
                _colour(stroke),
                _num(line_width),
                box,
            )
        elif fill:
            paint = b"%s rg %s f" % (_colour(fill), box)
        else:
            paint = b"%s RG %s w %s S" % (_colour(stroke or INK), _num(line_width), box)
        self.operations.append(paint)

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        *,
        colour: str = INK,
        width: float = 0.5,
        dash: str = "",
    ) -> None:
        """Draw a straight line."""
        pattern = b"[%s] 0 d" % dash.encode() if dash else b"[] 0 d"
        self.operations.append(
            b"%s RG %s w %s %s %s m %s %s l S"
            % (
                _colour(colour),
                _num(width),
                pattern,
                _num(x1),
                _num(PAGE_HEIGHT - y1),
                _num(x2),
                _num(PAGE_HEIGHT - y2),
            )
        )

    def hatch(self, x: float, y: float, width: float, height: float, kind: str) -> None:
        """Draw white diagonal hatching inside a box (``"stripes"`` or ``"cross"``)."""
        if not kind or width <= 0:
            return
        ops = [
            b"q %s %s %s %s re W n 1 1 1 RG 0.9 w [] 0 d"
            % (_num(x), _num(PAGE_HEIGHT - y - height), _num(width), _num(height))
        ]
        step = 3.5
        bottom = PAGE_HEIGHT - y - height
        offset = -height
        while offset < width:
            ops.append(
                b"%s %s m %s %s l"
                % (_num(x + offset), _num(bottom), _num(x + offset + height), _num(bottom + height))
            )
            if kind == "cross":
                ops.append(
                    b"%s %s m %s %s l"
                    % (
                        _num(x + offset),
                        _num(bottom + height),
                        _num(x + offset + height),
                        _num(bottom),
                    )
                )
            offset += step
        ops.append(b"S Q")
        self.operations.append(b" ".join(ops))


def _num(value: float) -> bytes:
    """Return a PDF number: two decimals at most, no trailing zeros (so output is stable)."""
    text = (b"%.2f" % value).rstrip(b"0").rstrip(b".")
    return b"0" if text in (b"", b"-0", b"-") else text


@lru_cache(maxsize=64)
def _colour(colour: str) -> bytes:
    return b"%s %s %s" % tuple(_num(c) for c in rgb(colour))


@dataclass
class _Column:
    """A table column: its header, width and alignment."""

    header: str
    width: float
    align: str = "left"


def _draw_page(canvas: Canvas, page: ScorecardPage, number: int, count: int) -> None:
    texts = page.texts
    y = _header(canvas, page)
    if not page.published:
        _not_published(canvas, texts, y)
    else:
        y = _lever_table(canvas, page, y + 6)
        y = _chart(canvas, page, y + 12)
        y = _barrier(canvas, page, y + 10)
        _plan(canvas, page, y + 12)
    _footer(canvas, page, number, count)


def _header(canvas: Canvas, page: ScorecardPage) -> float:
    """Draw the title block and the facts row; return the y below it."""
    texts = page.texts
    left = MARGIN
    y = MARGIN + 8
    canvas.text(left, y, texts["title"].upper(), size=8, bold=True, colour=ACCENT)
    computed = f"{texts['computed']} {page.computed_on.isoformat()}"
    canvas.text(PAGE_WIDTH - MARGIN, y, computed, size=7.5, colour=MUTED, align="right")
    y += 20
    canvas.text(left, y, fit(winansi(page.unit_label), CONTENT_WIDTH, 18, bold=True), size=18,
                bold=True)  # fmt: skip
    y += 14
    subject = " – ".join(p for p in (page.survey_title, page.system_name) if p)
    canvas.text(left, y, fit(winansi(subject), CONTENT_WIDTH, 9.5), size=9.5, colour=MUTED)
    y += 10
    responses = str(page.responses) if page.responses is not None else DASH
    rate = DASH
    if page.response_rate is not None and page.responses is not None:
        rate = f"{percent(page.responses, page.headcount)} %"

    facts = [
        (texts["wave"], page.wave_name),
        (texts["site"], page.site or DASH),
        (f"{texts['responses']} / {texts['headcount']}", f"{responses} / {page.headcount}"),
        (texts["response_rate"], rate),
        (texts["min_group"], str(page.min_group_size)),
    ]
    widths = [112.0, 100.0, 112.0, 92.0]
    widths.append(CONTENT_WIDTH - sum(widths))
    canvas.rect(left, y, CONTENT_WIDTH, 34, fill=TINT)
    x = left
    for (label, value), width in zip(facts, widths, strict=True):
        inner = width - 12
        label_lines = wrap(winansi(label), inner, 6.5, lines=2)
        label_y = y + 10 if len(label_lines) == 1 else y + 8
        for offset, line in enumerate(label_lines):
            canvas.text(x + 8, label_y + offset * 7, line, size=6.5, colour=MUTED)
        warn = label == texts["response_rate"] and (page.low_response or page.over_headcount)
        canvas.text(x + 8, y + 27, fit(winansi(value), inner, 10, bold=True), size=10, bold=True,
                    colour=LIGHT_COLOURS["red"] if warn else INK)  # fmt: skip
        x += width
    y += 34
    # At most one of the two: a rate is either under 60 % or above 100 %.
    warning = "low_response" if page.low_response else "over_headcount"
    if page.low_response or page.over_headcount:
        y += 11
        canvas.rect(left, y - 6.5, 7, 7, fill=LIGHT_COLOURS["red"])
        canvas.text(left + 11, y, fit(winansi(texts[warning]), CONTENT_WIDTH - 11, 8),
                    size=8, colour=LIGHT_COLOURS["red"], bold=True)  # fmt: skip
    return y + 8


def _not_published(canvas: Canvas, texts: Mapping[str, str], y: float) -> None:
    lines = wrap(winansi(texts["not_published"]), CONTENT_WIDTH - 32, 11, lines=6)
    height = 24 + 15 * len(lines)
    canvas.rect(MARGIN, y + 10, CONTENT_WIDTH, height, fill=TINT, stroke=RULE)
    for index, line in enumerate(lines):
        canvas.text(MARGIN + 16, y + 31 + 15 * index, line, size=11)


def _section(canvas: Canvas, title: str, y: float) -> float:
    canvas.text(MARGIN, y, fit(winansi(title), CONTENT_WIDTH, 10.5, bold=True), size=10.5,
                bold=True, colour=ACCENT)  # fmt: skip
    return y + 6


def _signed(value: int) -> str:
    return f"{value:+d}" if value else "0"


def _lever_table(canvas: Canvas, page: ScorecardPage, y: float) -> float:
    """Draw one row per lever; return the y below the table."""
    texts = page.texts
    change_header = texts["change"]
    if page.previous_wave_name:
        change_header = f"{texts['change']} {texts['since']} {page.previous_wave_name}"
    columns = [
        _Column(texts["lever"], 106),
        _Column(texts["score"], 34, "right"),
        _Column(texts["target"], 34, "right"),
        _Column(texts["light"], 104),
        _Column(texts["gap"], 38, "right"),
        _Column(texts["employees"], 52, "right"),
        _Column(texts["managers"], 44, "right"),
    ]
    columns.append(_Column(change_header, CONTENT_WIDTH - sum(c.width for c in columns)))
    y = _table_header(canvas, columns, y)
    row_height = 14.0 if len(page.levers) <= 9 else max(8.0, 126 / len(page.levers))
    size = 8.0 if row_height >= 14 else 7.0
    for row, lever in enumerate(page.levers):
        if row % 2:
            canvas.rect(MARGIN, y, CONTENT_WIDTH, row_height, fill=TINT)
        baseline = y + row_height / 2 + size * 0.36
        cells = _lever_cells(page, lever)
        x = MARGIN
        for index, (column, cell) in enumerate(zip(columns, cells, strict=True)):
            inner = column.width - 8
            if index == 3:
                colour = LIGHT_COLOURS.get(lever.light, LIGHT_COLOURS["none"])
                canvas.rect(x + 4, baseline - 6.5, 7, 7, fill=colour)
                canvas.hatch(x + 4, baseline - 6.5, 7, 7, LIGHT_HATCH.get(lever.light, ""))
                shown, fitted = _shrink(cell, inner - 11, size)
                canvas.text(x + 15, baseline, shown, size=fitted)
            elif index == 0:
                label, fitted = _shrink(cell, inner, size, bold=True)
                width = canvas.text(x + 4, baseline, label, size=fitted, bold=True)
                if lever.outcome and label == winansi(cell):
                    note = fit(winansi(f"({texts['outcome']})"), inner - width - 3, 6.5)
                    if not note.startswith(ELLIPSIS):
                        canvas.text(x + 7 + width, baseline, note, size=6.5, colour=MUTED)
            else:
                muted = index == 1 and lever.index is None
                shown, fitted = _shrink(cell, inner, size, bold=index == 1 and not muted)
                anchor = x + column.width - 4 if column.align == "right" else x + 4
                canvas.text(anchor, baseline, shown, size=fitted, bold=index == 1 and not muted,
                            align=column.align, colour=MUTED if muted else INK)  # fmt: skip
            x += column.width
        y += row_height
    canvas.line(MARGIN, y, MARGIN + CONTENT_WIDTH, y, colour=RULE)
    if not page.previous_wave_name:
        y += 10
        canvas.text(MARGIN + 4, y, fit(winansi(texts["no_previous"]), CONTENT_WIDTH - 8, 7),
                    size=7, colour=MUTED)  # fmt: skip
    return y


def _shrink(
    text: str, width: float, size: float, *, bold: bool = False, smallest: float = 6.5
) -> tuple[str, float]:
    """Return ``text`` and a font size at which it fits ``width``: smaller first, then cut."""
    shown = winansi(text)
    fitted = size
    while fitted > smallest and text_width(shown, fitted, bold=bold) > width:
        fitted = round(fitted - 0.25, 2)
    return fit(shown, width, fitted, bold=bold), fitted


def _lever_cells(page: ScorecardPage, lever: LeverLine) -> list[str]:
    texts = page.texts

    def number(value: int | None) -> str:
        return DASH if value is None else str(value)

    if lever.change is not None and lever.trend_word:
        change = texts["points"].format(change=_signed(lever.change), trend=lever.trend_word)
    else:
        change = lever.trend_word or DASH
    suppressed = lever.index is None
    return [
        lever.label,
        DASH if suppressed else str(lever.index),
        str(lever.target),
        texts["not_enough"] if suppressed else lever.light_word,
        DASH if lever.gap_to_target is None else _signed(lever.gap_to_target),
        number(lever.employees),
        number(lever.managers),
        change,
    ]


def _table_header(canvas: Canvas, columns: Sequence[_Column], y: float) -> float:
    lines = [wrap(winansi(c.header), c.width - 8, 6.5, bold=True, lines=2) for c in columns]
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


def _chart(canvas: Canvas, page: ScorecardPage, y: float) -> float:
    """Draw the bar chart of the levers (as ``lever_chart_svg``); return the y below it."""
    texts = page.texts
    y = _section(canvas, texts["chart"], y + 8)
    label_width = 112.0
    left = MARGIN + label_width + 8
    right = MARGIN + CONTENT_WIDTH - 34
    scale = (right - left) / 100
    row = 14.0 if len(page.levers) <= 9 else max(7.0, 126 / len(page.levers))
    bar = row * 0.6
    top = y + 12
    bottom = top + row * len(page.levers)
    for value in (0, 25, 50, 75, 100):
        x = left + value * scale
        canvas.line(x, top - 3, x, bottom, colour=GRID)
        canvas.text(x, top - 5, str(value), size=6.5, colour=MUTED, align="center")
    for index, lever in enumerate(page.levers):
        middle = top + row * index + row / 2
        if lever.outcome and index and not page.levers[index - 1].outcome:
            # The outcome lever is what the others drive: set it apart, as the SVG does.
            canvas.line(MARGIN, middle - row / 2, right, middle - row / 2, colour=RULE, dash="2 2")
        canvas.text(MARGIN, middle + 2.6, fit(winansi(lever.label), label_width, 7.5), size=7.5)
        tick = left + min(100, max(0, lever.target)) * scale
        if lever.index is None:
            canvas.text(left + 4, middle + 2.6, texts["not_enough"], size=7, colour=MUTED)
            canvas.line(tick, middle - bar / 2 - 2, tick, middle + bar / 2 + 2, width=1.6)
            continue
        end = left + min(100, max(0, lever.index)) * scale
        colour = LIGHT_COLOURS.get(lever.light, LIGHT_COLOURS["none"])
        canvas.rect(left, middle - bar / 2, end - left, bar, fill=colour)
        canvas.hatch(left, middle - bar / 2, end - left, bar, LIGHT_HATCH.get(lever.light, ""))
        label_at = end
        if lever.low is not None and lever.high is not None:
            low = left + min(100, max(0, lever.low)) * scale
            high = left + min(100, max(0, lever.high)) * scale
            canvas.line(low, middle, high, middle, width=0.7)
            canvas.line(low, middle - 2.5, low, middle + 2.5, width=0.7)
            canvas.line(high, middle - 2.5, high, middle + 2.5, width=0.7)
            label_at = max(label_at, high)
        canvas.line(tick, middle - bar / 2 - 2, tick, middle + bar / 2 + 2, width=1.6)
        if 0 < tick - label_at < 14:
            label_at = tick
        canvas.text(label_at + 4, middle + 2.7, str(lever.index), size=7.5, bold=True)
    return _legend(canvas, texts, left, bottom + 11)


def _legend(canvas: Canvas, texts: Mapping[str, str], x: float, y: float) -> float:
    for light in ("green", "amber", "red"):
        canvas.rect(x, y - 6, 9, 7, fill=LIGHT_COLOURS[light])
        canvas.hatch(x, y - 6, 9, 7, LIGHT_HATCH[light])
        x += 13 + canvas.text(x + 13, y, texts[light], size=6.5, colour=MUTED) + 12
    canvas.line(x + 1, y - 7, x + 1, y + 2, width=1.6)
    canvas.text(x + 6, y, texts["target"], size=6.5, colour=MUTED)
    return y + 2


def _barrier(canvas: Canvas, page: ScorecardPage, y: float) -> float:
    """Draw the barrier sentence in a tinted band; return the y below it."""
    if not page.barrier_sentence:
        return y
    label = winansi(page.texts["barrier"])
    label_width = text_width(label, 9, bold=True) + 10
    lines = wrap(winansi(page.barrier_sentence), CONTENT_WIDTH - label_width - 20, 9, lines=3)
    height = 10 + 11 * len(lines)
    canvas.rect(MARGIN, y, CONTENT_WIDTH, height, fill=TINT)
    # Red when a lever holds the change back, green when none does.
    canvas.rect(MARGIN, y, 3, height, fill=LIGHT_COLOURS["red" if page.barrier_lever else "green"])
    canvas.text(MARGIN + 10, y + 14, label, size=9, bold=True)
    for index, line in enumerate(lines):
        canvas.text(MARGIN + 10 + label_width, y + 14 + 11 * index, line, size=9)
    return y + height


@dataclass
class _PlanRow:
    """One plan action laid out: its cells' lines and the row's height."""

    cells: list[list[tuple[str, float, bool, str]]]
    height: float


PLAN_LEADING = 1.22


def _plan(canvas: Canvas, page: ScorecardPage, y: float) -> None:
    """Draw the reinforcement plan: as many actions as fit above the footer, then a count."""
    texts = page.texts
    y = _section(canvas, texts["plan"], y + 8)
    limit = BOTTOM - FOOTER - 4
    if not page.plan:
        lines = wrap(winansi(texts["no_plan"]), CONTENT_WIDTH - 8, 8.5, lines=2)
        for index, line in enumerate(lines):
            canvas.text(MARGIN + 4, y + 12 + 11 * index, line, size=8.5)
        return
    columns = [
        _Column(texts["action"], 186),
        _Column(texts["owner_role"], 70),
        _Column(texts["mandate"], 70),
        _Column(texts["due"], 50),
        _Column(texts["kpi"], 84),
    ]
    columns.append(_Column(texts["status"], CONTENT_WIDTH - sum(c.width for c in columns)))
    y = _table_header(canvas, columns, y + 4)
    rows = [_plan_row(page, line, columns) for line in page.plan]
    more_height = 14.0
    shown = 0
    for index, row in enumerate(rows):
        left_over = len(rows) - index - 1 + page.more_actions
        needed = row.height + (more_height if left_over else 0)
        if y + needed > limit:
            break
        if index % 2:
            canvas.rect(MARGIN, y, CONTENT_WIDTH, row.height, fill=TINT)
        x = MARGIN
        for column, cell in zip(columns, row.cells, strict=True):
            baseline = y + 4
            for text, size, bold, colour in cell:
                baseline += size * PLAN_LEADING
                canvas.text(x + 4, baseline - size * 0.22, text, size=size, bold=bold,
                            colour=colour)  # fmt: skip
            x += column.width
        y += row.height
        shown += 1
    canvas.line(MARGIN, y, MARGIN + CONTENT_WIDTH, y, colour=RULE)
    more = len(rows) - shown + page.more_actions
    if more:
        canvas.text(MARGIN + 4, y + 11, texts["more"].format(count=more), size=8, bold=True,
                    colour=ACCENT)  # fmt: skip


def _plan_row(page: ScorecardPage, line: PlanLine, columns: Sequence[_Column]) -> _PlanRow:
    texts = page.texts
    widths = [c.width - 8 for c in columns]

    def lines(
        text: str, width: float, size: float, count: int, *, bold: bool = False, colour: str = INK
    ) -> list[tuple[str, float, bool, str]]:
        return [
            (part, size, bold, colour)
            for part in wrap(winansi(text), width, size, bold=bold, lines=count)
        ]

    meta = [line.lever_label]
    if not line.saved:
        meta.append(texts["suggested"])
    if line.reason:
        meta.append(line.reason)
    if line.from_wave:
        meta.append(f"{texts['carried']} {line.from_wave}")
    action = lines(line.title, widths[0], 8, 2, bold=True)
    action += lines(line.description, widths[0], 7, 2, colour=MUTED)
    action += lines(" · ".join(meta), widths[0], 6.5, 1, colour=ACCENT)
    if line.movement:
        action += lines(
            f"{texts['moved'].format(wave=line.from_wave or '')}: {line.movement}",
            widths[0],
            6.5,
            1,
            colour=ACCENT,
        )
    kpi = lines(line.kpi, widths[4], 7.5, 2)
    kpi += lines(line.kpi_target, widths[4], 7.5, 2, bold=True)
    status_colour = ACCENT if not line.saved else INK
    cells = [
        action,
        lines(line.owner_role, widths[1], 7.5, 4),
        lines(line.mandate_holder, widths[2], 7.5, 4),
        lines(line.due.isoformat() if line.due else DASH, widths[3], 7.5, 1),
        kpi,
        lines(line.status, widths[5], 7.5, 3, bold=not line.saved, colour=status_colour),
    ]
    height = max(sum(size * PLAN_LEADING for _, size, _, _ in cell) for cell in cells) + 6
    return _PlanRow(cells=cells, height=height)


def _footer(canvas: Canvas, page: ScorecardPage, number: int, count: int) -> None:
    y = BOTTOM
    canvas.line(MARGIN, y - 9, MARGIN + CONTENT_WIDTH, y - 9, colour=GRID)
    parts = (page.texts["title"], page.survey_title, page.wave_name, page.unit_label)
    left = fit(winansi(" · ".join(p for p in parts if p)), CONTENT_WIDTH - 60, 6.5)
    canvas.text(MARGIN, y, left, size=6.5, colour=MUTED)
    canvas.text(MARGIN + CONTENT_WIDTH, y, f"{number} / {count}", size=6.5, colour=MUTED,
                align="right")  # fmt: skip
