"""The audit trail: append-only, hash-chained entries, one chain per payment record.

Each entry carries the hash of the one before it and its own hash over everything it says; the
record keeps the length and head hash of its chain. ``verify_chain`` walks a chain and names the
first entry that was edited, removed or moved, and a chain cut short at its end is caught by
the record's anchor. Entries never hold a secret: causes name idempotency keys and provider
event ids, amounts and statuses, nothing about the card.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from paygate.models import PaymentStatus

__all__ = [
    "GENESIS",
    "AuditEntry",
    "CallCause",
    "Cause",
    "ChainProblem",
    "ResolverCause",
    "WebhookCause",
    "seal",
    "verify_chain",
]

GENESIS: Final = "0" * 64


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CallCause(_Frozen):
    kind: Literal["call"] = "call"
    operation: str
    idempotency_key: str | None


class WebhookCause(_Frozen):
    kind: Literal["webhook"] = "webhook"
    provider: str
    event_id: str
    event_type: str


class ResolverCause(_Frozen):
    kind: Literal["resolver"] = "resolver"
    operation: str
    idempotency_key: str
    attempt: int


Cause = Annotated[CallCause | WebhookCause | ResolverCause, Field(discriminator="kind")]


class AuditEntry(_Frozen):
    """One change (or refused change) of one payment record."""

    record_id: str
    seq: int  # 1, 2, 3... within the record's chain
    at: datetime
    from_status: PaymentStatus | None
    to_status: PaymentStatus
    amount_authorized: str
    amount_captured: str
    amount_refunded: str
    currency: str
    cause: Cause
    note: str  # what happened: applied, refused and why, received, outcome unknown...
    prev_hash: str
    hash: str

    def payload(self) -> str:
        """The canonical text the hash covers: every field but the hash itself."""
        return _canonical(self.model_dump(mode="json", exclude={"hash"}))


def _canonical(fields: dict[str, object]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def _digest(entry: AuditEntry) -> str:
    return hashlib.sha256(entry.payload().encode()).hexdigest()


def seal(entry: AuditEntry, *, seq: int, prev_hash: str) -> AuditEntry:
    """The entry numbered and chained after ``prev_hash``, with its own hash (the payload of
    the chained entry, computed before it is built: one copy, not two)."""
    fields = entry.model_dump(mode="json", exclude={"hash"})
    fields["seq"], fields["prev_hash"] = seq, prev_hash  # an int and a str dump as themselves
    digest = hashlib.sha256(_canonical(fields).encode()).hexdigest()
    return entry.model_copy(update={"seq": seq, "prev_hash": prev_hash, "hash": digest})


class ChainProblem(_Frozen):
    """The first bad entry of a chain, and what is wrong with it."""

    record_id: str
    seq: int
    problem: str


def verify_chain(
    record_id: str, entries: Sequence[AuditEntry], *, length: int, head: str
) -> ChainProblem | None:
    """None when the chain is intact and ends where the record says it ends."""
    prev = GENESIS
    for position, entry in enumerate(entries, start=1):
        if entry.record_id != record_id:
            return ChainProblem(
                record_id=record_id, seq=position, problem="belongs to another record"
            )
        if entry.seq != position:
            return ChainProblem(
                record_id=record_id,
                seq=position,
                problem=f"entry {position} is missing or out of order (found seq {entry.seq})",
            )
        if entry.prev_hash != prev:
            return ChainProblem(
                record_id=record_id, seq=position, problem="does not follow the entry before it"
            )
        if _digest(entry) != entry.hash:
            return ChainProblem(record_id=record_id, seq=position, problem="was edited")
        prev = entry.hash
    if len(entries) != length or prev != head:
        return ChainProblem(
            record_id=record_id,
            seq=len(entries) + 1,
            problem=f"the chain has {len(entries)} entries but the record anchors {length}",
        )
    return None
