"""Stripe adapter (sans-IO). See ``docs/writing-an-adapter.md`` for its anatomy. ``SPEC`` is
its entry in the provider registry."""

from paygate.adapters.stripe._adapter import StripeAdapter
from paygate.adapters.stripe._constants import (
    API_VERSION,
    CAPABILITIES,
    DEFAULT_BASE_URL,
    REFERENCE_KEY,
)
from paygate.adapters.stripe._provider import SPEC, StripeSettings
from paygate.adapters.stripe._webhooks import DEFAULT_TOLERANCE as DEFAULT_WEBHOOK_TOLERANCE

__all__ = [
    "API_VERSION",
    "CAPABILITIES",
    "DEFAULT_BASE_URL",
    "DEFAULT_WEBHOOK_TOLERANCE",
    "REFERENCE_KEY",
    "SPEC",
    "StripeAdapter",
    "StripeSettings",
]
