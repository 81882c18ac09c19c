"""The departments a wave is decided on: as they were when it opened, for good.

Every output of a wave — results, participation, CSV and XLSX, the API, the
scorecard, the quality page and the raw export — groups its responses by the
wave's departments: their codes, names, sites, headcounts and retired marks.
If those were read as they are today, moving a department to another site
after the wave closed would re-decide the closed wave on new site totals, and
the difference between the old and the new site figures would give away a
group the first decision hid (issue 11, "Frozen structure per wave").

Rules (see docs/anonymity.md, "Frozen structure per wave"):

* opening a wave stores the survey's departments with it (``freeze_structure``);
  the first list stored for a wave is kept for good (``Store.freeze_departments``);
* a wave that has opened — open, closed or reopened — is always shown with that
  list (``wave_departments``); edits made while it is open (a site move, a
  rename, a new headcount, retire or restore, a new department) apply from the
  next wave on;
* a draft wave has nothing decided yet and follows the survey's departments;
* a wave opened before structures were frozen (or whose freeze was interrupted)
  is frozen on its first read, with the departments as they are then. SQLite's
  migration 8 froze every such wave when the database was upgraded.
"""

from __future__ import annotations

from portal.domain.entities import Department, Wave, WaveStatus
from portal.storage.port import Store


def freeze_structure(
    store: Store, wave: Wave, departments: list[Department] | None = None
) -> list[Department]:
    """Store the survey's departments (or ``departments``) as ``wave``'s; return the kept list.

    A wave frozen before keeps its list: the first one stored wins.
    """
    current = departments if departments is not None else store.list_departments(wave.survey_slug)
    return store.freeze_departments(wave.survey_slug, wave.wave_id, current)


def wave_departments(store: Store, wave: Wave) -> list[Department]:
    """Return the departments ``wave`` is decided on, by code (see the module's rules)."""
    if wave.status is WaveStatus.DRAFT:
        return store.list_departments(wave.survey_slug)
    frozen = store.get_frozen_departments(wave.survey_slug, wave.wave_id)
    return frozen if frozen is not None else freeze_structure(store, wave)


def taking_part(store: Store, wave: Wave) -> list[Department]:
    """Return the departments that take part in ``wave``, as they are now, by code.

    Rule: the wave's own departments (``wave_departments``) with their current
    fields, so a department retired since stops taking answers; one added after
    the wave opened takes no part in it (no link, no code) until the next wave.
    """
    members = {d.code for d in wave_departments(store, wave)}
    return [d for d in store.list_departments(wave.survey_slug) if d.code in members]
