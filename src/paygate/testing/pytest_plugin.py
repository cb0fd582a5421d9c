"""paygate's pytest plugin: simulators, gateways and fault injection as fixtures.

Installed with paygate (the ``pytest11`` entry point ``paygate``), so a test only names the
fixtures it wants; there is nothing to set up. Every fixture name starts with ``paygate_``.

Per registered provider ``<name>`` (``stripe``, ``adyen``, and any provider registered by a
``paygate.providers`` entry point or by a root ``conftest.py`` before the session starts):

- ``paygate_<name>_sim``: the provider's simulator on 127.0.0.1; one server per test session
  (``paygate_<name>_server``), reset (payments, faults, webhooks, requests) before and after
  each test.
- ``paygate_<name>_gateway``: a ``Gateway`` wired to it, with in-memory stores and
  ``paygate_gateway_options``, closed after the test.
- ``paygate_<name>_async_gateway``: the same as an ``AsyncGateway``, closed after the test (an
  async fixture: needs pytest-asyncio).

Provider-agnostic, parametrized over every registered provider (a test using them runs once
per provider; ``@pytest.mark.parametrize("paygate_provider", ["adyen"])`` picks one):

- ``paygate_provider``: the provider's name, ``"stripe"``, ``"adyen"``...
- ``paygate_sim``, ``paygate_gateway``, ``paygate_async_gateway``: that provider's simulator and
  gateways.
- ``paygate_sources``: its test payment sources (``approved``, ``generic_decline``,
  ``insufficient_funds``, ``expired_card``, ``incorrect_cvc``, ``three_ds``).
- ``paygate_inject(fault, times=1, method=None, path=None)``: inject a ``Fault`` into it.
- ``paygate_deliver_webhooks()``: decide its pending asynchronous steps (Adyen's
  modifications) and hand every queued webhook to ``paygate_gateway``; returns the outcomes.
- ``paygate_env``: ``PAYGATE_*`` environment variables pointing ``Gateway.from_settings()``
  at it (set for the test only).
- ``paygate_mock``: a ``MockProvider`` for it, answering in process on ``paygate_clock``
  (``paygate_mock.gateway()``, ``paygate_mock.async_gateway()``; give it a ``handler``).

Options, time and retries:

- ``paygate_gateway_options``: the options every gateway above is built with: fast retries
  (``RETRY``: 3 attempts, 10 to 50 ms apart) and short timeouts (``TIMEOUT``: 0.5 s per read,
  10 s per call). Override the fixture in a ``conftest.py`` to change them, or to add any
  option a gateway takes (``breaker=``, ``store=``...).
- ``paygate_clock``: a ``FakeClock``; pass it as a gateway's ``clock=``.
- ``paygate_zero_backoff``: every retry waits no time during the test (``zero_backoff()``).
"""

from __future__ import annotations

import os
import types
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Final

import pytest

from paygate import AsyncGateway, Gateway, RetryPolicy, Timeout
from paygate.adapters.registry import provider_names
from paygate.models import WebhookOutcome
from paygate.testing._clock import FakeClock, zero_backoff
from paygate.testing._mock import MockProvider
from paygate.testing._server import Simulator
from paygate.testing.contract import ContractAdapter, Sources, adapter_named
from paygate.testing.faults import Fault

RETRY: Final = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)
TIMEOUT: Final = Timeout(read=0.5, total=10.0)

Inject = Callable[..., None]

try:  # the asyncio gateway's fixtures are async fixtures: pytest-asyncio runs them
    import pytest_asyncio
except ImportError:  # pragma: no cover - pytest-asyncio is a dev dependency here
    ASYNC_FIXTURES = False
else:
    ASYNC_FIXTURES = True


def provider_gateway(entry: ContractAdapter[Any], sim: Simulator, **options: Any) -> Gateway:
    """A gateway to ``sim`` with the plugin's fast retries and short timeouts."""
    return entry.sim_gateway(sim, **{"retry": RETRY, "timeout": TIMEOUT, **options})


async def _async_gateway(
    name: str, sim: Simulator, options: dict[str, Any]
) -> AsyncIterator[AsyncGateway]:
    """An AsyncGateway to ``sim`` with ``options``, closed on the loop it ran on."""
    entry = adapter_named(name)
    async with AsyncGateway.for_provider(name, **entry.sim_options(sim), **options) as agw:
        yield agw


# -- per provider: generated for each registered provider when the session starts -----------------
def _provider_fixtures(name: str) -> types.ModuleType:
    """The ``paygate_<name>_server``, ``_sim`` and ``_gateway`` fixtures, as a plugin."""
    fixtures = types.ModuleType(f"paygate.testing.pytest_plugin.{name}")

    @pytest.fixture(scope="session", name=f"paygate_{name}_server")
    def server() -> Iterator[Simulator]:
        """The session's simulator (not reset: use ``paygate_<name>_sim`` in tests)."""
        with adapter_named(name).simulator() as sim:
            yield sim

    @pytest.fixture(name=f"paygate_{name}_sim")
    def sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
        """The provider's simulator on loopback, reset before and after the test."""
        running: Simulator = request.getfixturevalue(f"paygate_{name}_server")
        running.reset()
        yield running
        running.reset()

    @pytest.fixture(name=f"paygate_{name}_gateway")
    def gateway(
        request: pytest.FixtureRequest, paygate_gateway_options: dict[str, Any]
    ) -> Iterator[Gateway]:
        """A Gateway to ``paygate_<name>_sim``: in-memory stores, ``paygate_gateway_options``."""
        sim = request.getfixturevalue(f"paygate_{name}_sim")
        with provider_gateway(adapter_named(name), sim, **paygate_gateway_options) as gw:
            yield gw

    vars(fixtures).update(server=server, sim=sim, gateway=gateway)
    if ASYNC_FIXTURES:

        @pytest_asyncio.fixture(name=f"paygate_{name}_async_gateway")
        async def async_gateway(
            request: pytest.FixtureRequest, paygate_gateway_options: dict[str, Any]
        ) -> AsyncIterator[AsyncGateway]:
            """An AsyncGateway to ``paygate_<name>_sim``, as ``paygate_<name>_gateway``."""
            sim = request.getfixturevalue(f"paygate_{name}_sim")
            async for agw in _async_gateway(name, sim, paygate_gateway_options):
                yield agw

        vars(fixtures).update(async_gateway=async_gateway)
    return fixtures


def pytest_configure(config: pytest.Config) -> None:
    for name in provider_names():
        plugin = f"paygate-provider-{name}"
        if not config.pluginmanager.has_plugin(plugin):
            config.pluginmanager.register(_provider_fixtures(name), plugin)


# -- provider-agnostic ----------------------------------------------------------------------------
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a test using ``paygate_provider`` once per registered provider, unless the test
    parametrizes it itself."""
    if "paygate_provider" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        chosen = names.split(",") if isinstance(names, str) else list(names)
        if "paygate_provider" in (n.strip() for n in chosen):
            return
    metafunc.parametrize("paygate_provider", provider_names(), indirect=True)


@pytest.fixture
def paygate_provider(request: pytest.FixtureRequest) -> str:
    """The provider this test runs against; a test using it runs once per provider."""
    provider: str = request.param
    return provider


@pytest.fixture
def paygate_sim(paygate_provider: str, request: pytest.FixtureRequest) -> Simulator:
    """The simulator of ``paygate_provider``, reset before and after the test."""
    sim: Simulator = request.getfixturevalue(f"paygate_{paygate_provider}_sim")
    return sim


@pytest.fixture
def paygate_gateway(paygate_provider: str, request: pytest.FixtureRequest) -> Gateway:
    """A Gateway to ``paygate_sim``."""
    gw: Gateway = request.getfixturevalue(f"paygate_{paygate_provider}_gateway")
    return gw


if ASYNC_FIXTURES:

    @pytest_asyncio.fixture
    async def paygate_async_gateway(
        paygate_provider: str, paygate_sim: Simulator, paygate_gateway_options: dict[str, Any]
    ) -> AsyncIterator[AsyncGateway]:
        """An AsyncGateway to ``paygate_sim``, closed after the test."""
        async for agw in _async_gateway(paygate_provider, paygate_sim, paygate_gateway_options):
            yield agw


@pytest.fixture
def paygate_sources(paygate_provider: str) -> Sources:
    """The provider's test payment sources, by behaviour (``.approved``, ``.three_ds``...)."""
    return adapter_named(paygate_provider).sources


@pytest.fixture
def paygate_inject(paygate_sim: Simulator) -> Iterator[Inject]:
    """``paygate_inject(fault, times=1, method=None, path=None)``: inject a ``Fault`` into
    ``paygate_sim``; faults are cleared after the test."""

    def inject(
        fault: Fault, times: int | None = 1, method: str | None = None, path: str | None = None
    ) -> None:
        paygate_sim.inject(fault, times=times, method=method, path=path)

    yield inject
    paygate_sim.clear_faults()


@pytest.fixture
def paygate_deliver_webhooks(
    paygate_provider: str, paygate_sim: Simulator, paygate_gateway: Gateway
) -> Callable[[], list[WebhookOutcome]]:
    """Decide pending asynchronous steps and deliver every queued webhook to the gateway."""
    entry = adapter_named(paygate_provider)
    return lambda: entry.confirm(paygate_gateway, paygate_sim)


@pytest.fixture
def paygate_env(
    paygate_provider: str, paygate_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """``PAYGATE_*`` variables pointing ``Gateway.from_settings()`` at ``paygate_sim`` (other
    ``PAYGATE_*`` variables are removed for the test); returns what was set."""
    for name in [n for n in os.environ if n.startswith("PAYGATE_")]:
        monkeypatch.delenv(name)
    env = adapter_named(paygate_provider).settings_env(paygate_sim)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def paygate_mock(paygate_provider: str, paygate_clock: FakeClock) -> MockProvider:
    """``paygate_provider`` answering in process, on ``paygate_clock``."""
    return MockProvider(paygate_provider, clock=paygate_clock)


# -- options, time and retries --------------------------------------------------------------------
@pytest.fixture
def paygate_gateway_options() -> dict[str, Any]:
    """The options the plugin's gateways are built with (override it to change them)."""
    return {"retry": RETRY, "timeout": TIMEOUT}


@pytest.fixture
def paygate_clock() -> FakeClock:
    """A clock that moves only when told to, or when a gateway sleeps on it."""
    return FakeClock()


@pytest.fixture
def paygate_zero_backoff() -> Iterator[None]:
    """Retries wait no time during the test."""
    with zero_backoff():
        yield
