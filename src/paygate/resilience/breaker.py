"""The per-provider circuit breaker: paygate's own, a state table and two pure functions.

Why not pybreaker: its public API cannot serve this gateway. Its storage is synchronous, so an
``AsyncGateway`` with the state in Redis would block its event loop; its asyncio path needs
tornado, and its ``call()`` on a coroutine function counts the un-awaited coroutine as a
success; and deciding on one read of a shared state (one ``MGET``, one pipelined write) means
running its state objects on a storage swapped per call under its private lock. Driving it that
way tied paygate to one minor release of it. The breaker itself is small: it is written here.

* **The state** (``BreakerState``) is a phase (``closed``, ``open``, ``half-open``), the
  consecutive health failures, the successful probes, and when it last opened.
* **The transitions are data** (``RULES``, ``ENTRY``): what an outcome does to the counts and
  which phase it moves to once a threshold holds, keyed by the phase the attempt was admitted
  in, and what entering a phase resets. ``admit(state, policy, now)`` decides whether an attempt
  goes out (``Decision``); ``record(state, admitted, event, policy, now)`` returns the next
  state. Both are pure; the clock is injected (``CircuitBreaker(..., clock=...)``).
* **Where the state lives** is a ``StateBackend``: ``MemoryState`` (the default, this process)
  or ``paygate.resilience.shared_breaker`` (Redis, so every instance sees a breaker another
  instance opened). Each step of the breaker (admit, record, abandon) is written once, as a
  generator that yields the I/O it needs (read the state, write what changed, take or end the
  probe slot); ``admit()`` performs that I/O with blocking calls, ``admit_async()`` awaits it.
  A write names the state it was decided on: ``MemoryState`` applies it only if that is still
  the state (compare and set), so a failure's count and the trip it causes are one change that
  no concurrent success can split; the step then decides again on the state it finds.

Only provider-health failures count (5xx, timeouts, connection errors). Declines, invalid
requests and other terminal answers prove the provider is healthy and count as successes.
In the half-open state one probe at a time is let through; others are refused.

Async twins are named with an ``_async`` suffix (``admit_async``, ``record_async``,
``read_async``), the names the gateway already used; ``aclose`` alone keeps the name httpx,
redis and ``contextlib.aclosing`` give it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Final, Protocol, TypeVar, cast

from paygate.errors import CircuitOpen, ErrorCode, PaymentError
from paygate.resilience.policies import BreakerPolicy

__all__ = [
    "CLOSED",
    "ENTRY",
    "HEALTH_FAILURES",
    "RULES",
    "Admission",
    "BreakerState",
    "CircuitBreaker",
    "Decision",
    "Event",
    "MemoryState",
    "Phase",
    "StateBackend",
    "admit",
    "counts_as_failure",
    "record",
    "saved_failure",
]

HEALTH_FAILURES: Final = frozenset(
    {ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.TIMEOUT, ErrorCode.NETWORK}
)

T = TypeVar("T")


def counts_as_failure(error: PaymentError | None) -> bool:
    """A provider-health failure: a 5xx, a timeout, a network failure. Not a 5xx the provider
    says not to repeat (Stripe replays the 500 it saved under a key, marked so): that is its
    answer to one request, given again, not news of its health."""
    if error is None or error.code not in HEALTH_FAILURES:
        return False
    return not saved_failure(error)


def saved_failure(error: PaymentError) -> bool:
    """Whether ``error`` is a 5xx the provider keeps under the key and will give again to any
    repeat (it says not to repeat it): repeating the call cannot settle what it did."""
    return error.provider_retry_hint is False and (error.http_status or 0) >= 500


# -- the state table -------------------------------------------------------------------------------
class Phase(StrEnum):
    """Where the breaker is; the values are what the shared state stores."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class Event(Enum):
    """What happens to a breaker: an attempt's outcome, or the reset timeout passing."""

    SUCCESS = "success"  # any answer that is not a health failure
    FAILURE = "failure"  # a health failure (``counts_as_failure``)
    DUE = "due"  # open long enough: a probe goes out


class Count(Enum):
    KEEP = "keep"
    ADD = "add"
    RESET = "reset"


class Threshold(Enum):
    """When a rule's move happens: always, or once a count reaches the policy's threshold."""

    ALWAYS = "always"
    FAILURES = "failure_threshold"
    SUCCESSES = "success_threshold"


@dataclass(frozen=True, slots=True)
class Rule:
    """What one event does: to the counts first, then the move to ``to`` once ``when`` holds
    on the new counts (``to`` None: no move)."""

    failures: Count = Count.KEEP
    successes: Count = Count.KEEP
    to: Phase | None = None
    when: Threshold = Threshold.ALWAYS


@dataclass(frozen=True, slots=True)
class Entry:
    """What entering a phase resets (re-entering it too: a late failure re-opens an open
    breaker, and its reset timeout starts again)."""

    failures: Count = Count.KEEP
    successes: Count = Count.KEEP
    stamps_opened_at: bool = False


# Keyed by the phase an attempt was ADMITTED in (an ordinary attempt: closed; the probe:
# half-open) and the event. A late outcome of an attempt admitted while closed is applied to the
# counts as it is; only the probe's outcome closes the breaker.
RULES: Final[Mapping[tuple[Phase, Event], Rule]] = MappingProxyType(
    {
        (Phase.CLOSED, Event.SUCCESS): Rule(failures=Count.RESET),
        (Phase.CLOSED, Event.FAILURE): Rule(
            failures=Count.ADD, to=Phase.OPEN, when=Threshold.FAILURES
        ),
        (Phase.OPEN, Event.DUE): Rule(to=Phase.HALF_OPEN),
        (Phase.HALF_OPEN, Event.DUE): Rule(),  # already half-open: the next probe goes out
        (Phase.HALF_OPEN, Event.SUCCESS): Rule(
            failures=Count.RESET,
            successes=Count.ADD,
            to=Phase.CLOSED,
            when=Threshold.SUCCESSES,
        ),
        (Phase.HALF_OPEN, Event.FAILURE): Rule(failures=Count.ADD, to=Phase.OPEN),
    }
)
ENTRY: Final[Mapping[Phase, Entry]] = MappingProxyType(
    {
        Phase.CLOSED: Entry(failures=Count.RESET, successes=Count.RESET),
        Phase.OPEN: Entry(successes=Count.RESET, stamps_opened_at=True),
        Phase.HALF_OPEN: Entry(successes=Count.RESET),
    }
)


@dataclass(frozen=True, slots=True)
class BreakerState:
    """One breaker's state. ``opened_at``: when it last opened, in seconds since the epoch
    (instances sharing the state compare it with their own clocks)."""

    phase: Phase = Phase.CLOSED
    failures: int = 0
    successes: int = 0
    opened_at: float | None = None


CLOSED: Final = BreakerState()


class Decision(Enum):
    ATTEMPT = "attempt"  # closed: the attempt goes out
    PROBE = "probe"  # due a probe: it goes out if this caller takes the probe slot
    REFUSE = "refuse"  # open, and not due a probe yet: CircuitOpen, nothing sent


def admit(state: BreakerState, policy: BreakerPolicy, now: float) -> Decision:
    """Whether an attempt may go out now."""
    if state.phase is Phase.CLOSED:
        return Decision.ATTEMPT
    opened_at = state.opened_at
    if state.phase is Phase.OPEN and opened_at is not None:
        return Decision.REFUSE if now < opened_at + policy.reset_timeout else Decision.PROBE
    return Decision.PROBE  # half-open, or open since an unknown time


def record(
    state: BreakerState, admitted: Phase, event: Event, policy: BreakerPolicy, now: float
) -> BreakerState:
    """The state after ``event`` happened to an attempt admitted in phase ``admitted`` (the
    reset timeout passing: ``admitted`` is the phase it passed in). Returns ``state`` itself
    when nothing changes."""
    rule = RULES[admitted, event]
    failures = _counted(rule.failures, state.failures)
    successes = _counted(rule.successes, state.successes)
    if rule.to is None or not _holds(rule.when, policy, failures, successes):
        if failures == state.failures and successes == state.successes:
            return state  # the common case, a success while closed: nothing to build
        return BreakerState(state.phase, failures, successes, state.opened_at)
    entry = ENTRY[rule.to]
    after = BreakerState(
        rule.to,
        _counted(entry.failures, failures),
        _counted(entry.successes, successes),
        now if entry.stamps_opened_at else state.opened_at,
    )
    return state if after == state else after


def _counted(count: Count, value: int) -> int:
    if count is Count.ADD:
        return value + 1
    if count is Count.RESET:
        return 0
    return value


def _holds(when: Threshold, policy: BreakerPolicy, failures: int, successes: int) -> bool:
    if when is Threshold.FAILURES:
        return failures >= policy.failure_threshold
    if when is Threshold.SUCCESSES:
        return successes >= policy.success_threshold
    return True


# -- where the state lives -------------------------------------------------------------------------
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


# -- the breaker -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Io:
    """One I/O a step needs: a ``StateBackend`` verb (its awaited twin: ``<verb>_async``)."""

    verb: str
    args: tuple[object, ...] = ()


_READ: Final = _Io("read")
_END_PROBE: Final = _Io("end_probe")
Steps = Generator[_Io, object, T]


class Admission:
    """One admitted attempt: ``record`` (or ``abandon``) it exactly once, in the same form,
    blocking or awaited, as it was admitted. ``probe``: it is the half-open probe."""

    __slots__ = ("_breaker", "probe")

    def __init__(self, breaker: CircuitBreaker, probe: bool) -> None:
        self._breaker = breaker
        self.probe = probe

    @property
    def phase(self) -> Phase:
        """The phase the attempt was admitted in, which decides what its outcome does."""
        return Phase.HALF_OPEN if self.probe else Phase.CLOSED

    def record(self, error: PaymentError | None) -> None:
        """Count the attempt's outcome: ``error`` None for a success."""
        self._breaker._run(self._breaker._record_steps(self, error))

    async def record_async(self, error: PaymentError | None) -> None:
        await self._breaker._arun(self._breaker._record_steps(self, error))

    def abandon(self) -> None:
        """The attempt was cancelled before an outcome: count nothing, free the probe."""
        if self.probe:
            self._breaker._run(self._breaker._abandon_steps())

    async def abandon_async(self) -> None:
        if self.probe:
            await self._breaker._arun(self._breaker._abandon_steps())


class CircuitBreaker:
    """The breaker of one provider.

    ``storage``: where the state lives (default: a ``MemoryState`` of its own), for instance
    ``shared_breaker.breaker_storage(url, provider)``. ``clock``: seconds since the epoch.
    """

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
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open`` (a blocking read for a shared backend)."""
        return str(self._run(self._state_steps()))

    async def state_async(self) -> str:
        return str(await self._arun(self._state_steps()))

    @property
    def fallbacks(self) -> int:
        """How many times the shared state was unreachable and a local breaker took over
        (the ``paygate_breaker_storage_fallbacks_total`` counter); 0 for a local backend."""
        return self.backend.fallbacks

    def admit(self) -> Admission | None:
        """Let one attempt through, or raise ``CircuitOpen``. None when the breaker is off."""
        return self._run(self._admit_steps())

    async def admit_async(self) -> Admission | None:
        """``admit``, with the shared state's I/O awaited."""
        return await self._arun(self._admit_steps())

    def check(self) -> None:
        """Raise ``CircuitOpen`` now, with no I/O and nothing built, when a local breaker is
        open and not yet due a probe. A shared breaker's state is read only by ``admit``, so
        the calls that go through pay no extra round trip for this check."""
        if not self.policy.enabled or self.backend.shared:
            return
        if admit(self.backend.read(), self.policy, self._clock()) is Decision.REFUSE:
            raise self._open_error()

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

    # -- the steps: every decision, no I/O -------------------------------------------------------
    def _state_steps(self) -> Steps[Phase]:
        state = cast(BreakerState, (yield _READ))
        return state.phase

    def _admit_steps(self) -> Steps[Admission | None]:
        if not self.policy.enabled:
            return None
        state = cast(BreakerState, (yield _READ))
        decision = admit(state, self.policy, self._clock())
        if decision is Decision.ATTEMPT:
            return Admission(self, probe=False)
        if decision is Decision.REFUSE:
            raise self._open_error()
        self._take_probe_flag()
        admitted = False
        try:
            if not (yield _Io("take_probe", (self.policy.reset_timeout,))):
                raise self._open_error()  # another instance is probing
            # The slot is ours (a slot taken by a cancelled step lapses after its lease).
            while decision is Decision.PROBE:
                started = record(state, state.phase, Event.DUE, self.policy, self._clock())
                if started is state or (yield _Io("write", (state, started))):
                    admitted = True
                    return Admission(self, probe=True)
                state = cast(BreakerState, (yield _READ))  # changed meanwhile: decide again
                decision = admit(state, self.policy, self._clock())
            yield _END_PROBE  # closed meanwhile (an ordinary attempt), or open again
            if decision is Decision.REFUSE:
                raise self._open_error()
            return Admission(self, probe=False)
        finally:
            if not admitted:
                self._end_probe_flag()

    def _record_steps(self, admission: Admission, error: PaymentError | None) -> Steps[None]:
        event = Event.FAILURE if counts_as_failure(error) else Event.SUCCESS
        try:
            while True:
                before = cast(BreakerState, (yield _READ))
                after = record(before, admission.phase, event, self.policy, self._clock())
                if after is before or (yield _Io("write", (before, after))):
                    break
            if admission.probe:
                yield _END_PROBE
        finally:
            if admission.probe:
                self._end_probe_flag()

    def _abandon_steps(self) -> Steps[None]:
        try:
            yield _END_PROBE
        finally:
            self._end_probe_flag()

    # -- the verbs ---------------------------------------------------------------------------------
    def _run(self, steps: Steps[T]) -> T:
        reply: object = None
        while True:
            try:
                io = steps.send(reply)
            except StopIteration as done:
                return cast(T, done.value)
            reply = getattr(self.backend, io.verb)(*io.args)

    async def _arun(self, steps: Steps[T]) -> T:
        reply: object = None
        while True:
            try:
                io = steps.send(reply)
            except StopIteration as done:
                return cast(T, done.value)
            try:
                reply = await getattr(self.backend, f"{io.verb}_async")(*io.args)
            except BaseException:  # cancelled: the step frees what it holds, without I/O
                steps.close()
                raise
