"""Walk every admin page over HTTPS and post every form on it, as a browser would.

Shared by ``tests/web/test_https_forms.py`` (the Flask test client) and
``tests/prod/test_route_walk.py`` (the Lambda zip and the production server,
over real HTTPS). The walker models what a browser sends: after each page it
reads the page's ``Referrer-Policy`` and sends with that page's forms the
Referer a browser would send (none under ``no-referrer``), so a policy that
breaks the CSRF check on HTTPS fails here.

The walk signs in, opens every admin page reachable from the admin home,
collects every ``<form method="post">`` with the values the page gives it
(empty fields get what a person would type), and submits one form per
endpoint, freshly loaded from its page. Some forms appear only after others
ran (a draft wave's "open", a retired department's "restore"), so it crawls and
submits in rounds until nothing new appears; forms that remove what others act
on run last in a round, and signing out runs last of all. No form may be
refused by CSRF and no answer may be a server error; every admin POST route
must be reached by some page's form.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from typing import Protocol
from urllib.parse import urljoin, urlsplit

from flask import Flask

#: The text of the page Flask-WTF's refusal renders (portal/web/errors.py).
CSRF_REFUSED = "did not come from this site"
#: Forms submitted last, in this order: they end the session.
LAST = ("auth.logout",)
#: Forms that remove what other forms act on run after them within a round.
DESTRUCTIVE = ("delete_action", "retire_department", "revoke_user", "revoke_token")
#: Pages the crawl does not open: downloads.
SKIP_SUFFIXES = (".csv", ".xlsx", ".pdf", ".png", ".svg", ".zip")
DEPARTMENTS_CSV = b"code,name,site,headcount\nNEW-TEAM,New team,Aarhus,12\n"


@dataclass
class Answer:
    """What the walker needs of one HTTP answer."""

    status: int
    text: str
    content_type: str = ""
    location: str = ""
    referrer_policy: str = ""
    set_cookie: list[str] = field(default_factory=list)


class Transport(Protocol):
    """Sends requests with a cookie jar, never following redirects."""

    def get(self, url: str) -> Answer:
        """GET ``url``."""

    def post(
        self,
        url: str,
        fields: Sequence[tuple[str, str]],
        files: Sequence[tuple[str, str, bytes]],
        headers: dict[str, str],
    ) -> Answer:
        """POST a form (multipart when ``files`` holds (field, file name, content))."""


@dataclass
class Form:
    """One ``<form method="post">`` as a browser would submit it untouched."""

    action: str
    page: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    file_fields: list[str] = field(default_factory=list)


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


class PageParser(HTMLParser):
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
                self._form.fields.append(
                    (a["name"], a.get("value", "") or _filler(kind, a["name"]))
                )
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


def parse(url: str, answer: Answer) -> PageParser:
    """Parse a page's post forms and links."""
    parser = PageParser(url)
    parser.feed(answer.text)
    return parser


def referer(policy: str, page: str, target: str) -> str | None:
    """Return the Referer a browser sends from ``page`` to ``target`` under ``policy``."""
    policy = policy or "strict-origin-when-cross-origin"  # browsers' default
    same_origin = urlsplit(page)[:2] == urlsplit(target)[:2]
    if policy == "no-referrer" or (policy == "same-origin" and not same_origin):
        return None
    if policy in {"origin", "strict-origin"} or not same_origin:
        return "{}://{}/".format(*urlsplit(page))
    return page.split("#")[0]


def admin_post_endpoints(app: Flask) -> set[str]:
    """Return every endpoint under /admin that accepts POST."""
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or set()) and rule.rule.startswith("/admin")
    }


class Walker:
    """A browser model on ``transport``: pages remember their Referrer-Policy."""

    def __init__(
        self,
        transport: Transport,
        base: str,
        app: Flask,
        *,
        email: str,
        password: str,
    ) -> None:
        self.transport = transport
        self.base = base.rstrip("/")  # origin plus the app's mount point (e.g. /dev)
        self.origin = "{}://{}".format(*urlsplit(base))
        self.app = app
        self.email, self.password = email, password
        self.policies: dict[str, str] = {}
        self._adapter = app.url_map.bind("walk.invalid", url_scheme="https")
        self.opened = 0

    def get(self, url: str) -> Answer:
        """Open a page and remember its Referrer-Policy."""
        answer = self.transport.get(url)
        self.policies[url] = answer.referrer_policy
        self.opened += 1
        return answer

    def submit(self, form: Form) -> Answer:
        """Post ``form`` with its values, as a browser would from the page that holds it."""
        headers = {"Origin": self.origin}
        sent = referer(self.policies.get(form.page, ""), form.page, form.action)
        if sent:
            headers["Referer"] = sent
        files = [(name, "departments.csv", DEPARTMENTS_CSV) for name in form.file_fields]
        return self.transport.post(form.action, form.fields, files, headers)

    def endpoint(self, url: str) -> str | None:
        """Return the endpoint ``url`` (an address on this portal) posts to, if any."""
        path = url[len(self.base) :] if url.startswith(self.base + "/") else None
        if path is None:
            return None
        endpoint, _ = self._adapter.match(urlsplit(path).path, method="POST")
        return str(endpoint)

    def sign_in(self) -> Answer:
        """Sign in through the real form."""
        url = f"{self.base}/admin/login"
        (form,) = [f for f in parse(url, self.get(url)).forms if f.action.endswith("/admin/login")]
        form.fields = [(n, v) for n, v in form.fields if n not in {"email", "password"}]
        form.fields += [("email", self.email), ("password", self.password)]
        answer = self.submit(form)
        assert answer.status == 302, f"sign-in answered {answer.status}: {answer.text[:300]}"
        return answer

    def crawl(self, limit: int = 400) -> dict[str, list[Form]]:
        """Open every admin page reachable from the home page; return post forms by endpoint."""
        seen: set[str] = set()
        queue = deque([f"{self.base}/admin/"])
        forms: dict[str, list[Form]] = {}
        while queue and len(seen) < limit:
            url = queue.popleft()
            if url in seen:
                continue
            seen.add(url)
            answer = self.get(url)
            assert answer.status < 500, f"GET {url} answered {answer.status}"
            if answer.status != 200 or "text/html" not in answer.content_type:
                continue
            page = parse(url, answer)
            for form in page.forms:
                endpoint = self.endpoint(form.action)
                if endpoint:
                    forms.setdefault(endpoint, []).append(form)
            for link in page.links:
                link = link.split("#")[0]
                path = urlsplit(link).path
                if (
                    link.startswith(self.base + "/admin/")
                    and not path.endswith(SKIP_SUFFIXES)
                    and link not in seen
                ):
                    queue.append(link)
        return forms

    def submit_checked(self, endpoint: str, form: Form) -> int:
        """Submit ``form``, freshly loaded from its page as a person would; check the answer.

        Fails on a CSRF refusal or a server error; signs in again when an
        earlier form ended the session.
        """
        page = self.get(form.page)
        if page.status == 302 and "/admin/login" in page.location:
            self.sign_in()
            page = self.get(form.page)
        fresh = [f for f in parse(form.page, page).forms if f.action == form.action]
        answer = self.submit(fresh[0] if fresh else form)
        assert CSRF_REFUSED not in answer.text, (
            f"{endpoint}: CSRF refused a browser's post from {form.page}"
        )
        assert answer.status < 500, f"{endpoint}: {answer.status} {answer.text[:300]}"
        if answer.status == 302 and "/admin/login" in answer.location:
            assert endpoint in LAST, f"{endpoint} signed us out"
            self.sign_in()
        return answer.status

    def walk(self, rounds: int = 4) -> dict[str, int]:
        """Post every admin form once (in rounds, signing out last); return each status."""
        self.sign_in()
        outcomes: dict[str, int] = {}
        for _round in range(rounds):
            forms = {e: f for e, f in self.crawl().items() if e not in outcomes and e not in LAST}
            if not forms:
                break
            for endpoint in sorted(forms, key=lambda e: (e.endswith(DESTRUCTIVE), e)):
                # Act on other accounts than our own where the page offers a choice.
                choice = sorted(forms[endpoint], key=lambda f: self.email in f.action)[0]
                outcomes[endpoint] = self.submit_checked(endpoint, choice)
        last = self.crawl()
        for endpoint in LAST:
            outcomes[endpoint] = self.submit_checked(endpoint, last[endpoint][0])
        return outcomes


def check_walk(walker: Walker) -> dict[str, int]:
    """Walk, then check every admin POST route was reached and most forms did their job."""
    outcomes = walker.walk()
    missing = admin_post_endpoints(walker.app) - set(outcomes) - {"auth.login"}
    assert not missing, f"no page offers a form for {sorted(missing)}"
    worked = [e for e, status in outcomes.items() if status in {200, 302, 303}]
    assert len(worked) >= len(outcomes) * 0.7, outcomes
    return outcomes
