"""The OpenTelemetry listener, read back through the SDK's in-memory span exporter and metric
reader: spans, their attributes and parents, span events and metric values, for each kind of
ending a call can have, on the blocking gateway and on the asyncio one (both transports)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from tests.conftest import API_KEY
from tests.telemetry.conftest import Otel

from paygate import AsyncGateway, BreakerPolicy, Gateway, Money, PaymentSource, RetryPolicy
from paygate.errors import CardDeclinedError, CircuitOpen, InvalidWebhookError, OutcomeUnknown
from paygate.records import MemoryRecordStore, PaymentRecord
from paygate.records.store import UnknownSummary
from paygate.telemetry import key_digest
from paygate.testing import Fault, StripeSimulator

VISA = PaymentSource.token("pm_card_visa")
EUR = Money("12.34", "EUR")


def _attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def _events(span: Any) -> list[str]:
    return [e.name for e in span.events]


def test_a_successful_call_is_one_operation_span_over_one_client_span(
    make_gateway: Callable[..., Any], otel: Otel, sim: StripeSimulator
) -> None:
    gw = make_gateway(on_event=otel.listener)
    payment = gw.authorize(EUR, source=VISA, reference="otel-1", idempotency_key="otel-key-1")

    [operation] = otel.named("paygate authorize")
    assert operation.kind is SpanKind.INTERNAL
    attributes = _attrs(operation)
    assert attributes == {
        "paygate.provider": "stripe",
        "paygate.operation": "authorize",
        "paygate.outcome": "succeeded",
        "paygate.payment_id": payment.id,
        "paygate.idempotency_key": key_digest("otel-key-1"),
        "paygate.attempts": 1,
        "paygate.provider_request_id": attributes["paygate.provider_request_id"],
    }
    assert "paygate.record.transition" in _events(operation)
    [attempt] = otel.children(operation)
    assert (attempt.name, attempt.kind) == ("POST", SpanKind.CLIENT)
    http = _attrs(attempt)
    # Stripe's Request-Id header, as the conventions capture a response header.
    assert http["http.response.header.request-id"] == (attributes["paygate.provider_request_id"],)
    assert http["http.request.method"] == "POST"
    assert http["http.response.status_code"] == 200
    assert http["server.address"] == "127.0.0.1"
    assert http["server.port"] == int(sim.url.rsplit(":", 1)[1])
    assert http["url.full"] == f"{sim.url}/v1/payment_intents"
    assert "error.type" not in http and "http.request.resend_count" not in http
    assert attempt.status.status_code is StatusCode.UNSET

    assert otel.total("paygate.operation.outcomes", paygate__outcome="succeeded") == 1
    assert otel.total("paygate.operation.duration", paygate__operation="authorize") == 1
    assert otel.total("http.client.request.duration", http__response__status_code=200) == 1
    [(bulkhead, in_use)] = otel.points("paygate.bulkhead.in_use")
    assert (bulkhead, in_use) == ({"paygate.provider": "stripe"}, 0)
    states = {a["paygate.breaker.state"]: v for a, v in otel.points("paygate.breaker.state")}
    assert states == {"closed": 1, "open": 0, "half-open": 0}
    assert otel.points("paygate.unknown_outcomes.open") == [({"paygate.provider": "stripe"}, 0)]


def test_a_retried_call_has_a_client_span_per_attempt_and_a_retry_event(
    make_gateway: Callable[..., Any], otel: Otel, sim: StripeSimulator
) -> None:
    gw = make_gateway(on_event=otel.listener)
    sim.inject(Fault.server_error(503), times=1)
    gw.authorize(EUR, source=VISA, reference="otel-2")

    [operation] = otel.named("paygate authorize")
    assert _attrs(operation)["paygate.attempts"] == 2
    assert _attrs(operation)["paygate.outcome"] == "succeeded"
    [retry] = [e for e in operation.events if e.name == "paygate.retry"]
    assert dict(retry.attributes or {})["error.type"] == "provider_unavailable"
    first, second = sorted(otel.children(operation), key=lambda s: s.start_time or 0)
    assert _attrs(first)["http.response.status_code"] == 503
    assert _attrs(first)["error.type"] == "503"
    assert first.status.status_code is StatusCode.ERROR
    assert _attrs(second)["http.request.resend_count"] == 1
    assert "http.request.resend_count" not in _attrs(first)
    assert otel.total("paygate.retries", error__type="provider_unavailable") == 1
    assert otel.total("http.client.request.duration") == 2


def test_a_decline_is_an_outcome_not_an_error_status(
    make_gateway: Callable[..., Any], otel: Otel
) -> None:
    gw = make_gateway(on_event=otel.listener)
    declined = PaymentSource.token("pm_card_visa_chargeDeclinedInsufficientFunds")
    with pytest.raises(CardDeclinedError):
        gw.authorize(EUR, source=declined, reference="otel-3")

    [operation] = otel.named("paygate authorize")
    assert _attrs(operation)["paygate.outcome"] == "declined"
    assert _attrs(operation)["error.type"] == "card_declined"
    assert operation.status.status_code is StatusCode.UNSET
    assert otel.total("paygate.operation.outcomes", paygate__outcome="declined") == 1


def test_an_unknown_outcome_is_an_error_and_stays_open_in_the_gauge(
    make_gateway: Callable[..., Any], otel: Otel, sim: StripeSimulator
) -> None:
    gw = make_gateway(on_event=otel.listener)
    sim.inject(Fault.server_error(503), times=None)
    with pytest.raises(OutcomeUnknown):
        gw.authorize(EUR, source=VISA, reference="otel-4")

    [operation] = otel.named("paygate authorize")
    assert _attrs(operation)["paygate.outcome"] == "unknown"
    assert operation.status.status_code is StatusCode.ERROR
    assert _attrs(operation)["paygate.attempts"] == len(otel.children(operation)) == 3
    [(attributes, open_now)] = otel.points("paygate.unknown_outcomes.open")
    assert (attributes, open_now) == ({"paygate.provider": "stripe"}, 1)
    [(_, age)] = otel.points("paygate.unknown_outcomes.oldest_age")
    assert 0 <= age < 60


def test_a_replay_sends_nothing_and_says_so(make_gateway: Callable[..., Any], otel: Otel) -> None:
    gw = make_gateway(on_event=otel.listener)
    for _ in range(2):
        gw.authorize(EUR, source=VISA, reference="otel-5", idempotency_key="otel-key-5")

    first, replay = sorted(otel.named("paygate authorize"), key=lambda s: s.start_time or 0)
    assert _attrs(replay)["paygate.outcome"] == "replayed"
    assert _attrs(replay)["paygate.attempts"] == 0
    assert otel.children(replay) == []
    assert "paygate.idempotency.replayed" in _events(replay)
    assert _attrs(first)["paygate.idempotency_key"] == _attrs(replay)["paygate.idempotency_key"]
    assert otel.total("paygate.idempotency.replays") == 1
    assert otel.total("paygate.operation.outcomes", paygate__outcome="replayed") == 1


def test_a_breaker_refusal_is_a_span_event_and_the_gauge_shows_it_open(
    make_gateway: Callable[..., Any], otel: Otel, sim: StripeSimulator
) -> None:
    gw = make_gateway(
        on_event=otel.listener,
        breaker=BreakerPolicy(failure_threshold=1, reset_timeout=60),
        retry=RetryPolicy(max_attempts=1),
    )
    sim.inject(Fault.server_error(503), times=None)
    with pytest.raises(OutcomeUnknown):
        gw.authorize(EUR, source=VISA, reference="otel-6")
    with pytest.raises(CircuitOpen):
        gw.authorize(EUR, source=VISA, reference="otel-7")

    refused = [
        s for s in otel.named("paygate authorize") if "paygate.breaker.refused" in _events(s)
    ]
    assert len(refused) == 1
    assert _attrs(refused[0])["paygate.outcome"] == "retriable"
    assert _attrs(refused[0])["error.type"] == "circuit_open"
    assert otel.children(refused[0]) == []
    states = {a["paygate.breaker.state"]: v for a, v in otel.points("paygate.breaker.state")}
    assert states == {"closed": 0, "open": 1, "half-open": 0}


def test_a_webhook_is_a_span_with_an_event_per_application(
    make_gateway: Callable[..., Any], otel: Otel, sim: StripeSimulator
) -> None:
    gw = make_gateway(on_event=otel.listener)
    payment = gw.authorize(EUR, source=VISA, reference="otel-8")
    gw.capture(payment.id)
    deliveries = sim.drain_webhooks()
    assert deliveries
    for delivery in deliveries:
        gw.handle_webhook(delivery.headers, delivery.body)
    gw.handle_webhook(deliveries[0].headers, deliveries[0].body)  # a duplicate
    with pytest.raises(InvalidWebhookError):
        gw.handle_webhook({"Stripe-Signature": "t=1,v1=00"}, deliveries[0].body)

    spans = otel.named("paygate handle_webhook")
    assert len(spans) == len(deliveries) + 2
    applied = [e for s in spans for e in s.events if e.name == "paygate.webhook.applied"]
    results = [dict(e.attributes or {})["paygate.webhook.result"] for e in applied]
    assert results.count("duplicate") == 1 and results.count("invalid") == 1
    assert otel.total("paygate.webhook.deliveries", paygate__webhook__result="duplicate") == 1
    assert otel.total("paygate.webhook.deliveries", paygate__webhook__result="invalid") == 1
    assert otel.total("paygate.webhook.deliveries") == len(results)
    assert spans[-1].status.status_code is StatusCode.ERROR


def test_no_metric_carries_a_payment_id_or_a_key(
    make_gateway: Callable[..., Any], otel: Otel, sim: StripeSimulator
) -> None:
    gw = make_gateway(on_event=otel.listener)
    sim.inject(Fault.server_error(503), times=1)
    payment = gw.authorize(EUR, source=VISA, reference="otel-9", idempotency_key="otel-key-9")
    gw.capture(payment.id)
    bounded = {
        "paygate.provider", "paygate.operation", "paygate.outcome", "error.type",
        "http.request.method", "http.response.status_code", "server.address", "server.port",
        "paygate.breaker.state", "paygate.webhook.result",
    }  # fmt: skip
    data = otel.reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    assert set(point.attributes or {}) <= bounded, metric.name


def test_the_operation_span_is_a_child_of_the_callers_span(
    otel: Otel, sim: StripeSimulator
) -> None:
    tracer = otel.tracer_provider.get_tracer("shop")
    with (
        Gateway.for_stripe(API_KEY, base_url=sim.url, on_event=otel.listener) as gw,
        tracer.start_as_current_span("checkout") as checkout,
    ):
        gw.authorize(EUR, source=VISA, reference="otel-10")
    [operation] = otel.named("paygate authorize")
    assert operation.parent is not None
    assert operation.parent.span_id == checkout.get_span_context().span_id
    assert operation.context is not None
    assert operation.context.trace_id == checkout.get_span_context().trace_id


async def test_the_async_operation_span_is_a_child_of_the_callers_span(
    otel: Otel, sim: StripeSimulator
) -> None:
    tracer = otel.tracer_provider.get_tracer("shop")
    async with AsyncGateway.for_stripe(API_KEY, base_url=sim.url, on_event=otel.listener) as gw:
        with tracer.start_as_current_span("checkout") as checkout:
            await gw.authorize(EUR, source=VISA, reference="otel-11")
        with tracer.start_as_current_span("other") as other:
            await gw.authorize(EUR, source=VISA, reference="otel-12")
    first, second = sorted(otel.named("paygate authorize"), key=lambda s: s.start_time or 0)
    assert first.parent is not None and second.parent is not None
    assert first.parent.span_id == checkout.get_span_context().span_id
    assert second.parent.span_id == other.get_span_context().span_id
    for operation in (first, second):
        [attempt] = otel.children(operation)
        assert attempt.kind is SpanKind.CLIENT


class _CountingRecords(MemoryRecordStore):
    """Counts the reads of its unknown outcomes."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def unknown_summary(self, provider: str) -> UnknownSummary:
        self.reads.append("unknown_summary")
        return super().unknown_summary(provider)

    def with_unknown(self, due_before: datetime | None = None) -> list[PaymentRecord]:
        self.reads.append("with_unknown")
        return super().with_unknown(due_before)


def test_both_unknown_outcome_gauges_read_the_store_once_per_collection(
    otel: Otel, sim: StripeSimulator
) -> None:
    records = _CountingRecords()
    with Gateway.for_stripe(
        API_KEY, base_url=sim.url, records=records, retry=RetryPolicy(max_attempts=1),
        on_event=otel.listener,
    ) as gw:  # fmt: skip
        sim.inject(Fault.server_error(503), times=None)
        for n in range(2):
            with pytest.raises(OutcomeUnknown):
                gw.authorize(EUR, source=VISA, reference=f"otel-gauge-{n}")
        records.reads.clear()
        for rounds in (1, 2):
            assert otel.points("paygate.unknown_outcomes.open") == [
                ({"paygate.provider": "stripe"}, 2)
            ]
            [(_, age)] = otel.points("paygate.unknown_outcomes.oldest_age")
            assert 0 <= age < 60
            # Each points() is a collection (two a round), each reading the store once for
            # both gauges, never the whole list of records.
            assert records.reads == ["unknown_summary"] * 2 * rounds
