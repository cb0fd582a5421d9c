"""The payment record through the gateway, on Stripe, sync and async: every call leaves a record
and a verified trail; what the record says cannot succeed is refused before the provider; lost
answers are kept as unknown and settled by resolve_unknown(), across a restart too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from paygate import Money, PaymentSource, PaymentStatus, RetryPolicy, SQLiteStore, Timeout
from paygate.errors import (
    CardDeclinedError,
    ErrorCode,
    InvalidRequestError,
    InvalidWebhookError,
    OutcomeUnknown,
)
from paygate.records import PaymentRecord, SQLiteRecordStore
from paygate.testing import Fault, StripeSimulator

VISA = PaymentSource.token("pm_card_visa")
PI_PATH = "/v1/payment_intents"
S = PaymentStatus
LATER = datetime.now(UTC) + timedelta(hours=2)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def test_every_call_leaves_a_record_and_a_verified_trail(make_gateway: Callable[..., Any]) -> None:
    gw = make_gateway()
    p = gw.authorize(eur("20.00"), source=VISA, reference="order-rec")
    gw.capture(p.id, amount=eur("15.00"))
    first = gw.refund(p.id, amount=eur("5.00"), reference="r1")
    gw.refund(p.id, amount=eur("2.00"), reference="r2")

    record = gw.payment_record(p.id)
    assert record.status is S.PARTIALLY_REFUNDED and record.reference == "order-rec"
    assert (record.amount_authorized, record.amount_captured, record.amount_refunded) == (
        eur("20.00"), eur("15.00"), eur("7.00"),
    )  # fmt: skip
    assert record.modification(first.id).amount == eur("5.00")
    trail = gw.audit_trail(p.id)
    assert [(e.from_status, e.to_status) for e in trail] == [
        (None, S.AUTHORIZED),
        (S.AUTHORIZED, S.PARTIALLY_CAPTURED),
        (S.PARTIALLY_CAPTURED, S.PARTIALLY_REFUNDED),
        (S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED),
    ]
    assert [e.cause.operation for e in trail] == ["authorize", "capture", "refund", "refund"]
    assert all(e.cause.idempotency_key for e in trail)
    assert gw.records.verify() is None


def _capture_too_much(gw: Any, pid: str) -> Any:
    return gw.capture(pid, amount=eur("10.01"))


def _refund_too_much(gw: Any, pid: str) -> Any:
    return gw.refund(pid, amount=eur("10.01"))


@pytest.mark.parametrize(
    ("setup", "call", "code"),
    [
        ("void", lambda gw, pid: gw.capture(pid), ErrorCode.INVALID_STATE),
        (None, _capture_too_much, ErrorCode.AMOUNT_EXCEEDS_CAPTURABLE),
        (None, lambda gw, pid: gw.refund(pid, amount=eur("1.00")), ErrorCode.INVALID_STATE),
        ("capture", _refund_too_much, ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE),
        ("capture", lambda gw, pid: gw.void(pid), ErrorCode.INVALID_STATE),
    ],
)
def test_what_the_record_says_cannot_succeed_is_refused_before_the_provider(
    make_gateway: Callable[..., Any],
    sim: StripeSimulator,
    setup: str | None,
    call: Callable[[Any, str], Any],
    code: ErrorCode,
) -> None:
    gw = make_gateway()
    p = gw.authorize(eur("10.00"), source=VISA, reference="order-guard")
    if setup == "void":
        gw.void(p.id)
    elif setup == "capture":
        gw.capture(p.id)
    sent = len(sim.requests)
    with pytest.raises(InvalidRequestError) as refused:
        call(gw, p.id)
    assert refused.value.code is code and "nothing was sent" in str(refused.value)
    assert len(sim.requests) == sent


def test_a_decline_is_recorded_as_failed(make_gateway: Callable[..., Any]) -> None:
    gw = make_gateway()
    with pytest.raises(CardDeclinedError) as declined:
        gw.authorize(
            eur("9.00"), source=PaymentSource.token("pm_card_visa_chargeDeclined"), reference="o-d"
        )
    record = gw.payment_record(declined.value.payment_id)
    assert record.status is S.FAILED
    assert gw.audit_trail(declined.value.payment_id)[0].note == "declined: generic"


def test_a_lost_answer_is_kept_as_unknown_then_settled(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway(retry=RetryPolicy(max_attempts=1), timeout=Timeout(read=0.3, total=5))
    sim.inject(Fault.timeout_after_commit(hold=1.0), times=1, method="POST", path=PI_PATH)
    with pytest.raises(OutcomeUnknown):
        gw.authorize(eur("30.00"), source=VISA, reference="order-lost")
    [record] = gw.unknown_payments()
    assert record.status is S.UNKNOWN and record.payment_id is None
    [unknown] = record.unknown
    assert unknown.replayable and unknown.amount == eur("30.00") and unknown.attempts == 0

    assert gw.resolve_unknown() == []  # not due yet: the first check waits a little
    [resolved] = gw.resolve_unknown(due_by=LATER)
    assert resolved.settled and resolved.idempotency_key == unknown.idempotency_key
    assert gw.unknown_payments() == []
    [intent] = sim.payment_intents(reference="order-lost")  # one charge, not two
    settled = gw.payment_record(intent["id"])
    assert settled.record_id == record.record_id and settled.status is S.AUTHORIZED
    assert gw.records.verify() is None


def test_an_unknown_outcome_is_settled_after_a_restart(
    make_gateway: Callable[..., Any], sim: StripeSimulator, tmp_path: Path
) -> None:
    path = tmp_path / "paygate.sqlite3"
    options = {"retry": RetryPolicy(max_attempts=1), "timeout": Timeout(read=0.3, total=5)}
    stores = [SQLiteStore(path), SQLiteRecordStore(path)]
    before = make_gateway(store=stores[0], records=stores[1], **options)
    p = before.authorize(eur("40.00"), source=VISA, reference="order-restart")
    sim.inject(Fault.timeout_after_commit(hold=1.0), times=1, method="POST")
    with pytest.raises(OutcomeUnknown):
        before.capture(p.id, amount=eur("25.00"))
    for store in stores:
        store.close()  # the process goes away

    reopened = [SQLiteStore(path), SQLiteRecordStore(path)]
    after = make_gateway(store=reopened[0], records=reopened[1], **options)
    [record] = after.unknown_payments()
    assert record.status is S.AUTHORIZED and record.unknown[0].operation.value == "capture"
    [resolved] = after.resolve_unknown(due_by=LATER)
    assert resolved.settled
    record = after.payment_record(p.id)
    assert record.status is S.PARTIALLY_CAPTURED and record.amount_captured == eur("25.00")
    assert sim.payment_intent(p.id)["amount_received"] == 2500  # captured once
    assert after.records.verify() is None
    for store in reopened:
        store.close()


def _lost_card_authorize(
    make_gateway: Callable[..., Any], sim: StripeSimulator, amount: str, reference: str
) -> tuple[Any, PaymentRecord]:
    """A gateway, and the unknown outcome of a card authorize whose answer Stripe never sent
    (it charged, then held the connection past the read timeout)."""
    gw = make_gateway(  # a raw card is the point: the simulator takes one, once opted in
        retry=RetryPolicy(max_attempts=1), timeout=Timeout(read=0.3, total=5), raw_card_data=True
    )
    card = PaymentSource.card("4242424242424242", 12, 2031, "123")
    sim.inject(Fault.timeout_after_commit(hold=1.0), times=1, method="POST", path=PI_PATH)
    with pytest.raises(OutcomeUnknown):
        gw.authorize(eur(amount), source=card, reference=reference)
    [record] = gw.unknown_payments()
    return gw, record


def test_a_lost_card_authorize_is_found_by_its_reference(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw, record = _lost_card_authorize(make_gateway, sim, "12.00", "order-card")
    assert not record.unknown[0].replayable  # raw card data is never kept
    [resolved] = gw.resolve_unknown(due_by=LATER)
    [intent] = sim.payment_intents(reference="order-card")  # nothing was sent again
    assert resolved.settled and resolved.detail == f"found {intent['id']}"
    found = gw.payment_record(intent["id"])
    assert found.record_id == record.record_id and found.status is S.AUTHORIZED
    assert gw.unknown_payments() == []


def test_a_lost_card_authorize_is_adopted_by_its_webhook(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw, record = _lost_card_authorize(make_gateway, sim, "13.00", "order-adopt")
    outcomes = [o for d in sim.drain_webhooks() for o in gw.handle_webhook(d.headers, d.body)]
    assert [o.result for o in outcomes] == ["applied"]
    [intent] = sim.payment_intents(reference="order-adopt")
    adopted = gw.payment_record(intent["id"])
    assert adopted.record_id == record.record_id and adopted.status is S.AUTHORIZED
    assert gw.unknown_payments() == []
    assert "found for the authorize whose answer was lost" in gw.audit_trail(intent["id"])[-1].note


def test_stripe_webhooks_confirm_what_the_answers_said_and_are_applied_once(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    p = gw.authorize(eur("20.00"), source=VISA, reference="order-hooks")
    gw.capture(p.id)
    gw.refund(p.id, amount=eur("4.00"), reference="order-hooks-r1")
    deliveries = sim.drain_webhooks()
    kinds = [d.event_type for d in deliveries]
    assert kinds == [
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "refund.created",
    ]
    results = [o.result for d in deliveries for o in gw.handle_webhook(d.headers, d.body)]
    assert results == ["unchanged", "unchanged", "unchanged"]  # the answers said it all
    again = gw.handle_webhook(deliveries[2].headers, deliveries[2].body)
    assert [o.result for o in again] == ["duplicate"]
    record = gw.payment_record(p.id)
    assert record.amount_refunded == eur("4.00") and record.status is S.PARTIALLY_REFUNDED
    tampered = deliveries[1].body.replace(b"succeeded", b"canceled")
    with pytest.raises(InvalidWebhookError):
        gw.handle_webhook(deliveries[1].headers, tampered)
    assert gw.records.verify() is None


def test_a_stripe_webhook_alone_moves_the_record(
    make_gateway: Callable[..., Any], sim: StripeSimulator, api_key: str
) -> None:
    """A capture made outside this gateway (the dashboard, another service) reaches the
    record through its webhook."""
    gw = make_gateway()
    p = gw.authorize(eur("9.00"), source=VISA, reference="order-outside")
    sim.drain_webhooks()
    import httpx

    httpx.post(
        f"{sim.url}/v1/payment_intents/{p.id}/capture",
        headers={"Authorization": f"Bearer {api_key}"},
    ).raise_for_status()
    [succeeded] = sim.drain_webhooks()
    [outcome] = gw.handle_webhook(succeeded.headers, succeeded.body)
    assert outcome.result == "applied" and outcome.payment.status is S.CAPTURED
    assert gw.audit_trail(p.id)[-1].cause.kind == "webhook"


def test_an_unknown_capture_the_record_moved_past_is_settled_by_its_replay(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    """The webhook says the payment is captured; only Stripe's replay under the capture's own
    key says this capture did it: the resolver sends it again, and Stripe replays."""
    gw = make_gateway(retry=RetryPolicy(max_attempts=1), timeout=Timeout(read=0.3, total=5))
    p = gw.authorize(eur("18.00"), source=VISA, reference="order-confirmed")
    sim.drain_webhooks()
    sim.inject(Fault.timeout_after_commit(hold=1.0), times=1, method="POST")
    with pytest.raises(OutcomeUnknown) as lost:
        gw.capture(p.id)
    for delivery in sim.drain_webhooks():  # payment_intent.succeeded: the capture happened
        gw.handle_webhook(delivery.headers, delivery.body)
    assert gw.payment_record(p.id).status is S.CAPTURED
    [resolved] = gw.resolve_unknown(due_by=LATER)
    assert resolved.settled and resolved.detail == "settled: captured"
    capture = f"{PI_PATH}/{p.id}/capture"
    sent = [r for r in sim.requests if r.path == capture]
    assert [r.idempotency_key for r in sent] == [lost.value.idempotency_key] * 2
    assert sim.payment_intent(p.id)["amount_received"] == 1800  # replayed, not captured twice
    assert gw.unknown_payments() == []


def test_a_repeat_under_the_same_key_is_a_replay_whatever_the_record_says_now(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    """A capture, void or refund whose answer was lost is repeated under its key after the
    record moved on (a webhook, a retrieve): it is the provider's replay, not invalid_state."""
    gw = make_gateway(retry=RetryPolicy(max_attempts=1), timeout=Timeout(read=0.3, total=5))
    p = gw.purchase(eur("21.00"), source=VISA, reference="order-repeat")
    sim.inject(Fault.timeout_after_commit(hold=1.0), times=1, method="POST")
    with pytest.raises(OutcomeUnknown):
        gw.refund(p.id, idempotency_key="refund-order-repeat")
    assert gw.retrieve(p.id).status is S.REFUNDED  # Stripe refunded it; the record knows now
    refund = gw.refund(p.id, idempotency_key="refund-order-repeat")
    assert refund.amount == eur("21.00") and len(sim.refunds(payment_intent=p.id)) == 1
    assert gw.unknown_payments() == []
    # A new refund (another key) is still refused by the record before anything is sent.
    sent = len(sim.requests)
    with pytest.raises(InvalidRequestError) as refused:
        gw.refund(p.id, idempotency_key="refund-order-repeat-2")
    assert refused.value.code is ErrorCode.INVALID_STATE and len(sim.requests) == sent
