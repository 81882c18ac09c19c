"""Templates compiled ahead of time for the Lambda zip: Jinja's bytecode cache, read-only.

Compiling a template (parsing it, generating Python, compiling that) costs a
first request more than rendering it: on a Lambda cold start the front page and
its layout take about 10 ms, the questionnaire about 15 ms, the results overview
about 30 ms. ``infra/package.py`` compiles every template while it builds the
zip (``compile_all``, run with the zip's own libraries and the app configured as
on Lambda) into ``templates/.compiled/``; the app reads that folder when it is
there (``init_app``). A checkout has no such folder and compiles as usual.

Rules: a compiled template is used only when its source is unchanged (Jinja
keeps a SHA-1 of the source in each file and checks it, and its own format
version and Python's) and the Jinja environment that compiled it had the same
compile settings (``environment_key``: Jinja's version, the extensions, the
delimiters, whitespace handling and autoescape chooser). Anything else is
compiled as usual, in memory; nothing is written at run time (Lambda's file
system is read-only).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import CodeType

import jinja2
from flask import Flask
from jinja2 import Environment
from jinja2.bccache import Bucket, BytecodeCache

from portal.config import PROJECT_ROOT

FOLDER = PROJECT_ROOT / "templates" / ".compiled"


def environment_key(env: Environment) -> str:
    """Return a digest of the settings that change the code Jinja compiles a template to."""
    autoescape = getattr(env.autoescape, "__qualname__", repr(env.autoescape))
    settings = (
        jinja2.__version__,
        sorted(env.extensions),
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        env.optimized,
        env.is_async,
        autoescape,
    )
    return hashlib.sha256(repr(settings).encode()).hexdigest()[:16]


def _with_filename(code: CodeType, filename: str) -> CodeType:
    """Return ``code`` (and the functions inside it) as if compiled from ``filename``."""
    consts = tuple(
        _with_filename(const, filename) if isinstance(const, CodeType) else const
        for const in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=consts)


class CompiledTemplates(BytecodeCache):
    """Compiled templates in ``folder``, one file per template name and environment key.

    Read-only unless ``writable`` (only ``compile_all`` writes). A template's file
    name is a digest of the environment key and the template name, never its path,
    so files compiled in a build folder serve the same templates in ``/var/task``.
    """

    def __init__(self, folder: Path, *, writable: bool = False) -> None:
        self.folder = folder
        self.writable = writable

    def get_bucket(
        self, environment: Environment, name: str, filename: str | None, source: str
    ) -> Bucket:
        """Return the template's bucket, holding its compiled code if a valid file has it."""
        key = hashlib.sha256(f"{environment_key(environment)}|{name}".encode()).hexdigest()
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        if bucket.code is not None and filename is not None:
            bucket.code = _with_filename(bucket.code, filename)  # tracebacks name this file
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill ``bucket`` from its file, if there is one (Jinja rejects a stale one)."""
        try:
            with (self.folder / f"{bucket.key}.cache").open("rb") as file:
                bucket.load_bytecode(file)
        except FileNotFoundError:
            pass

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Write ``bucket``'s code to its file when writable; otherwise keep it in memory only."""
        if self.writable:
            self.folder.mkdir(parents=True, exist_ok=True)
            with (self.folder / f"{bucket.key}.cache").open("wb") as file:
                bucket.write_bytecode(file)


def init_app(app: Flask, folder: Path = FOLDER) -> None:
    """Read compiled templates from ``folder`` when it exists (in the Lambda zip)."""
    if folder.is_dir():
        app.jinja_env.bytecode_cache = CompiledTemplates(folder)


def compile_all(app: Flask, folder: Path = FOLDER) -> list[str]:
    """Compile every template of ``app`` into ``folder``; return the template names.

    ``app`` must be configured as where the files will be read (the build runs
    ``create_app`` with production settings from the zip's own folder).
    """
    env = app.jinja_env
    env.bytecode_cache = CompiledTemplates(folder, writable=True)
    names = sorted(name for name in env.list_templates() if not name.startswith("."))
    for name in names:
        env.get_template(name)
    return names
