"""zappa_settings.json: two stages that deploy the portal with production settings."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from bench.lambda_harness import ZAPPA_SETTINGS, zappa_stage

STAGES = ("dev", "prod")
ROOT = Path(__file__).resolve().parents[2]


def test_settings_file_is_json_with_dev_and_prod_stages() -> None:
    assert set(json.loads(ZAPPA_SETTINGS.read_text())) == set(STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_stage_serves_portal_wsgi_app_on_python_311(stage: str) -> None:
    settings = zappa_stage(stage)
    assert settings["app_function"] == "portal.wsgi.app"
    assert settings["runtime"] == "python3.11"
    assert settings["use_precompiled_packages"] is False


@pytest.mark.parametrize("stage", STAGES)
def test_stage_never_returns_tracebacks_to_clients(stage: str) -> None:
    # Zappa's default is debug=True, which puts the traceback of any exception that escapes
    # Flask (a missing secret, say) into the HTTP response.
    assert zappa_stage(stage)["debug"] is False


@pytest.mark.parametrize("stage", STAGES)
def test_stage_uses_its_own_table_and_secret(stage: str) -> None:
    env = zappa_stage(stage)["environment_variables"]
    assert env == {
        "PORTAL_ENV": "production",
        "PORTAL_STORAGE": "dynamodb",
        "PORTAL_DYNAMODB_TABLE": f"change-readiness-portal-{stage}",
        "PORTAL_SECRET_KEY_SSM_PARAMETER": f"/change-readiness-portal/{stage}/secret-key",
    }


@pytest.mark.parametrize("stage", STAGES)
def test_excludes_are_safe_at_any_depth(stage: str) -> None:
    # Zappa matches `exclude` against base names at every depth: a name like "tests" or
    # "six.py" would also drop folders inside packages (webassets ships its own six.py).
    # Such names belong in `exclude_glob`, which is relative to the package root.
    exclude = set(zappa_stage(stage)["exclude"])
    assert not exclude & {"tests", "docs", "static", "templates", "portal", "six.py", "src"}


@pytest.mark.parametrize("stage", STAGES)
def test_scheduled_functions_exist(stage: str) -> None:
    for event in zappa_stage(stage).get("events", []):
        module, _, function = event["function"].rpartition(".")
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None, f"{module} is not importable"
        assert Path(spec.origin).is_relative_to(ROOT)
        assert f"def {function}(" in Path(spec.origin).read_text()
