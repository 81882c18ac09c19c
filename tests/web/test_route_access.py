"""Every route is either knowingly public or behind the sign-in guard with the right roles.

Routes under ``/api/`` are the JSON API: they authenticate with a bearer token
(``api_require``), never with the session cookie, and answer a visitor without a
valid token 401 JSON instead of sending them to sign in.

The routes are discovered from ``app.url_map`` when the tests are collected, so a
route added later is checked without anyone touching this file. Arguments in a
route are filled with dummy values (``dummy``, ``1``, a UUID...): a signed-in
account may well get 404 for them, which is fine; what matters is who gets in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from flask import Flask, session
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.routing.converters import (
    AnyConverter,
    BaseConverter,
    FloatConverter,
    IntegerConverter,
    UUIDConverter,
)

from portal.app import create_app
from portal.domain.accounts import Role
from portal.services.api_tokens import create_token
from portal.storage.port import Store
from portal.storage.sqlite import SqliteStore
from portal.web.auth.guard import start_session
from tests.builders import make_user

#: Endpoints anyone may open without signing in. Everything else must be guarded.
PUBLIC_ENDPOINTS = frozenset({"static", "main.home", "main.health", "auth.login", "api.openapi"})
#: Blueprints whose every endpoint is public: respondents never sign in.
PUBLIC_BLUEPRINTS = frozenset({"respond", "posters"})
#: Public endpoints that may live under /admin (the sign-in page itself).
PUBLIC_UNDER_ADMIN = frozenset({"auth.login"})
SIGN_IN = "/admin/login"
#: Routes under this prefix are the token-authenticated JSON API.
API_PREFIX = "/api/"
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})
#: What every route argument is filled with (numbers and UUIDs aside).
DUMMY = "dummy"
#: Accounts to sign in as, one per role. The department viewer's one department is the
#: dummy survey's dummy department, so that a view checking which surveys or departments
#: the account may read lets it through to the (missing) record: a 403 then means the
#: role itself is refused, not the record.
ACCOUNTS = {
    Role.ADMIN: make_user(email="admin@example.com", role=Role.ADMIN),
    Role.VIEWER: make_user(email="viewer@example.com", role=Role.VIEWER),
    Role.DEPARTMENT_VIEWER: make_user(
        email="dept@example.com", role=Role.DEPARTMENT_VIEWER, departments=(f"{DUMMY}/{DUMMY}",)
    ),
}


def is_public(endpoint: str) -> bool:
    """Tell whether ``endpoint`` is on the allow-list of public endpoints."""
    blueprint, dot, _ = endpoint.partition(".")
    return endpoint in PUBLIC_ENDPOINTS or bool(dot and blueprint in PUBLIC_BLUEPRINTS)


def dummy_value(converter: BaseConverter) -> object:
    """Return a value the converter accepts, standing for a record that does not exist."""
    if isinstance(converter, IntegerConverter | FloatConverter):
        return 1
    if isinstance(converter, UUIDConverter):
        return uuid.UUID(int=1)
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return DUMMY


@dataclass(frozen=True)
class Route:
    """One rule and one of the methods it allows, with a URL that reaches it."""

    endpoint: str
    rule: str
    method: str
    url: str

    @property
    def api(self) -> bool:
        """Tell whether the route belongs to the token-authenticated JSON API."""
        return self.url.startswith(API_PREFIX)

    @property
    def public(self) -> bool:
        """Tell whether the route is on the public allow-list."""
        return is_public(self.endpoint)

    def __str__(self) -> str:
        return f"{self.method} {self.rule} ({self.endpoint})"


def build_url(app: Flask, rule: Rule, method: str) -> str:
    """Build a URL for ``rule`` with dummy arguments and check that it routes back to it."""
    converters: dict[str, BaseConverter] = rule._converters  # no public accessor
    values = {name: dummy_value(converters[name]) for name in rule.arguments}
    built = rule.build(values)
    assert built is not None, f"cannot build a URL for {rule.rule} from {values}"
    url = built[1]
    endpoint, _ = app.url_map.bind("localhost").match(url, method=method)
    assert endpoint == rule.endpoint, f"{url} reaches {endpoint}, not {rule.endpoint}"
    return url


def discover_routes() -> list[Route]:
    """Return every rule of a freshly built portal, once per method it allows."""
    app = create_app({"env": "testing", "secret_key": "t" * 40}, store=SqliteStore(":memory:"))
    routes = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            url = build_url(app, rule, method)
            routes.append(Route(rule.endpoint, rule.rule, method, url))
    return sorted(routes, key=lambda r: (r.rule, r.method, r.endpoint))


ROUTES = discover_routes()
GUARDED = [r for r in ROUTES if not r.public]
PUBLIC = [r for r in ROUTES if r.public]


@pytest.fixture
def guarded_app(app: Flask) -> Flask:
    """Return the portal with CSRF checks off, so that the sign-in guard alone answers."""
    app.config["WTF_CSRF_ENABLED"] = False
    store: Store = app.extensions["portal.store"]
    tokens = {}
    for role, user in ACCOUNTS.items():
        store.add_user(user)
        tokens[role] = create_token(store, user, name="route access")[1]
    app.extensions["test.api_tokens"] = tokens
    return app


def with_token(app: Flask, role: Role) -> FlaskClient:
    """Return a client that sends the role's account's API token with every request."""
    client = app.test_client()
    token = app.extensions["test.api_tokens"][role]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def signed_in(app: Flask, role: Role) -> FlaskClient:
    """Return a client whose session is the one ``start_session`` gives the role's account."""
    client = app.test_client()
    with app.test_request_context("/admin/"):
        start_session(ACCOUNTS[role])
        data = dict(session)
    with client.session_transaction() as cookie:
        cookie.update(data)
        cookie.permanent = True
    return client


def roles_allowed(app: Flask, endpoint: str) -> tuple[Role, ...] | None:
    """Return the roles the view requires (every role if it names none), or None if unguarded."""
    roles: tuple[Role, ...] | None = getattr(app.view_functions[endpoint], "required_roles", None)
    if roles is None:
        return None
    return roles or tuple(Role)


def by_role() -> Iterator[object]:
    for route in GUARDED:
        for role in Role:
            yield pytest.param(route, role, id=f"{route} as {role.value}")


# -- the lists themselves ---------------------------------------------------------------


def test_routes_are_discovered_from_the_url_map() -> None:
    endpoints = {r.endpoint for r in ROUTES}
    assert {"main.home", "auth.login", "admin.home", "admin_users.users"} <= endpoints
    assert {"admin_users.users", "admin_users.audit"} <= {r.endpoint for r in GUARDED}


def test_every_named_public_endpoint_exists() -> None:
    endpoints = {r.endpoint for r in ROUTES}
    assert PUBLIC_ENDPOINTS <= endpoints, sorted(PUBLIC_ENDPOINTS - endpoints)
    blueprints = {e.split(".")[0] for e in endpoints if "." in e}
    assert PUBLIC_BLUEPRINTS <= blueprints, sorted(PUBLIC_BLUEPRINTS - blueprints)


def test_nothing_under_admin_is_public_except_signing_in() -> None:
    offenders = sorted(
        str(r)
        for r in PUBLIC
        if r.url.startswith("/admin") and r.endpoint not in PUBLIC_UNDER_ADMIN
    )
    assert not offenders, "Public routes under /admin:\n" + "\n".join(offenders)


#: Pages that change what every reader's scorecard says: admins only, whatever the route.
ADMIN_ONLY_ENDPOINTS = frozenset(
    {
        "admin_plan.units",
        "admin_plan.plan",
        "admin_plan.adopt",
        "admin_plan.add_action",
        "admin_plan.update_action",
        "admin_plan.delete_action",
        "admin_plan.settings",
        "admin_plan.save_settings",
    }
)


def test_plans_and_scorecard_targets_are_for_admins_only() -> None:
    app = create_app({"env": "testing", "secret_key": "t" * 40}, store=SqliteStore(":memory:"))
    found = {r.endpoint for r in GUARDED if r.endpoint.startswith("admin_plan.")}
    assert found == ADMIN_ONLY_ENDPOINTS, sorted(found ^ ADMIN_ONLY_ENDPOINTS)
    wider = sorted(e for e in found if roles_allowed(app, e) != (Role.ADMIN,))
    assert not wider, "These plan endpoints let more than admins in:\n" + "\n".join(wider)


def test_every_non_public_view_is_wrapped_by_require() -> None:
    app = create_app({"env": "testing", "secret_key": "t" * 40}, store=SqliteStore(":memory:"))
    offenders = sorted({r.endpoint for r in GUARDED if roles_allowed(app, r.endpoint) is None})
    assert not offenders, (
        "These endpoints are neither on the public allow-list nor wrapped by "
        "@require(...) (put @require below @bp.route):\n" + "\n".join(offenders)
    )


def test_api_views_and_only_they_authenticate_with_a_bearer_token() -> None:
    app = create_app({"env": "testing", "secret_key": "t" * 40}, store=SqliteStore(":memory:"))
    wrong = sorted(
        str(r)
        for r in GUARDED
        if bool(getattr(app.view_functions[r.endpoint], "bearer_token", False)) != r.api
    )
    assert not wrong, "Views under /api/ must use @api_require(...), and only they:\n" + "\n".join(
        wrong
    )


# -- who gets in ------------------------------------------------------------------------


@pytest.mark.parametrize("route", PUBLIC, ids=str)
def test_public_routes_answer_anonymous_visitors(guarded_app: Flask, route: Route) -> None:
    response = guarded_app.test_client().open(route.url, method=route.method)
    assert response.status_code < 500, f"{route} failed with {response.status_code}"
    if route.endpoint not in PUBLIC_UNDER_ADMIN:
        location = urlsplit(response.headers.get("Location", "")).path
        assert location != SIGN_IN, f"{route} sends anonymous visitors to sign in"


@pytest.mark.parametrize("route", [r for r in GUARDED if not r.api], ids=str)
def test_anonymous_visitors_are_sent_to_sign_in(guarded_app: Flask, route: Route) -> None:
    response = guarded_app.test_client().open(route.url, method=route.method)
    assert response.status_code in (302, 303), f"{route} answered {response.status_code}"
    assert urlsplit(response.headers["Location"]).path == SIGN_IN


@pytest.mark.parametrize("route", [r for r in GUARDED if r.api], ids=str)
@pytest.mark.parametrize("how", ["no token", "bad token", "session cookie"])
def test_api_requests_without_a_valid_token_get_401_json(
    guarded_app: Flask, route: Route, how: str
) -> None:
    client = (
        signed_in(guarded_app, Role.ADMIN) if how == "session cookie" else guarded_app.test_client()
    )
    if how == "bad token":
        client.environ_base["HTTP_AUTHORIZATION"] = "Bearer not-a-token"
    response = client.open(route.url, method=route.method)
    assert response.status_code == 401, f"{route} answered {response.status_code}"
    assert response.is_json and response.get_json()["error"]["status"] == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Cache-Control"] == "no-store"
    assert "Location" not in response.headers


@pytest.mark.parametrize(("route", "role"), list(by_role()))
def test_signed_in_accounts_get_in_only_with_a_required_role(
    guarded_app: Flask, route: Route, role: Role
) -> None:
    allowed = roles_allowed(guarded_app, route.endpoint)
    assert allowed is not None, f"{route} is not wrapped by @require"
    client = with_token(guarded_app, role) if route.api else signed_in(guarded_app, role)
    response = client.open(route.url, method=route.method)
    status = response.status_code
    if role not in allowed:
        assert status == 403, f"{route} let a {role.value} in (answered {status}), not 403"
        return
    assert status not in (401, 403), f"{route} refused a {role.value} with {status}"
    assert status < 500, f"{route} failed for a {role.value} with {status}"
    location = response.headers.get("Location", "")
    assert not location.startswith(SIGN_IN + "?next="), (
        f"{route} sent a signed-in {role.value} to sign in: the guard did not see the session "
        "(only paths under /admin load the signed-in account)"
    )
