"""The circuit breaker: only provider-health failures count; one probe at a time when half-open;
the same state machine for threads and for asyncio."""

from __future__ import annotations

import asyncio
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
from paygate.resilience.breaker import CircuitBreaker

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
