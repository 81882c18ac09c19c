"""The Flask application factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.config import PROJECT_ROOT, Settings
from portal.storage import Store, open_store
from portal.storage.cache import CachedStore
from portal.web.sessions import secret_key_setting
from portal.web.startup import PortalFlask

csrf = CSRFProtect()


def create_app(overrides: Mapping[str, Any] | None = None, *, store: Store | None = None) -> Flask:
    """Create the portal: defaults, then ``PORTAL_*`` environment, then ``overrides``.

    ``store`` lets tests inject a ready store; otherwise the configured backend
    is opened (lazily: no connection is made here).
    """
    settings = Settings.from_env(os.environ).with_overrides(overrides)
    app = PortalFlask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(
        # From SSM, read when a request first needs it (``portal.web.sessions``).
        SECRET_KEY=secret_key_setting(settings),
        MAX_CONTENT_LENGTH=settings.max_content_length,
        SESSION_COOKIE_NAME="portal_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        TESTING=settings.env == "testing",
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        # Lambda's file system is read-only and slow to stat: never guess MIME from disk twice.
        SEND_FILE_MAX_AGE_DEFAULT=None,
    )
    app.extensions["portal.settings"] = settings
    app.extensions["portal.store"] = store or open_store(settings)
    app.extensions["portal.reads"] = CachedStore(app.extensions["portal.store"])

    csrf.init_app(app)

    from portal.web import assets, compiled_templates, compression, errors, i18n, security
    from portal.web import logging as request_logs
    from portal.web.admin import compare as admin_compare
    from portal.web.admin import distribution as admin_distribution
    from portal.web.admin import plan as admin_plan
    from portal.web.admin import results as admin_results
    from portal.web.admin import results_xlsx as admin_results_xlsx
    from portal.web.admin import scorecard as admin_scorecard
    from portal.web.admin import surveys as admin_surveys
    from portal.web.admin import tokens as admin_tokens
    from portal.web.admin import users as admin_users
    from portal.web.admin import views as admin
    from portal.web.api import views as api
    from portal.web.auth import guard
    from portal.web.auth import views as auth
    from portal.web.main import views as main
    from portal.web.posters import views as posters
    from portal.web.respond import views as respond

    assets.init_app(app, settings)
    i18n.init_app(app)
    security.init_app(app, settings)
    compression.init_app(app)
    guard.init_app(app)
    request_logs.init_app(app)
    compiled_templates.init_app(app)  # in the Lambda zip only
    app.register_blueprint(errors.bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(respond.bp)
    app.register_blueprint(posters.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(admin_surveys.bp)
    app.register_blueprint(admin_distribution.bp)
    app.register_blueprint(admin_results.bp)
    app.register_blueprint(admin_users.bp)
    app.register_blueprint(admin_results_xlsx.bp)
    app.register_blueprint(admin_compare.bp)
    app.register_blueprint(admin_scorecard.bp)
    app.register_blueprint(admin_plan.bp)
    app.register_blueprint(admin_tokens.bp)
    app.register_blueprint(api.bp)
    # Respondents have no session to protect; their forms carry a signed,
    # single-use submission key that serves as the CSRF token instead.
    csrf.exempt(respond.bp)
    # The API reads a bearer token and never a cookie, so a forged request has nothing to ride on.
    csrf.exempt(api.bp)
    if settings.trusted_proxies:
        # Only a configured number of proxies may name the client, the scheme and the host:
        # anyone can send X-Forwarded-* headers, so they are ignored unless a proxy is declared.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    return app
