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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from paygate.testing._deliveries import WebhookDelivery

_SIGNED_FIELDS: Final = (
    "pspReference",
    "originalReference",
    "merchantAccountCode",
    "merchantReference",
)


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
