"""Every admin form works over HTTPS as a browser sends it; CSRF still refuses forgeries.

API Gateway serves only HTTPS. There, Flask-WTF's CSRF check also wants a
``Referer`` of the same origin (``WTF_CSRF_SSL_STRICT``), and a browser sends
one only if the page's ``Referrer-Policy`` allows it. With ``no-referrer`` on
every page, nobody could sign in in production while every HTTP test passed.

So these tests model the browser: after each page they read its
``Referrer-Policy`` and send the Referer a browser would send with that page's
forms (``BrowserModel.referer``). The route walk then crawls the demo
organisation's admin pages over HTTPS, fills in every POST form it finds with
the values the page gives it, and submits it; no form may be refused by CSRF
and none may fail with a 500. Every state-changing admin route must be reached
by some page's form, so a route added later without a reachable, working form
fails here. (The real browser journeys over the Lambda zip and the production
server are in ``tests/prod/``.)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from portal.app import create_app
from portal.domain.accounts import Role
from portal.services.accounts import create_user
from portal.services.demo import load_demo
from portal.storage.sqlite import SqliteStore
from portal.web.security import referrer_policy

ORIGIN = "https://portal.example.org"
EMAIL, PASSWORD = "hr@example.org", "correct horse battery staple"
CSRF_REFUSED = "did not come from this site"
#: Admin POST routes no page offers a form for, with the reason.
NO_FORM_ON_ANY_PAGE: dict[str, str] = {}
#: Forms submitted last, in this order: they end the session.
LAST = ("auth.logout",)
#: Forms that remove what other forms act on run after them within a round.
DESTRUCTIVE = ("delete_action", "retire_department", "revoke_user", "revoke_token")
#: Pages the crawl does not open: downloads and sign-out links.
SKIP_SUFFIXES = (".csv", ".xlsx", ".pdf", ".png", ".svg", ".zip")


@dataclass
class Form:
    """One ``<form method="post">`` as a browser would submit it untouched."""

    action: str
    page: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    file_fields: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    """Collect post forms (with their default values) and links from a page."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._select_value: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and "href" in a:
            self.links.append(urljoin(self.page, a["href"]))
        elif tag == "form" and a.get("method", "get").lower() == "post":
            self._form = Form(urljoin(self.page, a.get("action") or self.page), self.page)
        elif self._form is None or "name" not in a and tag != "option":
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "file":
                self._form.file_fields.append(a["name"])
            elif kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self._form.fields.append((a["name"], a.get("value", "on")))
            elif kind not in {"submit", "button", "reset", "image"}:
                value = a.get("value", "") or _filler(kind, a["name"])
                self._form.fields.append((a["name"], value))
        elif tag == "select":
            self._select, self._select_value = a["name"], None
        elif tag == "option" and self._select is not None:
            if self._select_value is None or "selected" in a:
                self._select_value = a.get("value", "")
        elif tag == "textarea":
            self._textarea, self._text = a["name"], ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if self._form is None:
            return
        if tag == "select" and self._select is not None:
            self._form.fields.append((self._select, self._select_value or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._form.fields.append((self._textarea, self._text or "Walked over HTTPS."))
            self._textarea = None
        elif tag == "form":
            self.forms.append(self._form)
            self._form = None


def _filler(kind: str, name: str) -> str:
    """Return what a person would type into an empty field of this kind."""
    if kind == "date":
        return date.fromordinal(date.today().toordinal() + 30).isoformat()
    if kind == "email" or name == "email":
        return f"walk.{name}@example.org"
    if kind == "number":
        return "12"
    if kind == "password":
        return "Another long passphrase 42"
    if kind == "hidden":
        return ""
    return f"walk{sum(map(ord, name)) % 1000}"


class BrowserModel:
    """A test client that sends Referer headers the way Chromium does over HTTPS."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.policies: dict[str, str] = {}

    def get(self, url: str) -> TestResponse:
        """Open a page and remember its Referrer-Policy."""
        response = self.client.get(url, base_url=ORIGIN)
        self.policies[url] = response.headers.get("Referrer-Policy", "")
        return response

    def referer(self, page: str, target: str) -> str | None:
        """Return the Referer a browser sends from ``page`` to ``target`` under its policy."""
        policy = self.policies.get(page, "strict-origin-when-cross-origin")
        same_origin = urlsplit(page)[:2] == urlsplit(target)[:2]
        if policy == "no-referrer" or (policy == "same-origin" and not same_origin):
            return None
        if policy in {"origin", "strict-origin"} or not same_origin:
            return "{}://{}/".format(*urlsplit(page))
        return page.split("#")[0]

    def submit(self, form: Form, *, follow: bool = False) -> TestResponse:
        """Post ``form`` with its values, as a browser would from the page that holds it."""
        headers = {"Origin": ORIGIN}
        referer = self.referer(form.page, form.action)
        if referer:
            headers["Referer"] = referer
        data: dict[str, object] = {}
        for name, value in form.fields:
            data.setdefault(name, [])
            data[name].append(value)  # type: ignore[attr-defined]
        for name in form.file_fields:
            data[name] = (_departments_csv(), "departments.csv")
        return self.client.post(
            form.action, data=data, headers=headers, base_url=ORIGIN, follow_redirects=follow
        )


def _departments_csv() -> object:
    import io

    return io.BytesIO(b"code,name,site,headcount\nNEW-TEAM,New team,Aarhus,12\n")


def forms_and_links(url: str, response: TestResponse) -> _FormParser:
    """Parse a page's post forms and links."""
    parser = _FormParser(url)
    parser.feed(response.get_data(as_text=True))
    return parser


def sign_in(browser: BrowserModel) -> TestResponse:
    """Sign in through the real form, as a browser would."""
    url = f"{ORIGIN}/admin/login"
    page = forms_and_links(url, browser.get(url))
    (form,) = [f for f in page.forms if f.action.endswith("/admin/login")]
    form.fields = [(n, v) for n, v in form.fields if n not in {"email", "password"}]
    form.fields += [("email", EMAIL), ("password", PASSWORD)]
    return browser.submit(form)


@pytest.fixture
def https_app(tmp_path) -> Flask:  # type: ignore[no-untyped-def]
    """Return the portal as production runs it (HTTPS-only cookies, strict CSRF) on the demo."""
    store = SqliteStore(tmp_path / "portal.sqlite3")
    store.create_schema()
    load_demo(store, today=date.today())
    create_user(
        store,
        email=EMAIL,
        role=Role.ADMIN,
        password=PASSWORD,
        actor="test",
        must_change_password=False,
    )
    create_user(store, email="viewer@example.org", role=Role.VIEWER, password=PASSWORD, actor="t")
    app = create_app(
        {"env": "production", "secret_key": "Https-Test-Key-9f3a7c21e84d6b05-walk-4d1e"},
        store=store,
    )
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["WTF_CSRF_SSL_STRICT"]
    return app


@pytest.fixture
def browser(https_app: Flask) -> BrowserModel:
    """Return a browser model on the production-mode app."""
    return BrowserModel(https_app.test_client())


# -- the bug and the policy ------------------------------------------------------------


def test_admin_signs_in_over_https_with_the_referer_the_page_allows(browser) -> None:  # type: ignore[no-untyped-def]
    response = sign_in(browser)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert response.headers["Location"].endswith("/admin/")
    home = browser.get(f"{ORIGIN}/admin/")
    assert home.status_code == 200 and EMAIL in home.get_data(as_text=True)


def test_session_cookie_is_secure_and_http_only_in_production(browser) -> None:  # type: ignore[no-untyped-def]
    cookie = sign_in(browser).headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_post_without_referer_over_https_is_still_refused(browser) -> None:  # type: ignore[no-untyped-def]
    url = f"{ORIGIN}/admin/login"
    page = forms_and_links(url, browser.get(url))
    browser.policies[url] = "no-referrer"  # what every page said before the fix
    response = browser.submit(page.forms[0])
    assert response.status_code == 400 and CSRF_REFUSED in response.get_data(as_text=True)


def test_a_post_from_another_site_is_refused(browser) -> None:  # type: ignore[no-untyped-def]
    url = f"{ORIGIN}/admin/login"
    page = forms_and_links(url, browser.get(url))
    form = page.forms[0]
    form.page = "https://evil.example.net/admin/login"
    browser.policies[form.page] = "unsafe-url"
    form.fields += [("email", EMAIL), ("password", PASSWORD)]
    response = browser.submit(form)
    assert response.status_code == 400 and CSRF_REFUSED in response.get_data(as_text=True)


def test_respondent_pages_send_no_referrer_and_admin_pages_only_to_this_site(
    browser, https_app
) -> None:  # type: ignore[no-untyped-def]
    store = https_app.extensions["portal.store"]
    link = store.list_links("demo-crm", "follow-up-1")[0]
    for path in (f"/s/{link.token}", f"/s/{link.token}/q?aud=employee", "/code", "/"):
        assert browser.get(ORIGIN + path).headers["Referrer-Policy"] == "no-referrer", path
    for path in ("/admin/login", "/admin/"):
        assert browser.get(ORIGIN + path).headers["Referrer-Policy"] == "same-origin", path


@pytest.mark.parametrize(
    ("path", "policy"),
    [
        ("/admin", "same-origin"),
        ("/admin/", "same-origin"),
        ("/admin/surveys/x", "same-origin"),
        ("/administrator", "no-referrer"),
        ("/s/token/q", "no-referrer"),
        ("/code", "no-referrer"),
        ("/api/v1/surveys", "no-referrer"),
    ],
)
def test_referrer_policy_by_area(path: str, policy: str) -> None:
    assert referrer_policy(path) == policy


# -- the route walk ----------------------------------------------------------------------


def crawl(browser: BrowserModel, limit: int = 400) -> dict[str, list[Form]]:
    """Open every admin page reachable from the home page; return post forms by endpoint."""
    adapter = browser.client.application.url_map.bind("portal.example.org", url_scheme="https")
    seen: set[str] = set()
    queue = deque([f"{ORIGIN}/admin/"])
    forms: dict[str, list[Form]] = {}
    while queue and len(seen) < limit:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        response = browser.get(url)
        assert response.status_code < 500, f"GET {url} answered {response.status_code}"
        if response.status_code != 200 or "text/html" not in response.content_type:
            continue
        page = forms_and_links(url, response)
        for form in page.forms:
            endpoint, _ = adapter.match(urlsplit(form.action).path, method="POST")
            forms.setdefault(endpoint, []).append(form)
        for link in page.links:
            link = link.split("#")[0]
            parts = urlsplit(link)
            if (
                f"{parts.scheme}://{parts.netloc}" == ORIGIN
                and parts.path.startswith("/admin/")
                and not parts.path.endswith(SKIP_SUFFIXES)
                and link not in seen
            ):
                queue.append(link)
    return forms


def admin_post_endpoints(app: Flask) -> set[str]:
    """Return every endpoint under /admin that accepts POST."""
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or set()) and rule.rule.startswith("/admin")
    }


@pytest.mark.slow
def test_every_admin_form_is_accepted_over_https_by_the_csrf_check(browser, https_app) -> None:  # type: ignore[no-untyped-def]
    assert sign_in(browser).status_code == 302
    outcomes: dict[str, int] = {}
    # Some forms appear only after others ran (a draft wave's "open", a retired
    # department's "restore"), so crawl and submit in rounds until nothing is new.
    for _round in range(4):
        forms = {e: f for e, f in crawl(browser).items() if e not in outcomes and e not in LAST}
        if not forms:
            break
        for endpoint in sorted(forms, key=lambda e: (e.endswith(DESTRUCTIVE), e)):
            # Act on other accounts than our own where the page offers a choice.
            mine = sorted(forms[endpoint], key=lambda f: EMAIL in f.action)
            outcomes[endpoint] = submit_checked(browser, endpoint, mine[0])
    last = crawl(browser)
    for endpoint in LAST:
        outcomes[endpoint] = submit_checked(browser, endpoint, last[endpoint][0])
    missing = admin_post_endpoints(https_app) - set(outcomes) - set(NO_FORM_ON_ANY_PAGE)
    assert not missing - {"auth.login"}, f"no page offers a form for {sorted(missing)}"
    # Most forms do what they say with the values the page gave them.
    worked = [e for e, status in outcomes.items() if status in {200, 302, 303}]
    assert len(worked) >= len(outcomes) * 0.7, outcomes


def submit_checked(browser: BrowserModel, endpoint: str, form: Form) -> int:
    """Submit ``form``, freshly loaded from its page as a person would; check the answer.

    Fails on a CSRF refusal or a 500; signs in again if the form signed us out.
    """
    page = browser.get(form.page)
    if page.status_code == 302 and "/admin/login" in page.headers["Location"]:
        assert sign_in(browser).status_code == 302  # an earlier form ended the session
        page = browser.get(form.page)
    fresh = [f for f in forms_and_links(form.page, page).forms if f.action == form.action]
    response = browser.submit(fresh[0] if fresh else form)
    body = response.get_data(as_text=True)
    assert CSRF_REFUSED not in body, f"{endpoint}: CSRF refused a browser's post from {form.page}"
    assert response.status_code < 500, f"{endpoint}: {response.status_code}"
    if response.status_code == 302 and "/admin/login" in response.headers["Location"]:
        assert endpoint in LAST, f"{endpoint} signed us out"
        assert sign_in(browser).status_code == 302
    return response.status_code
