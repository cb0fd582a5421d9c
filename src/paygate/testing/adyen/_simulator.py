"""``AdyenSimulator``: Adyen's Checkout payments and modifications, with signed webhooks,
served on loopback."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any, Final

from paygate.models import ActionKind, NextAction
from paygate.testing._deliveries import WebhookSender
from paygate.testing._records import Reply, json_reply
from paygate.testing._server import CONTROL_PREFIX, HOST, Simulator
from paygate.testing._settlement import SettlementFaults
from paygate.testing.adyen import _settlement as settlement
from paygate.testing.adyen._api import AdyenApi
from paygate.testing.adyen._ledger import AUTHENTICATION_PAGE, Ledger
from paygate.testing.adyen._webhooks import AdyenWebhook, notification_request

DEFAULT_MERCHANT: Final = "PaygateTestMerchant"


class AdyenSimulator(Simulator):
    """An Adyen-compatible HTTP server on 127.0.0.1 for tests, with fault injection.

    It speaks Adyen's Checkout wire format (JSON, ``X-API-Key``, ``ServiceError`` bodies,
    ``Idempotency-Key`` replays and error 704) under both ``/v71`` and ``/v72``:
    ``POST /payments`` and ``POST /payments/{pspReference}/captures``, ``/cancels``,
    ``/refunds`` and ``/reversals``. Every request must name ``merchant_account``; with an
    ``api_key`` only that key is accepted, otherwise any non-empty one::

        with AdyenSimulator() as sim, httpx.Client(
            base_url=f"{sim.url}/v71", headers={"X-API-Key": "any-test-key"}
        ) as http:
            paid = http.post("/payments", json={...}).json()  # with manualCapture "true"
            http.post(f"/payments/{paid['pspReference']}/captures", json={...})  # "received"
            sim.process_modifications()  # the capture is decided now
            for webhook in sim.drain_webhooks():  # AUTHORISATION, then CAPTURE
                ...  # hand webhook.headers and webhook.body to the handler under test

    Payments honour Adyen's test cards (4111111145551142, 5555341244441115, 370000000000002
    and 4111111111111111 are approved; 4917610000000000 answers ``RedirectShopper``), the
    ``holderName`` triggers (``DECLINED``, ``NOT_ENOUGH_BALANCE``, ``CARD_EXPIRED``, ``PENDING``,
    ...) and ``additionalData.RequestedTestAcquirerResponseCode``. An expiry date in the past
    is refused as "Expired Card". ``additionalData.manualCapture: "true"`` holds the amount
    for a capture; otherwise the payment counts as captured at once (and, as on Adyen by
    default, no CAPTURE webhook follows).

    Stored payment methods (``paymentMethod.storedPaymentMethodId``, with a
    ``shopperReference``): ``sim_stored_visa``, ``sim_stored_mastercard`` and
    ``sim_stored_amex`` are approved, ``sim_stored_3ds`` answers ``RedirectShopper``, and
    ``sim_stored_declined``, ``sim_stored_insufficient_funds``, ``sim_stored_expired``,
    ``sim_stored_cvc_declined`` and ``sim_stored_fraud`` are refused like the matching holder
    names. Another id is a 422 ``803``.

    Modifications are decided when processed: by ``process_modifications()`` (or the control
    call ``POST /_sim/process``), or at once with ``auto_process=True``. Each payment and each
    processed modification queues one signed webhook (``webhooks()``, ``drain_webhooks()``);
    with a ``webhook_url`` each is also POSTed there from a background thread as soon as it is
    queued (once, no retries; ``webhook_results()`` tells what the receiver answered, and
    ``wait_for_webhooks()`` waits for the sender).

    ``hmac_key`` is the webhook HMAC key as a hex string; by default a random 64-digit one.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = HOST,
        merchant_account: str = DEFAULT_MERCHANT,
        api_key: str | None = None,
        hmac_key: str | None = None,
        webhook_url: str | None = None,
        auto_process: bool = False,
    ) -> None:
        if not merchant_account:
            raise ValueError("merchant_account must be a non-empty string")
        if api_key == "":
            raise ValueError("api_key must be None (any key) or a non-empty string")
        key = secrets.token_hex(32).upper() if hmac_key is None else hmac_key
        try:
            if not key or len(bytes.fromhex(key)) * 2 != len(key):
                raise ValueError(key)
        except ValueError:
            raise ValueError("hmac_key must be a non-empty hex string") from None
        self._sender = (
            None if webhook_url is None else WebhookSender(webhook_url, _as_sent, name="adyen")
        )
        self._api = AdyenApi(
            Ledger(
                merchant_account,
                key,
                auto_process=auto_process,
                on_webhook=None if self._sender is None else self._sender.put,
            ),
            api_key,
        )
        super().__init__(self._api, port, host=host, echo_headers=("Idempotency-Key",))

    @property
    def merchant_account(self) -> str:
        return self._api.ledger.merchant_account

    @property
    def hmac_key(self) -> str:
        """The hex HMAC key the webhooks are signed with; configure the gateway with it."""
        return self._api.ledger.hmac_key

    # -- lifecycle -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop serving, then let the webhook sender finish what is queued and end."""
        super().stop()
        if self._sender is not None:
            self._sender.stop()

    def reset(self) -> None:
        """Forget everything: payments, modifications, webhooks (and what was sent), keys,
        faults and requests."""
        super().reset()
        if self._sender is not None:
            self._sender.clear()

    # -- state ---------------------------------------------------------------------------------
    def payment(self, psp_reference: str) -> dict[str, Any] | None:
        """One payment (a copy), or None when no payment has that pspReference."""
        with self._dispatcher.lock:
            return self._api.ledger.payment(psp_reference)

    def payments(self, reference: str | None = None) -> list[dict[str, Any]]:
        """Payments in creation order; with ``reference``, only those whose
        ``merchantReference`` equals it."""
        with self._dispatcher.lock:
            return self._api.ledger.payments(reference)

    def modifications(self, psp_reference: str | None = None) -> list[dict[str, Any]]:
        """Modifications in the order received, each with its ``type``, ``amount`` and
        ``status`` (received, processed or failed); with ``psp_reference``, one payment's."""
        with self._dispatcher.lock:
            return self._api.ledger.modifications(psp_reference)

    def write_settlement_details(
        self, path: Path, faults: SettlementFaults | None = None, batch: int = 1
    ) -> Path:
        """Write the ledger's settlement as one batch of Adyen's Settlement details report
        CSV: each captured payment (Settled, with a commission), each processed refund
        (Refunded), ``faults`` written in, and the batch's MerchantPayout. Returns ``path``."""
        with self._dispatcher.lock:
            ledger = self._api.ledger
            payments, modifications = ledger.payments(), ledger.modifications()
        return settlement.write_settlement_details(
            path, self.merchant_account, payments, modifications, faults, batch=batch
        )

    def write_payment_accounting(self, path: Path, faults: SettlementFaults | None = None) -> Path:
        """Write the ledger's settlement as Adyen's Payment accounting report CSV (Authorised
        and Settled per captured payment, Refunded per processed refund, ``faults`` written
        in). Returns ``path``."""
        with self._dispatcher.lock:
            ledger = self._api.ledger
            payments, modifications = ledger.payments(), ledger.modifications()
        return settlement.write_payment_accounting(
            path, self.merchant_account, payments, modifications, faults
        )

    def process_modifications(self) -> list[dict[str, Any]]:
        """Decide every received modification, oldest first, queueing its webhook; returns
        the modifications processed now."""
        with self._dispatcher.lock:
            return self._api.ledger.process()

    # -- webhooks ------------------------------------------------------------------------------
    def webhooks(self) -> list[AdyenWebhook]:
        """The queued webhooks, oldest first (whether or not also sent to ``webhook_url``)."""
        with self._dispatcher.lock:
            return self._api.ledger.webhooks()

    def drain_webhooks(self) -> list[AdyenWebhook]:
        """The queued webhooks, oldest first, emptying the queue."""
        with self._dispatcher.lock:
            return self._api.ledger.webhooks(drain=True)

    def batch_webhooks(self) -> bytes:
        """One ``NotificationRequest`` body carrying every queued item, as Adyen may batch
        them (the queue is left as it is)."""
        items = [webhook.item for webhook in self.webhooks()]
        return json.dumps(notification_request(items)).encode()

    def webhook_results(self) -> list[tuple[AdyenWebhook, int | None]]:
        """Each POST to ``webhook_url`` so far, in order: the webhook and the receiver's HTTP
        status, or None when the request failed. Nothing is retried."""
        return [] if self._sender is None else self._sender.results()

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until every webhook queued for ``webhook_url`` has been POSTed (or failed);
        False if ``timeout`` seconds pass first. True at once without a ``webhook_url``."""
        return True if self._sender is None else self._sender.wait(timeout)

    # -- the shopper ---------------------------------------------------------------------------
    def _authentication_page(self, action: NextAction) -> str:
        # 3-D Secure 2 in the page has no page to go to: its component runs on the token.
        if action.kind is ActionKind.THREE_DS and action.token is not None:
            return AUTHENTICATION_PAGE + action.token
        return super()._authentication_page(action)

    def _authenticated(self, page: str, passed: bool) -> dict[str, str]:
        session = page.removeprefix(AUTHENTICATION_PAGE)
        try:
            name, result = self._api.ledger.authenticate(session, passed=passed)
        except KeyError:
            raise ValueError("no payment awaits the shopper on that page") from None
        return {name: result}

    # -- the HTTP control API ------------------------------------------------------------------
    def _control(self, method: str, path: str, body: bytes) -> Reply:
        route = (method, path.removeprefix(CONTROL_PREFIX).rstrip("/"))
        if route == ("POST", "process"):
            return json_reply(200, {"processed": self.process_modifications()})
        if route == ("GET", "webhooks"):
            return json_reply(200, {"webhooks": _bodies(self.webhooks())})
        if route == ("POST", "webhooks/drain"):
            return json_reply(200, {"webhooks": _bodies(self.drain_webhooks())})
        return super()._control(method, path, body)


def _bodies(webhooks: list[AdyenWebhook]) -> list[Any]:
    return [json.loads(webhook.body) for webhook in webhooks]


def _as_sent(webhook: AdyenWebhook) -> AdyenWebhook:
    """Adyen webhooks are signed when they are made: each is sent as it is."""
    return webhook
