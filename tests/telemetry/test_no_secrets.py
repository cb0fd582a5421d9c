"""No span attribute, span event, metric attribute, log field or event carries an API key, a
webhook secret (Stripe's signing secret, Adyen's HMAC key), a card number or a CVC, over whole
flows on both providers: payments with raw card data, a retry, a decline, webhooks (a forged
one too)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
from tests.conftest import ADYEN_KEY, API_KEY
from tests.telemetry.conftest import Otel

from paygate import Gateway, Money, PaymentSource, RetryPolicy
from paygate.errors import CardDeclinedError, InvalidWebhookError
from paygate.testing import AdyenSimulator, Fault, StripeSimulator

CVC = "737"
# Test cards each simulator approves, and one it declines.
CARDS = {
    "stripe": ("4242424242424242", "4000000000009995"),
    "adyen": ("4111111145551142", "4111111145551142"),
}
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02)


def _values(otel: Otel, events: list[Any], logs: list[logging.LogRecord]) -> list[object]:
    """Every value a listener, an exporter or a formatter could see."""
    seen: list[object] = []
    for span in otel.spans():
        seen += [span.name, *(span.attributes or {}).values()]
        for event in span.events:
            seen += [event.name, *(event.attributes or {}).values()]
    data = otel.reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    seen += list((point.attributes or {}).values())
    for event in events:
        seen.append(repr(event))
        seen += [getattr(event, f.name) for f in dataclasses.fields(event)]
    for record in logs:
        seen.append(record.getMessage())
        seen += [v for k, v in vars(record).items() if k.startswith("paygate_")]
    return seen


def _card(number: str, holder: str = "J. Smith") -> PaymentSource:
    return PaymentSource.card(number, 3, 2030, CVC, holder_name=holder)


def _flows(
    gw: Gateway,
    sim: StripeSimulator | AdyenSimulator,
    card: PaymentSource,
    declining: PaymentSource,
) -> None:
    amount = Money("10.00", "EUR")
    sim.inject(Fault.server_error(503), times=1)
    payment = gw.purchase(amount, source=card, reference="secret-1", idempotency_key="s-1")
    gw.purchase(amount, source=card, reference="secret-1", idempotency_key="s-1")  # replay
    gw.refund(payment.id, amount=Money("1.00", "EUR"))
    with pytest.raises(CardDeclinedError):
        gw.authorize(amount, source=declining, reference="secret-2")
    if isinstance(sim, AdyenSimulator):
        sim.process_modifications()
    deliveries = sim.drain_webhooks()
    for delivery in deliveries:
        gw.handle_webhook(delivery.headers, delivery.body)
    with pytest.raises(InvalidWebhookError):
        gw.handle_webhook({}, b"{}")


@pytest.mark.parametrize("provider", ["stripe", "adyen"])
def test_no_secret_reaches_spans_metrics_logs_or_events(
    provider: str,
    otel: Otel,
    sim: StripeSimulator,
    adyen_sim: AdyenSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="paygate")
    events: list[Any] = []
    listeners = [events.append, otel.listener]
    if provider == "stripe":
        secrets = [API_KEY, sim.webhook_secret]
        gw = Gateway.for_stripe(
            API_KEY, base_url=sim.url, webhook_secret=sim.webhook_secret, raw_card_data=True,
            retry=FAST, on_event=listeners,
        )  # fmt: skip
        simulator: StripeSimulator | AdyenSimulator = sim
    else:
        secrets = [ADYEN_KEY, adyen_sim.hmac_key]
        gw = Gateway.for_adyen(
            ADYEN_KEY, merchant_account=adyen_sim.merchant_account,
            base_url=f"{adyen_sim.url}/v71", hmac_key=adyen_sim.hmac_key, retry=FAST,
            on_event=listeners,
        )  # fmt: skip
        simulator = adyen_sim
    approved, declined = CARDS[provider]
    holder = "DECLINED" if provider == "adyen" else "J. Smith"
    with gw:
        _flows(gw, simulator, _card(approved), _card(declined, holder))

    logs = [r for r in caplog.records if r.name == "paygate"]
    seen = _values(otel, events, logs)
    assert len(otel.spans()) > 5 and len(events) > 10 and logs
    for value in seen:
        text = str(value)
        for secret in (*secrets, *CARDS[provider]):
            assert secret not in text, (secret, text)
        assert text != CVC, value
        assert f"cvc={CVC}" not in text and f"'{CVC}'" not in text, text
