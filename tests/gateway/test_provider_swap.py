"""Swapping providers is configuration: the same service code, through Gateway.from_settings(),
with PAYGATE_PROVIDER=stripe and =adyen, gives the same canonical results. Adyen's modifications
are pending until their webhook; the test completes them by delivering the simulator's
webhooks, which it does for Stripe too (harmlessly: its steps are already confirmed)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from paygate import AsyncGateway, Gateway, Money, Payment, PaymentSource, PaymentStatus, Refund
from paygate.errors import CardDeclinedError, DeclineReason
from paygate.testing import AdyenSimulator, Fault, StripeSimulator

S = PaymentStatus


# -- the code under test: a service that knows nothing of providers ----------------------------
def place_order(gw: Any, source: PaymentSource, order: str, total: Money) -> Payment:
    payment: Payment = gw.authorize(total, source=source, reference=order)
    return payment


def ship_order(gw: Any, payment_id: str) -> Payment:
    shipped: Payment = gw.capture(payment_id)
    return shipped


def return_items(gw: Any, payment_id: str, amount: Money, return_id: str) -> Refund:
    refund: Refund = gw.refund(payment_id, amount=amount, reference=return_id)
    return refund


def cancel_order(gw: Any, payment_id: str) -> Payment:
    cancelled: Payment = gw.void(payment_id)
    return cancelled


# -- each provider's test environment: configuration and test data, no service code ------------
@dataclass
class World:
    provider: str
    sim: StripeSimulator | AdyenSimulator
    approved: PaymentSource
    insufficient_funds: PaymentSource

    def confirm(self, gw: Any) -> None:
        """Deliver whatever the provider has to say by webhook."""
        if isinstance(self.sim, AdyenSimulator):
            self.sim.process_modifications()
        for delivery in self.sim.drain_webhooks():
            gw.handle_webhook(delivery.headers, delivery.body)

    def payments_for(self, order: str) -> int:
        if isinstance(self.sim, AdyenSimulator):
            return len(self.sim.payments(reference=order))
        return len(self.sim.payment_intents(reference=order))


def _adyen_card(holder: str) -> PaymentSource:
    return PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name=holder)


@pytest.fixture(params=["stripe", "adyen"])
def world(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    sim: StripeSimulator,
    adyen_sim: AdyenSimulator,
) -> World:
    for name in [n for n in os.environ if n.startswith("PAYGATE_")]:
        monkeypatch.delenv(name)
    common = {"RETRY__INITIAL_BACKOFF": "0.01", "RETRY__MAX_BACKOFF": "0.05",
              "TIMEOUT__READ": "0.3", "PROVIDER": request.param}  # fmt: skip
    if request.param == "stripe":
        chosen: StripeSimulator | AdyenSimulator = sim
        env = {"STRIPE__API_KEY": "sk_test_swap", "STRIPE__BASE_URL": sim.url,
               "STRIPE__WEBHOOK_SECRET": sim.webhook_secret}  # fmt: skip
        approved = PaymentSource.token("pm_card_visa")
        poor = PaymentSource.token("pm_card_visa_chargeDeclinedInsufficientFunds")
    else:
        chosen = adyen_sim
        env = {"ADYEN__API_KEY": "AQE_swap", "ADYEN__BASE_URL": f"{adyen_sim.url}/v71",
               "ADYEN__MERCHANT_ACCOUNT": adyen_sim.merchant_account,
               "ADYEN__HMAC_KEY": adyen_sim.hmac_key}  # fmt: skip
        approved, poor = _adyen_card("APPROVED"), _adyen_card("NOT_ENOUGH_BALANCE")
    for name, value in {**common, **env}.items():
        monkeypatch.setenv(f"PAYGATE_{name}", value)
    return World(request.param, chosen, approved, poor)


@pytest.fixture(params=["sync", "async"])
def gw(
    request: pytest.FixtureRequest, world: World, blocking: Callable[[AsyncGateway], Any]
) -> Iterator[Any]:
    if request.param == "sync":
        with Gateway.from_settings() as sync_gateway:
            assert sync_gateway.provider == world.provider
            yield sync_gateway
        return
    driver = blocking(AsyncGateway.from_settings())
    yield driver
    driver.aclose()


def test_authorize_capture_partial_refund(gw: Any, world: World) -> None:
    placed = place_order(gw, world.approved, "swap-1", Money("80.00", "EUR"))
    assert placed.status is S.AUTHORIZED and placed.amount_authorized == Money("80.00", "EUR")
    shipped = ship_order(gw, placed.id)
    assert shipped.status in {S.CAPTURED, S.PENDING}  # Adyen: received, confirmed by webhook
    world.confirm(gw)
    refund = return_items(gw, placed.id, Money("30.00", "EUR"), "swap-1-return-1")
    assert refund.amount == Money("30.00", "EUR") and refund.payment_id == placed.id
    world.confirm(gw)
    after = gw.retrieve(placed.id)
    assert after.status is S.PARTIALLY_REFUNDED
    assert (after.amount_captured, after.amount_refunded) == (
        Money("80.00", "EUR"), Money("30.00", "EUR"),
    )  # fmt: skip
    assert gw.records.verify() is None


def test_decline(gw: Any, world: World) -> None:
    with pytest.raises(CardDeclinedError) as declined:
        place_order(gw, world.insufficient_funds, "swap-2", Money("10.00", "EUR"))
    assert declined.value.reason is DeclineReason.INSUFFICIENT_FUNDS
    assert not declined.value.retriable


def test_void(gw: Any, world: World) -> None:
    placed = place_order(gw, world.approved, "swap-3", Money("15.00", "EUR"))
    cancel_order(gw, placed.id)
    world.confirm(gw)
    assert gw.retrieve(placed.id).status is S.VOIDED


def test_a_timeout_after_commit_charges_once(gw: Any, world: World) -> None:
    world.sim.inject(Fault.timeout_after_commit(hold=1.0), times=1, method="POST")
    placed = place_order(gw, world.approved, "swap-4", Money("20.00", "EUR"))
    assert placed.status is S.AUTHORIZED
    assert world.payments_for("swap-4") == 1


def test_a_payment_carries_what_it_was_created_with(gw: Any, world: World) -> None:
    """Description, metadata and creation time, the same on both providers: on the answer, on
    a later read, after a capture, and on a replay under the same key."""
    before = datetime.now(UTC).replace(microsecond=0)
    facts = {"description": "Order 7 of shop 3", "metadata": {"order": "7", "shop": "3"}}
    placed = gw.authorize(
        Money("12.00", "EUR"), source=world.approved, reference="swap-5", idempotency_key="k-5",
        **facts,
    )  # fmt: skip
    again = gw.authorize(
        Money("12.00", "EUR"), source=world.approved, reference="swap-5", idempotency_key="k-5",
        **facts,
    )  # fmt: skip
    shipped = ship_order(gw, placed.id)
    read = gw.retrieve(placed.id)
    for payment in (placed, again, shipped, read):
        assert payment.description == "Order 7 of shop 3", payment
        assert payment.metadata == {"order": "7", "shop": "3"}, payment  # not paygate's keys
        assert payment.created_at is not None and payment.created_at.tzinfo is not None
        assert before <= payment.created_at <= datetime.now(UTC), payment
    assert again.created_at == placed.created_at
    bare = place_order(gw, world.approved, "swap-6", Money("1.00", "EUR"))
    assert (bare.description, bare.metadata) == (None, {})
