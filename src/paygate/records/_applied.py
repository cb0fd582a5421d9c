"""What a change is applied to and what applying it did: the names ``apply`` and its callers
share (re-exported by ``paygate.records.store``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from paygate.models import RECORD_ID_PREFIX
from paygate.records.changes import Change
from paygate.records.state import PaymentRecord
from paygate.records.trail import AuditEntry

__all__ = ["NEW_RECORD", "Applied", "ChangeFn", "IntentKey", "Locate", "locate_payment"]


@dataclass(frozen=True, slots=True)
class Locate:
    """Which record a change is about: the provider's payment's, when a record holds that
    payment, else paygate's record by its id; neither given means a new record. (A payment is
    on one record: an answer naming a payment a webhook already recorded goes to that record,
    never to a second one.)"""

    record_id: str | None = None
    provider: str | None = None
    payment_id: str | None = None


def locate_payment(provider: str, payment_id: str) -> Locate:
    """The record of a payment named as paygate named it to the caller: by the provider's id,
    or, for a payment the provider has not named yet (it awaits the shopper), by the record's
    own id."""
    named_by_record = payment_id.startswith(RECORD_ID_PREFIX)
    return Locate(
        record_id=payment_id if named_by_record else None, provider=provider, payment_id=payment_id
    )


@dataclass(frozen=True, slots=True)
class Applied:
    """What ``apply`` did. ``record`` is the record after (None if there was none to change)."""

    record: PaymentRecord | None
    entry: AuditEntry | None
    applied: bool
    duplicate: bool = False


ChangeFn = Callable[[PaymentRecord | None], Change | None]
IntentKey = tuple[str, str]  # (provider, idempotency key): an intent's identity
NEW_RECORD: Final = Locate()  # names no record: the change starts one
