"""Measure what one respondent costs: bytes in a browser, server time, throughput and reads.

Run ``.venv/bin/python bench/respondent.py`` (``--quick`` for a short run). Four parts:

1. the first visit to a questionnaire in Debian's headless Chromium (fresh context, empty
   cache), with JavaScript on and off: requests and bytes on the wire, read from the
   DevTools protocol (``Network.loadingFinished.encodedDataLength``), against the budget;
2. server time of the questionnaire GET and of a complete POST, per backend (SQLite file;
   DynamoDB through a moto server on 127.0.0.1), with Flask's test client in-process;
3. stored responses per second for sequential GET+POST pairs, checked against the store;
4. database reads to render the questionnaire, cold and warm, through a counting proxy.

Nothing leaves 127.0.0.1: boto3 gets fake credentials and the moto server's endpoint.
This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Never reach real AWS: fake credentials, and the only endpoint is moto on 127.0.0.1.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }
)

import boto3  # noqa: E402
from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from playwright.sync_api import Browser, sync_playwright  # noqa: E402
from werkzeug.test import TestResponse  # noqa: E402

from portal.app import create_app  # noqa: E402
from portal.domain.entities import Audience  # noqa: E402
from portal.instruments import get_questionnaire  # noqa: E402
from portal.services.respond import make_links  # noqa: E402
from portal.services.surveys import add_wave, create_survey, open_wave  # noqa: E402
from portal.storage.dynamodb import DynamoStore  # noqa: E402
from portal.storage.port import Store  # noqa: E402
from portal.storage.sqlite import SqliteStore  # noqa: E402
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, serve  # noqa: E402
from tests.moto_server import moto_server  # noqa: E402

MANIFEST = ROOT / "static" / "gen" / "manifest.json"
OVERRIDES = {"env": "testing", "secret_key": "b" * 40}
CSV = "code,name,site,headcount\nSALES,Sales,Aarhus,12\n"
WAVE = "baseline"
GZIP = {"Accept-Encoding": "gzip"}
BUDGET_REQUESTS = 3
BUDGET_BYTES = 20_000  # 20 kB, decimal like DevTools; the stricter reading of "20 KB"
#: Reported by the issue for the same page on this machine; not measured here.
REFERENCES = (("django-survey-and-report", 9, "562 KB"), ("LimeSurvey", 29, "2.9 MB"))
KEY_RE = re.compile(r'name="key" value="([^"]+)"')
ITEMS = [i.id for i in get_questionnaire("change-readiness").items_for(Audience.EMPLOYEE)]


def kb(n: float) -> str:
    """Format a byte count in kB (1000 bytes)."""
    return f"{n / 1000:.1f}"


def p95(values: list[float]) -> float:
    """Return the 95th percentile (inclusive interpolation)."""
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def seed_survey(store: Store, slug: str) -> str:
    """Create a survey with an open baseline and one department; return its link token."""
    today = date.today()
    create_survey(
        store,
        slug=slug,
        title="CRM rollout",
        system_name={"en": "the new CRM", "da": "det nye CRM"},
        today=today,
        departments_csv=CSV,
    )
    add_wave(store, slug, wave_id=WAVE, name="Baseline", today=today)
    open_wave(store, slug, WAVE, today=today)
    return make_links(store, slug, WAVE)[0].token


def count_responses(store: Store, slug: str) -> int:
    """Count a wave's stored responses, page by page."""
    total, cursor = 0, None
    while True:
        page = store.list_responses(slug, WAVE, cursor=cursor, limit=1000)
        total += len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return total


# -- 1. the first visit in Chromium -------------------------------------------------


@dataclass
class Transfer:
    """One network request as Chromium's DevTools protocol saw it."""

    url: str
    kind: str = "?"
    status: int = 0
    encoding: str = "-"
    headers: int = 0
    wire: int | None = None
    decoded: int = 0


@dataclass
class Visit:
    """What one page load fetched."""

    transfers: list[Transfer]
    html_bytes: int

    @property
    def wire(self) -> int:
        """Return the bytes received, headers included."""
        return sum(t.wire or 0 for t in self.transfers)

    @property
    def body(self) -> int:
        """Return the bytes received, response headers excluded."""
        return sum((t.wire or 0) - t.headers for t in self.transfers)


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 with a quiet request log; yield its base URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with serve(app) as url:
        yield url


def visit(browser: Browser, url: str, *, javascript: bool) -> Visit:
    """Load ``url`` in a fresh context and record every request through CDP."""
    context = browser.new_context(java_script_enabled=javascript)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        seen: dict[str, Transfer] = {}

        def sent(e: dict[str, Any]) -> None:
            seen.setdefault(e["requestId"], Transfer(e["request"]["url"], e.get("type", "?")))

        def answered(e: dict[str, Any]) -> None:
            t = seen.get(e["requestId"])
            if t is None:
                return
            response = e["response"]
            headers = {k.lower(): v for k, v in response["headers"].items()}
            t.status = response["status"]
            t.encoding = headers.get("content-encoding", "-")
            t.headers = t.headers or int(response.get("encodedDataLength", 0))

        def extra(e: dict[str, Any]) -> None:
            t = seen.get(e["requestId"])
            if t is not None and "headersText" in e:
                t.headers = len(e["headersText"].encode())

        def data(e: dict[str, Any]) -> None:
            if e["requestId"] in seen:
                seen[e["requestId"]].decoded += int(e["dataLength"])

        def finished(e: dict[str, Any]) -> None:
            if e["requestId"] in seen:
                seen[e["requestId"]].wire = int(e["encodedDataLength"])

        cdp.on("Network.requestWillBeSent", sent)
        cdp.on("Network.responseReceived", answered)
        cdp.on("Network.responseReceivedExtraInfo", extra)
        cdp.on("Network.dataReceived", data)
        cdp.on("Network.loadingFinished", finished)
        cdp.send("Network.enable")
        response = page.goto(url, wait_until="networkidle")
        if response is None or response.status != 200:
            raise SystemExit(f"error: the questionnaire answered {response and response.status}")
        html_bytes = len(response.body())
        page.wait_for_timeout(300)  # let the last CDP events arrive
        transfers = [t for t in seen.values() if t.url.startswith(("http:", "https:"))]
        return Visit(transfers, html_bytes)
    finally:
        context.close()


def first_visit(store: Store) -> None:
    """Print part 1: requests and bytes of a first visit, with and without JavaScript."""
    token = seed_survey(store, "bench-browser")
    app = create_app(OVERRIDES, store=store)
    with live_server(app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            url = f"{base}/s/{token}/q?aud=employee&lang=en"
            visits = {
                "JavaScript on": visit(browser, url, javascript=True),
                "JavaScript off": visit(browser, url, javascript=False),
            }
        finally:
            browser.close()

    print("1. First visit to the questionnaire in headless Chromium (fresh context, empty cache)")
    print("   wire = Network.loadingFinished.encodedDataLength: compressed bytes received,")
    print("   response headers INCLUDED (request headers not counted);")
    print("   body = wire - response headers (headersText). 1 kB = 1000 bytes.\n")
    print(f"   {'JavaScript on: resource':44} {'type':10} {'st':>3} {'enc':>4} "
          f"{'headers B':>9} {'body B':>7} {'wire B':>7} {'decoded B':>9}")  # fmt: skip
    for t in visits["JavaScript on"].transfers:
        path = t.url.split("//", 1)[-1].split("/", 1)[-1]
        path = "/" + (path if len(path) <= 42 else path[:39] + "...")
        body = (t.wire or 0) - t.headers
        wire = "-" if t.wire is None else str(t.wire)
        print(f"   {path:44} {t.kind:10} {t.status:3} {t.encoding:>4} "
              f"{t.headers:9} {body:7} {wire:>7} {t.decoded:9}")  # fmt: skip
    print()
    budget = f"budget (<= {BUDGET_REQUESTS} requests, <= {kb(BUDGET_BYTES)} kB wire)"
    heading = f"{'visit':16} {'requests':>8} {'wire kB':>8} {'body kB':>8} {'HTML kB':>8}"
    print(f"   {heading}   {budget}")
    for name, v in visits.items():
        requests = len(v.transfers)
        over = []
        if requests > BUDGET_REQUESTS:
            over.append(f"{requests - BUDGET_REQUESTS} request(s) over")
        if v.wire > BUDGET_BYTES:
            over.append(f"{kb(v.wire - BUDGET_BYTES)} kB over")
        verdict = "OVER: " + ", ".join(over) if over else "PASS"
        print(f"   {name:16} {requests:8} {kb(v.wire):>8} {kb(v.body):>8} "
              f"{kb(v.html_bytes):>8}   {verdict}")  # fmt: skip
    print("   (HTML kB = the questionnaire page uncompressed, as the browser decoded it)")
    print("\n   Reference figures, reported on this machine by the issue, not measured here:")
    for name, requests, size in REFERENCES:
        print(f"   {name:28} {requests:3} requests  {size:>7}")


# -- 2 and 3. server time and throughput, per backend --------------------------------


@dataclass
class Respondents:
    """A survey with one open link, and a cookie-less client that fills it in."""

    client: FlaskClient
    token: str
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    posts: int = 0

    def get(self) -> tuple[float, str]:
        """Open the questionnaire; return the server time (ms) and the page's signed key."""
        start = time.perf_counter()
        response = self.client.get(f"/s/{self.token}/q?aud=employee&lang=en", headers=GZIP)
        elapsed = (time.perf_counter() - start) * 1000
        expect(response, 200, "GET questionnaire")
        page = response.get_data()
        if response.headers.get("Content-Encoding") == "gzip":
            page = gzip.decompress(page)
        match = KEY_RE.search(page.decode())
        if match is None:
            raise SystemExit("error: the questionnaire page has no submission key")
        return elapsed, match.group(1)

    def post(self, key: str) -> float:
        """Send a complete form with ``key``; return the server time (ms)."""
        form = {"key": key, "lang": "en", "aud": "employee"}
        form.update({item: str(self.rng.randint(1, 5)) for item in ITEMS})
        start = time.perf_counter()
        response = self.client.post(f"/s/{self.token}/q", data=form, headers=GZIP)
        elapsed = (time.perf_counter() - start) * 1000
        expect(response, 303, "POST answers")
        self.posts += 1
        return elapsed


def expect(response: TestResponse, status: int, what: str) -> None:
    """Stop the run if a request did not answer as a respondent's would."""
    if response.status_code != status:
        raise SystemExit(f"error: {what} answered {response.status_code}, expected {status}")


def respondents(app: Flask, store: Store, slug: str) -> Respondents:
    """Seed ``slug`` and return its respondents, warmed up by three complete answers."""
    crowd = Respondents(app.test_client(use_cookies=False), seed_survey(store, slug))
    for _ in range(3):  # template compilation and the 30 s read cache
        crowd.post(crowd.get()[1])
    return crowd


@dataclass
class Latency:
    """Server times of one backend."""

    gets: list[float]
    posts: list[float]


def server_time(app: Flask, store: Store, runs: int) -> tuple[Latency, int, int]:
    """Time ``runs`` GET+POST pairs; return the times, POSTs sent and responses stored."""
    crowd = respondents(app, store, "bench-latency")
    gets, posts = [], []
    for _ in range(runs):
        took, key = crowd.get()
        gets.append(took)
        posts.append(crowd.post(key))
    return Latency(gets, posts), crowd.posts, count_responses(store, "bench-latency")


@dataclass
class Throughput:
    """Sequential GET+POST pairs on one backend."""

    pairs: int
    seconds: float
    posts: int
    stored: int


def throughput(app: Flask, store: Store, max_pairs: int, max_seconds: float) -> Throughput:
    """Run GET+POST pairs back to back until ``max_pairs`` or ``max_seconds``."""
    crowd = respondents(app, store, "bench-throughput")
    pairs = 0
    start = time.perf_counter()
    while pairs < max_pairs and time.perf_counter() - start < max_seconds:
        crowd.post(crowd.get()[1])
        pairs += 1
    seconds = time.perf_counter() - start
    return Throughput(pairs, seconds, crowd.posts, count_responses(store, "bench-throughput"))


# -- 4. database reads ----------------------------------------------------------------


class CountingStore:
    """Pass every call to ``store``, counting reads (get_/list_) and writes by method name."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.reads: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr
        tally = (
            self.reads
            if name.startswith(("get_", "list_"))
            else self.writes
            if name.startswith(("add_", "put_", "update_"))
            else None
        )
        if tally is None:
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            tally[name] += 1
            return attr(*args, **kwargs)

        return counted

    def take(self) -> tuple[Counter[str], Counter[str]]:
        """Return the reads and writes so far, and start counting afresh."""
        taken = (self.reads, self.writes)
        self.reads, self.writes = Counter(), Counter()
        return taken


@dataclass
class Reads:
    """Store calls made by one fresh process for its first and later requests."""

    first: Counter[str]
    warm: Counter[str]
    post_reads: Counter[str]
    post_writes: Counter[str]


def database_reads(store: Store) -> Reads:
    """Count store calls of a fresh app: first render, warm render, then a warm POST."""
    token = seed_survey(store, "bench-reads")
    counting = CountingStore(store)
    app = create_app(OVERRIDES, store=counting)
    crowd = Respondents(app.test_client(use_cookies=False), token)
    crowd.get()
    first, _ = counting.take()
    _, key = crowd.get()
    warm, _ = counting.take()
    crowd.post(key)
    post_reads, post_writes = counting.take()
    return Reads(first, warm, post_reads, post_writes)


def calls(counter: Counter[str]) -> str:
    """Format call counts as ``total (name, name×2)``."""
    if not counter:
        return "0"
    names = ", ".join(f"{n}" if c == 1 else f"{n}×{c}" for n, c in sorted(counter.items()))
    return f"{sum(counter.values())} ({names})"


# -- the run ------------------------------------------------------------------------------


def open_backends(stack: ExitStack, tmp: Path) -> dict[str, Callable[[], Store]]:
    """Return a factory of fresh stores per backend; the moto server lives in ``stack``."""
    endpoint = stack.enter_context(moto_server())

    def sqlite() -> Store:
        store = SqliteStore(tmp / f"portal-{uuid.uuid4().hex[:8]}.sqlite3")
        stack.callback(store.close)
        store.create_schema()
        return store

    def dynamodb() -> Store:
        resource = boto3.resource("dynamodb", region_name="eu-west-1", endpoint_url=endpoint)
        table = resource.Table(f"bench-respondent-{uuid.uuid4().hex[:8]}")
        store = DynamoStore(table, allow_create=True)
        store.create_schema()
        return store

    return {"SQLite (file)": sqlite, "DynamoDB (moto server, HTTP)": dynamodb}


def main(argv: list[str] | None = None) -> int:
    """Run the four measurements and print their tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (about 30 s)")
    args = parser.parse_args(argv)
    if not MANIFEST.exists():
        print(f"error: {MANIFEST} is missing; run `.venv/bin/portal assets build` first.")
        return 2
    runs = 30 if args.quick else 200
    max_pairs, max_seconds = (100, 3.0) if args.quick else (500, 10.0)
    began = time.perf_counter()

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-respondent-")))
        backends = open_backends(stack, tmp)

        first_visit(backends["SQLite (file)"]())

        latencies: dict[str, Latency] = {}
        checks: dict[str, tuple[int, int]] = {}
        rates: dict[str, Throughput] = {}
        reads: dict[str, Reads] = {}
        for name, make_store in backends.items():
            store = make_store()
            app = create_app(OVERRIDES, store=store)
            latencies[name], posted, stored = server_time(app, store, runs)
            checks[name] = (posted, stored)
            rates[name] = throughput(app, store, max_pairs, max_seconds)
            reads[name] = database_reads(store)

    print(f"\n2. Server time, Flask test client in-process (no network), ms, {runs} runs each")
    print("   GET = questionnaire page (gzip); POST = complete form with a fresh key from a")
    print("   fresh GET, answered 303. Warm process: 3 warm-up pairs first, not counted.\n")
    print(f"   {'backend':30} {'GET median':>10} {'GET p95':>8} {'POST median':>11} "
          f"{'POST p95':>8}   stored/POSTed")  # fmt: skip
    for name, lat in latencies.items():
        posted, stored = checks[name]
        ok = "OK" if posted == stored else "MISMATCH"
        print(f"   {name:30} {statistics.median(lat.gets):10.2f} {p95(lat.gets):8.2f} "
              f"{statistics.median(lat.posts):11.2f} {p95(lat.posts):8.2f}   "
              f"{stored}/{posted} {ok}")  # fmt: skip

    print(f"\n3. Throughput: sequential GET+POST pairs, one test client, stop at "
          f"{max_pairs} pairs or {max_seconds:.0f} s\n")  # fmt: skip
    print(f"   {'backend':30} {'pairs':>6} {'seconds':>8} {'responses/s':>12}   "
          "stored/POSTed (incl. 3 warm-up)")  # fmt: skip
    for name, rate in rates.items():
        ok = "OK" if rate.posts == rate.stored else "MISMATCH"
        print(f"   {name:30} {rate.pairs:6} {rate.seconds:8.2f} "
              f"{rate.pairs / rate.seconds:12.1f}   {rate.stored}/{rate.posts} {ok}")  # fmt: skip

    print("\n4. Store calls of a fresh app, counted under its 30 s read cache")
    print("   (reads = get_*/list_* calls reaching the store; writes = add_/put_/update_)\n")
    for name, count in reads.items():
        print(f"   {name}")
        print(f"     first render of the questionnaire    reads {calls(count.first)}")
        print(f"     warm render                          reads {calls(count.warm)}")
        print(f"     warm POST of a complete form         reads {calls(count.post_reads)}; "
              f"writes {calls(count.post_writes)}")  # fmt: skip

    print(f"\nTotal run time: {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
