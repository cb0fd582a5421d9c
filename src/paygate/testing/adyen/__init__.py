"""The Adyen simulator: Adyen's Checkout payments and modifications with signed webhooks on
loopback, one module per concern (API routes, parameters, ledger, test cards, errors,
webhooks)."""

from paygate.testing.adyen._simulator import DEFAULT_MERCHANT, AdyenSimulator

__all__ = ["DEFAULT_MERCHANT", "AdyenSimulator"]
