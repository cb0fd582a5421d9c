"""The SQLite idempotency store: survives restarts, shared by the processes of one host.

WAL journal; every ``begin`` runs in a ``BEGIN IMMEDIATE`` transaction, which takes SQLite's
write lock before reading, so two processes cannot both see a key as free. Times are wall-clock
seconds because leases must mean the same thing in every process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from paygate._sqlite import SharedConnection
from paygate.idempotency.memory import DEFAULT_TTL
from paygate.idempotency.store import BeginResult, Entry, decide

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS paygate_idempotency (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    token       TEXT,
    lease_until REAL NOT NULL,
    outcome     TEXT,
    expires_at  REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS paygate_idempotency_expiry ON paygate_idempotency (expires_at);
"""
_PURGE_EVERY: Final = 60.0  # seconds between sweeps of expired entries


class SQLiteStore:
    """Keys, leases and outcomes in a SQLite file. Safe across threads and processes."""

    blocking = True

    def __init__(
        self,
        path: str | Path,
        *,
        ttl: float = DEFAULT_TTL,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.path = Path(path)
        self._ttl = ttl
        self._clock = clock
        self._db = SharedConnection(
            self.path, busy_timeout=busy_timeout, schema=_SCHEMA, synchronous="NORMAL"
        )
        self._next_purge = 0.0

    def __repr__(self) -> str:
        return f"paygate.SQLiteStore({str(self.path)!r}, ttl={self._ttl})"

    def begin(self, key: str, fingerprint: str, *, lease_seconds: float) -> BeginResult:
        with self._db.transaction() as db:
            now = self._clock()
            if now >= self._next_purge:
                db.execute(
                    "DELETE FROM paygate_idempotency WHERE outcome IS NOT NULL AND expires_at <= ?",
                    (now,),
                )
                self._next_purge = now + _PURGE_EVERY
            row = db.execute(
                "SELECT fingerprint, token, lease_until, outcome, expires_at "
                "FROM paygate_idempotency WHERE key = ?",
                (key,),
            ).fetchone()
            existing = Entry(*row) if row is not None else None
            result, write = decide(existing, fingerprint, now, lease_seconds)
            if write is not None:
                db.execute(
                    "INSERT OR REPLACE INTO paygate_idempotency VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        write.fingerprint,
                        write.token,
                        write.lease_until,
                        write.outcome,
                        write.expires_at,
                    ),
                )
        return result

    def complete(self, key: str, token: str, outcome: str) -> bool:
        with self._db.turn() as db:
            cursor = db.execute(
                "UPDATE paygate_idempotency SET token = NULL, lease_until = 0, outcome = ?, "
                "expires_at = ? WHERE key = ? AND token = ?",
                (outcome, self._clock() + self._ttl, key, token),
            )
            return cursor.rowcount == 1

    def release(self, key: str, token: str) -> None:
        with self._db.turn() as db:
            db.execute("DELETE FROM paygate_idempotency WHERE key = ? AND token = ?", (key, token))

    def close(self) -> None:
        self._db.close()
