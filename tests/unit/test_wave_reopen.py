"""Reopening a closed wave: it keeps what it locked and may not close again at once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from portal.domain.entities import Thresholds, WaveStatus
from portal.domain.errors import Conflict, ValidationError
from tests.builders import TODAY, make_wave

LATER = TODAY + timedelta(days=3)


def test_a_reopened_wave_is_open_and_keeps_its_locked_settings_and_opening_day() -> None:
    closed = make_wave(
        status=WaveStatus.CLOSED,
        thresholds=Thresholds(7, 12),
        questionnaire_version=2,
        opened_on=TODAY - timedelta(days=20),
        closed_on=TODAY - timedelta(days=1),
    )
    reopened = closed.reopened(TODAY)
    assert reopened.status is WaveStatus.OPEN
    assert reopened.closed_on is None
    assert reopened.thresholds == Thresholds(7, 12)
    assert reopened.questionnaire_version == 2
    assert reopened.opened_on == TODAY - timedelta(days=20)


@pytest.mark.parametrize("status", [WaveStatus.DRAFT, WaveStatus.OPEN])
def test_only_a_closed_wave_can_reopen(status: WaveStatus) -> None:
    with pytest.raises(Conflict, match="only a closed wave can reopen"):
        make_wave(status=status).reopened(TODAY)


def test_a_planned_close_in_the_past_is_dropped_so_the_daily_job_does_not_close_it_again() -> None:
    closed = make_wave(status=WaveStatus.CLOSED, planned_close=TODAY - timedelta(days=1))
    assert closed.reopened(TODAY).planned_close is None


def test_a_planned_close_from_today_on_is_kept() -> None:
    for day in (TODAY, LATER):
        closed = make_wave(status=WaveStatus.CLOSED, planned_close=day)
        assert closed.reopened(TODAY).planned_close == day


def test_a_new_planned_close_replaces_the_old_one() -> None:
    closed = make_wave(status=WaveStatus.CLOSED, planned_close=TODAY - timedelta(days=1))
    assert closed.reopened(TODAY, planned_close=LATER).planned_close == LATER


def test_a_new_planned_close_in_the_past_is_refused() -> None:
    closed = make_wave(status=WaveStatus.CLOSED)
    with pytest.raises(ValidationError, match="must not be in the past"):
        closed.reopened(TODAY, planned_close=TODAY - timedelta(days=1))


def test_reopening_takes_a_calendar_day_not_a_time() -> None:
    closed = make_wave(status=WaveStatus.CLOSED)
    with pytest.raises(ValidationError, match="calendar day"):
        closed.reopened(datetime(2026, 11, 23, 9, 30))
