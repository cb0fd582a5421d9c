"""Stripe adapter (sans-IO). See ``docs/writing-an-adapter.md`` for its anatomy."""

from paygate.adapters.stripe._adapter import API_VERSION, CAPABILITIES, StripeAdapter

__all__ = ["API_VERSION", "CAPABILITIES", "StripeAdapter"]
