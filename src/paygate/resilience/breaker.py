"""The per-provider circuit breaker: pybreaker's state machine, driven through its public API.

pybreaker's own async path needs tornado, and its ``call()`` on a coroutine function counts the
un-awaited coroutine as a success. So both gateways drive it the same way: ``admit()`` before
an attempt (which raises ``CircuitOpen`` while the circuit is open) and ``Admission.record()``
once the attempt's outcome is known. Nothing is awaited or slept while pybreaker's lock is held.

Only provider-health failures count (5xx, timeouts, connection errors). Declines, invalid
requests and other terminal answers prove the provider is healthy and count as successes.
In the half-open state one probe at a time is let through; others are refused.

Where the state lives is a ``StateBackend``: a pybreaker storage used in place (memory, the
default: no I/O), or a shared one (``paygate.resilience.shared_breaker``: Redis, so that every
instance sees a breaker another instance opened). Each step of the breaker (admit, record,
abandon) is written once, as a generator that yields the I/O it needs — load the state, save
it, take or end the probe slot — and runs pybreaker on the state it was handed. ``admit()``
performs that I/O with blocking calls, ``admit_async()`` awaits it: the decisions are the same
code, only the verbs differ.

The fast path: with the default in-memory state, while the breaker is closed, admitting an attempt
changes nothing and a success (or any answer that is not a health failure) only resets
pybreaker's failure count. ``admit`` and ``record`` do just that, under pybreaker's lock, without
the steps or pybreaker's context. Everything else (a health failure, a breaker not closed, a
shared backend) takes the steps above.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol, TypeVar, cast

import pybreaker

from paygate.errors import CircuitOpen, ErrorCode, PaymentError
from paygate.resilience.policies import BreakerPolicy

HEALTH_FAILURES: Final = frozenset(
    {ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.TIMEOUT, ErrorCode.NETWORK}
)

T = TypeVar("T")
Storage = pybreaker.CircuitBreakerStorage


class _HealthFailure(Exception):
    """Thrown into pybreaker's context to count one provider-health failure."""


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


class StateBackend(Protocol):
    """Where a breaker's state lives between steps, with blocking and awaited verbs.

    ``load`` hands the breaker a pybreaker storage to decide on; ``save`` makes what it wrote
    there the state (a no-op for a storage written in place); ``take_probe`` claims the one
    half-open probe slot among every instance sharing the state (True when it was free) and
    ``end_probe`` frees it. A backend never raises for its own I/O: it falls back instead.
    """

    shared: bool
    fallbacks: int

    def load(self) -> Storage: ...
    def save(self, view: Storage) -> None: ...
    def take_probe(self, lease: float) -> bool: ...
    def end_probe(self) -> None: ...
    async def aload(self) -> Storage: ...
    async def asave(self, view: Storage) -> None: ...
    async def atake_probe(self, lease: float) -> bool: ...
    async def aend_probe(self) -> None: ...
    def close(self) -> None: ...
    async def aclose(self) -> None: ...


class LocalState:
    """A pybreaker storage used in place: the breaker's own probe flag is the probe slot."""

    shared = False
    fallbacks = 0

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def load(self) -> Storage:
        return self.storage

    def save(self, view: Storage) -> None:
        pass

    def take_probe(self, lease: float) -> bool:
        return True

    def end_probe(self) -> None:
        pass

    async def aload(self) -> Storage:
        return self.storage

    async def asave(self, view: Storage) -> None:
        pass

    async def atake_probe(self, lease: float) -> bool:
        return True

    async def aend_probe(self) -> None:
        pass

    def close(self) -> None:
        """Nothing to release: the storage lives in this process."""

    async def aclose(self) -> None:
        """Nothing to release: the storage lives in this process."""


@dataclass(frozen=True, slots=True)
class _Io:
    """One I/O a step needs: a ``StateBackend`` verb and its arguments."""

    verb: str
    args: tuple[object, ...] = ()


_LOAD: Final = _Io("load")
_END_PROBE: Final = _Io("end_probe")
Steps = Generator[_Io, object, T]


class _Relay(Storage):
    """The storage pybreaker is built on: the view of the step running in this thread."""

    def __init__(self, idle: Storage) -> None:
        super().__init__("paygate")
        self._idle = idle  # read by pybreaker's constructor, outside any step
        self._current = threading.local()

    @property
    def view(self) -> Storage:
        view: Storage | None = getattr(self._current, "view", None)
        return self._idle if view is None else view

    @contextmanager
    def viewing(self, view: Storage) -> Iterator[None]:
        previous = getattr(self._current, "view", None)
        self._current.view = view
        try:
            yield
        finally:
            self._current.view = previous

    @property
    def state(self) -> str:
        return str(self.view.state)

    @state.setter
    def state(self, state: str) -> None:
        self.view.state = state

    def increment_counter(self) -> None:
        self.view.increment_counter()

    def reset_counter(self) -> None:
        self.view.reset_counter()

    def increment_success_counter(self) -> None:
        self.view.increment_success_counter()

    def reset_success_counter(self) -> None:
        self.view.reset_success_counter()

    @property
    def counter(self) -> int:
        return int(self.view.counter)

    @property
    def success_counter(self) -> int:
        return int(self.view.success_counter)

    @property
    def opened_at(self) -> datetime | None:
        opened: datetime | None = self.view.opened_at
        return opened

    @opened_at.setter
    def opened_at(self, when: datetime) -> None:
        self.view.opened_at = when


class _Sink(pybreaker.CircuitMemoryStorage):
    """Takes the writes of a discarded attempt; its failure count never reaches a threshold."""

    def __init__(self) -> None:
        super().__init__(pybreaker.STATE_CLOSED)

    @property
    def counter(self) -> int:
        return -1


class Admission:
    """One admitted attempt: ``record`` (or ``abandon``) it exactly once, in the same form,
    blocking or awaited, as it was admitted."""

    __slots__ = ("_breaker", "_closed", "_context", "_open", "probe")

    def __init__(
        self,
        breaker: CircuitBreaker,
        context: AbstractContextManager[None] | None,
        probe: bool,
        closed: pybreaker.CircuitClosedState | None = None,
    ) -> None:
        self._breaker = breaker
        self._context = context  # None: admitted on the fast path, in pybreaker's state ``closed``
        self._closed = closed
        self._open = context is not None  # pybreaker's context not exited yet
        self.probe = probe

    def record(self, error: PaymentError | None) -> None:
        if not self._recorded_fast(error):
            self._breaker._run(self._breaker._record_steps(self, error))

    async def record_async(self, error: PaymentError | None) -> None:
        if not self._recorded_fast(error):
            await self._breaker._arun(self._breaker._record_steps(self, error))

    def _recorded_fast(self, error: PaymentError | None) -> bool:
        """Count a success admitted on the fast path (no I/O: the state is in memory); False
        for anything the steps must record."""
        if self._context is None and not counts_as_failure(error):
            self._breaker._count_success()
            return True
        return False

    def abandon(self) -> None:
        """The attempt was cancelled before an outcome: count nothing, free the probe."""
        self._breaker._run(self._breaker._abandon_steps(self))

    async def abandon_async(self) -> None:
        await self._breaker._arun(self._breaker._abandon_steps(self))

    def _exit(self, view: Storage, error: PaymentError | None) -> None:
        """Tell pybreaker the outcome, deciding on ``view``."""
        self._open = False
        context = self._context
        if context is None:  # admitted on the fast path: pybreaker's context in the closed state
            assert self._closed is not None
            context = self._context = _calling_in(self._closed)
            context.__enter__()
        # Under pybreaker's lock (held by its own transitions too), so that a failure's count
        # and the trip it may cause are one step to a fast-path success resetting the count.
        with self._breaker._breaker._lock, self._breaker._relay.viewing(view):
            if counts_as_failure(error):
                failure = _HealthFailure()
                with suppress(_HealthFailure, pybreaker.CircuitBreakerError):
                    context.__exit__(_HealthFailure, failure, None)
            else:
                context.__exit__(None, None, None)

    def _discard(self) -> None:
        """Close pybreaker's context without counting anything (left to the garbage collector,
        it would count a failure on whatever state was current then)."""
        if not self._open:
            return
        self._open = False
        exit_ = GeneratorExit()
        assert self._context is not None
        with self._breaker._relay.viewing(_Sink()), suppress(GeneratorExit):
            self._context.__exit__(GeneratorExit, exit_, None)


@contextmanager
def _calling_in(state: pybreaker.CircuitClosedState) -> Iterator[None]:
    """pybreaker's ``calling()`` for an attempt admitted in ``state``: what ``calling()`` runs
    once it has read the current state under pybreaker's lock."""

    def attempt() -> Iterator[None]:
        yield

    yield from state.call(attempt)


class CircuitBreaker:
    """A pybreaker breaker for one provider.

    ``storage`` is a pybreaker storage used in place (default: memory) or a ``StateBackend``
    such as ``shared_breaker.breaker_storage(url, provider)``.
    """

    def __init__(
        self,
        provider: str,
        policy: BreakerPolicy,
        storage: Storage | StateBackend | None = None,
    ) -> None:
        self.provider = provider
        self.policy = policy
        if storage is None:
            storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        # The in-memory state the fast path reads and writes in place (None: no fast path).
        self._memory: pybreaker.CircuitMemoryStorage | None = None
        if isinstance(storage, Storage):
            self.backend: StateBackend = LocalState(storage)
            self._relay = _Relay(storage)
            if type(storage) is pybreaker.CircuitMemoryStorage:
                self._memory = storage
        else:
            self.backend = storage
            self._relay = _Relay(pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED))
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=policy.failure_threshold,
            reset_timeout=policy.reset_timeout,
            success_threshold=policy.success_threshold,
            throw_new_error_on_trip=False,
            state_storage=self._relay,
            name=f"paygate:{provider}",
        )
        self._probe_lock = threading.Lock()
        self._probing = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open`` (a blocking read for a shared backend)."""
        return self._run(self._state_steps())

    async def state_async(self) -> str:
        return await self._arun(self._state_steps())

    @property
    def fallbacks(self) -> int:
        """How many times the shared state was unreachable and a local breaker took over
        (the ``paygate_breaker_storage_fallbacks_total`` counter); 0 for a local backend."""
        return self.backend.fallbacks

    def admit(self) -> Admission | None:
        """Let one attempt through, or raise ``CircuitOpen``. None when the breaker is off."""
        return self._admit_fast() or self._run(self._admit_steps())

    async def admit_async(self) -> Admission | None:
        """``admit``, with the shared state's I/O awaited."""
        return self._admit_fast() or await self._arun(self._admit_steps())

    def check(self) -> None:
        """Raise ``CircuitOpen`` now, with no I/O and nothing built, when a local breaker is
        open and not yet due a probe. A shared breaker's state is read only by ``admit``, so
        the calls that go through pay no extra round trip for this check."""
        if not self.policy.enabled or self.backend.shared:
            return
        view = self.backend.load()
        opened = view.opened_at
        if view.state != pybreaker.STATE_OPEN or opened is None:
            return
        if datetime.now(UTC) < opened + timedelta(seconds=self.policy.reset_timeout):
            raise self._open_error()

    def end_probe(self) -> None:
        """Free this instance's probe flag (the shared probe slot is freed by the steps)."""
        with self._probe_lock:
            self._probing = False

    def _open_error(self) -> CircuitOpen:
        return CircuitOpen(
            f"circuit for {self.provider} is open after repeated provider failures; "
            f"next probe within {self.policy.reset_timeout}s",
            provider=self.provider,
        )

    # -- the fast path: a closed in-memory breaker ---------------------------------------------
    def _admit_fast(self) -> Admission | None:
        """Admit without the steps when that changes nothing: an enabled breaker on the in-memory
        state, closed both there and in pybreaker's cached state (otherwise pybreaker's next
        call first syncs the two), and no pybreaker listeners to tell. None: take the steps."""
        memory = self._memory
        if memory is None or not self.policy.enabled:
            return None
        breaker = self._breaker
        with breaker._lock:  # the lock pybreaker changes its state under
            state = breaker._state
            if (
                not isinstance(state, pybreaker.CircuitClosedState)
                or memory.state != pybreaker.STATE_CLOSED
                or breaker._listeners
            ):
                return None
        return Admission(self, None, False, state)

    def _count_success(self) -> None:
        """What pybreaker does for a success in the closed state an attempt was admitted in
        (whatever the state is now): reset the failure count. Under pybreaker's lock, which
        ``Admission._exit`` holds while it counts a failure and maybe trips the breaker, so a
        success never lands between a failure's count and the trip it causes. It changes no
        state: an open breaker stays open."""
        memory = self._memory
        assert memory is not None
        with self._breaker._lock:
            memory.reset_counter()

    # -- the steps: every decision, no I/O -------------------------------------------------------
    def _state_steps(self) -> Steps[str]:
        view = cast(Storage, (yield _LOAD))
        return str(view.state)

    def _admit_steps(self) -> Steps[Admission | None]:
        if not self.policy.enabled:
            return None
        view = cast(Storage, (yield _LOAD))
        probe = False
        if view.state != pybreaker.STATE_CLOSED:
            with self._probe_lock:
                if self._probing:
                    raise self._open_error()
                self._probing = probe = True
            try:
                taken = yield _Io("take_probe", (self.policy.reset_timeout,))
            except GeneratorExit:  # cancelled: a slot taken meanwhile lapses after its lease
                self.end_probe()
                raise
            if not taken:  # another instance is probing
                self.end_probe()
                raise self._open_error()
        context: AbstractContextManager[None] = self._breaker.calling()
        try:
            with self._relay.viewing(view):
                context.__enter__()
        except pybreaker.CircuitBreakerError:
            if probe:
                self.end_probe()
                yield _END_PROBE
            raise self._open_error() from None
        admission = Admission(self, context, probe)
        try:
            yield _Io("save", (view,))
        except GeneratorExit:  # the caller was cancelled: nothing was sent, count nothing
            admission._discard()
            if probe:
                self.end_probe()
            raise
        return admission

    def _record_steps(self, admission: Admission, error: PaymentError | None) -> Steps[None]:
        try:
            view = cast(Storage, (yield _LOAD))
            admission._exit(view, error)
            yield _Io("save", (view,))
            if admission.probe:
                yield _END_PROBE
        finally:
            admission._discard()  # only when cancelled before the outcome was counted
            if admission.probe:
                self.end_probe()

    def _abandon_steps(self, admission: Admission) -> Steps[None]:
        admission._discard()
        try:
            if admission.probe:
                yield _END_PROBE
        finally:
            if admission.probe:
                self.end_probe()

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
                reply = await getattr(self.backend, "a" + io.verb)(*io.args)
            except BaseException:  # cancelled: the step cleans up what it holds, without I/O
                steps.close()
                raise
