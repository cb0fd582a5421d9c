"""Adyen Checkout API v71, sans-IO: ``/payments`` (manual capture for authorize, automatic for
purchase), and the asynchronous modifications ``/captures``, ``/cancels`` and ``/refunds``.
The package reads in the order every adapter follows: constants (``_constants``) → wire models
(``_wire``) → status and code tables (``_codes``) → requests (``_requests``: ``validate``,
``build_request``) → responses (``_responses``: ``parse_response``, the error classifier) →
webhook verification and parsing (``_webhooks``) → the registry entry (``_provider``). This
module holds the adapter class: its configuration, checked when it is built, and one delegation
per protocol method.

Three Adyen facts shape it:

* **Declines are answers, not HTTP errors.** ``/payments`` says 200 with ``resultCode``
  Refused / Error / Cancelled; the adapter reports those as ``CardDeclinedError`` values, as
  a Stripe 402 is, so a caller handles a decline the same way whichever provider answered.
* **Modifications are only received.** A capture, cancel or refund answers 201 with
  ``status: "received"``; its outcome arrives by webhook. Captures and voids become a
  ``ModificationReceipt``, refunds a pending ``Refund``; the gateway keeps them pending on its
  payment record until the webhook confirms them.
* **Nothing can be read back.** There is no endpoint to read a payment, and captures and
  refunds must name their amount: the gateway fills a full capture or refund's amount in from
  its payment record and answers retrieve from it (``needs_payment_record``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import httpx
from pydantic import SecretStr

from paygate._redaction import url_without_credentials
from paygate.adapters.adyen import _requests, _responses, _webhooks
from paygate.adapters.adyen._constants import CAPABILITIES, DEFAULT_BASE_URL, PROVIDER
from paygate.models import OperationRequest, WebhookEvent

__all__ = ["AdyenAdapter"]


class AdyenAdapter:
    """Translates canonical operations to Adyen's Checkout API v71 and back. Does no I/O.

    ``return_url`` is sent as ``returnUrl`` when given: the spec requires it on ``/payments``
    for flows that redirect the shopper (3D Secure, redirect payment methods).
    """

    name: Final = PROVIDER
    capabilities: Final = CAPABILITIES

    def __init__(
        self,
        api_key: SecretStr | str,
        *,
        merchant_account: str,
        base_url: str = DEFAULT_BASE_URL,
        hmac_key: SecretStr | str | None = None,
        return_url: str | None = None,
    ) -> None:
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not self._api_key.get_secret_value():
            raise ValueError("an Adyen API key is required")
        if not merchant_account:
            raise ValueError("an Adyen merchant account is required")
        self.merchant_account = merchant_account
        self.base_url = base_url.rstrip("/")
        self.return_url = return_url
        self._hmac_key: SecretStr | None = None
        if hmac_key is not None:
            self._hmac_key = hmac_key if isinstance(hmac_key, SecretStr) else SecretStr(hmac_key)
            _webhooks.decode_hmac_key(self._hmac_key)  # refuse a key that cannot be used, now

    def __repr__(self) -> str:
        hmac_key = "None" if self._hmac_key is None else "**********"
        base_url = url_without_credentials(self.base_url)
        return (
            f"paygate.adapters.adyen.AdyenAdapter(base_url={base_url!r}, "
            f"merchant_account={self.merchant_account!r}, api_key=**********, "
            f"hmac_key={hmac_key})"
        )

    def validate(self, request: OperationRequest) -> None:
        """The operation's own rules, checked before any I/O."""
        _requests.validate(request, return_url=self.return_url)

    parse_response = staticmethod(_responses.parse_response)  # the reading of an answer

    def build_request(
        self, request: OperationRequest, *, idempotency_key: str | None
    ) -> httpx.Request:
        return _requests.build_request(
            request,
            idempotency_key=idempotency_key,
            api_key=self._api_key,
            base_url=self.base_url,
            merchant_account=self.merchant_account,
            return_url=self.return_url,
        )

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: float
    ) -> list[WebhookEvent]:
        """Adyen signs fields of each item, not the request: ``headers`` are not read. ``now``
        is unused too, since Adyen signs no timestamp: a replayed delivery verifies, and the
        gateway's deduplication by ``event_id`` is what stops it from being applied twice."""
        return _webhooks.parse_webhook(body, hmac_key=self._hmac_key)
