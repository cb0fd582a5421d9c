"""Where a breaker's state lives between steps: the ``StateBackend`` protocol, and
``MemoryState``, the state of one process (Redis: ``paygate.resilience.shared_breaker``)."""

from __future__ import annotations

import threading
from typing import Protocol

from paygate.resilience.breaker._state import CLOSED, BreakerState

__all__ = ["MemoryState", "StateBackend"]


class StateBackend(Protocol):
    """Where a breaker's state lives between steps, with blocking and awaited verbs.

    ``read`` returns the state; ``write(before, after)`` makes ``after`` the state, ``before``
    being the state it was decided on: False when the backend refused it because the state is
    no longer ``before`` (the step then decides again). ``take_probe`` claims the one half-open
    probe slot among every instance sharing the state (True when it was free) for ``lease``
    seconds at most, and ``end_probe`` frees it. A backend never raises for its own I/O: it
    falls back instead, and counts it in ``fallbacks``.
    """

    shared: bool
    fallbacks: int

    def read(self) -> BreakerState: ...
    def write(self, before: BreakerState, after: BreakerState) -> bool: ...
    def take_probe(self, lease: float) -> bool: ...
    def end_probe(self) -> None: ...
    async def read_async(self) -> BreakerState: ...
    async def write_async(self, before: BreakerState, after: BreakerState) -> bool: ...
    async def take_probe_async(self, lease: float) -> bool: ...
    async def end_probe_async(self) -> None: ...
    def close(self) -> None: ...
    async def aclose(self) -> None: ...


class MemoryState:
    """A breaker's state in this process: read without a lock, written by compare and set.
    Its probe slot is the breaker's own probe flag (one breaker per state)."""

    shared = False
    fallbacks = 0

    def __init__(self, state: BreakerState = CLOSED) -> None:
        self._state = state
        self._lock = threading.Lock()

    def read(self) -> BreakerState:
        return self._state

    def write(self, before: BreakerState, after: BreakerState) -> bool:
        with self._lock:
            if self._state is not before:
                return False
            self._state = after
            return True

    def take_probe(self, lease: float) -> bool:
        return True

    def end_probe(self) -> None:
        """Nothing to free: the breaker's own flag is the slot."""

    async def read_async(self) -> BreakerState:
        return self.read()

    async def write_async(self, before: BreakerState, after: BreakerState) -> bool:
        return self.write(before, after)

    async def take_probe_async(self, lease: float) -> bool:
        return True

    async def end_probe_async(self) -> None:
        """Nothing to free: the breaker's own flag is the slot."""

    def close(self) -> None:
        """Nothing to release: the state lives in this process."""

    async def aclose(self) -> None:
        """Nothing to release: the state lives in this process."""
