"""What a gateway reports to the observable gauges (``paygate.telemetry.Gauges``): its
breaker's state, its bulkhead's slots in use, and the unknown outcomes its records hold."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from paygate.gateway._pipeline import Pipeline

__all__ = ["GatewayGauges"]


class _Slots(Protocol):
    @property
    def in_use(self) -> int: ...


class GatewayGauges:
    """Read when a metric reader collects (its thread, not the caller's)."""

    def __init__(self, pipeline: Pipeline, bulkhead: _Slots) -> None:
        self.provider = pipeline.provider
        self._pipeline = pipeline
        self._bulkhead = bulkhead

    def __repr__(self) -> str:
        return f"paygate.GatewayGauges({self.provider!r})"

    def breaker_state(self) -> str | None:
        """``closed``, ``open`` or ``half-open``; None with the breaker off."""
        breaker = self._pipeline.breaker
        return breaker.state if breaker.policy.enabled else None

    def bulkhead_in_use(self) -> int:
        return self._bulkhead.in_use

    def unknown_open(self) -> tuple[int, float | None]:
        """How many unknown outcomes this provider's records hold, and the oldest's age in
        seconds (None when there is none): one store read (``RecordStore.unknown_summary``)."""
        summary = self._pipeline.records.unknown_summary(self.provider)
        if summary.oldest is None:
            return summary.count, None
        return summary.count, (datetime.now(UTC) - summary.oldest).total_seconds()
