"""One open PostgreSQL transaction as ``apply_in_async`` reads and writes it, and one
``apply`` of a ``PostgresRecordStore`` on one connection.

For asyncio callers (``_pg_tx.py`` is generated from this file)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors

from paygate._postgres import AsyncPool
from paygate.idempotency.postgres import PostgresStore
from paygate.records._applied import Applied, ChangeFn, IntentKey, Locate
from paygate.records._apply_async import apply_in_async
from paygate.records.state import PaymentRecord
from paygate.records.trail import GENESIS, AuditEntry

__all__ = ["AsyncAfter", "AsyncPostgresTx", "AsyncSettling", "apply_on_async", "next_check"]

# What another store on the same database writes in an apply's own transaction, once the change
# is applied and before the commit: a call's idempotency key, settled with its outcome.
AsyncAfter = Callable[[psycopg.AsyncConnection[Any], Applied], Awaitable[None]]


def next_check(record: PaymentRecord) -> datetime | None:
    if not record.unknown:
        return None
    return min(u.next_check_at for u in record.unknown)


class AsyncPostgresTx:
    """``apply_in_async``'s view of one open PostgreSQL transaction (``lock``: rows read are
    locked)."""

    def __init__(
        self, conn: psycopg.AsyncConnection[Any], now: datetime, *, lock: bool = True
    ) -> None:
        self._conn = conn
        self._now = now
        self._lock = " FOR UPDATE" if lock else ""
        self._marked: set[tuple[str, str]] = set()
        self._anchors: dict[str, tuple[int, str]] = {}  # of the rows loaded (and locked)

    async def load(self, locate: Locate) -> PaymentRecord | None:
        row = None
        columns = "body::text, record_id, trail_length, trail_head"
        if locate.provider and locate.payment_id:
            row = await (
                await self._conn.execute(
                    f"SELECT {columns} FROM paygate_records "
                    f"WHERE provider = %s AND payment_id = %s{self._lock}",
                    (locate.provider, locate.payment_id),
                )
            ).fetchone()
        if row is None and locate.record_id is not None:
            row = await (
                await self._conn.execute(
                    f"SELECT {columns} FROM paygate_records WHERE record_id = %s{self._lock}",
                    (locate.record_id,),
                )
            ).fetchone()
        if row is None:
            return None
        self._anchors[str(row[1])] = (int(row[2]), str(row[3]))
        return PaymentRecord.model_validate_json(row[0])

    async def seen(self, event: tuple[str, str]) -> bool:
        """Check and mark at once: True if another transaction already marked the event."""
        row = await (
            await self._conn.execute(
                "INSERT INTO paygate_webhook_events (provider, event_id, received_at) "
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (*event, self._now),
            )
        ).fetchone()
        if row is None:
            return True
        self._marked.add(event)
        return False

    async def drop_intent(self, intent: IntentKey) -> bool:
        # RETURNING, not the row count: a pipeline knows a count only once it has synced.
        return (
            await (
                await self._conn.execute(
                    "DELETE FROM paygate_intents WHERE provider = %s AND key = %s RETURNING 1",
                    intent,
                )
            ).fetchone()
            is not None
        )

    async def anchor(self, record_id: str) -> tuple[int, str]:
        if record_id in self._anchors:  # read with the record, on the row this holds locked
            return self._anchors[record_id]
        row = await (
            await self._conn.execute(
                "SELECT trail_length, trail_head FROM paygate_records WHERE record_id = %s",
                (record_id,),
            )
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    async def save(self, record: PaymentRecord, entry: AuditEntry) -> None:
        await self._conn.execute(
            "INSERT INTO paygate_records (record_id, provider, payment_id, status, next_check, "
            "body, trail_length, trail_head) VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s) "
            "ON CONFLICT (record_id) DO UPDATE SET payment_id = excluded.payment_id, "
            "status = excluded.status, next_check = excluded.next_check, body = excluded.body, "
            "trail_length = excluded.trail_length, trail_head = excluded.trail_head",
            (
                record.record_id,
                record.provider,
                record.payment_id,
                record.status.value,
                next_check(record),
                record.model_dump_json(),
                entry.seq,
                entry.hash,
            ),
        )
        await self._conn.execute(
            "INSERT INTO paygate_audit_trail (record_id, seq, body) VALUES (%s, %s, %s::jsonb)",
            (entry.record_id, entry.seq, entry.model_dump_json()),
        )

    async def mark(self, event: tuple[str, str], at: datetime) -> None:
        if event in self._marked:  # marked by ``seen`` in this transaction
            return
        await self._conn.execute(
            "INSERT INTO paygate_webhook_events (provider, event_id, received_at) "
            "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (*event, at),
        )


async def apply_on_async(
    conn: psycopg.AsyncConnection[Any],
    locate: Locate,
    change: ChangeFn,
    *,
    event: tuple[str, str] | None,
    intent: IntentKey | None,
    needs_intent: bool,
    after: AsyncAfter | None = None,
) -> Applied:
    """``apply_in_async`` on ``conn``, in psycopg's pipeline mode, in one transaction (with
    ``after``'s statements, which commit with the change or not at all)."""

    async def once() -> Applied:
        now = datetime.now(UTC)
        async with conn.pipeline(), conn.transaction():
            applied = await apply_in_async(
                AsyncPostgresTx(conn, now), locate, change, event, now,
                intent=intent, needs_intent=needs_intent,
            )  # fmt: skip
            if after is not None:
                await after(conn, applied)
            return applied

    try:
        return await once()
    except errors.UniqueViolation:
        # Another instance inserted this payment's record first: now it is there to lock and
        # change.
        return await once()


class AsyncSettling:
    """A ``PostgresRecordStore``'s apply with a call's idempotency key settled in its own
    transaction (``keys``: the ``PostgresStore`` on the same database)."""

    def __init__(self, pool: AsyncPool, keys: PostgresStore) -> None:
        self._pool = pool
        self._keys = keys

    async def apply_settling_async(
        self,
        locate: Locate,
        change: ChangeFn,
        *,
        intent: IntentKey | None,
        key: str,
        token: str,
        outcome_of: Callable[[PaymentRecord | None], str | None],
    ) -> tuple[Applied, bool]:
        settlement = self._keys.settlement(key, token, outcome_of)
        applied = await self._pool.run(
            lambda conn: apply_on_async(
                conn,
                locate,
                change,
                event=None,
                intent=intent,
                needs_intent=False,
                after=settlement.run_async,
            )
        )
        return applied, settlement.lost
