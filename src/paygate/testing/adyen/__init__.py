"""The Adyen simulator: Adyen's Checkout payments and modifications with signed webhooks on
loopback, one module per concern (API routes, parameters, ledger, test cards, errors,
webhooks), and ``CONTRACT``, Adyen's entry in the contract suite."""

from paygate.testing.adyen._contract import CONTRACT
from paygate.testing.adyen._simulator import DEFAULT_MERCHANT, AdyenSimulator

__all__ = ["CONTRACT", "DEFAULT_MERCHANT", "AdyenSimulator"]
