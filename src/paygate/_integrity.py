"""After validation, compare what the provider echoes with what was asked.

A provider that answers 200 for a different amount, currency, reference or payment has done
something other than what was asked; that is never reported as a success. What the operation
implies is checked even when the caller gave no amount: a capture, void or refund is answered
in the currency of the payment's record and for no more than the payment; an authorize is not
answered as already captured, nor a purchase as merely authorized.
"""

from __future__ import annotations

from paygate.adapters.failures import Context, Mismatch
from paygate.models import (
    RECORD_ID_PREFIX,
    AuthorizeRequest,
    CaptureRequest,
    CompleteActionRequest,
    FindRequest,
    ModificationReceipt,
    OperationRequest,
    Payment,
    PaymentStatus,
    Refund,
    RefundRequest,
    Result,
    RetrieveRequest,
    amount_of,
)
from paygate.records.state import PaymentRecord

_CONFIRMED_CAPTURE = frozenset({PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_CAPTURED})
_MONEY_TAKEN = _CONFIRMED_CAPTURE | {PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED}


def mismatches(
    request: OperationRequest, result: Result, record: PaymentRecord | None = None
) -> list[str]:
    """Names of the fields where the provider's answer differs from the request (and, for a
    capture, void or refund, from the payment's ``record``)."""
    found: list[str] = []

    def expect(field: str, asked: object, got: object) -> None:
        if asked != got:
            found.append(f"{field} (asked {asked}, provider says {got})")

    if record is not None and not isinstance(request, AuthorizeRequest | FindRequest):
        found += _against_record(result, record)

    if isinstance(request, FindRequest):
        if not isinstance(result, Payment):
            return ["result type"]
        expect("reference", request.reference, result.reference)
        if request.amount is not None:
            expect("amount", request.amount, result.amount)
        return found
    if isinstance(request, AuthorizeRequest):
        if not isinstance(result, Payment):
            return ["result type"]
        expect("amount", request.amount, result.amount)
        expect("reference", request.reference, result.reference)
        taken = result.status in _MONEY_TAKEN or result.amount_captured.is_positive
        if not request.capture and taken:
            found.append(f"status (asked to authorize only, provider says {result.status})")
        if request.capture and result.status is PaymentStatus.AUTHORIZED:
            found.append("status (asked to capture, provider says authorized only)")
        return found
    if isinstance(request, CompleteActionRequest):
        if not isinstance(result, Payment):
            return ["result type"]
        # The payment as first named: the provider's id, unless it had none yet (then the
        # answer names it for the first time).
        named = record.payment_id if record is not None else None
        if named is None and not request.payment_id.startswith(RECORD_ID_PREFIX):
            named = request.payment_id
        if named is not None and result.id:
            expect("payment_id", named, result.id)
        if request.amount is not None:
            expect("amount", request.amount, result.amount)
        return found
    if isinstance(result, ModificationReceipt):
        if isinstance(request, AuthorizeRequest | RetrieveRequest):
            return ["result type"]
        expect("payment_id", request.payment_id, result.payment_id)
        expect("operation", request.operation.value, result.operation.value)
        asked = amount_of(request)
        if asked is not None and result.amount is not None:
            expect("amount", asked, result.amount)
        return found
    if isinstance(request, RefundRequest):
        if not isinstance(result, Refund):
            return ["result type"]
        expect("payment_id", request.payment_id, result.payment_id)
        if request.amount is not None:
            expect("amount", request.amount, result.amount)
        return found
    if not isinstance(result, Payment):
        return ["result type"]
    expect("payment_id", request.payment_id, result.id)
    if isinstance(request, CaptureRequest) and request.amount is not None:
        expect("currency", request.amount.currency, result.amount.currency)
        if result.status in _CONFIRMED_CAPTURE and not found:
            expect("amount captured", request.amount, result.amount_captured)
    return found


def _against_record(result: Result, record: PaymentRecord) -> list[str]:
    """What the payment itself implies for a capture, void or refund's answer."""
    amount = result.amount
    found: list[str] = []
    if amount is not None and amount.currency != record.currency:
        found.append(f"currency (the payment is in {record.currency}, provider says {amount})")
        return found
    if isinstance(result, Refund) and result.amount > record.amount:
        found.append(f"amount (a refund of {result.amount} for a payment of {record.amount})")
    if isinstance(result, Payment) and result.amount_captured > result.amount:
        found.append(f"amount captured ({result.amount_captured} of {result.amount})")
    return found


def check(
    request: OperationRequest,
    result: Result,
    idempotency_key: str | None,
    record: PaymentRecord | None = None,
) -> Mismatch | None:
    """A mismatch naming every field that differs, or None when the answer matches the
    request (the core decides its class: an unknown outcome for a mutating call)."""
    found = mismatches(request, result, record)
    if not found:
        return None
    context = Context(
        provider=result.provider,
        message=f"{result.provider} answered {request.operation.value} with a different "
        + "; ".join(found),
        idempotency_key=idempotency_key,
        payment_id=result.id if isinstance(result, Payment) else result.payment_id,
    )
    return Mismatch(context)
