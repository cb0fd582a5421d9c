"""The gateway's promises, end to end against the Stripe simulator, sync and async.

Each test asserts the provider-side effect from the simulator's state, not only the return.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from paygate import (
    BreakerPolicy,
    BulkheadPolicy,
    Money,
    PaymentSource,
    PaymentStatus,
    RefundStatus,
    RetryPolicy,
    SQLiteStore,
    Timeout,
)
from paygate.errors import (
    BulkheadFull,
    CardDeclinedError,
    CircuitOpen,
    DeclineReason,
    ErrorCode,
    IdempotencyConflict,
    InvalidRequestError,
    OutcomeUnknown,
    RetriableError,
    RetryAdvice,
    TerminalError,
)
from paygate.records import SQLiteRecordStore
from paygate.testing import FakeClock, Fault, MockProvider, StripeSimulator

VISA = PaymentSource.token("pm_card_visa")
EUR = "EUR"
PI_PATH = "/v1/payment_intents"


def eur(amount: str) -> Money:
    return Money(amount, EUR)


def test_authorize_capture_partial_refund_twice(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    p = gw.authorize(eur("12.34"), source=VISA, reference="order-1")
    assert p.status is PaymentStatus.AUTHORIZED
    assert p.amount_authorized == eur("12.34") and p.amount_captured == eur("0")
    assert p.reference == "order-1" and p.idempotency_key

    p = gw.capture(p.id, amount=eur("10.00"))
    assert p.status is PaymentStatus.PARTIALLY_CAPTURED
    assert p.amount_captured == eur("10.00")

    r1 = gw.refund(p.id, amount=eur("2.00"), reference="refund-1")
    r2 = gw.refund(p.id, amount=eur("3.00"), reference="refund-2")
    assert r1.status is RefundStatus.SUCCEEDED and r1.amount == eur("2.00")
    assert r2.payment_id == p.id and r1.id != r2.id

    after = gw.retrieve(p.id)
    assert after.status is PaymentStatus.PARTIALLY_REFUNDED
    assert after.amount_refunded == eur("5.00")
    assert len(sim.refunds(payment_intent=p.id)) == 2

    with pytest.raises(TerminalError) as over:
        gw.refund(p.id, amount=eur("5.01"), reference="refund-3")
    assert over.value.code is ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE
    assert len(sim.refunds(payment_intent=p.id)) == 2


def test_purchase_and_void(make_gateway: Callable[..., Any], sim: StripeSimulator) -> None:
    gw = make_gateway()
    bought = gw.purchase(Money("1500", "JPY"), source=VISA, reference="order-jpy")
    assert bought.status is PaymentStatus.CAPTURED
    assert sim.payment_intent(bought.id)["amount"] == 1500  # zero-decimal on the wire

    held = gw.authorize(eur("5.00"), source=VISA, reference="order-void")
    voided = gw.void(held.id)
    assert voided.status is PaymentStatus.VOIDED
    assert sim.payment_intent(held.id)["status"] == "canceled"
    with pytest.raises(TerminalError) as late:
        gw.capture(held.id)
    assert late.value.code is ErrorCode.INVALID_STATE


def test_timeout_after_commit_then_retry_charges_once(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway(timeout=Timeout(read=0.3, total=10))
    sim.inject(Fault.timeout_after_commit(hold=2.0), times=1, method="POST", path=PI_PATH)
    p = gw.authorize(eur("20.00"), source=VISA, reference="order-timeout")
    assert p.status is PaymentStatus.AUTHORIZED
    intents = sim.payment_intents(reference="order-timeout")
    assert [i["id"] for i in intents] == [p.id]
    sent = [r for r in sim.requests if r.method == "POST" and r.path == PI_PATH]
    assert len(sent) == 2 and len({r.idempotency_key for r in sent}) == 1


def test_reset_before_commit_is_retried_once(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    sim.inject(Fault.reset_before_commit(), times=1, method="POST", path=PI_PATH)
    p = gw.authorize(eur("7.00"), source=VISA, reference="order-reset")
    assert [i["id"] for i in sim.payment_intents(reference="order-reset")] == [p.id]


def test_503_then_success_is_retried(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    sim.inject(Fault.server_error(503), times=1, method="POST", path=PI_PATH)
    p = gw.authorize(eur("3.00"), source=VISA, reference="order-503")
    assert p.status is PaymentStatus.AUTHORIZED
    assert sim.request_count(method="POST", path=PI_PATH) == 2
    assert len(sim.payment_intents(reference="order-503")) == 1


def test_500_after_commit_that_persists_is_outcome_unknown_not_failure(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    sim.inject(Fault.server_error(500, after_commit=True), times=1, method="POST", path=PI_PATH)
    with pytest.raises(OutcomeUnknown) as unknown:
        gw.authorize(eur("4.00"), source=VISA, reference="order-500")
    # Stripe saved the 500 for the key: the first repeat is replayed (Idempotent-Replayed), so
    # repeating again is pointless; the call ends there, and only one intent exists.
    assert unknown.value.idempotency_key and unknown.value.provider_retry_hint is False
    assert len(sim.payment_intents(reference="order-500")) == 1
    assert sim.request_count(method="POST", path=PI_PATH) == 2


def test_429_waits_at_least_retry_after(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    clock = FakeClock()
    gw = make_gateway(clock=clock)
    sim.inject(Fault.rate_limited(retry_after=0.4), times=1, method="POST", path=PI_PATH)
    p = gw.authorize(eur("3.00"), source=VISA, reference="order-429")
    assert clock.sleeps == [0.4]  # at least Retry-After, over a backoff of at most 0.01 s
    assert p.status is PaymentStatus.AUTHORIZED
    assert sim.request_count(method="POST", path=PI_PATH) == 2


def test_retry_after_beyond_the_policy_ends_the_call_at_once(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    clock = FakeClock()
    gw = make_gateway(retry=RetryPolicy(max_attempts=3, max_retry_after=1.0), clock=clock)
    sim.inject(Fault.rate_limited(retry_after=30), times=1, method="POST", path=PI_PATH)
    with pytest.raises(RetriableError) as limited:
        gw.authorize(eur("3.00"), source=VISA, reference="order-429-long")
    assert limited.value.code is ErrorCode.RATE_LIMITED and limited.value.retry_after == 30
    assert clock.sleeps == []
    assert sim.payment_intents(reference="order-429-long") == []


@pytest.mark.parametrize(
    ("payment_method", "reason", "advice"),
    [
        ("pm_card_visa_chargeDeclined", DeclineReason.GENERIC, None),
        ("pm_card_visa_chargeDeclinedInsufficientFunds", DeclineReason.INSUFFICIENT_FUNDS, None),
        ("pm_card_chargeDeclinedExpiredCard", DeclineReason.EXPIRED_CARD, None),
        ("pm_card_chargeDeclinedIncorrectCvc", DeclineReason.INCORRECT_CVC, None),
        (
            "pm_card_visa_chargeDeclinedStolenCard",
            DeclineReason.LOST_OR_STOLEN,
            RetryAdvice.DO_NOT_RETRY,
        ),
    ],
)
def test_decline_is_terminal_normalized_and_attempted_once(
    make_gateway: Callable[..., Any],
    sim: StripeSimulator,
    payment_method: str,
    reason: DeclineReason,
    advice: RetryAdvice | None,
) -> None:
    gw = make_gateway()
    with pytest.raises(CardDeclinedError) as declined:
        gw.authorize(eur("9.00"), source=PaymentSource.token(payment_method), reference="order-d")
    error = declined.value
    assert error.reason is reason and error.code is ErrorCode.CARD_DECLINED
    assert not error.retriable and error.http_status == 402 and error.request_id
    assert error.payment_id == sim.payment_intents(reference="order-d")[0]["id"]
    if advice is not None:
        assert error.advice is advice
    assert sim.request_count(method="POST", path=PI_PATH) == 1
    # The decline is stored: the same call again raises it without a provider call.
    with pytest.raises(CardDeclinedError):
        gw.authorize(eur("9.00"), source=PaymentSource.token(payment_method), reference="order-d")
    assert sim.request_count(method="POST", path=PI_PATH) == 1


def test_three_ds_required_is_requires_action(make_gateway: Callable[..., Any]) -> None:
    gw = make_gateway()
    p = gw.authorize(
        eur("30.00"), source=PaymentSource.token("pm_card_threeDSecure2Required"), reference="o3ds"
    )
    assert p.status is PaymentStatus.REQUIRES_ACTION
    assert p.next_action is not None and p.next_action.type


def test_open_breaker_fails_fast_and_recovers_through_half_open(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    clock = FakeClock()
    gw = make_gateway(
        retry=RetryPolicy(max_attempts=1),
        breaker=BreakerPolicy(failure_threshold=2, reset_timeout=30.0),
        clock=clock,
    )
    sim.inject(Fault.server_error(503), times=None)
    for n in range(2):  # a 503 to a payment may come after the commit: an unknown outcome
        with pytest.raises(OutcomeUnknown):
            gw.authorize(eur("1.00"), source=VISA, reference=f"order-b{n}")
    reached = len(sim.requests)
    with pytest.raises(CircuitOpen):
        gw.authorize(eur("1.00"), source=VISA, reference="order-b3")
    assert len(sim.requests) == reached  # refused without reaching the provider

    sim.clear_faults()
    clock.advance(30.0)
    p = gw.authorize(eur("1.00"), source=VISA, reference="order-b4")  # the half-open probe
    assert p.status is PaymentStatus.AUTHORIZED
    assert gw.breaker.state == "closed"


def test_declines_never_trip_the_breaker(make_gateway: Callable[..., Any]) -> None:
    gw = make_gateway(breaker=BreakerPolicy(failure_threshold=1))
    for n in range(3):
        with pytest.raises(CardDeclinedError):
            gw.authorize(
                eur("1.00"),
                source=PaymentSource.token("pm_card_visa_chargeDeclined"),
                reference=f"order-nd{n}",
            )
    assert gw.breaker.state == "closed"


def test_bulkhead_refuses_beyond_its_bound(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway(bulkhead=BulkheadPolicy(max_concurrent=1, max_wait=0.05))
    sim.inject(Fault.latency(0.5), times=1, method="POST", path=PI_PATH)
    calls = [
        lambda n=n: gw.authorize(eur("2.00"), source=VISA, reference=f"order-bh{n}")
        for n in range(2)
    ]
    if make_gateway.kind == "async":  # type: ignore[attr-defined]
        outcomes = gw.concurrently(*calls)
    else:
        outcomes = [None, None]

        def run(i: int) -> None:
            try:
                outcomes[i] = calls[i]()
            except Exception as exc:
                outcomes[i] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    full = [o for o in outcomes if isinstance(o, BulkheadFull)]
    assert len(full) == 1 and full[0].retriable
    assert sim.request_count(method="POST", path=PI_PATH) == 1


def test_schema_breaking_capture_is_outcome_unknown(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    p = gw.authorize(eur("8.00"), source=VISA, reference="order-schema")
    sim.inject(Fault.schema_break(), times=1, method="POST", path=f"{PI_PATH}/{p.id}/capture")
    with pytest.raises(OutcomeUnknown) as unknown:
        gw.capture(p.id)
    assert unknown.value.code is ErrorCode.SCHEMA_VIOLATION
    assert unknown.value.provider_body is not None
    assert sim.payment_intent(p.id)["status"] == "succeeded"  # the provider did act


def test_malformed_json_on_authorize_is_outcome_unknown(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    sim.inject(Fault.malformed_json(), times=1, method="POST", path=PI_PATH)
    with pytest.raises(OutcomeUnknown) as unknown:
        gw.authorize(eur("8.00"), source=VISA, reference="order-malformed")
    assert unknown.value.code is ErrorCode.SCHEMA_VIOLATION
    assert len(sim.payment_intents(reference="order-malformed")) == 1
    # The key was left free: repeating the call settles it by the provider's replay.
    p = gw.authorize(eur("8.00"), source=VISA, reference="order-malformed")
    assert [i["id"] for i in sim.payment_intents(reference="order-malformed")] == [p.id]


def test_repeated_call_replays_without_a_provider_call(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    first = gw.authorize(eur("11.00"), source=VISA, reference="order-replay")
    again = gw.authorize(eur("11.00"), source=VISA, reference="order-replay")
    assert again == first
    assert sim.request_count(method="POST", path=PI_PATH) == 1


def test_key_reused_with_another_amount_is_refused_before_the_provider(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    gw.authorize(eur("11.00"), source=VISA, reference="order-k", idempotency_key="key-1")
    with pytest.raises(IdempotencyConflict) as conflict:
        gw.authorize(eur("12.00"), source=VISA, reference="order-k", idempotency_key="key-1")
    assert conflict.value.idempotency_key == "key-1" and not conflict.value.retriable
    assert sim.request_count(method="POST", path=PI_PATH) == 1


def test_concurrent_duplicates_reach_the_provider_once(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    sim.inject(Fault.latency(0.3), times=1, method="POST", path=PI_PATH)
    calls = [
        lambda: gw.authorize(eur("6.00"), source=VISA, reference="order-dup") for _ in range(3)
    ]
    if make_gateway.kind == "async":  # type: ignore[attr-defined]
        outcomes = gw.concurrently(*calls)
    else:
        outcomes = [None] * 3
        threads = [
            threading.Thread(target=lambda i=i: outcomes.__setitem__(i, calls[i]()))
            for i in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len({o.id for o in outcomes}) == 1
    assert sim.request_count(method="POST", path=PI_PATH) == 1


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (Money("1", "IQD"), ErrorCode.UNSUPPORTED),  # not on Stripe's three-decimal list
        (Money("5.125", "KWD"), ErrorCode.AMOUNT_INVALID),  # Stripe needs a trailing 0
    ],
)
def test_unsupported_requests_are_refused_before_any_io(
    make_gateway: Callable[..., Any], sim: StripeSimulator, amount: Money, code: ErrorCode
) -> None:
    gw = make_gateway()
    with pytest.raises(InvalidRequestError) as refused:
        gw.authorize(amount, source=VISA, reference="order-cap")
    assert refused.value.code is code
    assert sim.requests == []


def test_bad_input_is_a_typed_error_that_does_not_echo_it(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    with pytest.raises(InvalidRequestError) as bad:
        gw.refund("pi_1", amount=eur("-1.00"))
    assert "greater than zero" in str(bad.value)
    with pytest.raises(InvalidRequestError) as bad_card:
        PaymentSource.card("4242424242424241", 12, 2030, "123")  # fails Luhn
    assert "4242424242424241" not in str(bad_card.value)
    assert sim.requests == []


def test_secrets_never_leak(
    make_gateway: Callable[..., Any],
    api_key: str,
    sim: StripeSimulator,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    store_path = tmp_path / "idem.sqlite3"
    gw = make_gateway(  # raw cards are the point: they must never leak once sent
        store=SQLiteStore(store_path), records=SQLiteRecordStore(store_path), raw_card_data=True
    )
    card = PaymentSource.card("4000000000009995", 12, 2031, "7319", holder_name="A Shopper")
    texts = [repr(gw), repr(card), str(card)]
    p = gw.authorize(
        eur("5.00"),
        source=PaymentSource.card("4242424242424242", 12, 2031, "7319"),
        reference="order-secret",
    )
    texts += [repr(p), p.model_dump_json()]
    with pytest.raises(CardDeclinedError) as declined:
        gw.authorize(eur("5.00"), source=card, reference="order-secret-2")
    texts += [str(declined.value), repr(declined.value), repr(declined.value.provider_body)]
    texts += [record.getMessage() for record in caplog.records]
    texts.append(store_path.read_bytes().decode("latin-1"))
    for wal in tmp_path.glob("idem.sqlite3*"):
        texts.append(wal.read_bytes().decode("latin-1"))
    blob = "\n".join(texts)
    for secret in (api_key, "4242424242424242", "4000000000009995"):
        assert secret not in blob, secret
    assert not re.search(r"cvc\W{0,6}7319", blob, re.IGNORECASE)


def test_a_refund_answer_without_its_payment_intent_settles_through_the_gateway() -> None:
    def handler(request: httpx.Request) -> httpx.Response | None:
        if (request.method, request.url.path) != ("POST", "/v1/refunds"):
            return None  # the simulator answers
        sent = dict(parse_qsl(request.content.decode()))
        body = {"id": "re_noPI", "object": "refund", "amount": int(sent["amount"]),
                "currency": "eur", "payment_intent": None, "status": "succeeded"}  # fmt: skip
        return httpx.Response(200, json=body, headers={"Request-Id": "req_r"})

    with MockProvider("stripe", handler).gateway() as gw:
        paid = gw.purchase(
            Money("10.00", "EUR"), source=PaymentSource.token("pm_card_visa"), reference="o-r"
        )
        refund = gw.refund(paid.id, amount=Money("2.00", "EUR"))
        assert (refund.payment_id, refund.status) == (paid.id, RefundStatus.SUCCEEDED)
        assert gw.unknown_payments() == []  # nothing left to reconcile
