"""The questionnaire model: levers, items and the answer scale, in several languages.

``parse_questionnaire`` turns plain data (as read from a YAML file) into a
validated, immutable ``Questionnaire``, collecting every problem it finds into
one ``QuestionnaireError`` whose lines each name the file, the place, the field
and what is wrong.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from portal.domain.entities import Audience
from portal.domain.errors import ValidationError

ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
LANGUAGE_RE = re.compile(r"^[a-z]{2}$")
SCALE_POINTS = 5
PLACEHOLDERS = frozenset({"system"})
ITEM_AUDIENCES = ("employee", "manager", "both")

_TOP_KEYS = {
    "id",
    "version",
    "title",
    "description",
    "languages",
    "default_language",
    "scale",
    "levers",
    "items",
    "comment",
}
_LEVER_KEYS = {"id", "order", "outcome", "name", "description"}
_ITEM_KEYS = {"id", "lever", "audience", "reverse", "text"}
_SCALE_KEYS = {"labels", "not_applicable"}
_COMMENT_KEYS = {"id", "max_length", "text", "help"}


class QuestionnaireError(ValidationError):
    """A questionnaire file breaks the format; ``errors`` lists every problem found."""


Texts = Mapping[str, str]


@dataclass(frozen=True)
class Lever:
    """A dimension of readiness that HR can reinforce (or, if ``outcome``, the result)."""

    id: str
    order: int
    name: Texts
    description: Texts
    outcome: bool = False


@dataclass(frozen=True)
class Item:
    """One agreement statement; ``reverse`` means agreeing is the unfavourable answer."""

    id: str
    lever: str
    audience: str
    reverse: bool
    text: Texts

    def applies_to(self, audience: Audience) -> bool:
        """Tell whether respondents of ``audience`` are asked this item."""
        return self.audience == "both" or self.audience == audience.value

    def render(self, language: str, system: str) -> str:
        """Return the statement in ``language`` with the system's name filled in."""
        return self.text[language].replace("{system}", system)


@dataclass(frozen=True)
class Scale:
    """The 5-point agreement scale, with an optional "don't know / not applicable"."""

    labels: Mapping[str, tuple[str, ...]]
    not_applicable: Texts | None = None

    @property
    def points(self) -> int:
        """Return the number of points on the scale."""
        return SCALE_POINTS


@dataclass(frozen=True)
class CommentQuestion:
    """The one optional free-text question."""

    id: str
    text: Texts
    help: Texts
    max_length: int

    def render(self, language: str, system: str) -> str:
        """Return the question in ``language`` with the system's name filled in."""
        return self.text[language].replace("{system}", system)


@dataclass(frozen=True)
class Questionnaire:
    """A versioned instrument; a wave is answered with exactly one version."""

    id: str
    version: int
    title: Texts
    description: Texts
    languages: tuple[str, ...]
    default_language: str
    scale: Scale
    levers: tuple[Lever, ...]
    items: tuple[Item, ...]
    comment: CommentQuestion | None = None

    def lever(self, lever_id: str) -> Lever:
        """Return the lever with ``lever_id``; raise ``KeyError`` if there is none."""
        for lever in self.levers:
            if lever.id == lever_id:
                return lever
        raise KeyError(lever_id)

    def items_for(self, audience: Audience) -> tuple[Item, ...]:
        """Return the items ``audience`` answers, in lever order then file order."""
        rank = {lever.id: lever.order for lever in self.levers}
        chosen = [item for item in self.items if item.applies_to(audience)]
        return tuple(sorted(chosen, key=lambda item: rank[item.lever]))

    def items_by_lever(self, audience: Audience) -> list[tuple[Lever, tuple[Item, ...]]]:
        """Group ``audience``'s items under their levers, levers in order."""
        items = self.items_for(audience)
        return [
            (lever, tuple(item for item in items if item.lever == lever.id))
            for lever in self.levers
        ]

    def check_answers(
        self, audience: Audience, answers: Mapping[str, int | None]
    ) -> dict[str, int | None]:
        """Return ``answers`` if they fit this questionnaire for ``audience``.

        Rules: every item asked of the audience must be answered with 1–5, or
        with ``None`` ("don't know") when the scale offers that; answers to items
        the audience is not asked, or to unknown items, are refused.
        """
        asked = {item.id for item in self.items_for(audience)}
        problems: list[str] = []
        unknown = sorted(set(answers) - asked)
        if unknown:
            problems.append(
                f"Answers to items not asked of {audience.value}s: {', '.join(unknown)}."
            )
        missing = sorted(asked - set(answers))
        if missing:
            problems.append(f"Unanswered items: {', '.join(missing)}.")
        for item_id, value in answers.items():
            if value is None:
                if self.scale.not_applicable is None:
                    problems.append(f"Item {item_id}: 'not applicable' is not offered.")
            elif not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5):
                problems.append(f"Item {item_id}: the answer must be 1–5, got {value!r}.")
        if problems:
            raise ValidationError(" ".join(problems), errors=problems)
        return dict(answers)


class _Collector:
    """Gathers problems so that one run reports all of them."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{self.source}: {where}: {message}")


def _where_item(index: int, raw: object) -> str:
    item_id = raw.get("id") if isinstance(raw, Mapping) else None
    return f"items[{index}] (id {item_id!r})" if item_id else f"items[{index}]"


def _check_keys(c: _Collector, where: str, raw: Mapping[str, object], allowed: set[str]) -> None:
    for key in raw:
        if key not in allowed:
            c.add(where, f"unknown field {key!r}; allowed fields are {', '.join(sorted(allowed))}.")


def _texts(
    c: _Collector,
    where: str,
    raw: object,
    languages: Sequence[str],
    *,
    placeholders: bool = False,
) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        c.add(where, f"must map each language ({', '.join(languages)}) to a text.")
        return {}
    result: dict[str, str] = {}
    for language in languages:
        text = raw.get(language)
        if not isinstance(text, str) or not text.strip():
            c.add(f"{where}.{language}", "the text is missing or empty.")
            continue
        if placeholders:
            _check_placeholders(c, f"{where}.{language}", text)
        result[language] = text.strip()
    for language in raw:
        if language not in languages:
            c.add(f"{where}.{language}", "is not one of the questionnaire's languages.")
    return result


def _check_placeholders(c: _Collector, where: str, text: str) -> None:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        c.add(where, f"has unbalanced braces ({exc}); write {{system}} for the system's name.")
        return
    for name in fields:
        if name not in PLACEHOLDERS:
            c.add(where, f"unknown placeholder {{{name}}}; only {{system}} is available.")


def _identifier(c: _Collector, where: str, raw: object) -> str:
    if not isinstance(raw, str) or not ID_RE.match(raw):
        c.add(where, f"id {raw!r} must be 1–40 lowercase letters, digits or inner hyphens.")
        return ""
    return raw


def parse_questionnaire(data: object, source: str = "<questionnaire>") -> Questionnaire:
    """Validate plain ``data`` and build a ``Questionnaire``.

    ``source`` (usually the file name) starts every error line. Raise
    ``QuestionnaireError`` listing every problem when anything is wrong.
    """
    c = _Collector(source)
    if not isinstance(data, Mapping):
        c.add("top level", "must be a mapping with id, version, languages, scale, levers, items.")
        raise QuestionnaireError(c.problems[0], errors=c.problems)
    _check_keys(c, "top level", data, _TOP_KEYS)
    for key in ("id", "version", "title", "languages", "scale", "levers", "items"):
        if key not in data:
            c.add("top level", f"the required field {key!r} is missing.")

    q_id = _identifier(c, "id", data.get("id")) if "id" in data else ""
    version = data.get("version")
    if "version" in data and not (
        isinstance(version, int) and not isinstance(version, bool) and version >= 1
    ):
        c.add("version", f"must be a positive whole number, got {version!r}.")

    languages = _languages(c, data.get("languages"))
    default_language = data.get("default_language", languages[0] if languages else "")
    if languages and default_language not in languages:
        c.add("default_language", f"{default_language!r} is not one of {', '.join(languages)}.")

    title = _texts(c, "title", data.get("title"), languages) if "title" in data else {}
    description = (
        _texts(c, "description", data["description"], languages) if "description" in data else {}
    )
    scale = _scale(c, data.get("scale"), languages)
    levers = _levers(c, data.get("levers"), languages)
    items = _items(c, data.get("items"), languages, levers)
    comment = _comment(c, data["comment"], languages) if data.get("comment") is not None else None

    if c.problems:
        raise QuestionnaireError(f"{len(c.problems)} problem(s) in {source}", errors=c.problems)
    assert isinstance(version, int)  # checked above; narrows the type for mypy
    return Questionnaire(
        id=q_id,
        version=version,
        title=title,
        description=description,
        languages=tuple(languages),
        default_language=str(default_language),
        scale=scale,
        levers=tuple(sorted(levers, key=lambda lever: lever.order)),
        items=tuple(items),
        comment=comment,
    )


def _languages(c: _Collector, raw: object) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not raw:
        c.add("languages", "must be a non-empty list of two-letter codes, e.g. [en, da].")
        return []
    result: list[str] = []
    for index, language in enumerate(raw):
        if not isinstance(language, str) or not LANGUAGE_RE.match(language):
            c.add(f"languages[{index}]", f"{language!r} is not a two-letter code such as 'en'.")
        elif language in result:
            c.add(f"languages[{index}]", f"{language!r} is listed twice.")
        else:
            result.append(language)
    return result


def _scale(c: _Collector, raw: object, languages: Sequence[str]) -> Scale:
    if not isinstance(raw, Mapping):
        if raw is not None:
            c.add("scale", "must be a mapping with 'labels' (and optionally 'not_applicable').")
        return Scale(labels={})
    _check_keys(c, "scale", raw, _SCALE_KEYS)
    labels: dict[str, tuple[str, ...]] = {}
    raw_labels = raw.get("labels")
    if not isinstance(raw_labels, Mapping):
        c.add("scale.labels", "must map each language to a list of five labels.")
    else:
        for language in languages:
            entry = raw_labels.get(language)
            if (
                not isinstance(entry, list)
                or len(entry) != SCALE_POINTS
                or not all(isinstance(label, str) and label.strip() for label in entry)
            ):
                c.add(
                    f"scale.labels.{language}",
                    f"must list exactly {SCALE_POINTS} non-empty labels, from the most "
                    "disagreeing to the most agreeing.",
                )
            else:
                labels[language] = tuple(label.strip() for label in entry)
    not_applicable = (
        _texts(c, "scale.not_applicable", raw["not_applicable"], languages)
        if raw.get("not_applicable") is not None
        else None
    )
    return Scale(labels=labels, not_applicable=not_applicable)


def _levers(c: _Collector, raw: object, languages: Sequence[str]) -> list[Lever]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not raw:
        c.add("levers", "must be a non-empty list of levers.")
        return []
    levers: list[Lever] = []
    seen_ids: set[str] = set()
    seen_orders: set[int] = set()
    for index, entry in enumerate(raw):
        where = f"levers[{index}]"
        if not isinstance(entry, Mapping):
            c.add(where, "must be a mapping with id, order, name and description.")
            continue
        if entry.get("id"):
            where = f"levers[{index}] (id {entry.get('id')!r})"
        _check_keys(c, where, entry, _LEVER_KEYS)
        lever_id = _identifier(c, f"{where}.id", entry.get("id"))
        if lever_id in seen_ids:
            c.add(f"{where}.id", "is used by another lever.")
        seen_ids.add(lever_id)
        order = entry.get("order")
        if not isinstance(order, int) or isinstance(order, bool) or order < 1:
            c.add(f"{where}.order", f"must be a positive whole number, got {order!r}.")
            order = 0
        elif order in seen_orders:
            c.add(f"{where}.order", f"{order} is used by another lever; orders must be unique.")
        seen_orders.add(order)
        outcome = entry.get("outcome", False)
        if not isinstance(outcome, bool):
            c.add(f"{where}.outcome", "must be true or false.")
            outcome = False
        levers.append(
            Lever(
                id=lever_id,
                order=order,
                name=_texts(c, f"{where}.name", entry.get("name"), languages),
                description=_texts(c, f"{where}.description", entry.get("description"), languages),
                outcome=outcome,
            )
        )
    return levers


def _items(
    c: _Collector, raw: object, languages: Sequence[str], levers: Sequence[Lever]
) -> list[Item]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not raw:
        c.add("items", "must be a non-empty list of items.")
        return []
    lever_ids = {lever.id for lever in levers}
    items: list[Item] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        where = _where_item(index, entry)
        if not isinstance(entry, Mapping):
            c.add(where, "must be a mapping with id, lever, audience, reverse and text.")
            continue
        _check_keys(c, where, entry, _ITEM_KEYS)
        item_id = _identifier(c, f"{where}.id", entry.get("id"))
        if item_id and item_id in seen:
            c.add(f"{where}.id", "is used by another item; item ids must be unique.")
        seen.add(item_id)
        lever = entry.get("lever")
        if lever not in lever_ids:
            c.add(f"{where}.lever", f"{lever!r} is not a lever defined under 'levers'.")
        audience = entry.get("audience", "both")
        if audience not in ITEM_AUDIENCES:
            c.add(
                f"{where}.audience",
                f"must be one of {', '.join(ITEM_AUDIENCES)}, got {audience!r}.",
            )
        reverse = entry.get("reverse", False)
        if not isinstance(reverse, bool):
            c.add(f"{where}.reverse", "must be true or false.")
            reverse = False
        items.append(
            Item(
                id=item_id,
                lever=str(lever),
                audience=str(audience),
                reverse=reverse,
                text=_texts(c, f"{where}.text", entry.get("text"), languages, placeholders=True),
            )
        )
    for lever in levers:
        for audience in ("employee", "manager"):
            if lever.id and not any(
                item.lever == lever.id and item.audience in (audience, "both") for item in items
            ):
                c.add(f"lever {lever.id!r}", f"has no item for {audience}s; each lever needs one.")
    return items


def _comment(c: _Collector, raw: object, languages: Sequence[str]) -> CommentQuestion | None:
    if not isinstance(raw, Mapping):
        c.add("comment", "must be a mapping with id, max_length, text and help.")
        return None
    _check_keys(c, "comment", raw, _COMMENT_KEYS)
    max_length = raw.get("max_length", 2000)
    if (
        not isinstance(max_length, int)
        or isinstance(max_length, bool)
        or not 1 <= max_length <= 5000
    ):
        c.add("comment.max_length", f"must be a whole number from 1 to 5000, got {max_length!r}.")
        max_length = 2000
    help_texts = _texts(c, "comment.help", raw["help"], languages) if "help" in raw else {}
    return CommentQuestion(
        id=_identifier(c, "comment.id", raw.get("id", "comment")),
        text=_texts(c, "comment.text", raw.get("text"), languages, placeholders=True),
        help=help_texts,
        max_length=max_length,
    )
