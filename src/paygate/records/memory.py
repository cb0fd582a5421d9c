"""The in-memory record store: one process, nothing survives it. The default."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Final

from paygate.models import PaymentStatus
from paygate.records.schedule import Scheduled
from paygate.records.state import Intent, PaymentRecord
from paygate.records.store import (
    Applied,
    ChangeFn,
    Declines,
    IntentKey,
    Locate,
    UnknownSummary,
    apply_in,
)
from paygate.records.trail import GENESIS, AuditEntry, ChainProblem, verify_chain

DEFAULT_MAX_RECORDS = 100_000
_DECLINES_KEPT: Final = 1000  # a card's newest declines kept: more than any cap counts


class MemoryRecordStore:
    """Records, trails and seen events in dicts, safe across the threads of one process.

    Bounded, as a long-running process needs: beyond ``max_records`` the records changed least
    recently are forgotten with their trails (never one holding an unknown outcome or one a
    call in flight is about), and the ``max_records * 4`` most recent webhook event ids are
    remembered for deduplication. A service that must keep every record uses a durable store
    (SQLite, PostgreSQL).
    """

    blocking = False

    def __init__(self, *, max_records: int = DEFAULT_MAX_RECORDS) -> None:
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        self._max_records = max_records
        self._records: OrderedDict[str, PaymentRecord] = OrderedDict()
        self._by_payment: dict[tuple[str, str], str] = {}
        self._trails: dict[str, list[AuditEntry]] = {}
        self._events: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._intents: dict[IntentKey, Intent] = {}
        self._in_flight: Counter[str] = Counter()  # payment ids intents are about
        self._declines: dict[str, list[datetime]] = {}
        self._final: set[str] = set()
        self._schedules: dict[str, Scheduled] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"paygate.MemoryRecordStore(records={len(self._records)})"

    # -- the transaction apply_in runs against ---------------------------------------------------
    def load(self, locate: Locate) -> PaymentRecord | None:
        if locate.provider and locate.payment_id:
            record_id = self._by_payment.get((locate.provider, locate.payment_id))
            if record_id is not None:
                return self._records.get(record_id)
        return self._records.get(locate.record_id) if locate.record_id is not None else None

    def seen(self, event: tuple[str, str]) -> bool:
        return event in self._events

    def drop_intent(self, intent: IntentKey) -> bool:
        dropped = self._intents.pop(intent, None)
        if dropped is None:
            return False
        if dropped.payment_id is not None:
            self._in_flight[dropped.payment_id] -= 1
            if self._in_flight[dropped.payment_id] <= 0:
                del self._in_flight[dropped.payment_id]
        return True

    def anchor(self, record_id: str) -> tuple[int, str]:
        trail = self._trails.get(record_id, [])
        return len(trail), trail[-1].hash if trail else GENESIS

    def save(self, record: PaymentRecord, entry: AuditEntry) -> None:
        self._records[record.record_id] = record
        self._records.move_to_end(record.record_id)
        if record.payment_id is not None:
            self._by_payment[(record.provider, record.payment_id)] = record.record_id
        self._trails.setdefault(record.record_id, []).append(entry)
        self._evict()

    def mark(self, event: tuple[str, str], at: datetime) -> None:
        self._events[event] = None
        while len(self._events) > 4 * self._max_records:
            self._events.popitem(last=False)

    def _evict(self) -> None:
        """Forget the least recently changed records over the bound; step over (move to the
        back) any holding an unknown outcome, which must stay until it is settled."""
        for _ in range(len(self._records)):
            if len(self._records) <= self._max_records:
                return
            record_id, oldest = next(iter(self._records.items()))
            if oldest.unknown or (oldest.payment_id or "") in self._in_flight:
                self._records.move_to_end(record_id)
                continue
            del self._records[record_id]
            del self._trails[record_id]
            if oldest.payment_id is not None:
                self._by_payment.pop((oldest.provider, oldest.payment_id), None)

    # -- the store -------------------------------------------------------------------------------
    def apply(
        self,
        locate: Locate,
        change: ChangeFn,
        *,
        event: tuple[str, str] | None = None,
        intent: IntentKey | None = None,
        needs_intent: bool = False,
    ) -> Applied:
        with self._lock:
            return apply_in(
                self,
                locate,
                change,
                event,
                datetime.now(UTC),
                intent=intent,
                needs_intent=needs_intent,
            )

    def write_intent(self, intent: Intent) -> Intent | None:
        key = (intent.provider, intent.idempotency_key)
        with self._lock:
            replaced = self._intents.get(key)
            self.drop_intent(key)
            self._intents[key] = intent
            if intent.payment_id is not None:
                self._in_flight[intent.payment_id] += 1
            return replaced

    def intents(self, lapsed_by: datetime | None = None) -> list[Intent]:
        with self._lock:
            return [
                intent
                for intent in self._intents.values()
                if lapsed_by is None or intent.lease_until <= lapsed_by
            ]

    def awaiting_action(self, provider: str) -> list[PaymentRecord]:
        with self._lock:
            waiting = [
                r
                for r in self._records.values()
                if r.provider == provider and r.status is PaymentStatus.REQUIRES_ACTION
            ]
        return sorted(waiting, key=lambda r: r.created_at)

    def scan(self, provider: str) -> Iterator[PaymentRecord]:
        with self._lock:
            records = [r for r in self._records.values() if r.provider == provider]
        yield from sorted(records, key=lambda r: r.record_id)

    def scan_json(self, provider: str) -> Iterator[str]:
        for record in self.scan(provider):
            yield record.model_dump_json()

    def note_decline(self, card: str, at: datetime, *, final: bool) -> None:
        with self._lock:
            kept = self._declines.setdefault(card, [])
            kept.append(at)
            del kept[:-_DECLINES_KEPT]
            if final:
                self._final.add(card)

    def declines(self, card: str, since: datetime) -> Declines:
        with self._lock:
            kept = sorted(at for at in self._declines.get(card, []) if at >= since)
            return Declines(tuple(kept), card in self._final)

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

    def unknown_summary(self, provider: str) -> UnknownSummary:
        with self._lock:
            since = [
                u.since for r in self._records.values() if r.provider == provider for u in r.unknown
            ]
        return UnknownSummary(len(since), min(since, default=None))

    def schedule_unknown(self, entries: Sequence[Scheduled]) -> None:
        with self._lock:
            for entry in entries:
                self._schedules.setdefault(entry.record_id, entry)

    def claim_unknown(
        self, provider: str, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Scheduled]:
        with self._lock:
            free = sorted(
                (
                    s
                    for s in self._schedules.values()
                    if s.provider == provider
                    and s.due_at <= now
                    and s.escalated_at is None
                    and (s.lease_until is None or s.lease_until <= now)
                ),
                key=lambda s: s.due_at,
            )[:limit]
            claimed = [replace(s, lease_owner=owner, lease_until=lease_until) for s in free]
            self._schedules.update((s.record_id, s) for s in claimed)
            return claimed

    def reschedule_unknown(self, scheduled: Scheduled, owner: str) -> bool:
        with self._lock:
            held = self._schedules.get(scheduled.record_id)
            if held is None or held.lease_owner != owner:
                return False
            self._schedules[scheduled.record_id] = replace(
                scheduled, lease_owner=None, lease_until=None
            )
            return True

    def unschedule_unknown(self, record_id: str) -> None:
        with self._lock:
            self._schedules.pop(record_id, None)

    def unknown_schedule(self, provider: str) -> list[Scheduled]:
        with self._lock:
            mine = [s for s in self._schedules.values() if s.provider == provider]
        return sorted(mine, key=lambda s: s.due_at)

    def close(self) -> None:
        """Nothing to release."""
