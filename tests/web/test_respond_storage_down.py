"""When the store fails anywhere on the respondent's path, the form comes back with every answer.

A fresh process (every new Lambda container) has a cold read cache, so the
link, code, survey and wave reads fail along with the write. The page is drawn
from what the form itself carries; the retry is stored exactly once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import date

import pytest
from flask.testing import FlaskClient

from portal.app import create_app
from portal.domain.entities import Audience
from portal.instruments import get_questionnaire
from portal.services.respond import hash_code, make_codes, make_links
from portal.services.surveys import add_wave, create_survey, open_wave
from portal.storage.sqlite import SqliteStore
from portal.web.respond.forms import mint_key, read_key
from tests.faults import FlakyStore, empty_wal, full_disk
from tests.web.conftest import CSV, form_key

SECRET = "down-" + "s" * 40
COMMENT = "Please keep this – and the “quotes”"


@pytest.fixture
def flaky(sqlite_store: SqliteStore) -> Iterator[FlakyStore]:
    """Return a store with an open wave and links, which a test can switch off."""
    today = date.today()
    create_survey(
        sqlite_store, slug="crm-rollout", title="CRM rollout",
        system_name={"en": "the new CRM", "da": "det nye CRM"}, today=today, departments_csv=CSV,
    )  # fmt: skip
    add_wave(sqlite_store, "crm-rollout", wave_id="baseline", name="Baseline", today=today)
    open_wave(sqlite_store, "crm-rollout", "baseline", today=today)
    make_links(sqlite_store, "crm-rollout", "baseline")
    yield FlakyStore(sqlite_store)


def fresh_client(store: FlakyStore) -> FlaskClient:
    """Return a client of a new process: its read cache is cold."""
    return create_app({"env": "testing", "secret_key": SECRET}, store=store).test_client()  # type: ignore[arg-type]


def token_of(store: FlakyStore, department: str = "SALES") -> str:
    """Return a department's open link token."""
    links = store.store.list_links("crm-rollout", "baseline")
    return next(x.token for x in links if x.department_code == department)


def varied_answers(audience: Audience = Audience.EMPLOYEE) -> dict[str, str]:
    """Answer every item, each with a different value than its neighbour."""
    items = get_questionnaire("change-readiness").items_for(audience)
    return {item.id: str(1 + n % 5) for n, item in enumerate(items)}


def assert_every_answer_kept(page: str, answers: dict[str, str]) -> None:
    """Check the page shows each answer checked, and the comment, as sent."""
    lost = [
        i for i, v in answers.items() if not re.search(f'name="{i}" value="{v}"[^>]* checked', page)
    ]
    assert not lost, f"{len(lost)} of {len(answers)} answers lost"
    assert ">Please keep this – and the “quotes”</textarea>" in page
    assert "Nothing is lost" in page or "Intet er gået tabt" in page


def stored(store: FlakyStore) -> list[dict[str, int | None]]:
    """Return the answers of every stored response."""
    return [dict(r.answers) for r in store.store.list_responses("crm-rollout", "baseline").items]


@pytest.mark.parametrize(
    ("reads", "writes"), [(True, True), (True, False), (False, True)],
    ids=["store down", "reads fail", "writes fail"],
)  # fmt: skip
def test_a_link_answer_survives_a_failing_store_with_a_cold_cache_and_is_stored_once(
    flaky: FlakyStore, reads: bool, writes: bool
) -> None:
    token = token_of(flaky)
    page = fresh_client(flaky).get(f"/s/{token}/q?aud=employee&lang=en")
    key = form_key(page.get_data(as_text=True))
    answers = varied_answers()
    data = {"key": key, "lang": "en", "aud": "employee", **answers, "comment": COMMENT}

    flaky.fail(reads=reads, writes=writes)
    client = fresh_client(flaky)
    failed = client.post(f"/s/{token}/q", data=data)
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "5"
    html = failed.get_data(as_text=True)
    assert_every_answer_kept(html, answers)
    assert "How is the new CRM working for you?" in html and "Sales · Aarhus" in html
    assert form_key(html) == key  # the retry carries the same key: it cannot store twice
    assert f'action="/s/{token}/q"' in html
    assert stored(flaky) == []

    flaky.recover()
    assert client.post(f"/s/{token}/q", data=data).status_code == 303
    assert fresh_client(flaky).post(f"/s/{token}/q", data=data).status_code == 303
    [answered] = stored(flaky)
    assert answered == {i: int(v) for i, v in answers.items()}


def test_a_code_answer_survives_a_failing_store_and_uses_the_code_once(
    flaky: FlakyStore,
) -> None:
    [code] = make_codes(flaky.store, "crm-rollout", "baseline", "WH", 1)
    page = fresh_client(flaky).post("/code", data={"code": code, "aud": "manager", "lang": "da"})
    html = page.get_data(as_text=True)
    access = re.search(r'name="access" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    answers = varied_answers(Audience.MANAGER)
    data = {"key": form_key(html), "access": access, "lang": "da", "aud": "manager", **answers}
    data["comment"] = COMMENT

    flaky.fail()
    client = fresh_client(flaky)
    failed = client.post("/code/answer", data=data)
    assert failed.status_code == 503
    html = failed.get_data(as_text=True)
    assert_every_answer_kept(html, answers)
    assert 'lang="da"' in html and "det nye CRM" in html  # the form's own language and words
    assert f'name="access" value="{access}"' in html

    flaky.recover()
    assert client.post("/code/answer", data=data).status_code == 303
    assert client.post("/code/answer", data=data).status_code == 303
    assert len(stored(flaky)) == 1
    assert flaky.store.get_access_code(hash_code(code)).used


def test_a_typed_code_is_kept_when_it_cannot_be_checked(flaky: FlakyStore) -> None:
    flaky.fail()
    response = fresh_client(flaky).post("/code", data={"code": "ABCD-EFGH-JK"})
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert 'value="ABCD-EFGH-JK"' in html and "could not check your code" in html


def test_a_form_from_before_sheets_were_carried_still_comes_back_whole(
    flaky: FlakyStore,
) -> None:
    token = token_of(flaky)
    answers = varied_answers()
    data = {"key": mint_key(SECRET, token), "lang": "en", "aud": "employee", **answers}
    data["comment"] = COMMENT
    flaky.fail()
    failed = fresh_client(flaky).post(f"/s/{token}/q", data=data)
    assert failed.status_code == 503
    assert_every_answer_kept(failed.get_data(as_text=True), answers)
    flaky.recover()
    assert fresh_client(flaky).post(f"/s/{token}/q", data=data).status_code == 303
    assert len(stored(flaky)) == 1


def test_a_forged_key_is_refused_even_while_the_store_is_down(flaky: FlakyStore) -> None:
    token = token_of(flaky)
    flaky.fail()
    forged = mint_key("another-secret-" + "x" * 30, token)
    data = {"key": forged, "lang": "en", "aud": "employee", **varied_answers()}
    assert fresh_client(flaky).post(f"/s/{token}/q", data=data).status_code == 400
    other_link = {**data, "key": mint_key(SECRET, token_of(flaky, "WH"))}
    assert fresh_client(flaky).post(f"/s/{token}/q", data=other_link).status_code == 400


def test_a_full_disk_keeps_the_answers_and_logs_the_failure_without_respondent_data(
    flaky: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    token = token_of(flaky)
    client = fresh_client(flaky)
    key = form_key(client.get(f"/s/{token}/q?aud=employee&lang=en").get_data(as_text=True))
    answers = varied_answers()
    data = {"key": key, "lang": "en", "aud": "employee", **answers, "comment": COMMENT}
    empty_wal(flaky.store.path)
    with caplog.at_level(logging.INFO), full_disk():
        failed = client.post(f"/s/{token}/q", data=data)
    assert failed.status_code == 503
    assert_every_answer_kept(failed.get_data(as_text=True), answers)
    [record] = [r for r in caplog.records if r.name == "portal.storage"]
    assert record.levelno == logging.ERROR and "disk I/O error" in record.getMessage()
    for secret in (token, key, read_key(SECRET, key, token), "Please keep this"):
        assert secret not in caplog.text
    assert client.post(f"/s/{token}/q", data=data).status_code == 303
    assert len(stored(flaky)) == 1
