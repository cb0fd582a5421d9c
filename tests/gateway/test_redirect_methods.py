"""Redirect payment methods (iDEAL) on both providers: what is refused before anything is
sent, what the simulators refuse as the providers do, and a bank's word arriving by webhook
before the shopper is back. (The happy, refused and abandoned paths are the contract suite's
redirect scenarios.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.conftest import ADYEN_KEY, API_KEY

from paygate import (
    ActionKind,
    Gateway,
    Money,
    PaymentSource,
    PaymentStatus,
    RedirectMethod,
    RetryPolicy,
    StoredCredential,
)
from paygate.adapters.stripe import CAPABILITIES
from paygate.errors import ErrorCode, InvalidRequestError, OutcomeUnknown
from paygate.models import AuthorizeRequest
from paygate.testing import AdyenSimulator, Fault, StripeSimulator

S = PaymentStatus
RETURN = "https://shop.example/return"
IDEAL = PaymentSource.redirect(RedirectMethod.IDEAL)


@pytest.fixture
def world(
    any_provider: tuple[Callable[..., Any], StripeSimulator | AdyenSimulator],
) -> tuple[Callable[..., Any], StripeSimulator | AdyenSimulator]:
    """A factory of gateways of one kind to one provider's simulator, and the simulator."""
    return any_provider


def test_a_redirect_source_says_what_it_is_and_holds_no_customer() -> None:
    assert repr(IDEAL) == "paygate.PaymentSource.redirect('ideal')"
    assert IDEAL.fingerprint_parts() == {"redirect": "ideal"}
    assert PaymentSource.redirect("ideal") == IDEAL
    with pytest.raises(InvalidRequestError, match="method"):
        PaymentSource.redirect("sofort")
    with pytest.raises(ValueError, match="one of a token, card details or a redirect"):
        PaymentSource(kind="redirect", method=RedirectMethod.IDEAL, token_id="pm_x")
    with pytest.raises(ValueError, match="one of a token, card details or a redirect"):
        PaymentSource(kind="token", method=RedirectMethod.IDEAL)
    with pytest.raises(ValueError, match="not stored for a customer"):
        PaymentSource(kind="redirect", method=RedirectMethod.IDEAL, customer="cus_1")


@pytest.mark.parametrize(
    ("call", "amount", "options", "says"),
    [
        ("authorize", "EUR", {"return_url": RETURN}, "taken by purchase, not authorize"),
        ("purchase", "USD", {"return_url": RETURN}, "ideal takes EUR, not USD"),
        ("purchase", "EUR", {}, "pass return_url"),
        (
            "purchase",
            "EUR",
            {
                "return_url": RETURN,
                "stored_credential": StoredCredential(
                    initiator="customer", reason="recurring", first=True, customer="shop-7"
                ),
            },
            "not a stored credential",
        ),
    ],
    ids=["authorize", "currency", "no-return-url", "stored-credential"],
)
def test_what_a_redirect_method_cannot_do_is_refused_before_anything_is_sent(
    world: tuple[Callable[..., Any], Any], call: str, amount: str, options: Any, says: str
) -> None:
    make, sim = world
    with pytest.raises(InvalidRequestError, match=says) as refused:
        getattr(make(), call)(Money("10.00", amount), source=IDEAL, reference="rd", **options)
    assert refused.value.code is ErrorCode.INVALID_REQUEST
    assert sim.requests == []


def test_adyens_own_return_url_serves_a_redirect_method(adyen_sim: AdyenSimulator) -> None:
    with Gateway.for_adyen(
        ADYEN_KEY, merchant_account=adyen_sim.merchant_account,
        base_url=f"{adyen_sim.url}/v71", return_url=RETURN,
    ) as gw:  # fmt: skip
        payment = gw.purchase(Money("10.00", "EUR"), source=IDEAL, reference="rd-default")
    assert payment.status is S.REQUIRES_ACTION
    [sent] = adyen_sim.requests
    assert sent.params["returnUrl"] == RETURN
    assert sent.params["paymentMethod"] == {"type": "ideal"}


def test_a_provider_that_offers_no_redirect_method_refuses_it() -> None:
    without = replace(CAPABILITIES, redirect_methods=frozenset())
    request = AuthorizeRequest(
        amount=Money("10.00", "EUR"), source=IDEAL, reference="r", capture=True
    )
    CAPABILITIES.check(request)
    with pytest.raises(InvalidRequestError, match="ideal is not offered") as refused:
        without.check(request)
    assert refused.value.code is ErrorCode.UNSUPPORTED


def test_the_bank_approves_and_the_webhook_captures_it_before_the_shopper_is_back(
    world: tuple[Callable[..., Any], Any],
) -> None:
    """The shopper approved at their bank and closed the window: the provider's webhook is
    the first word, and captures the purchase on its record; the shopper's late return then
    answers from the record."""
    make, sim = world
    gw = make()
    payment = gw.purchase(Money("25.00", "EUR"), source=IDEAL, reference="rd-gone",
                          return_url=RETURN)  # fmt: skip
    assert payment.next_action is not None and payment.next_action.kind is ActionKind.REDIRECT
    details = sim.authenticate(payment.next_action)
    outcomes = [
        outcome
        for delivery in sim.drain_webhooks()
        for outcome in gw.handle_webhook(delivery.headers, delivery.body)
    ]
    assert [o.result for o in outcomes] == ["applied"], outcomes
    record = gw.payment_record(payment.id)
    assert record is not None and record.status is S.CAPTURED, record
    assert record.amount_captured == Money("25.00", "EUR")
    done = gw.complete_action(payment.id, details=details)
    assert done.status is S.CAPTURED and done.id == record.payment_id


def test_the_stripe_simulator_refuses_what_stripe_refuses_for_ideal(sim: StripeSimulator) -> None:
    base = {
        "amount": "1000",
        "currency": "eur",
        "confirm": "true",
        "payment_method_data[type]": "ideal",
        "payment_method_types[]": "ideal",
        "return_url": RETURN,
    }
    refusals = {
        "manual capture": ({**base, "capture_method": "manual"}, "capture_method"),
        "no return_url": ({k: v for k, v in base.items() if k != "return_url"}, "return_url"),
        "card only": ({**base, "payment_method_types[]": "card"}, "payment_method_types"),
    }
    headers = {"Authorization": f"Bearer {API_KEY}"}
    for name, (form, param) in refusals.items():
        answer = httpx.post(f"{sim.url}/v1/payment_intents", data=form, headers=headers)
        assert answer.status_code == 400, name
        assert answer.json()["error"]["param"] == param, name
    assert sim.payment_intents() == []
    taken = httpx.post(f"{sim.url}/v1/payment_intents", data=base, headers=headers).json()
    assert taken["status"] == "requires_action"
    assert taken["next_action"]["redirect_to_url"]["return_url"] == RETURN


def test_the_adyen_simulator_needs_a_return_url_for_ideal(adyen_sim: AdyenSimulator) -> None:
    body = {
        "merchantAccount": adyen_sim.merchant_account,
        "amount": {"value": 1000, "currency": "EUR"},
        "reference": "rd-sim",
        "paymentMethod": {"type": "ideal"},
    }
    headers = {"X-API-Key": ADYEN_KEY}
    refused = httpx.post(f"{adyen_sim.url}/v71/payments", json=body, headers=headers)
    assert refused.status_code == 422 and "returnUrl" in refused.json()["message"]
    body["returnUrl"] = RETURN
    answer = httpx.post(f"{adyen_sim.url}/v71/payments", json=body, headers=headers).json()
    assert answer["resultCode"] == "RedirectShopper" and "pspReference" not in answer
    assert answer["action"]["paymentMethodType"] == "ideal"


def test_a_redirect_purchase_whose_answer_was_lost_is_settled_by_sending_it_again(
    world: tuple[Callable[..., Any], Any],
) -> None:
    """A redirect source holds nothing secret, so the resolver sends the purchase again under
    its key and the provider replays its answer: the record awaits the shopper, nothing is left
    unknown, and the bank saw one payment. (Adyen cannot be searched by reference, and names no
    payment before the shopper acts: without the replay, a person would have to look.)"""
    make, sim = world
    gw = make(retry=RetryPolicy(max_attempts=1))
    sim.inject(Fault.schema_break(), method="POST")
    with pytest.raises(OutcomeUnknown):
        gw.purchase(Money("25.00", "EUR"), source=IDEAL, reference="rd-lost", return_url=RETURN)
    [unknown] = gw.unknown_payments()
    [resolution] = gw.resolve_unknown(due_by=datetime.now(UTC) + timedelta(hours=2))
    assert resolution.settled and not resolution.escalated, resolution
    assert gw.unknown_payments() == []
    record = gw.payment_record(unknown.record_id)
    assert record is not None and record.status is S.REQUIRES_ACTION, record
    sent = [r for r in sim.requests if r.method == "POST"]
    assert len(sent) == 2 and sent[0].body == sent[1].body
    assert sent[0].idempotency_key == sent[1].idempotency_key
