"""The scorecard's rules: lights against targets, plan actions, and recommended actions."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.domain import scoring
from portal.domain.errors import ValidationError
from portal.domain.scorecard import (
    DEFAULT_ATTENTION,
    ORGANISATION,
    ActionStatus,
    Catalogue,
    CatalogueAction,
    Light,
    ScorecardSettings,
    When,
    focus_levers,
    plan_order,
    planned_catalogue_actions,
    recommend,
    wave_plan,
)
from tests.builders import make_plan_action as make_action

LEVERS = [
    ("purpose", False),
    ("involvement", False),
    ("managers", False),
    ("skills", False),
    ("governance", False),
    ("ownership", False),
    ("adoption", True),
]
SETTINGS = ScorecardSettings("crm-rollout")
TODAY = date(2026, 11, 23)


def settings_problems(**values: Any) -> list[str]:
    """Return the problems ``ScorecardSettings`` reports for ``values``."""
    with pytest.raises(ValidationError) as caught:
        ScorecardSettings("crm-rollout", **values)
    return caught.value.errors


# -- targets and lights ----------------------------------------------------------------


def test_default_attention_threshold_is_the_scoring_one() -> None:
    assert DEFAULT_ATTENTION == scoring.NEEDS_ATTENTION
    assert (SETTINGS.attention, SETTINGS.default_target) == (60, 75)


@pytest.mark.parametrize(
    ("index", "light"),
    [
        (None, Light.NONE),
        (math.nan, Light.NONE),
        (0.0, Light.RED),
        (59.0, Light.RED),
        (59.999, Light.RED),
        (60.0, Light.AMBER),
        (74.99, Light.AMBER),
        (75.0, Light.GREEN),
        (100.0, Light.GREEN),
    ],
)
def test_light_at_and_around_the_thresholds(index: float | None, light: Light) -> None:
    assert SETTINGS.light(index, "skills") is light


def test_the_exact_index_decides_not_a_rounded_one() -> None:
    # 74.6 would round to 75 but is below target; pages show 74 (cut off).
    assert SETTINGS.light(74.6, "skills") is Light.AMBER
    assert SETTINGS.light(59.5, "skills") is Light.RED
    assert math.floor(74.6) < 75 and math.floor(59.5) < 60


def test_a_lever_target_overrides_the_default_for_that_lever_only() -> None:
    settings = ScorecardSettings("crm-rollout", lever_targets={"skills": 85})
    assert settings.target("skills") == 85
    assert settings.target("purpose") == 75
    assert settings.light(80, "skills") is Light.AMBER
    assert settings.light(80, "purpose") is Light.GREEN
    assert settings.gap(80, "skills") == -5
    assert settings.gap(None, "skills") is None


def test_a_target_equal_to_the_attention_threshold_leaves_no_amber_band() -> None:
    settings = ScorecardSettings("crm-rollout", attention=70, default_target=70)
    assert settings.light(69.9, "skills") is Light.RED
    assert settings.light(70, "skills") is Light.GREEN


def test_settings_refuse_a_target_below_the_attention_threshold() -> None:
    [problem] = settings_problems(attention=70, lever_targets={"skills": 65})
    assert problem == (
        "The target for skills (65) must not be below the attention threshold (70); "
        "raise the target or lower the threshold."
    )


@pytest.mark.parametrize("value", [0, 101, -5, 60.5, True, "70", None])
def test_settings_refuse_thresholds_that_are_not_whole_numbers_from_1_to_100(value: Any) -> None:
    assert settings_problems(attention=value)[0].startswith(
        "The attention threshold must be a whole number from 1 to 100"
    )
    assert any(
        p.startswith("The default target must be a whole number from 1 to 100")
        for p in settings_problems(default_target=value)
    )
    assert any(
        p.startswith("The target for purpose must be a whole number from 1 to 100")
        for p in settings_problems(lever_targets={"purpose": value})
    )


def test_settings_report_every_problem_at_once() -> None:
    problems = settings_problems(attention=0, default_target=200, lever_targets={"Bad Id": 50})
    assert len(problems) == 3
    assert "'Bad Id' is not a lever id." in problems


def test_settings_refuse_a_bad_survey_slug() -> None:
    with pytest.raises(ValidationError, match="Survey slug"):
        ScorecardSettings("Not a slug")


def test_settings_name_targets_for_levers_the_questionnaire_lacks() -> None:
    settings = ScorecardSettings("crm-rollout", lever_targets={"skills": 80, "budget": 80})
    settings.check_levers(["skills", "budget", "purpose"])
    with pytest.raises(ValidationError) as caught:
        settings.check_levers(["skills", "purpose"])
    assert str(caught.value) == (
        "Targets are set for levers the questionnaire does not have: budget; "
        "the levers are skills, purpose."
    )


# -- plan actions ----------------------------------------------------------------------


def action_problems(**overrides: Any) -> list[str]:
    """Return the problems ``PlanAction`` reports with ``overrides``."""
    with pytest.raises(ValidationError) as caught:
        make_action(**overrides)
    return caught.value.errors


def test_a_plan_action_stores_its_texts_stripped() -> None:
    action = make_action(title="  Restart training ", owner_role=" Local change lead", kpi=" ")
    assert (action.title, action.owner_role, action.kpi) == (
        "Restart training",
        "Local change lead",
        "",
    )


def test_the_organisation_wide_plan_uses_its_own_department_key() -> None:
    assert make_action(department=ORGANISATION).department == "*"
    assert action_problems(department="**") == [
        "Department '**' must be a department code, or '*' for the whole organisation."
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "The action is required."),
        ("title", "   ", "The action is required."),
        ("title", "x" * 161, "The action must be at most 160 characters; it has 161."),
        ("owner_role", "", "The owner role is required."),
        ("owner_role", "x" * 81, "The owner role must be at most 80 characters; it has 81."),
        ("mandate_holder", "", "The mandate holder is required."),
        ("kpi", "x" * 201, "The KPI must be at most 200 characters; it has 201."),
        ("kpi_target", "x" * 81, "The KPI target must be at most 80 characters; it has 81."),
        (
            "title",
            "Restart\ntraining",
            "The action must be one line of text, without tabs or control characters.",
        ),
        ("kpi", "a\x00b", "The KPI must be one line of text, without tabs or control characters."),
        ("title", 42, "The action must be text."),
        ("action_id", "XYZ", "Action id 'XYZ' must be 8–32 lowercase hex digits."),
        ("catalogue_id", "Not An Id", "Catalogue action 'Not An Id' is not a catalogue id."),
        ("lever_id", "", "Lever id '' must be 1–40 lowercase letters, digits or '-'."),
        ("wave_id", "Wave 1", "Wave id 'Wave 1' must be 1–40 lowercase letters, digits or '-'."),
        ("due", datetime(2027, 1, 1, 9), "The due date must be a calendar day without a time."),
        ("status", "planned", "The status must be one of planned, in progress, done, dropped;"),
    ],
)
def test_plan_action_validation_messages(field: str, value: Any, message: str) -> None:
    problems = action_problems(**{field: value})
    assert len(problems) == 1
    assert problems[0].startswith(message)


def test_the_owner_must_be_a_role_not_an_e_mail_address() -> None:
    [problem] = action_problems(owner_role="jane.doe@example.com")
    assert problem.startswith("The owner role should name a role such as 'Department manager'")


def test_a_plan_action_reports_every_problem_at_once() -> None:
    problems = action_problems(title="", owner_role="", due="tomorrow")
    assert len(problems) == 3


def test_an_open_action_is_overdue_only_after_its_due_day() -> None:
    action = make_action(due=TODAY)
    assert not action.is_overdue(TODAY)
    assert action.is_overdue(date(2026, 11, 24))
    assert not replace(action, status=ActionStatus.DONE).is_overdue(date(2027, 1, 1))
    assert not make_action(due=None).is_overdue(date(2099, 1, 1))


def test_plans_are_ordered_by_department_due_date_title_and_id() -> None:
    actions = [
        make_action(due=None, title="a"),
        make_action(due=date(2027, 2, 1), title="beta"),
        make_action(due=date(2027, 2, 1), title="Alpha"),
        make_action(department=ORGANISATION, due=date(2030, 1, 1)),
    ]
    assert sorted(actions, key=plan_order) == [actions[3], actions[2], actions[1], actions[0]]


# -- recommendations -------------------------------------------------------------------


def make_catalogue_action(
    action_id: str, lever_id: str, when: When = When.ALWAYS
) -> CatalogueAction:
    """Build a catalogue action with placeholder texts."""
    text = {"en": action_id}
    return CatalogueAction(action_id, lever_id, when, text, text, text, text, text, 4)


def make_catalogue(*actions: CatalogueAction) -> Catalogue:
    """Build a catalogue of ``actions``, or of three plain actions per non-outcome lever."""
    if not actions:
        actions = tuple(
            make_catalogue_action(f"{lever}-{n}", lever)
            for lever, outcome in LEVERS
            if not outcome
            for n in (1, 2, 3)
        )
    return Catalogue("change-readiness", 1, ("en",), actions)


def chosen(recommendations: tuple[Any, ...]) -> list[tuple[str, str, str]]:
    """Return (lever, action id, reason) per recommendation."""
    return [(r.lever_id, r.action.id, r.reason) for r in recommendations]


SCORES = {
    "purpose": 70.0,
    "involvement": 50.0,
    "managers": 65.0,
    "skills": 40.0,
    "governance": 90.0,
    "ownership": 74.9,
    "adoption": 10.0,
}


def test_recommends_for_the_barrier_first_then_the_lowest_scores() -> None:
    result = recommend(LEVERS, SCORES, SETTINGS, make_catalogue(), barrier="involvement")
    assert chosen(result) == [
        ("involvement", "involvement-1", "barrier"),
        ("involvement", "involvement-2", "barrier"),
        ("skills", "skills-1", "needs attention"),
        ("skills", "skills-2", "needs attention"),
        ("managers", "managers-1", "below target"),
        ("managers", "managers-2", "below target"),
    ]


def test_key_drivers_come_after_the_barrier_and_before_lower_scores() -> None:
    # skills 40 is the barrier; ownership (74.9) and purpose (70) drive adoption, so they
    # lead the rest although involvement (50) and managers (65) score lower.
    drivers = {"ownership", "purpose", "governance"}  # governance is at target: not a focus
    levers = focus_levers(LEVERS, SCORES, SETTINGS, barrier="skills", drivers=drivers)
    assert levers == ("skills", "purpose", "ownership")
    assert focus_levers(LEVERS, SCORES, SETTINGS, barrier="skills") == (
        "skills",
        "involvement",
        "managers",
    )
    result = recommend(
        LEVERS, SCORES, SETTINGS, make_catalogue(), barrier="skills", drivers=drivers
    )
    assert [(r.lever_id, r.reason, r.driver) for r in result][::2] == [
        ("skills", "barrier", False),
        ("purpose", "below target", True),
        ("ownership", "below target", True),
    ]


def test_equal_scores_keep_questionnaire_order() -> None:
    scores = dict.fromkeys(["purpose", "involvement", "managers", "skills"], 62.0)
    assert focus_levers(LEVERS, scores, SETTINGS, barrier=None) == (
        "purpose",
        "involvement",
        "managers",
    )


def test_the_outcome_lever_is_never_a_focus_however_low() -> None:
    levers = focus_levers(LEVERS, SCORES, SETTINGS, barrier="adoption", max_levers=10)
    assert levers == ("skills", "involvement", "managers", "purpose", "ownership")


def test_levers_at_or_above_target_get_nothing() -> None:
    scores = {"purpose": 75.0, "governance": 100.0, "skills": 74.999}
    assert focus_levers(LEVERS, scores, SETTINGS, barrier=None) == ("skills",)


def test_a_barrier_at_target_does_not_jump_the_queue() -> None:
    settings = ScorecardSettings("crm-rollout", lever_targets={"purpose": 60})
    scores = {"purpose": 60.0, "skills": 70.0}
    assert focus_levers(LEVERS, scores, settings, barrier="purpose") == ("skills",)


def test_max_levers_and_per_lever_limit_the_plan() -> None:
    result = recommend(
        LEVERS, SCORES, SETTINGS, make_catalogue(), barrier=None, max_levers=2, per_lever=1
    )
    assert chosen(result) == [
        ("skills", "skills-1", "needs attention"),
        ("involvement", "involvement-1", "needs attention"),
    ]
    assert recommend(LEVERS, SCORES, SETTINGS, make_catalogue(), barrier=None, max_levers=0) == ()


@pytest.mark.parametrize(("max_levers", "per_lever"), [(-1, 2), (3, -1), (2.5, 2)])
def test_refuses_negative_limits(max_levers: Any, per_lever: Any) -> None:
    with pytest.raises(ValidationError):
        recommend(
            LEVERS,
            SCORES,
            SETTINGS,
            make_catalogue(),
            barrier=None,
            max_levers=max_levers,
            per_lever=per_lever,
        )


def test_red_actions_only_below_the_attention_threshold() -> None:
    catalogue = make_catalogue(
        make_catalogue_action("skills-deep", "skills", When.RED),
        make_catalogue_action("skills-light", "skills"),
    )
    red = recommend(LEVERS, {"skills": 59.9}, SETTINGS, catalogue, barrier=None)
    assert chosen(red) == [
        ("skills", "skills-deep", "needs attention"),
        ("skills", "skills-light", "needs attention"),
    ]
    amber = recommend(LEVERS, {"skills": 60.0}, SETTINGS, catalogue, barrier=None)
    assert chosen(amber) == [("skills", "skills-light", "below target")]


def test_manager_gap_actions_only_when_managers_rate_15_points_higher() -> None:
    catalogue = make_catalogue(
        make_catalogue_action("talk-with-team", "managers", When.MANAGER_GAP),
        make_catalogue_action("onboard", "managers"),
    )
    scores = {"managers": 65.0}

    def gap_actions(gaps: dict[str, float | None] | None) -> list[tuple[str, str, str]]:
        return chosen(recommend(LEVERS, scores, SETTINGS, catalogue, barrier=None, gaps=gaps))

    assert gap_actions({"managers": 15.0}) == [
        ("managers", "talk-with-team", "manager gap"),
        ("managers", "onboard", "below target"),
    ]
    for no_gap in ({"managers": 14.99}, {"managers": -30.0}, {"managers": None}, {}, None):
        assert gap_actions(no_gap) == [("managers", "onboard", "below target")]


def test_a_lever_without_fitting_actions_still_takes_its_place() -> None:
    catalogue = make_catalogue(
        make_catalogue_action("skills-deep", "skills", When.RED),
        make_catalogue_action("purpose-1", "purpose"),
    )
    scores = {"skills": 70.0, "purpose": 72.0}
    result = recommend(LEVERS, scores, SETTINGS, catalogue, barrier=None, max_levers=1)
    assert result == ()


def test_nothing_is_recommended_when_nothing_is_published() -> None:
    hidden = dict.fromkeys(SCORES)
    assert recommend(LEVERS, hidden, SETTINGS, make_catalogue(), barrier=None) == ()
    assert recommend(LEVERS, {}, SETTINGS, make_catalogue(), barrier=None) == ()


def test_a_low_response_rate_adds_its_actions_whatever_the_scores() -> None:
    catalogue = make_catalogue(
        make_catalogue_action("more-voices", "involvement", When.LOW_RESPONSE),
        make_catalogue_action("involvement-1", "involvement"),
    )
    hidden = dict.fromkeys(SCORES)
    result = recommend(LEVERS, hidden, SETTINGS, catalogue, barrier=None, low_response=True)
    assert chosen(result) == [("involvement", "more-voices", "low response")]
    weak = recommend(
        LEVERS, {"involvement": 50.0}, SETTINGS, catalogue, barrier=None, low_response=True
    )
    assert chosen(weak) == [
        ("involvement", "involvement-1", "needs attention"),
        ("involvement", "more-voices", "low response"),
    ]
    quiet = recommend(LEVERS, {"involvement": 50.0}, SETTINGS, catalogue, barrier=None)
    assert chosen(quiet) == [("involvement", "involvement-1", "needs attention")]


scores_strategy = st.dictionaries(
    st.sampled_from([lever for lever, _ in LEVERS]),
    st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
)


@given(
    scores=scores_strategy,
    barrier=st.one_of(st.none(), st.sampled_from([lever for lever, _ in LEVERS])),
    max_levers=st.integers(0, 8),
    per_lever=st.integers(0, 4),
    gap=st.one_of(st.none(), st.floats(min_value=-50, max_value=50)),
    attention=st.integers(1, 100),
    extra=st.integers(0, 40),
)
def test_recommendations_address_only_weak_non_outcome_levers(
    scores: dict[str, float | None],
    barrier: str | None,
    max_levers: int,
    per_lever: int,
    gap: float | None,
    attention: int,
    extra: int,
) -> None:
    settings = ScorecardSettings(
        "crm-rollout", attention=attention, default_target=min(100, attention + extra)
    )
    catalogue = make_catalogue(
        *make_catalogue().actions,
        make_catalogue_action("gap", "managers", When.MANAGER_GAP),
        make_catalogue_action("red", "skills", When.RED),
    )
    result = recommend(
        LEVERS,
        scores,
        settings,
        catalogue,
        barrier=barrier,
        gaps={"managers": gap},
        max_levers=max_levers,
        per_lever=per_lever,
    )
    levers = list(dict.fromkeys(r.lever_id for r in result))
    outcome = {lever for lever, is_outcome in LEVERS if is_outcome}
    assert len(levers) <= max_levers
    for recommendation in result:
        index = scores.get(recommendation.lever_id)
        assert recommendation.lever_id not in outcome
        assert index is not None and index < settings.target(recommendation.lever_id)
        assert recommendation.action.lever_id == recommendation.lever_id
    for lever in levers:
        assert sum(r.lever_id == lever for r in result) <= per_lever
    focus = focus_levers(LEVERS, scores, settings, barrier=barrier, max_levers=max_levers)
    assert levers == [lever for lever in focus if per_lever > 0]
    if barrier in focus:
        assert focus[0] == barrier
    rest = [scores[lever] for lever in focus if lever != barrier]
    assert rest == sorted(rest)  # type: ignore[type-var]


# -- which actions a wave's plan holds ------------------------------------------------

ORDER = {"baseline": 0, "follow-up": 1, "second": 2}


def test_a_waves_plan_holds_its_own_actions_and_carries_earlier_ones_unless_dropped() -> None:
    own = make_action(action_id="a" * 16, wave_id="follow-up")
    kept = make_action(action_id="b" * 16, status=ActionStatus.DONE)
    dropped = make_action(action_id="c" * 16, status=ActionStatus.DROPPED)
    later = make_action(action_id="d" * 16, wave_id="second")
    unknown = make_action(action_id="e" * 16, wave_id="gone")
    mine, carried = wave_plan([later, dropped, kept, own, unknown], "follow-up", ORDER)
    assert mine == [own]
    assert carried == [kept]
    # In its own wave a dropped action is still listed (HR may pick it up again).
    mine, carried = wave_plan([dropped, later], "baseline", ORDER)
    assert mine == [dropped] and carried == []


def test_a_catalogue_action_is_taken_while_planned_here_or_still_open_from_before() -> None:
    here = make_action(action_id="a" * 16, wave_id="follow-up", catalogue_id="here",
                       status=ActionStatus.DONE)  # fmt: skip
    open_before = make_action(action_id="b" * 16, catalogue_id="open",
                              status=ActionStatus.IN_PROGRESS)  # fmt: skip
    done_before = make_action(action_id="c" * 16, catalogue_id="done", status=ActionStatus.DONE)
    own_written = make_action(action_id="d" * 16, wave_id="follow-up", catalogue_id=None)
    taken = planned_catalogue_actions([here, own_written], [open_before, done_before])
    assert taken == {"here", "open"}
