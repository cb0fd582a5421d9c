"""Stored credentials: one provider-neutral envelope (who initiated a payment, why, first of a
series or not, the network's id of the series) carried in each provider's own terms, refused
before anything is sent where it cannot be, and the network's id handed back for later."""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import ADYEN_KEY, API_KEY

from paygate import (
    Gateway,
    Money,
    PaymentSource,
    PaymentStatus,
    ReattemptPolicy,
    StoredCredential,
)
from paygate.errors import (
    CardDeclinedError,
    DeclineReason,
    ErrorCode,
    InvalidRequestError,
    RetriableError,
)
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


# -- the card networks' caps on reattempts -----------------------------------------------------
MIT = StoredCredential(initiator="merchant", reason="recurring")
POOR = PaymentSource.stored("pm_card_visa_chargeDeclinedInsufficientFunds", customer="cus_1")
LOST = PaymentSource.stored("pm_card_visa_chargeDeclinedLostCard", customer="cus_2")


def _charge(gw: Any, source: PaymentSource, n: int, credential: Any = MIT) -> Any:
    return gw.authorize(EUR, source=source, reference=f"renewal-{n}", stored_credential=credential)


def test_a_merchant_stops_reattempting_a_declined_card_at_the_networks_cap(
    sim: StripeSimulator, make_gateway: Any
) -> None:
    gw = make_gateway(reattempts=ReattemptPolicy(max_per_day=3, max_per_30_days=5))
    for n in range(3):
        with pytest.raises(CardDeclinedError):
            _charge(gw, POOR, n)
    sent = len(sim.requests)
    with pytest.raises(InvalidRequestError) as capped:
        _charge(gw, POOR, 3)
    assert capped.value.code is ErrorCode.REATTEMPT_LIMITED and not capped.value.retriable
    assert "3 times in the last 24 hours" in str(capped.value) and len(sim.requests) == sent
    # The shopper, back in the checkout, is not the merchant reattempting; another card is
    # another count.
    cit = StoredCredential(initiator="customer", reason="one_off")
    with pytest.raises(CardDeclinedError):
        _charge(gw, POOR, 4, cit)
    assert (
        _charge(gw, PaymentSource.stored("pm_card_visa", customer="cus_1"), 5).status
        is S.AUTHORIZED
    )


def test_a_card_declined_for_good_is_never_reattempted(
    sim: StripeSimulator, make_gateway: Any
) -> None:
    gw = make_gateway()
    with pytest.raises(CardDeclinedError) as lost:
        _charge(gw, LOST, 0)
    assert lost.value.reason is DeclineReason.LOST_OR_STOLEN
    sent = len(sim.requests)
    with pytest.raises(InvalidRequestError, match="declined for good") as capped:
        _charge(gw, LOST, 1)
    assert capped.value.code is ErrorCode.REATTEMPT_LIMITED and len(sim.requests) == sent


def test_the_caps_hold_across_instances_sharing_a_record_store(
    sim: StripeSimulator, tmp_path: Any
) -> None:
    from paygate.records import SQLiteRecordStore

    policy = ReattemptPolicy(max_per_day=2)
    stores = [SQLiteRecordStore(tmp_path / "records.sqlite3") for _ in range(2)]
    one, other = (
        Gateway.for_stripe(API_KEY, base_url=sim.url, records=store, reattempts=policy)
        for store in stores
    )
    try:
        for n in range(2):
            with pytest.raises(CardDeclinedError):
                _charge(one, POOR, n)
        with pytest.raises(InvalidRequestError) as capped:
            _charge(other, POOR, 2)  # the other instance sees the first one's declines
    finally:
        for closing in (one, other, *stores):
            closing.close()
    assert capped.value.code is ErrorCode.REATTEMPT_LIMITED


def test_unreadable_declines_refuse_a_merchant_initiated_payment(
    sim: StripeSimulator,
) -> None:
    from paygate.records import MemoryRecordStore

    class NoDeclines(MemoryRecordStore):
        def declines(self, card: str, since: Any) -> Any:
            raise ConnectionError("record store unreachable")

    with (
        Gateway.for_stripe(API_KEY, base_url=sim.url, records=NoDeclines()) as gw,
        pytest.raises(RetriableError) as refused,
    ):
        _charge(gw, POOR, 0)
    assert refused.value.code is ErrorCode.STORE_UNAVAILABLE and sim.requests == []
