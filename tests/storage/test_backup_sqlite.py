"""SQLite backups read as an attacker would read them; restores refuse what would hurt."""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path

import pytest

from portal.domain.entities import WaveStatus
from portal.domain.errors import AlreadyExists, Conflict, NotFound, ValidationError
from portal.services.backup import backup_sqlite, restore_sqlite
from portal.storage.sqlite import MIGRATIONS, SCHEMA_VERSION, SqliteStore
from tests.builders import make_access_code, make_response, make_survey, make_wave


def filled(path: Path, responses: int = 30, **comment: str) -> SqliteStore:
    """Return a migrated store at ``path`` with a survey, an open wave and responses."""
    store = SqliteStore(path)
    store.create_schema()
    store.add_survey(make_survey())
    store.add_wave(make_wave(status=WaveStatus.OPEN))
    for _ in range(responses):
        store.add_response(make_response(**comment))
    return store


def on_disk(path: Path) -> bytes:
    """Return the bytes of a database file and of every journal beside it."""
    names = [path, *(Path(f"{path}{s}") for s in ("-wal", "-shm", "-journal"))]
    return b"".join(name.read_bytes() for name in names if name.exists())


def leaf_pages_in_key_order(path: Path, keys: list[str]) -> list[int]:
    """Return, for the sorted ``keys``, the leaf page holding each (skipping the few that
    sit on interior pages: a WITHOUT ROWID table is an index b-tree)."""
    data = path.read_bytes()
    size = int.from_bytes(data[16:18], "big")
    pages = []
    for key in sorted(keys):
        found = []
        at = data.find(key.encode())
        while at != -1:
            page = at // size
            header = data[page * size + (100 if page == 0 else 0)]
            if header == 0x0A:  # a leaf page of an index b-tree (WITHOUT ROWID rows)
                found.append(page)
            at = data.find(key.encode(), at + 1)
        pages.extend(found[:1])
    assert len(pages) > len(keys) * 0.8
    return pages


def test_a_backup_is_one_self_contained_file_in_rollback_journal_mode(tmp_path: Path) -> None:
    live = filled(tmp_path / "live.sqlite3")
    live.add_response(make_response())  # the live database has a WAL with frames in it
    out = tmp_path / "backup.sqlite3"
    contents = backup_sqlite(live.path, out)
    assert (contents.surveys, contents.waves, contents.responses) == (1, 1, 31)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "backup.sqlite3",
        "live.sqlite3",
        "live.sqlite3-shm",
        "live.sqlite3-wal",
    ]
    header = out.read_bytes()[:100]
    assert header[18:20] == b"\x01\x01"  # rollback journal, not WAL
    assert out.stat().st_mode & 0o777 == 0o600
    conn = sqlite3.connect(out)
    assert conn.execute("PRAGMA freelist_count").fetchone() == (0,)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_backup_holds_answers_still_in_the_wal(tmp_path: Path) -> None:
    live = filled(tmp_path / "live.sqlite3", 3)
    reader = sqlite3.connect(live.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM responses").fetchone()  # no checkpoint can pass it
    for _ in range(5):
        live.add_response(make_response(comment="recent"))
    out = tmp_path / "backup.sqlite3"
    assert backup_sqlite(live.path, out).responses == 8
    reader.execute("COMMIT")
    comments = [r.comment for r in SqliteStore(out).list_responses("crm-rollout", "baseline").items]
    assert comments.count("recent") == 5


def test_a_backup_leaves_out_the_sign_in_throttles_hashed_client_addresses(
    tmp_path: Path,
) -> None:
    live = filled(tmp_path / "live.sqlite3", 2)
    client = "client:" + secrets.token_hex(16)
    assert live.take_attempt(client, limit=20, window=900, now=1_800_000_000)
    out = tmp_path / "backup.sqlite3"
    backup_sqlite(live.path, out)
    assert sqlite3.connect(out).execute("SELECT count(*) FROM attempts").fetchone() == (0,)
    assert client.encode() not in out.read_bytes()


def test_a_row_deleted_before_the_backup_leaves_no_trace_in_the_backup(tmp_path: Path) -> None:
    live = filled(tmp_path / "live.sqlite3", 200, comment="kept " + "k" * 80)
    secret = "WITHDRAWN-" + secrets.token_hex(8)
    for _ in range(50):
        live.add_response(make_response(comment=secret + "x" * 200))
    conn = sqlite3.connect(live.path, isolation_level=None)
    conn.execute("PRAGMA secure_delete = OFF")  # as SQLite builds without it leave pages
    conn.execute("DELETE FROM responses WHERE comment LIKE 'WITHDRAWN-%'")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert secret.encode() in on_disk(Path(live.path))  # the live file still holds it
    out = tmp_path / "backup.sqlite3"
    assert backup_sqlite(live.path, out).responses == 200
    assert secret.encode() not in out.read_bytes()


def test_a_backup_lays_responses_out_by_key_not_by_arrival(tmp_path: Path) -> None:
    live = filled(tmp_path / "live.sqlite3", 0)
    keys = [make_response().key for _ in range(400)]
    # Rows inserted one by one as plain SQLite does, without the store's rebuild after each
    # (a file from before the store rebuilt itself, or a copy of one mid-write).
    conn = sqlite3.connect(live.path, isolation_level=None)
    for key in keys:
        conn.execute(
            "INSERT INTO responses (survey_slug, wave_id, key, department, audience, language, "
            "day, answers, comment) VALUES ('crm-rollout', 'baseline', ?, 'SALES', 'employee', "
            "'en', '2026-03-02', '{\"purpose-why\": 4}', ?)",
            (key, "c" * 120),
        )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    in_live = leaf_pages_in_key_order(Path(live.path), keys)
    assert in_live != sorted(in_live)  # page splits in such a file follow arrivals
    out = tmp_path / "backup.sqlite3"
    backup_sqlite(live.path, out)
    in_backup = leaf_pages_in_key_order(out, keys)
    assert in_backup == sorted(in_backup)


def test_a_backup_replaces_an_existing_file_only_when_forced(tmp_path: Path) -> None:
    live = filled(tmp_path / "live.sqlite3", 3)
    out = tmp_path / "backup.sqlite3"
    out.write_text("yesterday's backup")
    with pytest.raises(AlreadyExists, match="pass --force"):
        backup_sqlite(live.path, out)
    assert out.read_text() == "yesterday's backup"
    assert backup_sqlite(live.path, out, force=True).responses == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_backup_never_writes_over_the_live_database_or_its_journal(tmp_path: Path) -> None:
    live = filled(tmp_path / "live.sqlite3", 3)
    for target in (live.path, f"{live.path}-wal", str(tmp_path / "." / "live.sqlite3")):
        with pytest.raises(ValidationError, match="live database"):
            backup_sqlite(live.path, target, force=True)
    assert len(live.list_responses("crm-rollout", "baseline").items) == 3


def test_a_backup_of_a_missing_database_says_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="portal init-db"):
        backup_sqlite(tmp_path / "none.sqlite3", tmp_path / "backup.sqlite3")
    assert not (tmp_path / "none.sqlite3").exists()


def test_restore_into_a_new_path_gives_a_working_database_in_wal_mode(tmp_path: Path) -> None:
    live = filled(tmp_path / "live.sqlite3", 12)
    code = make_access_code()
    live.add_access_codes([code])
    live.add_response(make_response(), code_hash=code.code_hash)
    backup_sqlite(live.path, tmp_path / "backup.sqlite3")
    target = tmp_path / "restored" / "portal.sqlite3"
    contents = restore_sqlite(tmp_path / "backup.sqlite3", target)
    assert contents.responses == 13
    assert target.read_bytes()[18:20] == b"\x02\x02"  # WAL, as `portal init-db` leaves it
    assert sorted(p.name for p in target.parent.iterdir()) == ["portal.sqlite3"]
    restored = SqliteStore(target)
    assert restored.get_access_code(code.code_hash).used
    assert len(restored.list_responses("crm-rollout", "baseline").items) == 13


def test_restore_replaces_a_database_only_when_forced_and_keeps_nothing_of_it(
    tmp_path: Path,
) -> None:
    filled(tmp_path / "old.sqlite3", 5, comment="from the backup").close()
    backup_sqlite(tmp_path / "old.sqlite3", tmp_path / "backup.sqlite3")
    target = tmp_path / "portal.sqlite3"
    later = "ARRIVED-LATER-" + secrets.token_hex(6)
    current = filled(target, 8, comment=later + "z" * 300)
    current.close()
    os.chmod(target, 0o640)
    inode = target.stat().st_ino
    with pytest.raises(AlreadyExists, match="portal backup"):
        restore_sqlite(tmp_path / "backup.sqlite3", target)
    assert b"ARRIVED-LATER" in on_disk(target)
    assert restore_sqlite(tmp_path / "backup.sqlite3", target, force=True).responses == 5
    assert (target.stat().st_ino, target.stat().st_mode & 0o777) == (inode, 0o640)
    assert later.encode() not in on_disk(target)
    assert not [p for p in tmp_path.iterdir() if "before" in p.name or p.name.startswith(".")]
    store = SqliteStore(target)
    assert [r.comment for r in store.list_responses("crm-rollout", "baseline").items] == [
        "from the backup"
    ] * 5
    store.add_response(make_response())  # the restored database takes new answers
    store.check()


def test_restore_over_a_database_in_rollback_journal_mode_leaves_it_in_wal_mode(
    tmp_path: Path,
) -> None:
    filled(tmp_path / "live.sqlite3", 2).close()
    backup = tmp_path / "backup #1?.sqlite3"  # characters that mean something in a URI
    backup_sqlite(tmp_path / "live.sqlite3", backup)
    target = tmp_path / "portal.sqlite3"
    later = "ARRIVED-LATER-" + secrets.token_hex(6)
    filled(target, 6, comment=later).close()
    sqlite3.connect(target).execute("PRAGMA journal_mode = DELETE").connection.close()
    assert target.read_bytes()[18:20] == b"\x01\x01"
    assert restore_sqlite(backup, target, force=True).responses == 2
    assert target.read_bytes()[18:20] == b"\x02\x02"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("portal")] == [target.name]
    assert later.encode() not in on_disk(target)


def test_restore_refuses_while_a_portal_process_has_the_database_open(tmp_path: Path) -> None:
    filled(tmp_path / "old.sqlite3", 2).close()
    backup_sqlite(tmp_path / "old.sqlite3", tmp_path / "backup.sqlite3")
    running = filled(tmp_path / "portal.sqlite3", 4)  # keeps its connection open
    with pytest.raises(Conflict, match="in use"):
        restore_sqlite(tmp_path / "backup.sqlite3", running.path, force=True)
    assert len(running.list_responses("crm-rollout", "baseline").items) == 4
    running.close()
    assert restore_sqlite(tmp_path / "backup.sqlite3", running.path, force=True).responses == 2


def test_restore_refuses_files_that_are_not_portal_databases(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all")
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE things (x)").connection.commit()
    target = tmp_path / "portal.sqlite3"
    with pytest.raises(ValidationError, match="not an SQLite database"):
        restore_sqlite(text, target)
    with pytest.raises(ValidationError, match="not a portal database"):
        restore_sqlite(other, target)
    with pytest.raises(NotFound):
        restore_sqlite(tmp_path / "missing.sqlite3", target)
    filled(tmp_path / "live.sqlite3", 1).close()
    backup_sqlite(tmp_path / "live.sqlite3", tmp_path / "backup.sqlite3")
    with pytest.raises(ValidationError, match="move it away"):
        restore_sqlite(tmp_path / "backup.sqlite3", text, force=True)
    assert text.read_text() == "not a database at all"
    assert not (tmp_path / "portal.sqlite3").exists()


def test_restore_refuses_a_backup_from_a_newer_portal(tmp_path: Path) -> None:
    filled(tmp_path / "live.sqlite3", 1).close()
    backup_sqlite(tmp_path / "live.sqlite3", tmp_path / "backup.sqlite3")
    conn = sqlite3.connect(tmp_path / "backup.sqlite3")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ValidationError, match="upgrade the portal"):
        restore_sqlite(tmp_path / "backup.sqlite3", tmp_path / "portal.sqlite3")
    assert not (tmp_path / "portal.sqlite3").exists()


def test_restore_upgrades_a_backup_from_an_older_portal(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(old, isolation_level=None)
    for number, migration in enumerate(MIGRATIONS[:3]):
        conn.executescript(migration)
        conn.execute(f"PRAGMA user_version = {number + 1}")
    conn.close()
    target = tmp_path / "portal.sqlite3"
    assert restore_sqlite(old, target).responses == 0
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    SqliteStore(target).check()


def test_restore_refuses_a_damaged_backup_and_leaves_the_database_alone(tmp_path: Path) -> None:
    filled(tmp_path / "live.sqlite3", 300, comment="x" * 100).close()
    backup = tmp_path / "backup.sqlite3"
    backup_sqlite(tmp_path / "live.sqlite3", backup)
    data = bytearray(backup.read_bytes())
    size = int.from_bytes(data[16:18], "big")
    page = data.rfind(b"x" * 100) // size * size  # a page of responses
    data[page + 8 : page + 200] = b"\xff" * 192  # scribble over its cell pointers
    backup.write_bytes(bytes(data))
    target = tmp_path / "portal.sqlite3"
    filled(target, 7).close()
    before = target.read_bytes()
    with pytest.raises(ValidationError, match="damaged"):
        restore_sqlite(backup, target, force=True)
    assert target.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
