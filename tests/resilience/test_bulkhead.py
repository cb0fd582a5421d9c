"""The bulkhead: bounded calls in flight, a bounded wait for a slot, then BulkheadFull."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from paygate import BulkheadPolicy
from paygate.errors import BulkheadFull
from paygate.resilience.bulkhead import AsyncBulkhead, Bulkhead


def test_sync_bulkhead_waits_then_refuses() -> None:
    bulkhead = Bulkhead("p", BulkheadPolicy(max_concurrent=2, max_wait=0.05))
    release = threading.Event()
    entered = threading.Barrier(3)

    def occupy() -> None:
        with bulkhead.slot(10):
            entered.wait()
            release.wait()

    holders = [threading.Thread(target=occupy) for _ in range(2)]
    for t in holders:
        t.start()
    entered.wait()
    started = time.monotonic()
    with pytest.raises(BulkheadFull) as full, bulkhead.slot(10):
        pass
    assert 0.04 <= time.monotonic() - started < 1.0
    assert full.value.retriable and "2 calls" in str(full.value)
    release.set()
    for t in holders:
        t.join()
    with bulkhead.slot(10):  # slots came back
        pass


def test_sync_bulkhead_wait_is_cut_by_the_call_deadline() -> None:
    bulkhead = Bulkhead("p", BulkheadPolicy(max_concurrent=1, max_wait=5))
    with bulkhead.slot(10):
        started = time.monotonic()
        with pytest.raises(BulkheadFull), bulkhead.slot(0.05):
            pass
        assert time.monotonic() - started < 1.0


async def test_async_bulkhead_waits_for_a_freed_slot_then_refuses() -> None:
    bulkhead = AsyncBulkhead("p", BulkheadPolicy(max_concurrent=1, max_wait=0.2))

    async def hold(seconds: float) -> str:
        async with bulkhead.slot(10):
            await asyncio.sleep(seconds)
        return "ran"

    # The second caller waits 0.05 s for the first, within max_wait: both run.
    assert await asyncio.gather(hold(0.05), hold(0)) == ["ran", "ran"]
    # Now the first holds longer than max_wait: the second is refused.
    results = await asyncio.gather(hold(0.5), hold(0), return_exceptions=True)
    assert results[0] == "ran" and isinstance(results[1], BulkheadFull)
