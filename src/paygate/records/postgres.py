"""The PostgreSQL record store: payment records shared by many processes on many hosts.

Needs the ``postgres`` extra (psycopg 3 and its pool) and a migrated database
(``paygate db upgrade --url postgresql://...``); it creates no table itself.

Every ``apply`` runs the shared ``apply_in`` inside one transaction, in psycopg's pipeline
mode: a statement whose answer the change needs (the record, whether the intent was there)
waits for it, the others (``BEGIN``, the record's and the trail's inserts, ``COMMIT``) travel
together, so a call's outcome costs three round trips, not six:

* a webhook event is checked and marked in one statement (``INSERT ... ON CONFLICT DO
  NOTHING`` on ``(provider, event_id)``): a second delivery of an event waits for the first's
  transaction and then finds it taken;
* the record is located with ``SELECT ... FOR UPDATE`` (by ``record_id``, else by
  ``(provider, payment_id)``), so two instances changing one payment queue up on its row and the
  second applies its change to the record the first left: they cannot both apply conflicting
  transitions (a capture and a void: the second is refused by the state machine);
* a new record's insert that collides with a concurrent insert of the same provider payment
  (the unique index on ``(provider, payment_id)``) is retried once, and then finds that record.

An intent is one row of ``paygate_intents`` (upserted, committed before its request is sent);
the ``apply`` that records the call's outcome deletes it in the same transaction. When the
gateway's idempotency store is a ``PostgresStore`` on the same URL, the transaction that records
the provider's answer also settles the call's key (``settling``): the answer, its intent's
removal and the key's outcome to replay commit together, in one commit instead of two.

Chain scope: one hash chain per payment record. Its anchor (``trail_length``, ``trail_head``)
lives on the record's row, which the transaction holds locked while it appends the next entry,
so each chain grows strictly one entry at a time whatever the number of instances. The trail
table is append-only: a trigger refuses UPDATE, DELETE and TRUNCATE, and ``verify`` walks every
chain in one repeatable-read snapshot. Record and trail bodies are stored as JSONB.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import psycopg

from paygate._postgres import AsyncPool, Pool
from paygate.idempotency.postgres import PostgresStore
from paygate.idempotency.store import IdempotencyStore
from paygate.records._pg_tx import PostgresTx, Settling, apply_on
from paygate.records._pg_tx_async import AsyncPostgresTx, AsyncSettling, apply_on_async
from paygate.records.schedule import Scheduled
from paygate.records.state import Intent, PaymentRecord
from paygate.records.store import (
    SCAN_PAGE,
    Applied,
    AsyncRecordCalls,
    AsyncSettlingRecords,
    ChangeFn,
    Declines,
    IntentKey,
    Locate,
    SettlingRecords,
    UnknownSummary,
)
from paygate.records.trail import AuditEntry, ChainProblem, verify_chain

__all__ = ["PostgresRecordStore"]

Connection = psycopg.Connection[Any]
# A whole-store verify may take long; each of its statements is still bounded by the server.
_VERIFY_SECONDS = 3600.0
_SCHEDULE_COLUMNS: Final = (
    "record_id, provider, step, due_at, escalated_at, lease_owner, lease_until"
)


class PostgresRecordStore:
    """Payment records, their audit trails and seen webhook events in PostgreSQL.

    Safe across threads, processes and hosts; ``pool_size`` bounds the connections it holds.
    Opening waits at most ``connect_timeout``; each command at most the time its call has left
    (``command_timeout`` outside a call); a server that cannot be reached in time is
    ``StoreUnavailable``.
    """

    blocking = True

    def __init__(
        self,
        conninfo: str,
        *,
        pool_size: int = 10,
        connect_timeout: float = 3.0,
        command_timeout: float = 10.0,
    ) -> None:
        self._pool = Pool(
            conninfo,
            name="PostgreSQL record store",
            size=pool_size,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
        )

    def __repr__(self) -> str:
        return f"paygate.PostgresRecordStore({self._pool.where!r})"

    def apply(
        self,
        locate: Locate,
        change: ChangeFn,
        *,
        event: tuple[str, str] | None = None,
        intent: IntentKey | None = None,
        needs_intent: bool = False,
    ) -> Applied:
        return self._pool.run(
            lambda conn: apply_on(
                conn, locate, change, event=event, intent=intent, needs_intent=needs_intent
            )
        )

    def settling(self, keys: IdempotencyStore) -> SettlingRecords | None:
        """When ``keys`` (the gateway's idempotency store) is a ``PostgresStore`` on this
        store's URL: this store's apply that settles a call's key in its own transaction.
        None otherwise (the key is then settled after the record, by the idempotency store)."""
        beside = _keys_beside(keys, self._pool.conninfo)
        return None if beside is None else Settling(self._pool, beside)

    def write_intent(self, intent: Intent) -> Intent | None:
        params = _intent_params(intent)
        return _replaced(
            self._pool.run(lambda conn: conn.execute(_WRITE_INTENT, params).fetchone())
        )

    def records_for_asyncio(self) -> AsyncRecordCalls:
        """The calls of ``AsyncGateway``'s call path on psycopg's asyncio pool, for one event
        loop (``AsyncGateway`` takes one); its other calls run as this store's own."""
        return _AsyncPostgresRecords(AsyncPool(self._pool))

    def intents(self, lapsed_by: datetime | None = None) -> list[Intent]:
        def work(conn: Connection) -> list[tuple[str]]:
            if lapsed_by is None:
                return conn.execute("SELECT body::text FROM paygate_intents").fetchall()
            return conn.execute(
                "SELECT body::text FROM paygate_intents WHERE lease_until <= %s", (lapsed_by,)
            ).fetchall()

        return [Intent.model_validate_json(row[0]) for row in self._pool.run(work)]

    def _read(self, locate: Locate) -> PaymentRecord | None:
        return self._pool.run(
            lambda conn: PostgresTx(conn, datetime.now(UTC), lock=False).load(locate)
        )

    def lookup(self, locate: Locate) -> PaymentRecord | None:
        return self._read(locate)

    def get(self, record_id: str) -> PaymentRecord | None:
        return self._read(Locate(record_id=record_id))

    def find(self, provider: str, payment_id: str) -> PaymentRecord | None:
        return self._read(Locate(provider=provider, payment_id=payment_id))

    def trail(self, record_id: str) -> list[AuditEntry]:
        return self._pool.run(lambda conn: _trail(conn, record_id))

    def verify(self) -> ChainProblem | None:
        def work(conn: Connection) -> ChainProblem | None:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                anchors = conn.execute(
                    "SELECT record_id, trail_length, trail_head FROM paygate_records "
                    "ORDER BY record_id"
                ).fetchall()
                for record_id, length, head in anchors:
                    trail = _trail(conn, record_id)
                    problem = verify_chain(record_id, trail, length=length, head=head)
                    if problem is not None:
                        return problem
            return None

        return self._pool.run(work, ceiling=_VERIFY_SECONDS)

    def with_unknown(self, due_before: datetime | None = None) -> list[PaymentRecord]:
        def work(conn: Connection) -> list[tuple[str]]:
            if due_before is None:
                return conn.execute(
                    "SELECT body::text FROM paygate_records WHERE next_check IS NOT NULL "
                    "ORDER BY next_check"
                ).fetchall()
            return conn.execute(
                "SELECT body::text FROM paygate_records WHERE next_check <= %s ORDER BY next_check",
                (due_before,),
            ).fetchall()

        return [PaymentRecord.model_validate_json(row[0]) for row in self._pool.run(work)]

    def unknown_summary(self, provider: str) -> UnknownSummary:
        def work(conn: Connection) -> tuple[int, datetime | None] | None:
            # The records holding an unknown outcome (the partial index), each outcome's
            # ``since`` read from the body: one row, no record built.
            return conn.execute(
                "SELECT count(*), min((u.value ->> 'since')::timestamptz) "
                "FROM paygate_records AS r "
                "CROSS JOIN LATERAL jsonb_array_elements(r.body -> 'unknown') AS u(value) "
                "WHERE r.next_check IS NOT NULL AND r.provider = %s",
                (provider,),
            ).fetchone()

        row = self._pool.run(work)
        assert row is not None  # an aggregate answers one row
        return UnknownSummary(*row)

    def awaiting_action(self, provider: str) -> list[PaymentRecord]:
        def work(conn: Connection) -> list[tuple[str]]:
            return conn.execute(
                "SELECT body::text FROM paygate_records WHERE provider = %s AND status = %s",
                (provider, "requires_action"),
            ).fetchall()

        records = [PaymentRecord.model_validate_json(row[0]) for row in self._pool.run(work)]
        return sorted(records, key=lambda r: r.created_at)

    def scan(self, provider: str) -> Iterator[PaymentRecord]:
        for body in self.scan_json(provider):
            yield PaymentRecord.model_validate_json(body)

    def scan_json(self, provider: str) -> Iterator[str]:
        after = ""
        while True:

            def work(conn: Connection, after: str = after) -> list[tuple[str, str]]:
                return conn.execute(
                    "SELECT record_id, body::text FROM paygate_records WHERE provider = %s "
                    "AND record_id > %s ORDER BY record_id LIMIT %s",
                    (provider, after, SCAN_PAGE),
                ).fetchall()

            rows = self._pool.run(work)
            for row in rows:
                yield row[1]
            if len(rows) < SCAN_PAGE:
                return
            after = rows[-1][0]

    def note_decline(self, card: str, at: datetime, *, final: bool) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                "INSERT INTO paygate_card_declines (card, at, final) VALUES (%s, %s, %s)",
                (card, at, final),
            )

        self._pool.run(work)

    def declines(self, card: str, since: datetime) -> Declines:
        def work(conn: Connection) -> list[tuple[datetime, bool]]:
            return conn.execute(
                "SELECT at, final FROM paygate_card_declines "
                "WHERE card = %s AND (at >= %s OR final) ORDER BY at",
                (card, since),
            ).fetchall()

        rows = self._pool.run(work)
        return Declines(tuple(at for at, _ in rows if at >= since), any(f for _, f in rows))

    def schedule_unknown(self, entries: Sequence[Scheduled]) -> None:
        def work(conn: Connection) -> None:
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO paygate_janitor (record_id, provider, step, due_at) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (record_id) DO NOTHING",
                    [(e.record_id, e.provider, e.step, e.due_at) for e in entries],
                )

        if entries:
            self._pool.run(work)

    def claim_unknown(
        self, provider: str, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Scheduled]:
        def work(conn: Connection) -> list[tuple[Any, ...]]:
            # SKIP LOCKED: two instances claiming at once each take rows the other did not.
            return conn.execute(
                "UPDATE paygate_janitor SET lease_owner = %s, lease_until = %s "
                "WHERE record_id IN (SELECT record_id FROM paygate_janitor "
                "WHERE provider = %s AND due_at <= %s AND escalated_at IS NULL "
                "AND (lease_until IS NULL OR lease_until <= %s) "
                "ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED) "
                f"RETURNING {_SCHEDULE_COLUMNS}",
                (owner, lease_until, provider, now, now, limit),
            ).fetchall()

        claimed = [Scheduled(*row) for row in self._pool.run(work)]
        return sorted(claimed, key=lambda s: s.due_at)

    def reschedule_unknown(self, scheduled: Scheduled, owner: str) -> bool:
        def work(conn: Connection) -> tuple[int] | None:
            return conn.execute(
                "UPDATE paygate_janitor SET step = %s, due_at = %s, escalated_at = %s, "
                "lease_owner = NULL, lease_until = NULL "
                "WHERE record_id = %s AND lease_owner = %s RETURNING 1",
                (
                    scheduled.step,
                    scheduled.due_at,
                    scheduled.escalated_at,
                    scheduled.record_id,
                    owner,
                ),
            ).fetchone()

        return self._pool.run(work) is not None

    def unschedule_unknown(self, record_id: str) -> None:
        def work(conn: Connection) -> None:
            conn.execute("DELETE FROM paygate_janitor WHERE record_id = %s", (record_id,))

        self._pool.run(work)

    def unknown_schedule(self, provider: str) -> list[Scheduled]:
        def work(conn: Connection) -> list[tuple[Any, ...]]:
            return conn.execute(
                f"SELECT {_SCHEDULE_COLUMNS} FROM paygate_janitor WHERE provider = %s "
                "ORDER BY due_at",
                (provider,),
            ).fetchall()

        return [Scheduled(*row) for row in self._pool.run(work)]

    def close(self) -> None:
        self._pool.close()


# An intent upserted, in one statement: its CTE reads the row as it was before the upsert
# replaced it (every part of a statement sees the same snapshot).
_WRITE_INTENT: Final = (
    "WITH replaced AS (SELECT body::text AS body FROM paygate_intents "
    "WHERE provider = %s AND key = %s) "
    "INSERT INTO paygate_intents (provider, key, lease_until, body) "
    "VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT (provider, key) DO UPDATE "
    "SET lease_until = excluded.lease_until, body = excluded.body "
    "RETURNING (SELECT body FROM replaced)"
)


def _intent_params(intent: Intent) -> tuple[Any, ...]:
    key = (intent.provider, intent.idempotency_key)
    return (*key, *key, intent.lease_until, intent.model_dump_json())


def _replaced(row: tuple[Any, ...] | None) -> Intent | None:
    """The intent an upsert replaced (None: there was none)."""
    if row is None or row[0] is None:
        return None
    return Intent.model_validate_json(row[0])


def _keys_beside(keys: IdempotencyStore, conninfo: str) -> PostgresStore | None:
    """``keys`` when it is a ``PostgresStore`` on ``conninfo`` (a record store's URL)."""
    if isinstance(keys, PostgresStore) and keys.shares_database(conninfo):
        return keys
    return None


class _AsyncPostgresRecords:
    """A ``PostgresRecordStore``'s call-path calls for one event loop: the same statements
    and the same ``apply`` (``apply_on_async``: ``apply_in_async`` in pipeline mode) on
    psycopg's asyncio pool."""

    def __init__(self, pool: AsyncPool) -> None:
        self._pool = pool

    def settling(self, keys: IdempotencyStore) -> AsyncSettlingRecords | None:
        """``PostgresRecordStore.settling``, on this face's connections."""
        beside = _keys_beside(keys, self._pool.conninfo)
        return None if beside is None else AsyncSettling(self._pool, beside)

    async def apply_async(
        self,
        locate: Locate,
        change: ChangeFn,
        *,
        event: tuple[str, str] | None = None,
        intent: IntentKey | None = None,
        needs_intent: bool = False,
    ) -> Applied:
        return await self._pool.run(
            lambda conn: apply_on_async(
                conn, locate, change, event=event, intent=intent, needs_intent=needs_intent
            )
        )

    async def write_intent_async(self, intent: Intent) -> Intent | None:
        params = _intent_params(intent)

        async def work(conn: psycopg.AsyncConnection[Any]) -> tuple[Any, ...] | None:
            return await (await conn.execute(_WRITE_INTENT, params)).fetchone()

        return _replaced(await self._pool.run(work))

    async def lookup_async(self, locate: Locate) -> PaymentRecord | None:
        now = datetime.now(UTC)
        return await self._pool.run(
            lambda conn: AsyncPostgresTx(conn, now, lock=False).load(locate)
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


def _trail(conn: Connection, record_id: str) -> list[AuditEntry]:
    rows = conn.execute(
        "SELECT body::text FROM paygate_audit_trail WHERE record_id = %s ORDER BY seq",
        (record_id,),
    ).fetchall()
    return [AuditEntry.model_validate_json(row[0]) for row in rows]
