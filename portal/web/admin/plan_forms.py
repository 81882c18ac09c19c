"""Forms for a unit's reinforcement plan and a survey's scorecard targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flask_wtf import FlaskForm
from wtforms import DateField, Field, HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.domain.questionnaire import Lever
from portal.domain.scorecard import KPI_MAX, KPI_TARGET_MAX, ROLE_MAX, TITLE_MAX, ActionStatus

STATUS_CHOICES = [SelectChoice(s.value, s.value.capitalize()) for s in ActionStatus]


def lever_choices(levers: Sequence[Lever]) -> list[SelectChoice]:
    """Return a select's choices for ``levers``, the outcome lever marked as such."""
    return [
        SelectChoice(
            lever.id, (lever.name.get("en") or lever.id) + (" (outcome)" if lever.outcome else "")
        )
        for lever in levers
    ]


class ActionForm(FlaskForm):
    """One plan action: what is done, by which role, with whose mandate, by when, how measured.

    Several of these share a page, so each carries a prefix (``new`` or the
    action's id) that keeps its field names and ids apart.
    """

    title = StringField("Action", validators=[DataRequired(), Length(max=TITLE_MAX)])
    lever_id = SelectField("Lever", choices=[])
    owner_role = StringField("Owner role", validators=[DataRequired(), Length(max=ROLE_MAX)])
    mandate_holder = StringField(
        "Mandate held by", validators=[DataRequired(), Length(max=ROLE_MAX)]
    )
    due = DateField("Due date", validators=[Optional()])
    kpi = StringField("KPI", validators=[Optional(), Length(max=KPI_MAX)])
    kpi_target = StringField("KPI target", validators=[Optional(), Length(max=KPI_TARGET_MAX)])
    status = SelectField("Status", choices=STATUS_CHOICES, default=ActionStatus.PLANNED.value)

    #: Where a domain problem belongs, by the words it starts with (longest first).
    PROBLEM_FIELDS = (
        ("The KPI target", "kpi_target"),
        ("The KPI", "kpi"),
        ("The owner role", "owner_role"),
        ("The mandate holder", "mandate_holder"),
        ("The due date", "due"),
        ("The action", "title"),
        ("The status", "status"),
        ("Choose one of the questionnaire's levers", "lever_id"),
    )

    def add_problems(self, problems: Sequence[str]) -> None:
        """Show the service's problems next to their fields (or above the form)."""
        for problem in problems:
            name = next((f for start, f in self.PROBLEM_FIELDS if problem.startswith(start)), None)
            if name is None:
                self.form_errors.append(problem)
            else:
                target: Field = self[name]
                target.errors = [*target.errors, problem]


class AdoptForm(FlaskForm):
    """An "Add to plan" button for one catalogue action."""

    catalogue_id = HiddenField(validators=[DataRequired(), Length(max=40)])


class DeleteForm(FlaskForm):
    """A delete button: nothing but the CSRF token."""


class SettingsForm(FlaskForm):
    """A survey's "needs attention" line and targets; ``with_levers`` adds one per lever."""

    attention = IntegerField(
        "Needs attention below",
        validators=[InputRequired(), NumberRange(min=1, max=100)],
    )
    default_target = IntegerField(
        "Default target", validators=[InputRequired(), NumberRange(min=1, max=100)]
    )

    def add_problems(self, problems: Sequence[str], lever_fields: Mapping[str, str]) -> None:
        """Show ``ScorecardSettings``' problems next to their fields (or above the form).

        ``lever_fields`` maps each lever id to its target field's name.
        """
        starts = [
            ("The attention threshold", "attention"),
            ("The default target", "default_target"),
        ]
        starts += [(f"The target for {lever_id} ", name) for lever_id, name in lever_fields.items()]
        for problem in problems:
            name = next((f for start, f in starts if problem.startswith(start)), None)
            if name is None:
                self.form_errors.append(problem)
            else:
                target: Field = self[name]
                target.errors = [*target.errors, problem]

    @staticmethod
    def field_name(lever_id: str) -> str:
        """Return the name of the field holding a lever's own target."""
        return f"target-{lever_id}"

    @classmethod
    def with_levers(cls, levers: Sequence[Lever]) -> type[SettingsForm]:
        """Return a form class with an optional target field per lever (blank: the default)."""

        class LeverSettingsForm(cls):  # type: ignore[valid-type,misc]
            pass

        for lever in levers:
            label = (lever.name.get("en") or lever.id) + (" (outcome)" if lever.outcome else "")
            setattr(
                LeverSettingsForm,
                cls.field_name(lever.id),
                IntegerField(
                    f"Target for {label}",
                    validators=[Optional(), NumberRange(min=1, max=100)],
                ),
            )
        return LeverSettingsForm
