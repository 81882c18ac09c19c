"""One Lambda zip per test run, shared by the package tests and the production-parity suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench import lambda_harness as harness


def shared_lambda_zip(tmp_path_factory: pytest.TempPathFactory, stage: str) -> Path:
    """Build the stage's zip once per run; parallel workers share the first worker's build.

    The zip has the tracked settings only: a developer's own ``deploy/<stage>.json`` is
    left out (``harness.build_zip``), so local overrides never change what the tests run.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    output = shared / f"lambda-{stage}.zip"
    with harness.locked(shared / f"lambda-{stage}.lock"):
        if not output.exists():
            harness.build_zip(stage, output)
    return output
