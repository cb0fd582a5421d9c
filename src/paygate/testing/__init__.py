"""Test support that ships with paygate, for paygate's own tests and for yours.

Provider simulators are real HTTP servers on 127.0.0.1 that speak a provider's wire format,
keep state, honour its test cards and inject faults on demand, so an integration test can
prove what happens when the provider is slow, fails, drops the connection after charging, or
answers with a broken body::

    from paygate.testing import Fault, StripeSimulator

    with StripeSimulator() as sim:
        sim.inject(Fault.server_error(503), times=1, method="POST", path="/v1/payment_intents")
        ...  # point your client at sim.url with any sk_test_ key
        assert sim.request_count(method="POST", path="/v1/payment_intents") == 2

A running simulator is also controlled over HTTP: ``POST /_sim/faults``, ``DELETE
/_sim/faults``, ``GET /_sim/state``, ``POST /_sim/reset`` (see ``paygate sandbox serve``);
``AdyenSimulator`` adds ``POST /_sim/process`` (decide the received modifications), ``GET
/_sim/webhooks`` and ``POST /_sim/webhooks/drain``.
"""

from paygate.testing._clock import FakeClock, zero_backoff
from paygate.testing._deliveries import WebhookDelivery
from paygate.testing._mock import Handler, MockProvider
from paygate.testing._records import RecordedRequest
from paygate.testing._settlement import SettlementFaults
from paygate.testing.adyen import AdyenSimulator
from paygate.testing.adyen._webhooks import AdyenWebhook, adyen_hmac_signature
from paygate.testing.faults import Fault
from paygate.testing.stripe import StripeSimulator

__all__ = [
    "AdyenSimulator",
    "AdyenWebhook",
    "FakeClock",
    "Fault",
    "Handler",
    "MockProvider",
    "RecordedRequest",
    "SettlementFaults",
    "StripeSimulator",
    "WebhookDelivery",
    "adyen_hmac_signature",
    "zero_backoff",
]
