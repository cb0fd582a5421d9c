"""The Stripe simulator: Stripe's v1 PaymentIntents and Refunds on loopback, one module per
concern (API routes, parameters, ledger, test cards, errors, form decoding, search, webhooks),
and ``CONTRACT``, Stripe's entry in the contract suite."""

from paygate.testing.stripe._contract import CONTRACT
from paygate.testing.stripe._simulator import StripeSimulator

__all__ = ["CONTRACT", "StripeSimulator"]
