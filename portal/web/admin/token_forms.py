"""Forms for personal API tokens."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class NewTokenForm(FlaskForm):
    """Name a new token after what will use it."""

    name = StringField("What will use this token?", validators=[DataRequired(), Length(max=80)])


class RevokeTokenForm(FlaskForm):
    """A revoke button: nothing but the CSRF token."""
