"""The code page tells nobody whether a single-use code was used.

HR hold the list of codes. If ``/code`` answered a used code differently from
an unused one, HR could type a particular person's code and learn that this
person answered (issue 11, item 4). A used and an unused code therefore open
the same questionnaire, byte for byte apart from the form's signed key and
the code's own fingerprint; a submission with a used code is thanked for in
the same way and discarded, so a code still counts once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.app import create_app
from portal.domain.entities import Audience
from portal.services.respond import hash_code, make_codes
from portal.storage.dynamodb import DynamoStore
from portal.storage.sqlite import SqliteStore
from tests.web.conftest import OpenWave, full_answers
from tests.web.test_respond_resilience import dynamo_app  # noqa: F401 (a fixture)

SLUG, WAVE = "crm-rollout", "baseline"
KEY = re.compile(r'name="key" value="[^"]+"')
ACCESS = re.compile(r'name="access" value="[0-9a-f]{64}"')


def neutral(html: str) -> str:
    """Blank the form's signed key and the code's fingerprint, the only parts that may differ."""
    return ACCESS.sub('name="access" value=""', KEY.sub('name="key" value=""', html))


def headers(raw: Any) -> dict[str, str]:
    """Return a response's headers without Content-Length."""
    return {k: v for k, v in dict(raw).items() if k != "Content-Length"}


def form_fields(html: str) -> tuple[str, str]:
    """Return the signed key and the code's fingerprint of a code's questionnaire page."""
    key = re.search(r'name="key" value="([^"]+)"', html)
    access = re.search(r'name="access" value="([^"]+)"', html)
    assert key and access, html[:400]
    return key.group(1), access.group(1)


def answer(client: FlaskClient, code: str, value: str = "4") -> tuple[int, dict[str, str]]:
    """Type a code, answer as a manager in Danish; return the submission's status and headers."""
    page = client.post("/code", data={"code": code, "aud": "manager", "lang": "da"})
    assert page.status_code == 200
    key, access = form_fields(page.get_data(as_text=True))
    data = {"key": key, "access": access, "lang": "da", "aud": "manager"}
    sent = client.post("/code/answer", data=data | full_answers(Audience.MANAGER, value))
    return sent.status_code, dict(sent.headers)


@pytest.fixture
def codes(open_wave_with_links: OpenWave) -> list[str]:
    """Return three fresh codes of one department; the first one is used already."""
    made = make_codes(open_wave_with_links.store, SLUG, WAVE, "WH", 3)
    return made


def stored(open_wave_with_links: OpenWave) -> int:
    return len(open_wave_with_links.store.list_responses(SLUG, WAVE).items)


def test_a_used_and_an_unused_code_open_byte_identical_questionnaires(
    app: Flask, open_wave_with_links: OpenWave, codes: list[str]
) -> None:
    used, unused, _ = codes
    assert answer(app.test_client(), used)[0] == 303
    assert open_wave_with_links.store.get_access_code(hash_code(used)).used

    pages = [
        app.test_client().post("/code", data={"code": code, "aud": "manager", "lang": "da"})
        for code in (used, unused)
    ]
    assert [p.status_code for p in pages] == [200, 200]
    # Content-Length follows the signed key's length; every other header is the same.
    assert [headers(p.headers) for p in pages] == [headers(pages[0].headers)] * 2
    first, second = (p.get_data(as_text=True) for p in pages)
    assert 'name="managers-own-mandate"' in first
    assert neutral(first) == neutral(second)
    assert first != second  # each form has its own key: the comparison is not vacuous


def test_a_second_answer_with_a_used_code_is_thanked_alike_and_never_stored(
    app: Flask, open_wave_with_links: OpenWave, codes: list[str]
) -> None:
    used, unused, _ = codes
    assert answer(app.test_client(), used)[0] == 303
    assert stored(open_wave_with_links) == 1

    # HR (or the respondent again) answers with the used code, then with an unused one.
    again = answer(app.test_client(), used, value="1")
    fresh = answer(app.test_client(), unused, value="1")
    assert again[0] == fresh[0] == 303
    assert again[1] == fresh[1]  # same thank-you address, same cookie, same headers
    assert again[1]["Location"].startswith("/code/thanks")
    answers = sorted(
        r.answers["managers-own-mandate"]
        for r in open_wave_with_links.store.list_responses(SLUG, WAVE).items
    )
    assert answers == [1, 4]  # the used code's first answers stay, its second ones are gone


def test_a_respondent_sending_the_same_form_twice_is_stored_once(
    client: FlaskClient, open_wave_with_links: OpenWave, codes: list[str]
) -> None:
    page = client.post("/code", data={"code": codes[0], "aud": "employee"})
    key, access = form_fields(page.get_data(as_text=True))
    data = {"key": key, "access": access, "lang": "en", "aud": "employee", **full_answers()}
    first = client.post("/code/answer", data=data)
    second = client.post("/code/answer", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert stored(open_wave_with_links) == 1


def test_the_code_page_says_that_the_first_answers_with_a_code_count(client: FlaskClient) -> None:
    page = client.get("/code").get_data(as_text=True)
    assert "those first answers are the ones that count" in page
    danish = client.get("/code?lang=da").get_data(as_text=True)
    assert "det de første svar, der tæller" in danish


def test_an_unknown_code_is_still_asked_for_again(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    # Telling a typo apart from a real code helps the respondent and tells HR nothing new:
    # HR made the codes. The answer is the same whatever the unknown code.
    pages = [client.post("/code", data={"code": c}) for c in ("ABCD-EFGH-JK", "ZZZZ-ZZZZ-ZZ")]
    assert [p.status_code for p in pages] == [404, 404]
    texts = [p.get_data(as_text=True).replace(c, "") for p, c in
             zip(pages, ("ABCD-EFGH-JK", "ZZZZ-ZZZZ-ZZ"), strict=True)]  # fmt: skip
    assert texts[0] == texts[1] and "We do not recognise that code" in texts[0]


class Recorder:
    """The real store, recording the name of every method called on it."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.store, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return target(*args, **kwargs)

        return call


@pytest.fixture
def recorded(sqlite_store: SqliteStore) -> Iterator[Recorder]:
    yield Recorder(sqlite_store)


def test_a_used_and_an_unused_code_read_the_same_records(
    app: Flask, open_wave_with_links: OpenWave, codes: list[str], recorded: Recorder
) -> None:
    # Roughly the same time: the same reads, in the same order, from a cold process.
    used, unused, _ = codes
    assert answer(app.test_client(), used)[0] == 303
    seen = []
    for code in (used, unused):
        recorded.calls.clear()
        fresh = create_app({"env": "testing", "secret_key": "test-" + "x" * 40}, store=recorded)
        page = fresh.test_client().post("/code", data={"code": code})
        assert page.status_code == 200
        seen.append(list(recorded.calls))
    assert seen[0] == seen[1] and "get_access_code" in seen[0]


def test_on_dynamodb_too_a_used_code_looks_unused_and_its_second_answers_drop(
    dynamo_app: tuple[FlaskClient, DynamoStore, str],  # noqa: F811 (the imported fixture)
) -> None:
    client, store, _ = dynamo_app
    used, unused = make_codes(store, SLUG, WAVE, "WH", 2)
    assert answer(client, used)[0] == 303
    pages = [client.post("/code", data={"code": c, "aud": "manager", "lang": "da"})
             for c in (used, unused)]  # fmt: skip
    assert [p.status_code for p in pages] == [200, 200]
    assert neutral(pages[0].get_data(as_text=True)) == neutral(pages[1].get_data(as_text=True))
    assert answer(client, used, value="1")[0] == 303
    [kept] = store.list_responses(SLUG, WAVE).items
    assert kept.answers["managers-own-mandate"] == 4
