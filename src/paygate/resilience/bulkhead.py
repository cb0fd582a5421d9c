"""Bounded concurrency per provider: a slot, a bounded wait for one, then BulkheadFull."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from paygate.errors import BulkheadFull
from paygate.resilience.policies import BulkheadPolicy


def _full(provider: str, policy: BulkheadPolicy) -> BulkheadFull:
    return BulkheadFull(
        f"{policy.max_concurrent} calls to {provider} already in flight; "
        f"no slot freed within {policy.max_wait}s",
        provider=provider,
    )


class Bulkhead:
    """Thread-safe bulkhead for the sync gateway."""

    def __init__(self, provider: str, policy: BulkheadPolicy) -> None:
        self._provider = provider
        self._policy = policy
        self._slots = threading.BoundedSemaphore(policy.max_concurrent)

    @contextmanager
    def slot(self, max_wait: float) -> Iterator[None]:
        if not self._slots.acquire(timeout=min(self._policy.max_wait, max_wait)):
            raise _full(self._provider, self._policy)
        try:
            yield
        finally:
            self._slots.release()


class AsyncBulkhead:
    """Bulkhead for the async gateway; bound to the event loop that first uses it."""

    def __init__(self, provider: str, policy: BulkheadPolicy) -> None:
        self._provider = provider
        self._policy = policy
        self._slots = asyncio.Semaphore(policy.max_concurrent)

    @asynccontextmanager
    async def slot(self, max_wait: float) -> AsyncIterator[None]:
        if self._slots.locked():
            wait = min(self._policy.max_wait, max_wait)
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=wait)
            except TimeoutError:
                raise _full(self._provider, self._policy) from None
        else:
            await self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()
