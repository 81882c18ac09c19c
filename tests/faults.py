"""Real faults for tests: a disk that takes no more bytes, a store that goes away."""

from __future__ import annotations

import resource
import signal
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from portal.domain.errors import StorageError
from portal.storage.port import Store

#: No file this process writes may grow past this many bytes inside ``full_disk``.
FULL_DISK_BYTES = 1024


@contextmanager
def full_disk() -> Iterator[None]:
    """Let no file written by this process grow, as on a full disk (root included).

    ``RLIMIT_FSIZE`` binds root too, unlike file modes; a write that would grow
    a file past the limit fails with EFBIG (SIGXFSZ is ignored meanwhile).
    Reads, and writes that stay inside a file, still work.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FULL_DISK_BYTES, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def empty_wal(path: Path | str) -> None:
    """Checkpoint a SQLite database and truncate its WAL, so the next write must grow it."""
    conn = sqlite3.connect(path)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "the WAL could not be truncated"
    finally:
        conn.close()


class FlakyStore:
    """A store whose reads and/or writes fail with ``StorageError`` while switched off."""

    WRITES = frozenset(
        {"add_response", "add_access_codes", "put_links", "add_survey", "put_departments"}
    )

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads_fail = False
        self.writes_fail = False
        self.calls: list[str] = []

    def fail(self, *, reads: bool = True, writes: bool = True) -> None:
        """Make reads and/or writes fail from now on."""
        self.reads_fail, self.writes_fail = reads, writes

    def recover(self) -> None:
        """Let every call through again."""
        self.reads_fail = self.writes_fail = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.store, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            failing = self.writes_fail if name in self.WRITES else self.reads_fail
            if failing:
                raise StorageError(f"{name} failed (switched off by the test)", transient=True)
            return method(*args, **kwargs)

        return call
