"""Measure rendering the scorecard PDF: 60 departments and the organisation, full plans.

Run ``.venv/bin/python bench/scorecard_pdf.py`` (``--runs N``, default 5). It builds a
synthetic ``Scorecard`` of 61 pages (the organisation and 60 departments), each with seven
levers, a barrier sentence and a plan of twelve long actions (more than a page holds, so
every page measures, wraps and cuts), then prints the median time of ``scorecard_pdf`` over
the runs (with the text-measuring caches emptied before each, as on a fresh Lambda), per
page, and the file size; it also times ``lever_chart_svg`` for all pages.

Target on this machine (issue 6): the whole 60-department download ≤ 3 s, of which the
results service and plans are the larger part; rendering should stay well under 1 s. For
reference, the issue reports LimeSurvey's statistics PDF with charts at 3.4–5 s for one survey.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.render import metrics  # noqa: E402
from portal.render.pdf import scorecard_pdf  # noqa: E402
from portal.render.svg import lever_chart_svg  # noqa: E402
from portal.services.scorecard_model import (  # noqa: E402
    TEXTS,
    LeverLine,
    PlanLine,
    Scorecard,
    ScorecardPage,
)

DEPARTMENTS = 60
LEVERS = ("Purpose", "Involvement", "Managers", "Skills", "Governance", "Ownership", "Adoption")


def synthetic_page(number: int, language: str = "en") -> ScorecardPage:
    """Return one full page: seven levers with all numbers and twelve long actions."""
    texts = TEXTS[language]
    levers = []
    for n, label in enumerate(LEVERS):
        index = 35 + (number * 7 + n * 11) % 60
        light = "green" if index >= 70 else "amber" if index >= 50 else "red"
        levers.append(
            LeverLine(
                lever_id=label.lower(), label=label, outcome=label == "Adoption", index=index,
                low=index - 7, high=index + 7, target=70, light=light, light_word=texts[light],
                gap_to_target=index - 70, employees=index - 4, managers=index + 9, change=5,
                trend_word=texts["trend_improved"],
            )
        )  # fmt: skip
    plan = tuple(
        PlanLine(
            action_id=f"a{n}",
            lever_id="purpose",
            lever_label="Purpose",
            title=f"Action {n}: retell why the new CRM exists, in the team's own terms",
            description="Each manager rewrites the vision and its benefits for local work, "
            "tests it with two colleagues and presents it at the next team meeting.",
            owner_role="Head of department",
            mandate_holder="Country managing director",
            due=date(2027, 1, n + 1),
            kpi="Share of the team who can say why the CRM exists",
            kpi_target="≥ 80 % by the next wave",
            status=texts["status_in_progress"],
            saved=n % 3 != 0,
            reason=texts["reason_barrier"],
            from_wave="Baseline" if n % 2 else None,
            movement=texts["points"].format(change="+5", trend=texts["trend_improved"])
            if n % 2
            else None,
        )  # fmt: skip
        for n in range(12)
    )
    unit = texts["organisation"] if number == 0 else f"Department D{number:02d}"
    return ScorecardPage(
        language=language, texts=texts, survey_slug="bench", survey_title="Bench rollout",
        system_name="the new CRM", wave_id="follow-up", wave_name="Follow-up",
        previous_wave_name="Baseline", department="*" if number == 0 else f"D{number:02d}",
        unit_label=unit, site="Aarhus" if number < 30 else "Oslo", responses=40, headcount=60,
        response_rate=66.6, low_response=False, min_group_size=5, attention=50, published=True,
        levers=tuple(levers),
        barrier_sentence=texts["barrier_sentence"].format(lever="Involvement", index=41,
                                                          attention=50),
        plan=plan, computed_on=date(2026, 11, 23), more_actions=3,
    )  # fmt: skip


def synthetic_scorecard(departments: int = DEPARTMENTS) -> Scorecard:
    """Return the organisation's page and one page per department."""
    pages = tuple(synthetic_page(n) for n in range(departments + 1))
    return Scorecard(survey_title="Bench rollout", wave_name="Follow-up", language="en",
                     pages=pages)  # fmt: skip


def cold() -> None:
    """Empty the text-measuring caches, so every run measures and wraps from scratch."""
    metrics.winansi.cache_clear()
    metrics._wrapped.cache_clear()


def timed(work: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Return the median seconds of ``runs`` cold calls of ``work`` and the last result."""
    times = []
    result = None
    for _ in range(runs):
        cold()
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    """Print the render times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs to take the median of")
    args = parser.parse_args()
    card = synthetic_scorecard()
    pdf_seconds, pdf = timed(lambda: scorecard_pdf(card), args.runs)
    svg_seconds, _ = timed(lambda: [lever_chart_svg(page) for page in card.pages], args.runs)
    pages = len(card.pages)
    print(f"{'render':<28}{'pages':>6}{'median s':>10}{'ms/page':>9}{'size KB':>9}")
    print(f"{'scorecard_pdf':<28}{pages:>6}{pdf_seconds:>10.3f}"
          f"{pdf_seconds / pages * 1000:>9.1f}{len(pdf) / 1024:>9.0f}")  # fmt: skip
    print(f"{'lever_chart_svg (all pages)':<28}{pages:>6}{svg_seconds:>10.3f}"
          f"{svg_seconds / pages * 1000:>9.1f}{'':>9}")  # fmt: skip
    print(f"\nMedian of {args.runs} runs, text caches emptied before each.")
    print("Target for the whole 60-department download (service + render): ≤ 3 s.")


if __name__ == "__main__":
    main()
