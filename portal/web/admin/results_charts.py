"""What the results charts draw besides the published figures: bands, targets, attention line.

The figures themselves come from ``portal.services.readiness`` (``lever_chart``
and friends); this module only adds how to show them, from rules that exist
elsewhere: each index's band (``readiness.band``, the heatmap's colours), the
survey's scorecard target per lever, the survey's "needs attention" line
(``readiness.attention_line``, the one the bands and barrier use), and a
title that names the group and its number of responses.
"""

from __future__ import annotations

from typing import cast

from portal.domain.scorecard import ScorecardSettings
from portal.services import readiness
from portal.services.readiness import ChartData, GroupResult, WaveResults


def _index_series(chart: ChartData) -> list[int | None]:
    series = cast(list[dict[str, list[int | None]]], chart["series"])
    return series[0]["data"]


def lever_figure(
    chart: ChartData,
    report: WaveResults,
    result: GroupResult,
    settings: ScorecardSettings,
    label: str,
) -> ChartData:
    """Return a lever chart with its bands, targets, attention line and titled with n.

    Rules: a bar's band is the band of the index as shown (whole numbers, so
    the same band as the exact index's, the thresholds being whole numbers);
    a withheld index has no band. The target of a lever is the scorecard's
    (its own or the default); the attention line is the one the bands use.
    """
    line = report.attention
    bands = [None if v is None else readiness.band(v, line) for v in _index_series(chart)]
    responses = "1 response" if result.responses == 1 else f"{result.responses} responses"
    return {
        **chart,
        "bands": bands,
        "targets": [settings.target(lever.id) for lever in report.levers],
        "attention": line,
        "title": f"{label} · {responses}",
    }


def audience_figure(chart: ChartData | None, report: WaveResults) -> ChartData | None:
    """Return the employees/managers chart with the survey's attention line (the bands')."""
    if chart is None:
        return None
    return {**chart, "attention": report.attention}
