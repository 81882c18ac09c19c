"""The embedded SQLite adapter, for trying the portal out and for one-server use.

The database runs in WAL mode so that readers never block the respondent who
is writing. The schema is versioned with ``PRAGMA user_version`` and upgraded by
forward-only migrations (``MIGRATIONS``); ``create_schema`` applies the missing ones.

The files keep no history and no order (docs/anonymity.md, "Storage"):

- After every transaction that left anything in the WAL, its pages are copied
  into the database and the WAL is truncated to zero bytes
  (``PRAGMA wal_checkpoint(TRUNCATE)``; about 0.5 ms a write, measured over
  1,000 submissions), so it never holds answers, or a used
  code's flag beside the answers committed with it, in arrival order. A
  checkpoint that is busy (another process reading) is retried after the next
  transaction; ``journal_size_limit`` caps what it leaves meanwhile.
- ``secure_delete`` overwrites deleted rows and freed pages with zeros (old
  snapshots, replaced rows), so nothing deleted can be read back from the file.
- Responses live in a WITHOUT ROWID table keyed by their random key, and after
  every stored response the file is rebuilt with ``VACUUM`` (``_compact``):
  SQLite places a new row in its page by arrival (later rows lower in the
  page) and allocates pages as they fill, so without a rebuild the byte layout
  would order the responses within a page. Rebuilt, every table lies in key
  order and the file is a function of its content only. The cost grows with
  the file: about 6 ms per submission at 1,000 responses and 30 ms at 5,000
  (one-server scale); a failed rebuild never fails the stored response.

Backend failures are logged on ``portal.storage``, by class and SQLite's
message only (never a value that was written).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from portal.domain import aggregates
from portal.domain.accounts import ApiToken, AuditEvent, User
from portal.domain.entities import (
    AccessCode,
    Department,
    Link,
    Response,
    StoreOutcome,
    Survey,
    Wave,
    WaveStatus,
)
from portal.domain.errors import (
    AlreadyExists,
    CodeAlreadyUsed,
    Conflict,
    NotFound,
    StorageError,
)
from portal.domain.scorecard import PlanAction, ScorecardSettings, plan_order
from portal.storage import codec
from portal.storage.port import MAX_PAGE_SIZE, NO_SNAPSHOT, Page

#: Forward-only migrations; entry N upgrades a database from version N to N + 1.
#: Responses live in a WITHOUT ROWID table keyed by their random key, so the file
#: keeps no insertion sequence that could hint at when an answer arrived.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE surveys (
        slug TEXT PRIMARY KEY,
        data TEXT NOT NULL
    );
    CREATE TABLE departments (
        survey_slug TEXT NOT NULL,
        code TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (survey_slug, code)
    ) WITHOUT ROWID;
    CREATE TABLE waves (
        survey_slug TEXT NOT NULL,
        wave_id TEXT NOT NULL,
        status TEXT NOT NULL,
        created_on TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (survey_slug, wave_id)
    ) WITHOUT ROWID;
    CREATE TABLE responses (
        survey_slug TEXT NOT NULL,
        wave_id TEXT NOT NULL,
        key TEXT NOT NULL,
        department TEXT NOT NULL,
        audience TEXT NOT NULL,
        language TEXT NOT NULL,
        day TEXT NOT NULL,
        answers TEXT NOT NULL,
        comment TEXT,
        PRIMARY KEY (survey_slug, wave_id, key)
    ) WITHOUT ROWID;
    """,
    # 2: survey links per wave and department; single-use access codes (hashed).
    """
    CREATE TABLE links (
        token TEXT PRIMARY KEY,
        survey_slug TEXT NOT NULL,
        wave_id TEXT NOT NULL,
        department TEXT NOT NULL,
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX links_by_wave ON links (survey_slug, wave_id, department, token);
    CREATE TABLE access_codes (
        code_hash TEXT PRIMARY KEY,
        survey_slug TEXT NOT NULL,
        wave_id TEXT NOT NULL,
        department TEXT NOT NULL,
        used INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    """,
    # 3: HR accounts, the audit trail, sign-in throttling counters.
    """
    CREATE TABLE users (
        email TEXT PRIMARY KEY,
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE audit (
        sort_key TEXT PRIMARY KEY,
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE attempts (
        key TEXT PRIMARY KEY,
        hits INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 4: result aggregates per wave and department, behind a per-wave pointer.
    """
    CREATE TABLE aggregate_cells (
        survey_slug TEXT NOT NULL,
        wave_id TEXT NOT NULL,
        snapshot_id TEXT NOT NULL,
        department TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (survey_slug, wave_id, snapshot_id, department)
    ) WITHOUT ROWID;
    CREATE TABLE aggregate_heads (
        survey_slug TEXT NOT NULL,
        wave_id TEXT NOT NULL,
        snapshot_id TEXT NOT NULL,
        computed_at TEXT NOT NULL,
        PRIMARY KEY (survey_slug, wave_id)
    ) WITHOUT ROWID;
    """,
    # 5: personal API tokens, kept only as SHA-256 hashes, listed per account.
    """
    CREATE TABLE api_tokens (
        token_hash TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        created_on TEXT NOT NULL,
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX api_tokens_by_email ON api_tokens (email, created_on, token_hash);
    """,
    # 6: reinforcement plan actions per survey and department; scorecard settings.
    """
    CREATE TABLE plan_actions (
        survey_slug TEXT NOT NULL,
        department TEXT NOT NULL,
        action_id TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (survey_slug, department, action_id)
    ) WITHOUT ROWID;
    CREATE TABLE scorecard_settings (
        survey_slug TEXT PRIMARY KEY,
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 7: each department's comment texts per snapshot, apart from its numeric cell, so
    # reading the cells (every dashboard view) never reads the texts.
    """
    CREATE TABLE aggregate_comments (
        survey_slug TEXT NOT NULL,
        wave_id TEXT NOT NULL,
        snapshot_id TEXT NOT NULL,
        department TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (survey_slug, wave_id, snapshot_id, department)
    ) WITHOUT ROWID;
    """,
    # 8: each opened wave's departments as of its opening (``freeze_departments``). Waves
    # opened before this version are frozen now, with the departments as they are.
    """
    CREATE TABLE wave_departments (
        survey_slug TEXT NOT NULL,
        wave_id TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (survey_slug, wave_id)
    ) WITHOUT ROWID;
    INSERT INTO wave_departments (survey_slug, wave_id, data)
    SELECT w.survey_slug, w.wave_id,
           (SELECT json_group_array(json(d.data)) FROM departments AS d
            WHERE d.survey_slug = w.survey_slug)
    FROM waves AS w WHERE w.status <> 'draft';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
_TRANSIENT = ("database is locked", "database is busy", "disk i/o error")
#: What a WAL may keep on disk after a checkpoint that could not truncate it (busy).
JOURNAL_SIZE_LIMIT = 256 * 1024
#: How long a checkpoint waits for other connections before leaving it to a later commit.
CHECKPOINT_WAIT_MS = 200
log = logging.getLogger("portal.storage")


class SqliteStore:
    """A ``Store`` over one SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path, *, timeout: float = 5.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._local = threading.local()
        self._checked = False

    # -- connections -------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # A "file:" URI opens as given (e.g. "?mode=ro" for a read-only copy).
            uri = self.path.startswith("file:")
            if self.path != ":memory:" and not uri:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, uri=uri)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
            main = conn.execute("PRAGMA database_list").fetchone()[2]
            self._local.wal = f"{main}-wal" if main else None
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """Run a block in one IMMEDIATE transaction, translating SQLite errors.

        A failure leaves no transaction open (the next call starts afresh) and is
        logged. After the commit, the WAL is emptied (``_trim_wal``).
        """
        conn: sqlite3.Connection | None = None
        try:
            conn = self._connect()
            if not self._checked:
                self._check_version(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._abandon(conn, exc)
            transient = any(marker in str(exc).lower() for marker in _TRANSIENT)
            raise StorageError(f"SQLite error: {exc}", transient=transient) from exc
        except sqlite3.DatabaseError as exc:
            self._abandon(conn, exc)
            raise StorageError(f"SQLite error: {exc}") from exc
        self._trim_wal(conn)

    @staticmethod
    def _abandon(conn: sqlite3.Connection | None, exc: sqlite3.Error) -> None:
        """Log a backend failure and roll back what is left of its transaction."""
        log.error("SQLite failed: %s: %s", type(exc).__name__, exc)
        try:
            if conn is not None and conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the connection is unusable; the next statement reports it again

    def _trim_wal(self, conn: sqlite3.Connection) -> None:
        """Checkpoint the WAL into the database and truncate it to zero bytes.

        Runs after every transaction; one that wrote nothing finds the WAL empty
        and costs a ``stat``. Never fails the write that was just committed: a
        checkpoint that is busy (a reader in another process) or fails is
        retried after the next transaction (a failure is logged).
        """
        wal = getattr(self._local, "wal", None)
        try:
            if not wal or os.stat(wal).st_size == 0:
                return
        except OSError:
            return
        try:
            conn.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        except sqlite3.Error as exc:
            log.error("SQLite checkpoint failed: %s: %s", type(exc).__name__, exc)

    def _compact(self) -> None:
        """Rebuild the file with ``VACUUM`` so its layout no longer shows arrival order.

        Rule: after a response is stored, every table is rewritten in key order
        (random keys for responses, hashes for codes), free pages are dropped and
        the WAL emptied after (the commit before it emptied it already), so the
        bytes on disk depend on what is stored, never on when. Never fails the
        stored response: a rebuild that is busy or fails (e.g. a full disk; it
        needs the file's size again) is logged and the next stored response
        rebuilds again.
        """
        conn = self._connect()
        try:
            conn.execute("VACUUM")
        except sqlite3.Error as exc:
            log.error("SQLite rebuild failed: %s: %s", type(exc).__name__, exc)
        self._trim_wal(conn)

    def _check_version(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise StorageError(
                f"The database {self.path} has schema version {version}, but this portal "
                f"needs version {SCHEMA_VERSION}. Run `portal init-db` to create or upgrade it."
            )
        self._checked = True

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- schema ------------------------------------------------------------

    def create_schema(self) -> None:
        """Apply every missing migration, each in its own transaction."""
        try:
            conn = self._connect()
            conn.execute("PRAGMA journal_mode = WAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"The database {self.path} has schema version {version}, newer than this "
                    f"portal's {SCHEMA_VERSION}; upgrade the portal instead."
                )
            for number in range(version, SCHEMA_VERSION):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in MIGRATIONS[number].split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number + 1}")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot create the SQLite schema in {self.path}: {exc}") from exc
        self._checked = True

    def check(self) -> None:
        """Raise ``StorageError`` unless the database is reachable and current."""
        with self._tx() as conn:
            conn.execute("SELECT 1").fetchone()

    def check_write(self) -> None:
        """Raise ``StorageError`` unless a write reaches the disk now.

        Rewrites the schema version with its own value: one page appended to
        the WAL and committed, nothing a reader can see changes, no table needed.
        """
        with self._tx() as conn:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- surveys -----------------------------------------------------------

    def add_survey(self, survey: Survey) -> None:
        """Store a new survey."""
        with self._tx() as conn:
            try:
                conn.execute(
                    "INSERT INTO surveys (slug, data) VALUES (?, ?)",
                    (survey.slug, json.dumps(codec.survey_to_dict(survey))),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(f"A survey with the slug {survey.slug!r} exists.") from exc

    def get_survey(self, slug: str) -> Survey:
        """Return one survey."""
        with self._tx() as conn:
            row = conn.execute("SELECT data FROM surveys WHERE slug = ?", (slug,)).fetchone()
        if row is None:
            raise NotFound(f"There is no survey {slug!r}.")
        return codec.survey_from_dict(json.loads(row[0]))

    def list_surveys(self) -> list[Survey]:
        """Return every survey by slug."""
        with self._tx() as conn:
            rows = conn.execute("SELECT data FROM surveys ORDER BY slug").fetchall()
        return [codec.survey_from_dict(json.loads(row[0])) for row in rows]

    # -- departments -------------------------------------------------------

    def put_departments(self, departments: Sequence[Department]) -> None:
        """Create or replace departments in one transaction."""
        with self._tx() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO departments (survey_slug, code, data) VALUES (?, ?, ?)",
                [
                    (d.survey_slug, d.code, json.dumps(codec.department_to_dict(d)))
                    for d in departments
                ],
            )

    def list_departments(self, survey_slug: str) -> list[Department]:
        """Return a survey's departments by code."""
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT data FROM departments WHERE survey_slug = ? ORDER BY code",
                (survey_slug,),
            ).fetchall()
        return [codec.department_from_dict(json.loads(row[0])) for row in rows]

    # -- waves -------------------------------------------------------------

    def add_wave(self, wave: Wave) -> None:
        """Store a new wave."""
        with self._tx() as conn:
            try:
                conn.execute(
                    "INSERT INTO waves (survey_slug, wave_id, status, created_on, data) "
                    "VALUES (?, ?, ?, ?, ?)",
                    self._wave_row(wave),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(
                    f"Survey {wave.survey_slug!r} has a wave {wave.wave_id!r} already."
                ) from exc

    def update_wave(self, wave: Wave, *, expected_status: WaveStatus) -> None:
        """Replace a wave if its stored status is still ``expected_status``."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT status FROM waves WHERE survey_slug = ? AND wave_id = ?",
                (wave.survey_slug, wave.wave_id),
            ).fetchone()
            if row is None:
                raise NotFound(f"Survey {wave.survey_slug!r} has no wave {wave.wave_id!r}.")
            if row[0] != expected_status.value:
                raise Conflict(
                    f"Wave {wave.wave_id!r} is {row[0]} now, not {expected_status.value}; "
                    "reload and try again."
                )
            conn.execute(
                "UPDATE waves SET status = ?, created_on = ?, data = ? "
                "WHERE survey_slug = ? AND wave_id = ?",
                (
                    wave.status.value,
                    wave.created_on.isoformat(),
                    json.dumps(codec.wave_to_dict(wave)),
                    wave.survey_slug,
                    wave.wave_id,
                ),
            )

    def get_wave(self, survey_slug: str, wave_id: str) -> Wave:
        """Return one wave."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT data FROM waves WHERE survey_slug = ? AND wave_id = ?",
                (survey_slug, wave_id),
            ).fetchone()
        if row is None:
            raise NotFound(f"Survey {survey_slug!r} has no wave {wave_id!r}.")
        return codec.wave_from_dict(json.loads(row[0]))

    def list_waves(self, survey_slug: str) -> list[Wave]:
        """Return a survey's waves, oldest first."""
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT data FROM waves WHERE survey_slug = ? ORDER BY created_on, wave_id",
                (survey_slug,),
            ).fetchall()
        return [codec.wave_from_dict(json.loads(row[0])) for row in rows]

    def freeze_departments(
        self, survey_slug: str, wave_id: str, departments: Sequence[Department]
    ) -> list[Department]:
        """Store the wave's departments unless it has some; return the stored ones."""
        data = json.dumps([codec.department_to_dict(d) for d in departments])
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO wave_departments (survey_slug, wave_id, data) "
                "VALUES (?, ?, ?)",
                (survey_slug, wave_id, data),
            )
            row = conn.execute(
                "SELECT data FROM wave_departments WHERE survey_slug = ? AND wave_id = ?",
                (survey_slug, wave_id),
            ).fetchone()
        return self._frozen(row[0])

    def get_frozen_departments(self, survey_slug: str, wave_id: str) -> list[Department] | None:
        """Return the wave's frozen departments by code, or ``None``."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT data FROM wave_departments WHERE survey_slug = ? AND wave_id = ?",
                (survey_slug, wave_id),
            ).fetchone()
        return None if row is None else self._frozen(row[0])

    @staticmethod
    def _frozen(data: str) -> list[Department]:
        found = [codec.department_from_dict(d) for d in json.loads(data)]
        return sorted(found, key=lambda d: d.code)

    @staticmethod
    def _wave_row(wave: Wave) -> tuple[str, str, str, str, str]:
        return (
            wave.survey_slug,
            wave.wave_id,
            wave.status.value,
            wave.created_on.isoformat(),
            json.dumps(codec.wave_to_dict(wave)),
        )

    # -- links and codes ---------------------------------------------------

    def put_links(self, links: Sequence[Link]) -> None:
        """Create or replace links in one transaction."""
        with self._tx() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO links (token, survey_slug, wave_id, department, data) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        x.token,
                        x.survey_slug,
                        x.wave_id,
                        x.department_code,
                        json.dumps(codec.link_to_dict(x)),
                    )
                    for x in links
                ],
            )

    def get_link(self, token: str) -> Link:
        """Return one link."""
        with self._tx() as conn:
            row = conn.execute("SELECT data FROM links WHERE token = ?", (token,)).fetchone()
        if row is None:
            raise NotFound("There is no survey link with that token.")
        return codec.link_from_dict(json.loads(row[0]))

    def list_links(self, survey_slug: str, wave_id: str) -> list[Link]:
        """Return a wave's links by department, then token."""
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT data FROM links WHERE survey_slug = ? AND wave_id = ? "
                "ORDER BY department, token",
                (survey_slug, wave_id),
            ).fetchall()
        return [codec.link_from_dict(json.loads(row[0])) for row in rows]

    def add_access_codes(self, codes: Sequence[AccessCode]) -> None:
        """Insert new codes, all or none."""
        with self._tx() as conn:
            try:
                conn.executemany(
                    "INSERT INTO access_codes (code_hash, survey_slug, wave_id, department, used) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [
                        (c.code_hash, c.survey_slug, c.wave_id, c.department_code, int(c.used))
                        for c in codes
                    ],
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists("An access code with the same hash exists.") from exc

    def get_access_code(self, code_hash: str) -> AccessCode:
        """Return one code by its hash."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT code_hash, survey_slug, wave_id, department, used FROM access_codes "
                "WHERE code_hash = ?",
                (code_hash,),
            ).fetchone()
        if row is None:
            raise NotFound("There is no such access code.")
        return codec.access_code_from_dict(
            dict(
                zip(
                    ("code_hash", "survey_slug", "wave_id", "department_code", "used"),
                    row,
                    strict=True,
                )
            )
        )

    # -- responses ---------------------------------------------------------

    def add_response(self, response: Response, *, code_hash: str | None = None) -> StoreOutcome:
        """Insert a response unless its key is stored already, consuming a code if given."""
        with self._tx() as conn:
            if code_hash is not None:
                seen = conn.execute(
                    "SELECT 1 FROM responses WHERE survey_slug = ? AND wave_id = ? AND key = ?",
                    (response.survey_slug, response.wave_id, response.key),
                ).fetchone()
                if seen:
                    return StoreOutcome.ALREADY_STORED
                used = conn.execute(
                    "UPDATE access_codes SET used = 1 WHERE code_hash = ? AND used = 0",
                    (code_hash,),
                )
                if used.rowcount != 1:
                    exists = conn.execute(
                        "SELECT 1 FROM access_codes WHERE code_hash = ?", (code_hash,)
                    ).fetchone()
                    if exists:
                        raise CodeAlreadyUsed("This code was already used.")
                    raise NotFound("There is no such access code.")
            cursor = conn.execute(
                "INSERT OR IGNORE INTO responses (survey_slug, wave_id, key, department, "
                "audience, language, day, answers, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    response.survey_slug,
                    response.wave_id,
                    response.key,
                    response.department_code,
                    response.audience.value,
                    response.language,
                    response.day.isoformat(),
                    json.dumps(dict(response.answers), sort_keys=True),
                    response.comment,
                ),
            )
        if cursor.rowcount != 1:
            return StoreOutcome.ALREADY_STORED
        self._compact()
        return StoreOutcome.STORED

    def list_responses(
        self, survey_slug: str, wave_id: str, *, cursor: str | None = None, limit: int = 500
    ) -> Page[Response]:
        """Return a page of a wave's responses, ordered by key."""
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT key, department, audience, language, day, answers, comment "
                "FROM responses WHERE survey_slug = ? AND wave_id = ? AND key > ? "
                "ORDER BY key LIMIT ?",
                (survey_slug, wave_id, cursor or "", limit + 1),
            ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [
            codec.response_from_fields(
                survey_slug, wave_id, key, dept, aud, lang, day, json.loads(answers), comment
            )
            for key, dept, aud, lang, day, answers, comment in rows
        ]
        return Page(items, items[-1].key if more else None)

    # -- accounts, audit trail, throttling -----------------------------------

    def add_user(self, user: User) -> None:
        """Store a new account."""
        with self._tx() as conn:
            try:
                conn.execute(
                    "INSERT INTO users (email, data) VALUES (?, ?)",
                    (user.email, json.dumps(codec.user_to_dict(user))),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(f"There is an account for {user.email} already.") from exc

    def put_user(self, user: User) -> None:
        """Replace an existing account."""
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE users SET data = ? WHERE email = ?",
                (json.dumps(codec.user_to_dict(user)), user.email),
            )
            if cursor.rowcount != 1:
                raise NotFound(f"There is no account for {user.email}.")

    def get_user(self, email: str) -> User:
        """Return one account."""
        with self._tx() as conn:
            row = conn.execute("SELECT data FROM users WHERE email = ?", (email,)).fetchone()
        if row is None:
            raise NotFound(f"There is no account for {email}.")
        return codec.user_from_dict(json.loads(row[0]))

    def list_users(self) -> list[User]:
        """Return every account by e-mail."""
        with self._tx() as conn:
            rows = conn.execute("SELECT data FROM users ORDER BY email").fetchall()
        return [codec.user_from_dict(json.loads(row[0])) for row in rows]

    def add_audit_event(self, event: AuditEvent) -> None:
        """Append an audit event."""
        sort_key = codec.audit_sort_key(event)
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO audit (sort_key, data) VALUES (?, ?)",
                (sort_key, json.dumps(codec.audit_to_dict(event))),
            )

    def list_audit_events(self, *, cursor: str | None = None, limit: int = 50) -> Page[AuditEvent]:
        """Return audit events, newest first."""
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT sort_key, data FROM audit WHERE sort_key < ? "
                "ORDER BY sort_key DESC LIMIT ?",
                (cursor or "\uffff", limit + 1),
            ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        events = [codec.audit_from_dict(json.loads(data)) for _, data in rows]
        return Page(events, rows[-1][0] if more else None)

    def take_attempt(self, key: str, *, limit: int, window: int, now: int) -> bool:
        """Add one attempt unless ``limit`` are recorded: one conditional UPSERT."""
        bucket = f"{key}#{now // window}"
        with self._tx() as conn:
            conn.execute("DELETE FROM attempts WHERE expires_at < ?", (now,))
            if limit < 1:
                return False
            # The UPDATE branch's WHERE makes the increment conditional; changes()
            # tells whether a row was written. BEGIN IMMEDIATE serialises writers.
            conn.execute(
                "INSERT INTO attempts (key, hits, expires_at) VALUES (?, 1, ?) "
                "ON CONFLICT (key) DO UPDATE SET hits = hits + 1 WHERE hits < ?",
                (bucket, (now // window + 1) * window, limit),
            )
            taken = conn.execute("SELECT changes()").fetchone()[0] == 1
        return bool(taken)

    def give_back_attempt(self, key: str, *, window: int, now: int) -> None:
        """Remove one attempt from the window, never going below zero."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE attempts SET hits = hits - 1 WHERE key = ? AND hits > 0",
                (f"{key}#{now // window}",),
            )

    def count_attempts(self, key: str, *, window: int, now: int) -> int:
        """Count the attempts in the current fixed window."""
        bucket = f"{key}#{now // window}"
        with self._tx() as conn:
            row = conn.execute(
                "SELECT hits FROM attempts WHERE key = ? AND expires_at >= ?", (bucket, now)
            ).fetchone()
        return int(row[0]) if row else 0

    # -- API tokens ------------------------------------------------------------

    def add_api_token(self, token: ApiToken) -> None:
        """Store a new API token."""
        with self._tx() as conn:
            try:
                conn.execute(
                    "INSERT INTO api_tokens (token_hash, email, created_on, data) "
                    "VALUES (?, ?, ?, ?)",
                    self._token_row(token),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists("An API token with the same hash exists.") from exc

    def get_api_token(self, token_hash: str) -> ApiToken:
        """Return one API token by its hash."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT data FROM api_tokens WHERE token_hash = ?", (token_hash,)
            ).fetchone()
        if row is None:
            raise NotFound("There is no such API token.")
        return codec.api_token_from_dict(json.loads(row[0]))

    def list_api_tokens(self, email: str) -> list[ApiToken]:
        """Return an account's API tokens, oldest first."""
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT data FROM api_tokens WHERE email = ? ORDER BY created_on, token_hash",
                (email,),
            ).fetchall()
        return [codec.api_token_from_dict(json.loads(row[0])) for row in rows]

    def put_api_token(self, token: ApiToken) -> None:
        """Replace an existing API token."""
        token_hash, email, created_on, data = self._token_row(token)
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE api_tokens SET email = ?, created_on = ?, data = ? WHERE token_hash = ?",
                (email, created_on, data, token_hash),
            )
            if cursor.rowcount != 1:
                raise NotFound("There is no such API token.")

    @staticmethod
    def _token_row(token: ApiToken) -> tuple[str, str, str, str]:
        return (
            token.token_hash,
            token.email,
            token.created_on.isoformat(),
            json.dumps(codec.api_token_to_dict(token)),
        )

    # -- result aggregates -----------------------------------------------------

    def put_snapshot(self, snapshot: aggregates.Snapshot, *, replaces: str | None = None) -> bool:
        """Write a snapshot's cells and texts and switch the wave to it, in one transaction.

        With ``replaces``, only if the wave's current snapshot is that one (the
        transaction holds the write lock from its start, so the check and the
        switch cannot interleave with another writer's).
        """
        key = (snapshot.survey_slug, snapshot.wave_id, snapshot.snapshot_id)
        with self._tx() as conn:
            if replaces is not None:
                head = conn.execute(
                    "SELECT snapshot_id FROM aggregate_heads WHERE survey_slug = ? AND wave_id = ?",
                    key[:2],
                ).fetchone()
                if (head[0] if head else NO_SNAPSHOT) != replaces:
                    return False
            conn.executemany(
                "INSERT OR REPLACE INTO aggregate_cells (survey_slug, wave_id, snapshot_id, "
                "department, data) VALUES (?, ?, ?, ?, ?)",
                [
                    (*key, code, codec.snapshot_cell_text(cell))
                    for code, cell in snapshot.cells.items()
                ],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO aggregate_comments (survey_slug, wave_id, snapshot_id, "
                "department, data) VALUES (?, ?, ?, ?, ?)",
                [
                    (*key, code, codec.snapshot_comments_text(texts))
                    for code, texts in (snapshot.comments or {}).items()
                ],
            )
            conn.execute(
                "INSERT INTO aggregate_heads (survey_slug, wave_id, snapshot_id, computed_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (survey_slug, wave_id) DO UPDATE SET "
                "snapshot_id = excluded.snapshot_id, computed_at = excluded.computed_at",
                (
                    snapshot.survey_slug,
                    snapshot.wave_id,
                    snapshot.snapshot_id,
                    snapshot.computed_at.isoformat(),
                ),
            )
            for table in ("aggregate_cells", "aggregate_comments"):
                conn.execute(
                    f"DELETE FROM {table} WHERE survey_slug = ? AND wave_id = ? "
                    "AND snapshot_id != ?",
                    key,
                )
        return True

    def get_snapshot(self, survey_slug: str, wave_id: str) -> aggregates.Snapshot | None:
        """Return the wave's current snapshot, its cells only."""
        with self._tx() as conn:
            head = conn.execute(
                "SELECT snapshot_id, computed_at FROM aggregate_heads "
                "WHERE survey_slug = ? AND wave_id = ?",
                (survey_slug, wave_id),
            ).fetchone()
            if head is None:
                return None
            rows = conn.execute(
                "SELECT department, data FROM aggregate_cells WHERE survey_slug = ? "
                "AND wave_id = ? AND snapshot_id = ? ORDER BY department",
                (survey_slug, wave_id, head[0]),
            ).fetchall()
        return codec.snapshot_from_rows(survey_slug, wave_id, head[0], head[1], rows)

    def get_snapshot_comments(
        self, survey_slug: str, wave_id: str, department: str
    ) -> aggregates.DepartmentComments:
        """Return one department's comment texts in the wave's current snapshot."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT h.snapshot_id, c.data FROM aggregate_heads h LEFT JOIN "
                "aggregate_comments c ON c.survey_slug = h.survey_slug AND "
                "c.wave_id = h.wave_id AND c.snapshot_id = h.snapshot_id AND c.department = ? "
                "WHERE h.survey_slug = ? AND h.wave_id = ?",
                (department, survey_slug, wave_id),
            ).fetchone()
        if row is None:
            return aggregates.DepartmentComments(None)
        return codec.snapshot_comments_from_text(row[0], row[1])

    # -- reinforcement plans and scorecard settings ------------------------------

    def put_plan_action(self, action: PlanAction) -> None:
        """Create or replace a plan action."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO plan_actions (survey_slug, department, action_id, data) "
                "VALUES (?, ?, ?, ?)",
                (
                    action.survey_slug,
                    action.department,
                    action.action_id,
                    json.dumps(codec.plan_action_to_dict(action)),
                ),
            )

    def get_plan_action(self, survey_slug: str, department: str, action_id: str) -> PlanAction:
        """Return one plan action."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT data FROM plan_actions WHERE survey_slug = ? AND department = ? "
                "AND action_id = ?",
                (survey_slug, department, action_id),
            ).fetchone()
        if row is None:
            raise NotFound(f"Survey {survey_slug!r} has no plan action {action_id!r} there.")
        return codec.plan_action_from_dict(json.loads(row[0]))

    def list_plan_actions(
        self, survey_slug: str, department: str | None = None
    ) -> list[PlanAction]:
        """Return a survey's (or one department's) plan actions in plan order."""
        with self._tx() as conn:
            if department is None:
                rows = conn.execute(
                    "SELECT data FROM plan_actions WHERE survey_slug = ?", (survey_slug,)
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT data FROM plan_actions WHERE survey_slug = ? AND department = ?",
                    (survey_slug, department),
                ).fetchall()
        actions = [codec.plan_action_from_dict(json.loads(row[0])) for row in rows]
        return sorted(actions, key=plan_order)

    def delete_plan_action(self, survey_slug: str, department: str, action_id: str) -> None:
        """Remove a plan action."""
        with self._tx() as conn:
            cursor = conn.execute(
                "DELETE FROM plan_actions WHERE survey_slug = ? AND department = ? "
                "AND action_id = ?",
                (survey_slug, department, action_id),
            )
            if cursor.rowcount != 1:
                raise NotFound(f"Survey {survey_slug!r} has no plan action {action_id!r} there.")

    def get_scorecard_settings(self, survey_slug: str) -> ScorecardSettings:
        """Return the survey's scorecard settings, or the defaults."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT data FROM scorecard_settings WHERE survey_slug = ?", (survey_slug,)
            ).fetchone()
        if row is None:
            return ScorecardSettings(survey_slug)
        return codec.scorecard_settings_from_dict(json.loads(row[0]))

    def put_scorecard_settings(self, settings: ScorecardSettings) -> None:
        """Create or replace a survey's scorecard settings."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO scorecard_settings (survey_slug, data) VALUES (?, ?)",
                (settings.survey_slug, json.dumps(codec.scorecard_settings_to_dict(settings))),
            )
