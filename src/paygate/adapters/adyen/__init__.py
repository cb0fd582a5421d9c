"""Adyen adapter (sans-IO): Checkout API v71 and Standard webhooks. Same anatomy as the Stripe
adapter; see ``docs/writing-an-adapter.md``. ``SPEC`` is its entry in the provider registry."""

from paygate.adapters.adyen._adapter import AdyenAdapter
from paygate.adapters.adyen._constants import (
    API_VERSION,
    CAPABILITIES,
    CURRENCIES,
    DEFAULT_BASE_URL,
)
from paygate.adapters.adyen._provider import SPEC, AdyenSettings

__all__ = [
    "API_VERSION",
    "CAPABILITIES",
    "CURRENCIES",
    "DEFAULT_BASE_URL",
    "SPEC",
    "AdyenAdapter",
    "AdyenSettings",
]
