"""What paygate lets you see: typed events, OpenTelemetry traces and metrics, log fields.

* **Events.** Every gateway emits one stream of typed events (``OperationStarted``,
  ``AttemptEnded``, ``RetryScheduled``, ``RecordChanged``...). Give a gateway
  ``on_event=callable`` (or a list of them) to receive them; with none, nothing is built.
* **OpenTelemetry** (the ``otel`` extra: ``pip install 'paygate[otel]'``): ``OpenTelemetry()``
  is a listener that turns the events into spans and metrics through the OpenTelemetry API.
  paygate never configures an SDK or an exporter: the application's providers are used.
* **Logs.** Every line carries its facts as ``extra=`` fields (``log_fields``).

Idempotency keys never appear raw: events, spans and log fields carry ``key_digest(key)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paygate._extras import require_extra
from paygate.telemetry._emit import Telemetry, Watch, key_digest, outcome_of, safe_url
from paygate.telemetry._events import (
    AttemptEnded,
    BreakerRefused,
    BulkheadRefused,
    Call,
    Event,
    GatewayClosed,
    GatewayOpened,
    Gauges,
    IdempotencyReplayed,
    IdempotencyWaiting,
    Listener,
    OperationEnded,
    OperationStarted,
    Outcome,
    RecordChanged,
    RetryScheduled,
    UnknownEscalated,
    WebhookApplied,
)
from paygate.telemetry._logs import log_fields

if TYPE_CHECKING:
    from paygate.telemetry._otel import OpenTelemetry

__all__ = [
    "AttemptEnded",
    "BreakerRefused",
    "BulkheadRefused",
    "Call",
    "Event",
    "GatewayClosed",
    "GatewayOpened",
    "Gauges",
    "IdempotencyReplayed",
    "IdempotencyWaiting",
    "Listener",
    "OpenTelemetry",
    "OperationEnded",
    "OperationStarted",
    "Outcome",
    "RecordChanged",
    "RetryScheduled",
    "Telemetry",
    "UnknownEscalated",
    "Watch",
    "WebhookApplied",
    "key_digest",
    "log_fields",
    "outcome_of",
    "safe_url",
]


def __getattr__(name: str) -> Any:
    """``OpenTelemetry`` is imported on first use: paygate works without the ``otel`` extra."""
    if name == "OpenTelemetry":
        require_extra("otel", "paygate.telemetry.OpenTelemetry")
        from paygate.telemetry._otel import OpenTelemetry  # noqa: PLC0415 - the optional seam

        return OpenTelemetry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
