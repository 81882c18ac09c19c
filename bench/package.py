"""Measure the Lambda zip: its size and the cold start it gives, with and without good bytecode.

Run ``python bench/package.py`` (``--reuse`` keeps an existing ``dist/bench/`` zip). The
bench builds with the tracked settings only, into ``dist/bench/``, so it never replaces the
zip ``make package`` builds in ``dist/`` with a deployment's own settings. Each run
is a fresh emulated Lambda process (see ``lambda_harness``) against moto on
127.0.0.1: the time to import Zappa's ``handler``, then the time of the first
request (``GET /`` through a REST API event), which creates the Flask app.
Three bytecode layouts are compared, runs interleaved:

* unchecked-hash ``.pyc`` files, as ``infra/package.py`` ships them;
* timestamp ``.pyc`` files whose sources carry other dates, as Zappa ships them
  (its zip entries are dated 1980), so Python recompiles every module;
* no ``.pyc`` at all.

A fourth layout is the yardstick of issue 12: a **hello-world Flask** app in the same zip,
built and measured the same way (Zappa's handler and settings, the same libraries and
unchecked-hash ``.pyc``), with ``portal`` removed and ``zappa_settings`` pointing at a
one-route app. The portal's cold start (import + first request) should be at most twice it.

The front page needs neither the session key nor the table, which the portal reads or
builds only when a request first needs them (``portal.web.sessions``, ``DynamoStore``). So
one more row times the shipped zip with ``GET /admin/login`` as its first request: its
form's CSRF token reads the key from SSM, as a respondent's questionnaire does.
"""

from __future__ import annotations

import argparse
import collections
import os
import py_compile
import shutil
import statistics
import sys
import tempfile
import zipfile
from pathlib import Path

import lambda_harness as harness

ZIP_DATE = 315532800  # 1980-01-01, the date Zappa gives every zip entry
SHIPPED_LAYOUT = "unchecked-hash .pyc (shipped)"
HELLO_LAYOUT = "hello-world Flask (same zip)"
KEY_LAYOUT = "shipped, GET /admin/login"


def top_level_sizes(zip_path: Path) -> list[tuple[str, int, int, int]]:
    """Return (entry, files, bytes, compressed bytes) per top-level entry, largest first."""
    files: collections.Counter[str] = collections.Counter()
    raw: collections.Counter[str] = collections.Counter()
    packed: collections.Counter[str] = collections.Counter()
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            top = info.filename.split("/", 1)[0]
            files[top] += 1
            raw[top] += info.file_size
            packed[top] += info.compress_size
    return sorted(
        ((top, files[top], raw[top], packed[top]) for top in files), key=lambda row: -row[3]
    )


def with_stale_timestamp_pycs(task: Path, dest: Path) -> Path:
    """Copy ``task`` with timestamp ``.pyc`` files that no longer match their sources' dates."""
    shutil.copytree(task, dest)
    harness.remove_bytecode(dest)
    for source in dest.rglob("*.py"):
        py_compile.compile(
            str(source),
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
        )
        os.utime(source, (ZIP_DATE, ZIP_DATE))
    return dest


def without_pycs(task: Path, dest: Path) -> Path:
    """Copy ``task`` without any ``.pyc`` file."""
    shutil.copytree(task, dest)
    harness.remove_bytecode(dest)
    return dest


HELLO = '''"""The smallest Flask app, to compare cold starts with."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    """Say hello."""
    return "Hello, world!"
'''


def hello_world(task: Path, dest: Path) -> Path:
    """Copy ``task`` with the portal replaced by a one-route Flask app, bytecode as shipped."""
    shutil.copytree(task, dest)
    shutil.rmtree(dest / "portal")
    (dest / "hello.py").write_text(HELLO)
    settings = dest / "zappa_settings.py"
    text = settings.read_text()
    settings.write_text(text.replace("APP_MODULE='portal.wsgi'", "APP_MODULE='hello'"))
    for source in (dest / "hello.py", settings):
        py_compile.compile(
            str(source),
            cfile=str(dest / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"),
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    return dest


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values):7.0f} {min(values):7.0f}"


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the zip, print its size, then time cold starts for each bytecode layout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("dev", "prod"), default="dev")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per layout")
    parser.add_argument("--reuse", action="store_true", help="reuse the dist/bench/ zip if present")
    args = parser.parse_args(argv)

    zip_path = harness.ROOT / "dist" / "bench" / f"change-readiness-portal-{args.stage}.zip"
    if not (args.reuse and zip_path.exists()):
        print(f"Building {zip_path.relative_to(harness.ROOT)} ...", flush=True)
        harness.build_zip(args.stage, zip_path)
    size = zip_path.stat().st_size
    with zipfile.ZipFile(zip_path) as archive:
        count = len(archive.namelist())
    print(f"zip: {zip_path}")
    print(f"size: {size} bytes ({size / 2**20:.2f} MiB), {count} files")
    print(f"\n{'top-level entry':24} {'files':>6} {'KiB':>8} {'KiB zipped':>11}")
    for top, files, raw, packed in top_level_sizes(zip_path):
        print(f"{top:24} {files:6} {raw / 1024:8.1f} {packed / 1024:11.1f}")

    settings = harness.zappa_stage(args.stage)
    function_name = f"{settings['project_name']}-{args.stage}"
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        base = Path(tmp)
        task = harness.unzip(zip_path, base / "task")
        runtime = harness.make_runtime_dir(base / "runtime")
        layouts = {
            SHIPPED_LAYOUT: task,
            "stale timestamp .pyc (Zappa)": with_stale_timestamp_pycs(task, base / "stale"),
            "no .pyc": without_pycs(task, base / "none"),
            HELLO_LAYOUT: hello_world(task, base / "hello"),
        }
        home = harness.rest_api_event("/", stage=args.stage)
        runs = {name: (folder, home) for name, folder in layouts.items()}
        runs[KEY_LAYOUT] = (task, harness.rest_api_event("/admin/login", stage=args.stage))
        imports: dict[str, list[float]] = {name: [] for name in runs}
        firsts: dict[str, list[float]] = {name: [] for name in runs}
        with harness.moto_endpoint() as endpoint:
            harness.provision(endpoint, settings)
            for _ in range(args.runs):
                for name, (folder, event) in runs.items():
                    run = harness.invoke(
                        folder, runtime, endpoint, [event], function_name=function_name
                    )
                    status = run.responses[0]["statusCode"]
                    if status != 200:
                        print(
                            f"error: GET {event['path']} answered {status} with {name}",
                            file=sys.stderr,
                        )
                        return 1
                    imports[name].append(run.import_ms)
                    firsts[name].append(run.request_ms[0])

    print(f"\ncold start over {args.runs} fresh processes each (ms: median, min)")
    print(f"{'layout':32} {'import handler':>15} {'first request':>15} {'total':>15}")
    for name in runs:
        totals = [a + b for a, b in zip(imports[name], firsts[name], strict=True)]
        print(f"{name:32} {_ms(imports[name])} {_ms(firsts[name])} {_ms(totals)}")
    shipped, hello, keyed = (
        statistics.median(a + b for a, b in zip(imports[n], firsts[n], strict=True))
        for n in (SHIPPED_LAYOUT, HELLO_LAYOUT, KEY_LAYOUT)
    )
    verdict = "met" if shipped <= 2 * hello else "NOT MET"
    print(f"\nportal / hello-world cold start: {shipped / hello:.2f} × (target ≤ 2 ×: {verdict})")
    print(f"the same with a first request that reads the SSM key: {keyed / hello:.2f} ×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
