"""Static bundles: built ahead of time with Flask-Assets, served from a manifest.

Bundles are built ahead of time (``portal assets build``, run by ``make``) into
``static/gen/`` with a content hash in each file name and a JSON manifest
(``{output pattern: hash}``). At run time the app only reads the manifest, so it
works on Lambda's read-only file system, and it never imports webassets: the
``{% assets "name" %}…{{ ASSET_URL }}…{% endassets %}`` tag of the templates is
served by ``BuiltAssets``, a small Jinja extension that fills in the
fingerprinted address from the manifest (webassets, its filters and PyYAML cost
a Lambda cold start about a third of a Flask app's own import time). With
``PORTAL_ASSETS_AUTO_BUILD`` on (a developer editing CSS) Flask-Assets itself
serves the tag and rebuilds a bundle when its sources change. Fingerprinted
files are served with a one-year cache lifetime.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from flask import Flask, Response, current_app, request, url_for
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser

from portal.config import PROJECT_ROOT, Settings
from portal.domain.errors import ConfigError

if TYPE_CHECKING:
    from flask_assets import Environment

GEN_DIR = "gen"
MANIFEST = PROJECT_ROOT / "static" / GEN_DIR / "manifest.json"
NODE_MODULES = PROJECT_ROOT / "node_modules"
ONE_YEAR = 365 * 24 * 3600


class BundleSpec(NamedTuple):
    """One bundle: its source files, webassets filters, and output pattern under ``static``."""

    contents: tuple[str, ...]
    filters: str | None
    output: str


BUNDLES: dict[str, BundleSpec] = {
    "css_portal": BundleSpec(
        ("src/css/portal.css",), "rcssmin", f"{GEN_DIR}/portal.%(version)s.css"
    ),
    "css_scorecard": BundleSpec(
        ("src/css/scorecard.css",), "rcssmin", f"{GEN_DIR}/scorecard.%(version)s.css"
    ),
    "js_respond": BundleSpec(("src/js/respond.js",), "rjsmin", f"{GEN_DIR}/respond.%(version)s.js"),
    "js_admin": BundleSpec(("src/js/admin.js",), "rjsmin", f"{GEN_DIR}/admin.%(version)s.js"),
    "js_results": BundleSpec(("src/js/results.js",), "rjsmin", f"{GEN_DIR}/results.%(version)s.js"),
    "js_tables": BundleSpec(("src/js/tables.js",), "rjsmin", f"{GEN_DIR}/tables.%(version)s.js"),
    # Chart.js ships minified; it is only copied and fingerprinted.
    "js_charts": BundleSpec(
        ("chart.js/dist/chart.umd.min.js",), None, f"{GEN_DIR}/charts.%(version)s.js"
    ),
}


def built_files(manifest: Path = MANIFEST) -> dict[str, str]:
    """Return each bundle's built file name under ``static`` from ``manifest``.

    Rule: every bundle in ``BUNDLES`` must have a version in the manifest; a
    missing manifest or bundle means the bundles were not built (or were built
    by an older checkout), and the portal must not start and serve pages whose
    stylesheet or scripts are missing.
    """
    try:
        versions = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"The static bundles are not built ({manifest} is missing). Run "
            "`portal assets build` (or `make assets`) before starting the portal."
        ) from None
    missing = [name for name, spec in BUNDLES.items() if spec.output not in versions]
    if missing:
        raise ConfigError(
            f"{manifest} lacks the bundles {', '.join(missing)}. Run `portal assets build` "
            "(or `make assets`) before starting the portal."
        )
    return {
        name: spec.output % {"version": versions[spec.output]} for name, spec in BUNDLES.items()
    }


class BuiltAssets(Extension):
    """``{% assets "name" %}…{{ ASSET_URL }}…{% endassets %}`` from the built manifest.

    The body is rendered once with ``ASSET_URL`` set to the bundle's fingerprinted
    address (``url_for("static", ...)``, so it carries the script root, e.g. an API
    Gateway stage). Only the one form the templates use is accepted: a bundle name.
    """

    tags = {"assets"}

    def parse(self, parser: Parser) -> nodes.Node:
        """Parse the tag into a call block that hands ``ASSET_URL`` to its body."""
        lineno = next(parser.stream).lineno
        name = parser.parse_expression()
        body = parser.parse_statements(("name:endassets",), drop_needle=True)
        call = self.call_method("_render", [name])
        return nodes.CallBlock(call, [nodes.Name("ASSET_URL", "param")], [], body).set_lineno(
            lineno
        )

    def _render(self, name: str, caller: Callable[[str], str]) -> str:
        files: dict[str, str] = current_app.extensions["portal.assets"]
        if name not in files:
            raise ConfigError(f"No static bundle named {name!r}; the bundles are {sorted(files)}.")
        return caller(url_for("static", filename=files[name]))


def init_app(app: Flask, settings: Settings) -> None:
    """Serve the bundles from the manifest (or live, with auto build); refuse to start unbuilt."""
    if settings.assets_auto_build:
        _live_environment(app)
    else:
        app.extensions["portal.assets"] = built_files()
        app.jinja_env.add_extension(BuiltAssets)

    @app.after_request
    def cache_fingerprinted_files(response: Response) -> Response:
        if request.path.startswith(f"/static/{GEN_DIR}/") and response.status_code == 200:
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = ONE_YEAR
            response.cache_control.immutable = True
        return response


def _live_environment(app: Flask) -> Environment:
    """Attach Flask-Assets, which builds a bundle on request when its sources changed."""
    from flask_assets import Bundle, Environment

    app.config.update(
        ASSETS_DEBUG=False,
        ASSETS_AUTO_BUILD=True,
        ASSETS_MANIFEST=f"json:{MANIFEST}",
        ASSETS_CACHE=False,
        ASSETS_VERSIONS="hash",
        ASSETS_URL_EXPIRE=False,
    )
    env = Environment(app)
    static = Path(app.static_folder or PROJECT_ROOT / "static")
    env.append_path(str(static), "/static")
    env.append_path(str(NODE_MODULES))
    for name, spec in BUNDLES.items():
        env.register(name, Bundle(*spec.contents, filters=spec.filters, output=spec.output))
    return env


def build_all(app: Flask) -> list[str]:
    """Build every bundle into ``static/gen`` and write the manifest; return the file names.

    ``app`` must have been made with ``assets_auto_build`` on (``portal assets build`` does).
    """
    env: Environment = app.jinja_env.assets_environment  # type: ignore[attr-defined]
    built = []
    for name in BUNDLES:
        bundle = env[name]
        bundle.build(force=True)
        built.append(Path(bundle.resolve_output()).name)
    return built
