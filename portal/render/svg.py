"""Server-made SVG charts of a scorecard page, for the printable HTML scorecard.

The charts are plain markup: no script, no ``style`` attribute or element
(the Content-Security-Policy forbids inline styles), only presentation
attributes. They scale with their ``viewBox`` (give the ``<svg>`` a CSS width
of 100 %) and stay readable at A4 print width. Every text from data is
escaped. Each chart's ids carry a prefix made from its page, so many charts
can share one HTML document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from html import escape

from portal.render.metrics import fit, text_width
from portal.render.palette import (
    EMPLOYEES,
    GRID,
    INK,
    LIGHT_COLOURS,
    LIGHT_HATCH,
    MANAGERS,
    MUTED,
    RULE,
)
from portal.services.scorecard_model import LeverLine, ScorecardPage

WIDTH = 720
LABEL_WIDTH = 196
PLOT_LEFT = 210
PLOT_RIGHT = 650
ROW = 30
BAR = 16
TOP = 30
FONT = 13
FONT_FAMILY = "Helvetica, Arial, sans-serif"
GRIDLINES = (0, 25, 50, 75, 100)


def lever_chart_svg(page: ScorecardPage) -> str:
    """Return the page's levers as a horizontal bar chart in SVG markup.

    One row per lever: a bar from 0 to the index, coloured and hatched by the
    traffic light, the index printed at the bar's end, the confidence interval
    (``low``–``high``) as a thin whisker and the target as a dark tick. A
    lever without a published index (``index is None``) gets no bar, whisker
    or number, only the page's "not enough responses" text.
    """
    texts = page.texts
    ids = _ids(page, "levers")
    height = TOP + ROW * len(page.levers) + 46
    out = [_open(ids, height, texts["chart"], _lever_summary(page))]
    out.append(_hatch_defs(ids))
    out.extend(_grid(TOP, TOP + ROW * len(page.levers)))
    previous_outcome = False
    for row, lever in enumerate(page.levers):
        y = TOP + row * ROW
        if lever.outcome and not previous_outcome and row > 0:
            out.append(_line(0, y, PLOT_RIGHT, y, RULE, dash="4 3"))
        previous_outcome = lever.outcome
        out.append(_label(lever.label, y, outcome_word=texts["outcome"] if lever.outcome else ""))
        out.extend(_lever_bar(ids, lever, y, texts))
    out.extend(_light_legend(ids, TOP + ROW * len(page.levers) + 26, texts))
    out.append("</svg>")
    return "".join(out)


def audience_chart_svg(page: ScorecardPage) -> str:
    """Return employees' and managers' index per lever as paired dots in SVG markup.

    Employees are a filled circle, managers a hollow diamond, joined by a line
    that shows the gap; both numbers are printed at the right. A side that is
    not published is left out; a lever with neither shows "not enough responses".
    """
    texts = page.texts
    ids = _ids(page, "audience")
    height = TOP + ROW * len(page.levers) + 46
    summary = "; ".join(
        f"{lever.label}: {texts['employees']} {_number(lever.employees, texts)}, "
        f"{texts['managers']} {_number(lever.managers, texts)}"
        for lever in page.levers
    )
    title = f"{texts['employees']} / {texts['managers']}"
    out = [_open(ids, height, title, summary)]
    out.extend(_grid(TOP, TOP + ROW * len(page.levers)))
    for row, lever in enumerate(page.levers):
        y = TOP + row * ROW
        middle = y + ROW / 2
        out.append(_label(lever.label, y, outcome_word=texts["outcome"] if lever.outcome else ""))
        values = [v for v in (lever.employees, lever.managers) if v is not None]
        if not values:
            out.append(_text(PLOT_LEFT + 6, middle + 4, texts["not_enough"], fill=MUTED,
                             italic=True))  # fmt: skip
            continue
        if len(values) == 2:
            out.append(_line(_x(min(values)), middle, _x(max(values)), middle, RULE, width=3))
        if lever.employees is not None:
            out.append(_circle(_x(lever.employees), middle, 6, EMPLOYEES))
        if lever.managers is not None:
            out.append(_diamond(_x(lever.managers), middle, 7, MANAGERS))
        shown = f"{_number(lever.employees, texts, '–')} / {_number(lever.managers, texts, '–')}"
        out.append(_text(WIDTH - 4, middle + 4, shown, anchor="end", fill=INK))
    legend_y = TOP + ROW * len(page.levers) + 26
    out.append(_circle(PLOT_LEFT + 6, legend_y - 4, 6, EMPLOYEES))
    out.append(_text(PLOT_LEFT + 18, legend_y, texts["employees"], fill=INK))
    managers_x = PLOT_LEFT + 36 + _estimate(texts["employees"])
    out.append(_diamond(managers_x, legend_y - 4, 7, MANAGERS))
    out.append(_text(managers_x + 12, legend_y, texts["managers"], fill=INK))
    out.append("</svg>")
    return "".join(out)


def _lever_bar(ids: str, lever: LeverLine, y: float, texts: Mapping[str, str]) -> list[str]:
    middle = y + ROW / 2
    out: list[str] = []
    if lever.index is None:
        out.append(_text(PLOT_LEFT + 6, middle + 4, texts["not_enough"], fill=MUTED, italic=True))
        out.append(_target_tick(lever.target, middle))
        return out
    colour = LIGHT_COLOURS.get(lever.light, LIGHT_COLOURS["none"])
    width = _x(lever.index) - PLOT_LEFT
    title = f"{lever.label}: {lever.index} ({texts['target']} {lever.target}, {lever.light_word})"
    out.append(f'<g class="bar bar-{escape(lever.light)}"><title>{escape(title)}</title>')
    out.append(_rect(PLOT_LEFT, middle - BAR / 2, width, BAR, colour))
    hatch = LIGHT_HATCH.get(lever.light, "")
    if hatch:
        out.append(_rect(PLOT_LEFT, middle - BAR / 2, width, BAR, f"url(#{ids}-{hatch})"))
    out.append("</g>")
    end = _x(lever.index)
    if lever.low is not None and lever.high is not None:
        low, high = _x(lever.low), _x(lever.high)
        out.append(
            f'<g class="interval" stroke="{INK}" stroke-width="1.25">'
            f'<line x1="{low}" y1="{middle}" x2="{high}" y2="{middle}"/>'
            f'<line x1="{low}" y1="{middle - 4}" x2="{low}" y2="{middle + 4}"/>'
            f'<line x1="{high}" y1="{middle - 4}" x2="{high}" y2="{middle + 4}"/></g>'
        )
        end = max(end, high)
    out.append(_target_tick(lever.target, middle))
    # A target tick just past the bar would cross the number: print it after the tick.
    if 0 < _x(lever.target) - end < 28:
        end = _x(lever.target)
    out.append(_text(end + 6, middle + 4.5, str(lever.index), fill=INK, bold=True, halo=True))
    return out


def _ids(page: ScorecardPage, kind: str) -> str:
    """Return an id prefix unique to this page's chart (ids are shared in one HTML page)."""
    key = "\x1f".join((page.survey_slug, page.wave_id, page.department, page.language, kind))
    return "sc" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]


def _open(ids: str, height: float, title: str, summary: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="scorecard-chart" role="img"'
        f' viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet"'
        f' aria-labelledby="{ids}-title {ids}-desc" font-family="{FONT_FAMILY}"'
        f' font-size="{FONT}">'
        f'<title id="{ids}-title">{escape(title)}</title>'
        f'<desc id="{ids}-desc">{escape(summary)}</desc>'
    )


def _lever_summary(page: ScorecardPage) -> str:
    texts = page.texts
    parts = []
    for lever in page.levers:
        if lever.index is None:
            parts.append(f"{lever.label}: {texts['not_enough']}")
        else:
            parts.append(
                f"{lever.label}: {lever.index}, {texts['target']} {lever.target}, "
                f"{lever.light_word}"
            )
    return "; ".join(parts)


def _hatch_defs(ids: str) -> str:
    stripe = 'stroke="#ffffff" stroke-width="1.6" stroke-opacity="0.75"'
    return (
        "<defs>"
        f'<pattern id="{ids}-stripes" width="6" height="6" patternUnits="userSpaceOnUse"'
        f' patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" {stripe}/></pattern>'
        f'<pattern id="{ids}-cross" width="6" height="6" patternUnits="userSpaceOnUse"'
        f' patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" {stripe}/>'
        f'<line x1="0" y1="0" x2="6" y2="0" {stripe}/></pattern>'
        "</defs>"
    )


def _grid(top: float, bottom: float) -> Iterable[str]:
    yield f'<g class="grid" stroke="{GRID}" stroke-width="1">'
    for value in GRIDLINES:
        yield f'<line x1="{_x(value)}" y1="{top - 4}" x2="{_x(value)}" y2="{bottom}"/>'
    yield "</g>"
    for value in GRIDLINES:
        yield _text(_x(value), top - 10, str(value), anchor="middle", fill=MUTED, size=11)


def _label(label: str, y: float, *, outcome_word: str) -> str:
    shown = fit(label, LABEL_WIDTH - 8, FONT)
    middle = y + ROW / 2
    if not outcome_word:
        return _text(0, middle + 4.5, shown, fill=INK)
    return (
        f'<text x="0" y="{middle - 1}" fill="{INK}">{escape(shown)}</text>'
        f'<text x="0" y="{middle + 11}" fill="{MUTED}" font-size="10">{escape(outcome_word)}</text>'
    )


def _light_legend(ids: str, y: float, texts: Mapping[str, str]) -> Iterable[str]:
    x = float(PLOT_LEFT)
    for light in ("green", "amber", "red"):
        word = texts[light]
        yield _rect(x, y - 10, 14, 12, LIGHT_COLOURS[light])
        if LIGHT_HATCH[light]:
            yield _rect(x, y - 10, 14, 12, f"url(#{ids}-{LIGHT_HATCH[light]})")
        yield _text(x + 19, y, word, fill=INK, size=11)
        x += 19 + _estimate(word, 11) + 18
    yield _line(x + 2, y - 12, x + 2, y + 3, INK, width=2.5)
    yield _text(x + 9, y, texts["target"], fill=INK, size=11)


def _target_tick(target: int, middle: float) -> str:
    x = _x(target)
    return _line(x, middle - BAR / 2 - 5, x, middle + BAR / 2 + 5, INK, width=2.5)


def _x(value: float) -> float:
    """Return the x of an index value on the 0–100 axis (values outside are clamped)."""
    clamped = min(100.0, max(0.0, float(value)))
    return round(PLOT_LEFT + clamped * (PLOT_RIGHT - PLOT_LEFT) / 100, 2)


def _number(value: int | None, texts: Mapping[str, str], none: str | None = None) -> str:
    if value is not None:
        return str(value)
    return none if none is not None else texts["not_enough"]


def _estimate(text: str, size: float = FONT) -> float:
    """Return about how wide ``text`` renders (Helvetica metrics; browsers' sans is close)."""
    return text_width(text, size)


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    fill: str = INK,
    size: float | None = None,
    bold: bool = False,
    italic: bool = False,
    halo: bool = False,
) -> str:
    attrs = [f'x="{x}"', f'y="{y}"', f'fill="{fill}"']
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    if size is not None:
        attrs.append(f'font-size="{size}"')
    if bold:
        attrs.append('font-weight="bold"')
    if italic:
        attrs.append('font-style="italic"')
    if halo:
        attrs.append('stroke="#ffffff" stroke-width="3" paint-order="stroke"')
    return f"<text {' '.join(attrs)}>{escape(text)}</text>"


def _rect(x: float, y: float, width: float, height: float, fill: str) -> str:
    return f'<rect x="{x}" y="{y}" width="{round(width, 2)}" height="{height}" fill="{fill}"/>'


def _line(
    x1: float, y1: float, x2: float, y2: float, colour: str, *, width: float = 1, dash: str = ""
) -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{colour}"'
        f' stroke-width="{width}"{dashed}/>'
    )


def _circle(x: float, y: float, radius: float, colour: str) -> str:
    return f'<circle cx="{x}" cy="{y}" r="{radius}" fill="{colour}"/>'


def _diamond(x: float, y: float, radius: float, colour: str) -> str:
    points = f"{x},{y - radius} {x + radius},{y} {x},{y + radius} {x - radius},{y}"
    return f'<polygon points="{points}" fill="#ffffff" stroke="{colour}" stroke-width="2.5"/>'
