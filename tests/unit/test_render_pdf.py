"""The scorecard PDF: each unit from a new A4 page, printed in full, with text poppler can read."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest

from portal.render.pdf import MARGIN, PAGE_HEIGHT, PAGE_WIDTH, scorecard_pdf
from portal.services.scorecard_model import TEXTS, Scorecard, ScorecardPage
from tests.builders import make_lever_line, make_plan_line, make_scorecard, make_scorecard_page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils is installed by `make test`"
)


def write(card: Scorecard, path: Path) -> Path:
    path.write_bytes(scorecard_pdf(card))
    return path


def info(pdf: Path) -> dict[str, str]:
    """Return pdfinfo's fields."""
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return dict(
        (key.strip(), value.strip())
        for key, value in (line.split(":", 1) for line in out.stdout.splitlines() if ":" in line)
    )


def page_text(pdf: Path, number: int) -> str:
    """Return one page's text as ``pdftotext -layout`` lays it out."""
    out = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", "-f", str(number), "-l", str(number),
         str(pdf), "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout


def flat(text: str) -> str:
    """Collapse whitespace, so sentences wrapped over lines compare as one."""
    return " ".join(text.split())


def long_page() -> ScorecardPage:
    """A page built to overflow: twelve long actions, long labels and long names."""
    words = "reinforce " * 40
    plan = tuple(
        make_plan_line(
            action_id=f"a{n}",
            title=f"A{n:02d} {words}",
            description=words * 3,
            owner_role="Regional head of customer operations " * 3,
            mandate_holder="Executive vice president " * 4,
            kpi="Share of weekly users " * 5,
            kpi_target="≥ 80 % of the team " * 3,
            status="in progress",
            from_wave="Baseline" if n % 2 else None,
            movement="+5 points, improved" if n % 2 else None,
        )  # fmt: skip
        for n in range(1, 13)
    )
    levers = tuple(
        make_lever_line(
            lever_id=f"l{n}", label=f"Lever {n} " + "very long label " * 8, index=40 + n, target=70
        )  # fmt: skip
        for n in range(7)
    )
    return make_scorecard_page(
        unit_label="Customer operations and after-sales service " * 4,
        survey_title="Rollout of the customer relationship management system " * 3,
        barrier_sentence="This barrier sentence is long. " * 20,
        low_response=True,
        response_rate=31.5,
        levers=levers,
        plan=plan,
        more_actions=2,
    )


def test_each_unit_starts_an_a4_page_and_only_a_long_plan_takes_more(tmp_path: Path) -> None:
    pages = (
        make_scorecard_page(),
        long_page(),
        make_scorecard_page(department="HR", unit_label="HR", published=False, plan=()),
        make_scorecard_page(department="*", unit_label="Whole organisation", plan=()),
    )
    pdf = write(make_scorecard(*pages), tmp_path / "card.pdf")
    details = info(pdf)
    count = int(details["Pages"])
    assert details["Page size"].startswith("595.28 x 841.89")
    texts = [page_text(pdf, number) for number in range(1, count + 1)]
    assert all(text.strip() for text in texts)
    # A unit's first page has its facts; a continuation page says "(continued)" instead.
    starts = [n for n, text in enumerate(texts) if "Minimum group size" in text]
    assert len(starts) == 4 and starts[0] == 0 and starts[1] == 1
    assert starts[2:] == [count - 2, count - 1]
    for text in texts[2 : count - 2]:
        assert "(continued)" in flat(text) and "Minimum group size" not in text
    assert [f"{n} / {count}" in text for n, text in enumerate(texts, start=1)] == [True] * count


def word_boxes(pdf: Path) -> list[list[tuple[float, float, float, float, str]]]:
    """Return each page's words with their boxes (x0, y0, x1, y1), from ``pdftotext -bbox``."""
    out = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    )
    root = ET.fromstring(out.stdout.replace("xmlns=", "data-ns="))
    return [
        [
            (*(float(w.get(k, "nan")) for k in ("xMin", "yMin", "xMax", "yMax")), w.text or "")
            for w in page.iter("word")
        ]
        for page in root.iter("page")
    ]


def test_every_word_stays_inside_the_margins_and_none_overlap(tmp_path: Path) -> None:
    pages = (
        make_scorecard_page(),
        long_page(),
        make_scorecard_page(language="da", low_response=True, response_rate=12.5),
        make_scorecard_page(published=False),
    )
    pdf = write(make_scorecard(*pages), tmp_path / "card.pdf")
    for number, words in enumerate(word_boxes(pdf), start=1):
        assert words
        for x0, y0, x1, y1, word in words:
            assert MARGIN - 0.5 <= x0 and x1 <= PAGE_WIDTH - MARGIN + 0.5, (number, word)
            assert MARGIN - 3 <= y0 and y1 <= PAGE_HEIGHT - MARGIN + 3, (number, word)
        for i, (ax0, ay0, ax1, ay1, a) in enumerate(words):
            for bx0, by0, bx1, by1, b in words[i + 1 :]:
                same_line = min(ay1, by1) - max(ay0, by0) > 1.5
                assert not (same_line and min(ax1, bx1) - max(ax0, bx0) > 0.5), (number, a, b)


def test_page_shows_every_levers_score_and_target_on_its_row(tmp_path: Path) -> None:
    page = make_scorecard_page()
    text = page_text(write(make_scorecard(page), tmp_path / "card.pdf"), 1)
    for lever in page.levers:
        row = rf"{re.escape(lever.label)}\b.*?\s{lever.index}\s+{lever.target}\s+{lever.light_word}"
        assert re.search(row, text), f"no row for {lever.label}:\n{text}"
        assert re.search(rf"{lever.employees}\s+{lever.managers}\s", text)
    assert "Sales" in text and "Aarhus" in text and "14 / 20" in text and "70.0 %" in text


def test_page_shows_the_header_barrier_sentence_and_plan(tmp_path: Path) -> None:
    page = make_scorecard_page()
    text = flat(page_text(write(make_scorecard(page), tmp_path / "card.pdf"), 1))
    assert page.barrier_sentence in text
    assert "Reinforcement scorecard".upper() in text
    assert "Figures as of 2026-11-23" in text
    assert "Minimum group size 5" in text or "Minimum group size" in text
    for line in page.plan:
        assert line.title in text
        assert line.owner_role in text
        assert line.due is not None and line.due.isoformat() in text
    assert "suggested" in text
    assert ">= 70" in text  # "≥" is not in WinAnsi: spelled out, not dropped


def test_low_response_warning_is_printed(tmp_path: Path) -> None:
    page = make_scorecard_page(low_response=True, responses=17, headcount=40, response_rate=42.5)
    text = flat(page_text(write(make_scorecard(page), tmp_path / "card.pdf"), 1))
    assert TEXTS["en"]["low_response"] in text
    assert "42.5 %" in text


def test_long_plan_continues_on_further_pages_in_full_then_counts_the_rest(
    tmp_path: Path,
) -> None:
    page = long_page()
    pdf = write(make_scorecard(page), tmp_path / "card.pdf")
    count = int(info(pdf)["Pages"])
    assert count > 1
    text = "\n".join(page_text(pdf, number) for number in range(1, count + 1))
    assert sorted(set(re.findall(r"\bA(\d\d) reinforce", text))) == [
        f"{n:02d}" for n in range(1, 13)
    ]
    more = re.search(r"\+ (\d+) more actions in the portal", text)
    assert more and int(more.group(1)) == page.more_actions
    assert "…" not in page_text(pdf, 1).split("Reinforcement scorecard ·")[0]
    for lever in page.levers:
        assert re.search(rf"\s{lever.index}\s+{lever.target}\s", page_text(pdf, 1))


def test_carried_over_action_shows_its_wave_and_movement(tmp_path: Path) -> None:
    line = make_plan_line(from_wave="Baseline", movement="+6 points, improved")
    page = make_scorecard_page(plan=(line,))
    text = flat(page_text(write(make_scorecard(page), tmp_path / "card.pdf"), 1))
    assert "from Baseline" in text
    assert f"{TEXTS['en']['moved'].format(wave='Baseline')}: +6 points, improved" in text


def test_empty_plan_says_no_lever_is_below_target(tmp_path: Path) -> None:
    page = make_scorecard_page(plan=())
    text = flat(page_text(write(make_scorecard(page), tmp_path / "card.pdf"), 1))
    assert TEXTS["en"]["no_plan"] in text


def test_danish_letters_round_trip(tmp_path: Path) -> None:
    texts = TEXTS["da"]
    levers = (
        make_lever_line(
            label="Formål", light_word=texts["amber"], trend_word=texts["trend_declined"]
        ),
        make_lever_line(lever_id="own", label="Ejerskab på tværs", light_word=texts["amber"]),
    )
    page = make_scorecard_page(
        language="da", unit_label="Økonomi & Åbenhed – Ærø", site="Århus", levers=levers,
        plan=(make_plan_line(title="Genfortæl visionen på lokale vilkår",
                             owner_role="Afdelingsleder", status="i gang"),),
        barrier_sentence=texts["barrier_sentence"].format(lever="Formål", index=58, attention=60),
    )  # fmt: skip
    pdf = write(make_scorecard(page, language="da"), tmp_path / "card.pdf")
    text = flat(page_text(pdf, 1))
    for expected in (
        "Økonomi & Åbenhed – Ærø",
        "Århus",
        "Formål",
        "Ejerskab på tværs",
        "Genfortæl visionen på lokale vilkår",
        "FORANKRINGSSCOREKORT",
        texts["barrier_sentence"].format(lever="Formål", index=58, attention=60),
        "Mindste gruppestørrelse",
        "Ændring siden Baseline",
    ):
        assert expected in text, expected


def test_unpublished_page_shows_the_notice_and_none_of_its_lever_numbers(tmp_path: Path) -> None:
    levers = tuple(
        make_lever_line(
            lever_id=f"l{n}",
            label=f"Lever{n}",
            index=81 + n,
            low=77,
            high=97,
            target=66,
            employees=88,
            managers=89,
            gap_to_target=15,
            change=13,
        )  # fmt: skip
        for n in range(3)
    )
    page = make_scorecard_page(
        published=False, levers=levers, responses=None, response_rate=None,
        barrier_sentence="", plan=(make_plan_line(title="Secret action"),),
    )  # fmt: skip
    text = page_text(write(make_scorecard(page), tmp_path / "card.pdf"), 1)
    assert TEXTS["en"]["not_published"] in flat(text)
    numbers = set(re.findall(r"\d+", text))
    assert not numbers & {"81", "82", "83", "77", "97", "66", "88", "89", "15", "13"}
    assert "Lever0" not in text and "Secret action" not in text


def test_suppressed_lever_reads_not_enough_responses(tmp_path: Path) -> None:
    levers = (
        make_lever_line(label="Purpose", index=62),
        make_lever_line(
            lever_id="skills",
            label="Skills",
            index=None,
            low=None,
            high=None,
            light="none",
            light_word=TEXTS["en"]["none"],
            gap_to_target=None,
            employees=None,
            managers=None,
            change=None,
            trend_word=None,
        ),  # fmt: skip
    )
    text = page_text(
        write(make_scorecard(make_scorecard_page(levers=levers)), tmp_path / "c.pdf"), 1
    )
    skills_rows = [line for line in text.splitlines() if line.strip().startswith("Skills")]
    assert any("Not enough responses" in line for line in skills_rows), text


def test_document_info_names_the_scorecard_and_the_portal(tmp_path: Path) -> None:
    details = info(write(make_scorecard(), tmp_path / "card.pdf"))
    assert details["Title"] == "Reinforcement scorecard – CRM rollout – Follow-up"
    assert details["Producer"] == "Change readiness portal"


def test_same_scorecard_gives_the_same_bytes() -> None:
    card = make_scorecard(make_scorecard_page(), long_page())
    assert scorecard_pdf(card) == scorecard_pdf(card)


def test_rendered_page_is_kept_as_a_png_artefact(tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils is installed by `make test`")
    ARTIFACTS.mkdir(exist_ok=True)
    card = make_scorecard(make_scorecard_page(computed_on=date(2026, 11, 23)), long_page())
    pdf = write(card, ARTIFACTS / "scorecard-render.pdf")
    for number, name in ((1, "scorecard-render"), (2, "scorecard-render-long")):
        subprocess.run(
            ["pdftoppm", "-r", "60", "-png", "-singlefile", "-f", str(number), "-l", str(number),
             str(pdf), str(ARTIFACTS / name)],
            check=True,
        )  # fmt: skip
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 5_000
