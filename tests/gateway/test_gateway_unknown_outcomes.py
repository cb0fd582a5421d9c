"""No payment is lost between the request and its record: an unknown outcome is settled only by
the provider's own account of the call (the same request replayed byte for byte, or a lookup),
never by a refusal; a call interrupted after its request may have left (a cancellation, any
exception) and an answer that could not be recorded both leave an unknown outcome."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from paygate import (
    AsyncGateway,
    Gateway,
    Money,
    PaymentSource,
    PaymentStatus,
    RetryPolicy,
    Timeout,
)
from paygate.adapters.stripe import StripeAdapter
from paygate.errors import (
    CardDeclinedError,
    ErrorCode,
    InvalidRequestError,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
)
from paygate.models import AuthorizeRequest, validated
from paygate.records import MemoryRecordStore
from paygate.testing import AdyenSimulator, Fault, StripeSimulator

S = PaymentStatus
LATER = datetime.now(UTC) + timedelta(hours=2)
VISA = PaymentSource.token("pm_card_visa")
PI_PATH = "/v1/payment_intents"
ONE_ATTEMPT = RetryPolicy(max_attempts=1)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


# -- the resolver repeats exactly what was sent -------------------------------------------------
def test_the_resolver_repeats_every_parameter_it_first_sent(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    """Description, metadata and a refund's reason are sent again: Stripe sees the same request
    under the same key and replays it, instead of refusing another request (idempotency_error)
    that a resolver once took for a settled refusal."""
    gw = make_gateway(retry=ONE_ATTEMPT)
    sim.inject(Fault.malformed_json(), method="POST", path=PI_PATH)
    with pytest.raises(OutcomeUnknown):
        gw.authorize(
            eur("30.00"), source=VISA, reference="order-params", description="two mugs",
            metadata={"cart": "c-1"},
        )  # fmt: skip
    [authorized] = gw.resolve_unknown(due_by=LATER)
    assert authorized.settled and authorized.detail == "settled: authorized"
    first, again = [r for r in sim.requests if r.path == PI_PATH]
    assert again.body == first.body and again.idempotency_key == first.idempotency_key
    [intent] = sim.payment_intents(reference="order-params")
    assert intent["metadata"]["cart"] == "c-1" and intent["description"] == "two mugs"
    assert gw.payment_record(intent["id"]).status is S.AUTHORIZED

    gw.capture(intent["id"])
    sim.inject(Fault.malformed_json(), method="POST", path="/v1/refunds")
    with pytest.raises(OutcomeUnknown):
        gw.refund(
            intent["id"], amount=eur("5.00"), reason="requested_by_customer",
            reference="order-params-r1",
        )  # fmt: skip
    [refunded] = gw.resolve_unknown(due_by=LATER)
    assert refunded.settled and refunded.detail == "settled: succeeded"
    first, again = [r for r in sim.requests if r.path == "/v1/refunds"]
    assert again.body == first.body
    [refund] = sim.refunds(payment_intent=intent["id"])
    assert refund["reason"] == "requested_by_customer"
    assert gw.payment_record(intent["id"]).amount_refunded == eur("5.00")
    assert gw.unknown_payments() == []


def test_adyen_gets_the_same_bytes_again(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    gw = make_adyen_gateway(retry=ONE_ATTEMPT)
    card = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="APPROVED")
    p = gw.purchase(eur("60.00"), source=card, reference="order-bytes")
    adyen_sim.inject(Fault.schema_break(), method="POST")
    with pytest.raises(OutcomeUnknown):
        gw.refund(p.id, amount=eur("60.00"), reason="fraudulent", reference="order-bytes-r")
    [resolution] = gw.resolve_unknown(due_by=LATER)
    assert resolution.settled
    refunds = [r for r in adyen_sim.requests if r.path.endswith("/refunds")]
    assert len(refunds) == 2 and refunds[0].body == refunds[1].body
    assert len(adyen_sim.modifications(p.id)) == 1


def test_an_unknown_whose_request_no_longer_rebuilds_is_escalated_not_sent(
    adyen_sim: AdyenSimulator,
) -> None:
    """A repeat that would not be the same request (here: the merchant account changed since)
    could be refused as another request, or acted on as a new one: it is never sent."""
    records = MemoryRecordStore()
    options: dict[str, Any] = {"base_url": f"{adyen_sim.url}/v71", "records": records}
    card = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="APPROVED")
    with Gateway.for_adyen(
        "key", merchant_account=adyen_sim.merchant_account, retry=ONE_ATTEMPT, **options
    ) as gw:
        p = gw.authorize(eur("8.00"), source=card, reference="order-rebuilt")
        adyen_sim.inject(Fault.malformed_json(), method="POST")
        with pytest.raises(OutcomeUnknown):
            gw.capture(p.id, amount=eur("8.00"))
    sent = len(adyen_sim.requests)
    with Gateway.for_adyen("key", merchant_account="AnotherMerchant", **options) as moved:
        [resolution] = moved.resolve_unknown(due_by=LATER)
        assert not resolution.settled and resolution.escalated
        assert "other bytes" in resolution.detail
        [record] = moved.unknown_payments()
        assert record.unknown[0].escalated and record.unknown[0].attempts == 1
    assert len(adyen_sim.requests) == sent


# -- a refusal never settles anything ------------------------------------------------------------
def _intent(form: dict[str, str]) -> dict[str, Any]:
    """Stripe's account of the authorization the scripted provider made."""
    amount, currency = int(form["amount"]), form["currency"]
    charge = {
        "id": "ch_scripted", "object": "charge", "amount": amount, "amount_captured": 0,
        "amount_refunded": 0, "captured": False, "currency": currency, "status": "succeeded",
    }  # fmt: skip
    return {
        "id": "pi_scripted", "object": "payment_intent", "amount": amount,
        "amount_capturable": amount, "amount_received": 0, "currency": currency,
        "status": "requires_capture", "capture_method": "manual", "livemode": False,
        "metadata": {"reference": form["metadata[reference]"]}, "latest_charge": charge,
    }  # fmt: skip


def _stripe_error(status: int, type_: str, code: str | None) -> httpx.Response:
    body = {"error": {"type": type_, "code": code, "message": f"{type_} {code}"}}
    return httpx.Response(status, json=body)


REFUSALS: dict[str, Callable[[], httpx.Response]] = {
    "load balancer 404": lambda: httpx.Response(404, text="<html>no route</html>"),
    "firewall 403": lambda: httpx.Response(403, text="<html>blocked</html>"),
    "redirect 302": lambda: httpx.Response(302, headers={"Location": "https://sso.example"}),
    "html 400": lambda: httpx.Response(400, text="<html>bad request</html>"),
    "mangled 409": lambda: httpx.Response(409, text='{"error": {"ty'),
    "other parameters": lambda: _stripe_error(400, "idempotency_error", None),
    "revoked key": lambda: _stripe_error(401, "invalid_request_error", None),
    "missing permission": lambda: _stripe_error(403, "invalid_request_error", None),
}


class ScriptedStripe:
    """A Stripe whose first answer to a POST is lost after it acted; then ``answer`` decides
    (None: Stripe's own account of the payment it made)."""

    def __init__(self) -> None:
        self.posts: list[httpx.Request] = []
        self.answer: Callable[[], httpx.Response] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.posts.append(request)
        if len(self.posts) == 1:
            return httpx.Response(200, text='{"id": "pi_scr')  # acted; the answer is cut
        if self.answer is not None:
            return self.answer()
        return httpx.Response(200, json=_intent(dict(parse_qsl(request.content.decode()))))


@pytest.fixture
def scripted() -> Iterator[tuple[Gateway, ScriptedStripe]]:
    provider = ScriptedStripe()
    adapter = StripeAdapter("sk_test_scripted", base_url="https://stripe.example")
    with Gateway(adapter, transport=httpx.MockTransport(provider), retry=ONE_ATTEMPT) as gw:
        yield gw, provider


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_a_refusal_never_settles_an_unknown_outcome(
    scripted: tuple[Gateway, ScriptedStripe], refusal: str
) -> None:
    gw, provider = scripted
    with pytest.raises(OutcomeUnknown):
        gw.authorize(eur("12.00"), source=VISA, reference="order-refused")
    provider.answer = REFUSALS[refusal]
    [resolution] = gw.resolve_unknown(due_by=LATER)
    assert not resolution.settled and resolution.escalated, resolution
    [record] = gw.unknown_payments()
    [unknown] = record.unknown
    assert record.status is S.UNKNOWN and unknown.escalated and unknown.reason
    assert unknown.reason.startswith("refused: ")

    # Nothing was kept for the key: the next check asks the provider again, and the provider's
    # own account of the call (here: the payment it made) settles it.
    provider.answer = None
    [settled] = gw.resolve_unknown(due_by=LATER + timedelta(hours=2))
    assert settled.settled and settled.detail == "settled: authorized"
    assert len(provider.posts) == 3
    assert {r.headers["idempotency-key"] for r in provider.posts} == {unknown.idempotency_key}
    assert gw.unknown_payments() == []
    assert gw.payment_record("pi_scripted").status is S.AUTHORIZED


def test_a_foreign_answer_to_a_new_call_is_an_unknown_outcome_not_a_refusal(
    scripted: tuple[Gateway, ScriptedStripe],
) -> None:
    gw, provider = scripted
    provider.posts.append(httpx.Request("POST", "https://x"))  # skip the lost first answer
    provider.answer = REFUSALS["firewall 403"]
    with pytest.raises(OutcomeUnknown) as foreign:
        gw.authorize(eur("3.00"), source=VISA, reference="order-waf")
    assert foreign.value.code is ErrorCode.UNEXPECTED_RESPONSE
    assert foreign.value.provider_code is None
    [record] = gw.unknown_payments()
    assert record.unknown[0].reason is not None and "format" in record.unknown[0].reason


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        (lambda: _stripe_error(401, "invalid_request_error", None), False),  # a key to fix
        (lambda: _stripe_error(403, "invalid_request_error", None), False),
        (lambda: _stripe_error(429, "invalid_request_error", "rate_limit"), False),
        (lambda: _stripe_error(400, "invalid_request_error", "amount_too_small"), True),
        (lambda: _stripe_error(402, "card_error", "card_declined"), True),
    ],
)
def test_only_the_providers_final_answer_is_kept_for_the_key(
    scripted: tuple[Gateway, ScriptedStripe], answer: Callable[[], httpx.Response], kept: bool
) -> None:
    gw, provider = scripted
    provider.posts.append(httpx.Request("POST", "https://x"))  # no lost answer here
    provider.answer = answer
    for _ in range(2):
        with pytest.raises(PaymentError) as refused:
            gw.authorize(eur("1.00"), source=VISA, reference="order-kept")
        assert not isinstance(refused.value, OutcomeUnknown)
    assert len(provider.posts) == (2 if kept else 3)  # kept: the repeat is answered locally
    assert gw.unknown_payments() == []


# -- interrupted calls ---------------------------------------------------------------------------
def test_a_cancelled_call_leaves_an_unknown_outcome(sim: StripeSimulator, api_key: str) -> None:
    """``asyncio.wait_for`` cancels a call whose request Stripe already acted on: the caller
    sees its TimeoutError, and the record holds the unknown outcome at once."""

    async def main() -> None:
        async with AsyncGateway.for_stripe(api_key, base_url=sim.url, retry=ONE_ATTEMPT) as gw:
            sim.inject(Fault.timeout_after_commit(hold=2.0), method="POST", path=PI_PATH)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(
                    gw.authorize(eur("20.00"), source=VISA, reference="order-cancelled"), 0.3
                )
            [record] = await gw.unknown_payments()
            [unknown] = record.unknown
            assert unknown.reason is not None and "CancelledError" in unknown.reason
            assert gw.records.intents() == []
            [resolution] = await gw.resolve_unknown(due_by=LATER)
            assert resolution.settled
            assert await gw.unknown_payments() == []

    asyncio.run(main())
    assert len(sim.payment_intents(reference="order-cancelled")) == 1


class _Boom(Exception):
    """Something the gateway has never heard of, raised after the request left."""


def test_any_exception_after_the_request_left_leaves_an_unknown_outcome(
    sim: StripeSimulator, api_key: str
) -> None:
    forward = httpx.HTTPTransport()

    def handler(request: httpx.Request) -> httpx.Response:
        forward.handle_request(request).read()  # Stripe acts
        raise _Boom("the answer never came back")

    with Gateway.for_stripe(
        api_key, base_url=sim.url, transport=httpx.MockTransport(handler), retry=ONE_ATTEMPT
    ) as gw:
        with pytest.raises(_Boom):
            gw.purchase(eur("4.00"), source=VISA, reference="order-boom")
        [record] = gw.unknown_payments()
        assert record.unknown[0].reason is not None and "_Boom" in record.unknown[0].reason
    with Gateway.for_stripe(api_key, base_url=sim.url, records=gw.records) as healthy:
        [resolution] = healthy.resolve_unknown(due_by=LATER)
        assert resolution.settled and resolution.detail == "settled: captured"
    assert len(sim.payment_intents(reference="order-boom")) == 1
    forward.close()


def test_an_async_gateway_refuses_a_second_event_loop(sim: StripeSimulator, api_key: str) -> None:
    gw = AsyncGateway.for_stripe(api_key, base_url=sim.url)
    asyncio.run(gw.authorize(eur("2.00"), source=VISA, reference="order-loop-1"))
    with pytest.raises(InvalidRequestError) as refused:
        asyncio.run(gw.authorize(eur("2.00"), source=VISA, reference="order-loop-2"))
    assert refused.value.code is ErrorCode.UNSUPPORTED and "nothing was sent" in str(refused.value)
    assert sim.payment_intents(reference="order-loop-2") == []


# -- an answer that cannot be recorded -----------------------------------------------------------
class _FailingOutcomes(MemoryRecordStore):
    """Takes intents, then fails to record the outcome (the database went away mid-call)."""

    failing = True

    def apply(self, *args: Any, **kwargs: Any) -> Any:
        if self.failing and kwargs.get("intent") is not None:
            raise ConnectionError("record store went away")
        return super().apply(*args, **kwargs)


def test_a_success_that_cannot_be_recorded_is_an_unknown_outcome_not_a_success(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    records = _FailingOutcomes()
    gw = make_gateway(records=records, retry=ONE_ATTEMPT)
    with pytest.raises(OutcomeUnknown) as unrecorded:
        gw.authorize(eur("15.00"), source=VISA, reference="order-unrecorded")
    assert unrecorded.value.code is ErrorCode.STORE_UNAVAILABLE
    [intent] = records.intents()  # the intent stays: an unknown outcome once its lease ends
    assert intent.reference == "order-unrecorded"
    records.failing = False
    # The caller repeats under the key: Stripe replays its answer, and now it is recorded.
    p = gw.authorize(eur("15.00"), source=VISA, reference="order-unrecorded")
    assert p.status is S.AUTHORIZED and gw.payment_record(p.id) is not None
    assert records.intents() == [] and len(sim.payment_intents(reference="order-unrecorded")) == 1


def test_a_decline_stays_a_decline_and_settles_nothing_else(
    make_gateway: Callable[..., Any],
) -> None:
    gw = make_gateway()
    with pytest.raises(CardDeclinedError):
        gw.authorize(
            eur("9.00"), source=PaymentSource.token("pm_card_visa_chargeDeclined"),
            reference="order-declined",
        )  # fmt: skip
    assert gw.unknown_payments() == [] and gw.records.intents() == []


def test_a_webhook_that_beats_the_lost_answer_lands_on_the_calls_own_record(
    adyen_sim: AdyenSimulator,
) -> None:
    """Adyen's AUTHORISATION webhook often arrives before a lost answer's read timeout: it goes
    to the record the waiting call will answer to (its intent names it), not a record of its
    own, and the unknown outcome it leaves is settled by it (a raw card cannot be repeated)."""
    card = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="APPROVED")
    options: dict[str, Any] = {
        "merchant_account": adyen_sim.merchant_account,
        "hmac_key": adyen_sim.hmac_key,
    }
    with Gateway.for_adyen(
        "key", base_url=f"{adyen_sim.url}/v71", retry=ONE_ATTEMPT,
        timeout=Timeout(read=1.0, total=1.5), **options,
    ) as gw:  # fmt: skip
        adyen_sim.inject(Fault.timeout_after_commit(hold=3.0), method="POST")

        def deliver_when_paid() -> None:
            while not adyen_sim.payments(reference="order-race"):
                time.sleep(0.01)
            for webhook in adyen_sim.drain_webhooks():
                gw.handle_webhook(webhook.headers, webhook.body)

        racer = threading.Thread(target=deliver_when_paid)
        racer.start()
        with pytest.raises(OutcomeUnknown):
            gw.authorize(eur("44.00"), source=card, reference="order-race")
        racer.join(5)
        [payment] = adyen_sim.payments(reference="order-race")
        [record] = gw.unknown_payments()
        assert record.payment_id == payment["pspReference"]  # one record, the call's own
        [resolution] = gw.resolve_unknown(due_by=LATER)
        assert resolution.settled and resolution.detail == f"found {payment['pspReference']}"
        assert gw.unknown_payments() == []
        assert gw.payment_record(payment["pspReference"]).status is S.AUTHORIZED


def test_a_key_stripe_is_still_running_is_kept_unknown_and_settled_by_its_answer(
    make_gateway: Callable[..., Any], sim: StripeSimulator, api_key: str
) -> None:
    """An earlier request under the key is still running at Stripe (an earlier call's, whose
    own record could not be written): a call that meets it (409 idempotency_key_in_use on every
    attempt) records an unknown outcome instead of dropping its intent, and the resolver settles
    it with the payment Stripe made. Dropping it would leave that payment on no record."""
    gw = make_gateway(
        timeout=Timeout(total=0.6),
        retry=RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02),
    )
    amount, key = Money("41.00", "EUR"), "held-key"
    request = validated(AuthorizeRequest, amount=amount, source=VISA, reference="o-held")
    earlier = StripeAdapter(api_key, base_url=sim.url).build_request(request, idempotency_key=key)
    sim.inject(Fault.latency(1.5), times=1, method="POST", path=PI_PATH)
    answered: list[httpx.Response] = []

    def send_earlier() -> None:
        with httpx.Client() as client:
            answered.append(client.send(earlier))

    sender = threading.Thread(target=send_earlier)
    sender.start()
    while not sim.requests:  # the earlier request has reached Stripe and holds the key
        time.sleep(0.01)
    with pytest.raises(OutcomeUnknown) as unknown:
        gw.authorize(amount, source=VISA, reference="o-held", idempotency_key=key)
    assert unknown.value.code is ErrorCode.IDEMPOTENCY_IN_FLIGHT
    listed = gw.unknown_payments()
    assert [u.idempotency_key for r in listed for u in r.unknown] == [key]
    sender.join()
    assert answered[0].status_code == 200  # Stripe made the payment meanwhile
    [resolution] = gw.resolve_unknown(due_by=LATER)
    assert resolution.settled, resolution
    payment_id = answered[0].json()["id"]
    record = gw.payment_record(payment_id)
    assert record is not None and record.status is S.AUTHORIZED and gw.unknown_payments() == []


@pytest.mark.parametrize("settled_by", ["webhook", "resolver"])
def test_a_repeat_that_sends_nothing_leaves_the_earlier_calls_payment_unknown_not_lost(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator, settled_by: str
) -> None:
    """Found by the large chaos run (Adyen: a purchase captured at the provider, captured 0.00
    on its record). Adyen made the purchase, but its answer could not be recorded: the call's
    intent is the only trace of it. The caller repeats under the key, and the repeat sends
    nothing (Adyen refuses it before doing anything). The repeat's intent replaced the earlier
    one under the key; its "nothing was sent" speaks for itself only, so the earlier call's
    outcome is kept unknown, not cleared with the repeat's intent. Cleared, the purchase was on
    no record, or on the one its AUTHORISATION webhook started, which never says that a
    purchase was captured."""
    records = _FailingOutcomes()
    gw = make_adyen_gateway(records=records, retry=ONE_ATTEMPT)
    stored = PaymentSource.token("sim_stored_visa", customer="shopper-1")
    amount, key = eur("625.03"), "order-repeat-pay"
    with pytest.raises(OutcomeUnknown):  # Adyen purchased; the record store failed
        gw.purchase(amount, source=stored, reference="order-repeat", idempotency_key=key)
    records.failing = False
    adyen_sim.inject(Fault.rate_limited(0.01), times=1, method="POST")
    with pytest.raises(RetriableError) as refused:  # the repeat: nothing was sent
        gw.purchase(amount, source=stored, reference="order-repeat", idempotency_key=key)
    assert refused.value.code is ErrorCode.RATE_LIMITED
    [listed] = gw.unknown_payments()
    [unknown] = listed.unknown
    assert (unknown.operation.value, unknown.idempotency_key) == ("purchase", key)
    assert unknown.reason is not None and "a repeat under its key sent nothing" in unknown.reason
    assert records.intents() == []
    if settled_by == "webhook":  # AUTHORISATION: adopted by the record of the lost answer
        for webhook in adyen_sim.drain_webhooks():
            gw.handle_webhook(webhook.headers, webhook.body)
    else:  # the purchase repeated under its key: Adyen replays its answer
        [resolution] = gw.resolve_unknown(due_by=LATER)
        assert resolution.settled and resolution.detail == "settled: captured"
    [payment] = adyen_sim.payments(reference="order-repeat")  # one purchase, captured
    record = gw.payment_record(payment["pspReference"])
    assert record is not None and record.record_id == listed.record_id
    assert record.status is S.CAPTURED and record.amount_captured == amount
    assert gw.unknown_payments() == [] and records.verify() is None
