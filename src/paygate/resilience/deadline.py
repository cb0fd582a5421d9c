"""The total deadline of one call, the per-attempt httpx timeout it allows, and the deadline of
the call in progress for everything the call does on its behalf.

A gateway enters its call's ``Deadline`` (``with deadline:``) for the whole call: the network
backend of its own HTTP transport cuts every socket operation to what is left of it, and the
shared stores cut every command to it (``time_left``). It is a context variable, so it follows
the call into the worker thread of an asyncio gateway's store call and never leaks into
another call, thread or task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType

from paygate.resilience.policies import Timeout

__all__ = ["Deadline", "current", "time_left"]

_CURRENT: ContextVar[Deadline | None] = ContextVar("paygate_deadline", default=None)


class Deadline:
    """A point on the monotonic clock by which the call must end."""

    __slots__ = ("_clock", "_end", "_tokens")

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds
        self._tokens: list[Token[Deadline | None]] = []

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def attempt_timeout(self, policy: Timeout) -> dict[str, float]:
        """The policy's per-phase timeouts, each cut to what is left of the deadline, as the
        ``timeout`` request extension httpx and httpcore document: a dict of ``connect``,
        ``read``, ``write`` and ``pool`` seconds (it is how httpx's own timeouts reach its
        transport; nothing is built but the dict)."""
        left = max(self.remaining(), 0.001)
        return {
            "connect": min(policy.connect, left),
            "read": min(policy.read, left),
            "write": min(policy.write, left),
            "pool": min(policy.pool, left),
        }

    def __enter__(self) -> Deadline:
        self._tokens.append(_CURRENT.set(self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _CURRENT.reset(self._tokens.pop())


def current() -> Deadline | None:
    """The deadline of the call in progress in this context, if any."""
    return _CURRENT.get()


def time_left(ceiling: float) -> float:
    """Seconds an operation on the current call's behalf may take: ``ceiling``, cut to what is
    left of the call's deadline when one is in progress (never below a millisecond, so an
    operation that must fail at once still gets a timeout rather than none)."""
    deadline = _CURRENT.get()
    if deadline is None:
        return ceiling
    return max(min(ceiling, deadline.remaining()), 0.001)
