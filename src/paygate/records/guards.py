"""What the record says cannot succeed, refused before any provider call; and the amounts of a
full capture or refund, filled in from the record for providers that need them.

Two of a provider's capabilities need the record to be enforced, and are enforced here: a
capture after a partial one (``multiple_captures``) and a refund after another
(``multiple_refunds``)."""

from __future__ import annotations

from paygate.errors import ErrorCode, InvalidRequestError
from paygate.models import Operation, PaymentStatus
from paygate.money import Money
from paygate.records.state import PaymentRecord

S = PaymentStatus
_CAPTURABLE = frozenset({S.AUTHORIZED})
_CAPTURABLE_AGAIN = _CAPTURABLE | {S.PARTIALLY_CAPTURED}  # where captures may follow one
_VOIDABLE = frozenset({S.AUTHORIZED, S.PENDING, S.REQUIRES_ACTION})
_REFUNDABLE = frozenset({S.CAPTURED, S.PARTIALLY_CAPTURED, S.PARTIALLY_REFUNDED})


def _refuse(record: PaymentRecord, message: str, code: ErrorCode) -> InvalidRequestError:
    return InvalidRequestError(
        f"{message}; nothing was sent",
        code=code,
        provider=record.provider,
        payment_id=record.payment_id,
    )


def _unsettled(record: PaymentRecord, key: str | None) -> None:
    """A capture or void whose outcome is unknown blocks another (they would race), except its
    own repeat under the same key, which is how it gets settled."""
    for unknown in record.unknown:
        if (
            unknown.operation in {Operation.CAPTURE, Operation.VOID}
            and unknown.idempotency_key != key
        ):
            raise _refuse(
                record,
                f"an earlier {unknown.operation.value} of {record.payment_id} has an unknown "
                f"outcome (key {unknown.idempotency_key}); settle it first (resolve_unknown)",
                ErrorCode.INVALID_STATE,
            )


def _same_currency(record: PaymentRecord, amount: Money | None) -> None:
    if amount is not None and amount.currency != record.currency:
        raise _refuse(
            record,
            f"{amount.currency} asked for a payment in {record.currency}",
            ErrorCode.INVALID_REQUEST,
        )


def capturable(record: PaymentRecord) -> Money:
    return record.amount_authorized - record.amount_captured - record.pending_captures


def refundable(record: PaymentRecord) -> Money:
    return record.amount_captured - record.amount_refunded - record.pending_refunds


def _repeat(record: PaymentRecord, operation: Operation, key: str | None) -> Money | None:
    """Whether a call under ``key`` repeats one this record already knows of (an unknown
    outcome under the key, or an answer it took), and the amount that call was for."""
    if key is None:
        return None
    for unknown in record.unknown:
        if unknown.idempotency_key == key and unknown.operation is operation:
            return unknown.amount or record.amount
    if f"{operation.value}:{key}" in record.applied_keys:
        return record.amount
    return None


def _refunded_before(record: PaymentRecord, key: str | None) -> bool:
    """Whether the payment has a refund, done, received or of unknown outcome, other than the
    call under ``key``."""
    unknown = any(
        u.operation is Operation.REFUND and u.idempotency_key != key for u in record.unknown
    )
    return unknown or record.amount_refunded.is_positive or record.pending_refunds.is_positive


def check(
    record: PaymentRecord,
    operation: Operation,
    amount: Money | None,
    key: str | None = None,
    *,
    multiple_captures: bool = False,
    multiple_refunds: bool = True,
) -> Money | None:
    """Refuse what cannot succeed; return the amount to send (a full one filled in).

    A repeat under a key the record already knows for this operation is a replay: whatever the
    record says now (the operation may well be why it says it), it goes to the provider, which
    answers with what it did the first time. It carries its first amount.

    ``multiple_captures`` and ``multiple_refunds`` are the provider's capabilities: without
    the first, a partial capture ends the payment's captures; without the second, a payment
    takes one refund."""
    _same_currency(record, amount)
    repeated = _repeat(record, operation, key)
    if repeated is not None:
        return amount or repeated
    if operation is Operation.COMPLETE_ACTION:
        if record.status is not S.REQUIRES_ACTION:
            raise _refuse(
                record, f"the payment does not await the shopper: it is {record.status.value}",
                ErrorCode.INVALID_STATE,
            )  # fmt: skip
        return None
    if record.payment_id is None:
        raise _refuse(
            record,
            f"the provider has not named this payment yet (it is {record.status.value}); "
            "complete the shopper's action first",
            ErrorCode.INVALID_STATE,
        )
    if operation is Operation.CAPTURE:
        _unsettled(record, key)
        pending = record.pending()
        capturable_states = _CAPTURABLE_AGAIN if multiple_captures else _CAPTURABLE
        if record.status not in capturable_states or pending is not None:
            waiting = f" with a {pending.value} pending" if pending is not None else ""
            raise _refuse(
                record,
                f"cannot capture a payment that is {record.status.value}{waiting}",
                ErrorCode.INVALID_STATE,
            )
        left = capturable(record)
        if amount is not None and amount > left:
            raise _refuse(
                record, f"{amount} is more than the {left} left to capture",
                ErrorCode.AMOUNT_EXCEEDS_CAPTURABLE,
            )  # fmt: skip
        return amount or left
    if operation is Operation.VOID:
        _unsettled(record, key)
        if record.status not in _VOIDABLE or record.pending() is not None:
            raise _refuse(
                record, f"cannot void a payment that is {record.status.value}",
                ErrorCode.INVALID_STATE,
            )  # fmt: skip
        return None
    if operation is Operation.REFUND:
        if record.status not in _REFUNDABLE:
            hint = "; void it instead" if record.status is S.AUTHORIZED else ""
            raise _refuse(
                record, f"cannot refund a payment that is {record.status.value}{hint}",
                ErrorCode.INVALID_STATE,
            )  # fmt: skip
        if not multiple_refunds and _refunded_before(record, key):
            raise _refuse(
                record, f"{record.provider} takes one refund per payment, and {record.payment_id} "
                "has one already", ErrorCode.UNSUPPORTED,
            )  # fmt: skip
        left = refundable(record)
        if (amount is not None and amount > left) or not left:
            raise _refuse(
                record, f"{amount or 'a refund'} is more than the {left} left to refund",
                ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE,
            )  # fmt: skip
        return amount or left
    return amount
