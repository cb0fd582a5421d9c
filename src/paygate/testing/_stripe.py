"""``StripeSimulator``: Stripe's v1 PaymentIntents and Refunds, served on loopback."""

from __future__ import annotations

from typing import Any

from paygate.testing._server import Simulator
from paygate.testing._stripe_api import StripeApi
from paygate.testing._stripe_errors import StripeError


class StripeSimulator(Simulator):
    """A Stripe-compatible HTTP server on 127.0.0.1 for tests, with fault injection.

    It speaks Stripe's wire format (form-encoded bracket parameters, ``Bearer sk_test_…``
    keys, Stripe's error object and idempotency rules) for ``POST /v1/payment_intents``,
    ``GET /v1/payment_intents/{id}``, ``.../capture``, ``.../cancel``, ``POST /v1/refunds`` and
    ``GET /v1/refunds/{id}``, and honours Stripe's test cards and ``pm_card_…`` ids::

        with StripeSimulator() as sim:
            gateway = Gateway.for_stripe("sk_test_123", base_url=sim.url)
            sim.inject(Fault.timeout_after_commit(hold=1.0), method="POST")
            ...
            assert len(sim.payment_intents(reference="order-42")) == 1

    Objects are returned as Stripe JSON copies, with ``latest_charge`` expanded.
    """

    def __init__(self, port: int = 0) -> None:
        self._api = StripeApi()
        super().__init__(self._api, port)

    def payment_intents(self, reference: str | None = None) -> list[dict[str, Any]]:
        """PaymentIntents in creation order; with ``reference``, only those whose
        ``metadata["reference"]`` equals it."""
        with self._dispatcher.lock:
            return self._api.ledger.intents(reference)

    def payment_intent(self, intent_id: str) -> dict[str, Any] | None:
        """One PaymentIntent, or None when no PaymentIntent has that id."""
        with self._dispatcher.lock:
            try:
                return self._api.ledger.render_intent(intent_id, ("latest_charge",))
            except StripeError:
                return None

    def refunds(self, payment_intent: str | None = None) -> list[dict[str, Any]]:
        """Refunds in creation order; with ``payment_intent``, only that payment's."""
        with self._dispatcher.lock:
            return self._api.ledger.refunds(payment_intent)
