"""Stored credentials: one provider-neutral envelope (who initiated a payment, why, first of a
series or not, the network's id of the series) carried in each provider's own terms, refused
before anything is sent where it cannot be, and the network's id handed back for later."""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import ADYEN_KEY, API_KEY

from paygate import Gateway, Money, PaymentSource, PaymentStatus, StoredCredential
from paygate.errors import CardDeclinedError, DeclineReason, ErrorCode, InvalidRequestError
from paygate.testing import AdyenSimulator, StripeSimulator

S = PaymentStatus
EUR = Money("15.00", "EUR")


def _adyen_card(holder: str = "J. Smith") -> PaymentSource:
    return PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name=holder)


def _first(reason: Any) -> StoredCredential:
    return StoredCredential(initiator="customer", reason=reason, first=True, customer="shopper-9")


@pytest.fixture
def stripe_gw(sim: StripeSimulator) -> Any:
    with Gateway.for_stripe(API_KEY, base_url=sim.url) as gw:
        yield gw


@pytest.fixture
def adyen_gw(adyen_sim: AdyenSimulator) -> Any:
    with Gateway.for_adyen(
        ADYEN_KEY, merchant_account=adyen_sim.merchant_account,
        base_url=f"{adyen_sim.url}/v71", hmac_key=adyen_sim.hmac_key,
    ) as gw:  # fmt: skip
        yield gw


@pytest.mark.parametrize(
    ("credential", "stripe", "adyen"),
    [
        (
            _first("unscheduled"),
            {"setup_future_usage": "off_session"},
            {"shopperInteraction": "Ecommerce", "recurringProcessingModel": "UnscheduledCardOnFile",
             "storePaymentMethod": True, "shopperReference": "shopper-9"},
        ),
        (
            _first("one_off"),
            {"setup_future_usage": "on_session"},
            {"shopperInteraction": "Ecommerce", "recurringProcessingModel": "CardOnFile",
             "storePaymentMethod": True},
        ),
        (
            StoredCredential(initiator="merchant", reason="recurring"),
            {"off_session": "recurring"},
            {"shopperInteraction": "ContAuth", "recurringProcessingModel": "Subscription"},
        ),
        (
            StoredCredential(initiator="merchant", reason="installment"),
            {"off_session": "recurring"},
            {"shopperInteraction": "ContAuth", "recurringProcessingModel": "Subscription"},
        ),
        (
            StoredCredential(initiator="merchant", reason="unscheduled"),
            {"off_session": "one_off"},
            {"shopperInteraction": "ContAuth", "recurringProcessingModel": "UnscheduledCardOnFile"},
        ),
        (
            StoredCredential(initiator="customer", reason="one_off"),
            {},
            {"shopperInteraction": "Ecommerce", "recurringProcessingModel": "CardOnFile"},
        ),
    ],
    ids=["first-unscheduled", "first-one-off", "mit-recurring", "mit-installment",
         "mit-unscheduled", "cit-card-on-file"],
)  # fmt: skip
def test_each_provider_gets_the_envelope_in_its_own_terms(
    sim: StripeSimulator,
    adyen_sim: AdyenSimulator,
    stripe_gw: Any,
    adyen_gw: Any,
    credential: StoredCredential,
    stripe: dict[str, Any],
    adyen: dict[str, Any],
) -> None:
    stored = credential.first is False
    stripe_source = (
        PaymentSource.stored("pm_card_visa", customer="cus_9") if stored
        else PaymentSource.token("pm_card_visa")
    )  # fmt: skip
    adyen_source = (
        PaymentSource.stored("sim_stored_visa", customer="shopper-9") if stored else _adyen_card()
    )
    p = stripe_gw.authorize(
        EUR, source=stripe_source, reference="sc-s", stored_credential=credential
    )
    q = adyen_gw.authorize(EUR, source=adyen_source, reference="sc-a", stored_credential=credential)
    assert p.status is S.AUTHORIZED and q.status is S.AUTHORIZED
    sent = sim.requests[-1].params
    for name in ("setup_future_usage", "off_session"):
        assert sent.get(name) == stripe.get(name), name
    body = adyen_sim.requests[-1].params
    for name, value in adyen.items():
        assert body[name] == value, name
    assert ("storePaymentMethod" in body) is credential.first


def test_a_merchant_initiated_payment_names_the_series_it_belongs_to(
    adyen_sim: AdyenSimulator, adyen_gw: Any
) -> None:
    """The first payment (the shopper's) stores the card and gets the network's id; a later
    one the merchant makes with the card details names it (a card Adyen did not store)."""
    first = adyen_gw.authorize(
        EUR, source=_adyen_card(), reference="series-1",
        stored_credential=StoredCredential(
            initiator="customer", reason="recurring", first=True, customer="shopper-7"
        ),
    )  # fmt: skip
    assert first.network_transaction_id
    later = adyen_gw.authorize(
        EUR, source=_adyen_card(), reference="series-2",
        stored_credential=StoredCredential(
            initiator="merchant", reason="recurring",
            network_transaction_id=first.network_transaction_id,
        ),
    )  # fmt: skip
    assert later.status is S.AUTHORIZED
    body = adyen_sim.requests[-1].params
    assert body["additionalData"]["networkTxReference"] == first.network_transaction_id
    assert body["shopperInteraction"] == "ContAuth"


def test_stripe_refuses_authentication_in_a_merchant_initiated_payment(stripe_gw: Any) -> None:
    """The shopper is not there to authenticate: a card that asks for it is declined."""
    with pytest.raises(CardDeclinedError) as declined:
        stripe_gw.authorize(
            EUR, source=PaymentSource.stored("pm_card_authenticationRequired", customer="cus_1"),
            reference="mit-3ds",
            stored_credential=StoredCredential(initiator="merchant", reason="unscheduled"),
        )  # fmt: skip
    assert declined.value.reason is DeclineReason.AUTHENTICATION_REQUIRED


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"initiator": "merchant", "reason": "recurring", "first": True}, "customer's"),
        ({"initiator": "customer", "reason": "recurring", "network_transaction_id": "1"},
         "merchant-initiated"),
        ({"initiator": "someone", "reason": "recurring"}, "initiator"),
        ({"initiator": "merchant", "reason": "sometimes"}, "reason"),
    ],
)  # fmt: skip
def test_an_envelope_that_contradicts_itself_is_refused(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        StoredCredential(**fields)


def test_what_a_provider_cannot_carry_is_refused_before_anything_is_sent(
    sim: StripeSimulator, adyen_sim: AdyenSimulator, stripe_gw: Any, adyen_gw: Any
) -> None:
    mit = StoredCredential(initiator="merchant", reason="recurring")
    with pytest.raises(InvalidRequestError, match="stored method"):  # card details, no series id
        adyen_gw.authorize(EUR, source=_adyen_card(), reference="bad-1", stored_credential=mit)
    first = StoredCredential(initiator="customer", reason="recurring", first=True)
    with pytest.raises(InvalidRequestError, match="shopperReference"):  # stored for no one
        adyen_gw.authorize(EUR, source=_adyen_card(), reference="bad-2", stored_credential=first)
    with pytest.raises(InvalidRequestError) as stripe_card:
        stripe_gw.authorize(
            EUR, source=PaymentSource.token("pm_card_visa"), reference="bad-3",
            stored_credential=mit,
        )  # fmt: skip
    assert stripe_card.value.code is ErrorCode.UNSUPPORTED and "PaymentSource.stored" in str(
        stripe_card.value
    )
    assert sim.requests == [] and adyen_sim.requests == []
