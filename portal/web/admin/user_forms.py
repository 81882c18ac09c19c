"""Forms for managing HR accounts: create one, change its role and departments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from flask_wtf import FlaskForm
from wtforms import EmailField, Field, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from portal.domain.accounts import EMAIL_RE, Role, normalise_email
from portal.domain.entities import Department, Survey

ROLE_CHOICES = [
    SelectChoice(Role.ADMIN.value, "Admin — manages surveys and accounts, reads all"),
    SelectChoice(Role.VIEWER.value, "Viewer — reads all results"),
    SelectChoice(Role.DEPARTMENT_VIEWER.value, "Department viewer — reads chosen departments"),
]
#: Label of the group that keeps an account's assignments whose department is gone.
OTHER_GROUP = "Other assignments (no longer in a survey)"


def department_choices(
    surveys: Iterable[tuple[Survey, Sequence[Department]]], keep: Iterable[str] = ()
) -> list[SelectChoice]:
    """Group departments per survey as ``survey-slug/CODE`` choices for a multi-select.

    Labels read "Survey title — Department name (site)". Retired departments are left
    out unless they are in ``keep`` (an account's current assignments), and so is any
    kept reference no survey lists any more: it goes to a last group, so that saving
    an account never fails on, or silently drops, an assignment the admin cannot see.
    """
    keep = set(keep)
    choices: list[SelectChoice] = []
    for survey, departments in surveys:
        group = f"{survey.title} ({survey.slug})"
        for d in departments:
            ref = f"{survey.slug}/{d.code}"
            if d.retired and ref not in keep:
                continue
            retired = " — retired" if d.retired else ""
            label = f"{survey.title} — {d.name} ({d.site}){retired}"
            choices.append(SelectChoice(ref, label, optgroup=group))
    offered = {c.value for c in choices}
    choices += [SelectChoice(ref, ref, optgroup=OTHER_GROUP) for ref in sorted(keep - offered)]
    return choices


def _email_address(form: FlaskForm, field: Field) -> None:
    if not EMAIL_RE.match(normalise_email(field.data or "")):
        raise ValidationError("Enter an e-mail address such as name@example.com.")


def _role_field() -> SelectField:
    return SelectField("Role", choices=ROLE_CHOICES, default=Role.VIEWER.value)


def _departments_field() -> SelectMultipleField:
    # Choices come from the view (``department_choices``): forms do not read the store.
    return SelectMultipleField("Departments", choices=[])


class _AccessRules:
    """Role and departments rules shared by the new-account and edit-access forms."""

    role: SelectField
    departments: SelectMultipleField

    def validate_departments(self, field: Field) -> None:
        """A department viewer needs at least one department."""
        if self.role.data == Role.DEPARTMENT_VIEWER.value and not field.data:
            raise ValidationError("Choose at least one department for a department viewer.")

    def chosen_role(self) -> Role:
        """Return the chosen role."""
        return Role(self.role.data)

    def chosen_departments(self) -> list[str]:
        """Return the chosen departments; only department viewers are limited to any.

        Selections left over from an earlier choice of role are dropped, so that
        turning a department viewer into a viewer needs no second step.
        """
        if self.chosen_role() is not Role.DEPARTMENT_VIEWER:
            return []
        return list(self.departments.data or [])


class NewUserForm(_AccessRules, FlaskForm):
    """A new account: e-mail address, role and (for department viewers) departments."""

    email = EmailField(
        "E-mail address", validators=[DataRequired(), Length(max=254), _email_address]
    )
    role = _role_field()
    departments = _departments_field()


class AccessForm(_AccessRules, FlaskForm):
    """Change an existing account's role and departments."""

    role = _role_field()
    departments = _departments_field()
