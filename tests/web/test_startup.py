"""Creating the app compiles no URL builder; the URLs are exactly those Werkzeug builds."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Map, Rule

from portal.app import create_app
from portal.storage.sqlite import SqliteStore
from portal.web.startup import LazyBuilderRule

#: Values with characters a URL must quote, and an e-mail for ``<path:email>``.
SAMPLE = {"email": "a.b+c@example.org/x", "default": "a b/ü&?#%"}


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """List the rules whose URL builders Werkzeug compiles from now on."""
    made: list[str] = []
    real = Rule._compile_builder

    def counting(rule: Rule, append_unknown: bool = True) -> Any:
        made.append(rule.rule)
        return real(rule, append_unknown)

    monkeypatch.setattr(Rule, "_compile_builder", counting)
    return made


def test_the_apps_rules_compile_no_url_builder_until_a_url_is_built(
    compiled: list[str], sqlite_store: SqliteStore
) -> None:
    app = create_app({"env": "testing", "secret_key": "test-" + "x" * 40}, store=sqlite_store)
    assert all(isinstance(rule, LazyBuilderRule) for rule in app.url_map.iter_rules())
    assert len(list(app.url_map.iter_rules())) > 50 and compiled == []
    client = app.test_client()
    assert client.get("/").status_code == 200
    built = list(compiled)
    assert "/code" in built and "/static/<path:filename>" in built and len(built) < 10
    assert client.get("/").status_code == 200
    assert compiled == built  # compiled once, then reused


def _stock_copy(app: Flask) -> Map:
    rules = [Rule(rule.rule, **rule.get_empty_kwargs()) for rule in app.url_map.iter_rules()]
    return Map(rules, strict_slashes=app.url_map.strict_slashes)


def test_every_route_builds_the_urls_werkzeugs_own_rules_build(app: Flask) -> None:
    lazy = app.url_map.bind("portal.test", script_name="/dev", url_scheme="https")
    stock = _stock_copy(app).bind("portal.test", script_name="/dev", url_scheme="https")
    endpoints = 0
    for rule in app.url_map.iter_rules():
        values = {name: SAMPLE.get(name, SAMPLE["default"]) for name in rule.arguments}
        for extra in ({}, {"lang": "da", "q": "ä b"}):
            for external in (False, True):
                args = {**values, **extra}
                got = lazy.build(rule.endpoint, args, force_external=external)
                assert got == stock.build(rule.endpoint, args, force_external=external)
                assert got.startswith(("/dev/", "https://portal.test/dev/"))
        endpoints += 1
    assert endpoints > 50


def test_url_for_in_a_page_still_links_every_route_it_names(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert 'href="/code"' in page and 'href="/static/gen/portal.' in page
