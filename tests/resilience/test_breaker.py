"""The circuit breaker: only provider-health failures count; one probe at a time when half-open;
the same state machine for threads and for asyncio."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pybreaker
import pytest

from paygate import BreakerPolicy
from paygate.errors import (
    CardDeclinedError,
    CircuitOpen,
    ErrorCode,
    InvalidRequestError,
    OutcomeUnknown,
    RetriableError,
)
from paygate.resilience.breaker import Admission, CircuitBreaker

UNAVAILABLE = RetriableError("503", code=ErrorCode.PROVIDER_UNAVAILABLE)
READ_TIMEOUT = OutcomeUnknown("read timeout", code=ErrorCode.TIMEOUT)


def breaker(**policy: float) -> CircuitBreaker:
    return CircuitBreaker("p", BreakerPolicy(**policy))  # type: ignore[arg-type]


def fail(b: CircuitBreaker, error: Exception = UNAVAILABLE) -> None:
    admission = b.admit()
    assert admission is not None
    admission.record(error)  # type: ignore[arg-type]


def test_health_failures_open_it_and_open_refuses_without_calling() -> None:
    b = breaker(failure_threshold=3)
    fail(b)
    fail(b, READ_TIMEOUT)
    assert b.state == "closed"
    fail(b, OutcomeUnknown("reset", code=ErrorCode.NETWORK))
    assert b.state == "open"
    with pytest.raises(CircuitOpen) as refused:
        b.admit()
    assert refused.value.retriable and refused.value.provider == "p"


@pytest.mark.parametrize(
    "answer",
    [
        CardDeclinedError("declined", decline_code="try_again_later"),
        InvalidRequestError("bad"),
        OutcomeUnknown("schema", code=ErrorCode.SCHEMA_VIOLATION),
        None,
    ],
)
def test_answers_from_a_healthy_provider_never_count(answer: Exception | None) -> None:
    b = breaker(failure_threshold=2)
    for _ in range(5):
        fail(b)
        admission = b.admit()
        assert admission is not None
        admission.record(answer)  # type: ignore[arg-type]
    assert b.state == "closed"  # the streak of failures is broken every time


def test_half_open_lets_one_probe_through_then_closes_on_success() -> None:
    b = breaker(failure_threshold=1, reset_timeout=0.05)
    fail(b)
    time.sleep(0.06)
    probe = b.admit()
    assert probe is not None and b.state == "half-open"
    with pytest.raises(CircuitOpen):
        b.admit()  # a second caller while the probe is out
    probe.record(None)
    assert b.state == "closed"
    assert b.admit() is not None


def test_a_failed_probe_opens_it_again() -> None:
    b = breaker(failure_threshold=1, reset_timeout=0.05)
    fail(b)
    time.sleep(0.06)
    fail(b)
    assert b.state == "open"
    with pytest.raises(CircuitOpen):
        b.admit()


def test_an_abandoned_probe_frees_the_slot() -> None:
    b = breaker(failure_threshold=1, reset_timeout=0.05)
    fail(b)
    time.sleep(0.06)
    probe = b.admit()
    assert probe is not None
    probe.abandon()  # cancelled before an answer: nothing counted, the next caller probes
    assert b.admit() is not None


def test_disabled_breaker_admits_everything() -> None:
    b = breaker(enabled=False, failure_threshold=1)  # type: ignore[arg-type]
    for _ in range(5):
        assert b.admit() is None


async def test_asyncio_callers_share_the_state_machine() -> None:
    b = breaker(failure_threshold=2, reset_timeout=0.05)

    async def call(outcome: Exception | None, hold: float = 0.0) -> str:
        try:
            admission = b.admit()
        except CircuitOpen:
            return "refused"
        assert admission is not None
        await asyncio.sleep(hold)  # the awaited provider call
        admission.record(outcome)  # type: ignore[arg-type]
        return "called"

    assert await asyncio.gather(call(UNAVAILABLE), call(UNAVAILABLE)) == ["called", "called"]
    assert b.state == "open"
    assert await call(None) == "refused"
    await asyncio.sleep(0.06)
    # Half-open: of three concurrent callers, exactly one probes; the others are refused.
    results = await asyncio.gather(call(None, hold=0.02), call(None), call(None))
    assert sorted(results) == ["called", "refused", "refused"]
    assert b.state == "closed"


async def test_a_cancelled_async_probe_does_not_wedge_the_breaker() -> None:
    b = breaker(failure_threshold=1, reset_timeout=0.05)
    fail(b)
    await asyncio.sleep(0.06)

    async def probe() -> None:
        admission = b.admit()
        assert admission is not None
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            admission.abandon()
            raise

    task = asyncio.create_task(probe())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert b.admit() is not None


def test_an_abandoned_attempt_counts_nothing_even_once_collected() -> None:
    b = breaker(failure_threshold=1)
    admission = b.admit()
    assert admission is not None
    admission.abandon()
    del admission
    # pybreaker's context, dropped unexited, would count a failure when collected (here)
    assert b.state == "closed"
    assert b.admit() is not None


async def test_the_awaited_verbs_drive_the_same_state_machine() -> None:
    b = breaker(failure_threshold=2, reset_timeout=0.05)
    for _ in range(2):
        admission = await b.admit_async()
        assert admission is not None
        await admission.record_async(UNAVAILABLE)
    assert await b.state_async() == "open"
    with pytest.raises(CircuitOpen):
        await b.admit_async()
    await asyncio.sleep(0.06)
    probe = await b.admit_async()
    assert probe is not None
    with pytest.raises(CircuitOpen):
        b.admit()  # the blocking verbs see the same probe out
    await probe.record_async(None)
    assert b.state == "closed"


class SharedMemory:
    """A ``StateBackend`` several breakers share, as several instances share Redis."""

    shared = True
    fallbacks = 0

    def __init__(self) -> None:
        self.storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self.probing = False
        self.io: list[str] = []

    def load(self) -> pybreaker.CircuitBreakerStorage:
        self.io.append("load")
        return self.storage

    def save(self, view: pybreaker.CircuitBreakerStorage) -> None:
        self.io.append("save")

    def take_probe(self, lease: float) -> bool:
        self.io.append("take_probe")
        taken, self.probing = not self.probing, True
        return taken

    def end_probe(self) -> None:
        self.io.append("end_probe")
        self.probing = False

    async def aload(self) -> pybreaker.CircuitBreakerStorage:
        return self.load()

    async def asave(self, view: pybreaker.CircuitBreakerStorage) -> None:
        self.save(view)

    async def atake_probe(self, lease: float) -> bool:
        return self.take_probe(lease)

    async def aend_probe(self) -> None:
        self.end_probe()


async def test_instances_sharing_a_backend_share_the_state_and_the_one_probe() -> None:
    shared = SharedMemory()
    policy = BreakerPolicy(failure_threshold=1, reset_timeout=0.05)
    one, other = CircuitBreaker("p", policy, shared), CircuitBreaker("p", policy, shared)
    fail(one)
    assert shared.io == ["load", "save", "load", "save"]  # one read and one write per step
    with pytest.raises(CircuitOpen):
        await other.admit_async()
    await asyncio.sleep(0.06)
    probe = await other.admit_async()
    assert probe is not None and shared.probing
    with pytest.raises(CircuitOpen):
        one.admit()  # its own probe flag is free, the shared slot is not
    await probe.record_async(None)
    assert not shared.probing and one.state == "closed"
    assert one.admit() is not None


# -- the fast path: a closed in-memory breaker ----------------------------------------------------
def counters(b: CircuitBreaker) -> tuple[str, int, int]:
    pb = b._breaker
    return pb.current_state, pb.fail_counter, pb.success_counter


def test_a_success_while_closed_takes_the_fast_path_and_resets_the_failure_count() -> None:
    b = breaker(failure_threshold=3)
    fail(b)
    fail(b)
    assert counters(b) == ("closed", 2, 0)
    admission = b.admit()
    assert admission is not None and admission._context is None  # no pybreaker context built
    admission.record(None)
    assert counters(b) == ("closed", 0, 0)
    fail(b)
    fail(b)
    assert b.state == "closed"  # the streak started again from zero
    fail(b)
    assert b.state == "open"


def test_a_health_failure_admitted_on_the_fast_path_counts_and_trips_at_the_threshold() -> None:
    b = breaker(failure_threshold=3)
    for expected in (1, 2):
        admission = b.admit()
        assert admission is not None and admission._context is None
        admission.record(UNAVAILABLE)
        assert counters(b) == ("closed", expected, 0)
    admission = b.admit()
    assert admission is not None
    admission.record(READ_TIMEOUT)
    assert b.state == "open"
    with pytest.raises(CircuitOpen):
        b.admit()


@pytest.mark.parametrize("seed", range(5))
def test_the_fast_path_leaves_pybreaker_exactly_as_the_steps_do(seed: int) -> None:
    outcomes = [
        None,
        UNAVAILABLE,
        READ_TIMEOUT,
        CardDeclinedError("declined", decline_code="do_not_honor"),
        InvalidRequestError("bad"),
    ]
    rng = random.Random(seed)
    fast, slow = breaker(failure_threshold=4), breaker(failure_threshold=4)
    slow._memory = None  # every step through the steps and pybreaker's context
    for _ in range(60):
        outcome = rng.choice(outcomes)
        for b in (fast, slow):
            try:
                admission = b.admit()
            except CircuitOpen:
                continue
            assert admission is not None
            admission.record(outcome)  # type: ignore[arg-type]
        assert counters(fast) == counters(slow)
    assert fast.state == slow.state


def test_a_success_admitted_before_a_trip_leaves_the_breaker_open() -> None:
    b = breaker(failure_threshold=2)
    late = b.admit()  # on the fast path, while closed
    assert late is not None and late._context is None
    fail(b)
    fail(b)
    assert b.state == "open"
    late.record(None)  # as pybreaker does for a call begun while closed: the count, not the state
    assert b.state == "open"
    with pytest.raises(CircuitOpen):
        b.admit()


def test_fast_path_successes_racing_a_trip_never_lose_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads recording successes while another records the failure that trips the breaker:
    no success lands between the failure's count and the trip (that would lose the trip), and
    none closes the breaker once it is open."""
    checking = threading.Event()
    on_failure = pybreaker.CircuitClosedState.on_failure

    def slow_on_failure(self: pybreaker.CircuitClosedState, exc: BaseException) -> None:
        checking.set()  # the failure is counted; widen the window before the threshold check
        time.sleep(0.005)
        on_failure(self, exc)

    monkeypatch.setattr(pybreaker.CircuitClosedState, "on_failure", slow_on_failure)
    for _ in range(20):
        b = breaker(failure_threshold=1, reset_timeout=60)
        admissions = [b.admit() for _ in range(8)]
        assert all(a is not None and a._context is None for a in admissions)
        failing, *succeeding = [a for a in admissions if a is not None]
        checking.clear()
        start = threading.Barrier(len(admissions))

        def succeed(admission: Admission, start: threading.Barrier) -> None:
            start.wait()
            checking.wait(1)  # until the failure is counted (or a second at most)
            admission.record(None)

        threads = [threading.Thread(target=succeed, args=(a, start)) for a in succeeding]
        for thread in threads:
            thread.start()
        start.wait()
        failing.record(UNAVAILABLE)
        for thread in threads:
            thread.join()
        assert b.state == "open"
        with pytest.raises(CircuitOpen):
            b.admit()


def test_half_open_still_takes_the_probe_path() -> None:
    b = breaker(failure_threshold=1, reset_timeout=0.05)
    stale = b.admit()  # admitted while closed, on the fast path
    assert stale is not None and stale._context is None
    fail(b)
    time.sleep(0.06)
    probe = b.admit()
    assert probe is not None and probe.probe and probe._context is not None
    assert b.state == "half-open"
    stale.record(None)  # a success from before the trip is not the probe's answer
    assert b.state == "half-open"
    with pytest.raises(CircuitOpen):
        b.admit()  # the probe is still out
    probe.record(None)
    assert b.state == "closed"
    again = b.admit()
    assert again is not None and again._context is None  # closed: the fast path again


async def test_the_awaited_verbs_take_the_fast_path_too() -> None:
    b = breaker(failure_threshold=2)
    fail(b)
    admission = await b.admit_async()
    assert admission is not None and admission._context is None
    await admission.record_async(None)
    assert counters(b) == ("closed", 0, 0)
    abandoned = await b.admit_async()
    assert abandoned is not None
    await abandoned.abandon_async()  # counts nothing
    assert counters(b) == ("closed", 0, 0)
    for _ in range(2):
        admission = await b.admit_async()
        assert admission is not None
        await admission.record_async(UNAVAILABLE)
    assert await b.state_async() == "open"


def test_a_storage_other_than_pybreakers_memory_takes_the_steps() -> None:
    class Memory(pybreaker.CircuitMemoryStorage):
        pass

    b = CircuitBreaker("p", BreakerPolicy(), Memory(pybreaker.STATE_CLOSED))
    admission = b.admit()
    assert admission is not None and admission._context is not None
    admission.record(None)
    assert b.state == "closed"


def test_an_abandoned_attempt_through_the_steps_counts_nothing_even_once_collected() -> None:
    b = breaker(failure_threshold=1)
    b._memory = None  # no fast path: pybreaker's context is built and must be closed
    admission = b.admit()
    assert admission is not None and admission._context is not None
    admission.abandon()
    del admission
    assert counters(b) == ("closed", 0, 0)
    assert b.admit() is not None
