"""Bounded concurrency per provider: a slot, a bounded wait for one, then ``BulkheadFull``.
``_async.py`` is the hand-written twin; ``_sync.py`` is generated from it."""

from __future__ import annotations

from paygate._primitives import AsyncSemaphore
from paygate.errors import BulkheadFull
from paygate.resilience.policies import BulkheadPolicy


class AsyncBulkhead:
    """At most ``policy.max_concurrent`` calls to one provider at once."""

    def __init__(self, provider: str, policy: BulkheadPolicy) -> None:
        self._provider = provider
        self._policy = policy
        self._slots = AsyncSemaphore(policy.max_concurrent)

    @property
    def in_use(self) -> int:
        """Calls holding a slot now."""
        return self._slots.in_use

    def slot(self, max_wait: float) -> _AsyncSlot:
        """A context that takes one slot on entry, within ``max_wait`` (and the policy's).
        (A class, not a generator context manager: it is on every call's path.)"""
        return _AsyncSlot(self, min(self._policy.max_wait, max_wait))

    async def take(self, wait: float) -> None:
        if not await self._slots.acquire(wait):
            raise BulkheadFull(
                f"{self._policy.max_concurrent} calls to {self._provider} already in flight; "
                f"no slot freed within {wait:g}s",
                provider=self._provider,
            )

    def give_back(self) -> None:
        self._slots.release()


class _AsyncSlot:
    """One slot, taken on entry and released on exit."""

    __slots__ = ("_bulkhead", "_wait")

    def __init__(self, bulkhead: AsyncBulkhead, wait: float) -> None:
        self._bulkhead = bulkhead
        self._wait = wait

    async def __aenter__(self) -> None:
        await self._bulkhead.take(self._wait)

    async def __aexit__(self, *exc: object) -> None:
        self._bulkhead.give_back()
