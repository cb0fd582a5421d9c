"""Adyen's standard webhooks: the ``NotificationRequestItem`` HMAC signature, one signed
delivery, and a best-effort background sender to a ``webhook_url``.

Signature (shared/providers/README.md, "HMAC"): HMAC-SHA256 with the hex-decoded key over
``pspReference:originalReference:merchantAccountCode:merchantReference:amount.value:
amount.currency:eventCode:success`` (a missing field is an empty string, nothing is escaped),
base64-encoded, carried in the item's ``additionalData.hmacSignature``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from paygate.testing._deliveries import WebhookDelivery

logger: Final = logging.getLogger("paygate.testing")

_SIGNED_FIELDS: Final = (
    "pspReference",
    "originalReference",
    "merchantAccountCode",
    "merchantReference",
)
_SEND_TIMEOUT: Final = httpx.Timeout(2.0)
_JOIN_TIMEOUT: Final = 5.0


def signing_string(item: Mapping[str, Any]) -> str:
    """The text an item's signature covers; a missing field becomes an empty string."""
    amount = item.get("amount")
    money: Mapping[str, Any] = amount if isinstance(amount, Mapping) else {}
    fields = [item.get(name) for name in _SIGNED_FIELDS]
    fields += [money.get("value"), money.get("currency"), item.get("eventCode")]
    fields.append(item.get("success"))
    return ":".join("" if f is None else str(f) for f in fields)


def adyen_hmac_signature(item: Mapping[str, Any], hmac_key: str) -> str:
    """The ``hmacSignature`` Adyen puts in a ``NotificationRequestItem``: HMAC-SHA256 with
    ``hmac_key`` (a hex string, as the Customer Area shows it), base64-encoded.

    Use it to sign notifications of your own making for a webhook handler under test.
    """
    digest = hmac.new(
        bytes.fromhex(hmac_key), signing_string(item).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True, repr=False)
class AdyenWebhook(WebhookDelivery):
    """One webhook delivery as Adyen would POST it: a ``NotificationRequest`` body holding one
    signed ``NotificationRequestItem`` (``item``), and its headers.

    ``event_type`` is the item's ``eventCode``; ``payment_id`` the payment's pspReference (for
    a modification, the item's ``originalReference``). Deliver ``body`` with ``headers`` to
    the handler under test, in any order and as often as you like: Adyen may repeat a
    delivery, and deliveries may arrive out of order.
    """

    item: dict[str, Any]  # the NotificationRequestItem, signature included

    @classmethod
    def signed(cls, item: Mapping[str, Any], hmac_key: str) -> AdyenWebhook:
        """The delivery of ``item``, signed with ``hmac_key``."""
        signed = dict(item)
        additional = dict(signed.get("additionalData") or {})
        additional["hmacSignature"] = adyen_hmac_signature(item, hmac_key)
        signed["additionalData"] = additional
        body = json.dumps(notification_request([signed])).encode()
        payment = str(signed.get("originalReference") or signed["pspReference"])
        headers = {"Content-Type": "application/json"}
        return cls(headers, body, str(signed["eventCode"]), payment, signed)

    @property
    def event_code(self) -> str:
        """The ``eventCode`` (Adyen's name for ``event_type``)."""
        return self.event_type

    @property
    def psp_reference(self) -> str:
        """The item's pspReference: the payment's for AUTHORISATION, the modification's for
        the others."""
        return str(self.item["pspReference"])

    @property
    def success(self) -> bool:
        return bool(self.item["success"] == "true")

    @property
    def reason(self) -> str:
        return str(self.item.get("reason", ""))

    def __repr__(self) -> str:
        return (
            f"paygate.testing.AdyenWebhook({self.event_code} {self.psp_reference}, "
            f"success={self.item['success']!r}, payment_id={self.payment_id!r})"
        )


def notification_request(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``NotificationRequest`` that carries ``items`` (test environment: live "false")."""
    return {
        "live": "false",
        "notificationItems": [{"NotificationRequestItem": item} for item in items],
    }


class WebhookSender:
    """POSTs each webhook to ``url`` from a background thread (started on first use), in
    order, as soon as it is queued.

    Best effort, like a test double should be: every attempt's HTTP status (None when the
    request failed) is recorded; nothing is retried, so a test sees exactly one POST per
    webhook, whatever the receiver answered.
    """

    def __init__(self, url: str) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme not in {"http", "https"} or not parsed.host:
            raise ValueError(f"webhook_url must be an http(s) URL, not {url!r}")
        self._url = url
        self._queue: queue.SimpleQueue[AdyenWebhook | None] = queue.SimpleQueue()
        self._results: list[tuple[AdyenWebhook, int | None]] = []
        self._state = threading.Condition()
        self._unsent = 0
        self._thread: threading.Thread | None = None

    def put(self, webhook: AdyenWebhook) -> None:
        """Hand ``webhook`` to the sending thread; never blocks."""
        with self._state:
            self._unsent += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="paygate-simulator-adyen-webhooks", daemon=True
                )
                self._thread.start()
        self._queue.put(webhook)

    def wait(self, timeout: float) -> bool:
        """Wait until every queued webhook has been attempted; False on timeout."""
        with self._state:
            return self._state.wait_for(lambda: self._unsent == 0, timeout)

    def stop(self) -> None:
        """Send what is queued (within the join timeout), then end the thread."""
        with self._state:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(_JOIN_TIMEOUT)

    def results(self) -> list[tuple[AdyenWebhook, int | None]]:
        with self._state:
            return list(self._results)

    def clear(self) -> None:
        with self._state:
            self._results.clear()

    def _run(self) -> None:
        with httpx.Client(timeout=_SEND_TIMEOUT) as client:
            while (webhook := self._queue.get()) is not None:
                status: int | None = None
                try:
                    response = client.post(self._url, content=webhook.body, headers=webhook.headers)
                    status = response.status_code
                except httpx.HTTPError as exc:  # best effort: record the failure, keep sending
                    logger.warning("Adyen webhook %r to %s failed: %s", webhook, self._url, exc)
                with self._state:
                    self._results.append((webhook, status))
                    self._unsent -= 1
                    self._state.notify_all()
