"""Calls the record says cannot succeed are refused before any provider call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paygate import Money, Payment, PaymentStatus
from paygate.errors import ErrorCode, InvalidRequestError
from paygate.models import Operation
from paygate.records import PaymentRecord, changes, guards
from paygate.records.trail import CallCause

NOW = datetime(2026, 11, 25, tzinfo=UTC)
CALL = CallCause(operation="x", idempotency_key="k")
S = PaymentStatus


def record(status: PaymentStatus, captured: str = "0", refunded: str = "0") -> PaymentRecord:
    p = Payment(
        id="pay_1", provider="p", status=status, amount=Money("10.00", "EUR"),
        amount_authorized=Money("10.00", "EUR"), amount_captured=Money(captured, "EUR"),
        amount_refunded=Money(refunded, "EUR"), provider_status=status.value,
    )  # fmt: skip
    return changes.observe(None, p, CALL, NOW).record


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


EXCEEDS_CAPTURABLE = ErrorCode.AMOUNT_EXCEEDS_CAPTURABLE
PARTLY_REFUNDED = record(S.PARTIALLY_REFUNDED, "10.00", "7.00")


@pytest.mark.parametrize(
    ("rec", "operation", "amount", "code"),
    [
        (record(S.VOIDED), Operation.CAPTURE, None, ErrorCode.INVALID_STATE),
        (record(S.AUTHORIZED), Operation.CAPTURE, eur("10.01"), EXCEEDS_CAPTURABLE),
        (record(S.CAPTURED, "10.00"), Operation.CAPTURE, None, ErrorCode.INVALID_STATE),
        (record(S.CAPTURED, "10.00"), Operation.VOID, None, ErrorCode.INVALID_STATE),
        (record(S.AUTHORIZED), Operation.REFUND, eur("1.00"), ErrorCode.INVALID_STATE),
        (PARTLY_REFUNDED, Operation.REFUND, eur("3.01"), ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE),
        (record(S.REFUNDED, "10.00", "10.00"), Operation.REFUND, None, ErrorCode.INVALID_STATE),
        (record(S.AUTHORIZED), Operation.CAPTURE, Money("1", "USD"), ErrorCode.INVALID_REQUEST),
    ],
)
def test_refused_locally(
    rec: PaymentRecord, operation: Operation, amount: Money | None, code: ErrorCode
) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        guards.check(rec, operation, amount)
    assert refused.value.code is code and "nothing was sent" in str(refused.value)


def test_allowed_calls_get_their_full_amount_filled_in() -> None:
    assert guards.check(record(S.AUTHORIZED), Operation.CAPTURE, None) == eur("10.00")
    assert guards.check(record(S.AUTHORIZED), Operation.CAPTURE, eur("4.00")) == eur("4.00")
    assert guards.check(
        record(S.PARTIALLY_REFUNDED, "10.00", "7.00"), Operation.REFUND, None
    ) == eur("3.00")
    assert guards.check(record(S.AUTHORIZED), Operation.VOID, None) is None


def test_a_capture_after_a_partial_one_needs_the_capability() -> None:
    partly = record(S.PARTIALLY_CAPTURED, "4.00")
    with pytest.raises(InvalidRequestError) as refused:
        guards.check(partly, Operation.CAPTURE, None)  # no provider here takes a second one
    assert refused.value.code is ErrorCode.INVALID_STATE
    assert guards.check(partly, Operation.CAPTURE, None, multiple_captures=True) == eur("6.00")
    with pytest.raises(InvalidRequestError) as over:
        guards.check(partly, Operation.CAPTURE, eur("6.01"), multiple_captures=True)
    assert over.value.code is EXCEEDS_CAPTURABLE


def test_a_refund_after_another_needs_the_capability() -> None:
    assert guards.check(PARTLY_REFUNDED, Operation.REFUND, None) == eur("3.00")
    with pytest.raises(InvalidRequestError) as refused:
        guards.check(PARTLY_REFUNDED, Operation.REFUND, None, multiple_refunds=False)
    assert refused.value.code is ErrorCode.UNSUPPORTED and "nothing was sent" in str(refused.value)
    first = record(S.CAPTURED, "10.00")
    assert guards.check(first, Operation.REFUND, eur("2.00"), multiple_refunds=False) == eur("2.00")
