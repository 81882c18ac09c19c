"""Per-process memory of what the results views derive from one snapshot.

Why: every dashboard view, department page, export and API call re-scored
every group from the snapshot's sums — about 0.2 s of CPU for 60
departments, whatever the number of responses (docs/architecture.md,
"Results at scale"). Those figures are pure functions of the snapshot, the
wave's departments, its minimum group size and the reader's departments, so
this process keeps them and a later view only looks them up.

Rules that keep a remembered figure exactly the one a fresh computation
would give:

* **Keyed by the snapshot itself.** A key names a snapshot by its id and by
  the object (``same``: compared by identity, held while the entry lives, so
  its identity cannot be reused). The stores hand back the same decoded
  object only for the same stored content (``codec.snapshot_from_rows``),
  so a new snapshot — a recount, a release step, a closed wave's
  ``-partial`` state, even a store that reuses an id with other sums (a
  restored backup, a test) — is never answered from an older one's entry.
  A snapshot computed during a request (it carries its comment texts) is
  another object than the stored one and gets entries of its own.
* **Keyed by every other input.** The wave (status, thresholds, questionnaire
  version), the structure (departments, sites, planned headcounts), the
  minimum group size, the attention line, the filter and the headcount go
  into the key by value; an edit to any of them is a new key.
* **Never shared across readers' scopes.** Whatever is cut down to a
  reader (``visible_to`` projections, per-measure projections, rows) is keyed
  by the exact set of departments that reader may read: two readers share an
  entry only when they may read exactly the same departments, and then the
  fresh computation would give them the same figures too. The
  whole-organisation decision is shared, as it always was (one decision
  per wave, cut down per reader).
* **Bounded.** Least recently used entries are forgotten first
  (``MAX_ENTRIES``); a forgotten entry is computed again on the next view.
* **Nothing about respondents.** Entries hold aggregates and decisions only,
  in this process's memory; no time, address or token.

``clear`` forgets everything (the benchmark's "cold" runs, tests).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from portal.domain.anonymity import Structure

T = TypeVar("T")

#: Entries kept per process. Measured on 60 departments: a dashboard view takes 128 entries
#: (≈ 3 MB with its decoded snapshot); every filter and 60 department viewers' pages, 500
#: (≈ 8 MB). So at most ≈ 25 MB, well inside a 512 MB Lambda.
MAX_ENTRIES = 2048


class Same:
    """A key part that compares by identity and keeps its object alive while the key lives."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.obj is self.obj

    def __repr__(self) -> str:
        return f"Same({type(self.obj).__name__} at {id(self.obj):#x})"


def same(obj: object) -> Same:
    """Return a key part standing for ``obj`` itself (identity, never equality)."""
    return Same(obj)


def structure_key(structure: Structure) -> tuple[tuple[tuple[str, str], ...], tuple[Any, ...]]:
    """Return a ``Structure`` as a key: every department's site and planned headcount."""
    return tuple(structure.site_of.items()), tuple(structure.planned.items())


_entries: OrderedDict[Hashable, Any] = OrderedDict()
_lock = threading.Lock()
_counts = {"hits": 0, "misses": 0}


def remember(key: Hashable, build: Callable[[], T]) -> T:
    """Return the value remembered under ``key``, building and keeping it on the first call.

    ``build`` must be a pure function of what ``key`` holds (see the module
    docstring). Two threads may build the same entry at once; both get equal
    values and the last one is kept.
    """
    with _lock:
        if key in _entries:
            _entries.move_to_end(key)
            _counts["hits"] += 1
            return _entries[key]  # type: ignore[no-any-return]
        _counts["misses"] += 1
    value = build()
    with _lock:
        _entries[key] = value
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    """Forget every remembered entry (and the hit counts)."""
    with _lock:
        _entries.clear()
        _counts.update(hits=0, misses=0)


def stats() -> dict[str, int]:
    """Return the number of entries, hits and misses since the last ``clear``."""
    with _lock:
        return {"entries": len(_entries), **_counts}
