"""Static bundles come from the built manifest; webassets is only loaded to rebuild them live."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask, render_template_string

from portal.app import create_app
from portal.domain.errors import ConfigError
from portal.storage.sqlite import SqliteStore
from portal.web.assets import BUNDLES, MANIFEST, built_files

TAG = '{% assets "NAME" %}<x href="{{ ASSET_URL }}">{% endassets %}'


def _render_tag(app: Flask, name: str, script_root: str = "") -> str:
    with app.test_request_context("/", base_url=f"http://portal.test{script_root}"):
        return render_template_string(TAG.replace("NAME", name))


def test_every_bundle_tag_renders_the_manifests_fingerprinted_file(app: Flask) -> None:
    versions = json.loads(MANIFEST.read_text(encoding="utf-8"))
    for name, spec in BUNDLES.items():
        file = spec.output % {"version": versions[spec.output]}
        assert (MANIFEST.parent.parent / file).is_file()
        assert _render_tag(app, name) == f'<x href="/static/{file}">'


def test_bundle_addresses_carry_the_script_root(app: Flask) -> None:
    # Behind API Gateway the portal lives under its stage, e.g. /dev.
    assert _render_tag(app, "css_portal", "/dev").startswith('<x href="/dev/static/gen/portal.')


def test_live_rebuilding_serves_the_same_addresses(sqlite_store: SqliteStore) -> None:
    live = create_app(
        {"env": "testing", "secret_key": "test-" + "x" * 40, "assets_auto_build": True},
        store=sqlite_store,
    )
    assert hasattr(live.jinja_env, "assets_environment")  # Flask-Assets serves the tag
    # Chart.js comes from node_modules and is never edited here, so a live build keeps its hash.
    assert _render_tag(live, "js_charts") == f'<x href="/static/{built_files()["js_charts"]}">'


def test_pages_are_served_without_loading_webassets_or_its_filters() -> None:
    script = (
        "import sys\n"
        "from portal.app import create_app\n"
        "app = create_app({'env': 'testing'})\n"
        "assert app.test_client().get('/').status_code == 200\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('webassets', 'flask_assets', 'rjsmin', 'rcssmin')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_a_missing_manifest_refuses_to_start_and_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="portal assets build"):
        built_files(tmp_path / "manifest.json")


def test_a_manifest_without_every_bundle_refuses_to_start(tmp_path: Path) -> None:
    versions = json.loads(MANIFEST.read_text(encoding="utf-8"))
    del versions[BUNDLES["js_results"].output]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(versions), encoding="utf-8")
    with pytest.raises(ConfigError, match="js_results.*portal assets build"):
        built_files(manifest)
