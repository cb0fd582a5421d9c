"""The record store protocol, and the one way every store applies a change (``apply_in``,
generated for blocking stores from ``_apply_async``).

A store's job is to make ``apply`` atomic: find the record, drop a webhook event already seen,
run the pure change, clear the intent the change answers, seal its trail entry onto the
record's chain, and write the record, the entry and the event id together. ``apply_in`` is that
sequence, written once against a small transaction interface each store implements (a locked
dict, a SQLite transaction, a PostgreSQL transaction), so the stores cannot drift apart.

Intents (``Intent``) are the write-ahead half: a mutating call's intent is written before its
request leaves and cleared by the ``apply`` that records its outcome. An intent still there
after its lease is a call that ended without recording anything (a crash, a store failure):
``intents(lapsed_by=now)`` lists them, for the gateway to turn into unknown outcomes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol, runtime_checkable

from paygate.records._applied import Applied, ChangeFn, IntentKey, Locate, locate_payment
from paygate.records._apply import Transaction, apply_in
from paygate.records.schedule import Scheduled
from paygate.records.state import Intent, PaymentRecord
from paygate.records.trail import AuditEntry, ChainProblem

__all__ = [
    "SCAN_PAGE",
    "Applied",
    "AsyncRecordCalls",
    "AsyncSettlingRecords",
    "ChangeFn",
    "Declines",
    "IntentKey",
    "Locate",
    "NativeAsyncRecords",
    "RecordStore",
    "SettlingRecords",
    "Transaction",
    "UnknownSummary",
    "apply_in",
    "locate_payment",
]
# Applied, ChangeFn, IntentKey, Locate and locate_payment live in ``_applied``; Transaction and
# apply_in in ``_apply``: imported here, where callers have always found them.


@dataclass(frozen=True, slots=True)
class UnknownSummary:
    """A provider's unknown outcomes in one read (``RecordStore.unknown_summary``): how many
    are open (a record may hold several) and when the oldest became unknown (None: none)."""

    count: int
    oldest: datetime | None


@dataclass(frozen=True, slots=True)
class Declines:
    """A card's declines in a window (``at``, oldest first) and whether any was ever final."""

    at: tuple[datetime, ...]
    final: bool


SCAN_PAGE: Final = 1000  # records read per page by ``scan``


class RecordStore(Protocol):
    """Where payment records, their trails and seen webhook events live."""

    blocking: bool
    """True when calls do blocking I/O (the async gateway runs them in a worker thread)."""

    def apply(
        self,
        locate: Locate,
        change: ChangeFn,
        *,
        event: tuple[str, str] | None = None,
        intent: IntentKey | None = None,
        needs_intent: bool = False,
    ) -> Applied:
        """Atomically: skip a seen ``event``, run ``change`` on the located record (None when
        there is none), clear ``intent``, append the change's trail entry, and save. With
        ``needs_intent``, nothing is saved unless ``intent`` was still there to clear, and the
        intent is kept when the change has nothing to write."""
        ...

    def write_intent(self, intent: Intent) -> Intent | None:
        """Keep ``intent`` until an ``apply`` clears it. Durable before it returns: the request
        is sent only afterwards. An intent already under the same provider and key is replaced,
        in the same atomic step, and returned: the trace of an earlier call under the key that
        ended without recording its outcome, which the new call then answers for."""
        ...

    def intents(self, lapsed_by: datetime | None = None) -> list[Intent]:
        """Intents not cleared yet (only those whose lease ended by ``lapsed_by``, if given)."""
        ...

    def lookup(self, locate: Locate) -> PaymentRecord | None:
        """The located record, read without a write lock."""
        ...

    def get(self, record_id: str) -> PaymentRecord | None: ...

    def find(self, provider: str, payment_id: str) -> PaymentRecord | None: ...

    def trail(self, record_id: str) -> list[AuditEntry]:
        """The record's entries, oldest first."""
        ...

    def verify(self) -> ChainProblem | None:
        """None when every chain is intact; else the first bad entry found."""
        ...

    def with_unknown(self, due_before: datetime | None = None) -> list[PaymentRecord]:
        """Records holding an unknown outcome (only those due for a check, if a time is given)."""
        ...

    def unknown_summary(self, provider: str) -> UnknownSummary:
        """How many unknown outcomes the provider's records hold, and the ``since`` of the
        oldest, in one read that builds no record: what the gauges ask on every metric
        collection (``paygate.unknown_outcomes.open`` and ``.oldest_age``)."""
        ...

    def awaiting_action(self, provider: str) -> list[PaymentRecord]:
        """The provider's payments still awaiting the shopper (``requires_action``), oldest
        first."""
        ...

    def scan(self, provider: str) -> Iterator[PaymentRecord]:
        """Every record of the provider's payments, each once, read a page at a time in the
        order the store keeps them (no order a caller may rely on)."""
        ...

    def scan_json(self, provider: str) -> Iterator[str]:
        """What ``scan`` yields, each record as its JSON document (``PaymentRecord``'s JSON
        form) without building it: for a bulk reader that parses the documents itself
        (settlement reconciliation hands a million of them to DuckDB)."""
        ...

    def note_decline(self, card: str, at: datetime, *, final: bool) -> None:
        """Keep that the card ``card`` (a digest naming it, never its number) was declined at
        ``at``; ``final``: for good (the network says it will never be approved)."""
        ...

    def declines(self, card: str, since: datetime) -> Declines:
        """The card's declines since ``since``, and whether one was ever final."""
        ...

    # -- the janitor's schedules (``paygate.records.schedule``) ----------------------------------
    def schedule_unknown(self, entries: Sequence[Scheduled]) -> None:
        """Start the janitor's schedule of each record named that has none yet; one that has
        is left as it is."""
        ...

    def claim_unknown(
        self, provider: str, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Scheduled]:
        """Atomically lease to ``owner``, until ``lease_until``, up to ``limit`` of the
        provider's schedules due by ``now``, not escalated and not leased past ``now``; the
        earliest due first. Each is returned as leased."""
        ...

    def reschedule_unknown(self, scheduled: Scheduled, owner: str) -> bool:
        """Write a schedule's next step (``step``, ``due_at``, ``escalated_at``) and end its
        lease, if ``owner`` still holds it; False (nothing written) otherwise."""
        ...

    def unschedule_unknown(self, record_id: str) -> None:
        """Forget a record's schedule (its unknown outcomes are settled)."""
        ...

    def unknown_schedule(self, provider: str) -> list[Scheduled]:
        """The provider's schedules, the earliest due first."""
        ...

    def close(self) -> None: ...


class AsyncRecordCalls(Protocol):
    """The record store calls on ``AsyncGateway``'s path of every mutating call (the guard's
    read, the intent before the request, the outcome after it), awaited. A store with a native
    asyncio driver gives them (``NativeAsyncRecords``); any other is run in a worker thread
    when it does blocking I/O, or inline when it does not. The gateway's other record calls
    (listings, trails, the resolver's) run as the store's own, in a worker thread."""

    async def apply_async(
        self,
        locate: Locate,
        change: ChangeFn,
        *,
        event: tuple[str, str] | None = None,
        intent: IntentKey | None = None,
        needs_intent: bool = False,
    ) -> Applied: ...

    async def write_intent_async(self, intent: Intent) -> Intent | None: ...

    async def lookup_async(self, locate: Locate) -> PaymentRecord | None: ...

    async def aclose(self) -> None:
        """Release what this face holds (its asyncio connections); the store stays open."""
        ...


class SettlingRecords(Protocol):
    """A record store's apply that also settles the call's idempotency key in its own
    transaction, where both stores share one database (``PostgresRecordStore.settling``): the
    outcome to replay is what ``outcome_of`` says of the applied record (None: release the key).
    Returns the applied change, and whether the key's lease had gone to another caller."""

    def apply_settling(
        self,
        locate: Locate,
        change: ChangeFn,
        *,
        intent: IntentKey | None,
        key: str,
        token: str,
        outcome_of: Callable[[PaymentRecord | None], str | None],
    ) -> tuple[Applied, bool]: ...


class AsyncSettlingRecords(Protocol):
    """``SettlingRecords`` for ``AsyncGateway``, on the record store's asyncio face."""

    async def apply_settling_async(
        self,
        locate: Locate,
        change: ChangeFn,
        *,
        intent: IntentKey | None,
        key: str,
        token: str,
        outcome_of: Callable[[PaymentRecord | None], str | None],
    ) -> tuple[Applied, bool]: ...


@runtime_checkable
class NativeAsyncRecords(Protocol):
    """A record store that talks to its server from asyncio itself (PostgreSQL):
    ``records_for_asyncio()`` gives a new face for one event loop, opened on its first call."""

    def records_for_asyncio(self) -> AsyncRecordCalls: ...
