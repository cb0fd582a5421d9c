"""The circuit breaker's state shared in Redis: one instance opens it, every instance fails fast.

Against the real Redis at PAYGATE_TEST_REDIS_URL (skipped without it). Each test has a key
prefix of its own, deleted afterwards. Instead of sleeping through ``reset_timeout``, a test
moves the shared ``opened_at`` into the past, as every instance reads it; the fallback's
recheck interval runs on an injected clock.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from paygate import AsyncGateway, BreakerPolicy, Money, PaymentSource, RetryPolicy
from paygate.errors import CircuitOpen, ErrorCode, RetriableError
from paygate.resilience.breaker import CircuitBreaker
from paygate.testing import StripeSimulator

redis = pytest.importorskip("redis")
shared_breaker = pytest.importorskip("paygate.resilience.shared_breaker")

UNAVAILABLE = RetriableError("503", code=ErrorCode.PROVIDER_UNAVAILABLE)
POLICY = BreakerPolicy(failure_threshold=2, reset_timeout=30)

Make = Callable[..., CircuitBreaker]


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    return redis_prefix


@pytest.fixture
def make(redis_url: str, prefix: str) -> Iterator[Make]:
    """A breaker for provider "stripe" on its own connection: one service instance."""
    opened = []

    def make(
        policy: BreakerPolicy = POLICY, url: str = redis_url, **options: object
    ) -> CircuitBreaker:
        storage = shared_breaker.breaker_storage(url, "stripe", prefix=prefix, **options)
        opened.append(storage)
        return CircuitBreaker("stripe", policy, storage=storage)

    yield make
    for storage in opened:
        storage.close()


def fail(breaker: CircuitBreaker) -> None:
    admission = breaker.admit()
    assert admission is not None
    admission.record(UNAVAILABLE)


def reset_timeout_passes(redis_url: str, prefix: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.set(f"{prefix}stripe:pybreaker:opened_at", int(time.time()) - 3600)


_OPENER = textwrap.dedent(
    """
    import sys
    from paygate import BreakerPolicy
    from paygate.errors import ErrorCode, RetriableError
    from paygate.resilience.breaker import CircuitBreaker
    from paygate.resilience.shared_breaker import breaker_storage

    url, prefix = sys.argv[1:3]
    storage = breaker_storage(url, "stripe", prefix=prefix)
    breaker = CircuitBreaker("stripe", BreakerPolicy(failure_threshold=2), storage=storage)
    for _ in range(2):
        breaker.admit().record(RetriableError("503", code=ErrorCode.PROVIDER_UNAVAILABLE))
    print(breaker.state)
    """
)


def test_a_breaker_opened_in_another_process_is_open_here(
    make: Make, redis_url: str, prefix: str
) -> None:
    here = make()
    assert here.admit() is not None  # closed: this instance would call the provider
    opener = subprocess.run(
        [sys.executable, "-c", _OPENER, redis_url, prefix],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert opener.stdout.split() == ["open"]
    assert here.state == "open"
    with pytest.raises(CircuitOpen):
        here.admit()
    assert here.fallbacks == 0


async def test_a_sync_and_an_async_instance_see_the_same_state(
    make: Make, redis_url: str, prefix: str
) -> None:
    sync_instance, async_instance = make(), make()
    for _ in range(2):  # opened by the async instance, on redis.asyncio
        admission = await async_instance.admit_async()
        assert admission is not None
        await admission.record_async(UNAVAILABLE)
    assert sync_instance.state == "open"
    with pytest.raises(CircuitOpen):
        sync_instance.admit()
    # The documented keys (pybreaker's layout, which earlier paygate versions read) hold it.
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        fields = ("state", "fail_counter", "success_counter")
        keys = [f"{prefix}stripe:pybreaker:{field}" for field in fields]
        assert client.mget(keys) == ["open", "2", None]
        opened_at = int(client.get(f"{prefix}stripe:pybreaker:opened_at"))
        assert time.time() - 60 < opened_at <= time.time() + 1  # epoch seconds, rounded up

    reset_timeout_passes(redis_url, prefix)
    probe = sync_instance.admit()  # the sync instance probes and the provider answers
    assert probe is not None and await async_instance.state_async() == "half-open"
    with pytest.raises(CircuitOpen):
        await async_instance.admit_async()  # the probe is out, on another instance
    probe.record(None)
    assert await async_instance.state_async() == "closed"
    assert await async_instance.admit_async() is not None
    await async_instance.backend.aclose()  # type: ignore[attr-defined]


def test_half_open_lets_exactly_one_probe_through_across_instances(
    make: Make, redis_url: str, prefix: str
) -> None:
    instances = [make() for _ in range(8)]
    fail(instances[0])
    fail(instances[1])
    reset_timeout_passes(redis_url, prefix)
    barrier = threading.Barrier(len(instances))
    admitted = []

    def race(breaker: CircuitBreaker) -> None:
        barrier.wait()
        with contextlib.suppress(CircuitOpen):
            admitted.append(breaker.admit())

    threads = [threading.Thread(target=race, args=(b,)) for b in instances]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 1  # one probe among eight instances
    probe = admitted[0]
    assert probe is not None
    probe.record(UNAVAILABLE)  # the probe fails: open again, every instance refuses
    for breaker in instances:
        with pytest.raises(CircuitOpen):
            breaker.admit()


async def test_a_cancelled_async_probe_frees_the_shared_probe_slot(
    make: Make, redis_url: str, prefix: str, cancelled_probe: Callable[[Any, Any], Awaitable[None]]
) -> None:
    prober, other = make(), make()
    fail(prober)
    fail(prober)
    reset_timeout_passes(redis_url, prefix)
    await cancelled_probe(prober, other)
    admission = other.admit()  # the slot is free again, and nothing was counted
    assert admission is not None and other.state == "half-open"
    admission.record(None)
    assert prober.state == "closed"
    await prober.backend.aclose()  # type: ignore[attr-defined]


async def test_an_async_gateway_fails_fast_on_a_breaker_opened_elsewhere(
    make: Make, sim: StripeSimulator, api_key: str, redis_url: str, prefix: str
) -> None:
    elsewhere = make()
    fail(elsewhere)
    fail(elsewhere)
    shared = make().backend  # this instance's connection to the shared state
    async with AsyncGateway.for_stripe(
        api_key,
        base_url=sim.url,
        retry=RetryPolicy(max_attempts=1),
        breaker=POLICY,
        breaker_state=shared,
    ) as gw:
        with pytest.raises(CircuitOpen):
            await gw.authorize(
                Money("1.00", "EUR"), source=PaymentSource.token("pm_card_visa"), reference="o-1"
            )
        assert sim.requests == []  # refused without reaching the provider
        reset_timeout_passes(redis_url, prefix)
        payment = await gw.authorize(
            Money("1.00", "EUR"), source=PaymentSource.token("pm_card_visa"), reference="o-2"
        )  # the probe, through redis.asyncio
        assert payment.status.value == "authorized"
        await gw.breaker.backend.aclose()  # type: ignore[attr-defined]
    assert elsewhere.state == "closed"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_redis_falls_back_to_a_local_breaker(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="paygate")
    breaker = make(url=f"redis://127.0.0.1:{_closed_port()}/0", recheck=60)
    started = time.perf_counter()
    fail(breaker)  # still counted, locally
    fail(breaker)
    with pytest.raises(CircuitOpen):
        breaker.admit()
    assert time.perf_counter() - started < 1.0  # no retries, no waits on the dead server
    assert breaker.fallbacks == 1  # one fallback per outage, not one per call
    warnings = [r.getMessage() for r in caplog.records if r.name == "paygate"]
    assert len(warnings) == 1 and "falling back to a local breaker" in warnings[0]


async def test_unreachable_redis_falls_back_for_the_async_verbs_too(make: Make) -> None:
    breaker = make(url=f"redis://127.0.0.1:{_closed_port()}/0", recheck=60)
    for _ in range(2):
        admission = await breaker.admit_async()
        assert admission is not None
        await admission.record_async(UNAVAILABLE)
    with pytest.raises(CircuitOpen):
        await breaker.admit_async()
    assert breaker.fallbacks == 1
    await breaker.backend.aclose()  # type: ignore[attr-defined]


def test_the_local_fallback_starts_from_the_shared_state_and_returns_to_it(
    make: Make, redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="paygate")
    clock = [0.0]
    opener, instance = make(), make(recheck=5.0, clock=lambda: clock[0])
    fail(opener)
    fail(opener)
    assert instance.state == "open"  # seen shared once
    storage = instance.backend
    reachable = storage._client  # type: ignore[attr-defined]
    storage._client = redis.Redis.from_url(  # type: ignore[attr-defined]
        f"redis://127.0.0.1:{_closed_port()}/0", retry=None
    )  # an outage
    with pytest.raises(CircuitOpen):
        instance.admit()  # local now, and still open: it starts from what it last saw
    assert instance.fallbacks == 1 and storage.local  # type: ignore[attr-defined]

    storage._client = reachable  # type: ignore[attr-defined]  # Redis answers again
    reset_timeout_passes(redis_url, prefix)  # and another instance closes the breaker
    probe = opener.admit()
    assert probe is not None
    probe.record(None)
    clock[0] += 4.9
    with pytest.raises(CircuitOpen):
        instance.admit()  # still local, within the recheck interval
    clock[0] += 0.1  # the recheck interval has passed
    assert instance.admit() is not None  # shared again: closed
    assert not storage.local  # type: ignore[attr-defined]
    messages = [r.getMessage() for r in caplog.records if r.name == "paygate"]
    assert any("falling back" in m for m in messages)
    assert any("reachable again" in m for m in messages)
