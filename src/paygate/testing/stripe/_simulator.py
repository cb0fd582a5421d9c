"""``StripeSimulator``: Stripe's v1 PaymentIntents and Refunds, served on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paygate.models import NextAction
from paygate.testing._deliveries import WebhookDelivery
from paygate.testing._server import HOST, Simulator
from paygate.testing._settlement import SettlementFaults
from paygate.testing.stripe import _settlement as settlement
from paygate.testing.stripe._api import StripeApi
from paygate.testing.stripe._errors import StripeError
from paygate.testing.stripe._ledger import AUTHENTICATION_PAGE
from paygate.testing.stripe._webhooks import StripeOutbox, new_webhook_secret


class StripeSimulator(Simulator):
    """A Stripe-compatible HTTP server on 127.0.0.1 for tests, with fault injection.

    It speaks Stripe's wire format (form-encoded bracket parameters, ``Bearer sk_test_…``
    keys, Stripe's error object and idempotency rules) for ``POST /v1/payment_intents``,
    ``GET /v1/payment_intents/{id}``, ``.../capture``, ``.../cancel``, ``POST /v1/refunds``,
    ``GET /v1/refunds/{id}`` and ``GET /v1/payment_intents/search`` (exact-match ``metadata``,
    ``amount`` and ``currency`` clauses joined by AND; newest first; immediately consistent,
    where Stripe's search lags writes), and honours Stripe's test cards and ``pm_card_…`` ids::

        with StripeSimulator() as sim:
            gateway = Gateway.for_stripe("sk_test_123", base_url=sim.url)
            sim.inject(Fault.timeout_after_commit(hold=1.0), method="POST")
            ...
            assert len(sim.payment_intents(reference="order-42")) == 1

    Objects are returned as Stripe JSON copies, with ``latest_charge`` expanded.

    Every change that commits queues the webhook event Stripe sends for it
    (``payment_intent.amount_capturable_updated``, ``payment_intent.succeeded``,
    ``payment_intent.payment_failed``, ``payment_intent.canceled``, ``refund.created``),
    signed with ``webhook_secret`` (a fresh ``whsec_…`` unless given) when it is delivered.
    ``webhooks()`` lists the queue, ``drain_webhooks()`` empties it; with ``webhook_url`` each
    event is also POSTed there from a background thread, best effort (``webhook_results()``).
    A request answered by a before-commit fault queues nothing; an after-commit fault does not
    stop the events (the provider acted); a replay under an idempotency key queues nothing new.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = HOST,
        webhook_secret: str | None = None,
        webhook_url: str | None = None,
    ) -> None:
        if webhook_secret == "":
            raise ValueError("webhook_secret must be None (a fresh one) or a non-empty string")
        self.webhook_secret = new_webhook_secret() if webhook_secret is None else webhook_secret
        self.webhook_url = webhook_url
        self._outbox = StripeOutbox(self.webhook_secret, webhook_url)
        self._api = StripeApi(self._outbox)
        super().__init__(self._api, port, host=host)

    def _authentication_page(self, action: NextAction) -> str:
        # use_stripe_sdk names its page as stripe_js; redirect_to_url as its url.
        sdk = action.provider_action.get("use_stripe_sdk")
        if action.redirect_url is None and isinstance(sdk, dict) and "stripe_js" in sdk:
            return str(sdk["stripe_js"])
        return super()._authentication_page(action)

    def _authenticated(self, page: str, passed: bool) -> dict[str, str]:
        intent_id = page.removeprefix(AUTHENTICATION_PAGE)
        try:
            self._api.ledger.authenticate(intent_id, passed=passed)
        except KeyError:
            raise ValueError("no PaymentIntent awaits the shopper on that page") from None
        return {}  # Stripe moves the PaymentIntent on by itself: nothing to hand back

    def stop(self) -> None:
        """Stop serving, then let the webhook sender finish what is queued and end."""
        super().stop()
        self._outbox.close()

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

    def write_settlement(self, path: Path, faults: SettlementFaults | None = None) -> Path:
        """Write the ledger's settlement as Stripe's itemized balance report CSV (the
        ``payout_reconciliation.itemized.5`` columns, one automatic payout): each captured
        charge at what was authorized with a fee, a partial capture's release, each refund,
        and ``faults`` (missing, doubled or wrong settlements, unknown payments, chargebacks)
        written in. Returns ``path``."""
        with self._dispatcher.lock:
            intents, refunds = self._api.ledger.intents(), self._api.ledger.refunds()
        return settlement.write_report(path, intents, refunds, faults)

    def inject_settlement(self, faults: SettlementFaults | None) -> None:
        """Settle ``GET /v1/balance_transactions`` with ``faults`` written in (None: as the
        ledger stands). The listing is the report ``write_settlement`` writes, as API
        objects: newest first, ``created[gte]``/``[lt]`` windows, ``starting_after`` pages,
        ``expand[]=data.source``."""
        with self._dispatcher.lock:
            self._api.settlement_faults = faults

    # -- webhooks ------------------------------------------------------------------------------
    def webhooks(self) -> list[WebhookDelivery]:
        """The webhook deliveries not drained yet, oldest first, each signed now."""
        with self._dispatcher.lock:
            return self._outbox.pending()

    def drain_webhooks(self) -> list[WebhookDelivery]:
        """``webhooks()``, and forget them."""
        with self._dispatcher.lock:
            return self._outbox.drain()

    def webhook_results(self) -> list[tuple[WebhookDelivery, int | None]]:
        """Each POST to ``webhook_url`` so far, in order: the delivery and the receiver's HTTP
        status, or None when the request failed. Nothing is retried."""
        return self._outbox.results()

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until every event queued for ``webhook_url`` has been POSTed (or failed);
        False if ``timeout`` seconds pass first. True at once without a ``webhook_url``."""
        return self._outbox.wait(timeout)
