"""Every make target that packages or tests compiles the catalogs first.

The ``.mo`` files are untracked build output (``make translations``); ``infra/package.py``
refuses a missing or stale one, and the tests build the zip. So in a fresh clone, ``make
test`` (and ``package``, ``deploy``, ``upgrade``, ``bench``) must run ``pybabel compile``
before anything that packages. ``make -n`` prints the commands in order without running them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPILE = ".venv/bin/pybabel -q compile -d portal/translations"
#: Each target and the first command of it that packages (or runs what packages).
PACKAGING = {
    "test": ".venv/bin/pytest ",
    "pytest": ".venv/bin/pytest ",
    "package": ".venv/bin/python infra/package.py",
    "deploy": ".venv/bin/python infra/deploy.py deploy",
    "upgrade": ".venv/bin/python infra/deploy.py upgrade",
    "bench": ".venv/bin/python bench/package.py",
}


def _dry_run(target: str) -> list[str]:
    """Return the commands ``make TARGET STAGE=dev`` would run, installs taken as done."""
    keep = ["-o", ".venv/.installed", "-o", "node_modules/.installed"]
    env = {**os.environ, "MAKEFLAGS": ""}
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", *keep, target, "STAGE=dev"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [line.strip() for line in result.stdout.splitlines()]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("target", sorted(PACKAGING))
def test_the_target_compiles_the_catalogs_before_it_packages(target: str) -> None:
    commands = _dry_run(target)
    packaging = [i for i, line in enumerate(commands) if line.startswith(PACKAGING[target])]
    assert packaging, f"make {target} no longer runs {PACKAGING[target]!r}"
    assert COMPILE in commands[: packaging[0]], f"make {target} packages before it compiles"
