"""The interface's gettext catalogs: the template is current, and Danish is complete and sound.

``make messages`` extracts the strings of ``portal/`` and ``templates/`` into
``portal/translations/messages.pot`` and merges them into each language's catalog;
``pybabel compile`` turns the catalogs into the ``.mo`` files Flask-Babel reads.
"""

from __future__ import annotations

import gettext
import re
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from portal.web.i18n import DEFAULT_LANGUAGE, INTERFACE_LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "portal" / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
DANISH = TRANSLATIONS / "da" / "LC_MESSAGES" / "messages.po"
#: Keywords ``make messages`` extracts besides Babel's defaults (``_``, ``gettext``,
#: ``ngettext`` ...): keep the two in step.
EXTRA_KEYWORDS = ("_l", "lazy_gettext", "lazy_ngettext:1,2")
#: ``%(name)s``-style placeholders (Flask-Babel formats with ``%``) and ``{name}`` ones
#: (filled in by the respondent's page script).
PERCENT_PLACEHOLDER = re.compile(r"%\(\w+\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
BRACE_PLACEHOLDER = re.compile(r"\{\w+\}")

MessageId = str | tuple[str, ...]


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, abort_invalid=True)


def _messages(catalog: Catalog) -> dict[MessageId, Message]:
    """Return the catalog's messages (not its header) by id; a plural's id is a tuple."""
    return {message.id: message for message in catalog if message.id}


def _forms(message: Message) -> list[tuple[str, str]]:
    """Pair each translated form with the English text it translates.

    Danish has English's two plural forms: form 0 renders the singular, form 1 the plural.
    """
    if not message.pluralizable:
        return [(str(message.id), str(message.string or ""))]
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return [(message.id[min(index, 1)], string or "") for index, string in enumerate(strings)]


def _placeholders(text: str) -> set[str]:
    return set(PERCENT_PLACEHOLDER.findall(text)) | set(BRACE_PLACEHOLDER.findall(text))


def _show(message_id: MessageId) -> str:
    return repr(message_id[0] if isinstance(message_id, tuple) else message_id)


@pytest.fixture(scope="module")
def template() -> dict[MessageId, Message]:
    """Return the committed template's messages."""
    return _messages(_read(TEMPLATE))


@pytest.fixture(scope="module")
def danish() -> Catalog:
    """Return the committed Danish catalog."""
    return _read(DANISH)


def test_the_message_template_lists_exactly_the_strings_the_code_uses_now(
    tmp_path: Path, template: dict[MessageId, Message]
) -> None:
    output = tmp_path / "messages.pot"
    keywords = [arg for keyword in EXTRA_KEYWORDS for arg in ("-k", keyword)]
    extract = [sys.executable, "-m", "babel.messages.frontend", "-q", "extract"]
    result = subprocess.run(
        [*extract, "-F", "babel.cfg", *keywords, "--no-location", "-o", str(output), "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"pybabel extract failed:\n{result.stderr}"
    used_now = set(_messages(_read(output)))
    committed = set(template)
    new = sorted(_show(x) for x in used_now - committed)
    gone = sorted(_show(x) for x in committed - used_now)
    assert not new and not gone, (
        "portal/translations/messages.pot is out of date: run `make messages`, then translate "
        "the new messages in portal/translations/da/LC_MESSAGES/messages.po.\n"
        f"Used but not in the template: {new}\nIn the template but no longer used: {gone}"
    )


def test_every_interface_message_is_translated_into_danish(
    template: dict[MessageId, Message], danish: Catalog
) -> None:
    translated = _messages(danish)
    problems = []
    for message_id in template:
        message = translated.get(message_id)
        if message is None:
            problems.append(f"{_show(message_id)} is missing (run `make messages`)")
        elif message.fuzzy:
            problems.append(f"{_show(message_id)} is fuzzy: check it, then drop the flag")
        elif message.pluralizable and len(message.string) != danish.num_plurals:
            problems.append(f"{_show(message_id)} needs {danish.num_plurals} plural forms")
        elif not all(string.strip() for _, string in _forms(message)):
            problems.append(f"{_show(message_id)} has no Danish text")
    assert not problems, "Untranslated Danish messages:\n" + "\n".join(problems)


def test_danish_texts_keep_every_placeholder_of_the_english_text(danish: Catalog) -> None:
    problems = []
    for message in _messages(danish).values():
        for english, text in _forms(message):
            if not text:
                continue  # reported as untranslated
            missing = _placeholders(english) - _placeholders(text)
            unknown = _placeholders(text) - _placeholders(english)
            if missing or unknown:
                problems.append(
                    f"{text!r}: missing {sorted(missing)}, not in the English {sorted(unknown)}"
                )
    assert not problems, "Danish texts with broken placeholders:\n" + "\n".join(problems)


def test_danish_texts_use_the_percent_sign_only_in_placeholders(danish: Catalog) -> None:
    # Templates' _() always %-formats its text, so a bare "%" breaks the page.
    bare = [
        text
        for message in _messages(danish).values()
        for _, text in _forms(message)
        if "%" in PERCENT_PLACEHOLDER.sub("", text)
    ]
    assert not bare, f"Write 'procent' instead of '%': {bare}"


def test_the_danish_catalog_compiles_and_passes_babels_checks(danish: Catalog) -> None:
    assert not danish.fuzzy, "the Danish catalog's header is fuzzy: pybabel compile would skip it"
    assert danish.plural_forms == "nplurals=2; plural=(n != 1);"
    problems = [
        f"{_show(message.id)}: {error}" for message, errors in danish.check() for error in errors
    ]
    assert not problems, "Babel's checkers report:\n" + "\n".join(problems)

    compiled = BytesIO()
    write_mo(compiled, danish)
    compiled.seek(0)
    translations = gettext.GNUTranslations(compiled)
    for message in _messages(danish).values():
        if message.pluralizable:
            singular, plural = message.id[0], message.id[1]
            got = (
                translations.ngettext(singular, plural, 1),
                translations.ngettext(singular, plural, 2),
            )
            assert got == tuple(message.string[:2]), _show(message.id)
        else:
            assert translations.gettext(message.id) == message.string, _show(message.id)


def test_every_interface_language_has_a_catalog() -> None:
    missing = [
        language
        for language in INTERFACE_LANGUAGES
        if not (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").is_file()
    ]
    assert DEFAULT_LANGUAGE in INTERFACE_LANGUAGES
    assert not missing, f"No catalog for {missing}: run `pybabel init -l <language>`"
