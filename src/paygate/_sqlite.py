"""The one SQLite connection a store's threads take turns on (private): WAL journal, and every
turn waits for the file's lock at most the time its call has left.

SQLite blocks a writer while another process holds the database's write lock, up to the busy
timeout; the thread lock of the shared connection blocks the same way. Each turn takes what is
left of the call's deadline (``paygate.resilience.deadline.time_left``) as the bound of both,
and a lock not had by then, like any SQLite operational error, is ``StoreUnavailable``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from paygate.errors import StoreUnavailable
from paygate.resilience.deadline import time_left

__all__ = ["SharedConnection"]


class SharedConnection:
    """A SQLite connection shared by a store's threads, one turn at a time."""

    def __init__(
        self, path: Path, *, busy_timeout: float, schema: str, synchronous: str | None = None
    ) -> None:
        self._name = f"SQLite file {str(path)!r}"
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        if synchronous is not None:
            self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(schema)
        self._waits_ms = round(busy_timeout * 1000)

    @contextmanager
    def turn(self) -> Iterator[sqlite3.Connection]:
        """The connection, for as long as the block runs, waiting for the file's lock at most
        the time left of the call in progress."""
        wait = time_left(self._busy_timeout)
        if not self._lock.acquire(timeout=wait):
            raise StoreUnavailable(f"the {self._name} stayed busy for {wait:.3g}s")
        try:
            waits_ms = max(1, round(wait * 1000))
            if waits_ms != self._waits_ms:
                self._db.execute(f"PRAGMA busy_timeout = {waits_ms}")
                self._waits_ms = waits_ms
            yield self._db
        except sqlite3.OperationalError as exc:  # locked past the wait, disk I/O, ...
            raise StoreUnavailable(f"the {self._name} is unavailable ({exc})") from exc
        finally:
            self._lock.release()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A turn in one ``BEGIN IMMEDIATE`` transaction (the write lock taken before the first
        read), committed when the block ends, rolled back when it raises."""
        with self.turn() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
