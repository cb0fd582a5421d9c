"""Every way a record changes, as pure functions: (record before, what happened) → ``Change``.

Each builds the candidate record from the facts it brings, derives its status, and asks the
transition table; a change the table refuses leaves the record as it was and is still written
to the trail with the reason. The store runs these inside its transaction and seals the entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from paygate.errors import CardDeclinedError
from paygate.models import (
    RECORD_ID_PREFIX,
    EventType,
    ModificationReceipt,
    Operation,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    WebhookEvent,
)
from paygate.money import Money
from paygate.records.state import (
    MODIFICATION_TRANSITIONS,
    PRE_AUTHORIZATION,
    Modification,
    ModificationStatus,
    PaymentRecord,
    UnknownOperation,
    derive_status,
    status_of,
    transition_allowed,
)
from paygate.records.trail import GENESIS, AuditEntry, Cause

# Back-off between attempts to settle an unknown outcome: 30 s, 1 min, 2 min ... 1 h.
_FIRST_CHECK = timedelta(seconds=30)
_LAST_CHECK = timedelta(hours=1)

_REFUND_STATUS = {
    RefundStatus.PENDING: ModificationStatus.RECEIVED,
    RefundStatus.SUCCEEDED: ModificationStatus.SUCCEEDED,
    RefundStatus.FAILED: ModificationStatus.FAILED,
}


@dataclass(frozen=True, slots=True)
class Change:
    """The record after one input, the trail entry it leaves (sealed by the store), and
    whether the input changed anything."""

    record: PaymentRecord
    entry: AuditEntry
    applied: bool


def new_record_id() -> str:
    return f"{RECORD_ID_PREFIX}{uuid.uuid4().hex}"


def blank(
    provider: str,
    amount: Money,
    reference: str | None,
    now: datetime,
    record_id: str | None = None,
    **facts: object,
) -> PaymentRecord:
    """A record for a payment paygate is about to learn of, with any ``facts`` already known
    (built once: a validated constructor costs less than ``model_construct`` and a copy)."""
    zero = Money.zero(amount.currency)
    fields: dict[str, object] = {
        "record_id": record_id or new_record_id(),
        "provider": provider,
        "payment_id": None,
        "reference": reference,
        "status": PaymentStatus.PENDING,
        "amount": amount,
        "reported_authorized": zero,
        "reported_captured": zero,
        "reported_refunded": zero,
        "created_at": now,
        "updated_at": now,
    }
    return PaymentRecord.model_validate(fields | facts)


def _entry(
    old: PaymentRecord | None, new: PaymentRecord, cause: Cause, note: str, now: datetime
) -> AuditEntry:
    return AuditEntry.model_validate(
        {
            "record_id": new.record_id,
            "seq": 1,  # a draft, as the first of a new chain; the store numbers and chains it
            "at": now,
            "from_status": old.status if old is not None else None,
            "to_status": new.status,
            "amount_authorized": str(new.amount_authorized.amount),
            "amount_captured": str(new.amount_captured.amount),
            "amount_refunded": str(new.amount_refunded.amount),
            "currency": new.currency,
            "cause": cause,
            "note": note,
            "prev_hash": GENESIS,
            "hash": "",
        }
    )


def _finish(
    old: PaymentRecord | None,
    candidate: PaymentRecord,
    cause: Cause,
    note: str,
    now: datetime,
) -> Change:
    status = derive_status(candidate)
    before = old.status if old is not None else None
    if old is not None and not transition_allowed(before, status):
        refused = f"refused: {before} → {status} is not an allowed transition ({note})"
        return Change(old, _entry(old, old, cause, refused, now), applied=False)
    new = candidate.model_copy(update={"status": status, "updated_at": now})
    if old is not None and _same_but_time(old, new):
        return Change(old, _entry(old, old, cause, f"no change: {note}", now), applied=False)
    return Change(new, _entry(old, new, cause, note, now), applied=True)


# Every field but ``updated_at``: first those a change most often moves, so that a record that
# did change is told apart after a field or two.
_MOVED_MOST: Final = ("status", "modifications", "unknown", "reported_captured", "payment_id")
_FACTS: Final = _MOVED_MOST + tuple(
    name for name in PaymentRecord.model_fields if name not in {*_MOVED_MOST, "updated_at"}
)


def _same_but_time(old: PaymentRecord, new: PaymentRecord) -> bool:
    """Whether ``new`` says all that ``old`` says (compared field by field, no copies)."""
    return all(getattr(new, name) == getattr(old, name) for name in _FACTS)


def _raise_reported(record: PaymentRecord | None, payment: Payment) -> dict[str, object]:
    """The provider's cumulative figures, never lowered by an older snapshot."""
    if record is None:
        return {
            "reported_authorized": payment.amount_authorized,
            "reported_captured": payment.amount_captured,
            "reported_refunded": payment.amount_refunded,
        }
    return {
        "reported_authorized": max(record.reported_authorized, payment.amount_authorized),
        "reported_captured": max(record.reported_captured, payment.amount_captured),
        "reported_refunded": max(record.reported_refunded, payment.amount_refunded),
    }


def observe(
    record: PaymentRecord | None,
    payment: Payment,
    cause: Cause,
    now: datetime,
    record_id: str | None = None,
    *,
    purchase: bool = False,
) -> Change:
    """The provider's full view of a payment (an API answer, a retrieve). ``purchase``: a new
    record's payment was asked as a purchase."""
    update: dict[str, object] = _raise_reported(record, payment)
    if payment.id:  # an answer awaiting the shopper may name no payment yet
        update["payment_id"] = payment.id
    pre_authorization = payment.status if payment.status in PRE_AUTHORIZATION else None
    voided, failed = payment.status is PaymentStatus.VOIDED, payment.status is PaymentStatus.FAILED
    if pre_authorization is not None:
        update["pre_authorization"] = pre_authorization
    if voided:
        update["voided"] = True
    if failed:
        update["failed"] = True
    note = f"{payment.provider} reports {payment.provider_status}"
    if record is not None:
        return _finish(record, record.model_copy(update=update), cause, note, now)
    # A new record, built once with the status its facts derive: it has no captures or refunds
    # of its own yet, so the provider's figures are its amounts; any status may start a record.
    status = status_of(
        voided=voided,
        failed=failed,
        captured=payment.amount_captured,
        refunded=payment.amount_refunded,
        authorized=payment.amount_authorized,
        pre_authorization=pre_authorization or PaymentStatus.PENDING,
    )
    new = blank(
        payment.provider,
        payment.amount,
        payment.reference,
        now,
        record_id,
        **update,
        status=status,
        description=payment.description,
        metadata=payment.metadata,
        purchase=purchase,
    )
    return Change(new, _entry(None, new, cause, note, now), applied=True)


def _with_modification(record: PaymentRecord, change: Modification) -> tuple[PaymentRecord, str]:
    """The record with one modification added or moved on, and a note; unchanged when the move
    is not allowed (an older report of the same modification)."""
    current = record.modification(change.id)
    if current is None:
        return record.model_copy(update={"modifications": (*record.modifications, change)}), (
            f"{change.operation.value} {change.id} {change.status.value}"
        )
    if change.status is current.status:
        return record, f"{change.operation.value} {change.id} already {current.status.value}"
    if change.status not in MODIFICATION_TRANSITIONS[current.status]:
        return record, (
            f"older report of {change.operation.value} {change.id}: "
            f"{current.status.value}, not {change.status.value}"
        )
    moved = tuple(
        m.model_copy(update={"status": change.status}) if m.id == change.id else m
        for m in record.modifications
    )
    return record.model_copy(update={"modifications": moved}), (
        f"{change.operation.value} {change.id} {current.status.value} → {change.status.value}"
    )


def received(
    record: PaymentRecord, receipt: ModificationReceipt, cause: Cause, now: datetime
) -> Change:
    """A capture or void the provider has received; its webhook will confirm it."""
    change = Modification(
        id=receipt.modification_id,
        operation=receipt.operation,
        amount=receipt.amount,
        status=ModificationStatus.RECEIVED,
        idempotency_key=receipt.idempotency_key,
        reference=receipt.reference,
    )
    candidate, note = _with_modification(record, change)
    return _finish(record, candidate, cause, note, now)


def refunded(record: PaymentRecord, refund: Refund, cause: Cause, now: datetime) -> Change:
    """A refund's answer: received (pending), succeeded or failed."""
    change = Modification(
        id=refund.id,
        operation=Operation.REFUND,
        amount=refund.amount,
        status=_REFUND_STATUS[refund.status],
        idempotency_key=refund.idempotency_key,
        reference=refund.reference,
    )
    candidate, note = _with_modification(record, change)
    return _finish(record, candidate, cause, note, now)


def declined(
    record: PaymentRecord | None,
    error: CardDeclinedError,
    *,
    amount: Money,
    reference: str | None,
    provider: str,
    cause: Cause,
    now: datetime,
    record_id: str | None = None,
) -> Change:
    base = record or blank(provider, amount, reference, now, record_id)
    update = {"failed": True, "payment_id": error.payment_id or base.payment_id}
    note = f"declined: {error.reason.value}"
    return _finish(record, base.model_copy(update=update), cause, note, now)


def outcome_unknown(
    record: PaymentRecord | None,
    unknown: UnknownOperation,
    *,
    amount: Money,
    provider: str,
    cause: Cause,
    now: datetime,
    record_id: str | None = None,
) -> Change:
    """A call whose outcome is unknown: kept on the record until it is settled. Unknown again
    under the same key (a repeat that also lost its answer) counts an attempt and backs off."""
    sent = unknown.request or {}
    base = record or blank(
        provider,
        amount,
        unknown.reference,
        now,
        record_id,
        pre_authorization=PaymentStatus.UNKNOWN,
        description=sent.get("description"),
        metadata=sent.get("metadata") or {},
        purchase=sent.get("capture") is True,
    )
    others = tuple(u for u in base.unknown if u.idempotency_key != unknown.idempotency_key)
    earlier = next((u for u in base.unknown if u.idempotency_key == unknown.idempotency_key), None)
    if earlier is not None:
        unknown = earlier.model_copy(
            update={
                "attempts": earlier.attempts + 1,
                "next_check_at": now + _backoff(earlier),
                "reason": unknown.reason or earlier.reason,
            }
        )
    candidate = base.model_copy(update={"unknown": (*others, unknown)})
    note = f"outcome unknown: {unknown.operation.value} under key {unknown.idempotency_key}"
    return _finish(record, candidate, cause, note, now)


def captured_at_authorization(before: Change, cause: Cause, now: datetime) -> Change:
    """``before`` (the change that settled a purchase from the provider's report of its
    authorization), with what the provider authorized captured too: it captured the purchase
    when it authorized it, and does not report that capture again. A failed or voided payment
    is left as it is."""
    record = before.record
    if record.failed or record.voided:
        return before
    captured = max(record.reported_captured, record.reported_authorized)
    candidate = record.model_copy(update={"reported_captured": captured})
    note = f"{before.entry.note}; purchase: captured when authorized"
    done = _finish(record, candidate, cause, note, now)
    return Change(done.record, done.entry, done.applied or before.applied)


def settled(record: PaymentRecord, idempotency_key: str, cause: Cause, now: datetime) -> Change:
    """An unknown outcome has been settled (the result itself is applied separately)."""
    remaining = tuple(u for u in record.unknown if u.idempotency_key != idempotency_key)
    update: dict[str, object] = {"unknown": remaining}
    if record.pre_authorization is PaymentStatus.UNKNOWN and not remaining:
        update["pre_authorization"] = PaymentStatus.PENDING
    note = f"settled the unknown outcome under key {idempotency_key}"
    return _finish(record, record.model_copy(update=update), cause, note, now)


def unsettled(
    record: PaymentRecord,
    idempotency_key: str,
    cause: Cause,
    now: datetime,
    *,
    reason: str,
    escalate: bool = False,
    count: bool = True,
) -> Change:
    """Still unknown after a check: count it (unless ``count`` is off: the check already
    counted it), say why, and check again later, backing off. ``escalate`` marks it for a
    person (the check was refused by something other than the provider's account of the
    call); it stays marked until the unknown is settled."""
    moved = []
    note = f"still unknown under key {idempotency_key}: {reason}"
    for u in record.unknown:
        if u.idempotency_key != idempotency_key:
            moved.append(u)
            continue
        later = u.model_copy(
            update={"reason": reason, "escalated": u.escalated or escalate}
            | ({"attempts": u.attempts + 1, "next_check_at": now + _backoff(u)} if count else {})
        )
        note = f"{note}; attempt {later.attempts}, next check at {later.next_check_at:%H:%M:%S}"
        if later.escalated:
            note = f"{note}; escalated"
        moved.append(later)
    candidate = record.model_copy(update={"unknown": tuple(moved)})
    return _finish(record, candidate, cause, note, now)


def resolved_by_settlement(
    record: PaymentRecord, payment_id: str | None, charged: Money, cause: Cause, now: datetime
) -> Change:
    """The provider's settlement data shows the payment of a record holding an unknown
    outcome charged ``charged``: the payment is the record's (its id taken when the record had
    none), that much was authorized and captured, and every unknown call that charges is
    settled by it."""
    charging = {Operation.AUTHORIZE, Operation.PURCHASE, Operation.CAPTURE}
    remaining = tuple(u for u in record.unknown if u.operation not in charging)
    keys = ", ".join(u.idempotency_key for u in record.unknown if u.operation in charging)
    update: dict[str, object] = {
        "unknown": remaining,
        "payment_id": record.payment_id or payment_id,
        "reported_authorized": max(record.reported_authorized, charged),
        "reported_captured": max(record.reported_captured, charged),
    }
    if record.pre_authorization is PaymentStatus.UNKNOWN and not remaining:
        update["pre_authorization"] = PaymentStatus.PENDING
    note = f"settlement shows {charged} charged: settled the unknown outcome under key {keys}"
    return _finish(record, record.model_copy(update=update), cause, note, now)


# How many ``operation:key`` tags a record keeps (``PaymentRecord.applied_keys``).
_KEPT_KEYS: Final = 32


def remember_key(change: Change, tag: str) -> Change:
    """``change`` with ``tag`` (``operation:key``) among the record's applied keys."""
    record = change.record
    if tag in record.applied_keys:
        return change
    kept = (*record.applied_keys[-(_KEPT_KEYS - 1) :], tag)
    return Change(record.model_copy(update={"applied_keys": kept}), change.entry, change.applied)


def _backoff(unknown: UnknownOperation) -> timedelta:
    return min(_LAST_CHECK, _FIRST_CHECK * (1 << min(unknown.attempts + 1, 16)))


def first_check(now: datetime) -> datetime:
    return now + _FIRST_CHECK


# -- webhooks ----------------------------------------------------------------------------------
_MODIFICATION_EVENTS: dict[EventType, tuple[Operation, ModificationStatus]] = {
    EventType.CAPTURED: (Operation.CAPTURE, ModificationStatus.SUCCEEDED),
    EventType.CAPTURE_FAILED: (Operation.CAPTURE, ModificationStatus.FAILED),
    EventType.VOIDED: (Operation.VOID, ModificationStatus.SUCCEEDED),
    EventType.VOID_FAILED: (Operation.VOID, ModificationStatus.FAILED),
    EventType.REFUNDED: (Operation.REFUND, ModificationStatus.SUCCEEDED),
    EventType.REFUND_FAILED: (Operation.REFUND, ModificationStatus.FAILED),
}


def _event_candidate(record: PaymentRecord, event: WebhookEvent) -> tuple[PaymentRecord, str]:
    kind = event.type
    zero = Money.zero(record.currency)
    if kind is EventType.AUTHORIZED:
        amount = event.amount or record.amount
        reported = max(record.reported_authorized, amount)
        return record.model_copy(update={"reported_authorized": reported}), "authorized"
    if kind is EventType.FAILED:
        return record.model_copy(update={"failed": True}), f"failed: {event.reason or 'no reason'}"
    if kind in {EventType.CHARGEBACK, EventType.CHARGEBACK_REVERSED}:
        return _dispute_candidate(record, event)
    operation, status = _MODIFICATION_EVENTS[kind]
    if event.modification_id is None:
        # A provider that reports cumulative figures (Stripe's PaymentIntent events).
        amount = event.amount or zero
        if kind is EventType.CAPTURED:
            return record.model_copy(
                update={"reported_captured": max(record.reported_captured, amount)}
            ), "captured"
        if kind is EventType.VOIDED:
            return record.model_copy(update={"voided": True}), "voided"
        return record, f"{kind.value} without a modification id: nothing to apply"
    candidate, note = _with_modification(
        record,
        Modification(
            id=event.modification_id, operation=operation, amount=event.amount, status=status
        ),
    )
    if kind is EventType.VOIDED and candidate is not record:
        candidate = candidate.model_copy(update={"voided": True})
    return candidate, note


def _dispute_candidate(record: PaymentRecord, event: WebhookEvent) -> tuple[PaymentRecord, str]:
    """A chargeback opened or reversed, unless the event is older than the dispute state the
    record holds: webhooks come in any order, and a late opening must not reopen a dispute won
    since. A later dispute event always applies (a second chargeback, a new dispute)."""
    opened = event.type is EventType.CHARGEBACK
    note = f"chargeback {'opened' if opened else 'reversed'}"
    if event.modification_id is not None:
        note = f"{note} (dispute {event.modification_id})"
    older = _older_dispute_event(record, event)
    if older is not None:
        return record, f"older dispute event, not applied: {note}; {older}"
    known = [t for t in (record.dispute_at, event.occurred_at) if t is not None]
    latest = max(known, default=None)
    update = {"disputed": opened, "dispute_id": event.modification_id, "dispute_at": latest}
    return record.model_copy(update=update), note


def _older_dispute_event(record: PaymentRecord, event: WebhookEvent) -> str | None:
    """Why a dispute event is older than the record's dispute state, or None when it is not.

    When the event and the record's last dispute event both have a time and the times differ,
    the times decide. Otherwise (a time missing, or the same instant) an opening of the very
    dispute the record holds as reversed is the older one: a dispute is reopened only by an
    event that happened later (Adyen's SECOND_CHARGEBACK keeps the dispute's pspReference).
    """
    last, at = record.dispute_at, event.occurred_at
    if last is not None and at is not None and at != last:
        return f"it happened at {at.isoformat()}, before {last.isoformat()}" if at < last else None
    if (
        event.type is EventType.CHARGEBACK
        and not record.disputed
        and event.modification_id is not None
        and event.modification_id == record.dispute_id
    ):
        return f"dispute {record.dispute_id} was reversed, and this event is not later"
    return None


def apply_event(
    record: PaymentRecord | None,
    event: WebhookEvent,
    cause: Cause,
    now: datetime,
    record_id: str | None = None,
) -> Change | None:
    """A verified webhook event applied to its payment's record. None when there is nothing to
    apply it to (no record, and the event does not carry enough to start one). A record it
    starts is named ``record_id`` when given (the record a call in flight will answer to)."""
    if event.type is EventType.OTHER:
        return None
    if record is None:
        if event.amount is None or event.type not in {EventType.AUTHORIZED, EventType.FAILED}:
            return None
        record = blank(
            event.provider, event.amount, event.reference, now, record_id,
            payment_id=event.payment_id,
        )  # fmt: skip
        candidate, note = _event_candidate(record, event)
        return _finish(None, candidate, cause, note, now)
    candidate, note = _event_candidate(record, event)
    return _finish(record, candidate, cause, note, now)


def adopt(
    record: PaymentRecord,
    *,
    payment_id: str,
    key: str,
    report: Callable[[PaymentRecord], Change | None],
    cause: Cause,
    now: datetime,
) -> Change:
    """The record of an authorize whose answer was lost claims the payment the provider now
    reports for its reference and amount (a webhook, a search), and the unknown is settled."""
    claimed = record.model_copy(update={"payment_id": payment_id})
    reported = report(claimed)
    done = settled(reported.record if reported is not None else claimed, key, cause, now)
    note = f"payment {payment_id} found for the authorize whose answer was lost (key {key})"
    if reported is not None:
        note = f"{note}; {reported.entry.note}"
    return Change(done.record, _entry(record, done.record, cause, note, now), applied=True)
