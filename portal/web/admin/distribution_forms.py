"""Forms of the distribution page: link actions, single-use codes, the poster sheet.

Choices (departments, languages) are filled in by the view from what it
loaded; forms never query the store.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Regexp

from portal.domain.entities import TOKEN_RE

MAX_CODES = 5000


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token is sent."""


class ReplaceLinkForm(FlaskForm):
    """Withdraw one link and make a new one for its department."""

    token = HiddenField(validators=[DataRequired(), Regexp(TOKEN_RE)])


class CodesForm(FlaskForm):
    """Make single-use codes for one department."""

    department = SelectField("Department", validators=[InputRequired()], choices=[])
    count = IntegerField(
        "Number of codes",
        validators=[
            InputRequired(message="Enter how many codes to make."),
            NumberRange(1, MAX_CODES, message=f"Make between 1 and {MAX_CODES:,} codes at a time."),
        ],
        render_kw={"min": 1, "max": MAX_CODES, "inputmode": "numeric"},
    )


class PosterForm(FlaskForm):
    """Choose the language of the poster sheet (a GET form: nothing changes)."""

    class Meta:
        csrf = False

    lang = SelectField("Poster language", choices=[])
