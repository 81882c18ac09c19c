"""Settings: read once from PORTAL_* variables, with errors that name the variable to fix."""

from __future__ import annotations

import secrets
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from portal.config import Settings, check_secret_key, resolve_secret_key
from portal.domain.entities import Thresholds
from portal.domain.errors import ConfigError


def test_defaults_to_sqlite_in_production_mode() -> None:
    settings = Settings.from_env({})
    assert (settings.storage, settings.env, settings.is_production) == (
        "sqlite",
        "production",
        True,
    )
    assert settings.default_thresholds() == Thresholds(5, 10)


def test_reads_every_kind_of_variable() -> None:
    settings = Settings.from_env(
        {
            "PORTAL_STORAGE": "dynamodb",
            "PORTAL_DYNAMODB_TABLE": "t",
            "PORTAL_DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:1",
            "PORTAL_DYNAMODB_CREATE_TABLE": "yes",
            "PORTAL_MIN_GROUP_SIZE": "7",
            "PORTAL_MIN_COMMENT_GROUP_SIZE": "12",
            "AWS_REGION": "eu-north-1",
        }
    )
    assert settings.storage == "dynamodb" and settings.dynamodb_table == "t"
    assert settings.dynamodb_endpoint_url == "http://127.0.0.1:1"
    assert settings.dynamodb_create_table is True
    assert settings.aws_region == "eu-north-1"
    assert settings.default_thresholds() == Thresholds(7, 12)


def test_an_empty_optional_variable_means_unset() -> None:
    assert Settings.from_env({"PORTAL_DYNAMODB_ENDPOINT_URL": ""}).dynamodb_endpoint_url is None


def test_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env({"PORTAL_STORAGE": "dynamodb"}).with_overrides(
        {"storage": "sqlite"}
    )
    assert settings.storage == "sqlite"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"PORTAL_STORAGE": "mongo"}, "PORTAL_STORAGE must be one of sqlite, dynamodb"),
        ({"PORTAL_ENV": "prod"}, "PORTAL_ENV must be one of"),
        ({"PORTAL_MIN_GROUP_SIZE": "2"}, "from 3"),
        ({"PORTAL_MIN_GROUP_SIZE": "five"}, "PORTAL_MIN_GROUP_SIZE must be a whole number"),
        ({"PORTAL_DYNAMODB_CREATE_TABLE": "maybe"}, "must be true or false"),
        ({"PORTAL_MAX_CONTENT_LENGTH": "10"}, "PORTAL_MAX_CONTENT_LENGTH"),
        ({"PORTAL_TRUSTED_PROXIES": "-1"}, "PORTAL_TRUSTED_PROXIES must be the number"),
        ({"PORTAL_TRUSTED_PROXIES": "yes"}, "PORTAL_TRUSTED_PROXIES must be a whole number"),
    ],
)
def test_bad_values_name_the_variable_to_fix(variables: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(variables)


def test_unknown_overrides_are_refused() -> None:
    with pytest.raises(ConfigError, match="Unknown setting"):
        Settings().with_overrides({"sotrage": "sqlite"})


def test_production_refuses_to_start_without_a_secret_key() -> None:
    with pytest.raises(ConfigError, match="PORTAL_SECRET_KEY"):
        resolve_secret_key(Settings())


def test_production_refuses_a_short_secret_key() -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        resolve_secret_key(Settings(secret_key="short"))


@pytest.mark.parametrize(
    "key",
    [
        "s" * 40,  # 32 identical characters were accepted once
        "ab" * 20,
        "changeme" * 5,  # fewer than 10 different characters
        "a" * 30 + "0123456789",  # 11 different, yet about 60 bits
    ],
)
def test_production_refuses_a_long_but_weak_secret_key(key: str) -> None:
    with pytest.raises(ConfigError, match="too weak.*at least 10 of them different"):
        resolve_secret_key(Settings(secret_key=key))


def test_production_accepts_keys_made_by_the_documented_command() -> None:
    for _ in range(200):
        key = secrets.token_hex(16)
        assert resolve_secret_key(Settings(secret_key=key)) == key
    key = secrets.token_urlsafe(48)
    assert check_secret_key(key, "test") == key


def test_development_keeps_one_private_key_beside_the_database(tmp_path: Path) -> None:
    settings = Settings(env="development", database_path=str(tmp_path / "db" / "portal.sqlite3"))
    one = resolve_secret_key(settings)
    two = resolve_secret_key(settings)
    assert len(one) >= 32 and one == two
    key_file = tmp_path / "db" / "secret_key"
    assert key_file.read_text().strip() == one
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == ["secret_key"]  # no temporary left


def test_development_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    settings = Settings(env="development", database_path=str(tmp_path / "portal.sqlite3"))
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: resolve_secret_key(settings), range(32)))
    assert len(keys) == 1


def test_testing_makes_up_a_random_key_per_process() -> None:
    one = resolve_secret_key(Settings(env="testing"))
    two = resolve_secret_key(Settings(env="testing"))
    assert len(one) >= 32 and one != two


@mock_aws
def test_reads_the_secret_key_from_ssm_parameter_store() -> None:
    secret = "s3cr3t-" + secrets.token_urlsafe(32)
    boto3.client("ssm", region_name="eu-west-1").put_parameter(
        Name="/portal/test/secret-key", Value=secret, Type="SecureString"
    )
    settings = Settings(secret_key_ssm_parameter="/portal/test/secret-key", aws_region="eu-west-1")
    assert resolve_secret_key(settings) == secret


@mock_aws
def test_a_missing_ssm_parameter_is_a_clear_error() -> None:
    settings = Settings(secret_key_ssm_parameter="/portal/missing", aws_region="eu-west-1")
    with pytest.raises(ConfigError, match="Cannot read the secret key from SSM parameter"):
        resolve_secret_key(settings)
