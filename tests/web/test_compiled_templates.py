"""Templates compiled ahead of time serve exactly as fresh ones, and only while still valid."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from jinja2 import DictLoader, Environment, FileSystemLoader

from portal.app import create_app
from portal.storage.sqlite import SqliteStore
from portal.web import compiled_templates
from portal.web.compiled_templates import CompiledTemplates, compile_all

KEY = "test-" + "x" * 40
PAGES = ("/", "/code", "/no/such/page", "/s/unknown-token")


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """List the templates Jinja compiles from source from now on."""
    names: list[str] = []
    real = Environment.compile

    def counting(self: Environment, source: Any, name: str | None = None, *args: Any) -> Any:
        names.append(str(name))
        return real(self, source, name, *args)

    monkeypatch.setattr(Environment, "compile", counting)
    return names


def _pages(app: Flask) -> dict[str, str]:
    client = app.test_client()
    return {path: client.get(path).get_data(as_text=True) for path in PAGES}


def test_an_app_with_compiled_templates_compiles_none_and_serves_the_same_pages(
    tmp_path: Path, sqlite_store: SqliteStore, compiles: list[str]
) -> None:
    fresh = create_app({"env": "testing", "secret_key": KEY}, store=sqlite_store)
    names = compile_all(fresh, tmp_path)
    assert "base.html" in names and len(list(tmp_path.glob("*.cache"))) == len(names)
    compiles.clear()

    compiled = create_app({"env": "testing", "secret_key": KEY}, store=sqlite_store)
    compiled_templates.init_app(compiled, tmp_path)
    plain = create_app({"env": "testing", "secret_key": KEY}, store=sqlite_store)
    plain_pages = _pages(plain)
    assert compiles, "the app without compiled templates compiles them"
    compiles.clear()
    assert _pages(compiled) == plain_pages
    assert compiles == []


def test_a_checkout_without_compiled_templates_compiles_as_usual(
    tmp_path: Path, sqlite_store: SqliteStore
) -> None:
    app = create_app({"env": "testing", "secret_key": KEY}, store=sqlite_store)
    compiled_templates.init_app(app, tmp_path / "missing")
    assert app.jinja_env.bytecode_cache is None


def test_a_changed_template_is_compiled_anew_and_nothing_is_written_at_run_time(
    tmp_path: Path, compiles: list[str]
) -> None:
    build = Environment(loader=DictLoader({"t.html": "old {{ x }}"}))
    build.bytecode_cache = CompiledTemplates(tmp_path, writable=True)
    build.get_template("t.html")
    files = sorted(tmp_path.iterdir())

    runtime = Environment(loader=DictLoader({"t.html": "new {{ x }}", "u.html": "u"}))
    runtime.bytecode_cache = CompiledTemplates(tmp_path)
    compiles.clear()
    assert runtime.get_template("t.html").render(x=1) == "new 1"
    assert runtime.get_template("u.html").render() == "u"
    assert compiles == ["t.html", "u.html"]
    assert sorted(tmp_path.iterdir()) == files


def test_an_environment_with_other_compile_settings_does_not_use_the_files(
    tmp_path: Path, compiles: list[str]
) -> None:
    source = {"t.html": "{{ x }}"}
    build = Environment(loader=DictLoader(source), autoescape=False)
    build.bytecode_cache = CompiledTemplates(tmp_path, writable=True)
    build.get_template("t.html")

    same = Environment(loader=DictLoader(source), autoescape=False)
    same.bytecode_cache = CompiledTemplates(tmp_path)
    other = Environment(loader=DictLoader(source), autoescape=True)
    other.bytecode_cache = CompiledTemplates(tmp_path)
    compiles.clear()
    assert same.get_template("t.html").render(x="<b>") == "<b>"
    assert compiles == []
    assert other.get_template("t.html").render(x="<b>") == "&lt;b&gt;"
    assert compiles == ["t.html"]


def test_a_template_error_names_the_file_it_was_read_from_not_the_build_folder(
    tmp_path: Path,
) -> None:
    built, served, cache = tmp_path / "build", tmp_path / "task", tmp_path / "compiled"
    built.mkdir()
    (built / "t.html").write_text("line one\n{{ 1 / x }}\n")
    build = Environment(loader=FileSystemLoader(built))
    build.bytecode_cache = CompiledTemplates(cache, writable=True)
    build.get_template("t.html")
    shutil.copytree(built, served)

    runtime = Environment(loader=FileSystemLoader(served))
    runtime.bytecode_cache = CompiledTemplates(cache)
    template = runtime.get_template("t.html")
    with pytest.raises(ZeroDivisionError) as caught:
        template.render(x=0)
    frames = [str(entry.path) for entry in caught.traceback]
    assert str(served / "t.html") in frames and str(built / "t.html") not in frames
