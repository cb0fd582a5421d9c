"""The Stripe simulator: Stripe's v1 PaymentIntents and Refunds on loopback, one module per
concern (API routes, parameters, ledger, test cards, errors, form decoding, search, webhooks)."""

from paygate.testing.stripe._simulator import StripeSimulator

__all__ = ["StripeSimulator"]
