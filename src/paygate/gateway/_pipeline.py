"""What one gateway is made of: its provider's adapter, its two stores, its policies and its
circuit breaker, checked against each other once, at construction. No I/O here."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from paygate.adapters.base import Adapter
from paygate.errors import ConfigurationError
from paygate.idempotency import IdempotencyStore, MemoryStore
from paygate.records import MemoryRecordStore, RecordStore
from paygate.resilience.breaker import CircuitBreaker, StateBackend
from paygate.resilience.clock import SYSTEM_CLOCK, Clock
from paygate.resilience.policies import (
    BreakerPolicy,
    BulkheadPolicy,
    HttpPolicy,
    IdempotencyPolicy,
    LimitsPolicy,
    ReattemptPolicy,
    RetryPolicy,
    Timeout,
)
from paygate.telemetry import Listener, Telemetry

__all__ = ["Pipeline", "listeners_of"]


def listeners_of(on_event: Listener | Sequence[Listener] | None) -> tuple[Listener, ...]:
    """``on_event`` as a gateway takes it (one callable, several, or none) as a tuple."""
    if on_event is None:
        return ()
    if callable(on_event):
        return (on_event,)
    return tuple(on_event)


class Pipeline:
    """The parts of one gateway. A store passed in may be shared with other gateways: its
    owner closes it; one the gateway made (or opened from settings) is the gateway's own."""

    def __init__(
        self,
        adapter: Adapter,
        *,
        store: IdempotencyStore | None = None,
        records: RecordStore | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        breaker_state: StateBackend | None = None,
        bulkhead: BulkheadPolicy | None = None,
        idempotency: IdempotencyPolicy | None = None,
        limits: LimitsPolicy | None = None,
        http: HttpPolicy | None = None,
        reattempts: ReattemptPolicy | None = None,
        clock: Clock | None = None,
        on_event: Listener | Sequence[Listener] | None = None,
    ) -> None:
        self.adapter = adapter
        self.provider = adapter.name
        self.store: IdempotencyStore = store if store is not None else MemoryStore()
        self.records: RecordStore = records if records is not None else MemoryRecordStore()
        self.timeout = timeout or Timeout()
        self.retry = retry or RetryPolicy()
        self.bulkhead = bulkhead or BulkheadPolicy()
        self.idempotency = idempotency or IdempotencyPolicy()
        self.limits = limits or LimitsPolicy()
        self.http = http or HttpPolicy()
        self.reattempts = reattempts or ReattemptPolicy()
        self.clock: Clock = clock if clock is not None else SYSTEM_CLOCK
        self.telemetry = Telemetry(listeners_of(on_event))
        # Shared breaker state (Redis) makes every instance see one provider's breaker open.
        self.breaker = CircuitBreaker(
            adapter.name, breaker or BreakerPolicy(), breaker_state, clock=self.clock.time
        )
        self.owns_store = store is None
        self.owns_records = records is None
        self.owns_breaker_state = False
        if self.idempotency.lease <= self.timeout.total:
            raise ConfigurationError(
                f"idempotency lease ({self.idempotency.lease}s) must outlast the call "
                f"deadline ({self.timeout.total}s), or a live call's key could be taken over"
            )

    def own_everything(self) -> None:
        """The stores and the breaker state were opened for this gateway alone (settings)."""
        self.owns_store = self.owns_records = self.owns_breaker_state = True

    def http_limits(self) -> httpx.Limits:
        """The connection pool a gateway's own HTTP client gets: as many as the bulkhead lets
        through at once, kept alive."""
        size = self.bulkhead.max_concurrent
        return httpx.Limits(max_connections=size, max_keepalive_connections=size)
