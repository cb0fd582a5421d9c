"""The circuit breaker: only provider-health failures count; one probe at a time when half-open;
the same state machine for threads and for asyncio, in memory or on a shared backend. Time is
the injected clock's: no test waits for a reset timeout."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from paygate import BreakerPolicy
from paygate.errors import (
    CardDeclinedError,
    CircuitOpen,
    ErrorCode,
    InvalidRequestError,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
)
from paygate.resilience.breaker import (
    CLOSED,
    Admission,
    BreakerState,
    CircuitBreaker,
    Decision,
    Event,
    MemoryState,
    Phase,
    admit,
    record,
)

UNAVAILABLE = RetriableError("503", code=ErrorCode.PROVIDER_UNAVAILABLE)
READ_TIMEOUT = OutcomeUnknown("read timeout", code=ErrorCode.TIMEOUT)
HEALTHY_ANSWERS = [
    CardDeclinedError("declined", decline_code="try_again_later"),
    InvalidRequestError("bad"),
    OutcomeUnknown("schema", code=ErrorCode.SCHEMA_VIOLATION),
    None,
]


class Clock:
    """Seconds since the epoch, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def policy(**fields: float) -> BreakerPolicy:
    return BreakerPolicy(**fields)  # type: ignore[arg-type]


def breaker(clock: Clock, **fields: float) -> CircuitBreaker:
    return CircuitBreaker("p", policy(**fields), clock=clock)


def fail(b: CircuitBreaker, error: PaymentError = UNAVAILABLE) -> None:
    admission = b.admit()
    assert admission is not None
    admission.record(error)


def counts(b: CircuitBreaker) -> tuple[str, int, int]:
    state = b.backend.read()
    return state.phase.value, state.failures, state.successes


# -- the table: pure functions ---------------------------------------------------------------------
NOW = 1_000.0
POLICY = policy(failure_threshold=3, reset_timeout=30, success_threshold=2)


@pytest.mark.parametrize(
    ("state", "decision"),
    [
        (CLOSED, Decision.ATTEMPT),
        (BreakerState(Phase.CLOSED, failures=2), Decision.ATTEMPT),
        (BreakerState(Phase.OPEN, failures=3, opened_at=NOW - 29.9), Decision.REFUSE),
        (BreakerState(Phase.OPEN, failures=3, opened_at=NOW - 30), Decision.PROBE),
        (BreakerState(Phase.OPEN, failures=3, opened_at=None), Decision.PROBE),
        (BreakerState(Phase.HALF_OPEN, failures=3, opened_at=NOW), Decision.PROBE),
    ],
)
def test_admit_decides_on_the_state_and_the_clock(state: BreakerState, decision: Decision) -> None:
    assert admit(state, POLICY, NOW) is decision


@pytest.mark.parametrize(
    ("state", "admitted", "event", "after"),
    [
        # closed: failures count up to the threshold, which opens it; a success resets them
        (CLOSED, Phase.CLOSED, Event.FAILURE, BreakerState(Phase.CLOSED, 1)),
        (
            BreakerState(Phase.CLOSED, 2),
            Phase.CLOSED,
            Event.FAILURE,
            BreakerState(Phase.OPEN, 3, opened_at=NOW),
        ),
        (BreakerState(Phase.CLOSED, 2), Phase.CLOSED, Event.SUCCESS, CLOSED),
        # the reset timeout passed: half-open, probe successes counted from zero
        (
            BreakerState(Phase.OPEN, 3, 1, opened_at=1.0),
            Phase.OPEN,
            Event.DUE,
            BreakerState(Phase.HALF_OPEN, 3, 0, opened_at=1.0),
        ),
        # the probe: a success counts towards closing, a failure opens again from now
        (
            BreakerState(Phase.HALF_OPEN, 3, 0, opened_at=1.0),
            Phase.HALF_OPEN,
            Event.SUCCESS,
            BreakerState(Phase.HALF_OPEN, 0, 1, opened_at=1.0),
        ),
        (
            BreakerState(Phase.HALF_OPEN, 0, 1, opened_at=1.0),
            Phase.HALF_OPEN,
            Event.SUCCESS,
            BreakerState(Phase.CLOSED, 0, 0, opened_at=1.0),
        ),
        (
            BreakerState(Phase.HALF_OPEN, 3, 1, opened_at=1.0),
            Phase.HALF_OPEN,
            Event.FAILURE,
            BreakerState(Phase.OPEN, 4, 0, opened_at=NOW),
        ),
        # late outcomes of attempts admitted while closed: counted, never closing the breaker
        (
            BreakerState(Phase.OPEN, 3, opened_at=1.0),
            Phase.CLOSED,
            Event.SUCCESS,
            BreakerState(Phase.OPEN, 0, opened_at=1.0),
        ),
        (
            BreakerState(Phase.HALF_OPEN, 3, opened_at=1.0),
            Phase.CLOSED,
            Event.SUCCESS,
            BreakerState(Phase.HALF_OPEN, 0, opened_at=1.0),
        ),
        (
            BreakerState(Phase.OPEN, 3, opened_at=1.0),
            Phase.CLOSED,
            Event.FAILURE,
            BreakerState(Phase.OPEN, 4, opened_at=NOW),  # still failing: the timeout restarts
        ),
    ],
)
def test_record_follows_the_table(
    state: BreakerState, admitted: Phase, event: Event, after: BreakerState
) -> None:
    assert record(state, admitted, event, POLICY, NOW) == after


def test_record_returns_the_state_itself_when_nothing_changes() -> None:
    assert record(CLOSED, Phase.CLOSED, Event.SUCCESS, POLICY, NOW) is CLOSED
    half_open = BreakerState(Phase.HALF_OPEN, 3)
    assert record(half_open, Phase.HALF_OPEN, Event.DUE, POLICY, NOW) is half_open


# -- one breaker -----------------------------------------------------------------------------------
def test_health_failures_open_it_and_open_refuses_without_calling(clock: Clock) -> None:
    b = breaker(clock, failure_threshold=3)
    fail(b)
    fail(b, READ_TIMEOUT)
    assert b.state == "closed"
    fail(b, OutcomeUnknown("reset", code=ErrorCode.NETWORK))
    assert b.state == "open"
    with pytest.raises(CircuitOpen) as refused:
        b.admit()
    assert refused.value.retriable and refused.value.provider == "p"
    with pytest.raises(CircuitOpen):
        b.check()  # the gateway's check before it builds anything


@pytest.mark.parametrize("answer", HEALTHY_ANSWERS)
def test_answers_from_a_healthy_provider_never_count(
    clock: Clock, answer: PaymentError | None
) -> None:
    b = breaker(clock, failure_threshold=2)
    for _ in range(5):
        fail(b)
        admission = b.admit()
        assert admission is not None
        admission.record(answer)
    assert b.state == "closed"  # the streak of failures is broken every time


def test_a_5xx_the_provider_saved_under_the_key_does_not_count(clock: Clock) -> None:
    replayed = RetriableError(
        "500", code=ErrorCode.PROVIDER_UNAVAILABLE, http_status=500, provider_retry_hint=False
    )
    b = breaker(clock, failure_threshold=1)
    fail(b, replayed)
    assert counts(b) == ("closed", 0, 0)


def test_open_until_the_reset_timeout_then_one_probe_closes_it(clock: Clock) -> None:
    b = breaker(clock, failure_threshold=1, reset_timeout=30)
    fail(b)
    clock.advance(29.9)
    with pytest.raises(CircuitOpen):
        b.admit()
    clock.advance(0.1)
    b.check()  # due a probe: the check lets it through
    probe = b.admit()
    assert probe is not None and probe.probe and b.state == "half-open"
    with pytest.raises(CircuitOpen):
        b.admit()  # a second caller while the probe is out
    probe.record(None)
    assert b.state == "closed"
    assert b.admit() is not None


def test_success_threshold_probes_one_at_a_time_until_it_closes(clock: Clock) -> None:
    b = breaker(clock, failure_threshold=1, reset_timeout=1, success_threshold=2)
    fail(b)
    clock.advance(1)
    for expected in ("half-open", "closed"):
        probe = b.admit()
        assert probe is not None and probe.probe
        with pytest.raises(CircuitOpen):
            b.admit()
        probe.record(None)
        assert b.state == expected


def test_a_failed_probe_opens_it_again_for_a_full_reset_timeout(clock: Clock) -> None:
    b = breaker(clock, failure_threshold=1, reset_timeout=30)
    fail(b)
    clock.advance(30)
    fail(b)
    assert b.state == "open"
    clock.advance(29)
    with pytest.raises(CircuitOpen):
        b.admit()
    clock.advance(1)
    assert b.admit() is not None


def test_an_abandoned_probe_frees_the_slot(clock: Clock) -> None:
    b = breaker(clock, failure_threshold=1, reset_timeout=1)
    fail(b)
    clock.advance(1)
    probe = b.admit()
    assert probe is not None
    probe.abandon()  # cancelled before an answer: nothing counted, the next caller probes
    assert counts(b) == ("half-open", 1, 0)
    again = b.admit()
    assert again is not None and again.probe


def test_disabled_breaker_admits_everything(clock: Clock) -> None:
    b = breaker(clock, enabled=False, failure_threshold=1)  # type: ignore[arg-type]
    for _ in range(5):
        assert b.admit() is None
    b.check()


def test_a_success_while_closed_resets_the_failure_count(clock: Clock) -> None:
    b = breaker(clock, failure_threshold=3)
    fail(b)
    fail(b)
    assert counts(b) == ("closed", 2, 0)
    admission = b.admit()
    assert admission is not None and not admission.probe
    admission.record(None)
    assert counts(b) == ("closed", 0, 0)
    fail(b)
    fail(b)
    assert b.state == "closed"  # the streak started again from zero
    fail(b)
    assert b.state == "open"


def test_a_success_admitted_before_a_trip_leaves_the_breaker_open(clock: Clock) -> None:
    b = breaker(clock, failure_threshold=2)
    late = b.admit()  # while closed
    assert late is not None
    fail(b)
    fail(b)
    assert b.state == "open"
    late.record(None)  # it resets the count, not the state
    assert counts(b) == ("open", 0, 0)
    with pytest.raises(CircuitOpen):
        b.admit()


def test_a_success_from_before_the_trip_is_not_the_probes_answer(clock: Clock) -> None:
    b = breaker(clock, failure_threshold=1, reset_timeout=1)
    stale = b.admit()  # admitted while closed
    assert stale is not None
    fail(b)
    clock.advance(1)
    probe = b.admit()
    assert probe is not None and probe.probe and b.state == "half-open"
    stale.record(None)
    assert b.state == "half-open"
    with pytest.raises(CircuitOpen):
        b.admit()  # the probe is still out
    probe.record(None)
    assert b.state == "closed"
    again = b.admit()
    assert again is not None and not again.probe


def test_an_abandoned_attempt_counts_nothing_even_once_collected(clock: Clock) -> None:
    b = breaker(clock, failure_threshold=1)
    admission = b.admit()
    assert admission is not None
    admission.abandon()
    del admission
    assert counts(b) == ("closed", 0, 0)
    assert b.admit() is not None


class Interleaving(MemoryState):
    """A memory state that runs ``between`` once, just before the next write lands: another
    thread's step, deterministically between this step's read and its write."""

    def __init__(self) -> None:
        super().__init__()
        self.between: list[object] = []

    def write(self, before: BreakerState, after: BreakerState) -> bool:
        if self.between:
            action = self.between.pop()
            assert callable(action)
            action()
        return super().write(before, after)


def test_a_success_between_a_failures_count_and_its_trip_is_decided_again(clock: Clock) -> None:
    """A success written between a failure's read and its write: the failure's write is
    refused (its state is gone) and it is decided again on the state the success left."""
    state = Interleaving()
    b = CircuitBreaker("p", policy(failure_threshold=2), state, clock=clock)
    fail(b)
    success = b.admit()
    assert success is not None
    failure = b.admit()
    assert failure is not None
    state.between.append(lambda: success.record(None))
    failure.record(UNAVAILABLE)  # read failures=1, would trip; the success lands first
    assert counts(b) == ("closed", 1, 0)  # fail, succeed, fail: no trip lost, none invented
    fail(b)
    assert b.state == "open"


def test_successes_racing_the_failure_that_trips_it_never_lose_the_trip(clock: Clock) -> None:
    """Threads recording successes while another records the failure that trips the breaker:
    every order of them ends open (a success before the failure changes nothing; after it,
    it resets the count, not the state)."""
    for _ in range(50):
        b = breaker(clock, failure_threshold=1, reset_timeout=60)
        admissions = [b.admit() for _ in range(8)]
        failing, *succeeding = [a for a in admissions if a is not None]
        start = threading.Barrier(len(admissions))

        def succeed(admission: Admission, start: threading.Barrier) -> None:
            start.wait()
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


def test_a_probe_started_as_the_state_changes_is_decided_again(clock: Clock) -> None:
    """A late failure re-opens the breaker between a probe's read and its write: the probe is
    refused and frees its slot; once due again, the next caller probes."""
    state = Interleaving()
    b = CircuitBreaker("p", policy(failure_threshold=1, reset_timeout=5), state, clock=clock)
    late = b.admit()
    assert late is not None
    fail(b)
    clock.advance(5)
    state.between.append(lambda: late.record(UNAVAILABLE))  # re-opens it, from now
    with pytest.raises(CircuitOpen):
        b.admit()
    assert counts(b) == ("open", 2, 0)
    clock.advance(5)
    probe = b.admit()
    assert probe is not None and probe.probe


# -- asyncio ---------------------------------------------------------------------------------------
async def test_asyncio_callers_share_the_state_machine(clock: Clock) -> None:
    b = breaker(clock, failure_threshold=2, reset_timeout=1)
    release = asyncio.Event()

    async def call(outcome: PaymentError | None, hold: bool = False) -> str:
        try:
            admission = await b.admit_async()
        except CircuitOpen:
            return "refused"
        assert admission is not None
        if hold:
            await release.wait()  # the awaited provider call, still out
        await admission.record_async(outcome)
        return "called"

    assert await asyncio.gather(call(UNAVAILABLE), call(UNAVAILABLE)) == ["called", "called"]
    assert b.state == "open"
    assert await call(None) == "refused"
    clock.advance(1)
    # Half-open: of three concurrent callers, exactly one probes; the others are refused.
    probe = asyncio.create_task(call(None, hold=True))
    others = await asyncio.gather(call(None), call(None))
    release.set()
    assert await probe == "called" and others == ["refused", "refused"]
    assert b.state == "closed"


async def test_a_cancelled_async_probe_does_not_wedge_the_breaker(
    clock: Clock, cancelled_probe: Callable[[Any, Any], Awaitable[None]]
) -> None:
    b = breaker(clock, failure_threshold=1, reset_timeout=1)
    fail(b)
    clock.advance(1)
    await cancelled_probe(b, b)
    assert b.admit() is not None


async def test_the_awaited_verbs_drive_the_same_state_machine(clock: Clock) -> None:
    b = breaker(clock, failure_threshold=2, reset_timeout=1)
    for _ in range(2):
        admission = await b.admit_async()
        assert admission is not None
        await admission.record_async(UNAVAILABLE)
    assert await b.state_async() == "open"
    with pytest.raises(CircuitOpen):
        await b.admit_async()
    clock.advance(1)
    probe = await b.admit_async()
    assert probe is not None
    with pytest.raises(CircuitOpen):
        b.admit()  # the blocking verbs see the same probe out
    await probe.record_async(None)
    assert b.state == "closed"
    abandoned = await b.admit_async()
    assert abandoned is not None
    await abandoned.abandon_async()  # counts nothing
    assert counts(b) == ("closed", 0, 0)


# -- a shared backend ------------------------------------------------------------------------------
class SharedMemory:
    """A ``StateBackend`` several breakers share, as several instances share Redis: no compare
    and set (Redis has none either), a probe slot of its own, and a log of its I/O."""

    shared = True
    fallbacks = 0

    def __init__(self) -> None:
        self.state = CLOSED
        self.probing = False
        self.io: list[str] = []

    def read(self) -> BreakerState:
        self.io.append("read")
        return self.state

    def write(self, before: BreakerState, after: BreakerState) -> bool:
        self.io.append("write")
        self.state = after
        return True

    def take_probe(self, lease: float) -> bool:
        self.io.append("take_probe")
        taken, self.probing = not self.probing, True
        return taken

    def end_probe(self) -> None:
        self.io.append("end_probe")
        self.probing = False

    async def read_async(self) -> BreakerState:
        return self.read()

    async def write_async(self, before: BreakerState, after: BreakerState) -> bool:
        return self.write(before, after)

    async def take_probe_async(self, lease: float) -> bool:
        return self.take_probe(lease)

    async def end_probe_async(self) -> None:
        self.end_probe()

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


async def test_instances_sharing_a_backend_share_the_state_and_the_one_probe(
    clock: Clock,
) -> None:
    shared = SharedMemory()
    rules = policy(failure_threshold=1, reset_timeout=1)
    one = CircuitBreaker("p", rules, shared, clock=clock)
    other = CircuitBreaker("p", rules, shared, clock=clock)
    fail(one)
    assert shared.io == ["read", "read", "write"]  # admit reads; record reads and writes once
    one.check()  # a shared state is read by admit only: no round trip for the check
    with pytest.raises(CircuitOpen):
        await other.admit_async()
    clock.advance(1)
    shared.io.clear()
    probe = await other.admit_async()
    assert probe is not None and shared.probing
    assert shared.io == ["read", "take_probe", "write"]
    with pytest.raises(CircuitOpen):
        one.admit()  # its own probe flag is free, the shared slot is not
    await probe.record_async(None)
    assert not shared.probing and one.state == "closed"
    assert one.admit() is not None


@pytest.mark.parametrize("seed", range(5))
def test_a_memory_state_and_a_shared_one_take_the_same_path(clock: Clock, seed: int) -> None:
    outcomes: list[PaymentError | None] = [UNAVAILABLE, READ_TIMEOUT, *HEALTHY_ANSWERS]
    rng = random.Random(seed)
    rules = policy(failure_threshold=4, reset_timeout=10, success_threshold=2)
    memory = CircuitBreaker("p", rules, clock=clock)
    shared = CircuitBreaker("p", rules, SharedMemory(), clock=clock)
    for _ in range(200):
        outcome = rng.choice(outcomes)
        clock.advance(rng.choice([0.0, 0.0, 3.0]))
        refused = []
        for b in (memory, shared):
            try:
                admission = b.admit()
            except CircuitOpen:
                refused.append(b)
                continue
            assert admission is not None
            admission.record(outcome)
        assert refused in ([], [memory, shared])
        assert memory.backend.read() == shared.backend.read()
    assert memory.state == shared.state
