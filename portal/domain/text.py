"""Characters a name may not hold, and how exports write text that holds them anyway.

Rule: a department's name and site (anything HR types or imports and the
portal writes into exports) may not hold

- control characters (Unicode ``Cc``): tab, line breaks, and the vertical tab
  U+000B that Word pastes for a line break, which a workbook cannot store;
- invisible format characters (``Cf``): zero-width spaces, direction
  overrides such as U+202E (which make a name read backwards), byte-order marks;
- lone surrogates (``Cs``) and the line and paragraph separators (``Zl``, ``Zp``).

``printable`` is what every export applies to text already stored: a run of
control characters or separators becomes one space (they separated words), a
format character or surrogate is dropped (it was invisible). Printable text in any
script, emoji included, is left exactly as it is.
"""

from __future__ import annotations

import unicodedata

#: Unicode categories a name may not hold.
UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: Of those, the ones an export turns into a space; the rest it drops.
AS_SPACE = frozenset({"Cc", "Zl", "Zp"})


def unprintable_characters(value: str) -> list[str]:
    """Return the characters of ``value`` a name may not hold, as ``U+000B``, once each."""
    found: dict[str, None] = {}
    for char in value:
        if unicodedata.category(char) in UNPRINTABLE:
            found.setdefault(f"U+{ord(char):04X}")
    return list(found)


def printable(value: str) -> str:
    """Return ``value`` as an export writes it: see the module's rule.

    Each run of control characters or separators becomes one space; format
    characters and surrogates are dropped.
    """
    if value.isprintable():
        return value  # the common case; isprintable() is False for every character handled below
    out: list[str] = []
    spaced = False
    for char in value:
        category = unicodedata.category(char)
        if category in AS_SPACE:
            if not spaced:
                out.append(" ")
            spaced = True
        elif category not in UNPRINTABLE:
            out.append(char)
            spaced = False
    return "".join(out)
