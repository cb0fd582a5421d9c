"""Bounded concurrency per provider: a slot, a bounded wait for one, then BulkheadFull."""

from __future__ import annotations

import asyncio
import threading

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

    def slot(self, max_wait: float) -> _Slot:
        """A context that takes one slot on entry, within ``max_wait`` (and the policy's).
        (Classes, not generator context managers: they are on every call's path.)"""
        return _Slot(self, min(self._policy.max_wait, max_wait))

    def _take(self, wait: float) -> None:
        if not self._slots.acquire(timeout=wait):
            raise _full(self._provider, self._policy)

    def _give_back(self) -> None:
        self._slots.release()


class _Slot:
    """One slot, taken on entry and released on exit."""

    __slots__ = ("_bulkhead", "_wait")

    def __init__(self, bulkhead: Bulkhead, wait: float) -> None:
        self._bulkhead = bulkhead
        self._wait = wait

    def __enter__(self) -> None:
        self._bulkhead._take(self._wait)

    def __exit__(self, *exc: object) -> None:
        self._bulkhead._give_back()


class AsyncBulkhead:
    """Bulkhead for the async gateway; bound to the event loop that first uses it."""

    def __init__(self, provider: str, policy: BulkheadPolicy) -> None:
        self._provider = provider
        self._policy = policy
        self._slots = asyncio.Semaphore(policy.max_concurrent)

    def slot(self, max_wait: float) -> _AsyncSlot:
        """A context that takes one slot on entry, within ``max_wait`` (and the policy's)."""
        return _AsyncSlot(self, min(self._policy.max_wait, max_wait))

    async def _take(self, wait: float) -> None:
        if self._slots.locked():
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=wait)
            except TimeoutError:
                raise _full(self._provider, self._policy) from None
        else:
            await self._slots.acquire()

    def _give_back(self) -> None:
        self._slots.release()


class _AsyncSlot:
    """One slot, taken on entry and released on exit."""

    __slots__ = ("_bulkhead", "_wait")

    def __init__(self, bulkhead: AsyncBulkhead, wait: float) -> None:
        self._bulkhead = bulkhead
        self._wait = wait

    async def __aenter__(self) -> None:
        await self._bulkhead._take(self._wait)

    async def __aexit__(self, *exc: object) -> None:
        self._bulkhead._give_back()
