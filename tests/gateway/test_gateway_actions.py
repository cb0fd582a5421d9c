"""complete_action on both providers and both gateways: what a payment that needed the shopper
does when the network, the shopper or the caller misbehave. (The happy paths are the contract
suite's three_ds scenarios.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from paygate import Money, Payment, PaymentSource, PaymentStatus, RetryPolicy, Timeout
from paygate.errors import ErrorCode, InvalidRequestError, OutcomeUnknown
from paygate.testing import AdyenSimulator, Fault, StripeSimulator

S = PaymentStatus
RETURN = "https://shop.example/return"
STRIPE_3DS = PaymentSource.token("pm_card_threeDSecure2Required")
ADYEN_3DS = PaymentSource.card("4917610000000000", 3, 2030, "737", holder_name="J. Smith")


@pytest.fixture
def world(
    any_provider: tuple[Callable[..., Any], StripeSimulator | AdyenSimulator],
) -> tuple[Callable[..., Any], StripeSimulator | AdyenSimulator, PaymentSource]:
    """A factory of gateways of one kind to one provider's simulator, the simulator, and a
    card that needs 3-D Secure there."""
    make, simulator = any_provider
    return make, simulator, STRIPE_3DS if isinstance(simulator, StripeSimulator) else ADYEN_3DS


def _awaiting(gw: Any, source: PaymentSource, reference: str) -> Payment:
    payment: Payment = gw.authorize(
        Money("20.00", "EUR"), source=source, reference=reference, return_url=RETURN
    )
    assert payment.status is S.REQUIRES_ACTION and payment.next_action is not None
    return payment


def test_an_answer_lost_after_the_provider_acted_is_retried_under_the_same_key(
    world: tuple[Any, Any, PaymentSource],
) -> None:
    make, sim, source = world
    gw = make()
    payment = _awaiting(gw, source, "act-lost")
    assert payment.next_action is not None
    details = sim.authenticate(payment.next_action)
    sim.inject(Fault.timeout_after_commit(hold=1.0), times=1)
    done = gw.complete_action(payment.id, details=details)  # the retry's answer, replayed
    assert done.status is S.AUTHORIZED
    keys = {r.idempotency_key for r in sim.requests[-2:]}
    assert len(keys) == 1  # both attempts under one key (Stripe's GET carries none: {None})
    record = gw.payment_record(done.id)
    assert record is not None and record.status is S.AUTHORIZED and not record.unknown
    assert gw.records.verify() is None


def test_an_unanswered_completion_is_an_unknown_outcome_settled_by_its_repeat(
    world: tuple[Any, Any, PaymentSource],
) -> None:
    make, sim, source = world
    gw = make()
    payment = _awaiting(gw, source, "act-unknown")
    assert payment.next_action is not None
    details = sim.authenticate(payment.next_action)
    sim.inject(Fault.timeout_after_commit(hold=1.0), times=None)
    with pytest.raises(OutcomeUnknown):
        gw.complete_action(payment.id, details=details, idempotency_key="act-unknown-key")
    record = gw.payment_record(payment.id)
    assert record is not None and [u.idempotency_key for u in record.unknown] == ["act-unknown-key"]
    sim.clear_faults()
    [resolution] = gw.resolve_unknown(due_by=datetime.now(UTC) + timedelta(days=1))
    assert resolution.settled, resolution
    settled = gw.payment_record(payment.id)
    assert settled is not None and settled.status is S.AUTHORIZED and not settled.unknown


def test_asking_before_the_shopper_is_back_does_not_stick_to_the_key(
    world: tuple[Any, Any, PaymentSource],
) -> None:
    """Stripe: read back still requires_action; that answer is not kept under the key, so the
    same call once the shopper is back goes through. (Adyen needs the shopper's details.)"""
    make, sim, source = world
    gw = make()
    payment = _awaiting(gw, source, "act-early")
    assert payment.next_action is not None
    if isinstance(sim, StripeSimulator):
        assert gw.complete_action(payment.id).status is S.REQUIRES_ACTION
        sim.authenticate(payment.next_action)
        assert gw.complete_action(payment.id).status is S.AUTHORIZED
    else:
        with pytest.raises(InvalidRequestError):  # Adyen: no redirectResult, a 422
            gw.complete_action(payment.id)
        details = sim.authenticate(payment.next_action)
        assert gw.complete_action(payment.id, details=details).status is S.AUTHORIZED


@pytest.mark.parametrize(
    "details",
    [
        {"redirectResult": "a\x00b"},
        {"": "x"},
        {"redirectResult": 7},
        {f"k{n}": "v" for n in range(21)},
    ],
    ids=["control-character", "empty-key", "not-a-string", "too-many"],
)
def test_bad_details_are_refused_before_anything_is_sent(
    world: tuple[Any, Any, PaymentSource], details: dict[str, Any]
) -> None:
    make, sim, source = world
    gw = make()
    payment = _awaiting(gw, source, "act-bad")
    sent = len(sim.requests)
    with pytest.raises(InvalidRequestError) as refused:
        gw.complete_action(payment.id, details=details)
    assert refused.value.code is ErrorCode.INVALID_REQUEST
    assert "a\x00b" not in str(refused.value)
    assert len(sim.requests) == sent


def test_completing_again_answers_from_the_record_and_a_payment_that_never_waited_is_refused(
    world: tuple[Any, Any, PaymentSource],
) -> None:
    make, sim, source = world
    gw = make()
    payment = _awaiting(gw, source, "act-twice")
    assert payment.next_action is not None
    done = gw.complete_action(payment.id, details=sim.authenticate(payment.next_action))
    sent = len(sim.requests)
    again = gw.complete_action(payment.id, details={"redirectResult": "another"})
    assert (again.id, again.status, again.from_record) == (done.id, S.AUTHORIZED, True)
    assert len(sim.requests) == sent  # the record holds the outcome: nothing asked
    plain = (
        PaymentSource.token("pm_card_visa")
        if isinstance(sim, StripeSimulator)
        else (PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="J. Smith"))
    )
    never = gw.authorize(Money("5.00", "EUR"), source=plain, reference="act-never")
    with pytest.raises(InvalidRequestError) as refused:
        gw.complete_action(never.id, details={"redirectResult": "x"})
    assert refused.value.code is ErrorCode.INVALID_STATE and "does not await" in str(refused.value)


def test_the_deadline_bounds_a_completion(world: tuple[Any, Any, PaymentSource]) -> None:
    make, sim, source = world
    gw = make(timeout=Timeout(total=0.5))
    payment = _awaiting(gw, source, "act-slow")
    assert payment.next_action is not None
    details = sim.authenticate(payment.next_action)
    sim.inject(Fault.latency(5.0), times=None)
    started = datetime.now(UTC)
    with pytest.raises(OutcomeUnknown):
        gw.complete_action(payment.id, details=details)
    assert datetime.now(UTC) - started < timedelta(seconds=2)
    record = gw.payment_record(payment.id)
    assert record is not None and len(record.unknown) == 1  # kept, to settle later


@pytest.mark.parametrize(
    "return_url", ["javascript:alert(1)", "shop.example/return", "https://shop.example/a b"]
)
def test_a_return_url_that_is_no_web_address_is_refused_before_anything_is_sent(
    world: tuple[Any, Any, PaymentSource], return_url: str
) -> None:
    make, sim, source = world
    with pytest.raises(InvalidRequestError) as refused:
        make().authorize(
            Money("20.00", "EUR"), source=source, reference="act-url", return_url=return_url
        )
    assert "return_url" in str(refused.value) and return_url not in str(refused.value)
    assert sim.requests == []


def test_adyens_webhook_for_a_completion_whose_answer_was_lost_goes_to_its_record(
    adyen_sim: AdyenSimulator, make_adyen_gateway: Callable[..., Any]
) -> None:
    """Adyen names the payment for the first time in the details answer and in its
    AUTHORISATION webhook. The answer lost, the webhook is the first to name it: it goes to
    the record awaiting the shopper (same reference and amount), never to a record of its own,
    and settles the completion's unknown outcome."""
    gw = make_adyen_gateway(retry=RetryPolicy(max_attempts=1), timeout=Timeout(total=0.5))
    payment = _awaiting(gw, ADYEN_3DS, "act-webhook-first")
    assert payment.next_action is not None
    details = adyen_sim.authenticate(payment.next_action)
    adyen_sim.inject(Fault.timeout_after_commit(hold=1.0), times=1)
    with pytest.raises(OutcomeUnknown):
        gw.complete_action(payment.id, details=details)
    waiting = gw.payment_record(payment.id)
    assert waiting is not None and waiting.payment_id is None and len(waiting.unknown) == 1
    [delivery] = adyen_sim.drain_webhooks()
    [outcome] = gw.handle_webhook(delivery.headers, delivery.body)
    assert outcome.result == "applied" and outcome.payment is not None
    record = gw.payment_record(payment.id)
    assert record is not None and record.status is S.AUTHORIZED and not record.unknown
    assert record.payment_id == outcome.event.payment_id
    assert gw.payment_record(record.payment_id) == record  # one record, by either name
    assert gw.capture(record.payment_id).status is S.PENDING  # received


def test_adyens_webhook_while_the_completion_is_in_flight_waits_on_its_record(
    adyen_sim: AdyenSimulator,
) -> None:
    """The webhook arrives while the details call still waits for its answer: it goes to the
    record that call will answer to (its intent names it), and the answer then lands there."""
    import threading

    from tests.conftest import ADYEN_KEY as KEY

    from paygate import Gateway

    with Gateway.for_adyen(
        KEY, merchant_account=adyen_sim.merchant_account, base_url=f"{adyen_sim.url}/v71",
        hmac_key=adyen_sim.hmac_key, timeout=Timeout(total=5.0),
    ) as gw:  # fmt: skip
        payment = _awaiting(gw, ADYEN_3DS, "act-in-flight")
        assert payment.next_action is not None
        details = adyen_sim.authenticate(payment.next_action)
        [delivery] = adyen_sim.drain_webhooks()  # held back until the call is in flight
        adyen_sim.inject(Fault.timeout_after_commit(hold=1.0), times=1)  # answers, then holds
        results: list[Any] = []
        call = threading.Thread(
            target=lambda: results.append(gw.complete_action(payment.id, details=details))
        )
        call.start()
        while not any(r.path.endswith("/payments/details") for r in adyen_sim.requests):
            assert call.is_alive(), results
        assert [i.operation.value for i in gw.records.intents()] == ["complete_action"]
        [outcome] = gw.handle_webhook(delivery.headers, delivery.body)
        call.join()
        assert outcome.result == "applied"
        [done] = results
        record = gw.payment_record(payment.id)
        assert record is not None and record.payment_id == done.id
        assert record.status is S.AUTHORIZED
        assert gw.records.verify() is None


def test_a_shopper_who_paid_and_never_came_back_is_settled_by_the_webhook(
    adyen_sim: AdyenSimulator, make_adyen_gateway: Callable[..., Any]
) -> None:
    """The shopper authenticated at their bank and closed the window: nothing calls
    complete_action, and Adyen's AUTHORISATION webhook is the first and only word. It names
    the payment on the record awaiting the shopper; completing it later answers from there."""
    gw = make_adyen_gateway()
    payment = _awaiting(gw, ADYEN_3DS, "act-gone")
    assert payment.next_action is not None
    adyen_sim.authenticate(payment.next_action)  # the details are never handed back
    [delivery] = adyen_sim.drain_webhooks()
    [outcome] = gw.handle_webhook(delivery.headers, delivery.body)
    assert outcome.result == "applied"
    record = gw.payment_record(payment.id)
    assert record is not None and record.status is S.AUTHORIZED
    assert record.payment_id == outcome.event.payment_id
    assert gw.payment_record(record.payment_id) == record  # one record
    sent = len(adyen_sim.requests)
    late = gw.complete_action(payment.id, details={"redirectResult": "too-late"})
    assert (late.id, late.status) == (record.payment_id, S.AUTHORIZED)
    assert len(adyen_sim.requests) == sent


def test_payments_left_awaiting_the_shopper_are_listed(
    world: tuple[Any, Any, PaymentSource],
) -> None:
    make, sim, source = world
    gw = make()
    left = _awaiting(gw, source, "act-left")
    done = _awaiting(gw, source, "act-done")
    assert done.next_action is not None
    gw.complete_action(done.id, details=sim.authenticate(done.next_action))
    waiting = gw.payments_awaiting_action()
    assert [r.reference for r in waiting] == ["act-left"]
    assert waiting[0].status is S.REQUIRES_ACTION
    assert gw.payments_awaiting_action(older_than=timedelta(hours=1)) == []
    if not left.id.startswith("pr_"):  # the provider named it: it can be released
        assert gw.void(left.id).status in {S.VOIDED, S.PENDING}
        assert gw.payments_awaiting_action() == []


def test_a_purchase_settled_by_the_webhook_alone_is_captured(
    adyen_sim: AdyenSimulator, make_adyen_gateway: Callable[..., Any]
) -> None:
    """Adyen captures a purchase when it authorizes it and sends no CAPTURE webhook: the
    AUTHORISATION that names a 3-D Secure purchase nobody completed captures it on its record,
    as the simulator's ledger has it."""
    gw = make_adyen_gateway()
    payment = gw.purchase(
        Money("20.00", "EUR"), source=ADYEN_3DS, reference="act-gone-purchase", return_url=RETURN
    )
    assert payment.next_action is not None
    adyen_sim.authenticate(payment.next_action)
    [delivery] = adyen_sim.drain_webhooks()
    gw.handle_webhook(delivery.headers, delivery.body)
    record = gw.payment_record(payment.id)
    assert record is not None and record.status is S.CAPTURED
    assert record.payment_id is not None
    charged = adyen_sim.payment(record.payment_id)
    assert charged is not None and charged["captured"] == 2000
    assert record.amount_captured == Money("20.00", "EUR")
    assert gw.complete_action(payment.id).status is S.CAPTURED  # from the record


def test_with_the_browser_adyen_runs_3ds2_in_the_page_fingerprint_then_challenge(
    adyen_sim: AdyenSimulator, make_adyen_gateway: Callable[..., Any]
) -> None:
    from paygate import ActionKind, BrowserInfo
    from paygate.errors import CardDeclinedError, DeclineReason

    browser = BrowserInfo(
        user_agent="Mozilla/5.0", accept_header="text/html", language="nl-NL", color_depth=24,
        screen_height=900, screen_width=1440, time_zone_offset=-60,
    )  # fmt: skip
    gw = make_adyen_gateway()
    payment = gw.authorize(
        Money("20.00", "EUR"), source=ADYEN_3DS, reference="act-page",
        return_url="https://shop.example:8443/checkout/return", browser=browser,
    )  # fmt: skip
    sent = adyen_sim.requests[-1].params
    assert (sent["channel"], sent["origin"]) == ("Web", "https://shop.example:8443")
    assert sent["browserInfo"]["timeZoneOffset"] == -60 and sent["browserInfo"]["colorDepth"] == 24
    assert sent["authenticationData"] == {"threeDSRequestData": {"nativeThreeDS": "preferred"}}
    action = payment.next_action
    assert payment.status is S.REQUIRES_ACTION and action is not None
    assert (action.kind, action.subtype, action.type) == (
        ActionKind.THREE_DS,
        "fingerprint",
        "threeDS2",
    )
    assert action.token and action.redirect_url is None
    challenge = gw.complete_action(payment.id, details=adyen_sim.authenticate(action))
    assert challenge.status is S.REQUIRES_ACTION and challenge.id == payment.id  # still unnamed
    assert challenge.next_action is not None and challenge.next_action.subtype == "challenge"
    details = adyen_sim.authenticate(challenge.next_action, passed=False)
    assert set(details) == {"threeDSResult"}
    with pytest.raises(CardDeclinedError) as declined:
        gw.complete_action(payment.id, details=details)
    assert declined.value.reason is DeclineReason.AUTHENTICATION_REQUIRED
    record = gw.payment_record(payment.id)
    assert record is not None and record.status is S.FAILED and record.payment_id is not None


def test_a_browser_that_does_not_add_up_is_refused_before_anything_is_sent() -> None:
    from pydantic import ValidationError

    from paygate import BrowserInfo

    for wrong in ({"color_depth": 0}, {"time_zone_offset": 10_000}, {"user_agent": ""}):
        fields: dict[str, Any] = {
            "user_agent": "Mozilla/5.0", "accept_header": "text/html", "language": "en",
            "color_depth": 24, "screen_height": 900, "screen_width": 1440, "time_zone_offset": 0,
        } | wrong  # fmt: skip
        with pytest.raises(ValidationError):
            BrowserInfo(**fields)
