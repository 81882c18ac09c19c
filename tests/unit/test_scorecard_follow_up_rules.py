"""The follow-up's rules: a done catalogue action gives way to another, open actions go overdue."""

from __future__ import annotations

from datetime import date
from typing import Any

from portal.domain.scorecard import (
    ActionStatus,
    Catalogue,
    CatalogueAction,
    ScorecardSettings,
    When,
    done_catalogue_actions,
    dropped_catalogue_actions,
    recommend,
)
from tests.builders import make_plan_action as make_action

LEVERS = [("purpose", False), ("skills", False), ("adoption", True)]
SETTINGS = ScorecardSettings("crm-rollout")
ORDER = {"baseline": 0, "follow-up": 1, "second": 2}


def action(action_id: str, lever_id: str, when: When = When.ALWAYS) -> CatalogueAction:
    """Build a catalogue action whose texts are its id."""
    text = {"en": action_id}
    return CatalogueAction(action_id, lever_id, when, text, text, text, text, text, 4)


CATALOGUE = Catalogue(
    "change-readiness",
    1,
    ("en",),
    (
        action("purpose-red", "purpose", When.RED),
        action("purpose-1", "purpose"),
        action("purpose-2", "purpose"),
        action("skills-1", "skills"),
        action("voices", "purpose", When.LOW_RESPONSE),
    ),
)


def chosen(scores: dict[str, float | None], **options: Any) -> list[tuple[str, bool]]:
    """Return (action id, again) of each recommendation for ``scores``."""
    found = recommend(LEVERS, scores, SETTINGS, CATALOGUE, barrier=None, **options)
    return [(r.action.id, r.again) for r in found]


def test_an_action_done_before_gives_its_place_to_the_levers_next_action() -> None:
    red = {"purpose": 40.0, "skills": 90.0}
    assert chosen(red) == [("purpose-red", False), ("purpose-1", False)]
    assert chosen(red, done={"purpose-red"}) == [("purpose-1", False), ("purpose-2", False)]
    assert chosen(red, done={"purpose-red", "purpose-1"}) == [("purpose-2", False)]


def test_a_red_lever_with_every_action_done_gets_them_again_marked_as_repeats() -> None:
    done = {"purpose-red", "purpose-1", "purpose-2"}
    assert chosen({"purpose": 40.0}, done=done) == [("purpose-red", True), ("purpose-1", True)]


def test_an_amber_lever_with_every_action_done_gets_none() -> None:
    done = {"purpose-1", "purpose-2"}
    assert chosen({"purpose": 70.0}, done=done) == []
    # Another lever's done actions change nothing for this one.
    assert chosen({"purpose": 70.0}, done={"skills-1"}) == [
        ("purpose-1", False),
        ("purpose-2", False),
    ]


def test_a_done_low_response_action_is_repeated_while_the_rate_stays_low() -> None:
    assert chosen({}, low_response=True) == [("voices", False)]
    assert chosen({}, low_response=True, done={"voices"}) == [("voices", True)]


def test_done_actions_are_named_with_the_latest_wave_they_were_done_in() -> None:
    carried = [
        make_action(action_id="a" * 16, catalogue_id="x", status=ActionStatus.DONE),
        make_action(
            action_id="b" * 16, wave_id="follow-up", catalogue_id="x", status=ActionStatus.DONE
        ),  # fmt: skip
        make_action(action_id="c" * 16, catalogue_id="open", status=ActionStatus.IN_PROGRESS),
        make_action(action_id="d" * 16, catalogue_id=None, status=ActionStatus.DONE),
        make_action(action_id="e" * 16, catalogue_id="y", status=ActionStatus.DONE),
    ]
    assert done_catalogue_actions(carried, ORDER) == {"x": "follow-up", "y": "baseline"}
    assert done_catalogue_actions(list(reversed(carried)), ORDER) == {
        "x": "follow-up",
        "y": "baseline",
    }


def test_only_an_open_action_past_its_due_day_is_overdue() -> None:
    today = date(2027, 2, 1)
    due = date(2027, 1, 31)
    for status, overdue in (
        (ActionStatus.PLANNED, True),
        (ActionStatus.IN_PROGRESS, True),
        (ActionStatus.DONE, False),
        (ActionStatus.DROPPED, False),
    ):
        assert make_action(due=due, status=status).is_overdue(today) is overdue
    assert not make_action(due=today).is_overdue(today)
    assert not make_action(due=None).is_overdue(today)


def test_a_dropped_action_gives_its_place_and_is_never_repeated() -> None:
    red = {"purpose": 40.0, "skills": 90.0}
    assert chosen(red, dropped={"purpose-red"}) == [("purpose-1", False), ("purpose-2", False)]
    # Every other fitting action done: the done ones come again, the dropped one never.
    done = {"purpose-1", "purpose-2"}
    assert chosen(red, done=done, dropped={"purpose-red"}) == [
        ("purpose-1", True),
        ("purpose-2", True),
    ]
    assert chosen({"purpose": 40.0}, low_response=True, dropped={"voices"})[-1][0] != "voices"


def test_dropped_actions_are_those_of_earlier_waves_not_done_since() -> None:
    actions = [
        make_action(action_id="a" * 16, wave_id="baseline", catalogue_id="purpose-1",
                    status=ActionStatus.DROPPED),
        make_action(action_id="b" * 16, wave_id="baseline", catalogue_id="purpose-2",
                    status=ActionStatus.DROPPED),
        make_action(action_id="c" * 16, wave_id="follow-up", catalogue_id="purpose-2",
                    status=ActionStatus.DONE),
        make_action(action_id="d" * 16, wave_id="second", catalogue_id="skills-1",
                    status=ActionStatus.DROPPED),
    ]  # fmt: skip
    assert dropped_catalogue_actions(actions, "second", ORDER) == {"purpose-1"}
    assert dropped_catalogue_actions(actions, "follow-up", ORDER) == {"purpose-1", "purpose-2"}
    assert dropped_catalogue_actions(actions, "baseline", ORDER) == frozenset()
