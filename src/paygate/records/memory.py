"""The in-memory record store: one process, nothing survives it. The default."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from paygate.records.state import PaymentRecord
from paygate.records.store import Applied, ChangeFn, Locate, apply_in
from paygate.records.trail import GENESIS, AuditEntry, ChainProblem, verify_chain


class MemoryRecordStore:
    """Records, trails and seen events in dicts, safe across the threads of one process."""

    blocking = False

    def __init__(self) -> None:
        self._records: dict[str, PaymentRecord] = {}
        self._by_payment: dict[tuple[str, str], str] = {}
        self._trails: dict[str, list[AuditEntry]] = {}
        self._events: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"paygate.MemoryRecordStore(records={len(self._records)})"

    # -- the transaction apply_in runs against ---------------------------------------------------
    def load(self, locate: Locate) -> PaymentRecord | None:
        if locate.record_id is not None and locate.record_id in self._records:
            return self._records[locate.record_id]
        if locate.provider and locate.payment_id:
            record_id = self._by_payment.get((locate.provider, locate.payment_id))
            return self._records.get(record_id) if record_id else None
        return None

    def seen(self, event: tuple[str, str]) -> bool:
        return event in self._events

    def anchor(self, record_id: str) -> tuple[int, str]:
        trail = self._trails.get(record_id, [])
        return len(trail), trail[-1].hash if trail else GENESIS

    def save(self, record: PaymentRecord, entry: AuditEntry) -> None:
        self._records[record.record_id] = record
        if record.payment_id is not None:
            self._by_payment[(record.provider, record.payment_id)] = record.record_id
        self._trails.setdefault(record.record_id, []).append(entry)

    def mark(self, event: tuple[str, str], at: datetime) -> None:
        self._events.add(event)

    # -- the store -------------------------------------------------------------------------------
    def apply(
        self, locate: Locate, change: ChangeFn, *, event: tuple[str, str] | None = None
    ) -> Applied:
        with self._lock:
            return apply_in(self, locate, change, event, datetime.now(UTC))

    def lookup(self, locate: Locate) -> PaymentRecord | None:
        with self._lock:
            return self.load(locate)

    def get(self, record_id: str) -> PaymentRecord | None:
        with self._lock:
            return self._records.get(record_id)

    def find(self, provider: str, payment_id: str) -> PaymentRecord | None:
        with self._lock:
            return self.load(Locate(provider=provider, payment_id=payment_id))

    def trail(self, record_id: str) -> list[AuditEntry]:
        with self._lock:
            return list(self._trails.get(record_id, []))

    def verify(self) -> ChainProblem | None:
        with self._lock:
            for record_id, trail in self._trails.items():
                length, head = self.anchor(record_id)
                problem = verify_chain(record_id, trail, length=length, head=head)
                if problem is not None:
                    return problem
        return None

    def with_unknown(self, due_before: datetime | None = None) -> list[PaymentRecord]:
        with self._lock:
            return [
                r
                for r in self._records.values()
                if r.unknown
                and (due_before is None or min(u.next_check_at for u in r.unknown) <= due_before)
            ]

    def close(self) -> None:
        """Nothing to release."""
