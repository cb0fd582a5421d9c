"""``FakeClock``, a clock that moves only when told to, and ``zero_backoff``, the switch that
turns every retry wait to zero."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

from paygate.resilience.retry import ZERO_BACKOFF

__all__ = ["FakeClock", "zero_backoff"]


class FakeClock:
    """A gateway's clock (``clock=``) for tests: time stands still until ``advance()`` moves
    it, or until the gateway sleeps, which moves it by the sleep and returns at once.

    So a retry's backoff, a ``Retry-After``, the wait for a key another call holds and a
    circuit breaker's reset timeout take no real time, and a test reads what was waited in
    ``sleeps``; a handler of ``MockProvider`` that calls ``advance()`` is a provider that took
    that long, and the call's deadline sees it. The wall clock (``time()``) starts at the real
    one, so that a webhook signed now is on time. Safe to share between threads.
    """

    __slots__ = ("_elapsed", "_lock", "_start", "sleeps")

    def __init__(self, start: float | None = None) -> None:
        """``start``: the wall clock's first reading (seconds since the epoch; now by
        default)."""
        self._start = time.time() if start is None else start
        self._elapsed = 0.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []  # every sleep of a gateway, in order

    def __repr__(self) -> str:
        return f"paygate.testing.FakeClock(elapsed={self._elapsed!r})"

    @property
    def elapsed(self) -> float:
        """Seconds the clock has moved since it was made."""
        return self._elapsed

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds``."""
        if seconds < 0:
            raise ValueError(f"a clock does not go back ({seconds!r} seconds)")
        with self._lock:
            self._elapsed += seconds

    def monotonic(self) -> float:
        return self._elapsed

    def time(self) -> float:
        return self._start + self._elapsed

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._elapsed += max(seconds, 0.0)

    async def sleep_async(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)  # a sleep lets other tasks run, however short


@contextlib.contextmanager
def zero_backoff() -> Iterator[None]:
    """Within this block, every gateway's retries wait no time between attempts, whatever
    their ``RetryPolicy`` and the provider's ``Retry-After`` (which still ends a call when it
    is longer than the policy's ``max_retry_after``). Attempts, and what is retried, do not
    change. Blocks nest and may be open in several threads at once."""
    ZERO_BACKOFF.turn_on()
    try:
        yield
    finally:
        ZERO_BACKOFF.turn_off()
