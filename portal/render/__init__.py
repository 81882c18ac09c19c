"""Renderers of the reinforcement scorecard: server-made SVG charts and the PDF download.

They lay out a ``portal.services.scorecard_model`` view model and compute no
number of their own. Pure Python (pydyf for the PDF), so they run on Lambda.
"""

from __future__ import annotations

from portal.render.pdf import scorecard_pdf
from portal.render.svg import audience_chart_svg, lever_chart_svg

__all__ = ["audience_chart_svg", "lever_chart_svg", "scorecard_pdf"]
