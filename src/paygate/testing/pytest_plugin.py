"""paygate's pytest plugin: simulators, gateways and fault injection as fixtures.

Installed with paygate (the ``pytest11`` entry point ``paygate``), so a test only names the
fixtures it wants; there is nothing to set up. Every fixture name starts with ``paygate_``.

Per provider (``stripe``, ``adyen``):

- ``paygate_stripe_sim`` / ``paygate_adyen_sim``: the provider's simulator on 127.0.0.1; one
  server per test session, reset (payments, faults, webhooks, requests) before and after each
  test.
- ``paygate_stripe_gateway`` / ``paygate_adyen_gateway``: a ``Gateway`` wired to it, with
  in-memory stores, fast retries and short timeouts, closed after the test.

Provider-agnostic, parametrized over both providers (a test using them runs once per
provider; ``@pytest.mark.parametrize("paygate_provider", ["adyen"])`` picks one):

- ``paygate_provider``: ``"stripe"`` or ``"adyen"``.
- ``paygate_sim``, ``paygate_gateway``: that provider's simulator and gateway.
- ``paygate_sources``: its test payment sources (``approved``, ``generic_decline``,
  ``insufficient_funds``, ``expired_card``, ``incorrect_cvc``, ``three_ds``).
- ``paygate_inject(fault, times=1, method=None, path=None)``: inject a ``Fault`` into it.
- ``paygate_deliver_webhooks()``: decide its pending asynchronous steps (Adyen's
  modifications) and hand every queued webhook to ``paygate_gateway``; returns the outcomes.
- ``paygate_env``: ``PAYGATE_*`` environment variables pointing ``Gateway.from_settings()``
  at it (set for the test only).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, Final

import pytest

from paygate import Gateway, RetryPolicy, Timeout
from paygate.models import WebhookOutcome
from paygate.testing._server import Simulator
from paygate.testing.adyen import AdyenSimulator
from paygate.testing.contract import Sources, adapter_named, deliver_webhooks
from paygate.testing.faults import Fault
from paygate.testing.stripe import StripeSimulator

PROVIDERS: Final = ("stripe", "adyen")
RETRY: Final = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)
TIMEOUT: Final = Timeout(read=0.5, total=10.0)
STRIPE_KEY: Final = "sk_test_paygate_pytest_plugin"
ADYEN_KEY: Final = "AQE_paygate_pytest_plugin"

Inject = Callable[..., None]


# -- servers, one per session ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def paygate_stripe_server() -> Iterator[StripeSimulator]:
    """The session's Stripe simulator (not reset: use ``paygate_stripe_sim`` in tests)."""
    with StripeSimulator() as sim:
        yield sim


@pytest.fixture(scope="session")
def paygate_adyen_server() -> Iterator[AdyenSimulator]:
    """The session's Adyen simulator (not reset: use ``paygate_adyen_sim`` in tests)."""
    with AdyenSimulator() as sim:
        yield sim


# -- per provider ---------------------------------------------------------------------------------
@pytest.fixture
def paygate_stripe_sim(paygate_stripe_server: StripeSimulator) -> Iterator[StripeSimulator]:
    """A Stripe simulator on loopback, reset before and after the test."""
    paygate_stripe_server.reset()
    yield paygate_stripe_server
    paygate_stripe_server.reset()


@pytest.fixture
def paygate_adyen_sim(paygate_adyen_server: AdyenSimulator) -> Iterator[AdyenSimulator]:
    """An Adyen simulator on loopback, reset before and after the test."""
    paygate_adyen_server.reset()
    yield paygate_adyen_server
    paygate_adyen_server.reset()


def stripe_gateway(sim: StripeSimulator, **options: Any) -> Gateway:
    options = {"retry": RETRY, "timeout": TIMEOUT, **options}
    return Gateway.for_stripe(
        STRIPE_KEY, base_url=sim.url, webhook_secret=sim.webhook_secret, **options
    )


def adyen_gateway(sim: AdyenSimulator, **options: Any) -> Gateway:
    options = {"retry": RETRY, "timeout": TIMEOUT, **options}
    return Gateway.for_adyen(
        ADYEN_KEY,
        merchant_account=sim.merchant_account,
        base_url=f"{sim.url}/v71",
        hmac_key=sim.hmac_key,
        **options,
    )


@pytest.fixture
def paygate_stripe_gateway(paygate_stripe_sim: StripeSimulator) -> Iterator[Gateway]:
    """A Gateway to ``paygate_stripe_sim``: in-memory stores, fast retries, short timeouts."""
    with stripe_gateway(paygate_stripe_sim) as gw:
        yield gw


@pytest.fixture
def paygate_adyen_gateway(paygate_adyen_sim: AdyenSimulator) -> Iterator[Gateway]:
    """A Gateway to ``paygate_adyen_sim``: in-memory stores, fast retries, short timeouts."""
    with adyen_gateway(paygate_adyen_sim) as gw:
        yield gw


# -- provider-agnostic ----------------------------------------------------------------------------
@pytest.fixture(params=PROVIDERS)
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
    paygate_sim: Simulator, paygate_gateway: Gateway
) -> Callable[[], list[WebhookOutcome]]:
    """Decide pending asynchronous steps and deliver every queued webhook to the gateway."""

    return lambda: deliver_webhooks(paygate_gateway, paygate_sim)


@pytest.fixture
def paygate_env(
    paygate_provider: str, paygate_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """``PAYGATE_*`` variables pointing ``Gateway.from_settings()`` at ``paygate_sim`` (other
    ``PAYGATE_*`` variables are removed for the test); returns what was set."""
    for name in [n for n in os.environ if n.startswith("PAYGATE_")]:
        monkeypatch.delenv(name)
    env = {"PAYGATE_PROVIDER": paygate_provider}
    if isinstance(paygate_sim, StripeSimulator):
        env |= {
            "PAYGATE_STRIPE__API_KEY": STRIPE_KEY,
            "PAYGATE_STRIPE__BASE_URL": paygate_sim.url,
            "PAYGATE_STRIPE__WEBHOOK_SECRET": paygate_sim.webhook_secret,
        }
    elif isinstance(paygate_sim, AdyenSimulator):
        env |= {
            "PAYGATE_ADYEN__API_KEY": ADYEN_KEY,
            "PAYGATE_ADYEN__BASE_URL": f"{paygate_sim.url}/v71",
            "PAYGATE_ADYEN__MERCHANT_ACCOUNT": paygate_sim.merchant_account,
            "PAYGATE_ADYEN__HMAC_KEY": paygate_sim.hmac_key,
        }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
