"""One client cannot stuff a link with answers: a per-client limit, kept in memory only."""

from __future__ import annotations

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.app import create_app
from portal.domain.entities import Audience
from portal.services.respond import make_codes
from portal.storage.sqlite import SqliteStore
from portal.web.respond.forms import mint_key
from portal.web.respond.limits import BallotLimiter
from tests.web.conftest import OpenWave, full_answers

SECRET = "limit-" + "l" * 40
OFFICE = "198.51.100.23"


@pytest.fixture
def app(sqlite_store: SqliteStore) -> Flask:
    """Return the portal with a small burst, so a test need not post dozens of forms."""
    overrides = {"env": "testing", "secret_key": SECRET, "ballot_burst": 3, "ballot_interval": 60}
    return create_app(overrides, store=sqlite_store)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def post_answers(client: FlaskClient, token: str, comment: str = "") -> tuple[int, str]:
    """Post one complete, fresh form through ``token``; return the status and page."""
    data = {"key": mint_key(SECRET, token), "lang": "en", "aud": "employee", **full_answers()}
    data["comment"] = comment
    response = client.post(f"/s/{token}/q", data=data)
    return response.status_code, response.get_data(as_text=True)


def client_at(app: Flask, address: str) -> FlaskClient:
    """Return a client whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def stored_count(wave: OpenWave) -> int:
    """Count the wave's stored responses."""
    return len(wave.store.list_responses("crm-rollout", "baseline").items)


def test_a_client_posting_a_burst_through_one_link_is_held_back_with_its_answers_kept(
    app: Flask, open_wave_with_links: OpenWave, caplog: pytest.LogCaptureFixture
) -> None:
    token = open_wave_with_links.token()
    client = client_at(app, OFFICE)
    with caplog.at_level(logging.DEBUG):
        statuses = [post_answers(client, token)[0] for _ in range(3)]
        response = client.post(
            f"/s/{token}/q",
            data={"key": mint_key(SECRET, token), "lang": "en", "aud": "employee",
                  **full_answers(value="2"), "comment": "held back"},
        )  # fmt: skip
    assert statuses == [303, 303, 303]
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    page = response.get_data(as_text=True)
    assert "Nothing is lost" in page and ">held back</textarea>" in page
    assert len(re.findall(r'value="2"[^>]* checked', page)) == len(full_answers())
    assert stored_count(open_wave_with_links) == 3
    assert OFFICE not in caplog.text and token not in caplog.text


def test_other_clients_other_links_and_codes_are_not_held_back(
    app: Flask, open_wave_with_links: OpenWave
) -> None:
    sales, warehouse = open_wave_with_links.token("SALES"), open_wave_with_links.token("WH")
    office = client_at(app, OFFICE)
    for _ in range(3):
        post_answers(office, sales)
    assert post_answers(office, sales)[0] == 429
    assert post_answers(office, warehouse)[0] == 303  # another link: another bucket
    assert post_answers(client_at(app, "2001:db8::7"), sales)[0] == 303  # another client
    assert post_answers(client_at(app, "127.0.0.1"), sales)[0] == 303  # an untrusted local proxy
    codes = make_codes(open_wave_with_links.store, "crm-rollout", "baseline", "SALES", 4)
    for code in codes:  # a single-use code limits itself
        page = office.post("/code", data={"code": code, "aud": "employee"}).get_data(as_text=True)
        data = {
            "key": re.search(r'name="key" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
            "access": re.search(r'name="access" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
            "lang": "en", "aud": "employee", **full_answers(Audience.EMPLOYEE),
        }  # fmt: skip
        assert office.post("/code/answer", data=data).status_code == 303


def test_the_limit_refills_with_time(app: Flask, open_wave_with_links: OpenWave) -> None:
    clock = Clock()
    app.extensions["portal.ballot_limiter"].clock = clock
    token, office = open_wave_with_links.token(), client_at(app, OFFICE)
    assert [post_answers(office, token)[0] for _ in range(4)] == [303, 303, 303, 429]
    clock.now += 59
    assert post_answers(office, token)[0] == 429
    clock.now += 1
    assert [post_answers(office, token)[0] for _ in range(2)] == [303, 429]


def test_parallel_posts_from_one_client_get_exactly_the_burst_through(
    app: Flask, open_wave_with_links: OpenWave
) -> None:
    token = open_wave_with_links.token()

    def post(_: int) -> int:
        return post_answers(client_at(app, OFFICE), token)[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(post, range(16)))
    assert sorted(statuses) == [303] * 3 + [429] * 13
    assert stored_count(open_wave_with_links) == 3


def test_the_limiter_is_exact_under_many_threads_and_keeps_no_address() -> None:
    limiter = BallotLimiter(burst=100, interval=3600)
    allowed = []
    lock = threading.Lock()

    def hammer() -> None:
        mine = sum(limiter.take("203.0.113.5", "token") == 0 for _ in range(125))
        with lock:
            allowed.append(mine)

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 100
    assert "203.0.113.5" not in repr(limiter.__dict__)  # only keyed hashes are kept


def test_the_limiter_forgets_idle_clients_to_stay_small() -> None:
    clock = Clock()
    limiter = BallotLimiter(burst=2, interval=10, clock=clock, max_buckets=100)
    for n in range(1000):
        limiter.take(f"198.51.100.{n % 250}/{n}", "token")
        clock.now += 1
    assert len(limiter._buckets) <= 100


def test_a_burst_of_zero_turns_the_limit_off(sqlite_store: SqliteStore) -> None:
    overrides = {"env": "testing", "secret_key": SECRET, "ballot_burst": 0}
    limiter = create_app(overrides, store=sqlite_store).extensions["portal.ballot_limiter"]
    assert all(limiter.take(OFFICE, "token") == 0 for _ in range(1000))
