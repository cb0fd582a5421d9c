"""Adyen adapter (sans-IO): Checkout API v71 and Standard webhooks. Same anatomy as the Stripe
adapter; see ``docs/writing-an-adapter.md``."""

from paygate.adapters.adyen._adapter import AdyenAdapter
from paygate.adapters.adyen._constants import API_VERSION, CAPABILITIES, CURRENCIES

__all__ = ["API_VERSION", "CAPABILITIES", "CURRENCIES", "AdyenAdapter"]
