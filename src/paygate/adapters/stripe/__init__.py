"""Stripe adapter (sans-IO). See ``docs/writing-an-adapter.md`` for its anatomy."""

from paygate.adapters.stripe._adapter import StripeAdapter
from paygate.adapters.stripe._constants import API_VERSION, CAPABILITIES

__all__ = ["API_VERSION", "CAPABILITIES", "StripeAdapter"]
