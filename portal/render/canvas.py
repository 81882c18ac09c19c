"""A PDF page's drawing operations (pydyf content-stream bytes) in top-down coordinates.

The scorecard PDF (``portal.render.pdf``) lays its pages out top to bottom, so
``Canvas`` takes y growing downwards from the page's top edge and turns it into
PDF's bottom-up coordinates. Numbers are written with two decimals at most and
no trailing zeros, so the same page always gives the same bytes.
"""

from __future__ import annotations

from functools import lru_cache

from portal.render.metrics import text_width, winansi
from portal.render.palette import INK, rgb

#: A4 portrait in points.
PAGE_WIDTH = 595.28
PAGE_HEIGHT = 841.89


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
