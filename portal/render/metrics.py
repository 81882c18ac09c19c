"""Glyph widths of the standard PDF fonts Helvetica and Helvetica-Bold, and text fitting.

The PDF names these two of the 14 standard Type 1 fonts with ``WinAnsiEncoding``
and embeds nothing, so the writer must measure text the way every viewer
will draw it: with Adobe's published Core-14 metrics. The tables below give
the advance width (in 1/1000 em) of every WinAnsi code from 0x20 to 0xFF;
codes WinAnsi leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) and DEL are 0.

Where the numbers come from: the ``WX`` values of Adobe's ``Helvetica.afm``
and ``Helvetica-Bold.afm`` (Core-14 AFM set, version 003.001, 1999), read
from groff's ``font/devps/HR`` and ``HB`` (generated from those AFMs by
afmtodit, Debian package groff-base) and cross-checked glyph by glyph against
reportlab 5.1's ``_fontdata_widths_helvetica*.py`` tables, with the code to
glyph-name map of reportlab's ``_fontdata_enc_winansi.py`` (the PDF 1.7
Annex D WinAnsiEncoding). The sources agree everywhere but on ``mu``
(0xB5): groff has 578, Adobe's AFM and reportlab 556; 556 is used.
0xA0 (no-break space) and 0xAD (soft hyphen) take the widths of space and
hyphen, as viewers draw them.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate

#: Advance widths (1/1000 em) of WinAnsi codes 0x20-0xFF, index ``code - 0x20``.
# fmt: off
HELVETICA: tuple[int, ...] = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,  # 0x20-0x2f
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,  # 0x30-0x3f
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,  # 0x40-0x4f
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,  # 0x50-0x5f
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,  # 0x60-0x6f
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,  # 0x70-0x7f
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,  # 0x80-0x8f
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,  # 0x90-0x9f
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,  # 0xa0-0xaf
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,  # 0xb0-0xbf
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,  # 0xc0-0xcf
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,  # 0xd0-0xdf
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,  # 0xe0-0xef
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,  # 0xf0-0xff
)
#: The same for Helvetica-Bold.
HELVETICA_BOLD: tuple[int, ...] = (
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,  # 0x20-0x2f
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,  # 0x30-0x3f
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,  # 0x40-0x4f
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,  # 0x50-0x5f
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,  # 0x60-0x6f
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,  # 0x70-0x7f
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,  # 0x80-0x8f
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,  # 0x90-0x9f
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,  # 0xa0-0xaf
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,  # 0xb0-0xbf
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,  # 0xc0-0xcf
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,  # 0xd0-0xdf
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,  # 0xe0-0xef
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,  # 0xf0-0xff
)
# fmt: on

#: Characters WinAnsi lacks, written with ones it has (the rest become "?").
REPLACEMENTS: dict[str, str] = {
    "≥": ">=",
    "≤": "<=",
    "≠": "!=",
    "\u2212": "-",
    "‐": "-",
    "‑": "-",
    "‒": "–",
    "―": "—",
    "→": "->",
    "←": "<-",
    "\u2009": " ",
    "\u202f": " ",
    "\u2007": " ",
    "\u200b": "",
    "\u00ad": "",
    "\u00a0": " ",
    "\t": " ",
    "\n": " ",
    "\r": " ",
    "\u2028": " ",
    "\u2029": " ",
    "\u2032": "'",
    "\u2033": '"',
}

ELLIPSIS = "…"


@lru_cache(maxsize=4096)
def winansi(text: str) -> str:
    """Return ``text`` with every character WinAnsi (cp1252) can encode, meaning kept.

    Known look-alikes are spelled out (``≥`` becomes ``>=``); an accented
    letter outside WinAnsi loses its accent (``ş`` becomes ``s``); control
    characters become spaces; anything else becomes ``?`` so a missing glyph
    can never break the page.
    """
    if text.isascii() and text.isprintable():
        return text
    out: list[str] = []
    for char in text:
        if char in REPLACEMENTS:
            out.append(REPLACEMENTS[char])
        elif char in _REGULAR:
            out.append(char)
        elif _encodable(char):  # a control character
            out.append(" ")
        else:
            base = unicodedata.normalize("NFKD", char)
            kept = "".join(c for c in base if c in _REGULAR and not unicodedata.combining(c))
            out.append(kept or "?")
    return "".join(out)


def _encodable(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


class _Widths(dict[str, int]):
    """Advance width per character.

    A character outside WinAnsi counts as a digit's width, so Unicode text
    measured for the SVG charts (which need not pass through ``winansi``)
    still measures about right.
    """

    def __missing__(self, key: str) -> int:
        return 556


def _widths(table: tuple[int, ...]) -> _Widths:
    widths = _Widths()
    for code, width in enumerate(table, start=0x20):
        try:
            char = bytes([code]).decode("cp1252")
        except UnicodeDecodeError:
            continue
        if width:
            widths[char] = width
    return widths


_REGULAR = _widths(HELVETICA)
_BOLD = _widths(HELVETICA_BOLD)


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """Return the width in points of WinAnsi ``text`` (see ``winansi``) set at ``size``."""
    return sum(map((_BOLD if bold else _REGULAR).__getitem__, text)) * size / 1000


def fit(text: str, width: float, size: float, *, bold: bool = False) -> str:
    """Return ``text`` cut to ``width`` points, ending in "…" when anything was cut."""
    table = _BOLD if bold else _REGULAR
    limit = width * 1000 / size
    advances = list(accumulate(map(table.__getitem__, text)))
    if not advances or advances[-1] <= limit:
        return text
    keep = bisect_right(advances, limit - table[ELLIPSIS])
    return text[:keep].rstrip() + ELLIPSIS


@lru_cache(maxsize=4096)
def _wrapped(text: str, width: float, size: float, bold: bool, lines: int) -> tuple[str, ...]:
    table = _BOLD if bold else _REGULAR
    limit = width * 1000 / size
    space = table[" "]
    out: list[str] = []
    current: list[str] = []
    used = 0.0
    for word in text.split():
        advance = sum(map(table.__getitem__, word))
        if current and used + space + advance <= limit:
            current.append(word)
            used += space + advance
            continue
        if current:
            out.append(" ".join(current))
        while advance > limit and len(word) > 1:
            keep = max(1, bisect_right(list(accumulate(map(table.__getitem__, word))), limit))
            out.append(word[:keep])
            word = word[keep:]
            advance = sum(map(table.__getitem__, word))
        current, used = [word], advance
    if current:
        out.append(" ".join(current))
    if lines and len(out) > lines:
        rest = " ".join(out[lines - 1 :])
        # What is left over never fits one line, so ``fit`` always ends it in "…".
        out = out[: lines - 1] + [fit(rest, width, size, bold=bold)]
    return tuple(out)


def wrap(text: str, width: float, size: float, *, bold: bool = False, lines: int = 0) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` points, at spaces where possible.

    A word wider than a whole line is broken inside. With ``lines`` > 0 at most
    that many lines are returned, the last one ending in "…" if text was left over.
    """
    return list(_wrapped(text, width, size, bold, lines))
