"""The Stripe simulator's webhooks: the events its state changes send, each a full Stripe event
(API version 2023-08-16 shape) signed with ``Stripe-Signature`` when it is delivered, queued
for the test and, with a ``webhook_url``, POSTed there from a background thread.

Signature (shared/providers/README.md, "Webhooks"): ``t=<unix seconds>,v1=<hex>``, the v1
value being the lowercase hex HMAC-SHA256 of ``b"<t>." + body`` keyed with the whole
``whsec_...`` secret as UTF-8. Written here on its own, apart from the adapter's verifier, so
that a test verifying the simulator's deliveries with the adapter proves the two agree.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

from paygate.testing._deliveries import WebhookDelivery, WebhookSender

API_VERSION: Final = "2023-08-16"  # the version event payloads are rendered in


def new_webhook_secret() -> str:
    """A fresh endpoint signing secret, shaped like Stripe's (``whsec_`` + random)."""
    return f"whsec_{secrets.token_hex(16)}"


def stripe_signature(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value for ``body`` signed with ``secret`` at
    ``timestamp`` (Unix seconds). Use it to sign events of your own making."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True, slots=True)
class _Event:
    """An event as queued: its body is fixed now; its signature is made at delivery."""

    event_type: str
    payment_id: str | None
    body: bytes


def _event_body(event_type: str, obj: dict[str, Any]) -> bytes:
    event = {
        "id": f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": copy.deepcopy(obj)},
        "livemode": False,
        "pending_webhooks": 1,
        # Stripe names the API request that caused an event; the simulator does not track it.
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    # Pretty-printed UTF-8, as Stripe sends it: a verifier must use these exact bytes.
    return json.dumps(event, indent=2, ensure_ascii=False).encode("utf-8")


class StripeOutbox:
    """The events the ledger emits, pending until a test drains them, and (with ``url``)
    POSTed to that URL as they are emitted.

    ``emit``, ``pending``, ``drain`` and ``reset`` run under the simulator's lock; the sender
    is its own thread and never holds it.
    """

    def __init__(self, secret: str, url: str | None = None) -> None:
        if not isinstance(secret, str) or not secret:
            raise ValueError("the webhook secret must be a non-empty string")
        self._secret = secret
        self._pending: list[_Event] = []
        self._sender = None if url is None else WebhookSender(url, self.sign, name="stripe")

    def emit(self, event_type: str, obj: dict[str, Any], payment_id: str | None) -> None:
        """Queue the event Stripe sends for a change to ``obj`` (a snapshot is taken now)."""
        event = _Event(event_type, payment_id, _event_body(event_type, obj))
        self._pending.append(event)
        if self._sender is not None:
            self._sender.put(event)

    def sign(self, event: _Event) -> WebhookDelivery:
        """``event`` as delivered now: its body and a ``Stripe-Signature`` made this second."""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": stripe_signature(self._secret, event.body, int(time.time())),
        }
        return WebhookDelivery(headers, event.body, event.event_type, event.payment_id)

    def pending(self) -> list[WebhookDelivery]:
        return [self.sign(event) for event in self._pending]

    def drain(self) -> list[WebhookDelivery]:
        deliveries = self.pending()
        self._pending.clear()
        return deliveries

    def reset(self) -> None:
        self._pending.clear()
        if self._sender is not None:
            self._sender.clear()

    # -- the sender ----------------------------------------------------------------------------
    def results(self) -> list[tuple[WebhookDelivery, int | None]]:
        return [] if self._sender is None else self._sender.results()

    def wait(self, timeout: float) -> bool:
        return True if self._sender is None else self._sender.wait(timeout)

    def close(self) -> None:
        if self._sender is not None:
            self._sender.stop()
