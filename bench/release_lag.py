"""Measure what release steps cost HR: how far published figures lag behind the answers.

Run ``.venv/bin/python bench/release_lag.py`` (``--quick`` for one organisation and fewer
answers). A wave on the demo's organisation (8 departments in 2 sites, the demo's planned
headcounts, about 70 % answering, one in eight a manager, 8 % "don't know" per statement)
receives its answers one at a time in random order; a results view looks for a release
after every ``--every`` answers (as a view would once the 5-minute refresh is due). It
prints, per run:

- **releases** and the mean **step** (responses released per release);
- **shown**: the share of the answers so far that the published head counts include, at a
  quarter, half, three quarters and all of the answers, and when the wave closes;
- **families current**: in the (department × audience) cells whose published head count is
  current, the share of lever, statement and complete-case sums that are current too (a
  family whose own respondents did not step by 0 or at least the minimum keeps its earlier
  sums, see docs/anonymity.md "Release steps"), at the same points;
- **closed wave**: whether the final state leaves answers out ("Some late answers are not
  included").

It measures the design's price; nothing in it is a pass/fail target. The guarantee itself is
tested in tests/unit/test_release.py and tests/web/test_release_steps.py.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.domain.entities import Audience, Response  # noqa: E402
from portal.instruments import get_questionnaire  # noqa: E402
from portal.services import results  # noqa: E402
from portal.services.demo import DEPARTMENTS  # noqa: E402
from portal.services.surveys import add_wave, close_wave, create_survey, open_wave  # noqa: E402
from portal.storage.sqlite import SqliteStore  # noqa: E402

SLUG, WAVE = "lag", "baseline"
DONT_KNOW = 0.08


def answers_of(rng: random.Random) -> list[tuple[str, Audience, dict[str, int | None]]]:
    """Return the wave's answers in arrival order: ~70 % of each department, 1 in 8 a manager."""
    questionnaire = get_questionnaire("change-readiness")
    arriving = []
    for code, _name, _site, headcount, _means in DEPARTMENTS:
        for _ in range(round(headcount * rng.uniform(0.6, 0.8))):
            audience = Audience.MANAGER if rng.random() < 0.125 else Audience.EMPLOYEE
            given = {
                item.id: None if rng.random() < DONT_KNOW else rng.randint(1, 5)
                for item in questionnaire.items_for(audience)
            }
            arriving.append((code, audience, given))
    rng.shuffle(arriving)
    return arriving


def current_share(store: SqliteStore, published: results.Snapshot) -> tuple[float, float]:
    """Return the share of answers shown, and of families as current as their cell's count."""
    fresh = results.compute_snapshot(store, SLUG, WAVE, now=datetime.now(UTC))
    shown = published.responses / fresh.responses if fresh.responses else 1.0
    families = current = 0
    for code, cell in fresh.cells.items():
        for raw in cell.parts:
            mine = published.cells.get(code)
            part = mine.part(raw.audience) if mine else None
            if part is None or part.responses != raw.responses:
                continue
            sums = results.part_families(part)
            for family, value in results.part_families(raw).items():
                families += 1
                current += sums.get(family) == value
    return shown, (current / families if families else 1.0)


def run(seed: int, every: int) -> None:
    """Simulate one wave and print its figures."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "lag.sqlite3")
        store.create_schema()
        csv = "code,name,site,headcount\n" + "".join(
            f"{code},{name},{site},{headcount}\n" for code, name, site, headcount, _ in DEPARTMENTS
        )
        today = date.today()
        create_survey(store, slug=SLUG, title="Lag", system_name={"en": "the CRM"},
                      today=today, departments_csv=csv)  # fmt: skip
        add_wave(store, SLUG, wave_id=WAVE, name="Baseline", today=today)
        open_wave(store, SLUG, WAVE, today=today)
        arriving = answers_of(rng)
        marks = {round(len(arriving) * f): f"{int(f * 100)} %" for f in (0.25, 0.5, 0.75, 1.0)}
        now = datetime.now(UTC)
        published = None
        releases, steps, rows = 0, [], []
        for number, (code, audience, given) in enumerate(arriving, start=1):
            store.add_response(
                Response(
                    SLUG, WAVE, code, audience, "en", today, given, key=f"release-lag-{number:08d}"
                )
            )
            if number % every and number not in marks:
                continue
            now += timedelta(seconds=1)
            state = results.current_snapshot(store, SLUG, WAVE, now=now, max_age=-1)
            if published is None or state.snapshot_id != published.snapshot_id:
                if published is not None and state.responses != published.responses:
                    releases += 1
                    steps.append(state.responses - published.responses)
                published = state
            if number in marks:
                rows.append((marks[number], *current_share(store, published)))
        close_wave(store, SLUG, WAVE, today=today)
        now += timedelta(seconds=1)
        final = results.current_snapshot(store, SLUG, WAVE, now=now, max_age=-1)
        rows.append(("closed", *current_share(store, final)))
        partial = results.held_back(store.get_wave(SLUG, WAVE), final)
        store.close()
    mean = sum(steps) / len(steps) if steps else 0.0
    print(f"seed {seed}: {len(arriving)} answers, a look every {every}: {releases} releases, "
          f"mean step {mean:.1f} responses; closed wave leaves answers out: {partial}")  # fmt: skip
    print(f"  {'answers in':<11} {'shown':>7} {'families current':>17}")
    for label, shown, current in rows:
        print(f"  {label:<11} {shown:>7.0%} {current:>17.0%}")


def main() -> None:
    """Run the simulations the command line asks for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one organisation, fewer looks")
    parser.add_argument("--every", type=int, default=3, help="answers between two looks")
    options = parser.parse_args()
    for seed in (1,) if options.quick else (1, 2, 3):
        run(seed, options.every * (3 if options.quick else 1))


if __name__ == "__main__":
    main()
