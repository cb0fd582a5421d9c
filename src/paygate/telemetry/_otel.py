"""``OpenTelemetry``: an event listener that turns a gateway's events into spans and metrics
through the OpenTelemetry API (the ``otel`` extra). It never configures an SDK or exporter:
the global providers are used, or the ones given.

* One INTERNAL span per operation (``paygate authorize``), a child of the caller's current
  span (its context is read when the operation starts, sync or async), with ``paygate.*``
  attributes; its events are the breaker and bulkhead refusals, idempotency replays and
  waits, retries, record transitions and webhook applications. While the operation runs it is
  the current span (``context.attach`` when it starts, ``context.detach`` when it ends, in
  the caller's thread or task: a gateway emits both there, a cancelled call's end included),
  so a span another instrumentation starts inside the call (an HTTP client's, a log
  handler's) is its child.
* One CLIENT span per HTTP attempt, a child of the operation's, named by its method, with the
  stable HTTP client semantic conventions' attributes.
* The metrics of ``_otel_metrics.Instruments``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import Token
from typing import Any, Final

from opentelemetry import context, metrics, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from paygate import __version__
from paygate.telemetry._events import (
    AttemptEnded,
    BreakerRefused,
    BulkheadRefused,
    Call,
    Event,
    GatewayClosed,
    GatewayOpened,
    IdempotencyReplayed,
    IdempotencyWaiting,
    OperationEnded,
    OperationStarted,
    Outcome,
    RecordChanged,
    RetryScheduled,
    UnknownEscalated,
    WebhookApplied,
)
from paygate.telemetry._otel_metrics import Instruments

__all__ = ["OpenTelemetry"]

_SCOPE: Final = "paygate"
# Outcomes that are the operation's failure (a decline is the provider's answer, not an error).
_FAILED: Final = frozenset({Outcome.RETRIABLE, Outcome.TERMINAL, Outcome.UNKNOWN,
                            Outcome.INTERRUPTED})  # fmt: skip


def _base(call: Call) -> dict[str, Any]:
    return {"paygate.provider": call.provider, "paygate.operation": call.operation}


def _close(span: Span, event: OperationEnded, attributes: dict[str, Any]) -> None:
    """End an operation's span with what its end tells."""
    span.set_attributes(attributes)
    span.set_attribute("paygate.attempts", event.attempts)
    if event.payment_id is not None:
        span.set_attribute("paygate.payment_id", event.payment_id)
    if event.key_digest is not None:
        span.set_attribute("paygate.idempotency_key", event.key_digest)
    if event.request_id is not None:
        span.set_attribute("paygate.provider_request_id", event.request_id)
    if event.outcome in _FAILED:
        span.set_status(Status(StatusCode.ERROR, event.error_code or event.outcome.value))
    span.end()


class OpenTelemetry:
    """Pass it as ``on_event=`` (one instance may serve several gateways)::

        gw = Gateway.for_stripe(key, on_event=OpenTelemetry())

    ``tracer_provider`` / ``meter_provider``: the providers to use instead of the global ones.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider=meter_provider)
        self._instruments = Instruments(meter)
        # Open operation spans, by ``Call.id``, with the token that made each current.
        self._spans: dict[int, tuple[Span, Token[Context]]] = {}
        self._lock = threading.Lock()
        self._handlers: dict[type, Callable[[Any], None]] = {
            OperationStarted: self._started,
            OperationEnded: self._ended,
            AttemptEnded: self._attempt,
            RetryScheduled: self._retry,
            BreakerRefused: self._breaker_refused,
            BulkheadRefused: self._bulkhead_refused,
            IdempotencyReplayed: self._replayed,
            IdempotencyWaiting: self._waiting,
            RecordChanged: self._record,
            WebhookApplied: self._webhook,
            UnknownEscalated: self._escalated,
            GatewayOpened: lambda e: self._instruments.watch(e.gauges),
            GatewayClosed: lambda e: self._instruments.forget(e.gauges),
        }

    def __repr__(self) -> str:
        return "paygate.telemetry.OpenTelemetry()"

    def __call__(self, event: Event) -> None:
        self._handlers[type(event)](event)

    def _span(self, call: Call | None) -> Span | None:
        if call is None:
            return None
        with self._lock:
            opened = self._spans.get(call.id)
        return None if opened is None else opened[0]

    def _note(self, call: Call | None, name: str, attributes: dict[str, Any]) -> None:
        span = self._span(call)
        if span is not None:
            span.add_event(name, attributes)

    # -- operations ------------------------------------------------------------------------
    def _started(self, event: OperationStarted) -> None:
        call = event.call
        attributes = _base(call)
        if call.payment_id is not None:
            attributes["paygate.payment_id"] = call.payment_id
        span = self._tracer.start_span(  # the caller's current span is its parent
            f"paygate {call.operation}",
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=call.started_ns,
        )
        token = context.attach(trace.set_span_in_context(span))
        with self._lock:
            self._spans[call.id] = (span, token)

    def _ended(self, event: OperationEnded) -> None:
        call = event.call
        with self._lock:
            opened = self._spans.pop(call.id, None)
        attributes = _base(call) | {"paygate.outcome": event.outcome.value}
        if event.error_code is not None:
            attributes["error.type"] = event.error_code
        if opened is None:
            self._measure(event, attributes)
            return
        span, token = opened
        try:
            self._measure(event, attributes)
            _close(span, event, attributes)
        finally:
            context.detach(token)  # whatever happened above: the caller's context comes back

    def _measure(self, event: OperationEnded, attributes: dict[str, Any]) -> None:
        self._instruments.outcomes.add(1, attributes)
        self._instruments.operation_duration.record(event.elapsed, attributes)

    # -- attempts --------------------------------------------------------------------------
    def _attempt(self, event: AttemptEnded) -> None:
        call = event.call
        common: dict[str, Any] = {
            "http.request.method": event.method,
            "server.address": event.server_address,
            "server.port": event.server_port,
        }
        if event.status_code is not None:
            common["http.response.status_code"] = event.status_code
        if event.error_type is not None:
            common["error.type"] = event.error_type
        self._instruments.http_duration.record(event.elapsed, common | _base(call))
        parent = self._span(call)
        attributes = common | {"url.full": event.url}
        if event.resend_count:
            attributes["http.request.resend_count"] = event.resend_count
        if event.request_id is not None and event.request_id_header is not None:
            # The conventions' captured response header (a string array, its name lowercased):
            # the one header the adapter declares, never one that could carry a credential.
            header = f"http.response.header.{event.request_id_header.lower()}"
            attributes[header] = (event.request_id,)
        span = self._tracer.start_span(
            event.method,
            context=trace.set_span_in_context(parent) if parent is not None else None,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=event.started_ns,
        )
        if event.error_type is not None:
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=event.started_ns + int(event.elapsed * 1e9))

    def _retry(self, event: RetryScheduled) -> None:
        attributes = _base(event.call) | {"error.type": event.error_code}
        self._instruments.retries.add(1, attributes)
        self._note(
            event.call,
            "paygate.retry",
            {"paygate.attempt": event.attempt, "paygate.retry.wait_s": event.wait,
             "error.type": event.error_code},
        )  # fmt: skip

    # -- refusals, replays, waits ----------------------------------------------------------
    def _breaker_refused(self, event: BreakerRefused) -> None:
        self._note(event.call, "paygate.breaker.refused", {})

    def _bulkhead_refused(self, event: BulkheadRefused) -> None:
        self._note(event.call, "paygate.bulkhead.refused", {})

    def _replayed(self, event: IdempotencyReplayed) -> None:
        self._instruments.replays.add(1, _base(event.call))
        self._note(
            event.call,
            "paygate.idempotency.replayed",
            {"paygate.idempotency_key": event.key_digest},
        )

    def _waiting(self, event: IdempotencyWaiting) -> None:
        self._note(
            event.call, "paygate.idempotency.waiting", {"paygate.idempotency_key": event.key_digest}
        )

    # -- records and webhooks --------------------------------------------------------------
    def _record(self, event: RecordChanged) -> None:
        attributes = {
            "paygate.record_id": event.record_id,
            "paygate.record.from": event.from_status or "(new)",
            "paygate.record.to": event.to_status,
            "paygate.record.cause": event.cause,
        }
        if event.payment_id is not None:
            attributes["paygate.payment_id"] = event.payment_id
        if event.call is not None:
            self._note(event.call, "paygate.record.transition", attributes)
        else:  # a check of an unknown outcome: on whatever span is current
            trace.get_current_span().add_event("paygate.record.transition", attributes)

    def _webhook(self, event: WebhookApplied) -> None:
        result = {"paygate.webhook.result": event.result}
        self._instruments.webhooks.add(1, _base(event.call) | result)
        attributes = result | {"paygate.webhook.event_type": event.event_type}
        if event.payment_id is not None:
            attributes["paygate.payment_id"] = event.payment_id
        self._note(event.call, "paygate.webhook.applied", attributes)

    def _escalated(self, event: UnknownEscalated) -> None:
        attributes = {"paygate.provider": event.provider, "paygate.operation": event.operation}
        self._instruments.escalated.add(1, attributes)
        trace.get_current_span().add_event(
            "paygate.unknown.escalated",
            attributes | {"paygate.record_id": event.record_id,
                          "paygate.idempotency_key": event.key_digest,
                          "paygate.attempts": event.attempts},
        )  # fmt: skip
