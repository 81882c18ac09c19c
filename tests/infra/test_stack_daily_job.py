"""The stack's daily schedule closes overdue waves when its event reaches the packaged function.

EventBridge Scheduler sends the schedule's ``Input`` as the event; Zappa's handler in the zip
must run ``lambdas.close_due_waves.handler`` for it. The zip runs in the emulated Lambda
(``bench/lambda_harness.py``) against a moto server, as ``tests/infra/test_package.py`` does.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from bench import lambda_harness as harness
from portal.domain.entities import WaveStatus
from portal.storage.dynamodb import DynamoStore
from tests.builders import TODAY, make_survey, make_wave
from tests.infra.test_cloudformation import Resolver, load_template
from tests.lambda_zip import shared_lambda_zip

STAGE = "dev"


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return the unpacked dev zip (``/var/task``) and the emulated runtime's library folder."""
    base = tmp_path_factory.mktemp("daily-job")
    zip_path = shared_lambda_zip(tmp_path_factory, STAGE)
    return harness.unzip(zip_path, base / "task"), harness.make_runtime_dir(base / "runtime")


def test_the_schedules_event_closes_an_overdue_wave_in_the_packaged_function(
    unpacked: tuple[Path, Path],
) -> None:
    target = Resolver(load_template(), STAGE).resources()["DailyJob"]["Properties"]["Target"]
    event = json.loads(target["Input"])
    settings = harness.zappa_stage(STAGE)
    task, runtime = unpacked
    with harness.moto_endpoint() as endpoint:
        harness.provision(endpoint, settings)
        table = boto3.resource(
            "dynamodb",
            region_name=settings["aws_region"],
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).Table(settings["environment_variables"]["PORTAL_DYNAMODB_TABLE"])
        store = DynamoStore(table)
        store.add_survey(make_survey())
        store.add_wave(make_wave(status=WaveStatus.OPEN, planned_close=TODAY - timedelta(days=1)))
        store.add_wave(make_wave(wave_id="pulse", name="Pulse", status=WaveStatus.OPEN))
        invocation = harness.invoke(
            task, runtime, endpoint, [event], function_name=target["Arn"].rsplit(":", 1)[1]
        )
        (answer,) = invocation.responses
        assert answer == {"closed": ["crm-rollout/baseline"]}
        assert store.get_wave("crm-rollout", "baseline").status is WaveStatus.CLOSED
        assert store.get_wave("crm-rollout", "pulse").status is WaveStatus.OPEN
