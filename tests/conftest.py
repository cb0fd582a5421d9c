"""Shared fixtures: the simulators (the shipped pytest plugin's, reset around each test), and
gateways of both kinds wired to them.

Every gateway test runs three times: through ``Gateway``, and through ``AsyncGateway`` on each of
its HTTP transports (aiohttp's and httpx's); the async twin is driven from the test's thread
through one persistent event loop, so a test reads the same.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from paygate import AsyncGateway, Gateway, HttpPolicy
from paygate.testing import AdyenSimulator, StripeSimulator

API_KEY = "sk_test_51PaygateUnitTestKey0000000000"
ADYEN_KEY = "AQE_paygate_unit_test_key_0000"


class AsyncDriver:
    """Calls an AsyncGateway's coroutine methods as if they were blocking."""

    # While set, every driver's calls return their coroutines (so calls on several gateways
    # can be gathered on one loop) instead of running them.
    _collecting = False

    def __init__(self, gateway: AsyncGateway, runner: asyncio.Runner) -> None:
        self.gateway = gateway
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.gateway, name)
        if not asyncio.iscoroutinefunction(attribute) or self._collecting:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._runner.run(attribute(*args, **kwargs))

        return call

    def concurrently(self, *calls: Callable[[], Any]) -> list[Any]:
        """Run several driver calls at once on the loop; results or exceptions, in order."""
        AsyncDriver._collecting = True
        try:
            coroutines = [call() for call in calls]
        finally:
            AsyncDriver._collecting = False

        async def gather() -> list[Any]:
            return await asyncio.gather(*coroutines, return_exceptions=True)

        return self._runner.run(gather())


@pytest.fixture
def blocking() -> Iterator[Callable[[AsyncGateway], AsyncDriver]]:
    """Wraps AsyncGateways so a test drives them like blocking ones, on one event loop."""
    runner = asyncio.Runner()
    yield lambda gateway: AsyncDriver(gateway, runner)
    runner.close()


@pytest.fixture
def api_key() -> str:
    """The test secret key every gateway in these tests uses."""
    return API_KEY


@pytest.fixture
def sim(paygate_stripe_sim: StripeSimulator) -> StripeSimulator:
    """The plugin's Stripe simulator, reset before and after the test."""
    return paygate_stripe_sim


# Every gateway test runs on the blocking gateway and on the asyncio one over each of its HTTP
# transports: the guarantees (deadline, retries, breaker, bulkhead, idempotency, hostile
# answers) hold whichever sends the request.
KINDS = ["sync", "async-aiohttp", "async-httpx"]


@pytest.fixture(params=KINDS)
def make_gateway(
    request: pytest.FixtureRequest, sim: StripeSimulator
) -> Iterator[Callable[..., Any]]:
    """A factory of gateways to the Stripe simulator: ``make_gateway(**policies)``."""
    yield from _gateway_factory(
        request.param,
        "for_stripe",
        API_KEY,
        base_url=sim.url,
        webhook_secret=sim.webhook_secret,
    )


@pytest.fixture
def adyen_sim(paygate_adyen_sim: AdyenSimulator) -> AdyenSimulator:
    """The plugin's Adyen simulator, reset before and after the test."""
    return paygate_adyen_sim


@pytest.fixture(params=KINDS)
def make_adyen_gateway(
    request: pytest.FixtureRequest, adyen_sim: AdyenSimulator
) -> Iterator[Callable[..., Any]]:
    """A factory of gateways to the Adyen simulator: ``make_adyen_gateway(**policies)``."""
    yield from _gateway_factory(
        request.param,
        "for_adyen",
        ADYEN_KEY,
        merchant_account=adyen_sim.merchant_account,
        base_url=f"{adyen_sim.url}/v71",
        hmac_key=adyen_sim.hmac_key,
    )


@pytest.fixture(params=[(p, k) for p in ("stripe", "adyen") for k in KINDS], ids=str)
def any_provider(
    request: pytest.FixtureRequest, sim: StripeSimulator, adyen_sim: AdyenSimulator
) -> Iterator[tuple[Callable[..., Any], StripeSimulator | AdyenSimulator]]:
    """A factory of gateways of one kind to one provider's simulator (webhooks verified with
    the simulator's secret), and that simulator: every provider, every gateway kind."""
    provider, kind = request.param
    if provider == "stripe":
        factory = _gateway_factory(
            kind, "for_stripe", API_KEY, base_url=sim.url, webhook_secret=sim.webhook_secret
        )
        simulator: StripeSimulator | AdyenSimulator = sim
    else:
        factory = _gateway_factory(
            kind, "for_adyen", ADYEN_KEY, merchant_account=adyen_sim.merchant_account,
            base_url=f"{adyen_sim.url}/v71", hmac_key=adyen_sim.hmac_key,
        )  # fmt: skip
        simulator = adyen_sim
    yield next(factory), simulator
    next(factory, None)  # closes the gateways it made


def _gateway_factory(
    kind: str, constructor: str, key: str, **provider: Any
) -> Iterator[Callable[..., Any]]:
    """Gateways of one kind (sync, or async on one HTTP backend, driven through one loop),
    closed at the end. ``make.kind`` is "sync" or "async"."""
    closers: list[Callable[[], None]] = []
    runner = asyncio.Runner() if kind != "sync" else None

    def make(**options: Any) -> Any:
        options.setdefault("retry", _fast_retry())
        if runner is None:
            gw = getattr(Gateway, constructor)(key, **provider, **options)
            closers.append(gw.close)
            return gw
        options.setdefault(
            "http", HttpPolicy.model_validate({"backend": kind.removeprefix("async-")})
        )
        agw = getattr(AsyncGateway, constructor)(key, **provider, **options)
        closers.append(lambda: runner.run(agw.aclose()))
        return AsyncDriver(agw, runner)

    make.kind = "sync" if runner is None else "async"  # type: ignore[attr-defined]
    yield make
    for close in closers:
        close()
    if runner is not None:
        runner.close()


def _fast_retry() -> Any:
    from paygate import RetryPolicy

    return RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture
def redis_url() -> str:
    """The test Redis (PAYGATE_TEST_REDIS_URL); the test is skipped without it."""
    url = os.environ.get("PAYGATE_TEST_REDIS_URL")
    if not url:
        pytest.skip("PAYGATE_TEST_REDIS_URL is not set")
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own in the test Redis, its keys deleted afterwards."""
    import redis

    prefix = f"paygate-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)


@pytest.fixture
def empty_conninfo() -> Iterator[str]:
    """An empty scratch schema of the test database (not migrated), dropped afterwards."""
    url = os.environ.get("PAYGATE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PAYGATE_TEST_POSTGRES_URL is not set")
    import psycopg
    from psycopg.conninfo import make_conninfo

    schema = f"paygate_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield make_conninfo(url, options=f"-csearch_path={schema}")
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_conninfo(empty_conninfo: str) -> str:
    """A migrated scratch schema of the test database, dropped afterwards."""
    from paygate._migrations import upgrade

    upgrade(empty_conninfo)
    return empty_conninfo


@pytest.fixture
def cancelled_probe() -> Callable[[Any, Any], Awaitable[None]]:
    """``await cancelled_probe(prober, other)``: ``prober`` (a circuit breaker due a probe)
    admits its half-open probe, whose provider never answers; ``other`` (the same breaker, or
    one sharing its state) is refused meanwhile; then the probe's task is cancelled, and it
    abandons its admission as the gateway does."""

    async def run(prober: Any, other: Any) -> None:
        from paygate.errors import CircuitOpen

        admitted = asyncio.Event()

        async def probe() -> None:
            admission = await prober.admit_async()
            assert admission is not None
            admitted.set()
            try:
                await asyncio.Event().wait()  # a provider that never answers
            except asyncio.CancelledError:
                await admission.abandon_async()
                raise

        task = asyncio.create_task(probe())
        await admitted.wait()
        with pytest.raises(CircuitOpen):
            other.admit()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    return run
