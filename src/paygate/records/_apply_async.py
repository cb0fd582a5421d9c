"""The one way every store applies a change, inside one of its atomic units of work: for
asyncio callers (``_apply.py`` is generated from this file)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from paygate.records._applied import NEW_RECORD, Applied, ChangeFn, IntentKey, Locate
from paygate.records.state import PaymentRecord
from paygate.records.trail import GENESIS, AuditEntry, seal

__all__ = ["AsyncTransaction", "apply_in_async"]


class AsyncTransaction(Protocol):
    """What ``apply_in_async`` needs from a store, inside one atomic unit of work."""

    async def load(self, locate: Locate) -> PaymentRecord | None: ...
    async def seen(self, event: tuple[str, str]) -> bool: ...
    async def drop_intent(self, intent: IntentKey) -> bool: ...
    async def anchor(self, record_id: str) -> tuple[int, str]: ...
    async def save(self, record: PaymentRecord, entry: AuditEntry) -> None: ...
    async def mark(self, event: tuple[str, str], at: datetime) -> None: ...


async def apply_in_async(
    tx: AsyncTransaction,
    locate: Locate,
    change: ChangeFn,
    event: tuple[str, str] | None,
    now: datetime,
    *,
    intent: IntentKey | None = None,
    needs_intent: bool = False,
) -> Applied:
    """Skip a seen ``event``, run ``change`` on the located record, clear ``intent`` (with
    ``needs_intent``: only a change that answers it, and only while it is there), seal the
    change's trail entry onto the record's chain, and save both."""
    if event is not None and await tx.seen(event):
        return Applied(record=await tx.load(locate), entry=None, applied=False, duplicate=True)
    current = await tx.load(locate) if locate != NEW_RECORD else None
    outcome = change(current)
    if intent is not None:
        if needs_intent and outcome is None:
            return Applied(record=current, entry=None, applied=False)  # keep it: no record yet
        if not await tx.drop_intent(intent) and needs_intent:
            return Applied(record=current, entry=None, applied=False)  # cleared meanwhile
    if event is not None:
        await tx.mark(event, now)
    if outcome is None:
        return Applied(record=current, entry=None, applied=False)
    if current is not None:
        length, head = await tx.anchor(outcome.record.record_id)
    else:
        length, head = 0, GENESIS
    entry = seal(outcome.entry, seq=length + 1, prev_hash=head)
    await tx.save(outcome.record, entry)
    return Applied(record=outcome.record, entry=entry, applied=outcome.applied)
