"""The instruments of the OpenTelemetry listener. Every attribute is bounded: provider,
operation, outcome, error code, HTTP method, status, server; never a payment id or a key."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Final, Generic, TypeVar

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from paygate.telemetry._events import Gauges

__all__ = ["HTTP_DURATION_BUCKETS", "Instruments"]

T = TypeVar("T")
# The stable HTTP semantic conventions' advisory buckets for ``http.client.request.duration``.
HTTP_DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
_BREAKER_STATES: Final = ("closed", "open", "half-open")
_PROVIDER: Final = "paygate.provider"


class _Paired(Generic[T]):
    """One reading shared by two observable gauges collected together (the API gives each
    instrument its own callback): the first to ask reads, the other takes that reading if it
    asks within ``fresh`` seconds, else reads anew. So a collection reads the store once for
    both unknown-outcome gauges, and a reading is never older than ``fresh``."""

    def __init__(self, read: Callable[[], T], fresh: float = 1.0) -> None:
        self._read = read
        self._fresh = fresh
        self._left: tuple[int, float, T] | None = None  # (who read it, when, the reading)
        self._lock = threading.Lock()

    def take(self, side: int) -> T:
        """The reading for gauge ``side`` (0 or 1)."""
        with self._lock:
            left, self._left = self._left, None
        if left is not None and left[0] != side and time.monotonic() - left[1] < self._fresh:
            return left[2]
        reading = self._read()
        with self._lock:
            self._left = (side, time.monotonic(), reading)
        return reading


class Instruments:
    """One meter's instruments, and the gateways its observable gauges read."""

    def __init__(self, meter: Meter) -> None:
        self._gauges: dict[int, Gauges] = {}
        self._lock = threading.Lock()
        self._unknown = _Paired(self._read_unknown)
        self.http_duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=HTTP_DURATION_BUCKETS,
        )
        self.operation_duration = meter.create_histogram(
            "paygate.operation.duration",
            unit="s",
            description="Duration of gateway operations, every attempt and wait included.",
            explicit_bucket_boundaries_advisory=HTTP_DURATION_BUCKETS,
        )
        self.outcomes = meter.create_counter(
            "paygate.operation.outcomes",
            unit="{operation}",
            description="Gateway operations by how they ended.",
        )
        self.retries = meter.create_counter(
            "paygate.retries", unit="{retry}", description="Attempts retried, by the error."
        )
        self.replays = meter.create_counter(
            "paygate.idempotency.replays",
            unit="{operation}",
            description="Operations answered from the idempotency store, nothing sent.",
        )
        self.webhooks = meter.create_counter(
            "paygate.webhook.deliveries",
            unit="{event}",
            description="Webhook events by result (a delivery refused unread: invalid).",
        )
        self.escalated = meter.create_counter(
            "paygate.unknown_outcomes.escalated",
            unit="{outcome}",
            description="Unknown outcomes still unknown after the janitor's last check.",
        )
        meter.create_observable_gauge(
            "paygate.breaker.state",
            callbacks=[self._breaker],
            unit="1",
            description="1 for the breaker's current state, 0 for the others.",
        )
        meter.create_observable_gauge(
            "paygate.bulkhead.in_use",
            callbacks=[self._bulkhead],
            unit="{call}",
            description="Calls holding a bulkhead slot.",
        )
        meter.create_observable_gauge(
            "paygate.unknown_outcomes.open",
            callbacks=[self._unknown_open],
            unit="{outcome}",
            description="Unknown outcomes not settled yet.",
        )
        meter.create_observable_gauge(
            "paygate.unknown_outcomes.oldest_age",
            callbacks=[self._unknown_age],
            unit="s",
            description="Age of the oldest unknown outcome not settled yet.",
        )

    def watch(self, gauges: Gauges) -> None:
        with self._lock:
            self._gauges[id(gauges)] = gauges

    def forget(self, gauges: Gauges) -> None:
        with self._lock:
            self._gauges.pop(id(gauges), None)

    def _each(self) -> list[Gauges]:
        with self._lock:
            return list(self._gauges.values())

    def _breaker(self, options: CallbackOptions) -> Iterable[Observation]:
        for gauges in self._each():
            state = _read(gauges.breaker_state)
            if state is None:
                continue
            for name in _BREAKER_STATES:
                attributes = {_PROVIDER: gauges.provider, "paygate.breaker.state": name}
                yield Observation(int(name == state), attributes)

    def _bulkhead(self, options: CallbackOptions) -> Iterable[Observation]:
        for gauges in self._each():
            yield Observation(gauges.bulkhead_in_use(), {_PROVIDER: gauges.provider})

    def _read_unknown(self) -> list[tuple[str, tuple[int, float | None]]]:
        """Each gateway's unknown outcomes (its provider, their count and the oldest's age);
        one whose store cannot be read now is left out."""
        readings = [(gauges.provider, _read(gauges.unknown_open)) for gauges in self._each()]
        return [(provider, found) for provider, found in readings if found is not None]

    def _unknown_open(self, options: CallbackOptions) -> Iterable[Observation]:
        for provider, (count, _) in self._unknown.take(0):
            yield Observation(count, {_PROVIDER: provider})

    def _unknown_age(self, options: CallbackOptions) -> Iterable[Observation]:
        for provider, (_, age) in self._unknown.take(1):
            yield Observation(age or 0.0, {_PROVIDER: provider})


def _read(read: Callable[[], T]) -> T | None:
    """A gauge's reading, or None when its source cannot be read now (a store down)."""
    try:
        return read()
    except Exception:
        return None
