"""The clock a gateway reads and sleeps on: the system's, or one a test puts in its place.

A gateway reads time three ways: the monotonic clock its calls' deadlines are measured on, the
wall clock its circuit breaker stamps an opening with (instances sharing a breaker compare
it), and sleeping (a retry's backoff, a ``Retry-After``, the wait for a key another call
holds). All three come from one ``Clock`` (``Gateway(..., clock=...)``), so a test that gives a
gateway ``paygate.testing.FakeClock`` sees every wait and moves time on at will, sleeping never.

What a clock does not reach: socket timeouts (the operating system's) and the wait for a
bulkhead slot (a semaphore's); both are measured in real seconds, cut to what is left of the
deadline as the clock tells it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final, Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


class Clock(Protocol):
    """What a gateway asks of a clock."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines, waits)."""
        ...

    def time(self) -> float:
        """Seconds since the epoch (when a circuit breaker opened)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, blocking the calling thread."""
        ...

    async def sleep_async(self, seconds: float) -> None:
        """Wait ``seconds`` without blocking the event loop."""
        ...


class SystemClock:
    """The system's clocks and sleeps (``time``, ``asyncio``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "paygate.SystemClock()"

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def sleep_async(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK: Final = SystemClock()
