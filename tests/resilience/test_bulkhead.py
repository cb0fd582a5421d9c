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
    assert time.monotonic() - started >= 0.04  # it waited for a slot
    assert full.value.retriable and "2 calls" in str(full.value)
    assert "within 0.05s" in str(full.value)  # the policy's wait, under the call's
    release.set()
    for t in holders:
        t.join()
    with bulkhead.slot(10):  # slots came back
        pass


def test_sync_bulkhead_wait_is_cut_by_the_call_deadline() -> None:
    bulkhead = Bulkhead("p", BulkheadPolicy(max_concurrent=1, max_wait=5))
    with bulkhead.slot(10), pytest.raises(BulkheadFull) as full, bulkhead.slot(0.0):
        pass
    assert "within 0s" in str(full.value)  # what was left of the call, not the policy's 5 s


async def test_async_bulkhead_waits_for_a_freed_slot_then_refuses() -> None:
    bulkhead = AsyncBulkhead("p", BulkheadPolicy(max_concurrent=1, max_wait=0.2))

    async def hold(release: asyncio.Event) -> str:
        async with bulkhead.slot(10):
            await release.wait()
        return "ran"

    async def wait_then(release: asyncio.Event) -> str:
        # Runs once both callers have reached the bulkhead (tasks start in order).
        await asyncio.sleep(0)
        release.set()
        return "released"

    # The second caller waits for the first, which frees its slot within max_wait: both run.
    freed, free = asyncio.Event(), asyncio.Event()
    free.set()
    results = await asyncio.gather(hold(freed), hold(free), wait_then(freed))
    assert results == ["ran", "ran", "released"]
    # Now the first holds its slot past max_wait: the second is refused.
    kept = asyncio.Event()
    first = asyncio.create_task(hold(kept))
    await asyncio.sleep(0)  # the first has its slot
    with pytest.raises(BulkheadFull) as full:
        await hold(free)
    kept.set()
    assert await first == "ran" and "within 0.2s" in str(full.value)
