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
matches. Where the payment records live in the same database (a ``PostgresRecordStore`` on the
same URL), the gateway runs that statement in the transaction that records the provider's
answer to a call instead (``settlement``): one commit fewer per answered call, and the answer
on the record and the key's outcome commit together or not at all.

Every command runs on the bounded pool of ``paygate._postgres``: opening waits at most
``connect_timeout`` and a server that cannot be reached is ``StoreUnavailable``; a command
takes at most the time its call has left (``command_timeout`` outside a call). Under
``AsyncGateway`` the same statements run through the store's asyncio face (``for_asyncio``):
psycopg's asyncio pool on the gateway's event loop, bounded the same way, with no worker
thread in between.

Times (leases, expiry) are the database's clock (``clock_timestamp()``), so hosts whose clocks
disagree still agree on when a lease lapses. Completed entries are forgotten after ``ttl``; a
sweep deletes them at most once a minute per store, skipping rows other transactions hold.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import psycopg

from paygate._postgres import AsyncPool, Pool
from paygate.idempotency.memory import DEFAULT_TTL
from paygate.idempotency.store import AsyncIdempotencyStore, BeginResult, Entry, decide
from paygate.telemetry import key_digest

if TYPE_CHECKING:
    from paygate.records.state import PaymentRecord
    from paygate.records.store import Applied

__all__ = ["KeySettlement", "PostgresStore"]

logger: Final = logging.getLogger("paygate")
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
# The row of a key that was there a moment ago, locked, with the store's time.
_LOCK: Final = (
    f"SELECT {_NOW}, fingerprint, token, lease_until, outcome, expires_at "
    "FROM paygate_idempotency WHERE key = %(key)s FOR UPDATE"
)
# When a release or a purge deleted that row since the claim found it (and the key may have
# been taken again since): an upsert that locks whatever row is there, or inserts a
# placeholder, cannot miss; it costs a row version, which is why it is not the first choice.
_LOCK_OR_PLACE: Final = (
    "INSERT INTO paygate_idempotency "
    "(key, fingerprint, token, lease_until, outcome, expires_at) "
    "VALUES (%(key)s, %(fingerprint)s, NULL, 0, NULL, 0) "
    "ON CONFLICT (key) DO UPDATE SET key = excluded.key "
    f"RETURNING {_NOW}, fingerprint, token, lease_until, outcome, expires_at"
)
_WRITE: Final = (
    "UPDATE paygate_idempotency SET fingerprint = %s, token = %s, "
    "lease_until = %s, outcome = %s, expires_at = %s WHERE key = %s"
)
_COMPLETE: Final = (
    "UPDATE paygate_idempotency SET token = NULL, lease_until = 0, "
    f"outcome = %(outcome)s, expires_at = {_NOW} + %(ttl)s "
    "WHERE key = %(key)s AND token = %(token)s"
)
_RELEASE: Final = "DELETE FROM paygate_idempotency WHERE key = %(key)s AND token = %(token)s"
_PURGE: Final = (
    "DELETE FROM paygate_idempotency WHERE key IN ("
    "SELECT key FROM paygate_idempotency "
    f"WHERE outcome IS NOT NULL AND expires_at <= {_NOW} "
    "LIMIT %(batch)s FOR UPDATE SKIP LOCKED)"
)


def _locked(row: tuple[Any, ...] | None) -> tuple[float, Entry | None]:
    """The store's time and the entry of a locked row (None: a placeholder, neither in
    flight nor done)."""
    assert row is not None  # the lock found the row, or the upsert returned it
    if row[2] is None and row[4] is None:
        return float(row[0]), None
    return float(row[0]), Entry(*row[1:])


def _write_params(write: Entry, key: str) -> tuple[Any, ...]:
    return (write.fingerprint, write.token, write.lease_until, write.outcome, write.expires_at, key)


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

    def _claim(
        self, key: str, fingerprint: str, lease_seconds: float
    ) -> tuple[BeginResult, dict[str, Any]]:
        """What a key never seen gets (its times counted from 0, then from the database's
        now), and the parameters of every statement of ``begin``."""
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
        return claimed, params

    def _complete_params(self, key: str, token: str, outcome: str) -> dict[str, Any]:
        return {**self._now(), "outcome": outcome, "ttl": self._ttl, "key": key, "token": token}

    def begin(self, key: str, fingerprint: str, *, lease_seconds: float) -> BeginResult:
        if self._purge_due():
            self.purge()
        claimed, params = self._claim(key, fingerprint, lease_seconds)

        def work(conn: psycopg.Connection[Any]) -> BeginResult:
            if conn.execute(_CLAIM_NEW, params).fetchone() is not None:
                return claimed  # a new key, leased in one statement
            with conn.transaction():
                row = conn.execute(_LOCK, params).fetchone()
                if row is None:
                    row = conn.execute(_LOCK_OR_PLACE, params).fetchone()
                now, existing = _locked(row)
                result, write = decide(existing, fingerprint, now, lease_seconds)
                if write is not None:
                    conn.execute(_WRITE, _write_params(write, key))
            return result

        return self._pool.run(work)

    def complete(self, key: str, token: str, outcome: str) -> bool:
        params = self._complete_params(key, token, outcome)
        return self._pool.run(lambda conn: conn.execute(_COMPLETE, params).rowcount == 1)

    def release(self, key: str, token: str) -> None:
        params = {"key": key, "token": token}
        self._pool.run(lambda conn: conn.execute(_RELEASE, params))

    def shares_database(self, conninfo: str) -> bool:
        """Whether this store's rows live where ``conninfo`` connects (the same URL)."""
        return conninfo == self._pool.conninfo

    def settlement(
        self, key: str, token: str, outcome_of: Callable[[PaymentRecord | None], str | None]
    ) -> KeySettlement:
        """``key``'s settlement, to run in the transaction of another store on this database
        that records the call's outcome."""
        return KeySettlement(self, key, token, outcome_of)

    def purge(self) -> int:
        """Delete completed entries past their expiry (one batch); how many were deleted."""
        params = self._purge_params()
        return self._pool.run(lambda conn: conn.execute(_PURGE, params).rowcount)

    def _purge_params(self) -> dict[str, Any]:
        return {**self._now(), "batch": _PURGE_BATCH}

    def _purge_due(self) -> bool:
        """Whether a sweep is due (then the next is a minute away)."""
        now = time.monotonic()
        with self._purge_lock:
            if now < self._next_purge:
                return False
            self._next_purge = now + _PURGE_EVERY
        return True

    def for_asyncio(self) -> AsyncIdempotencyStore:
        """This store's asyncio face, for one event loop (``AsyncGateway`` takes one)."""
        return _AsyncPostgresStore(self, AsyncPool(self._pool))

    def close(self) -> None:
        self._pool.close()


class _AsyncPostgresStore:
    """A ``PostgresStore`` for one event loop: its statements on psycopg's asyncio pool."""

    def __init__(self, store: PostgresStore, pool: AsyncPool) -> None:
        self._store = store
        self._pool = pool

    async def begin_async(self, key: str, fingerprint: str, *, lease_seconds: float) -> BeginResult:
        store = self._store
        if store._purge_due():
            params = store._purge_params()
            await self._pool.run(lambda conn: conn.execute(_PURGE, params))
        claimed, params = store._claim(key, fingerprint, lease_seconds)

        async def work(conn: psycopg.AsyncConnection[Any]) -> BeginResult:
            if await (await conn.execute(_CLAIM_NEW, params)).fetchone() is not None:
                return claimed  # a new key, leased in one statement
            async with conn.transaction():
                row = await (await conn.execute(_LOCK, params)).fetchone()
                if row is None:
                    row = await (await conn.execute(_LOCK_OR_PLACE, params)).fetchone()
                now, existing = _locked(row)
                result, write = decide(existing, fingerprint, now, lease_seconds)
                if write is not None:
                    await conn.execute(_WRITE, _write_params(write, key))
            return result

        return await self._pool.run(work)

    async def complete_async(self, key: str, token: str, outcome: str) -> bool:
        params = self._store._complete_params(key, token, outcome)

        async def work(conn: psycopg.AsyncConnection[Any]) -> bool:
            return (await conn.execute(_COMPLETE, params)).rowcount == 1

        return await self._pool.run(work)

    async def release_async(self, key: str, token: str) -> None:
        params = {"key": key, "token": token}
        await self._pool.run(lambda conn: conn.execute(_RELEASE, params))

    async def aclose(self) -> None:
        await self._pool.aclose()


class KeySettlement:
    """One call's idempotency key, settled in the transaction that records the call's outcome
    (a PostgreSQL record store on this store's database): completed with what the applied
    record says to replay (``outcome_of``), or released when that is nothing. The statement is
    queued in the transaction's pipeline; once it has committed, ``lost`` says whether the key's
    lease had gone to another caller meanwhile (the record stands; a repeat is settled by the
    provider's replay)."""

    def __init__(
        self,
        store: PostgresStore,
        key: str,
        token: str,
        outcome_of: Callable[[PaymentRecord | None], str | None],
    ) -> None:
        self._store = store
        self._key = key
        self._token = token
        self._outcome_of = outcome_of
        self._completes = False
        self._cursor: psycopg.Cursor[Any] | psycopg.AsyncCursor[Any] | None = None

    def _statement(self, applied: Applied) -> tuple[str, dict[str, Any]]:
        try:
            outcome = self._outcome_of(applied.record)
        except Exception:  # the record commits all the same; the key is freed for a repeat
            logger.exception(
                "idempotency key %s: no outcome to store; the key is freed", key_digest(self._key)
            )
            outcome = None
        self._completes = outcome is not None
        if outcome is None:
            return _RELEASE, {"key": self._key, "token": self._token}
        return _COMPLETE, self._store._complete_params(self._key, self._token, outcome)

    def run(self, conn: psycopg.Connection[Any], applied: Applied) -> None:
        self._cursor = conn.execute(*self._statement(applied))

    async def run_async(self, conn: psycopg.AsyncConnection[Any], applied: Applied) -> None:
        self._cursor = await conn.execute(*self._statement(applied))

    @property
    def lost(self) -> bool:
        """Whether the key was to be completed and its lease had gone (read after the commit:
        the statement's row count is known once the pipeline has synced)."""
        return self._completes and (self._cursor is None or self._cursor.rowcount != 1)
