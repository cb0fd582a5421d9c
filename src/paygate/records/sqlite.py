"""The SQLite record store: durable, shared by the processes of one host.

Every ``apply`` is one ``BEGIN IMMEDIATE`` transaction: the record, its new trail entry, the
chain's anchor (length and head hash, kept on the record's row), a webhook event's id and the
clearing of the call's intent are written together or not at all. The trail table is only
ever inserted into. An intent is one row, committed before its request is sent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from paygate._sqlite import SharedConnection
from paygate.records.changes import Change
from paygate.records.schedule import Scheduled
from paygate.records.state import Intent, PaymentRecord
from paygate.records.store import (
    SCAN_PAGE,
    Applied,
    ChangeFn,
    Declines,
    IntentKey,
    Locate,
    UnknownSummary,
    apply_in,
)
from paygate.records.trail import GENESIS, AuditEntry, ChainProblem, seal, verify_chain

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS paygate_records (
    record_id    TEXT PRIMARY KEY,
    provider     TEXT NOT NULL,
    payment_id   TEXT,
    status       TEXT NOT NULL,
    next_check   TEXT,
    body         TEXT NOT NULL,
    trail_length INTEGER NOT NULL,
    trail_head   TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS paygate_records_payment
    ON paygate_records (provider, payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS paygate_records_unknown
    ON paygate_records (next_check) WHERE next_check IS NOT NULL;
CREATE INDEX IF NOT EXISTS paygate_records_awaiting
    ON paygate_records (provider) WHERE status = 'requires_action';
CREATE TABLE IF NOT EXISTS paygate_audit_trail (
    record_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (record_id, seq)
);
CREATE TABLE IF NOT EXISTS paygate_webhook_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (provider, event_id)
);
CREATE TABLE IF NOT EXISTS paygate_intents (
    provider    TEXT NOT NULL,
    key         TEXT NOT NULL,
    lease_until TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (provider, key)
);
CREATE TABLE IF NOT EXISTS paygate_card_declines (
    card  TEXT NOT NULL,
    at    TEXT NOT NULL,
    final INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS paygate_card_declines_card ON paygate_card_declines (card, at);
CREATE TABLE IF NOT EXISTS paygate_janitor (
    record_id    TEXT PRIMARY KEY,
    provider     TEXT NOT NULL,
    step         INTEGER NOT NULL,
    due_at       TEXT NOT NULL,
    escalated_at TEXT,
    lease_owner  TEXT,
    lease_until  TEXT
);
CREATE INDEX IF NOT EXISTS paygate_janitor_due ON paygate_janitor (provider, due_at);
"""
_SCHEDULE_COLUMNS: Final = (
    "record_id, provider, step, due_at, escalated_at, lease_owner, lease_until"
)


def _utc(at: datetime) -> str:
    """A time as the text every time column holds: ISO 8601 in UTC, which sorts as it reads."""
    return at.astimezone(UTC).isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _scheduled(row: tuple[Any, ...]) -> Scheduled:
    due_at = _time(row[3])
    assert due_at is not None
    return Scheduled(row[0], row[1], row[2], due_at, _time(row[4]), row[5], _time(row[6]))


def _next_check(record: PaymentRecord) -> str | None:
    if not record.unknown:
        return None
    return _utc(min(u.next_check_at for u in record.unknown))


_INSERT_RECORD: Final = "INSERT INTO paygate_records VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_ENTRY: Final = "INSERT INTO paygate_audit_trail VALUES (?, ?, ?)"


def _record_row(record: PaymentRecord, head: AuditEntry) -> tuple[object, ...]:
    """A record's row, anchored at ``head``, the last entry of its trail."""
    return (
        record.record_id,
        record.provider,
        record.payment_id,
        record.status.value,
        _next_check(record),
        record.model_dump_json(),
        head.seq,
        head.hash,
    )


def _entry_row(entry: AuditEntry) -> tuple[object, ...]:
    return (entry.record_id, entry.seq, entry.model_dump_json())


def _sealed(history: Sequence[Change]) -> list[AuditEntry]:
    """The entries of one new record's changes, numbered and chained from the genesis."""
    if not history:
        raise ValueError("an empty history: each record needs at least the change that made it")
    record_id, head = history[0].record.record_id, GENESIS
    trail = []
    for seq, change in enumerate(history, start=1):
        if change.record.record_id != record_id:
            raise ValueError(f"one history, two records: {record_id} and {change.record.record_id}")
        entry = seal(change.entry, seq=seq, prev_hash=head)
        trail.append(entry)
        head = entry.hash
    return trail


class _Tx:
    """``apply_in``'s view of one open SQLite transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def load(self, locate: Locate) -> PaymentRecord | None:
        row = None
        if locate.provider and locate.payment_id:
            row = self._db.execute(
                "SELECT body FROM paygate_records WHERE provider = ? AND payment_id = ?",
                (locate.provider, locate.payment_id),
            ).fetchone()
        if row is None and locate.record_id is not None:
            row = self._db.execute(
                "SELECT body FROM paygate_records WHERE record_id = ?", (locate.record_id,)
            ).fetchone()
        return PaymentRecord.model_validate_json(row[0]) if row else None

    def seen(self, event: tuple[str, str]) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM paygate_webhook_events WHERE provider = ? AND event_id = ?", event
        ).fetchone()
        return row is not None

    def drop_intent(self, intent: IntentKey) -> bool:
        cursor = self._db.execute(
            "DELETE FROM paygate_intents WHERE provider = ? AND key = ?", intent
        )
        return cursor.rowcount == 1

    def anchor(self, record_id: str) -> tuple[int, str]:
        row = self._db.execute(
            "SELECT trail_length, trail_head FROM paygate_records WHERE record_id = ?",
            (record_id,),
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def save(self, record: PaymentRecord, entry: AuditEntry) -> None:
        self._db.execute(
            f"{_INSERT_RECORD} ON CONFLICT (record_id) DO UPDATE SET "
            "payment_id = excluded.payment_id, status = excluded.status, "
            "next_check = excluded.next_check, body = excluded.body, "
            "trail_length = excluded.trail_length, trail_head = excluded.trail_head",
            _record_row(record, entry),
        )
        self._db.execute(_INSERT_ENTRY, _entry_row(entry))

    def mark(self, event: tuple[str, str], at: datetime) -> None:
        self._db.execute(
            "INSERT INTO paygate_webhook_events VALUES (?, ?, ?)", (*event, at.isoformat())
        )


class SQLiteRecordStore:
    """Payment records, their audit trails and seen webhook events in a SQLite file."""

    blocking = True

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self._db = SharedConnection(self.path, busy_timeout=busy_timeout, schema=_SCHEMA)

    def __repr__(self) -> str:
        return f"paygate.SQLiteRecordStore({str(self.path)!r})"

    def apply(
        self,
        locate: Locate,
        change: ChangeFn,
        *,
        event: tuple[str, str] | None = None,
        intent: IntentKey | None = None,
        needs_intent: bool = False,
    ) -> Applied:
        with self._db.transaction() as db:
            return apply_in(
                _Tx(db),
                locate,
                change,
                event,
                datetime.now(UTC),
                intent=intent,
                needs_intent=needs_intent,
            )

    def bulk_load(self, histories: Iterable[Sequence[Change]]) -> int:
        """Write many new records, each with its whole trail, in one transaction: an import
        from another store, or a fixture of a million records (``apply`` commits once per
        change). Each history is one new record's changes in order, as ``apply`` would have
        taken them one by one: the first made on no record, each next on the record the one
        before it made. The record the last one made is stored; every entry is sealed onto the
        record's chain. A record id or a provider's payment id already stored refuses the whole
        load (``ValueError``; nothing is written). Returns how many records were written."""
        written = 0
        with self._db.transaction() as db:
            try:
                for history in histories:
                    trail = _sealed(history)
                    db.execute(_INSERT_RECORD, _record_row(history[-1].record, trail[-1]))
                    db.executemany(_INSERT_ENTRY, map(_entry_row, trail))
                    written += 1
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"bulk_load writes new records only ({exc})") from None
        return written

    def write_intent(self, intent: Intent) -> Intent | None:
        key = (intent.provider, intent.idempotency_key)
        with self._db.transaction() as db:  # the one it replaces is read under the write lock
            replaced = db.execute(
                "SELECT body FROM paygate_intents WHERE provider = ? AND key = ?", key
            ).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO paygate_intents VALUES (?, ?, ?, ?)",
                (*key, _utc(intent.lease_until), intent.model_dump_json()),
            )
        return None if replaced is None else Intent.model_validate_json(replaced[0])

    def intents(self, lapsed_by: datetime | None = None) -> list[Intent]:
        with self._db.turn() as db:
            if lapsed_by is None:
                rows = db.execute("SELECT body FROM paygate_intents").fetchall()
            else:
                rows = db.execute(
                    "SELECT body FROM paygate_intents WHERE lease_until <= ?", (_utc(lapsed_by),)
                ).fetchall()
        return [Intent.model_validate_json(row[0]) for row in rows]

    def _load(self, locate: Locate) -> PaymentRecord | None:
        with self._db.turn() as db:
            return _Tx(db).load(locate)

    def lookup(self, locate: Locate) -> PaymentRecord | None:
        return self._load(locate)

    def get(self, record_id: str) -> PaymentRecord | None:
        return self._load(Locate(record_id=record_id))

    def find(self, provider: str, payment_id: str) -> PaymentRecord | None:
        return self._load(Locate(provider=provider, payment_id=payment_id))

    def trail(self, record_id: str) -> list[AuditEntry]:
        with self._db.turn() as db:
            rows = db.execute(
                "SELECT body FROM paygate_audit_trail WHERE record_id = ? ORDER BY rowid",
                (record_id,),
            ).fetchall()
        return [AuditEntry.model_validate_json(row[0]) for row in rows]

    def verify(self) -> ChainProblem | None:
        with self._db.turn() as db:
            anchors = db.execute(
                "SELECT record_id, trail_length, trail_head FROM paygate_records ORDER BY record_id"
            ).fetchall()
        for record_id, length, head in anchors:
            problem = verify_chain(record_id, self.trail(record_id), length=length, head=head)
            if problem is not None:
                return problem
        return None

    def with_unknown(self, due_before: datetime | None = None) -> list[PaymentRecord]:
        with self._db.turn() as db:
            if due_before is None:
                rows = db.execute(
                    "SELECT body FROM paygate_records WHERE next_check IS NOT NULL"
                ).fetchall()
            else:
                rows = db.execute(
                    "SELECT body FROM paygate_records WHERE next_check <= ?", (_utc(due_before),)
                ).fetchall()
        return [PaymentRecord.model_validate_json(row[0]) for row in rows]

    def unknown_summary(self, provider: str) -> UnknownSummary:
        # One row from the records holding an unknown outcome (the partial index), each
        # outcome's ``since`` read from the body's JSON. With min() its only aggregate but
        # count(*), SQLite takes the bare column from the row holding the minimum: the oldest
        # ``since`` as it was written, exact (julianday() alone keeps milliseconds).
        with self._db.turn() as db:
            count, _, oldest = db.execute(
                "SELECT count(*), min(julianday(json_extract(u.value, '$.since'))), "
                "json_extract(u.value, '$.since') "
                "FROM paygate_records AS r, json_each(r.body, '$.unknown') AS u "
                "WHERE r.next_check IS NOT NULL AND r.provider = ?",
                (provider,),
            ).fetchone()
        return UnknownSummary(count, _time(oldest))

    def awaiting_action(self, provider: str) -> list[PaymentRecord]:
        with self._db.turn() as db:
            rows = db.execute(
                "SELECT body FROM paygate_records WHERE provider = ? AND status = ?",
                (provider, "requires_action"),
            ).fetchall()
        records = [PaymentRecord.model_validate_json(row[0]) for row in rows]
        return sorted(records, key=lambda r: r.created_at)

    def scan(self, provider: str) -> Iterator[PaymentRecord]:
        for body in self.scan_json(provider):
            yield PaymentRecord.model_validate_json(body)

    def scan_json(self, provider: str) -> Iterator[str]:
        after = -1  # by rowid, the table's own order: no index lookup per record
        while True:
            with self._db.turn() as db:
                rows = db.execute(
                    "SELECT rowid, body FROM paygate_records WHERE provider = ? "
                    "AND rowid > ? ORDER BY rowid LIMIT ?",
                    (provider, after, SCAN_PAGE),
                ).fetchall()
            for row in rows:
                yield row[1]
            if len(rows) < SCAN_PAGE:
                return
            after = rows[-1][0]

    def note_decline(self, card: str, at: datetime, *, final: bool) -> None:
        with self._db.turn() as db:
            db.execute(
                "INSERT INTO paygate_card_declines (card, at, final) VALUES (?, ?, ?)",
                (card, _utc(at), int(final)),
            )

    def declines(self, card: str, since: datetime) -> Declines:
        with self._db.turn() as db:
            rows = db.execute(
                "SELECT at, final FROM paygate_card_declines WHERE card = ? AND (at >= ? OR final) "
                "ORDER BY at",
                (card, _utc(since)),
            ).fetchall()
        at = tuple(datetime.fromisoformat(row[0]) for row in rows if row[0] >= _utc(since))
        return Declines(at, any(row[1] for row in rows))

    def schedule_unknown(self, entries: Sequence[Scheduled]) -> None:
        with self._db.transaction() as db:
            db.executemany(
                "INSERT INTO paygate_janitor (record_id, provider, step, due_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (record_id) DO NOTHING",
                [(e.record_id, e.provider, e.step, _utc(e.due_at)) for e in entries],
            )

    def claim_unknown(
        self, provider: str, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Scheduled]:
        with self._db.transaction() as db:  # the write lock first: no other claim interleaves
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT record_id FROM paygate_janitor WHERE provider = ? AND due_at <= ? "
                    "AND escalated_at IS NULL AND (lease_until IS NULL OR lease_until <= ?) "
                    "ORDER BY due_at LIMIT ?",
                    (provider, _utc(now), _utc(now), limit),
                )
            ]
            db.executemany(
                "UPDATE paygate_janitor SET lease_owner = ?, lease_until = ? WHERE record_id = ?",
                [(owner, _utc(lease_until), record_id) for record_id in ids],
            )
            rows = [
                db.execute(
                    f"SELECT {_SCHEDULE_COLUMNS} FROM paygate_janitor WHERE record_id = ?",
                    (record_id,),
                ).fetchone()
                for record_id in ids
            ]
        return [_scheduled(row) for row in rows]

    def reschedule_unknown(self, scheduled: Scheduled, owner: str) -> bool:
        escalated = None if scheduled.escalated_at is None else _utc(scheduled.escalated_at)
        with self._db.turn() as db:
            cursor = db.execute(
                "UPDATE paygate_janitor SET step = ?, due_at = ?, escalated_at = ?, "
                "lease_owner = NULL, lease_until = NULL WHERE record_id = ? AND lease_owner = ?",
                (scheduled.step, _utc(scheduled.due_at), escalated, scheduled.record_id, owner),
            )
            return cursor.rowcount == 1

    def unschedule_unknown(self, record_id: str) -> None:
        with self._db.turn() as db:
            db.execute("DELETE FROM paygate_janitor WHERE record_id = ?", (record_id,))

    def unknown_schedule(self, provider: str) -> list[Scheduled]:
        with self._db.turn() as db:
            rows = db.execute(
                f"SELECT {_SCHEDULE_COLUMNS} FROM paygate_janitor WHERE provider = ? "
                "ORDER BY due_at",
                (provider,),
            ).fetchall()
        return [_scheduled(row) for row in rows]

    def close(self) -> None:
        self._db.close()
