"""Fixtures of the production-parity suite: every deployment, and a Chromium that trusts it.

``deployment`` is session-scoped and parametrised, so pytest runs every test
against one deployment before it starts the next (one zip build, one Lambda
front or one server, one browser at a time).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright

from bench import lambda_harness as harness
from tests.lambda_zip import shared_lambda_zip
from tests.live_server import CHROMIUM
from tests.prod.deployment import Deployment
from tests.prod.lambda_front import STAGE, lambda_deployment

DEPLOYMENTS = ["lambda-v1", "lambda-v2", "one-server"]


@pytest.fixture(scope="session")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the stage's zip once per run (parallel workers share the first worker's build)."""
    return shared_lambda_zip(tmp_path_factory, STAGE)


@pytest.fixture(scope="session")
def lambda_task(lambda_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return the unpacked zip (``/var/task``) and the emulated runtime's library folder."""
    base = tmp_path_factory.mktemp("lambda-task")
    return harness.unzip(lambda_zip, base / "task"), harness.make_runtime_dir(base / "runtime")


@contextmanager
def start_deployment(
    name: str, request: pytest.FixtureRequest, folder: Path
) -> Iterator[Deployment]:
    """Run the portal as production does, empty, behind HTTPS on 127.0.0.1."""
    if name == "one-server":
        from tests.prod.one_server import one_server_deployment

        with one_server_deployment(folder) as running:
            yield running
        return
    task, runtime = request.getfixturevalue("lambda_task")
    with lambda_deployment(name.removeprefix("lambda-"), folder, task, runtime) as running:
        yield running


@pytest.fixture(scope="session", params=DEPLOYMENTS)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """Run the portal as production does, empty, behind HTTPS on 127.0.0.1."""
    name: str = request.param
    with start_deployment(name, request, tmp_path_factory.mktemp(name)) as running:
        yield running


@pytest.fixture(scope="session")
def prod_browser(playwright: Playwright, deployment: Deployment) -> Iterator[Browser]:
    """Launch Debian's Chromium trusting the deployment's certificate through its flags only."""
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=deployment.chromium_args()
    )
    yield chromium
    chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each test's call report on the item, so a journey knows its step failed."""
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
