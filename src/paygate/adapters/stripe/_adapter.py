"""Stripe, sans-IO: PaymentIntents (manual capture for authorize, automatic for purchase),
Refunds, retrieve, and find (a PaymentIntent search by the caller's reference). The package
reads in the order every adapter follows: constants (``_constants``) → wire models (``_wire``)
→ code tables (``_codes``) → requests (``_requests``: ``validate``, ``build_request``) →
responses (``_responses``: status tables, ``parse_response``, the error classifier) → webhook
verification and parsing (``_webhooks``) → the registry entry (``_provider``). This module
holds the adapter class: its configuration, checked when it is built, and one delegation per
protocol method."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Final

import httpx
from pydantic import SecretStr

from paygate._redaction import url_without_credentials
from paygate.adapters.base import Capabilities
from paygate.adapters.stripe import _requests, _responses, _webhooks
from paygate.adapters.stripe._constants import API_VERSION, CAPABILITIES, DEFAULT_BASE_URL, PROVIDER
from paygate.adapters.stripe._webhooks import DEFAULT_TOLERANCE
from paygate.models import OperationRequest, WebhookEvent


class StripeAdapter:
    """Translates canonical operations to Stripe's v1 API and back. Does no I/O."""

    name: Final = PROVIDER

    def __init__(
        self,
        api_key: SecretStr | str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = API_VERSION,
        webhook_secret: SecretStr | str | None = None,
        webhook_tolerance: float = DEFAULT_TOLERANCE,
        raw_card_data: bool = False,
    ) -> None:
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not self._api_key.get_secret_value():
            raise ValueError("a Stripe secret key is required")
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        if isinstance(webhook_secret, str):
            webhook_secret = SecretStr(webhook_secret)
        if webhook_secret is not None and not webhook_secret.get_secret_value():
            raise ValueError("the Stripe webhook secret is empty; pass None to leave it unset")
        self._webhook_secret = webhook_secret
        if not 0 < webhook_tolerance < float("inf"):
            raise ValueError(
                f"webhook_tolerance must be a positive number of seconds, not {webhook_tolerance!r}"
            )
        self.webhook_tolerance = float(webhook_tolerance)
        if not isinstance(raw_card_data, bool):
            raise TypeError(f"raw_card_data must be True or False, not {raw_card_data!r}")
        # Raw card numbers (PaymentSource.card) are refused before anything is sent unless the
        # caller opts in: Stripe takes them only from accounts with raw card data access.
        self.raw_card_data = raw_card_data
        self.capabilities: Final[Capabilities] = (
            replace(CAPABILITIES, raw_card_data=True) if raw_card_data else CAPABILITIES
        )

    def __repr__(self) -> str:
        secrets = "api_key=**********"
        if self._webhook_secret is not None:
            secrets += ", webhook_secret=**********"
        base_url = url_without_credentials(self.base_url)
        raw = ", raw_card_data=True" if self.raw_card_data else ""
        return f"paygate.adapters.stripe.StripeAdapter(base_url={base_url!r}, {secrets}{raw})"

    # The operation's own rules, checked before any I/O; the reading of an answer.
    validate = staticmethod(_requests.validate)
    parse_response = staticmethod(_responses.parse_response)

    def build_request(
        self, request: OperationRequest, *, idempotency_key: str | None
    ) -> httpx.Request:
        return _requests.build_request(
            request,
            idempotency_key=idempotency_key,
            api_key=self._api_key,
            base_url=self.base_url,
            api_version=self.api_version,
        )

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: float
    ) -> list[WebhookEvent]:
        return _webhooks.parse_webhook(
            headers,
            body,
            secret=self._webhook_secret,
            now=now,
            tolerance=self.webhook_tolerance,
        )
