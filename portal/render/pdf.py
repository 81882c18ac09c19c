"""The scorecard PDF: each unit starts an A4 portrait page, written with pydyf.

Pure Python, so it runs on Lambda: the text is set in the standard fonts
Helvetica and Helvetica-Bold with ``WinAnsiEncoding`` (nothing embedded) and
measured with their Adobe metrics (``portal.render.metrics``); characters
WinAnsi lacks are spelled with ones it has (``≥`` as ``>=``). The chart is
drawn with vector operations, the same chart as ``portal.render.svg``.

Everything is printed in full: names, wave names, the barrier sentence and
every plan action (title, description, roles, KPI and target, status) wrap
onto as many lines as they need, and a plan that does not fit continues on
further pages under a "(continued)" heading and the repeated table header;
an action moves to the next page whole unless it is taller than a page.
Only the chart's lever names (in full in the table above it) and the running
footer are shortened with "…". Text stays real text, so ``pdftotext`` reads
the numbers and words as printed. The output is deterministic: no clock, no
random identifier.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import pydyf

from portal.render.canvas import PAGE_HEIGHT, PAGE_WIDTH, Canvas
from portal.render.metrics import fit, text_width, winansi, wrap
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
)
from portal.render.pdf_layout import (
    BOTTOM,
    CONTENT_WIDTH,
    DASH,
    MARGIN,
    Column,
    Flow,
    section,
    table_header,
)
from portal.render.pdf_plan import plan
from portal.services.scorecard_model import LeverLine, Scorecard, ScorecardPage

PRODUCER = "Change readiness portal"


def scorecard_pdf(card: Scorecard) -> bytes:
    """Return the scorecard as PDF bytes: each page of ``card`` from a new A4 page, in order."""
    document = pydyf.PDF()
    regular = _font(document, "Helvetica")
    bold = _font(document, "Helvetica-Bold")
    resources = pydyf.Dictionary(
        {"Font": pydyf.Dictionary({"F1": regular.reference, "F2": bold.reference})}
    )
    document.add_object(resources)
    laid_out = [(canvas, page) for page in card.pages for canvas in _unit_pages(page)]
    for number, (canvas, page) in enumerate(laid_out, start=1):
        _footer(canvas, page, number, len(laid_out))
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


def _unit_pages(page: ScorecardPage) -> list[Canvas]:
    """Lay out one unit; return its pages (one, or more for a long plan), footers not drawn."""
    flow = Flow(page)
    flow.y = _header(flow.canvas, page)
    if not page.published:
        _not_published(flow.canvas, page.texts, flow.y)
        return flow.canvases
    flow.y = _lever_table(flow.canvas, page, flow.y + 6)
    flow.room(_chart_height(page) + 12)
    flow.y = _chart(flow.canvas, page, flow.y + 12)
    _barrier(flow, page, flow.y + 10)
    plan(flow, page, flow.y + 12)
    return flow.canvases


def _header(canvas: Canvas, page: ScorecardPage) -> float:
    """Draw the title block and the facts row, every text wrapped in full; return the y below."""
    texts = page.texts
    left = MARGIN
    y = MARGIN + 8
    canvas.text(left, y, texts["title"].upper(), size=8, bold=True, colour=ACCENT)
    computed = f"{texts['computed']} {page.computed_on.isoformat()}"
    canvas.text(PAGE_WIDTH - MARGIN, y, computed, size=7.5, colour=MUTED, align="right")
    y += 20
    names = wrap(winansi(page.unit_label), CONTENT_WIDTH, 18, bold=True) or [""]
    for index, line in enumerate(names):
        canvas.text(left, y + 20 * index, line, size=18, bold=True)
    y += 20 * (len(names) - 1) + 14
    subject = " – ".join(p for p in (page.survey_title, page.system_name) if p)
    subjects = wrap(winansi(subject), CONTENT_WIDTH, 9.5) or [""]
    for index, line in enumerate(subjects):
        canvas.text(left, y + 11 * index, line, size=9.5, colour=MUTED)
    y += 11 * (len(subjects) - 1) + 10
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
    cells = [
        (wrap(winansi(label), width - 12, 6.5), wrap(winansi(value), width - 12, 10, bold=True))
        for (label, value), width in zip(facts, widths, strict=True)
    ]
    height = max(34.0, *(9 + 7 * len(lab) + 11 * len(val) + 2 for lab, val in cells))
    canvas.rect(left, y, CONTENT_WIDTH, height, fill=TINT)
    x = left
    for (label, _), width, (label_lines, value_lines) in zip(facts, widths, cells, strict=True):
        for offset, line in enumerate(label_lines):
            canvas.text(x + 8, y + 10 + offset * 7, line, size=6.5, colour=MUTED)
        warn = label == texts["response_rate"] and (page.low_response or page.over_headcount)
        top = y + 10 + 7 * (len(label_lines) - 1) + 14
        for offset, line in enumerate(value_lines):
            canvas.text(x + 8, top + 11 * offset, line, size=10, bold=True,
                        colour=LIGHT_COLOURS["red"] if warn else INK)  # fmt: skip
        x += width
    y += height
    # At most one of the two: a rate is either under 60 % or above 100 %.
    warning = "low_response" if page.low_response else "over_headcount"
    if page.low_response or page.over_headcount:
        y += 11
        canvas.rect(left, y - 6.5, 7, 7, fill=LIGHT_COLOURS["red"])
        lines = wrap(winansi(texts[warning]), CONTENT_WIDTH - 11, 8, bold=True)
        for index, line in enumerate(lines):
            canvas.text(left + 11, y + 10 * index, line, size=8, colour=LIGHT_COLOURS["red"],
                        bold=True)  # fmt: skip
        y += 10 * (len(lines) - 1)
    return y + 8


def _not_published(canvas: Canvas, texts: Mapping[str, str], y: float) -> None:
    lines = wrap(winansi(texts["not_published"]), CONTENT_WIDTH - 32, 11, lines=6)
    height = 24 + 15 * len(lines)
    canvas.rect(MARGIN, y + 10, CONTENT_WIDTH, height, fill=TINT, stroke=RULE)
    for index, line in enumerate(lines):
        canvas.text(MARGIN + 16, y + 31 + 15 * index, line, size=11)


def _signed(value: int) -> str:
    return f"{value:+d}" if value else "0"


def _lever_table(canvas: Canvas, page: ScorecardPage, y: float) -> float:
    """Draw one row per lever, names and changes wrapped in full; return the y below."""
    texts = page.texts
    change_header = texts["change"]
    if page.previous_wave_name:
        change_header = f"{texts['change']} {texts['since']} {page.previous_wave_name}"
    columns = [
        Column(texts["lever"], 106),
        Column(texts["score"], 34, "right"),
        Column(texts["target"], 34, "right"),
        Column(texts["light"], 104),
        Column(texts["gap"], 38, "right"),
        Column(texts["employees"], 52, "right"),
        Column(texts["managers"], 44, "right"),
    ]
    columns.append(Column(change_header, CONTENT_WIDTH - sum(c.width for c in columns)))
    y = table_header(canvas, columns, y)
    least = 14.0 if len(page.levers) <= 9 else max(8.0, 126 / len(page.levers))
    size = 8.0 if least >= 14 else 7.0
    lead = size * 1.2
    note = winansi(f"({texts['outcome']})")
    for row, lever in enumerate(page.levers):
        cells = _lever_cells(page, lever)
        names = wrap(winansi(cells[0]), columns[0].width - 8, size, bold=True) or [""]
        # The outcome note follows the name on its last line, or takes a line of its own.
        note_inline = lever.outcome and (
            text_width(names[-1], size, bold=True) + 3 + text_width(note, 6.5)
            <= columns[0].width - 8
        )
        name_lines = len(names) + (1 if lever.outcome and not note_inline else 0)
        changes = wrap(winansi(cells[-1]), columns[-1].width - 8, size) or [""]
        height = max(least, 4 + lead * max(name_lines, len(changes)))
        if row % 2:
            canvas.rect(MARGIN, y, CONTENT_WIDTH, height, fill=TINT)
        first = y + height / 2 - lead * (max(name_lines, len(changes)) - 1) / 2 + size * 0.36
        x = MARGIN
        for index, (column, cell) in enumerate(zip(columns, cells, strict=True)):
            inner = column.width - 8
            if index == 0:
                for offset, line in enumerate(names):
                    width = canvas.text(x + 4, first + lead * offset, line, size=size, bold=True)
                if lever.outcome:
                    if note_inline:
                        at, baseline = x + 7 + width, first + lead * (len(names) - 1)
                    else:
                        at, baseline = x + 4, first + lead * len(names)
                    canvas.text(at, baseline, note, size=6.5, colour=MUTED)
            elif index == len(columns) - 1:
                for offset, line in enumerate(changes):
                    canvas.text(x + 4, first + lead * offset, line, size=size)
            elif index == 3:
                colour = LIGHT_COLOURS.get(lever.light, LIGHT_COLOURS["none"])
                canvas.rect(x + 4, first - 6.5, 7, 7, fill=colour)
                canvas.hatch(x + 4, first - 6.5, 7, 7, LIGHT_HATCH.get(lever.light, ""))
                shown, fitted = _shrink(cell, inner - 11, size)
                canvas.text(x + 15, first, shown, size=fitted)
            else:
                muted = index == 1 and lever.index is None
                shown, fitted = _shrink(cell, inner, size, bold=index == 1 and not muted)
                anchor = x + column.width - 4 if column.align == "right" else x + 4
                canvas.text(anchor, first, shown, size=fitted, bold=index == 1 and not muted,
                            align=column.align, colour=MUTED if muted else INK)  # fmt: skip
            x += column.width
        y += height
    canvas.line(MARGIN, y, MARGIN + CONTENT_WIDTH, y, colour=RULE)
    if not page.previous_wave_name:
        for line in wrap(winansi(texts["no_previous"]), CONTENT_WIDTH - 8, 7):
            y += 10
            canvas.text(MARGIN + 4, y, line, size=7, colour=MUTED)
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


def _chart_row(page: ScorecardPage) -> float:
    return 14.0 if len(page.levers) <= 9 else max(7.0, 126 / len(page.levers))


def _chart_height(page: ScorecardPage) -> float:
    """Return the height ``_chart`` takes: heading, axis, one row per lever, legend."""
    return 8 + 6 + 12 + _chart_row(page) * len(page.levers) + 13


def _chart(canvas: Canvas, page: ScorecardPage, y: float) -> float:
    """Draw the bar chart of the levers (as ``lever_chart_svg``); return the y below it."""
    texts = page.texts
    y = section(canvas, texts["chart"], y + 8)
    label_width = 112.0
    left = MARGIN + label_width + 8
    right = MARGIN + CONTENT_WIDTH - 34
    scale = (right - left) / 100
    row = _chart_row(page)
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
        _chart_label(canvas, winansi(lever.label), label_width, middle, row)
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


def _chart_label(canvas: Canvas, label: str, width: float, middle: float, row: float) -> None:
    """Draw a lever's name beside its bar: one line, else two smaller ones (then cut).

    The lever table above the chart carries every name in full.
    """
    if text_width(label, 7.5) <= width or row < 13:
        canvas.text(MARGIN, middle + 2.6, fit(label, width, 7.5), size=7.5)
        return
    first, *rest = wrap(label, width, 6.2, lines=2)
    canvas.text(MARGIN, middle - 0.6, first, size=6.2)
    if rest:
        canvas.text(MARGIN, middle + 5.8, rest[0], size=6.2)


def _legend(canvas: Canvas, texts: Mapping[str, str], x: float, y: float) -> float:
    for light in ("green", "amber", "red"):
        canvas.rect(x, y - 6, 9, 7, fill=LIGHT_COLOURS[light])
        canvas.hatch(x, y - 6, 9, 7, LIGHT_HATCH[light])
        x += 13 + canvas.text(x + 13, y, texts[light], size=6.5, colour=MUTED) + 12
    canvas.line(x + 1, y - 7, x + 1, y + 2, width=1.6)
    canvas.text(x + 6, y, texts["target"], size=6.5, colour=MUTED)
    return y + 2


def _barrier(flow: Flow, page: ScorecardPage, y: float) -> None:
    """Draw the barrier sentence, in full, in a tinted band; leave ``flow.y`` below it."""
    flow.y = y
    if not page.barrier_sentence:
        return
    label = winansi(page.texts["barrier"])
    label_width = text_width(label, 9, bold=True) + 10
    lines = wrap(winansi(page.barrier_sentence), CONTENT_WIDTH - label_width - 20, 9)
    height = 10 + 11 * len(lines)
    flow.room(height)
    canvas, y = flow.canvas, flow.y
    canvas.rect(MARGIN, y, CONTENT_WIDTH, height, fill=TINT)
    # Red when a lever holds the change back, green when none does.
    canvas.rect(MARGIN, y, 3, height, fill=LIGHT_COLOURS["red" if page.barrier_lever else "green"])
    canvas.text(MARGIN + 10, y + 14, label, size=9, bold=True)
    for index, line in enumerate(lines):
        canvas.text(MARGIN + 10 + label_width, y + 14 + 11 * index, line, size=9)
    flow.y = y + height


def _footer(canvas: Canvas, page: ScorecardPage, number: int, count: int) -> None:
    y = BOTTOM
    canvas.line(MARGIN, y - 9, MARGIN + CONTENT_WIDTH, y - 9, colour=GRID)
    parts = (page.texts["title"], page.survey_title, page.wave_name, page.unit_label)
    left = fit(winansi(" · ".join(p for p in parts if p)), CONTENT_WIDTH - 60, 6.5)
    canvas.text(MARGIN, y, left, size=6.5, colour=MUTED)
    canvas.text(MARGIN + CONTENT_WIDTH, y, f"{number} / {count}", size=6.5, colour=MUTED,
                align="right")  # fmt: skip
