"""The gateway on Adyen, sync and async, against the Adyen simulator: modifications are pending
until their signed webhook confirms them; retrieve answers from the record and says so."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from paygate import (
    ActionKind,
    Money,
    PaymentSource,
    PaymentStatus,
    RefundStatus,
    RetryPolicy,
    Timeout,
)
from paygate.errors import (
    CardDeclinedError,
    DeclineReason,
    ErrorCode,
    InvalidRequestError,
    InvalidWebhookError,
    OutcomeUnknown,
    RetriableError,
    TerminalError,
)
from paygate.models import Operation
from paygate.testing import AdyenSimulator, Fault

S = PaymentStatus
LATER = datetime.now(UTC) + timedelta(hours=2)


def card(holder: str = "APPROVED", number: str = "4111111145551142") -> PaymentSource:
    return PaymentSource.card(number, 3, 2030, "737", holder_name=holder)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def deliver(gw: Any, sim: AdyenSimulator) -> list[Any]:
    """Let the simulator decide what it received, and hand every webhook to the gateway."""
    sim.process_modifications()
    return [o for d in sim.drain_webhooks() for o in gw.handle_webhook(d.headers, d.body)]


def test_authorize_capture_refund_each_confirmed_by_webhook(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    gw = make_adyen_gateway()
    p = gw.authorize(eur("25.00"), source=card(), reference="order-a1")
    assert p.status is S.AUTHORIZED and p.amount_authorized == eur("25.00")
    assert [o.result for o in deliver(gw, adyen_sim)] == ["unchanged"]  # AUTHORISATION

    held = gw.capture(p.id, amount=eur("20.00"))
    assert held.status is S.PENDING and held.pending is Operation.CAPTURE
    assert held.amount_captured == eur("0.00")  # received, not done
    with pytest.raises(InvalidRequestError) as waiting:
        gw.capture(p.id)
    assert waiting.value.code is ErrorCode.INVALID_STATE  # a capture is already pending
    [captured] = deliver(gw, adyen_sim)
    assert captured.result == "applied" and captured.payment.status is S.PARTIALLY_CAPTURED

    refund = gw.refund(p.id, amount=eur("5.00"), reference="order-a1-r1")
    assert refund.status is RefundStatus.PENDING
    [refunded] = deliver(gw, adyen_sim)
    assert refunded.result == "applied"
    read = gw.retrieve(p.id)
    assert read.from_record and read.status is S.PARTIALLY_REFUNDED
    assert (read.amount_captured, read.amount_refunded) == (eur("20.00"), eur("5.00"))
    assert gw.records.verify() is None
    causes = [e.cause.kind for e in gw.audit_trail(p.id)]
    assert causes == ["call", "webhook", "call", "webhook", "call", "webhook"]


def test_full_capture_and_refund_take_their_amount_from_the_record(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    gw = make_adyen_gateway()
    p = gw.authorize(eur("12.34"), source=card(), reference="order-a2")
    gw.capture(p.id)
    [capture] = adyen_sim.modifications(p.id)
    assert capture["amount"] == {"value": 1234, "currency": "EUR"}
    deliver(gw, adyen_sim)
    gw.refund(p.id)
    deliver(gw, adyen_sim)
    assert gw.retrieve(p.id).status is S.REFUNDED


def test_void_is_pending_until_confirmed(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    gw = make_adyen_gateway()
    p = gw.authorize(eur("8.00"), source=card(), reference="order-a3")
    voided = gw.void(p.id)
    assert voided.status is S.PENDING and voided.pending is Operation.VOID
    deliver(gw, adyen_sim)
    assert gw.retrieve(p.id).status is S.VOIDED


@pytest.mark.parametrize(
    ("holder", "reason"),
    [
        ("DECLINED", DeclineReason.GENERIC),
        ("NOT_ENOUGH_BALANCE", DeclineReason.INSUFFICIENT_FUNDS),
        ("CARD_EXPIRED", DeclineReason.EXPIRED_CARD),
        ("CVC_DECLINED", DeclineReason.INCORRECT_CVC),
    ],
)
def test_declines_are_normalized_like_stripes(
    make_adyen_gateway: Callable[..., Any],
    adyen_sim: AdyenSimulator,
    holder: str,
    reason: DeclineReason,
) -> None:
    gw = make_adyen_gateway()
    with pytest.raises(CardDeclinedError) as declined:
        gw.authorize(eur("9.00"), source=card(holder), reference=f"order-{holder}")
    assert declined.value.reason is reason and declined.value.code is ErrorCode.CARD_DECLINED
    assert adyen_sim.request_count(method="POST") == 1  # never retried
    assert gw.payment_record(declined.value.payment_id).status is S.FAILED


def test_three_ds_card_requires_action(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    """Adyen names no payment until the shopper is back: paygate names it by its record, and
    the same name reads it, completes it, and then is the payment's pspReference's."""
    gw = make_adyen_gateway()
    three_ds = card(number="4917610000000000")
    with pytest.raises(TerminalError) as refused:  # Adyen requires a returnUrl to redirect to
        gw.authorize(eur("30.00"), source=three_ds, reference="o-3ds-no-return")
    assert refused.value.code is ErrorCode.INVALID_REQUEST and "returnUrl" in str(refused.value)
    p = gw.authorize(
        eur("30.00"), source=three_ds, reference="o-3ds", return_url="https://shop.example/r",
        metadata={"cart": "7"},
    )  # fmt: skip
    assert p.status is S.REQUIRES_ACTION and p.id.startswith("pr_")
    assert p.next_action is not None and p.next_action.kind is ActionKind.REDIRECT
    assert p.next_action.method == "GET" and p.next_action.provider_action["type"] == "redirect"
    assert gw.retrieve(p.id).status is S.REQUIRES_ACTION
    assert gw.payment_record(p.id).payment_id is None
    with pytest.raises(TerminalError) as early:
        gw.capture(p.id)
    assert early.value.code is ErrorCode.INVALID_STATE and "not named" in str(early.value)

    done = gw.complete_action(p.id, details=adyen_sim.authenticate(p.next_action))
    assert done.status is S.AUTHORIZED and not done.id.startswith("pr_")
    assert (done.reference, done.metadata) == ("o-3ds", {"cart": "7"})
    record = gw.payment_record(done.id)
    assert record is not None and record.payment_id == done.id
    assert gw.payment_record(p.id) == record  # the first name still finds it
    again = gw.complete_action(p.id, details={"redirectResult": "other"})
    assert (again.id, again.status) == (done.id, S.AUTHORIZED)  # from the record


def test_webhooks_out_of_order_twice_and_forged(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    gw = make_adyen_gateway()
    p = gw.authorize(eur("40.00"), source=card(), reference="order-a4")
    gw.capture(p.id)
    adyen_sim.process_modifications()
    authorisation, capture = adyen_sim.drain_webhooks()
    outcomes = [
        gw.handle_webhook(d.headers, d.body)[0].result
        for d in (capture, capture, authorisation)  # newest first, then a resend, then the old
    ]
    assert outcomes == ["applied", "duplicate", "unchanged"]
    assert gw.retrieve(p.id).status is S.CAPTURED  # the older event did not move it back
    trail = gw.audit_trail(p.id)
    assert trail[-1].cause.kind == "webhook" and trail[-1].note.startswith("no change")

    forged = capture.body.replace(b"40", b"41")
    with pytest.raises(InvalidWebhookError) as refused:
        gw.handle_webhook(capture.headers, forged)
    assert refused.value.code is ErrorCode.WEBHOOK_SIGNATURE_INVALID
    assert len(gw.audit_trail(p.id)) == len(trail)  # nothing applied


def test_a_lost_answer_is_retried_under_the_same_key(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    gw = make_adyen_gateway(timeout=Timeout(read=0.3, total=10))
    adyen_sim.inject(Fault.timeout_after_commit(hold=1.0), times=1, method="POST")
    p = gw.authorize(eur("42.00"), source=card(), reference="order-a5")
    assert p.status is S.AUTHORIZED
    assert len(adyen_sim.payments(reference="order-a5")) == 1
    keys = {r.headers.get("idempotency-key") for r in adyen_sim.requests}
    assert len(keys) == 1 and None not in keys


def test_a_payment_paygate_never_saw_cannot_be_modified_on_adyen(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    gw = make_adyen_gateway()
    with pytest.raises(InvalidRequestError) as unknown:
        gw.capture("ABCDEF1234567890", amount=eur("1.00"))
    assert unknown.value.code is ErrorCode.NOT_FOUND
    assert adyen_sim.requests == []


def test_a_lost_authorize_answer_is_settled_by_its_webhook(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    gw = make_adyen_gateway(retry=RetryPolicy(max_attempts=1), timeout=Timeout(read=0.3))
    adyen_sim.inject(Fault.timeout_after_commit(hold=1.0), times=1, method="POST")
    with pytest.raises(OutcomeUnknown):
        gw.authorize(eur("50.00"), source=card(), reference="order-a6")
    [record] = gw.unknown_payments()
    assert record.status is S.UNKNOWN and not record.unknown[0].replayable
    [resolution] = gw.resolve_unknown(due_by=LATER)  # a raw card cannot be sent again
    assert not resolution.settled and "cannot be repeated" in resolution.detail
    [waiting] = gw.unknown_payments()  # Adyen cannot be searched: it waits, backing off
    assert waiting.unknown[0].attempts == 1
    assert waiting.unknown[0].next_check_at > waiting.unknown[0].since + timedelta(seconds=30)
    assert len(adyen_sim.payments(reference="order-a6")) == 1  # nothing sent again

    [authorisation] = deliver(gw, adyen_sim)
    assert authorisation.result == "applied"
    [payment] = adyen_sim.payments(reference="order-a6")
    settled = gw.payment_record(payment["pspReference"])
    assert settled.record_id == record.record_id and settled.status is S.AUTHORIZED
    assert gw.unknown_payments() == []
    assert gw.records.verify() is None


def test_a_lost_capture_answer_is_settled_by_repeating_it(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    gw = make_adyen_gateway(retry=RetryPolicy(max_attempts=1), timeout=Timeout(read=0.3))
    p = gw.authorize(eur("60.00"), source=card(), reference="order-a7")
    adyen_sim.inject(Fault.timeout_after_commit(hold=1.0), times=1, method="POST")
    with pytest.raises(OutcomeUnknown):
        gw.capture(p.id, amount=eur("60.00"))
    [resolution] = gw.resolve_unknown(due_by=LATER)
    assert resolution.settled
    assert gw.retrieve(p.id).pending is Operation.CAPTURE  # received, as the first time
    deliver(gw, adyen_sim)
    assert gw.retrieve(p.id).status is S.CAPTURED
    assert len(adyen_sim.modifications(p.id)) == 1  # the repeat did not capture twice


def test_adyens_retry_signals_are_honoured_with_the_same_key(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    # A transient 5xx before commit (Adyen marks it transient-error: true) is retried.
    gw = make_adyen_gateway()
    adyen_sim.inject(Fault.server_error(500), times=1, method="POST")
    p = gw.authorize(eur("11.00"), source=card(), reference="order-a8")
    assert p.status is S.AUTHORIZED and adyen_sim.request_count(method="POST") == 2
    assert len(adyen_sim.payments(reference="order-a8")) == 1

    # Another instance (its own local store) sends the same key while the first is still in
    # flight: Adyen answers 704, and the second waits and gets the first one's answer.
    adyen_sim.reset()
    patient = RetryPolicy(max_attempts=10, initial_backoff=0.1, max_backoff=0.2)
    first, second = make_adyen_gateway(retry=patient), make_adyen_gateway(retry=patient)
    adyen_sim.inject(Fault.latency(0.4), times=1, method="POST")
    key = "order-a9-attempt-1"
    calls = [
        lambda gw=gw: gw.authorize(
            eur("12.00"), source=card(), reference="o-a9", idempotency_key=key
        )
        for gw in (first, second)
    ]
    outcomes = _concurrently(calls, make_adyen_gateway.kind, first)  # type: ignore[attr-defined]
    assert outcomes[0].id == outcomes[1].id
    assert len(adyen_sim.payments(reference="o-a9")) == 1
    answers = [r for r in adyen_sim.requests if r.method == "POST"]
    assert len(answers) >= 3  # the first, a 704, and the repeat that got the replay


def _concurrently(calls: list[Callable[[], Any]], kind: str, driver: Any) -> list[Any]:
    import threading

    if kind == "async":
        return list(driver.concurrently(*calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_on_adyen_an_unreachable_record_store_refuses_a_new_payment(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    class BrokenRecords:
        blocking = False

        def __getattr__(self, name: str) -> Any:
            def broken(*args: Any, **kwargs: Any) -> Any:
                raise ConnectionError("record store unreachable")

            return broken

    gw = make_adyen_gateway(records=BrokenRecords())
    with pytest.raises(RetriableError) as refused:  # its record is the only account of it
        gw.authorize(eur("5.00"), source=card(), reference="order-a10")
    assert refused.value.code is ErrorCode.STORE_UNAVAILABLE
    assert adyen_sim.requests == []


def test_on_adyen_an_unreachable_idempotency_store_refuses_a_new_payment(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    """A store that answers every attribute with a failure (no asyncio face of its own: the
    asyncio gateway calls it as any other store) fails the call closed, nothing sent."""

    class BrokenStore:
        blocking = False

        def __getattr__(self, name: str) -> Any:
            def broken(*args: Any, **kwargs: Any) -> Any:
                raise ConnectionError("idempotency store unreachable")

            return broken

    gw = make_adyen_gateway(store=BrokenStore())
    with pytest.raises(RetriableError) as refused:
        gw.authorize(eur("5.00"), source=card(), reference="order-a11")
    assert refused.value.code is ErrorCode.STORE_UNAVAILABLE
    assert adyen_sim.requests == []


def test_a_lost_purchase_answer_settled_by_its_webhook_is_captured(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    """Adyen captures a purchase when it authorizes it and reports only the authorization: a
    purchase whose answer was lost, settled by that report, is recorded captured."""
    gw = make_adyen_gateway(retry=RetryPolicy(max_attempts=1), timeout=Timeout(read=0.3))
    adyen_sim.inject(Fault.timeout_after_commit(hold=1.0), times=1, method="POST")
    with pytest.raises(OutcomeUnknown):
        gw.purchase(eur("31.00"), source=card(), reference="order-a8")
    [authorisation] = deliver(gw, adyen_sim)
    assert authorisation.result == "applied"
    [payment] = adyen_sim.payments(reference="order-a8")
    record = gw.payment_record(payment["pspReference"])
    assert record.status is S.CAPTURED and record.amount_captured == eur("31.00")
    assert payment["captured"] == 3100 and gw.unknown_payments() == []
