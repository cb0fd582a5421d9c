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
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx

from paygate.testing._deliveries import WebhookDelivery

logger: Final = logging.getLogger("paygate.testing")

API_VERSION: Final = "2023-08-16"  # the version event payloads are rendered in
_SEND_TIMEOUT: Final = httpx.Timeout(2.0)
_JOIN_TIMEOUT: Final = 5.0


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
        self._sender = None if url is None else _Sender(url, self.sign)

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


class _Sender:
    """POSTs each event to ``url`` from one background thread, in emission order, signed at
    the moment it is sent. Best effort: every attempt's HTTP status (None when the request
    failed) is recorded and nothing is retried, so a test sees exactly one POST per event."""

    def __init__(self, url: str, sign: Callable[[_Event], WebhookDelivery]) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme not in {"http", "https"} or not parsed.host:
            raise ValueError(f"webhook_url must be an http(s) URL, not {url!r}")
        self._url = url
        self._sign = sign
        self._queue: queue.SimpleQueue[_Event | None] = queue.SimpleQueue()
        self._results: list[tuple[WebhookDelivery, int | None]] = []
        self._state = threading.Condition()
        self._unsent = 0
        self._thread: threading.Thread | None = None

    def put(self, event: _Event) -> None:
        """Hand ``event`` to the sending thread (started on first use); never blocks."""
        with self._state:
            self._unsent += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="paygate-simulator-stripe-webhooks", daemon=True
                )
                self._thread.start()
        self._queue.put(event)

    def wait(self, timeout: float) -> bool:
        """Wait until every queued event has been attempted; False on timeout."""
        with self._state:
            return self._state.wait_for(lambda: self._unsent == 0, timeout)

    def stop(self) -> None:
        """Send what is queued (within the join timeout), then end the thread."""
        with self._state:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(_JOIN_TIMEOUT)

    def results(self) -> list[tuple[WebhookDelivery, int | None]]:
        with self._state:
            return list(self._results)

    def clear(self) -> None:
        with self._state:
            self._results.clear()

    def _run(self) -> None:
        with httpx.Client(timeout=_SEND_TIMEOUT) as client:
            while (event := self._queue.get()) is not None:
                delivery = self._sign(event)
                status: int | None = None
                try:
                    response = client.post(
                        self._url, content=delivery.body, headers=delivery.headers
                    )
                    status = response.status_code
                except Exception as exc:  # best effort: record the failure, keep sending
                    logger.warning(
                        "Stripe webhook %s to %s failed: %s", event.event_type, self._url, exc
                    )
                with self._state:
                    self._results.append((delivery, status))
                    self._unsent -= 1
                    self._state.notify_all()
