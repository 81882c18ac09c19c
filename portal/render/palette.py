"""The scorecard's colours, shared by the SVG charts and the PDF so both print alike.

Each traffic light also has a fill pattern (none, stripes, cross-hatch) so a
page printed in black and white, or read by someone who does not tell red
from green, still shows which bars are on target.
"""

from __future__ import annotations

#: Fill colour per ``LeverLine.light``.
LIGHT_COLOURS: dict[str, str] = {
    "green": "#2e7d32",
    "amber": "#e09b00",
    "red": "#c62828",
    "none": "#9e9e9e",
}
#: Hatch per light: ``""`` solid, ``"stripes"`` one diagonal, ``"cross"`` both diagonals.
LIGHT_HATCH: dict[str, str] = {"green": "", "amber": "stripes", "red": "cross", "none": ""}

INK = "#1f2328"
MUTED = "#5b636b"
GRID = "#d0d7de"
RULE = "#8c959f"
TINT = "#f3f5f7"
ACCENT = "#1d4f91"
EMPLOYEES = "#1d4f91"
MANAGERS = "#b35900"


def rgb(colour: str) -> tuple[float, float, float]:
    """Return a ``#rrggbb`` colour as PDF colour components from 0 to 1."""
    value = colour.lstrip("#")
    red, green, blue = (int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return round(red, 3), round(green, 3), round(blue, 3)
