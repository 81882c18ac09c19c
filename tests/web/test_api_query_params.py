"""The API holds its query parameters to the OpenAPI spec: an empty or repeated value is a 400."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from portal.domain.accounts import Role
from portal.domain.entities import Response
from portal.web.api.views import OPENAPI
from tests.web.test_api import api, token_for
from tests.web.test_results import SLUG

MakeAccount = Callable[..., object]
SPEC = json.loads(OPENAPI.read_text(encoding="utf-8"))
PATH_VALUES = {"slug": SLUG, "wave_id": "baseline", "code": "SALES"}


def query_parameters() -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (concrete path, parameter) for every query parameter the spec lists."""
    for template, operations in SPEC["paths"].items():
        path = template.format(**PATH_VALUES)
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    yield path, parameter


QUERY_PARAMETERS = list(query_parameters())


def test_the_spec_lists_the_results_filters_with_their_rules() -> None:
    names = {p["name"]: p["schema"] for _, p in QUERY_PARAMETERS}
    assert names["audience"] == {"type": "string", "enum": ["employee", "manager"]}
    assert names["site"]["minLength"] == 1


@pytest.mark.parametrize(
    ("path", "parameter"), QUERY_PARAMETERS, ids=[p["name"] for _, p in QUERY_PARAMETERS]
)
def test_an_empty_or_repeated_query_value_is_a_json_400(
    app: Flask,
    make_account: MakeAccount,
    standard: list[Response],
    path: str,
    parameter: dict[str, Any],
) -> None:
    secret = token_for(app, make_account, "viewer@example.com", Role.VIEWER)
    name, schema = parameter["name"], parameter["schema"]
    good = schema["enum"][0] if "enum" in schema else "Aarhus"
    assert api(app, path, secret, **{name: good}).status_code == 200
    bad_values: list[Any] = [""]  # the spec's enum or minLength allows no empty value
    if "enum" in schema:
        bad_values += ["robots", good.upper(), f" {good}"]
    bad_values.append([good, good])  # given twice: which one would count?
    for value in bad_values:
        response = api(app, path, secret, **{name: value})
        assert response.status_code == 400, (name, value)
        assert response.is_json and response.get_json()["error"]["status"] == 400
        assert name in response.get_json()["error"]["detail"]
