"""Static bundles built with Flask-Assets.

Bundles are built ahead of time (``portal assets build``, run by ``make``) into
``static/gen/`` with a content hash in each file name and a JSON manifest. At
run time the app only reads the manifest, so it works on Lambda's read-only
file system; fingerprinted files are served with a one-year cache lifetime.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, request
from flask_assets import Bundle, Environment

from portal.config import PROJECT_ROOT, Settings
from portal.domain.errors import ConfigError

GEN_DIR = "gen"
MANIFEST = PROJECT_ROOT / "static" / GEN_DIR / "manifest.json"
NODE_MODULES = PROJECT_ROOT / "node_modules"
ONE_YEAR = 365 * 24 * 3600

BUNDLES: dict[str, Bundle] = {
    "css_portal": Bundle(
        "src/css/portal.css", filters="rcssmin", output=f"{GEN_DIR}/portal.%(version)s.css"
    ),
    "css_scorecard": Bundle(
        "src/css/scorecard.css", filters="rcssmin", output=f"{GEN_DIR}/scorecard.%(version)s.css"
    ),
    "js_respond": Bundle(
        "src/js/respond.js", filters="rjsmin", output=f"{GEN_DIR}/respond.%(version)s.js"
    ),
    "js_admin": Bundle(
        "src/js/admin.js", filters="rjsmin", output=f"{GEN_DIR}/admin.%(version)s.js"
    ),
    "js_results": Bundle(
        "src/js/results.js", filters="rjsmin", output=f"{GEN_DIR}/results.%(version)s.js"
    ),
    "js_tables": Bundle(
        "src/js/tables.js", filters="rjsmin", output=f"{GEN_DIR}/tables.%(version)s.js"
    ),
    # Chart.js ships minified; it is only copied and fingerprinted.
    "js_charts": Bundle(
        "chart.js/dist/chart.umd.min.js", output=f"{GEN_DIR}/charts.%(version)s.js"
    ),
}


def init_app(app: Flask, settings: Settings) -> Environment:
    """Attach the assets environment; refuse to start without built bundles."""
    app.config.update(
        ASSETS_DEBUG=False,
        ASSETS_AUTO_BUILD=settings.assets_auto_build,
        ASSETS_MANIFEST=f"json:{MANIFEST}",
        ASSETS_CACHE=False,
        ASSETS_VERSIONS="hash",
        ASSETS_URL_EXPIRE=False,
    )
    env = Environment(app)
    static = Path(app.static_folder or PROJECT_ROOT / "static")
    env.append_path(str(static), "/static")
    env.append_path(str(NODE_MODULES))
    for name, bundle in BUNDLES.items():
        env.register(name, Bundle(*bundle.contents, filters=bundle.filters, output=bundle.output))
    if not settings.assets_auto_build and not MANIFEST.exists():
        raise ConfigError(
            f"The static bundles are not built ({MANIFEST} is missing). Run "
            "`portal assets build` (or `make assets`) before starting the portal."
        )

    @app.after_request
    def cache_fingerprinted_files(response: Response) -> Response:
        if request.path.startswith(f"/static/{GEN_DIR}/") and response.status_code == 200:
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = ONE_YEAR
            response.cache_control.immutable = True
        return response

    return env


def build_all(app: Flask) -> list[str]:
    """Build every bundle into ``static/gen`` and write the manifest; return the file names."""
    env: Environment = app.jinja_env.assets_environment  # type: ignore[attr-defined]
    built = []
    for name in BUNDLES:
        bundle = env[name]
        bundle.build(force=True)
        built.append(Path(bundle.resolve_output()).name)
    return built
