"""Stripe adapter (sans-IO). See ``docs/writing-an-adapter.md`` for its anatomy. ``SPEC`` is
its entry in the provider registry."""

from paygate.adapters.stripe._adapter import StripeAdapter
from paygate.adapters.stripe._constants import API_VERSION, CAPABILITIES, DEFAULT_BASE_URL
from paygate.adapters.stripe._provider import SPEC, StripeSettings

__all__ = [
    "API_VERSION",
    "CAPABILITIES",
    "DEFAULT_BASE_URL",
    "SPEC",
    "StripeAdapter",
    "StripeSettings",
]
