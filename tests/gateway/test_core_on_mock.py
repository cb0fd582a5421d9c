"""The core's guarantees (Retry-After, the deadline, the circuit breaker, the bulkhead) proved
through what ``paygate.testing`` ships: ``MockProvider`` answering in process, ``FakeClock``
for every wait, ``zero_backoff``. Each runs for every registered provider (the plugin's
``paygate_provider``), on the blocking gateway and the asyncio one; nothing sleeps and no
assertion reads the wall clock."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from paygate import (
    BreakerPolicy,
    BulkheadPolicy,
    IdempotencyPolicy,
    Money,
    RetryPolicy,
    Timeout,
)
from paygate.errors import (
    BulkheadFull,
    CircuitOpen,
    ErrorCode,
    IdempotencyInFlight,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
)
from paygate.testing import FakeClock, Fault, MockProvider, zero_backoff
from paygate.testing.contract import Sources

AMOUNT = Money("25.00", "EUR")
ONE_SLOT = BulkheadPolicy(max_concurrent=1, max_wait=0.0)


class Driver:
    """One gateway of either kind, called the same way: ``driver("authorize", ...)``. An
    asyncio gateway runs on one event loop for the driver's life."""

    def __init__(self, kind: str, mock: MockProvider, **options: Any) -> None:
        self.kind = kind
        self._loop = asyncio.new_event_loop() if kind == "async" else None
        self.gw = mock.async_gateway(**options) if kind == "async" else mock.gateway(**options)

    def __call__(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.gw, operation)(*args, **kwargs)
        if inspect.isawaitable(result):
            assert self._loop is not None
            return self._loop.run_until_complete(result)
        return result

    def close(self) -> None:
        self("aclose" if self._loop is not None else "close")
        if self._loop is not None:
            self._loop.close()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def drive(kind: str, paygate_mock: MockProvider) -> Iterator[Any]:
    """``drive(**options)``: a ``Driver`` of this test's kind on ``paygate_mock``."""
    made: list[Driver] = []

    def make(**options: Any) -> Driver:
        made.append(Driver(kind, paygate_mock, **options))
        return made[-1]

    yield make
    for driver in made:
        driver.close()


def creates(mock: MockProvider) -> int:
    """Requests that create a payment (the mock's recorded POSTs that are not modifications)."""
    return sum(1 for r in mock.requests if r.method == "POST")


# -- Retry-After --------------------------------------------------------------------------------
def test_a_rate_limited_call_waits_the_providers_retry_after_then_succeeds(
    drive: Any, paygate_mock: MockProvider, paygate_clock: FakeClock, paygate_sources: Sources
) -> None:
    paygate_mock.inject(Fault.rate_limited(7.0), times=1)
    gw = drive(retry=RetryPolicy(max_attempts=3, initial_backoff=0.5))

    payment = gw("authorize", AMOUNT, source=paygate_sources.approved, reference="ra-1")

    assert payment.status == "authorized"
    assert paygate_clock.sleeps == [7.0]  # Retry-After outweighs a backoff of at most 0.5 s
    assert creates(paygate_mock) == 2
    keys = {r.headers.get("idempotency-key") for r in paygate_mock.requests}
    assert len(keys) == 1  # the retry went out under the same key


def test_a_retry_after_past_the_policys_ceiling_ends_the_call_without_waiting(
    drive: Any, paygate_mock: MockProvider, paygate_clock: FakeClock, paygate_sources: Sources
) -> None:
    paygate_mock.inject(Fault.rate_limited(120.0), times=1)
    gw = drive(retry=RetryPolicy(max_attempts=3, max_retry_after=30.0))

    with pytest.raises(RetriableError) as caught:
        gw("authorize", AMOUNT, source=paygate_sources.approved, reference="ra-2")

    assert caught.value.code is ErrorCode.RATE_LIMITED
    assert caught.value.retry_after == 120.0
    assert paygate_clock.sleeps == [] and creates(paygate_mock) == 1


def test_a_retry_after_that_would_reach_the_deadline_ends_the_call_at_once(
    drive: Any, paygate_mock: MockProvider, paygate_clock: FakeClock, paygate_sources: Sources
) -> None:
    paygate_mock.inject(Fault.rate_limited(20.0), times=1)
    gw = drive(timeout=Timeout(total=15.0), retry=RetryPolicy(max_attempts=3))

    with pytest.raises(RetriableError):
        gw("authorize", AMOUNT, source=paygate_sources.approved, reference="ra-3")

    assert paygate_clock.sleeps == [] and creates(paygate_mock) == 1


def test_zero_backoff_takes_the_wait_away_but_not_the_retry(
    drive: Any, paygate_mock: MockProvider, paygate_clock: FakeClock, paygate_sources: Sources
) -> None:
    paygate_mock.inject(Fault.rate_limited(7.0), times=1)
    paygate_mock.inject(Fault.server_error(503), times=1)
    gw = drive(retry=RetryPolicy(max_attempts=3, initial_backoff=5.0))

    with zero_backoff():
        payment = gw("authorize", AMOUNT, source=paygate_sources.approved, reference="zb-1")

    assert payment.status == "authorized"
    assert paygate_clock.sleeps == [0.0, 0.0] and creates(paygate_mock) == 3


# -- the deadline -------------------------------------------------------------------------------
def test_an_answer_arriving_after_the_deadline_is_an_unknown_outcome_that_gets_settled(
    drive: Any,
    paygate_mock: MockProvider,
    paygate_clock: FakeClock,
    paygate_sources: Sources,
    paygate_provider: str,
) -> None:
    def late(request: httpx.Request) -> None:
        paygate_clock.advance(31.0)  # the provider acts, and its answer takes 31 s

    paygate_mock.handler = late
    gw = drive(timeout=Timeout(read=60.0, total=30.0), retry=RetryPolicy(max_attempts=3))

    with pytest.raises(OutcomeUnknown) as caught:
        gw("authorize", AMOUNT, source=paygate_sources.approved, reference="dl-1")

    assert caught.value.code is ErrorCode.TIMEOUT
    assert creates(paygate_mock) == 1  # no attempt after the deadline
    [unknown] = gw("unknown_payments")
    assert unknown.reference == "dl-1"
    paygate_mock.handler = None
    # Records are stamped on the system's wall clock: ask for what is due within the day.
    [resolution] = gw("resolve_unknown", due_by=datetime.now(UTC) + timedelta(days=1))
    if paygate_provider == "adyen":  # a card number is never kept, so never sent again:
        assert not resolution.settled  # the provider's webhook settles the payment
        for delivery in paygate_mock.simulator.drain_webhooks():  # type: ignore[attr-defined]
            gw("handle_webhook", delivery.headers, delivery.body)
    else:
        assert resolution.settled, resolution.detail
    assert gw("unknown_payments") == []
    assert paygate_mock.charges("dl-1") == 1


def test_an_answer_dripping_past_the_deadline_is_cut_there(
    drive: Any, paygate_mock: MockProvider, paygate_clock: FakeClock, paygate_sources: Sources
) -> None:
    # Every byte within the read timeout, the whole answer far past the deadline.
    paygate_mock.inject(Fault.slow_body(0.5), times=None)
    gw = drive(timeout=Timeout(read=2.0, total=20.0), retry=RetryPolicy(max_attempts=3))

    with pytest.raises(OutcomeUnknown):
        gw("authorize", AMOUNT, source=paygate_sources.approved, reference="dl-2")

    assert 20.0 <= paygate_clock.elapsed < 20.0 + 0.5 * 1024  # one piece past the deadline
    assert creates(paygate_mock) == 1


def test_a_timeout_after_the_provider_acted_is_retried_under_the_same_key_and_replayed(
    drive: Any, paygate_mock: MockProvider, paygate_clock: FakeClock, paygate_sources: Sources
) -> None:
    paygate_mock.inject(Fault.timeout_after_commit(60.0), times=1)
    gw = drive(timeout=Timeout(read=4.0, total=30.0), retry=RetryPolicy(max_attempts=3))

    payment = gw("authorize", AMOUNT, source=paygate_sources.approved, reference="dl-3")

    assert payment.status == "authorized"
    assert creates(paygate_mock) == 2
    assert paygate_clock.elapsed >= 4.0  # the read timeout, on the clock
    assert paygate_mock.charges("dl-3") == 1


# -- a key in flight -------------------------------------------------------------------------------
def test_a_repeat_waits_for_the_key_in_flight_until_its_deadline_then_is_told_to_come_back(
    kind: str,
    drive: Any,
    paygate_mock: MockProvider,
    paygate_clock: FakeClock,
    paygate_sources: Sources,
) -> None:
    """While the first call is at the provider, its repeat (from inside the provider's handler,
    so no thread is needed) waits on the key, polling, for what is left of its own deadline
    (2 s, shorter than the policy's 5 s), then is refused, having sent nothing."""
    policy = IdempotencyPolicy(in_flight_wait=5.0, poll_interval=0.25)
    gw = drive(timeout=Timeout(read=60.0, total=2.0), idempotency=policy)
    call = {"amount": AMOUNT, "source": paygate_sources.approved, "reference": "if-1"}
    repeats: list[BaseException] = []

    def first_request() -> bool:
        return not repeats and len(paygate_mock.requests) == 1

    def blocking(request: httpx.Request) -> None:
        if first_request():
            with pytest.raises(IdempotencyInFlight) as refused:
                gw.gw.authorize(**call)
            repeats.append(refused.value)

    async def awaited(request: httpx.Request) -> None:
        if first_request():
            with pytest.raises(IdempotencyInFlight) as refused:
                await gw.gw.authorize(**call)
            repeats.append(refused.value)

    paygate_mock.handler = blocking if kind == "sync" else awaited
    # The first call's answer arrives after the repeat's wait: after its own deadline too.
    with pytest.raises(OutcomeUnknown):
        gw("authorize", **call)

    assert len(repeats) == 1 and repeats[0].retriable
    assert sum(paygate_clock.sleeps) == pytest.approx(2.0)  # the deadline, not the policy's 5 s
    assert set(paygate_clock.sleeps) == {0.25}
    assert len(paygate_mock.requests) == 1  # the repeat sent nothing


# -- the circuit breaker ------------------------------------------------------------------------
def test_the_breaker_opens_refuses_without_sending_and_closes_after_a_probe(
    drive: Any, paygate_mock: MockProvider, paygate_clock: FakeClock, paygate_sources: Sources
) -> None:
    gw = drive(
        breaker=BreakerPolicy(failure_threshold=2, reset_timeout=30.0),
        retry=RetryPolicy(max_attempts=1),
    )
    paygate_mock.inject(Fault.server_error(503), times=2)
    for n in range(2):
        with pytest.raises(PaymentError) as caught:
            gw("authorize", AMOUNT, source=paygate_sources.approved, reference=f"br-{n}")
        assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert gw.gw.breaker.state == "open"

    with pytest.raises(CircuitOpen):
        gw("authorize", AMOUNT, source=paygate_sources.approved, reference="br-refused")
    assert creates(paygate_mock) == 2  # refused before anything was sent

    paygate_clock.advance(29.0)
    with pytest.raises(CircuitOpen):
        gw("authorize", AMOUNT, source=paygate_sources.approved, reference="br-early")
    paygate_clock.advance(1.0)
    payment = gw("authorize", AMOUNT, source=paygate_sources.approved, reference="br-probe")
    assert payment.status == "authorized"
    assert gw.gw.breaker.state == "closed"


# -- the bulkhead -------------------------------------------------------------------------------
class Hold:
    """A handler that keeps the first request at the provider until released."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self, request: httpx.Request) -> None:
        if not self.arrived.is_set():
            self.arrived.set()
            assert self.release.wait(30), "the test never released the held request"


def test_a_full_bulkhead_refuses_a_blocking_call_before_anything_is_sent(
    paygate_mock: MockProvider, paygate_sources: Sources
) -> None:
    hold = Hold()
    paygate_mock.handler = hold
    with paygate_mock.gateway(bulkhead=ONE_SLOT, retry=RetryPolicy(max_attempts=1)) as gw:
        first: list[Any] = []
        worker = threading.Thread(
            target=lambda: first.append(
                gw.authorize(AMOUNT, source=paygate_sources.approved, reference="bh-1")
            )
        )
        worker.start()
        assert hold.arrived.wait(30)
        try:
            with pytest.raises(BulkheadFull):
                gw.authorize(AMOUNT, source=paygate_sources.approved, reference="bh-2")
            assert len(paygate_mock.requests) == 1
        finally:
            hold.release.set()
            worker.join(30)
        assert first and first[0].status == "authorized"


def test_a_full_bulkhead_refuses_an_asyncio_call_before_anything_is_sent(
    paygate_mock: MockProvider, paygate_sources: Sources
) -> None:
    release = asyncio.Event()
    arrived = asyncio.Event()

    async def hold(request: httpx.Request) -> None:
        if not arrived.is_set():
            arrived.set()
            await release.wait()

    async def scenario() -> None:
        paygate_mock.handler = hold
        async with paygate_mock.async_gateway(
            bulkhead=ONE_SLOT, retry=RetryPolicy(max_attempts=1)
        ) as gw:
            first = asyncio.create_task(
                gw.authorize(AMOUNT, source=paygate_sources.approved, reference="bh-1")
            )
            await arrived.wait()
            with pytest.raises(BulkheadFull):
                await gw.authorize(AMOUNT, source=paygate_sources.approved, reference="bh-2")
            assert len(paygate_mock.requests) == 1
            release.set()
            assert (await first).status == "authorized"

    asyncio.run(scenario())
