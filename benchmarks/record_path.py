"""What the payment record path costs one in-process call: the overhead contest of
``overhead.py`` run again with that path priced out, next to the bare httpx exchange.

The record path is what a mutating call writes so that no payment is ever lost: the intent,
built and written before the request leaves, and the outcome, built into the record's change
(the record, its audit entry sealed onto the hash chain) and applied after the answer. Priced
out, the intent and the change are not built and the store keeps nothing; everything else (the
input checks, the key and fingerprint, the idempotency store, the breaker, the bulkhead, the
request, the answer's validation) runs as it does. No gateway may run so: this is a measurement
of where the in-process target's budget goes, and the patches are undone when it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from benchmarks._harness import Stats
from benchmarks.overhead import async_contest, sync_contest
from paygate.gateway import _steps
from paygate.records import Applied, Intent, MemoryRecordStore


class _KeepsNothing(MemoryRecordStore):
    """A record store that takes the call path's writes and keeps nothing."""

    def write_intent(self, intent: Intent) -> Intent | None:
        return None

    def apply(self, *args: Any, **kwargs: Any) -> Applied:
        return Applied(record=None, entry=None, applied=False)


def _no_intent(p: object, prepared: object) -> None:
    return None


def _no_change(provider: object, prepared: object, outcome: object) -> tuple[None, None]:
    return None, None


@contextmanager
def _priced_out() -> Iterator[MemoryRecordStore]:
    """The record path's building steps skipped, for the store this yields."""
    with (
        mock.patch.object(_steps, "intent", new=_no_intent),
        mock.patch.object(_steps, "record_change", new=_no_change),
    ):
        yield _KeepsNothing()


@dataclass(frozen=True)
class RecordPathResult:
    title: str
    paygate: Stats
    bare: Stats

    @property
    def ratio(self) -> float:
        return self.paygate.median / self.bare.median


def record_path(*, rounds: int, per_round: int) -> list[RecordPathResult]:
    """The sync and async contests with the record path priced out."""
    with _priced_out() as records:
        sync = sync_contest(rounds=rounds, per_round=per_round, records=records)
    with _priced_out() as records:
        on_a_loop = async_contest(rounds=rounds, per_round=per_round, records=records)
    return [RecordPathResult("sync", *sync), RecordPathResult("async", *on_a_loop)]
