"""The demo's picture of what paygate emits: one payment's trace as a tree (spans and span
events) and a table of the metrics the demo produced, read back from OpenTelemetry's in-memory
exporter and reader. Needs opentelemetry-sdk (``make demo`` installs it); without it the demo
runs as before and says how to see the picture."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.tree import Tree

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from paygate.telemetry import OpenTelemetry

__all__ = ["DemoTelemetry", "demo_telemetry"]

MISSING = "install opentelemetry-sdk to end the demo with a trace and its metrics"
# What the metrics table shows of each point's attributes (the rest repeats the row's name).
_SHOWN = {
    "paygate.provider": "provider",
    "paygate.operation": "operation",
    "paygate.outcome": "outcome",
    "error.type": "error",
    "http.response.status_code": "status",
    "paygate.webhook.result": "result",
    "paygate.breaker.state": "state",
}


class DemoTelemetry:
    """An ``OpenTelemetry`` listener over private in-memory providers (never the global ones)."""

    def __init__(self) -> None:
        from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415 - optional
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: PLC0415
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: PLC0415
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: PLC0415
            InMemorySpanExporter,
        )

        from paygate.telemetry import OpenTelemetry  # noqa: PLC0415 - the otel extra

        self.spans: InMemorySpanExporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader: InMemoryMetricReader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.listener: OpenTelemetry = OpenTelemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def trace_tree(self) -> Tree | None:
        """The trace of the demo's most eventful payment call: the operation that made the
        most attempts (a lost answer, retried under its key)."""
        finished = list(self.spans.get_finished_spans())
        operations = [s for s in finished if s.name.startswith("paygate ")]
        if not operations:
            return None
        root = max(operations, key=lambda s: (_attrs(s).get("paygate.attempts", 0), s.start_time))
        tree = Tree(f"[bold]trace {_trace_id(root)}[/bold]")
        _grow(tree.add(_label(root)), root, finished)
        return tree

    def metrics_table(self) -> Table:
        table = Table(title="metrics the demo produced (in-memory reader)")
        for column in ("metric", "attributes", "value"):
            table.add_column(column, justify="right" if column == "value" else "left")
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        attributes = dict(point.attributes or {})
                        shown = ", ".join(
                            f"{short}={attributes[k]}"
                            for k, short in _SHOWN.items()
                            if k in attributes
                        )
                        table.add_row(metric.name, shown, _value(point, metric.unit or ""))
        return table

    def close(self) -> None:
        self.meter_provider.shutdown()
        self.tracer_provider.shutdown()


def demo_telemetry() -> DemoTelemetry | None:
    """The demo's telemetry, or None without opentelemetry (api and sdk)."""
    try:
        return DemoTelemetry()
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "opentelemetry":
            raise
        return None


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _trace_id(span: ReadableSpan) -> str:
    return f"{span.context.trace_id:032x}"[:16] + "…" if span.context is not None else "?"


def _ms(span: ReadableSpan) -> str:
    if span.start_time is None or span.end_time is None:
        return ""
    return f"{(span.end_time - span.start_time) / 1e6:.1f} ms"


def _label(span: ReadableSpan) -> str:
    a = _attrs(span)
    if "http.request.method" in a:
        status = a.get("http.response.status_code", a.get("error.type", "no answer"))
        resend = (
            f", resend {a['http.request.resend_count']}" if "http.request.resend_count" in a else ""
        )
        return f"[cyan]{span.name}[/cyan] {a.get('url.full', '')} → {status}{resend} ({_ms(span)})"
    facts = ", ".join(
        f"{k.removeprefix('paygate.')}={a[k]}"
        for k in ("paygate.provider", "paygate.outcome", "paygate.attempts",
                  "paygate.payment_id", "paygate.idempotency_key")
        if k in a
    )  # fmt: skip
    return f"[bold green]{span.name}[/bold green] {facts} ({_ms(span)})"


def _grow(branch: Tree, span: ReadableSpan, spans: Sequence[ReadableSpan]) -> None:
    """``span``'s events and child spans under ``branch``, in time order."""
    assert span.context is not None
    children = [
        s for s in spans if s.parent is not None and s.parent.span_id == span.context.span_id
    ]
    items: list[tuple[int, str, ReadableSpan | None]] = [
        (event.timestamp, _event(event.name, dict(event.attributes or {})), None)
        for event in span.events
    ]
    items += [(child.start_time or 0, "", child) for child in children]
    for _, text, child in sorted(items, key=lambda item: item[0]):
        if child is None:
            branch.add(text)
        else:
            _grow(branch.add(_label(child)), child, spans)


def _event(name: str, attributes: dict[str, Any]) -> str:
    facts = ", ".join(
        f"{k.rsplit('.', 1)[-1]}={round(v, 3) if isinstance(v, float) else v}"
        for k, v in attributes.items()
    )
    return f"[yellow]• {name}[/yellow] {facts}"


def _value(point: Any, unit: str) -> str:
    count = getattr(point, "count", None)
    if count is not None:  # a histogram
        mean = point.sum / count if count else 0.0
        return f"{count}, mean {mean * 1000:.1f} ms" if unit == "s" else f"{count}"
    value = point.value
    return f"{value:.1f} s" if unit == "s" else str(value)
