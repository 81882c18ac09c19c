"""Build the Lambda zip for one Zappa stage, without AWS: ``python infra/package.py --stage dev``.

The stage's settings are the tracked ``zappa_settings.json`` with the deployment's
own ``deploy/<stage>.json`` merged over it (``infra/stage_settings.py``); the merged
file, ``dist/zappa_settings.<stage>.json``, is what Zappa packages with and what
``zappa deploy``/``update`` must be given with ``-s``.

Zappa copies the working directory and the *active* virtualenv's site-packages
into the zip, so it runs from a separate build venv (``.venv-lambda``) that holds
only the runtime dependencies from ``pyproject.toml`` plus Zappa itself; the
``exclude``/``exclude_glob`` lists in ``zappa_settings.json`` then drop what
Lambda provides (boto3 and friends) and Zappa's build-only dependencies.

The zip is then rewritten. Babel's locale data is cut down to the languages the
questionnaires offer (all 1,000-odd locales weigh 10 MiB zipped). The bytecode
is compiled for unchecked-hash invalidation: Zappa ships the venv's
timestamp-based ``.pyc`` files, but zip entries carry their own (1980) dates,
so after Lambda unpacks the zip every ``.pyc`` looks stale, and as ``/var/task``
is read-only, Python recompiles every module on every cold start. Hash-based
``.pyc`` files do not depend on dates. For the same reason the Jinja templates are
compiled into the zip too (``templates/.compiled``, see
``portal/web/compiled_templates.py``).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import py_compile
import secrets
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from stage_settings import SettingsError, generated_path, stage_settings, write_zappa_settings

ROOT = Path(__file__).resolve().parent.parent
BUILD_VENV = ROOT / ".venv-lambda"
STAMP = BUILD_VENV / ".requirements"
# Held while the build venv is checked, (re)made and used, so parallel builds do not race on it.
LOCK = ROOT / "dist" / ".package.lock"
ZAPPA_REQUIREMENT = "zappa==0.63.0"
PYTHON_VERSION = (3, 13)  # the Lambda runtime in zappa_settings.json
MAX_ZIP_BYTES = 8 * 1024 * 1024
STAGES = ("dev", "prod")
#: The only things from the project folder the zip may carry; anything else there (an
#: instance database, test screenshots, a local .env) must be excluded in zappa_settings.json.
APP_ENTRIES = frozenset({"portal", "lambdas", "templates", "static"})
INSTRUMENTS = ROOT / "portal" / "instruments"
TRANSLATIONS = ROOT / "portal" / "translations"
LOCALE_DATA = "babel/locale-data/"
# One date and mode for every entry: only Zappa's package_info.json differs between builds.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644 << 16


class PackagingError(Exception):
    """A build step failed; the message says what to do about it."""


def default_output(stage: str) -> Path:
    """Return where the zip for ``stage`` goes unless ``--output`` says otherwise."""
    return ROOT / "dist" / f"change-readiness-portal-{stage}.zip"


def runtime_requirements() -> list[str]:
    """Return the pinned requirements of the build venv: runtime dependencies plus Zappa."""
    with (ROOT / "pyproject.toml").open("rb") as fh:
        project = tomllib.load(fh)["project"]
    return [*project["dependencies"], ZAPPA_REQUIREMENT]


def _run(cmd: list[str], *, env: dict[str, str] | None = None, doing: str) -> None:
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise PackagingError(
            f"{doing} failed (exit {result.returncode}): {' '.join(cmd)}\n"
            f"{result.stdout}{result.stderr}"
        )


def ensure_build_venv(requirements: list[str]) -> Path:
    """Create ``.venv-lambda`` with exactly ``requirements``, or reuse it if they are unchanged."""
    wanted = "\n".join([sys.version.split()[0], *requirements]) + "\n"
    python = BUILD_VENV / "bin" / "python"
    if python.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return BUILD_VENV
    if BUILD_VENV.is_symlink():
        raise PackagingError(
            f"{BUILD_VENV.name} is a link to {BUILD_VENV.resolve()}, made for other requirements: "
            "remove the link (the build then makes its own venv)."
        )
    print(f"Creating the build venv {BUILD_VENV.relative_to(ROOT)} ...", flush=True)
    shutil.rmtree(BUILD_VENV, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(BUILD_VENV)], doing="Creating the build venv")
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *requirements,
        ],
        doing="Installing the runtime dependencies into the build venv",
    )
    STAMP.write_text(wanted)
    return BUILD_VENV


def zappa_package(venv: Path, stage: str, raw_zip: Path, settings_file: Path) -> None:
    """Run ``zappa package`` from the project root inside ``venv`` (no AWS access needed)."""
    env = {
        **os.environ,
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        # `zappa package` creates no AWS session, but botocore is imported: keep it local.
        "AWS_ACCESS_KEY_ID": "packaging-only",
        "AWS_SECRET_ACCESS_KEY": "packaging-only",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.pop("PYTHONHOME", None)
    # --json also skips Zappa's "new version available?" request to PyPI.
    cmd = [
        str(venv / "bin" / "zappa"),
        "package",
        stage,
        "--json",
        "--disable_progress",
        "--settings_file",
        str(settings_file),
        "--output",
        str(raw_zip),
    ]
    _run(cmd, env=env, doing=f"`zappa package {stage}`")
    if not raw_zip.exists():
        raise PackagingError(f"`zappa package {stage}` reported success but wrote no {raw_zip}.")


def check_translations() -> None:
    """Refuse to build unless every catalog has a compiled ``.mo`` at least as new as its ``.po``.

    The ``.mo`` files are build output (not tracked: ``pybabel compile`` output differs
    between Babel versions, which would leave the tree dirty); ``make translations``
    makes them, and Flask-Babel would silently fall back to English without them.
    """
    stale = []
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            stale.append(str(mo.relative_to(ROOT)))
    if stale:
        raise PackagingError(
            f"{', '.join(stale)} missing or older than the catalog: run `make translations`."
        )


def check_project_entries(raw_zip: Path) -> None:
    """Refuse a zip that carries anything from the project folder besides ``APP_ENTRIES``.

    Zappa copies the whole working directory, so a stray file there would ship too;
    ``zappa update`` builds from the same settings, so the fix belongs in ``exclude_glob``.
    """
    with zipfile.ZipFile(raw_zip) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
    leaked = sorted(tops & {p.name for p in ROOT.iterdir()} - APP_ENTRIES)
    if leaked:
        raise PackagingError(
            f"The zip would carry {', '.join(leaked)} from the project folder. Add "
            "what the app does not need to `exclude_glob` in zappa_settings.json, or what it "
            "does need to APP_ENTRIES in infra/package.py."
        )


def portal_languages() -> set[str]:
    """Return the languages any questionnaire offers, plus English (Flask-Babel's default)."""
    languages = {"en"}
    for path in INSTRUMENTS.glob("*/*.yaml"):
        languages.update(yaml.safe_load(path.read_text(encoding="utf-8")).get("languages", []))
    return languages


def select_entries(names: Iterable[str], languages: set[str]) -> list[str]:
    """Return the entries worth keeping, sorted: no bytecode, no locale data nobody reads.

    Babel loads ``<locale>.dat`` and its parents down to ``root.dat``, so a language
    keeps its own file and its regional variants (``en``, ``en_001``, ``en_GB`` ...).
    """

    def wanted(name: str) -> bool:
        if name.endswith((".pyc", "/")) or "__pycache__/" in name:
            return False
        if name.startswith(LOCALE_DATA) and name.endswith(".dat"):
            locale = name[len(LOCALE_DATA) : -len(".dat")]
            return locale == "root" or locale.split("_", 1)[0] in languages
        return True

    return sorted(name for name in names if wanted(name))


#: Run in the unpacked zip with its own libraries first on ``sys.path``, the app set up as on
#: Lambda (production settings; the store and key never used): compiles every template.
COMPILE_TEMPLATES = """
import sys
tree, key, database = sys.argv[1:4]
sys.path.insert(0, tree)
import portal
assert portal.__file__.startswith(tree), portal.__file__
from portal.app import create_app
from portal.web.compiled_templates import compile_all
settings = {"env": "production", "secret_key": key, "database_path": database}
print(len(compile_all(create_app(settings))))
"""


def compile_templates(tree: Path) -> list[Path]:
    """Compile the templates of the unpacked zip ``tree``; return the files written.

    The zip's own Flask, Jinja and portal compile them (``COMPILE_TEMPLATES``), in
    a fresh interpreter that ignores ``PORTAL_*`` variables and writes no bytecode.
    """
    with tempfile.TemporaryDirectory(prefix="portal-templates-") as tmp:
        result = subprocess.run(
            [
                sys.executable,
                "-I",
                "-B",
                "-c",
                COMPILE_TEMPLATES,
                str(tree),
                secrets.token_urlsafe(48),
                str(Path(tmp) / "unused.sqlite3"),
            ],
            cwd=tmp,
            env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"},
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        raise PackagingError(f"Compiling the templates failed:\n{result.stdout}{result.stderr}")
    return sorted((tree / "templates" / ".compiled").glob("*.cache"))


def _pyc_name(source: str) -> str:
    folder, _, name = source.rpartition("/")
    pyc = f"__pycache__/{name[:-3]}.{sys.implementation.cache_tag}.pyc"
    return f"{folder}/{pyc}" if folder else pyc


def rewrite(raw_zip: Path, output: Path, languages: set[str]) -> int:
    """Copy the ``select_entries`` of ``raw_zip`` to ``output``, with unchecked-hash ``.pyc``s.

    Every ``.py`` gets a ``__pycache__`` entry compiled by this (3.13) interpreter;
    sources stay in the zip so tracebacks show code. The templates are compiled
    too (``compile_templates``). Returns the number of entries.
    """
    with tempfile.TemporaryDirectory(prefix="portal-pyc-") as tmp:
        tree = Path(tmp)
        with zipfile.ZipFile(raw_zip) as src:
            names = select_entries(src.namelist(), languages)
            for name in names:
                src.extract(name, tree)
        entries: dict[str, Path] = {name: tree / name for name in names}
        for name in names:
            if not name.endswith(".py"):
                continue
            pyc = tree / _pyc_name(name)
            try:
                py_compile.compile(
                    str(tree / name),
                    cfile=str(pyc),
                    dfile=name,
                    doraise=True,
                    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                )
            except py_compile.PyCompileError as exc:
                raise PackagingError(
                    f"{name} does not compile under Python {PYTHON_VERSION[0]}.{PYTHON_VERSION[1]}"
                    f": {exc.msg}"
                ) from exc
            entries[_pyc_name(name)] = pyc
        for compiled in compile_templates(tree):
            entries[compiled.relative_to(tree).as_posix()] = compiled
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
            for name in sorted(entries):
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                info.external_attr = FILE_MODE
                info.compress_type = zipfile.ZIP_DEFLATED
                dst.writestr(info, entries[name].read_bytes())
        partial.replace(output)
        return len(entries)


def merged_settings(stage: str, overlay: Path | None = None) -> dict[str, Any]:
    """Return the stage's settings with ``deploy/<stage>.json`` (or ``overlay``) merged over."""
    try:
        return stage_settings(stage, overlay)
    except SettingsError as exc:
        raise PackagingError(str(exc)) from exc


def build(stage: str, output: Path, overlay: Path | None = None) -> Path:
    """Build the stage's zip at ``output`` and return its path.

    The merged settings are written twice under the build lock: a private copy that
    ``zappa package`` reads (so parallel builds with other overlays cannot swap them),
    and ``zappa_settings.<stage>.json`` next to the zip, to deploy it with.
    """
    if sys.version_info[:2] != PYTHON_VERSION:
        raise PackagingError(
            f"Package with Python {PYTHON_VERSION[0]}.{PYTHON_VERSION[1]} (the Lambda runtime), "
            f"not {sys.version.split()[0]}: run `.venv/bin/python infra/package.py`."
        )
    if not (ROOT / "static" / "gen" / "manifest.json").exists():
        raise PackagingError(
            "static/gen/manifest.json is missing: run `make assets` (or `portal assets build`)."
        )
    check_translations()
    settings = merged_settings(stage, overlay)
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        venv = ensure_build_venv(runtime_requirements())
        with tempfile.TemporaryDirectory(prefix="portal-zappa-") as tmp:
            raw_zip = Path(tmp) / "zappa.zip"
            private = write_zappa_settings(stage, settings, Path(tmp) / "zappa_settings.json")
            zappa_package(venv, stage, raw_zip, private)
            check_project_entries(raw_zip)
            count = rewrite(raw_zip, output, portal_languages())
        deploy_with = write_zappa_settings(
            stage, settings, output.with_name(generated_path(stage).name)
        )
    digest = hashlib.sha256(output.read_bytes()).hexdigest()[:12]
    size = output.stat().st_size
    print(f"{output} ({size} bytes, {size / 2**20:.2f} MiB, {count} files, sha256 {digest}...)")
    print(f"{deploy_with}: the settings to deploy it with (zappa ... -s)")
    return output


def main(argv: list[str] | None = None) -> int:
    """Build the zip; exit 1 if a step fails or the zip is larger than 8 MiB."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=STAGES, default="dev", help="Zappa stage (default dev)")
    parser.add_argument("--output", type=Path, help="zip path (default dist/<name>-<stage>.zip)")
    parser.add_argument(
        "--overlay",
        type=Path,
        help="the deployment's own settings (default deploy/<stage>.json, if it exists)",
    )
    parser.add_argument(
        "--settings-only",
        action="store_true",
        help="only write dist/zappa_settings.<stage>.json, build no zip",
    )
    args = parser.parse_args(argv)
    output = (args.output or default_output(args.stage)).resolve()
    try:
        if args.settings_only:
            print(write_zappa_settings(args.stage, merged_settings(args.stage, args.overlay)))
            return 0
        build(args.stage, output, args.overlay)
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = output.stat().st_size
    if size > MAX_ZIP_BYTES:
        print(
            f"error: {output} is {size / 2**20:.2f} MiB, over the {MAX_ZIP_BYTES // 2**20} MiB "
            "budget. List the largest entries with `unzip -l` and add what Lambda does not need "
            "to `exclude`/`exclude_glob` in zappa_settings.json.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
