"""Web fixtures: a survey with an open wave, its links and a helper to fill in the form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from flask.testing import FlaskClient

from portal.domain.entities import Audience, Link
from portal.instruments import get_questionnaire
from portal.services.respond import make_links
from portal.services.surveys import add_wave, create_survey, open_wave
from portal.storage.port import Store

CSV = "code,name,site,headcount\nSALES,Sales,Aarhus,12\nWH,Warehouse,Hamburg,40\n"


@dataclass
class OpenWave:
    """A survey whose baseline wave is open, with one open link per department."""

    store: Store
    links: dict[str, Link]

    def token(self, department: str = "SALES") -> str:
        """Return a department's link token."""
        return self.links[department].token


@pytest.fixture
def open_wave_with_links(app) -> OpenWave:  # type: ignore[no-untyped-def]
    """Create the survey, open its baseline and make links (on the app's own store)."""
    store: Store = app.extensions["portal.store"]
    create_survey(
        store,
        slug="crm-rollout",
        title="CRM rollout",
        system_name={"en": "the new CRM", "da": "det nye CRM"},
        today=date.today(),
        departments_csv=CSV,
    )
    add_wave(store, "crm-rollout", wave_id="baseline", name="Baseline", today=date.today())
    open_wave(store, "crm-rollout", "baseline", today=date.today())
    links = {x.department_code: x for x in make_links(store, "crm-rollout", "baseline")}
    return OpenWave(store, links)


def form_key(page: str) -> str:
    """Return the signed submission key in a rendered questionnaire."""
    match = re.search(r'name="key" value="([^"]+)"', page)
    assert match, "the page has no submission key"
    return match.group(1)


def full_answers(audience: Audience = Audience.EMPLOYEE, value: str = "4") -> dict[str, str]:
    """Answer every item ``audience`` is asked."""
    return {i.id: value for i in get_questionnaire("change-readiness").items_for(audience)}


def start(client: FlaskClient, token: str, audience: str = "employee", lang: str = "en") -> str:
    """Open the questionnaire page and return its signed key."""
    page = client.get(f"/s/{token}/q?aud={audience}&lang={lang}")
    assert page.status_code == 200
    return form_key(page.get_data(as_text=True))


def csrf_token(page: str) -> str:
    """Return the CSRF token in a rendered form."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, "the page has no CSRF token"
    return match.group(1)


PASSWORD = "correct horse battery"


@pytest.fixture
def make_account(app):  # type: ignore[no-untyped-def]
    """Return a function that creates an account with ``PASSWORD`` on the app's store."""
    from portal.domain.accounts import Role
    from portal.services.accounts import create_user

    def make(email: str = "hr@example.com", role: Role = Role.ADMIN, **kwargs):  # type: ignore[no-untyped-def]
        return create_user(
            app.extensions["portal.store"],
            email=email,
            role=role,
            password=PASSWORD,
            actor="test",
            must_change_password=kwargs.pop("must_change_password", False),
            **kwargs,
        )

    return make


def sign_in(client: FlaskClient, email: str = "hr@example.com", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """Sign in through the real form; return the response."""
    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    return client.post(
        "/admin/login", data={"csrf_token": token, "email": email, "password": password}
    )


@pytest.fixture
def store(app):  # type: ignore[no-untyped-def]
    """Return the app's own store."""
    return app.extensions["portal.store"]


@pytest.fixture
def admin(client: FlaskClient, make_account):  # type: ignore[no-untyped-def]
    """Return the client signed in as the admin ``hr@example.com``."""
    from portal.domain.accounts import Role

    make_account("hr@example.com", Role.ADMIN)
    sign_in(client, "hr@example.com")
    return client


@pytest.fixture
def standard(store):  # type: ignore[no-untyped-def]
    """Create the results tests' standard organisation (see ``test_results``) with its answers."""
    from tests.web.test_results import STANDARD, make_organisation

    return make_organisation(store, STANDARD)
