"""The questionnaires shipped with the portal, as versioned YAML files.

Layout: ``portal/instruments/<questionnaire id>/v<version>.yaml``. A published
version is never edited: a changed wording is a new version, so that waves
answered with different wordings are never silently compared.

Beside them, ``actions-v<version>.yaml`` is the questionnaire's catalogue of
reinforcement actions (see ``portal.domain.scorecard``). Its name does not match
``v<N>.yaml``, so listing questionnaires never mistakes it for one.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

import yaml

from portal.domain.errors import NotFound, ValidationError
from portal.domain.questionnaire import Questionnaire, QuestionnaireError, parse_questionnaire
from portal.domain.scorecard import Catalogue, CatalogueError, parse_catalogue

DEFAULT_QUESTIONNAIRE = "change-readiness"
_VERSION_FILE = re.compile(r"^v([1-9][0-9]*)\.yaml$")
_CATALOGUE_FILE = re.compile(r"^actions-v([1-9][0-9]*)\.yaml$")
#: Questionnaire files are small; a bigger one is a mistake, not an instrument.
MAX_FILE_BYTES = 512 * 1024


def _root() -> Path:
    return Path(str(resources.files(__name__)))


def _read_yaml(path: Path, error: type[ValidationError]) -> object:
    """Return a small YAML file's data; raise ``error`` naming the file (and line) on failure."""
    name = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise error(f"{name}: the file is larger than {MAX_FILE_BYTES} bytes.")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise error(f"{name}: no such file.") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{name}: the file is not UTF-8 text.") from exc
    except OSError as exc:
        raise error(f"{name}: cannot be read ({exc.strerror}).") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{name}: {where}: {problem}.") from exc


def load_questionnaire_file(path: Path | str) -> Questionnaire:
    """Read and validate one questionnaire file.

    Raise ``QuestionnaireError`` naming the file and, for YAML syntax errors,
    the line and column.
    """
    path = Path(path)
    name = str(path)
    data = _read_yaml(path, QuestionnaireError)
    questionnaire = parse_questionnaire(data, source=name)
    match = _VERSION_FILE.match(path.name)
    if match and int(match.group(1)) != questionnaire.version:
        raise QuestionnaireError(
            f"{name}: version: the file is named for version {match.group(1)} but says "
            f"version {questionnaire.version}."
        )
    return questionnaire


def available_questionnaires() -> dict[str, list[int]]:
    """Map each shipped questionnaire id to its versions, oldest first."""
    found: dict[str, list[int]] = {}
    for folder in sorted(_root().iterdir()):
        if not folder.is_dir() or folder.name.startswith(("_", ".")):
            continue
        versions = sorted(
            int(m.group(1)) for f in folder.iterdir() if (m := _VERSION_FILE.match(f.name))
        )
        if versions:
            found[folder.name] = versions
    return found


@functools.cache
def get_questionnaire(questionnaire_id: str, version: int | None = None) -> Questionnaire:
    """Return a shipped questionnaire, the newest version unless ``version`` is given."""
    versions = available_questionnaires().get(questionnaire_id)
    if not versions:
        raise NotFound(
            f"There is no questionnaire {questionnaire_id!r}; available: "
            f"{', '.join(available_questionnaires()) or 'none'}."
        )
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise NotFound(
            f"Questionnaire {questionnaire_id!r} has no version {chosen}; "
            f"available: {', '.join(map(str, versions))}."
        )
    questionnaire = load_questionnaire_file(_root() / questionnaire_id / f"v{chosen}.yaml")
    if questionnaire.id != questionnaire_id:
        raise QuestionnaireError(
            f"{questionnaire_id}/v{chosen}.yaml: id: says {questionnaire.id!r}, "
            f"but its folder is {questionnaire_id!r}."
        )
    return questionnaire


def load_catalogue_file(path: Path | str) -> Catalogue:
    """Read and validate one action catalogue file.

    Raise ``CatalogueError`` naming the file and, for YAML syntax errors, the
    line and column.
    """
    path = Path(path)
    catalogue = parse_catalogue(_read_yaml(path, CatalogueError), source=str(path))
    match = _CATALOGUE_FILE.match(path.name)
    if match and int(match.group(1)) != catalogue.version:
        raise CatalogueError(
            f"{path}: version: the file is named for version {match.group(1)} but says "
            f"version {catalogue.version}."
        )
    return catalogue


@functools.cache
def get_action_catalogue(questionnaire_id: str) -> Catalogue:
    """Return the newest action catalogue shipped for a questionnaire.

    Raise ``NotFound`` when the questionnaire has none, and ``CatalogueError``
    when the file says it belongs to another questionnaire.
    """
    folder = _root() / questionnaire_id
    versions = (
        sorted(int(m.group(1)) for f in folder.iterdir() if (m := _CATALOGUE_FILE.match(f.name)))
        if questionnaire_id in available_questionnaires()
        else []
    )
    if not versions:
        raise NotFound(f"Questionnaire {questionnaire_id!r} ships no catalogue of actions.")
    name = f"actions-v{versions[-1]}.yaml"
    catalogue = load_catalogue_file(folder / name)
    if catalogue.questionnaire_id != questionnaire_id:
        raise CatalogueError(
            f"{questionnaire_id}/{name}: questionnaire: says {catalogue.questionnaire_id!r}, "
            f"but its folder is {questionnaire_id!r}."
        )
    return catalogue
