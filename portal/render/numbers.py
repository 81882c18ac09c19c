"""How the admin pages and the scorecard PDF print a rate: one decimal, rounded.

Rates are printed from the exact counts, not from a stored, already shortened
figure, so 12 of 18 reads "66.7", not "66.6". The rounding is the domain's
one rule (``participation.rate_tenths``), shared with every export and flag.
"""

from __future__ import annotations

from portal.domain.participation import rate_tenths


def percent(part: int, whole: int) -> str:
    """Return ``part / whole`` in per cent with one decimal, rounded half up ("66.7").

    Rules: the value is rounded from the exact fraction (integer arithmetic, so
    66.65 exactly becomes "66.7" and no binary fraction tips it either way);
    a rate above 100 is printed as it is (more responses than headcount);
    an empty ``whole`` (0 or less) gives "–", there being no rate. A rate
    just under a whole-number line prints as that line (59.96 reads
    "60.0"), and flags such as "under 60 %" are judged on this printed
    figure too (``participation.is_under_target``), so they always agree.
    """
    tenths = rate_tenths(part, whole)
    if tenths is None:
        return "–"
    return f"{tenths // 10}.{tenths % 10}"
