"""Forms of the results pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField


class RawExportForm(FlaskForm):
    """Download the raw responses; comments only when the box is ticked."""

    include_comments = BooleanField(
        "Include the free-text comments (they can identify their writers)"
    )
