"""Forms for surveys, waves and departments (admin pages, English only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    DateField,
    Field,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NoneOf,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from portal.domain.entities import (
    CODE_RE,
    MAX_GROUP_SETTING,
    MAX_HEADCOUNT,
    MIN_COMMENT_FLOOR,
    MIN_GROUP_FLOOR,
    SLUG_RE,
    Thresholds,
)
from portal.domain.questionnaire import Questionnaire
from portal.instruments import DEFAULT_QUESTIONNAIRE, available_questionnaires, get_questionnaire

#: Language names in English, for the (English-only) admin pages.
LANGUAGE_NAMES = {
    "en": "English",
    "da": "Danish",
    "de": "German",
    "sv": "Swedish",
    "nb": "Norwegian",
    "fi": "Finnish",
    "fr": "French",
    "es": "Spanish",
    "pl": "Polish",
}
#: Words that name admin pages, so they cannot be survey slugs (``/admin/surveys/new``).
RESERVED_SLUGS = ("new",)
CSV_EXTENSIONS = ("csv", "txt")
SLUG_MESSAGE = "Use 1–40 lowercase letters, digits or inner hyphens, e.g. crm-rollout."
CODE_MESSAGE = (
    "Use 1–32 letters, digits, '.', '_' or '-', starting and ending with a letter or digit."
)


def strip(value: str | None) -> str | None:
    """Drop spaces around a typed value (pasted codes often carry them)."""
    return value.strip() if isinstance(value, str) else value


def newest_questionnaires() -> list[Questionnaire]:
    """Return the newest version of every shipped questionnaire, the default one first."""
    ids = sorted(available_questionnaires(), key=lambda qid: (qid != DEFAULT_QUESTIONNAIRE, qid))
    return [get_questionnaire(qid) for qid in ids]


def language_name(code: str) -> str:
    """Return a language's English name, or its code if it has none here."""
    return LANGUAGE_NAMES.get(code, code)


def read_csv_upload(field: Field) -> str | None:
    """Return an uploaded file's text (UTF-8, with or without a byte-order mark), or ``None``.

    Raise ``ValidationError`` for a file that is not UTF-8 text.
    """
    upload = field.data
    if not upload:
        return None
    try:
        text: str = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            "The file is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8”."
        ) from exc
    return text


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token is sent."""


class SurveyForm(FlaskForm):
    """A new survey. Build it with ``new_survey_form``, which adds the system names."""

    slug = StringField(
        "Short name (slug)",
        filters=[strip],
        validators=[
            DataRequired(),
            Length(max=40),
            Regexp(SLUG_RE, message=SLUG_MESSAGE),
            NoneOf(RESERVED_SLUGS, message="This word is reserved; choose another slug."),
        ],
    )
    title = StringField("Title", filters=[strip], validators=[DataRequired(), Length(max=120)])
    questionnaire = SelectField("Questionnaire", validators=[DataRequired()])
    languages = SelectMultipleField(
        "Languages",
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    min_group_size = IntegerField(
        "Minimum group size for numbers",
        validators=[
            InputRequired(message="Give a whole number."),
            NumberRange(
                min=MIN_GROUP_FLOOR,
                max=MAX_GROUP_SETTING,
                message=f"Use a whole number from {MIN_GROUP_FLOOR} to {MAX_GROUP_SETTING}: "
                "results for smaller groups could show who answered what.",
            ),
        ],
    )
    min_comment_group_size = IntegerField(
        "Minimum group size for comments",
        validators=[
            InputRequired(message="Give a whole number."),
            NumberRange(
                min=MIN_COMMENT_FLOOR,
                max=MAX_GROUP_SETTING,
                message=f"Use a whole number from {MIN_COMMENT_FLOOR} to {MAX_GROUP_SETTING}: "
                "a comment gives its author away more easily than a score.",
            ),
        ],
    )
    departments = FileField(
        "Departments (CSV file, optional)",
        validators=[FileAllowed(CSV_EXTENSIONS, "Choose a .csv file.")],
    )

    #: Set by ``new_survey_form``: the questionnaires offered, by id.
    questionnaires: dict[str, Questionnaire] = {}
    #: Set by ``new_survey_form``: the languages with a system-name field.
    name_languages: tuple[str, ...] = ()
    departments_text: str | None = None

    def validate_languages(self, field: SelectMultipleField) -> None:
        """Require a language (not with ``DataRequired``: that marks every box required)."""
        if not field.data:
            raise ValidationError("Choose at least one language.")

    def validate_min_comment_group_size(self, field: IntegerField) -> None:
        """Keep the comment threshold at or above the number threshold."""
        numbers = self.min_group_size.data
        if isinstance(numbers, int) and isinstance(field.data, int) and field.data < numbers:
            raise ValidationError(
                f"Use at least the minimum group size for numbers ({numbers}): "
                "a comment says more about its author than a score does."
            )

    def validate_departments(self, field: FileField) -> None:
        """Read the uploaded file as text; the survey service parses it."""
        self.departments_text = read_csv_upload(field)

    def validate(self, extra_validators: Any = None) -> bool:
        """Also require the system's name in the survey's default language."""
        valid: bool = super().validate(extra_validators)
        chosen = self.chosen_languages()
        questionnaire = self.questionnaires.get(self.questionnaire.data or "")
        if not chosen or questionnaire is None:
            return valid
        default = self.default_language()
        name_field = self.system_name_field(default)
        if name_field is not None and not (name_field.data or "").strip():
            name_field.errors = [
                *name_field.errors,
                f"Name the system in {language_name(default)}, the survey's default "
                "language, e.g. “the new CRM”; the questions use this name.",
            ]
            return False
        return valid

    def chosen_languages(self) -> tuple[str, ...]:
        """Return the ticked languages in the questionnaire's order."""
        questionnaire = self.questionnaires.get(self.questionnaire.data or "")
        ticked = set(self.languages.data or ())
        order = questionnaire.languages if questionnaire else self.name_languages
        return tuple(lang for lang in order if lang in ticked)

    def default_language(self) -> str:
        """Return the questionnaire's default language if ticked, else the first ticked one."""
        questionnaire = self.questionnaires[self.questionnaire.data or ""]
        chosen = self.chosen_languages()
        return (
            questionnaire.default_language
            if questionnaire.default_language in chosen
            else chosen[0]
        )

    def system_name_field(self, language: str) -> StringField | None:
        """Return the system-name field for ``language``, if the form has one."""
        found: StringField | None = getattr(self, f"system_{language}", None)
        return found

    def system_name_fields(self) -> list[StringField]:
        """Return the system-name fields in language order."""
        return [f for lang in self.name_languages if (f := self.system_name_field(lang))]

    def system_names(self) -> dict[str, str]:
        """Return the system names given for the ticked languages."""
        names = {}
        for lang in self.chosen_languages():
            name_field = self.system_name_field(lang)
            if name_field is not None and (name_field.data or "").strip():
                names[lang] = name_field.data.strip()
        return names

    def thresholds(self) -> Thresholds:
        """Return the minimum group sizes entered (valid once the form validated)."""
        return Thresholds(self.min_group_size.data, self.min_comment_group_size.data)


def new_survey_form(questionnaires: Sequence[Questionnaire], defaults: Thresholds) -> SurveyForm:
    """Return the new-survey form offering ``questionnaires`` (newest versions).

    The form gets one system-name field per language any questionnaire is
    written in; languages default to those of the first questionnaire, the
    thresholds to ``defaults`` (the deployment's settings).
    """
    languages: list[str] = []
    for questionnaire in questionnaires:
        languages.extend(lang for lang in questionnaire.languages if lang not in languages)
    fields = {
        f"system_{lang}": StringField(
            f"System name in {language_name(lang)}",
            filters=[strip],
            validators=[Optional(), Length(max=60)],
        )
        for lang in languages
    }
    form_class = type(
        "NewSurveyForm",
        (SurveyForm,),
        {
            **fields,
            "questionnaires": {q.id: q for q in questionnaires},
            "name_languages": tuple(languages),
        },
    )
    first = questionnaires[0]
    form: SurveyForm = form_class(
        data={
            "questionnaire": first.id,
            "languages": list(first.languages),
            "min_group_size": defaults.min_group_size,
            "min_comment_group_size": defaults.min_comment_group_size,
        }
    )
    form.questionnaire.choices = [
        (q.id, f"{q.title.get('en') or q.id} (version {q.version})") for q in questionnaires
    ]
    form.languages.choices = [(lang, f"{language_name(lang)} ({lang})") for lang in languages]
    return form


class WaveForm(FlaskForm):
    """A new wave of a survey."""

    wave_id = StringField(
        "Wave id",
        filters=[strip],
        validators=[DataRequired(), Length(max=40), Regexp(SLUG_RE, message=SLUG_MESSAGE)],
    )
    name = StringField("Name", filters=[strip], validators=[DataRequired(), Length(max=80)])
    planned_close = DateField(
        "Planned closing date (optional)",
        validators=[Optional()],
    )


class ReopenForm(FlaskForm):
    """Reopen a closed wave: the reason is required and goes to the audit trail."""

    reason = TextAreaField(
        "Reason for reopening",
        filters=[strip],
        validators=[
            DataRequired(message="Say why the wave is reopened; the reason is logged."),
            Length(min=5, max=500, message="Write 5 to 500 characters."),
        ],
    )
    planned_close = DateField("New planned closing date (optional)", validators=[Optional()])


class EditDepartmentForm(FlaskForm):
    """A department's changeable fields (the code never changes)."""

    name = StringField("Name", filters=[strip], validators=[DataRequired(), Length(max=100)])
    site = StringField("Site", filters=[strip], validators=[DataRequired(), Length(max=100)])
    headcount = IntegerField(
        "Headcount",
        validators=[
            InputRequired(message="Give a whole number."),
            NumberRange(min=0, max=MAX_HEADCOUNT, message="Use a whole number from 0."),
        ],
    )
    parent = StringField(
        "Parent department code (optional)",
        filters=[strip],
        validators=[Optional(), Length(max=32), Regexp(CODE_RE, message=CODE_MESSAGE)],
    )


class DepartmentForm(EditDepartmentForm):
    """A new department."""

    code = StringField(
        "Code",
        filters=[strip],
        validators=[DataRequired(), Length(max=32), Regexp(CODE_RE, message=CODE_MESSAGE)],
    )


class ImportForm(FlaskForm):
    """A departments CSV file to add or update departments from."""

    departments = FileField(
        "Departments file (CSV)",
        validators=[
            FileRequired(message="Choose a CSV file."),
            FileAllowed(CSV_EXTENSIONS, "Choose a .csv file."),
        ],
    )
    departments_text: str | None = None

    def validate_departments(self, field: FileField) -> None:
        """Read the uploaded file as text; the service parses it."""
        self.departments_text = read_csv_upload(field)
