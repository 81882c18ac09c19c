"""Backups of the whole database, and restoring them: SQLite files and DynamoDB tables.

A backup works below the storage port, on the database as a whole (a file, a table),
so this module speaks sqlite3 and boto3 where every other service speaks only the
``Store`` port; it counts what a backup holds through the port, as the portal reads it.

Rules (see docs/cli.md, "Backup and restore"):

- **SQLite backup** copies the live database with SQLite's online backup API in one
  step: one read snapshot, so every response is in the copy whole and exactly once,
  and respondents keep submitting meanwhile (WAL mode: the reader blocks no writer).
  The copy is made in a temporary file beside ``out``, loses the sign-in throttle's
  counters (``_drop_transient``), is switched to rollback-journal mode and
  ``VACUUM``-ed, so it is one self-contained file without a WAL, without free pages
  that still hold deleted rows, and with its pages laid out by key rather than in the
  order answers arrived; only then is it renamed to ``out`` (mode 0600). An existing
  ``out`` is replaced only when asked (``force``).
- **SQLite restore** first builds a checked copy of the backup in a temporary file
  beside the database: it must be a portal database (``user_version`` and tables) no
  newer than this portal (an older one is upgraded by the usual migrations) and pass
  ``PRAGMA integrity_check``. An existing database is replaced only when asked, never
  while any process has it open (the portal would keep writing to the replaced file),
  and in one SQLite transaction under an exclusive lock, so a crash leaves either the
  old or the new database, and the file keeps its path, owner and permissions. The
  replaced database is not kept: a second copy beside the restored one would show
  which answers arrived between the backup and the restore. Take a backup first to
  keep it.
- **DynamoDB** on-demand backups (``CreateBackup``) are restored into a **new** table
  (``RestoreTableFromBackup``), which then gets the TTL setting a restore does not
  carry over; the portal is switched to it by configuration. Point-in-time recovery is
  neither used nor switched on here (it keeps per-second history; see
  docs/anonymity.md). A DynamoDB backup cannot leave items out: it holds the throttle's
  counters too, and TTL removes them from the restored table.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from portal.domain.errors import AlreadyExists, Conflict, NotFound, StorageError, ValidationError
from portal.storage.port import MAX_PAGE_SIZE, Store
from portal.storage.sqlite import SCHEMA_VERSION, SqliteStore

if TYPE_CHECKING:
    from portal.storage.dynamodb import DynamoStore

#: Tables every portal database has had since its first schema version.
PORTAL_TABLES = frozenset({"surveys", "departments", "waves", "responses"})
#: The TTL attribute of the throttling counters (``infra/portal.yaml`` declares it too).
TTL_ATTRIBUTE = "expires_at"
#: What DynamoDB accepts as a backup's name.
BACKUP_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_SIDECARS = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Contents:
    """What a database holds, as the portal reads it."""

    surveys: int
    waves: int
    responses: int

    def __str__(self) -> str:
        return f"{self.surveys} survey(s), {self.waves} wave(s), {self.responses} response(s)"


def count_contents(store: Store) -> Contents:
    """Count surveys, waves and responses through the storage port, a page at a time."""
    surveys = store.list_surveys()
    waves = responses = 0
    for survey in surveys:
        for wave in store.list_waves(survey.slug):
            waves += 1
            cursor: str | None = None
            while True:
                page = store.list_responses(
                    survey.slug, wave.wave_id, cursor=cursor, limit=MAX_PAGE_SIZE
                )
                responses += len(page.items)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
    return Contents(len(surveys), waves, responses)


# -- SQLite -------------------------------------------------------------------


def backup_sqlite(database: str | Path, out: str | Path, *, force: bool = False) -> Contents:
    """Copy the live database at ``database`` to the single file ``out``; count what it holds.

    Refuses a missing database, an ``out`` that exists (unless ``force``), is a folder,
    lies in a missing folder or is the database itself.
    """
    source, target = Path(database), Path(out)
    if not source.is_file():
        raise NotFound(f"There is no database at {source}; run `portal init-db` first.")
    if target.is_dir():
        raise ValidationError(f"{target} is a folder; name the backup file to write.")
    if not target.parent.is_dir():
        raise ValidationError(f"The folder {target.parent} does not exist; create it first.")
    sidecars = {Path(f"{source.resolve()}{suffix}") for suffix in _SIDECARS}
    if _same_file(source, target) or target.resolve() in sidecars:
        raise ValidationError("The backup cannot overwrite the live database; choose another file.")
    if target.exists() and not force:
        raise AlreadyExists(f"{target} exists; pass --force to replace it.")
    with _temporary_beside(target, "backup") as temp:
        try:
            live = _read_only(source)
            try:
                _check_portal_database(live, source)
                copy = sqlite3.connect(temp, isolation_level=None)
                try:
                    # pages=-1: the whole database in one step, i.e. one read snapshot.
                    live.backup(copy, pages=-1)
                finally:
                    copy.close()
            finally:
                live.close()
            _check_integrity(temp, source)
            _drop_transient(temp)
            _compact(temp, journal_mode="DELETE")
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot back up {source}: {exc}") from exc
        contents = _count_file(temp)
        _durable_rename(temp, target)
    return contents


def restore_sqlite(backup: str | Path, database: str | Path, *, force: bool = False) -> Contents:
    """Make the backup file ``backup`` the database at ``database``; count what it holds.

    Refuses a file that is not a portal database, one newer than this portal or one
    that fails its integrity check; an existing database unless ``force``; and a
    database that any process has open. An older backup is upgraded on the way in.
    """
    source, target = Path(backup), Path(database)
    if not source.is_file():
        raise NotFound(f"There is no backup file at {source}.")
    if _same_file(source, target):
        raise ValidationError(f"{source} is the database itself; name a backup file.")
    with source.open("rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise ValidationError(f"{source} is not an SQLite database (nor a portal backup).")
    exists = target.exists()
    if exists and not force:
        raise AlreadyExists(
            f"The database {target} exists. Restoring replaces it and every answer in it; "
            "keep a copy with `portal backup` first, then pass --force."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(target) if exists else contextlib.nullcontext() as lock:
        with _temporary_beside(target, "restore") as temp:
            try:
                backup_db = _read_only(source)
                try:
                    _check_portal_database(backup_db, source)
                    copy = sqlite3.connect(temp, isolation_level=None)
                    try:
                        backup_db.backup(copy, pages=-1)
                        copy.execute("PRAGMA journal_mode = DELETE")
                    finally:
                        copy.close()
                finally:
                    backup_db.close()
                _check_integrity(temp, source)
                upgrade = SqliteStore(temp)
                try:
                    upgrade.create_schema()  # applies any missing migration; sets WAL
                finally:
                    upgrade.close()
                page_size = lock.execute("PRAGMA page_size").fetchone()[0] if lock else None
                _compact(temp, journal_mode="WAL", page_size=page_size)
            except sqlite3.Error as exc:
                raise StorageError(f"Cannot restore {source}: {exc}") from exc
            contents = _count_file(temp)
            if lock is None:
                _durable_rename(temp, target)
            else:
                _copy_into(temp, lock, target)
    return contents


def _read_only(path: Path) -> sqlite3.Connection:
    """Open ``path`` read-only: never create it, never write to it."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)


def _check_portal_database(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a file that is not a portal database, or one newer than this portal."""
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise ValidationError(f"{path} is not a readable SQLite database: {exc}") from exc
    if version < 1 or not PORTAL_TABLES <= names:
        raise ValidationError(f"{path} is not a portal database (no portal schema in it).")
    if version > SCHEMA_VERSION:
        raise ValidationError(
            f"{path} has schema version {version}, newer than this portal's {SCHEMA_VERSION}; "
            "upgrade the portal first."
        )


def _drop_transient(path: Path) -> None:
    """Leave the sign-in throttle's counters out of a backup.

    They hold keyed hashes of client addresses that the portal keeps for at most one
    15-minute window; a backup would keep them as long as the backup lives, and a
    restored database needs none of them.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'attempts'").fetchone():
            conn.execute("DELETE FROM attempts")
    finally:
        conn.close()


def _compact(path: Path, *, journal_mode: str, page_size: int | None = None) -> None:
    """Rebuild ``path`` with VACUUM (no free pages, pages in key order) in one journal mode."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA secure_delete = ON")
        if page_size:
            conn.execute(f"PRAGMA page_size = {int(page_size)}")
        conn.execute("VACUUM")
        conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    finally:
        conn.close()  # in WAL mode, the last close checkpoints and removes the WAL


def _check_integrity(path: Path, named: Path) -> None:
    """Raise ``ValidationError`` unless SQLite finds ``path`` sound."""
    conn = _read_only(path)
    try:
        found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:  # damage bad enough to stop the check itself
        found = [str(exc)]
    finally:
        conn.close()
    if found != ["ok"]:
        raise ValidationError(
            f"{named} is damaged (SQLite's integrity check failed); use another backup.",
            errors=found[:10],
        )


def _count_file(path: Path) -> Contents:
    """Count what the database file at ``path`` holds, read through the portal's adapter."""
    store = SqliteStore(path)
    try:
        return count_contents(store)
    finally:
        store.close()


@contextlib.contextmanager
def _temporary_beside(target: Path, purpose: str) -> Iterator[Path]:
    """Yield a fresh private (0600) file beside ``target``; remove it and its journals after."""
    temp = target.with_name(f".{target.name}.{purpose}-{secrets.token_hex(4)}")
    os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    try:
        yield temp
    finally:
        for name in (temp, *(Path(f"{temp}{s}") for s in _SIDECARS)):
            with contextlib.suppress(FileNotFoundError):
                name.unlink()


@contextlib.contextmanager
def _exclusive(database: Path) -> Iterator[sqlite3.Connection]:
    """Hold an exclusive lock on ``database``; refuse if any process has it open.

    In WAL mode every open connection holds a shared lock for as long as it is open,
    so the exclusive lock is granted only when nobody else is connected; it is then
    held until the end, so no portal process can open the database meanwhile.
    """
    conn = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise Conflict(
                    f"The database {database} is in use (is the portal running?). "
                    "Stop every portal process, then restore."
                ) from exc
            raise StorageError(f"Cannot open {database}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise ValidationError(
                f"{database} is not an SQLite database; move it away or restore elsewhere."
            ) from exc
        yield conn
    finally:
        conn.close()


def _copy_into(temp: Path, lock: sqlite3.Connection, target: Path) -> None:
    """Overwrite the locked database with ``temp`` in one transaction; leave no old pages.

    The backup API writes every page of the new database and truncates the file to its
    size; the checkpoint then moves it out of the WAL and empties the WAL, so nothing
    of the replaced database stays in the file or beside it.
    """
    new = _read_only(temp)
    try:
        # In WAL mode first (the portal's mode), so the old pages never go to a rollback
        # journal: under an exclusive lock SQLite would keep that file, old pages and all.
        lock.execute("PRAGMA journal_mode = WAL")
        new.backup(lock, pages=-1)
        lock.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise StorageError(f"Cannot replace {target}: {exc}; it is unchanged.") from exc
    finally:
        new.close()
    # Switching to WAL journals page 1; a WAL database never reads that file again.
    with contextlib.suppress(FileNotFoundError):
        Path(f"{target}-journal").unlink()


def _durable_rename(temp: Path, target: Path) -> None:
    """Flush ``temp`` to disk, rename it to ``target`` atomically and flush the folder."""
    with temp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


# -- DynamoDB -----------------------------------------------------------------


@dataclass(frozen=True)
class DynamoBackup:
    """An on-demand backup of the portal's DynamoDB table."""

    arn: str
    name: str
    table: str
    status: str


def backup_dynamodb(store: DynamoStore, *, name: str) -> DynamoBackup:
    """Request an on-demand backup (``CreateBackup``) of the store's table.

    DynamoDB takes it asynchronously: it holds every write committed up to a minute
    before the request, none made a minute after, and possibly some in between.
    """
    if not BACKUP_NAME_RE.fullmatch(name):
        raise ValidationError(
            f"{name!r} cannot name a DynamoDB backup: use 3 to 255 letters, digits, _ . or -."
        )
    client = store.table.meta.client
    with _aws(f"backing up the table {store.table.name!r}"):
        details = client.create_backup(TableName=store.table.name, BackupName=name)["BackupDetails"]
    return DynamoBackup(
        details["BackupArn"], details["BackupName"], store.table.name, details["BackupStatus"]
    )


def restore_dynamodb(
    target: DynamoStore, backup_arn: str, *, poll_seconds: int = 20, max_polls: int = 540
) -> Contents:
    """Restore ``backup_arn`` into the new table ``target`` names; count what it holds.

    Refuses an unknown or unfinished backup, one that is not of a portal table, and a
    target table that exists. Waits until the table is active (by default up to three
    hours; large tables take a while), switches TTL on for ``TTL_ATTRIBUTE`` (a restore
    does not carry TTL over), then reads it through the portal's adapter.
    """
    client = target.table.meta.client
    name = target.table.name
    with _aws("reading the backup"):
        try:
            found = client.describe_backup(BackupArn=backup_arn)["BackupDescription"]
        except ClientError as exc:
            if _code(exc) in {"BackupNotFoundException", "ValidationException"}:
                raise NotFound(f"There is no backup {backup_arn!r}.") from exc
            raise
    status = found["BackupDetails"]["BackupStatus"]
    if status != "AVAILABLE":
        raise Conflict(f"The backup is {status}, not AVAILABLE; try again when it is ready.")
    keys = {k["AttributeName"] for k in found["SourceTableDetails"]["KeySchema"]}
    if keys != {"pk", "sk"}:
        raise ValidationError("The backup is not of a portal table (its keys are not pk, sk).")
    with _aws(f"restoring into {name!r}"):
        try:
            client.restore_table_from_backup(
                TargetTableName=name,
                BackupArn=backup_arn,
                # Encrypted with the AWS-managed key, as infra/portal.yaml declares the table.
                SSESpecificationOverride={"Enabled": True, "SSEType": "KMS"},
            )
        except ClientError as exc:
            if _code(exc) in {"TableAlreadyExistsException", "ResourceInUseException"}:
                raise AlreadyExists(
                    f"The table {name!r} exists; restore into a new table name."
                ) from exc
            raise
        client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": poll_seconds, "MaxAttempts": max_polls}
        )
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
    target.check()
    return count_contents(target)


@contextlib.contextmanager
def _aws(doing: str) -> Iterator[None]:
    """Turn boto3 failures into ``StorageError`` naming what was being done."""
    try:
        yield
    except ClientError as exc:
        error: dict[str, Any] = exc.response.get("Error", {})
        raise StorageError(
            f"DynamoDB refused {doing}: {error.get('Code')}: {error.get('Message')}"
        ) from exc
    except BotoCoreError as exc:
        raise StorageError(f"DynamoDB failed while {doing}: {exc}") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
