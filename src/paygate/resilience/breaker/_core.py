"""What a breaker holds and decides without I/O: its provider, policy, state backend and
clock, and this instance's probe flag. The steps that read and write the state are written once,
for asyncio (``_async.py``); their blocking twin (``_sync.py``) is generated from it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, cast

from paygate.errors import CircuitOpen
from paygate.resilience.breaker._backend import MemoryState, StateBackend
from paygate.resilience.breaker._state import Decision, Phase, admit
from paygate.resilience.policies import BreakerPolicy

if TYPE_CHECKING:
    from paygate.resilience.breaker import Admission, CircuitBreaker

__all__ = ["AdmissionCore", "BreakerCore"]


class BreakerCore:
    """A breaker's parts and the decisions that need no I/O."""

    admission: ClassVar[type[Admission]]  # what admitting an attempt gives (CircuitBreaker's)

    def __init__(
        self,
        provider: str,
        policy: BreakerPolicy,
        storage: StateBackend | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.provider = provider
        self.policy = policy
        self.backend: StateBackend = storage if storage is not None else MemoryState()
        self._clock = clock
        # This instance's probe flag: one probe at a time here, whatever the backend says.
        self._probe_lock = threading.Lock()
        self._probing = False

    @property
    def fallbacks(self) -> int:
        """How many times the shared state was unreachable and a local breaker took over
        (the ``paygate_breaker_storage_fallbacks_total`` counter); 0 for a local backend."""
        return self.backend.fallbacks

    def check(self) -> None:
        """Raise ``CircuitOpen`` now, with no I/O and nothing built, when a local breaker is
        open and not yet due a probe. A shared breaker's state is read only by ``admit``, so
        the calls that go through pay no extra round trip for this check."""
        if not self.policy.enabled or self.backend.shared:
            return
        if admit(self.backend.read(), self.policy, self._clock()) is Decision.REFUSE:
            raise self._open_error()

    def _admitted(self, probe: bool) -> Admission:
        return self.admission(cast("CircuitBreaker", self), probe)

    def _open_error(self) -> CircuitOpen:
        return CircuitOpen(
            f"circuit for {self.provider} is open after repeated provider failures; "
            f"next probe within {self.policy.reset_timeout}s",
            provider=self.provider,
        )

    def _take_probe_flag(self) -> None:
        with self._probe_lock:
            if self._probing:
                raise self._open_error()
            self._probing = True

    def _end_probe_flag(self) -> None:
        with self._probe_lock:
            self._probing = False


class AdmissionCore:
    """One admitted attempt of ``breaker``; ``probe``: it is the half-open probe."""

    __slots__ = ("_breaker", "probe")

    def __init__(self, breaker: CircuitBreaker, probe: bool) -> None:
        self._breaker = breaker
        self.probe = probe

    @property
    def phase(self) -> Phase:
        """The phase the attempt was admitted in, which decides what its outcome does."""
        return Phase.HALF_OPEN if self.probe else Phase.CLOSED
