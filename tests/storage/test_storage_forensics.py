"""A white-box audit of the SQLite files: nothing on disk orders responses or pairs them with codes.

It reads the raw bytes of ``portal.sqlite3`` and its ``-wal``, ``-journal`` and
``-shm`` as someone holding a copy of the disk would, after a run of
submissions through links and single-use codes (docs/anonymity.md, "Storage").
"""

from __future__ import annotations

import random
import re
import secrets
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

from flask import Flask

from portal.domain.entities import AccessCode, Audience
from portal.instruments import get_questionnaire
from portal.services import respond
from portal.services.results import refresh_snapshot
from portal.services.surveys import add_wave, create_survey, open_wave
from portal.storage.dynamodb import DynamoStore
from portal.storage.sqlite import SqliteStore
from tests.builders import make_response
from tests.web.conftest import full_answers, start

CSV = "code,name,site,headcount\nSALES,Sales,Aarhus,12\nWH,Warehouse,Hamburg,40\n"


def _file_order(data: bytes, secrets_: list[str]) -> list[str]:
    """Return the values in the order their bytes appear in the file, as a forensic reader sees."""
    return sorted(secrets_, key=lambda value: data.index(value.encode()))


def _read_files(
    path: str, tmp_path: Path
) -> tuple[bytes, dict[str, bytes | None], sqlite3.Connection]:
    """Read the database and its side files as bytes; open a copy (never the live file) for SQL."""
    sides = {}
    for suffix in ("-wal", "-journal", "-shm"):
        side = Path(path + suffix)
        sides[suffix] = side.read_bytes() if side.exists() else None
    data = Path(path).read_bytes()
    copy = tmp_path / "copy.sqlite3"
    copy.write_bytes(data)
    return data, sides, sqlite3.connect(copy)


def _submit_with_code(app: Flask, code: str, value: str) -> None:
    client = app.test_client()
    page = client.post("/code", data={"code": code, "aud": "employee"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    key = re.search(r'name="key" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    access = re.search(r'name="access" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    data = {"key": key, "access": access, "lang": "en", "aud": "employee"}
    answered = client.post("/code/answer", data=data | full_answers(Audience.EMPLOYEE, value))
    assert answered.status_code == 303


def _submit_with_link(app: Flask, token: str, value: str) -> None:
    client = app.test_client()
    key = start(client, token)
    data = {"key": key, "lang": "en", "aud": "employee"} | full_answers(Audience.EMPLOYEE, value)
    data["comment"] = f"comment written with answer {value} {secrets.token_hex(4)}"
    assert client.post(f"/s/{token}/q", data=data).status_code == 303


def test_after_submissions_the_files_keep_no_wal_no_deleted_rows_and_no_arrival_order(
    app: Flask, sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    store = _setup(sqlite_store, [])
    links = respond.make_links(store, "crm-rollout", "baseline")
    [link] = [x for x in links if x.department_code == "SALES"]
    codes = respond.make_codes(store, "crm-rollout", "baseline", "WH", 12)
    for n in range(12):
        _submit_with_link(app, link.token, str(1 + n % 5))
        _submit_with_code(app, codes[n], str(1 + (n + 2) % 5))
    old = refresh_snapshot(store, "crm-rollout", "baseline", now=datetime.now(UTC))
    new = refresh_snapshot(store, "crm-rollout", "baseline", now=datetime.now(UTC))
    assert old.snapshot_id != new.snapshot_id

    data, sides, conn = _read_files(store.path, tmp_path)

    assert not sides["-wal"], "the WAL still holds pages in the order they were written"
    assert sides["-journal"] is None
    keys = [row[0] for row in conn.execute("SELECT key FROM responses")]
    hashes = [row[0] for row in conn.execute("SELECT code_hash FROM access_codes WHERE used = 1")]
    assert len(keys) == 24 and len(hashes) == 12
    for secret in keys + hashes:
        assert (sides["-shm"] or b"").count(secret.encode()) == 0
        assert data.count(secret.encode()) == 1, "a row is on disk twice: an older copy survived"
    # The replaced snapshot was deleted: secure_delete zeroed it, nothing reads it back.
    everything = data + b"".join(side or b"" for side in sides.values())
    assert old.snapshot_id.encode() not in everything
    assert new.snapshot_id.encode() in data
    # Rows lie as a rebuild from the content alone lays them out: no arrival order.
    rebuilt = tmp_path / "rebuilt.sqlite3"
    conn.execute("VACUUM INTO ?", (str(rebuilt),))
    canonical = rebuilt.read_bytes()
    assert _file_order(data, keys) == _file_order(canonical, keys)
    assert _file_order(data, hashes) == _file_order(canonical, hashes)


def _setup_dynamo(store: DynamoStore) -> DynamoStore:
    """Create the survey with an open wave on DynamoDB."""
    create_survey(
        store, slug="crm-rollout", title="CRM", system_name={"en": "the new CRM"},
        today=date.today(), departments_csv=CSV,
    )  # fmt: skip
    add_wave(store, "crm-rollout", wave_id="baseline", name="Baseline", today=date.today())
    open_wave(store, "crm-rollout", "baseline", today=date.today())
    return store


def _setup(store: SqliteStore, hashes: list[str]) -> SqliteStore:
    """Create the survey with an open wave and the given code hashes for Warehouse."""
    today = date(2026, 3, 2)
    create_survey(
        store, slug="crm-rollout", title="CRM", system_name={"en": "the new CRM"},
        today=today, departments_csv=CSV,
    )  # fmt: skip
    add_wave(store, "crm-rollout", wave_id="baseline", name="Baseline", today=today)
    open_wave(store, "crm-rollout", "baseline", today=today)
    store.add_access_codes([AccessCode(h, "crm-rollout", "baseline", "WH") for h in hashes])
    return store


def test_the_file_is_the_same_whatever_order_responses_arrived_in_and_whichever_code_each_used(
    tmp_path: Path,
) -> None:
    items = get_questionnaire("change-readiness").items_for(Audience.EMPLOYEE)
    rows = [
        make_response(
            survey_slug="crm-rollout",
            wave_id="baseline",
            department_code="WH",
            key=secrets.token_urlsafe(16),
            day=date(2026, 3, 2),
            answers={item.id: 1 + (n * 7 + k) % 5 for k, item in enumerate(items)},
            comment=f"comment {n} " * (n % 4) or None,
        )  # fmt: skip
        for n in range(40)
    ]
    hashes = sorted(secrets.token_hex(32) for _ in range(60))
    first, second = (SqliteStore(tmp_path / name / "portal.sqlite3") for name in ("1", "2"))
    for store in (first, second):
        store.create_schema()
        _setup(store, hashes)
    shuffled = random.Random(11).sample(range(40), 40)
    used = random.Random(12).sample(hashes, 40)
    for n in range(40):
        first.add_response(rows[n], code_hash=used[n])
    for n in shuffled:  # another order, and each response with another code
        second.add_response(rows[n], code_hash=used[(n * 7) % 40])
    for store in (first, second):
        store.close()
    one, two = (Path(s.path).read_bytes() for s in (first, second))
    assert len(one) == len(two)
    differ = [i for i in range(len(one)) if one[i] != two[i]]
    assert differ == [], f"{len(differ)} bytes tell the two histories apart, first at {differ[:5]}"


def test_a_wal_that_a_reader_kept_from_being_emptied_is_emptied_after_the_next_transaction(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "portal.sqlite3")
    store.create_schema()
    store.close()  # the last connection out checkpoints and removes the WAL
    reader = sqlite3.connect(store.path)  # another process, in the middle of reading
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM responses").fetchone()
    store.add_response(make_response())
    wal = Path(store.path + "-wal")
    assert wal.stat().st_size > 0  # the reader still needs the pages: nothing to truncate yet
    reader.rollback()
    assert len(store.list_responses("crm-rollout", "baseline").items) == 1  # a read, no write
    assert wal.stat().st_size == 0
    reader.close()


def test_the_dynamodb_table_pairs_no_response_with_its_code_and_holds_no_time_of_day(
    dynamo_moto_store: DynamoStore,
) -> None:
    store = _setup_dynamo(dynamo_moto_store)
    codes = respond.make_codes(store, "crm-rollout", "baseline", "WH", 6)
    [link] = [
        x
        for x in respond.make_links(store, "crm-rollout", "baseline")
        if x.department_code == "SALES"
    ]
    items = get_questionnaire("change-readiness").items_for(Audience.EMPLOYEE)
    for n, code in enumerate(codes):
        answers = {item.id: 1 + (n + k) % 5 for k, item in enumerate(items)}
        ballot, code_hash = respond.open_code(store, code)
        respond.submit(
            store, ballot, audience=Audience.EMPLOYEE, language="en", answers=answers,
            comment=None, key=secrets.token_urlsafe(16), today=date.today(),
            code_hash=code_hash,
        )  # fmt: skip
        respond.submit(
            store, respond.open_link(store, link.token), audience=Audience.EMPLOYEE,
            language="en", answers=answers, comment=None, key=secrets.token_urlsafe(16),
            today=date.today(),
        )  # fmt: skip
    refresh_snapshot(store, "crm-rollout", "baseline", now=datetime.now(UTC))
    table = dynamo_moto_store.table.scan()["Items"]
    responses = [i for i in table if "ans" in i]
    used = [i for i in table if str(i["pk"]).startswith("CODE#") and i.get("used")]
    assert len(responses) == 12 and len(used) == 6
    keys = {str(i["sk"]) for i in responses}  # a response's random key
    hashes = {respond.hash_code(c) for c in codes}
    for item in used:  # a used code says nothing of the answers it went with
        assert not keys & {str(v) for v in item.values()}
        fields = {"pk", "sk", "code_hash", "survey_slug", "wave_id", "department_code", "used"}
        assert set(item) == fields
    for item in responses:
        assert not any(h in str(item) for h in hashes)
    respondent = [i for i in table if not str(i["pk"]).startswith(("AUDIT", "USER"))]
    # Only midnight (a snapshot's day) and the "+00:00" offset: no time of day.
    times = set(re.findall(r"\d{2}:\d{2}(?::\d{2})?", str(respondent)))
    assert times <= {"00:00:00", "00:00"}, (
        f"items a respondent's answers feed hold times of day: {times}"
    )
