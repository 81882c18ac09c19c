"""A demo organisation with two waves of synthetic answers, for trying the portal out.

The numbers are made up, but shaped like a real rollout: a head office that
explained the system well and a subsidiary that got it late, managers who rate
things better than their teams, and a follow-up wave that improved where
reinforcement was aimed.
"""

from __future__ import annotations

import random
import secrets
import string
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from portal.domain.entities import (
    Audience,
    Department,
    Link,
    Response,
    StoreOutcome,
    Survey,
    Thresholds,
    Wave,
)
from portal.domain.errors import AlreadyExists
from portal.domain.questionnaire import Questionnaire
from portal.domain.scorecard import ORGANISATION, ActionStatus
from portal.instruments import DEFAULT_QUESTIONNAIRE, get_questionnaire
from portal.services import plans
from portal.services.respond import make_links
from portal.services.scorecard import scorecard
from portal.services.surveys import add_wave, close_wave, open_wave
from portal.storage.port import Store

DEMO_SLUG = "demo-crm"
LEVERS = ("purpose", "involvement", "managers", "skills", "governance", "ownership", "adoption")

#: code, name, site, headcount, lever means (1–5) at baseline in LEVERS order.
DEPARTMENTS: tuple[tuple[str, str, str, int, tuple[float, ...]], ...] = (
    ("AAR-SALES", "Sales", "Aarhus", 46, (4.1, 3.6, 3.9, 3.4, 3.2, 3.0, 3.6)),
    ("AAR-CS", "Customer service", "Aarhus", 38, (3.8, 3.3, 3.5, 2.7, 3.0, 2.9, 3.2)),
    ("AAR-FIN", "Finance", "Aarhus", 18, (3.6, 3.0, 3.4, 3.6, 3.5, 3.3, 3.4)),
    ("AAR-PEOPLE", "People and culture", "Aarhus", 7, (3.9, 3.7, 3.6, 3.5, 3.1, 3.2, 3.5)),
    ("HAM-WH", "Warehouse", "Hamburg", 64, (2.6, 2.3, 2.5, 2.4, 2.2, 2.1, 2.4)),
    ("HAM-FIELD", "Field service", "Hamburg", 30, (2.9, 2.6, 2.4, 2.8, 2.5, 2.3, 2.7)),
    ("HAM-KAM", "Key accounts", "Hamburg", 14, (3.4, 3.1, 3.0, 3.2, 2.8, 2.6, 3.1)),
    ("HAM-PLAN", "Logistics planning", "Hamburg", 24, (3.1, 2.8, 2.9, 3.3, 2.9, 2.5, 3.0)),
)
#: How much each lever improved between the waves (reinforcement aimed at the weak ones).
FOLLOW_UP_SHIFT = (0.2, 0.3, 0.5, 0.4, 0.3, 0.5, 0.3)
MANAGER_BONUS = 0.45
COMMENTS = (
    "The training was too early; by go-live I had forgotten most of it.",
    "We need someone local who can answer questions quickly.",
    "Reports take longer now than in the old spreadsheet.",
    "Good tool, but nobody told us what happens to our change requests.",
    "Our team lead uses it in every meeting, which helps a lot.",
    "New colleagues are left to figure it out on their own.",
    "It is not clear who decides about changes to the system.",
    "The mobile app makes visits much easier.",
)


@dataclass(frozen=True)
class DemoSummary:
    """What ``load_demo`` created (or found)."""

    survey: Survey
    waves: list[Wave]
    departments: list[Department]
    responses_stored: int
    already_loaded: bool
    links: list[Link] = field(default_factory=list)


def load_demo(store: Store, *, today: date, seed: int = 2026) -> DemoSummary:
    """Create the demo survey with a closed baseline and an open follow-up wave.

    Safe to run again: when the demo survey exists, nothing is changed.
    """
    questionnaire = get_questionnaire(DEFAULT_QUESTIONNAIRE)
    survey = Survey(
        slug=DEMO_SLUG,
        title="CRM rollout 2026 (demo)",
        system_name={"en": "the new CRM", "da": "det nye CRM"},
        questionnaire_id=questionnaire.id,
        questionnaire_version=questionnaire.version,
        languages=questionnaire.languages,
        default_language=questionnaire.default_language,
        thresholds=Thresholds(),
        created_on=today - timedelta(days=130),
    )
    try:
        store.add_survey(survey)
    except AlreadyExists:
        return DemoSummary(
            survey=store.get_survey(DEMO_SLUG),
            waves=store.list_waves(DEMO_SLUG),
            departments=store.list_departments(DEMO_SLUG),
            responses_stored=0,
            already_loaded=True,
            links=store.list_links(DEMO_SLUG, "follow-up-1"),
        )
    departments = [
        Department(DEMO_SLUG, code, name, site, headcount)
        for code, name, site, headcount, _ in DEPARTMENTS
    ]
    store.put_departments(departments)

    rng = random.Random(seed)
    stored = 0
    baseline_open = today - timedelta(days=120)
    add_wave(store, DEMO_SLUG, wave_id="baseline", name="Baseline", today=baseline_open)
    baseline = open_wave(store, DEMO_SLUG, "baseline", today=baseline_open)
    stored += _answer(
        store, rng, survey, baseline, questionnaire, baseline_open, 20, 0.0, (0.55, 0.8)
    )
    baseline_close = baseline_open + timedelta(days=21)
    close_wave(store, DEMO_SLUG, "baseline", today=baseline_close)
    _plan_after_baseline(store, baseline_close + timedelta(days=7))

    follow_open = today - timedelta(days=9)
    add_wave(
        store,
        DEMO_SLUG,
        wave_id="follow-up-1",
        name="Follow-up 1",
        today=follow_open,
        planned_close=today + timedelta(days=12),
    )
    follow_up = open_wave(store, DEMO_SLUG, "follow-up-1", today=follow_open)
    stored += _answer(store, rng, survey, follow_up, questionnaire, follow_open, 9, 1.0, (0.3, 0.6))
    make_links(store, DEMO_SLUG, "baseline")
    links = make_links(store, DEMO_SLUG, "follow-up-1")
    # The warehouse answers on a shared tablet in the canteen.
    store.put_links(
        [Link(secrets.token_urlsafe(12), DEMO_SLUG, "follow-up-1", "HAM-WH", kiosk=True)]
    )
    return DemoSummary(
        survey=survey,
        waves=store.list_waves(DEMO_SLUG),
        departments=departments,
        responses_stored=stored,
        already_loaded=False,
        links=store.list_links(DEMO_SLUG, "follow-up-1") or links,
    )


#: The units whose reinforcement meeting after the baseline the demo has held, and how
#: far each of the two actions they took got (so the follow-up scorecard shows them).
DEMO_PLANS = (
    (ORGANISATION, (ActionStatus.IN_PROGRESS, ActionStatus.PLANNED)),
    ("HAM-WH", (ActionStatus.DONE, ActionStatus.IN_PROGRESS)),
    ("AAR-CS", (ActionStatus.IN_PROGRESS, ActionStatus.DROPPED)),
)


def _plan_after_baseline(store: Store, meeting: date) -> None:
    """Take the baseline scorecard's first two suggestions into a few units' plans."""
    for unit, statuses in DEMO_PLANS:
        card = scorecard(store, DEMO_SLUG, "baseline", department=unit, today=meeting)
        suggested = [line for line in card.pages[0].plan if line.catalogue_id]
        for line, status in zip(suggested, statuses, strict=False):
            assert line.catalogue_id is not None
            action, _ = plans.adopt(
                store, "demo", DEMO_SLUG, "baseline", unit, line.catalogue_id, today=meeting
            )
            store.put_plan_action(replace(action, status=status))


def _answer(
    store: Store,
    rng: random.Random,
    survey: Survey,
    wave: Wave,
    questionnaire: Questionnaire,
    first_day: date,
    days: int,
    progress: float,
    rate: tuple[float, float],
) -> int:
    stored = 0
    for code, _name, _site, headcount, means in DEPARTMENTS:
        respondents = round(headcount * rng.uniform(*rate))
        managers = max(1, round(headcount / 8))
        for index in range(respondents):
            audience = Audience.MANAGER if index < managers else Audience.EMPLOYEE
            lever_mean = {
                lever: means[i]
                + progress * FOLLOW_UP_SHIFT[i]
                + (MANAGER_BONUS if audience is Audience.MANAGER else 0.0)
                for i, lever in enumerate(LEVERS)
            }
            personal = rng.gauss(0, 0.35)  # some people are more positive overall
            answers: dict[str, int | None] = {}
            for item in questionnaire.items_for(audience):
                if rng.random() < 0.03:
                    answers[item.id] = None
                    continue
                value = round(rng.gauss(lever_mean[item.lever] + personal, 0.8))
                value = min(5, max(1, value))
                answers[item.id] = 6 - value if item.reverse else value
            language = "da" if rng.random() < 0.35 else "en"
            response = Response(
                survey_slug=survey.slug,
                wave_id=wave.wave_id,
                department_code=code,
                audience=audience,
                language=language,
                day=first_day + timedelta(days=rng.randrange(days)),
                answers=answers,
                key="".join(rng.choices(string.ascii_letters + string.digits, k=22)),
                comment=rng.choice(COMMENTS) if rng.random() < 0.12 else None,
            )
            if store.add_response(response) is StoreOutcome.STORED:
                stored += 1
    return stored
