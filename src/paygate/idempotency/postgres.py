"""The PostgreSQL idempotency store: one truth for many processes on many hosts.

Needs the ``postgres`` extra (psycopg 3 and its pool) and a migrated database
(``paygate db upgrade --url postgresql://...``); it creates no table itself.

How ``begin`` stays atomic across hosts, in as few round trips as the key allows:

* a new key (the common case) is leased by one statement: ``INSERT ... ON CONFLICT (key) DO
  NOTHING`` writes the entry ``decide`` gives a key never seen, its lease counted from the
  database's clock (two new callers meet on the primary key: the second waits for the first
  to commit and then inserts nothing);
* a key that exists is decided in one transaction: ``SELECT ... FOR UPDATE`` locks its row
  (or, when it went away meanwhile, an upsert puts a placeholder there and locks it), the
  shared ``decide`` rules on the entry, and the write it asks for is an ``UPDATE`` of the
  locked row before the commit.

``complete`` and ``release`` are one statement each, touching only a row whose lease token still
matches.

Every command runs on the bounded pool of ``paygate._postgres``: opening waits at most
``connect_timeout`` and a server that cannot be reached is ``StoreUnavailable``; a command
takes at most the time its call has left (``command_timeout`` outside a call).

Times (leases, expiry) are the database's clock (``clock_timestamp()``), so hosts whose clocks
disagree still agree on when a lease lapses. Completed entries are forgotten after ``ttl``; a
sweep deletes them at most once a minute per store, skipping rows other transactions hold.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final

import psycopg

from paygate._postgres import Pool
from paygate.idempotency.memory import DEFAULT_TTL
from paygate.idempotency.store import BeginResult, Entry, decide

__all__ = ["PostgresStore"]

_PURGE_EVERY: Final = 60.0  # seconds (of this process's monotonic clock) between sweeps
_PURGE_BATCH: Final = 1000
# The store's "now": the injected clock's reading if one was given, else the database's.
_NOW: Final = "coalesce(%(now)s::float8, extract(epoch FROM clock_timestamp())::float8)"
# A key never seen, leased at once: the entry ``decide`` gives it, at the store's now. Nothing
# is written, and no row returned, when the key exists.
_CLAIM_NEW: Final = (
    "INSERT INTO paygate_idempotency (key, fingerprint, token, lease_until, outcome, expires_at) "
    "SELECT %(key)s, %(fingerprint)s, %(token)s, at + %(lease)s, NULL, at + %(expires)s "
    f"FROM (SELECT {_NOW} AS at) AS store ON CONFLICT (key) DO NOTHING RETURNING 1"
)


class PostgresStore:
    """Keys, leases and outcomes in PostgreSQL. Safe across threads, processes and hosts.

    ``pool_size`` bounds the connections this store holds; ``clock`` replaces the database's
    clock (tests only: every instance sharing a database must then share the clock).
    """

    blocking = True

    def __init__(
        self,
        conninfo: str,
        *,
        ttl: float = DEFAULT_TTL,
        pool_size: int = 10,
        connect_timeout: float = 3.0,
        command_timeout: float = 10.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self._ttl = ttl
        self._clock = clock
        self._pool = Pool(
            conninfo,
            name="PostgreSQL idempotency store",
            size=pool_size,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
        )
        self._purge_lock = threading.Lock()
        self._next_purge = 0.0

    def __repr__(self) -> str:
        return f"paygate.PostgresStore({self._pool.where!r}, ttl={self._ttl})"

    def _now(self) -> dict[str, Any]:
        return {"now": self._clock() if self._clock is not None else None}

    def begin(self, key: str, fingerprint: str, *, lease_seconds: float) -> BeginResult:
        self._maybe_purge()
        # What a key never seen gets (its times counted from 0, then from the database's now).
        claimed, fresh = decide(None, fingerprint, 0.0, lease_seconds)
        assert fresh is not None
        params = {
            **self._now(),
            "key": key,
            "fingerprint": fingerprint,
            "token": fresh.token,
            "lease": fresh.lease_until,
            "expires": fresh.expires_at,
        }

        def work(conn: psycopg.Connection[Any]) -> BeginResult:
            if conn.execute(_CLAIM_NEW, params).fetchone() is not None:
                return claimed  # a new key, leased in one statement
            with conn.transaction():
                now, existing = self._lock_entry(conn, params)
                result, write = decide(existing, fingerprint, now, lease_seconds)
                if write is not None:
                    conn.execute(
                        "UPDATE paygate_idempotency SET fingerprint = %s, token = %s, "
                        "lease_until = %s, outcome = %s, expires_at = %s WHERE key = %s",
                        (
                            write.fingerprint,
                            write.token,
                            write.lease_until,
                            write.outcome,
                            write.expires_at,
                            key,
                        ),
                    )
            return result

        return self._pool.run(work)

    @staticmethod
    def _lock_entry(
        conn: psycopg.Connection[Any], params: dict[str, Any]
    ) -> tuple[float, Entry | None]:
        """Lock the row of a key that was there a moment ago; the store's time and the entry
        the row holds (None: a placeholder, as for a new key)."""
        found = conn.execute(
            f"SELECT {_NOW}, fingerprint, token, lease_until, outcome, expires_at "
            "FROM paygate_idempotency WHERE key = %(key)s FOR UPDATE",
            params,
        ).fetchone()
        if found is not None:
            return float(found[0]), Entry(*found[1:])
        # A release or a purge deleted the row since the claim found it (and the key may have
        # been taken again since). An upsert that locks whatever row is there, or inserts a
        # placeholder, cannot miss; it costs a row version, which is why it is not the first
        # choice.
        row = conn.execute(
            "INSERT INTO paygate_idempotency "
            "(key, fingerprint, token, lease_until, outcome, expires_at) "
            "VALUES (%(key)s, %(fingerprint)s, NULL, 0, NULL, 0) "
            "ON CONFLICT (key) DO UPDATE SET key = excluded.key "
            f"RETURNING {_NOW}, fingerprint, token, lease_until, outcome, expires_at",
            params,
        ).fetchone()
        assert row is not None  # an upsert always returns its row
        if row[2] is None and row[4] is None:  # a placeholder: neither in flight nor done
            return float(row[0]), None
        return float(row[0]), Entry(*row[1:])

    def complete(self, key: str, token: str, outcome: str) -> bool:
        params = {**self._now(), "outcome": outcome, "ttl": self._ttl, "key": key, "token": token}
        return self._pool.run(
            lambda conn: (
                conn.execute(
                    "UPDATE paygate_idempotency SET token = NULL, lease_until = 0, "
                    f"outcome = %(outcome)s, expires_at = {_NOW} + %(ttl)s "
                    "WHERE key = %(key)s AND token = %(token)s",
                    params,
                ).rowcount
                == 1
            )
        )

    def release(self, key: str, token: str) -> None:
        self._pool.run(
            lambda conn: conn.execute(
                "DELETE FROM paygate_idempotency WHERE key = %s AND token = %s", (key, token)
            )
        )

    def purge(self) -> int:
        """Delete completed entries past their expiry (one batch); how many were deleted."""
        params = {**self._now(), "batch": _PURGE_BATCH}
        return self._pool.run(
            lambda conn: (
                conn.execute(
                    "DELETE FROM paygate_idempotency WHERE key IN ("
                    "SELECT key FROM paygate_idempotency "
                    f"WHERE outcome IS NOT NULL AND expires_at <= {_NOW} "
                    "LIMIT %(batch)s FOR UPDATE SKIP LOCKED)",
                    params,
                ).rowcount
            )
        )

    def _maybe_purge(self) -> None:
        now = time.monotonic()
        with self._purge_lock:
            if now < self._next_purge:
                return
            self._next_purge = now + _PURGE_EVERY
        self.purge()

    def close(self) -> None:
        self._pool.close()
