"""Release steps hold for every lever's respondents, not only for head counts.

"Don't know" makes a lever's respondents fewer than the group's: five
newcomers of whom one scored a lever would move the group count by five (a
step the group rule allows) but the lever's sum by one person.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from portal.domain.aggregates import ItemTally
from portal.domain.entities import Audience
from portal.services import key_drivers, readiness, results
from portal.services.measures import item_counts, lever_counts
from portal.services.raw_export import NOT_FINAL, plan_raw_export
from portal.services.surveys import close_wave
from portal.storage.port import Store
from tests.builders import make_response
from tests.web.test_results import QUESTIONNAIRE, SLUG, make_organisation, random_answers

START = {"SALES": (8, 5), "WH": (9, 6)}
LEVER = QUESTIONNAIRE.levers[0].id


def answers(rng: random.Random, *, skip_lever: bool) -> dict[str, int | None]:
    """Answer every employee item; "don't know" to every statement of LEVER if asked."""
    given = random_answers(rng, Audience.EMPLOYEE)
    for item in QUESTIONNAIRE.items_for(Audience.EMPLOYEE):
        given[item.id] = None if skip_lever and item.lever == LEVER else (given[item.id] or 3)
    return given


def add(store: Store, department: str, answers: dict[str, int | None]) -> None:
    """Store one employee's response in ``department`` today."""
    store.add_response(
        make_response(
            survey_slug=SLUG,
            department_code=department,
            audience=Audience.EMPLOYEE,
            day=date.today(),
            answers=answers,
        )
    )


def publish(store: Store, at: datetime) -> results.Snapshot:
    """Read the wave's published state as a view would when a refresh is due."""
    return results.current_snapshot(store, SLUG, "baseline", now=at, max_age=-1)


def test_a_step_that_moves_a_lever_by_one_person_is_held_back(sqlite_store: Store) -> None:
    make_organisation(sqlite_store, START)
    now = datetime.now(UTC)
    first = publish(sqlite_store, now)
    rng = random.Random(7)
    for number in range(6):  # six newcomers in SALES; only one of them scored the lever
        add(sqlite_store, "SALES", answers(rng, skip_lever=number > 0))
    second = publish(sqlite_store, now + timedelta(minutes=10))
    moved = {
        cell: lever_counts(second, LEVER)[cell] - lever_counts(first, LEVER).get(cell, 0)
        for cell in lever_counts(second, LEVER)
    }
    assert all(change == 0 or change >= 5 for change in moved.values()), moved


def test_a_step_where_every_lever_grows_enough_is_released(sqlite_store: Store) -> None:
    make_organisation(sqlite_store, START)
    now = datetime.now(UTC)
    first = publish(sqlite_store, now)
    rng = random.Random(8)
    for _ in range(6):
        add(sqlite_store, "SALES", answers(rng, skip_lever=False))
    second = publish(sqlite_store, now + timedelta(minutes=10))
    assert second.responses == first.responses + 6


def test_two_processes_releasing_from_the_same_state_publish_only_the_first(
    sqlite_store: Store,
) -> None:
    make_organisation(sqlite_store, START)
    now = datetime.now(UTC)
    published = publish(sqlite_store, now)
    wave = sqlite_store.get_wave(SLUG, "baseline")
    rng = random.Random(9)

    def six_more(code: str) -> None:
        for _ in range(6):
            add(sqlite_store, code, answers(rng, skip_lever=False))

    six_more("SALES")
    first = results._release(sqlite_store, wave, published, now=now)
    assert first.responses == published.responses + 6
    six_more("WH")
    # A second process still holds the old state; its step was checked against that
    # state only, so it must not replace the first process's release.
    second = results._release(sqlite_store, wave, published, now=now)
    current = sqlite_store.get_snapshot(SLUG, "baseline")
    assert current is not None and current.snapshot_id == first.snapshot_id
    assert second.snapshot_id == first.snapshot_id


class StaleFirstRead:
    """A store whose first snapshot read is from before any was published (another process)."""

    def __init__(self, store: Store) -> None:
        self.store, self.stale = store, True

    def get_snapshot(self, survey_slug: str, wave_id: str) -> results.Snapshot | None:
        if self.stale:
            self.stale = False
            return None
        return self.store.get_snapshot(survey_slug, wave_id)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def test_two_processes_making_the_first_state_publish_only_one(sqlite_store: Store) -> None:
    make_organisation(sqlite_store, START)
    now = datetime.now(UTC)
    first = publish(sqlite_store, now)
    sqlite_store.add_response(
        make_response(survey_slug=SLUG, department_code="SALES", day=date.today())
    )
    # The second process read "no state yet" before the first published; its full
    # recount (one response more) must not replace the first state.
    seen = results.current_snapshot(StaleFirstRead(sqlite_store), SLUG, "baseline", now=now)  # type: ignore[arg-type]
    current = sqlite_store.get_snapshot(SLUG, "baseline")
    assert current is not None and current.snapshot_id == first.snapshot_id
    assert seen.snapshot_id == first.snapshot_id


def answers_skipping(rng: random.Random, item_id: str | None) -> dict[str, int | None]:
    """Answer every employee statement on the scale; "don't know" to ``item_id`` alone."""
    given = random_answers(rng, Audience.EMPLOYEE)
    for item in QUESTIONNAIRE.items_for(Audience.EMPLOYEE):
        given[item.id] = None if item.id == item_id else (given[item.id] or 3)
    return given


def test_a_step_that_moves_a_statement_by_one_answer_is_held_back(sqlite_store: Store) -> None:
    # Every newcomer scores every lever (the lever has other statements), but only one of the
    # six answers STATEMENT on the scale: its shares would move by that one person's answer.
    statement = next(i for i in QUESTIONNAIRE.items_for(Audience.EMPLOYEE))
    make_organisation(sqlite_store, START)
    now = datetime.now(UTC)
    first = publish(sqlite_store, now)
    rng = random.Random(9)
    for number in range(6):
        add(sqlite_store, "SALES", answers_skipping(rng, statement.id if number > 0 else None))
    second = publish(sqlite_store, now + timedelta(minutes=10))
    before, after = item_counts(first, statement.id), item_counts(second, statement.id)
    moved = {cell: after[cell] - before.get(cell, 0) for cell in after}
    assert all(change == 0 or change >= 5 for change in moved.values()), moved
    for other in QUESTIONNAIRE.items_for(Audience.EMPLOYEE):  # every other measure steps too
        grown = (
            item_counts(second, other.id)[("SALES", Audience.EMPLOYEE)]
            - item_counts(first, other.id)[("SALES", Audience.EMPLOYEE)]
        )
        assert grown == 0 or grown >= 5


def test_a_step_where_every_statement_grows_enough_is_released_with_its_dont_knows(
    sqlite_store: Store,
) -> None:
    statement = next(i for i in QUESTIONNAIRE.items_for(Audience.EMPLOYEE))
    make_organisation(sqlite_store, START)
    now = datetime.now(UTC)
    first = publish(sqlite_store, now)
    rng = random.Random(10)
    for number in range(8):  # two "don't know" among eight: the statement grows by six
        add(sqlite_store, "SALES", answers_skipping(rng, statement.id if number < 2 else None))
    second = publish(sqlite_store, now + timedelta(minutes=10))
    assert second.responses == first.responses + 8


def test_a_cell_released_for_the_first_time_keeps_a_held_statement_at_nobody(
    sqlite_store: Store,
) -> None:
    # A cell nobody had answered in is released while one of its statements is held back
    # (its own answers did not step by k): the statement stays at its published state, a
    # tally over nobody, and every results view still reads the state. Found by
    # tests/web/test_attacks_over_time.py: the held entry used to be dropped, and merging
    # the cells failed (a 500 on every results page).
    statement = next(i for i in QUESTIONNAIRE.items_for(Audience.EMPLOYEE))
    make_organisation(sqlite_store, START)
    now = datetime.now(UTC)
    published = publish(sqlite_store, now)
    rng = random.Random(11)
    for _ in range(6):
        add(sqlite_store, "OPS", random_answers(rng, Audience.EMPLOYEE))
    candidate = results.compute_snapshot(sqlite_store, SLUG, "baseline", now=now)
    cell = ("OPS", Audience.EMPLOYEE)
    step = results.Step(frozenset({cell}), {cell: frozenset({("item", statement.id)})})
    released = results._mixed(sqlite_store, published, candidate, step)
    assert sqlite_store.put_snapshot(released, replaces=published.snapshot_id)
    part = released.cells["OPS"].part(Audience.EMPLOYEE)
    assert part is not None and part.responses == 6
    assert part.tally(statement.id) == ItemTally(statement.id, (0, 0, 0, 0, 0), 0)
    assert readiness.wave_results(sqlite_store, SLUG, "baseline").rows


def test_a_closed_wave_whose_statement_sums_lag_offers_no_raw_export(sqlite_store: Store) -> None:
    # Every response is in the published head counts, but one statement's shares stand at
    # the state before the last six (only one of them answered it): the raw rows would show
    # that one late answer next to the published shares, so the export is refused.
    statement = next(i for i in QUESTIONNAIRE.items_for(Audience.EMPLOYEE))
    make_organisation(sqlite_store, START)
    now = datetime.now(UTC)
    publish(sqlite_store, now)
    rng = random.Random(9)
    for number in range(6):
        add(sqlite_store, "SALES", answers_skipping(rng, statement.id if number > 0 else None))
    second = publish(sqlite_store, now + timedelta(minutes=10))
    assert second.responses == sum(map(sum, START.values())) + 6  # the heads are all shown
    close_wave(sqlite_store, SLUG, "baseline", today=date.today())
    publish(sqlite_store, now + timedelta(minutes=20))
    plan = plan_raw_export(sqlite_store, SLUG, "baseline")
    assert plan.refusal == NOT_FINAL and not plan.rows


def drivers_family(snapshot: results.Snapshot) -> tuple[str, ...]:
    """Return the family key of the levers' cross-products in ``snapshot``."""
    found = [f for f in results.family_counts(snapshot) if f[0] == "drivers"]
    assert len(found) == 1, found  # every lever is asked of both audiences
    return found[0]


def test_a_step_that_moves_the_lever_cross_products_by_one_person_is_held_back(
    sqlite_store: Store,
) -> None:
    # Six newcomers; only one has a score on every lever (the others said "don't know" to
    # LEVER), so the key-driver sums would move by that one person.
    make_organisation(sqlite_store, START)
    now = datetime.now(UTC)
    first = publish(sqlite_store, now)
    rng = random.Random(12)
    for number in range(6):
        add(sqlite_store, "SALES", answers(rng, skip_lever=number > 0))
    second = publish(sqlite_store, now + timedelta(minutes=10))
    family = drivers_family(second)
    before = results.family_counts(first)[family]
    after = results.family_counts(second)[family]
    moved = {cell: after[cell] - before.get(cell, 0) for cell in after}
    assert all(change == 0 or change >= 5 for change in moved.values()), moved
    fresh = results.family_counts(results.compute_snapshot(sqlite_store, SLUG, "baseline", now=now))
    assert fresh[family][("SALES", Audience.EMPLOYEE)] == before[("SALES", Audience.EMPLOYEE)] + 1


def test_a_cell_released_for_the_first_time_keeps_held_cross_products_at_nobody(
    sqlite_store: Store,
) -> None:
    make_organisation(sqlite_store, START)
    now = datetime.now(UTC)
    published = publish(sqlite_store, now)
    rng = random.Random(13)
    for _ in range(6):
        add(sqlite_store, "OPS", random_answers(rng, Audience.EMPLOYEE))
    candidate = results.compute_snapshot(sqlite_store, SLUG, "baseline", now=now)
    family = drivers_family(candidate)
    cell = ("OPS", Audience.EMPLOYEE)
    step = results.Step(frozenset({cell}), {cell: frozenset({family})})
    released = results._mixed(sqlite_store, published, candidate, step)
    assert sqlite_store.put_snapshot(released, replaces=published.snapshot_id)
    part = released.cells["OPS"].part(Audience.EMPLOYEE)
    assert part is not None and part.responses == 6
    (held,) = part.drivers
    assert held.n == 0 and not any(held.sum_v) and not any(held.cross)
    report = readiness.wave_results(sqlite_store, SLUG, "baseline")
    assert report.rows and key_drivers.key_drivers(report).status is not None
