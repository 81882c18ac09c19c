"""The scorecard's server-made SVG charts: safe markup that prints without JavaScript."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from portal.render.svg import PLOT_LEFT, PLOT_RIGHT, audience_chart_svg, lever_chart_svg
from portal.services.scorecard_model import TEXTS, ScorecardPage
from tests.builders import make_lever_line, make_scorecard_page

SVG = "{http://www.w3.org/2000/svg}"
Chart = Callable[[ScorecardPage], str]


def parse(markup: str) -> ET.Element:
    """Parse SVG markup as XML (it must be well-formed to embed and to print)."""
    return ET.fromstring(markup)


def bars(root: ET.Element) -> list[ET.Element]:
    """Return each lever's bar: the first rect of every ``bar`` group, in row order."""
    groups = [g for g in root.iter(f"{SVG}g") if "bar" in g.get("class", "").split()]
    return [g.find(f"{SVG}rect") for g in groups]  # type: ignore[misc]


def all_text(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize("chart", [lever_chart_svg, audience_chart_svg])
def test_chart_is_well_formed_svg_without_styles_or_scripts(chart: Chart) -> None:
    root = parse(chart(make_scorecard_page()))
    assert root.tag == f"{SVG}svg"
    for element in root.iter():
        assert "style" not in element.attrib, element.tag
        assert element.tag not in (f"{SVG}style", f"{SVG}script", f"{SVG}foreignObject")
        assert not any(name.startswith("on") for name in element.attrib), element.tag


@pytest.mark.parametrize("chart", [lever_chart_svg, audience_chart_svg])
def test_chart_is_an_image_labelled_by_its_title_and_scales_with_a_viewbox(chart: Chart) -> None:
    root = parse(chart(make_scorecard_page()))
    assert root.get("role") == "img"
    assert root.get("viewBox", "").startswith("0 0 ")
    ids = root.get("aria-labelledby", "").split()
    titles = {t.get("id"): t.text for t in root.iter(f"{SVG}title") if t.get("id")}
    assert ids and ids[0] in titles


def test_lever_chart_title_is_the_pages_chart_text() -> None:
    page = make_scorecard_page(language="da")
    root = parse(lever_chart_svg(page))
    title_id = root.get("aria-labelledby", "").split()[0]
    title = next(t for t in root.iter(f"{SVG}title") if t.get("id") == title_id)
    assert title.text == TEXTS["da"]["chart"]


def test_bar_widths_are_proportional_to_the_index() -> None:
    values = [0, 10, 25, 58, 99, 100]
    levers = tuple(
        make_lever_line(lever_id=f"l{v}", label=f"L{v}", index=v, low=None, high=None)
        for v in values
    )
    root = parse(lever_chart_svg(make_scorecard_page(levers=levers)))
    widths = [float(rect.get("width", "nan")) for rect in bars(root)]
    full = PLOT_RIGHT - PLOT_LEFT
    assert widths == pytest.approx([full * v / 100 for v in values], abs=0.01)
    assert all(float(rect.get("x", "nan")) == PLOT_LEFT for rect in bars(root))


def test_bars_are_coloured_by_light_and_hatched_when_off_target() -> None:
    page = make_scorecard_page()
    root = parse(lever_chart_svg(page))
    groups = [g for g in root.iter(f"{SVG}g") if "bar" in g.get("class", "").split()]
    for lever, group in zip(page.levers, groups, strict=True):
        rects = group.findall(f"{SVG}rect")
        assert rects[0].get("fill", "").startswith("#")
        hatched = any(r.get("fill", "").startswith("url(#") for r in rects)
        assert hatched == (lever.light in ("amber", "red"))
    fills = {g.find(f"{SVG}rect").get("fill") for g in groups}  # type: ignore[union-attr]
    assert len(fills) == 3  # green, amber and red bars differ


def test_each_published_lever_prints_its_number_and_has_a_target_tick() -> None:
    page = make_scorecard_page()
    markup = lever_chart_svg(page)
    texts = all_text(parse(markup))
    for lever in page.levers:
        assert str(lever.index) in texts
    ticks = [
        line
        for line in parse(markup).iter(f"{SVG}line")
        if line.get("stroke-width") == "2.5" and line.get("x1") == line.get("x2")
    ]
    assert len(ticks) >= len(page.levers)


def test_suppressed_lever_has_no_bar_and_reads_not_enough_responses() -> None:
    levers = (
        make_lever_line(lever_id="purpose", label="Purpose", index=62),
        make_lever_line(
            lever_id="skills",
            label="Skills",
            index=None,
            low=None,
            high=None,
            light="none",
            light_word=TEXTS["en"]["none"],
            gap_to_target=None,
        ),  # fmt: skip
    )
    root = parse(lever_chart_svg(make_scorecard_page(levers=levers)))
    assert len(bars(root)) == 1
    assert TEXTS["en"]["not_enough"] in all_text(root)
    desc = "".join(d.text or "" for d in root.iter(f"{SVG}desc"))
    assert "Skills: Not enough responses" in desc


def test_labels_from_data_stay_text() -> None:
    hostile = '<script>alert("x")</script> & co'
    page = make_scorecard_page(levers=(make_lever_line(label=hostile),))
    for chart in (lever_chart_svg, audience_chart_svg):
        markup = chart(page)
        assert "<script" not in markup
        root = parse(markup)
        assert not list(root.iter(f"{SVG}script"))
        assert any(text.startswith("<script>") for text in all_text(root))


def test_charts_of_different_pages_do_not_share_ids() -> None:
    first = parse(lever_chart_svg(make_scorecard_page(department="SALES")))
    second = parse(lever_chart_svg(make_scorecard_page(department="HR")))

    def ids(root: ET.Element) -> set[str]:
        return {e.get("id", "") for e in root.iter() if e.get("id")}

    assert ids(first) and not ids(first) & ids(second)


def test_interval_whisker_spans_low_to_high() -> None:
    page = make_scorecard_page(levers=(make_lever_line(index=50, low=40, high=60),))
    root = parse(lever_chart_svg(page))
    interval = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "interval")
    span = interval.find(f"{SVG}line")
    assert span is not None
    scale = (PLOT_RIGHT - PLOT_LEFT) / 100
    assert float(span.get("x1", "nan")) == pytest.approx(PLOT_LEFT + 40 * scale)
    assert float(span.get("x2", "nan")) == pytest.approx(PLOT_LEFT + 60 * scale)


def test_audience_chart_draws_a_dot_per_published_side() -> None:
    levers = (
        make_lever_line(employees=50, managers=70),
        make_lever_line(lever_id="skills", label="Skills", employees=40, managers=None),
        make_lever_line(lever_id="gov", label="Governance", employees=None, managers=None),
    )
    page: ScorecardPage = make_scorecard_page(levers=levers)
    root = parse(audience_chart_svg(page))
    circles = list(root.iter(f"{SVG}circle"))
    diamonds = list(root.iter(f"{SVG}polygon"))
    assert len(circles) == 2 + 1  # two levers' employees, and the legend
    assert len(diamonds) == 1 + 1  # one lever's managers, and the legend
    assert TEXTS["en"]["not_enough"] in all_text(root)
