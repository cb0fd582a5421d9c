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
    "SettlementCause",
    "WebhookCause",
    "seal",
    "verify_chain",
]

GENESIS: Final = "0" * 64


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Every model the hash covers declares its fields in alphabetical order: its JSON, as pydantic
# writes it, is then already the canonical text (keys sorted, no spaces), with no dict to build
# and sort on every write. ``test_trail`` holds them to that order.
class CallCause(_Frozen):
    idempotency_key: str | None
    kind: Literal["call"] = "call"
    operation: str


class WebhookCause(_Frozen):
    event_id: str
    event_type: str
    kind: Literal["webhook"] = "webhook"
    provider: str


class ResolverCause(_Frozen):
    attempt: int
    idempotency_key: str
    kind: Literal["resolver"] = "resolver"
    operation: str


class SettlementCause(_Frozen):
    """A row of the provider's settlement data (``paygate.recon``): the file or listing it
    was read from, its line there, and the provider's id for it."""

    entry_id: str
    kind: Literal["settlement"] = "settlement"
    line: int
    provider: str
    source: str


Cause = Annotated[
    CallCause | WebhookCause | ResolverCause | SettlementCause, Field(discriminator="kind")
]


class AuditEntry(_Frozen):
    """One change (or refused change) of one payment record."""

    amount_authorized: str
    amount_captured: str
    amount_refunded: str
    at: datetime
    cause: Cause
    currency: str
    from_status: PaymentStatus | None
    hash: str
    note: str  # what happened: applied, refused and why, received, outcome unknown...
    prev_hash: str
    record_id: str
    seq: int  # 1, 2, 3... within the record's chain
    to_status: PaymentStatus

    def payload(self) -> str:
        """The canonical text the hash covers: every field but the hash itself, as JSON with
        sorted keys, no spaces, and everything beyond printable ASCII escaped (``json.dumps``
        with ``sort_keys=True``, ``separators=(",", ":")``)."""
        text = self.model_dump_json(exclude={"hash"})
        if text.isascii() and "\x7f" not in text:
            return text  # pydantic and json.dumps escape printable ASCII alike
        return json.dumps(
            self.model_dump(mode="json", exclude={"hash"}), sort_keys=True, separators=(",", ":")
        )


def _digest(entry: AuditEntry) -> str:
    return hashlib.sha256(entry.payload().encode()).hexdigest()


def seal(entry: AuditEntry, *, seq: int, prev_hash: str) -> AuditEntry:
    """The entry numbered and chained after ``prev_hash``, with its own hash. (An unsealed
    entry is drafted as the first of a new chain: a new record's is sealed with one copy.)"""
    if entry.seq != seq or entry.prev_hash != prev_hash or entry.hash:
        entry = entry.model_copy(update={"seq": seq, "prev_hash": prev_hash, "hash": ""})
    return entry.model_copy(update={"hash": _digest(entry)})


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
