"""Scheduled Lambda: close every open wave whose planned closing day has passed.

Zappa schedules it daily (see ``events`` in zappa_settings.json); locally the
same service runs with ``portal waves close-due``.
"""

from __future__ import annotations

import logging
import os
from datetime import date
from typing import Any

from portal.config import Settings
from portal.services.surveys import close_due_waves
from portal.storage import open_store

log = logging.getLogger(__name__)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Close overdue waves and report which ones were closed."""
    store = open_store(Settings.from_env(os.environ))
    closed = close_due_waves(store, today=date.today())
    names = [f"{wave.survey_slug}/{wave.wave_id}" for wave in closed]
    log.info("closed %d overdue wave(s): %s", len(names), ", ".join(names) or "none")
    return {"closed": names}
