"""The total deadline of one call, and the per-attempt httpx timeout it allows."""

from __future__ import annotations

import time
from collections.abc import Callable

from paygate.resilience.policies import Timeout


class Deadline:
    """A point on the monotonic clock by which the call must end."""

    __slots__ = ("_clock", "_end")

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def attempt_timeout(self, policy: Timeout) -> dict[str, float]:
        """The policy's per-phase timeouts, each cut to what is left of the deadline, as the
        ``timeout`` extension of an ``httpx.Request`` (what ``httpx.Timeout.as_dict()`` gives,
        without building one on every attempt)."""
        left = max(self.remaining(), 0.001)
        return {
            "connect": min(policy.connect, left),
            "read": min(policy.read, left),
            "write": min(policy.write, left),
            "pool": min(policy.pool, left),
        }
