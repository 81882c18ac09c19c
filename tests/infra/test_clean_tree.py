"""A build leaves the working tree as git checked it out, so `git pull` always merges.

In a fresh clone, the steps an admin runs (``make translations``, ``make assets``,
``make package``) must leave ``git status --porcelain`` empty: build output (the
compiled catalogs, the bundles, the zip, the merged Zappa settings) is ignored, and a
deployment's own settings live in the ignored ``deploy/<stage>.json``.

The clone borrows this checkout's ``.venv``, ``node_modules`` and build venv through
links (making them would download from PyPI and npm), and ``make -o`` keeps make from
reinstalling them; ``PYTHONPATH`` makes the borrowed venv import the clone's code.
The clone holds the last commit, so the test checks what is committed, not edits in
progress. The clone keeps a ``deploy/dev.json`` as a developer's checkout may: the tests'
own build (``bench/lambda_harness.build_zip``) must ignore it. The clone is deleted at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import lambda_harness as harness
from infra.stage_settings import tracked_stage, zappa_view

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BORROWED = (".venv", "node_modules", ".venv-lambda")
BUILD_STEPS = ("translations", "assets", "package")
OVERLAY = {
    "s3_bucket": "change-readiness-portal-zappa-dev-acme",
    "domain": "survey.example.com",
    "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0123456789ab",
}


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def _build_venv_fits(clone: Path) -> bool:
    """Return whether the borrowed build venv was made for the clone's requirements."""
    stamp = ROOT / ".venv-lambda" / ".requirements"
    if not stamp.exists():
        return False
    with (clone / "pyproject.toml").open("rb") as fh:
        dependencies = tomllib.load(fh)["project"]["dependencies"]
    package_script = (clone / "infra" / "package.py").read_text()
    zappa = next(line.split('"')[1] for line in package_script.splitlines() if "zappa==" in line)
    wanted = "\n".join([sys.version.split()[0], *dependencies, zappa]) + "\n"
    return stamp.read_text() == wanted


@pytest.fixture(scope="module")
def built_clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Clone the repository, run the build steps in it, yield the clone; delete it afterwards."""
    missing = [name for name in BORROWED if not (ROOT / name).is_dir()]
    if missing or shutil.which("make") is None:
        pytest.skip(f"needs make and a built {', '.join(missing) or 'checkout'} (`make package`)")
    clone = tmp_path_factory.mktemp("clean") / "portal"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    try:
        yield _build(clone)
    finally:
        # Links only point into this checkout: rmtree removes them, never what they point at.
        shutil.rmtree(clone)


def _build(clone: Path) -> Path:
    """Run the build steps in ``clone`` with a deployment overlay in place; return the clone."""
    if not _build_venv_fits(clone):
        pytest.skip(".venv-lambda was made for other requirements: run `make package` first")
    for name in BORROWED:
        (clone / name).symlink_to(ROOT / name)
    (clone / "deploy" / "dev.json").write_text(json.dumps(OVERLAY))
    env = {
        **os.environ,
        "PYTHONPATH": str(clone),
        "PORTAL_ASSETS_AUTO_BUILD": "0",
        "MAKEFLAGS": "",
    }
    env.pop("VIRTUAL_ENV", None)
    keep = ["-o", ".venv/.installed", "-o", "node_modules/.installed"]
    result = subprocess.run(
        ["make", "--no-print-directory", *keep, *BUILD_STEPS],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return clone


def test_the_build_steps_leave_git_status_empty(built_clone: Path) -> None:
    assert _git("status", "--porcelain", "--untracked-files=all", cwd=built_clone) == ""


def test_the_build_made_what_it_ignores(built_clone: Path) -> None:
    # Guards the first test against a build that silently did nothing.
    assert (built_clone / "static" / "gen" / "manifest.json").is_file()
    assert (
        built_clone / "portal" / "translations" / "da" / "LC_MESSAGES" / "messages.mo"
    ).is_file()
    with zipfile.ZipFile(built_clone / "dist" / "change-readiness-portal-dev.zip") as archive:
        assert "portal/translations/da/LC_MESSAGES/messages.mo" in archive.namelist()
        baked = archive.read("zappa_settings.py").decode()
    assert "'PORTAL_PUBLIC_URL': 'https://survey.example.com'" in baked
    merged = json.loads((built_clone / "dist" / "zappa_settings.dev.json").read_text())
    assert merged["dev"]["s3_bucket"] == OVERLAY["s3_bucket"]


def test_no_compiled_catalog_is_tracked() -> None:
    assert _git("ls-files", "*.mo", cwd=ROOT) == ""


def test_the_tests_own_build_ignores_a_stray_deployment_overlay(
    built_clone: Path, tmp_path: Path
) -> None:
    # The clone's deploy/dev.json moved the public address (see the test above); the zip the
    # tests build and run must have the tracked settings, which they provision moto from.
    assert (built_clone / "deploy" / "dev.json").is_file()
    output = harness.build_zip("dev", tmp_path / "lambda-dev.zip", root=built_clone)
    with zipfile.ZipFile(output) as archive:
        baked = archive.read("zappa_settings.py").decode()
    assert "survey.example.com" not in baked
    assert OVERLAY["s3_bucket"] not in baked
    merged = json.loads(output.with_name("zappa_settings.dev.json").read_text())
    assert merged == {"dev": zappa_view(tracked_stage("dev", built_clone / "zappa_settings.json"))}
