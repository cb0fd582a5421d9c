"""The contract suite: one set of scenarios, written once against ``Gateway``, run for every
adapter registered in ``ADAPTERS`` on every target (``sim``: its simulator on loopback;
``sandbox``: the provider's real test environment).

The scenarios live in ``paygate.testing._contract_scenarios``; ``contract_tests/`` runs them
under pytest and ``paygate contract`` runs them from the command line, so both run the same
code. A new adapter is registered with one ``ContractAdapter`` entry in ``ADAPTERS``: its
name, how to build a gateway for each target, its simulator, its test payment sources, and how
its asynchronous steps are confirmed.

Sandbox credentials come from the environment only (``SANDBOX_ENV``); a missing one skips
the sandbox with a reason naming it, and a live credential is refused before any call.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, TypeVar

import httpx

from paygate import Gateway, Money, Payment, PaymentSource, RetryPolicy, Timeout
from paygate.errors import CardDeclinedError, PaymentError
from paygate.models import WebhookOutcome
from paygate.testing._contract_record import Exchange, RecordingTransport
from paygate.testing._server import Simulator
from paygate.testing.adyen import AdyenSimulator
from paygate.testing.stripe import StripeSimulator

__all__ = [
    "ADAPTERS",
    "SANDBOX_ENV",
    "WEBHOOK_URL_ENV",
    "Contract",
    "ContractAdapter",
    "LiveCredentialsError",
    "ScenarioSkipped",
    "Sources",
    "Target",
    "adapter_named",
    "open_contract",
]

E = TypeVar("E", bound=PaymentError)

# A sandbox receives its webhooks only at a public URL; without one, the scenarios that wait
# for a webhook are skipped on the sandbox.
WEBHOOK_URL_ENV: Final = "PAYGATE_CONTRACT_WEBHOOK_URL"


class Target(StrEnum):
    SIM = "sim"  # the adapter's simulator on 127.0.0.1
    SANDBOX = "sandbox"  # the provider's test environment, credentials from the environment


class ScenarioSkipped(Exception):
    """A scenario that cannot run on this target; the message says why."""


class LiveCredentialsError(Exception):
    """A live credential or endpoint was given to the contract suite: refused before any call."""


@dataclass(frozen=True, slots=True)
class Sources:
    """The test payment sources every adapter provides, one per behaviour."""

    approved: PaymentSource
    generic_decline: PaymentSource
    insufficient_funds: PaymentSource
    expired_card: PaymentSource
    incorrect_cvc: PaymentSource
    three_ds: PaymentSource


@dataclass(frozen=True, slots=True)
class ContractAdapter:
    """One adapter's entry in the contract registry.

    ``sandbox_env`` names the environment variables the sandbox needs, all required;
    ``sandbox_gateway`` builds the gateway from their values (and raises
    ``LiveCredentialsError`` for a live credential, before any call). ``confirm`` hands the
    simulator's pending asynchronous steps and webhooks to the gateway; ``charges`` counts the
    payments the simulator holds for a reference. ``asynchronous_modifications``: capture, void
    and refund answer ``pending`` and are confirmed by webhook only.
    """

    name: str
    sources: Sources
    simulator: Callable[[], Simulator]
    sim_gateway: Callable[..., Gateway]  # (simulator, **gateway options) -> Gateway
    sandbox_env: tuple[str, ...]
    sandbox_gateway: Callable[..., Gateway]  # (env values, **gateway options) -> Gateway
    confirm: Callable[[Gateway, Simulator], list[WebhookOutcome]]
    charges: Callable[[Simulator, str], int]
    wire_module: str  # the module holding the adapter's wire models (for schema drift)
    three_decimal: Money | None = None  # a three-decimal amount the provider takes, if any
    asynchronous_modifications: bool = False


# -- Stripe ---------------------------------------------------------------------------------------
STRIPE_KEY_ENV: Final = "PAYGATE_CONTRACT_STRIPE_API_KEY"
STRIPE_WEBHOOK_ENV: Final = "PAYGATE_CONTRACT_STRIPE_WEBHOOK_SECRET"  # optional


def _stripe_sim_gateway(sim: Simulator, **options: Any) -> Gateway:
    assert isinstance(sim, StripeSimulator)
    return Gateway.for_stripe(
        "sk_test_paygate_contract", base_url=sim.url, webhook_secret=sim.webhook_secret, **options
    )


def _stripe_sandbox_gateway(env: Mapping[str, str], **options: Any) -> Gateway:
    key = env[STRIPE_KEY_ENV]
    if key.startswith(("sk_live_", "rk_live_")):
        raise LiveCredentialsError(
            f"{STRIPE_KEY_ENV} is a live Stripe key: the contract suite never touches real money"
        )
    if not key.startswith(("sk_test_", "rk_test_")):
        raise LiveCredentialsError(f"{STRIPE_KEY_ENV} must be a Stripe test key (sk_test_...)")
    return Gateway.for_stripe(key, webhook_secret=env.get(STRIPE_WEBHOOK_ENV), **options)


def _stripe_charges(sim: Simulator, reference: str) -> int:
    assert isinstance(sim, StripeSimulator)
    return len(sim.payment_intents(reference=reference))


def deliver_webhooks(gw: Gateway, sim: Simulator) -> list[WebhookOutcome]:
    """Decide the simulator's pending asynchronous steps (Adyen's modifications) and hand
    every queued webhook to the gateway; what each event did."""
    assert isinstance(sim, StripeSimulator | AdyenSimulator)
    if isinstance(sim, AdyenSimulator):
        sim.process_modifications()
    outcomes: list[WebhookOutcome] = []
    for delivery in sim.drain_webhooks():
        outcomes.extend(gw.handle_webhook(delivery.headers, delivery.body))
    return outcomes


STRIPE: Final = ContractAdapter(
    name="stripe",
    sources=Sources(
        approved=PaymentSource.token("pm_card_visa"),
        generic_decline=PaymentSource.token("pm_card_visa_chargeDeclined"),
        insufficient_funds=PaymentSource.token("pm_card_visa_chargeDeclinedInsufficientFunds"),
        expired_card=PaymentSource.token("pm_card_chargeDeclinedExpiredCard"),
        incorrect_cvc=PaymentSource.token("pm_card_chargeDeclinedIncorrectCvc"),
        three_ds=PaymentSource.token("pm_card_threeDSecure2Required"),
    ),
    simulator=StripeSimulator,
    sim_gateway=_stripe_sim_gateway,
    sandbox_env=(STRIPE_KEY_ENV,),
    sandbox_gateway=_stripe_sandbox_gateway,
    confirm=deliver_webhooks,
    charges=_stripe_charges,
    wire_module="paygate.adapters.stripe._wire",
    three_decimal=Money("5.120", "KWD"),  # Stripe takes KWD only with a trailing 0
)


# -- Adyen ----------------------------------------------------------------------------------------
ADYEN_KEY_ENV: Final = "PAYGATE_CONTRACT_ADYEN_API_KEY"
ADYEN_MERCHANT_ENV: Final = "PAYGATE_CONTRACT_ADYEN_MERCHANT_ACCOUNT"
ADYEN_HMAC_ENV: Final = "PAYGATE_CONTRACT_ADYEN_HMAC_KEY"
ADYEN_URL_ENV: Final = "PAYGATE_CONTRACT_ADYEN_BASE_URL"  # optional: the test endpoint
ADYEN_TEST_URL: Final = "https://checkout-test.adyen.com/v71"


def _adyen_card(holder: str, number: str = "4111111145551142") -> PaymentSource:
    return PaymentSource.card(number, 3, 2030, "737", holder_name=holder)


def _adyen_sim_gateway(sim: Simulator, **options: Any) -> Gateway:
    assert isinstance(sim, AdyenSimulator)
    return Gateway.for_adyen(
        "AQE_paygate_contract",
        merchant_account=sim.merchant_account,
        base_url=f"{sim.url}/v71",
        hmac_key=sim.hmac_key,
        **options,
    )


def _adyen_sandbox_gateway(env: Mapping[str, str], **options: Any) -> Gateway:
    base_url = env.get(ADYEN_URL_ENV) or ADYEN_TEST_URL
    host = httpx.URL(base_url).host
    if "live" in host or host != "checkout-test.adyen.com":
        raise LiveCredentialsError(
            f"{ADYEN_URL_ENV}={base_url} is not Adyen's test endpoint (checkout-test.adyen.com): "
            "the contract suite never touches real money"
        )
    return Gateway.for_adyen(
        env[ADYEN_KEY_ENV],
        merchant_account=env[ADYEN_MERCHANT_ENV],
        base_url=base_url,
        hmac_key=env[ADYEN_HMAC_ENV],
        **options,
    )


def _adyen_charges(sim: Simulator, reference: str) -> int:
    assert isinstance(sim, AdyenSimulator)
    return len(sim.payments(reference=reference))


ADYEN: Final = ContractAdapter(
    name="adyen",
    sources=Sources(
        approved=_adyen_card("APPROVED"),
        generic_decline=_adyen_card("DECLINED"),
        insufficient_funds=_adyen_card("NOT_ENOUGH_BALANCE"),
        expired_card=_adyen_card("CARD_EXPIRED"),
        incorrect_cvc=_adyen_card("CVC_DECLINED"),
        three_ds=_adyen_card("3DS", number="4917610000000000"),
    ),
    simulator=AdyenSimulator,
    sim_gateway=_adyen_sim_gateway,
    sandbox_env=(ADYEN_KEY_ENV, ADYEN_MERCHANT_ENV, ADYEN_HMAC_ENV),
    sandbox_gateway=_adyen_sandbox_gateway,
    confirm=deliver_webhooks,
    charges=_adyen_charges,
    wire_module="paygate.adapters.adyen._wire",
    three_decimal=Money("5.125", "KWD"),
    asynchronous_modifications=True,
)

# The registry: every adapter here runs every scenario on every target.
ADAPTERS: Final[tuple[ContractAdapter, ...]] = (STRIPE, ADYEN)
SANDBOX_ENV: Final[Mapping[str, tuple[str, ...]]] = {a.name: a.sandbox_env for a in ADAPTERS}


def adapter_named(name: str) -> ContractAdapter:
    for adapter in ADAPTERS:
        if adapter.name == name:
            return adapter
    known = ", ".join(a.name for a in ADAPTERS)
    raise KeyError(f"no adapter {name!r} in the contract registry (known: {known})")


# -- one scenario's world -------------------------------------------------------------------------
SIM_OPTIONS: Final[Mapping[str, Any]] = {
    "retry": RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05),
    "timeout": Timeout(read=0.3, total=10.0),
}
SANDBOX_OPTIONS: Final[Mapping[str, Any]] = {
    "retry": RetryPolicy(max_attempts=3, initial_backoff=0.5, max_backoff=4.0),
    "timeout": Timeout(read=30.0, total=90.0),
}


@dataclass
class Contract:
    """What a scenario talks to: one gateway, and on ``sim`` its simulator.

    It also keeps what the run saw: the normalized error codes (``codes``) and every provider
    response (``exchanges``, for ``--record``).
    """

    adapter: ContractAdapter
    target: Target
    gateway: Gateway
    simulator: Simulator | None
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    codes: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def sources(self) -> Sources:
        return self.adapter.sources

    def ref(self, name: str) -> str:
        """A reference unique to this run (sandboxes keep idempotency keys for a day)."""
        return f"ct-{self.run_id}-{name}"

    def sim_only(self) -> Simulator:
        if self.simulator is None:
            raise ScenarioSkipped("runs on the sim target only: faults are injected there")
        return self.simulator

    def charges(self, reference: str) -> int:
        """How many payments the simulator holds for ``reference``."""
        return self.adapter.charges(self.sim_only(), reference)

    def confirm(self) -> list[WebhookOutcome]:
        """Deliver the provider's confirmations of asynchronous steps (webhooks)."""
        if self.simulator is not None:
            return self.adapter.confirm(self.gateway, self.simulator)
        if not self.adapter.asynchronous_modifications:
            return []
        raise ScenarioSkipped(_webhook_skip_reason())

    def webhooks(self) -> list[WebhookOutcome]:
        """Like ``confirm``, for a scenario about webhooks themselves (on every provider)."""
        if self.simulator is None:
            raise ScenarioSkipped(_webhook_skip_reason())
        return self.confirm()

    def settled(self, payment: Payment) -> Payment:
        """The payment once its pending step, if any, is confirmed."""
        if payment.pending is None:
            return payment
        self.confirm()
        return self.gateway.retrieve(payment.id)

    def raises(self, kind: type[E], call: Callable[[], object]) -> E:
        """Run ``call``, which must raise ``kind``; keep its normalized code."""
        try:
            call()
        except kind as error:
            self.saw(error)
            return error
        except PaymentError as error:
            self.saw(error)
            raise AssertionError(f"expected {kind.__name__}, got {error!r}") from error
        raise AssertionError(f"expected {kind.__name__}, nothing was raised")

    def saw(self, error: PaymentError) -> None:
        code = error.code.value
        if isinstance(error, CardDeclinedError):
            code = f"{code}/{error.reason.value}"
        self.codes.append(code)


def _webhook_skip_reason() -> str:
    if os.environ.get(WEBHOOK_URL_ENV):
        return (
            f"{WEBHOOK_URL_ENV} is set, but receiving sandbox webhooks is not implemented yet "
            "(an asynchronous step cannot be confirmed)"
        )
    return (
        f"an asynchronous step is confirmed by webhook: set {WEBHOOK_URL_ENV} to a receiver "
        "the provider can reach"
    )


def missing_sandbox_env(adapter: ContractAdapter, env: Mapping[str, str]) -> list[str]:
    return [name for name in adapter.sandbox_env if not env.get(name)]


@contextmanager
def open_contract(
    adapter: ContractAdapter,
    target: Target,
    simulator: Simulator | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[Contract]:
    """A ``Contract`` for one scenario: a fresh gateway (fresh stores) to the target.

    On ``sim`` pass the running ``simulator`` (it is reset before and after). On ``sandbox``
    the credentials come from ``env`` (default: ``os.environ``); a missing one raises
    ``ScenarioSkipped`` naming it, a live one ``LiveCredentialsError``, before any call.
    """
    exchanges: list[Exchange] = []
    transport = RecordingTransport(httpx.HTTPTransport(), exchanges)
    if target is Target.SIM:
        if simulator is None:
            raise ValueError("the sim target needs a running simulator")
        simulator.reset()
        gateway = adapter.sim_gateway(simulator, transport=transport, **SIM_OPTIONS)
    else:
        values = dict(os.environ if env is None else env)
        missing = missing_sandbox_env(adapter, values)
        if missing:
            raise ScenarioSkipped(
                f"{adapter.name} sandbox credentials missing: set {', '.join(missing)}"
            )
        gateway = adapter.sandbox_gateway(values, transport=transport, **SANDBOX_OPTIONS)
        simulator = None
    contract = Contract(adapter, target, gateway, simulator, exchanges=exchanges)
    try:
        with gateway:
            yield contract
    finally:
        if simulator is not None:
            simulator.reset()


# -- running scenarios outside pytest (the CLI) ---------------------------------------------------
@dataclass(frozen=True, slots=True)
class ScenarioResult:
    name: str
    result: str  # passed, failed, skipped
    seconds: float
    codes: tuple[str, ...]
    detail: str = ""
    exchanges: tuple[Exchange, ...] = ()


def run_scenario(
    adapter: ContractAdapter,
    target: Target,
    name: str,
    scenario: Callable[[Contract], None],
    simulator: Simulator | None,
) -> ScenarioResult:
    """Run one scenario and say how it went (never raises for the scenario's own failure)."""
    started = time.perf_counter()
    contract: Contract | None = None
    try:
        with open_contract(adapter, target, simulator) as contract:
            scenario(contract)
    except ScenarioSkipped as skipped:
        return _result(name, "skipped", started, contract, str(skipped))
    except LiveCredentialsError as refused:
        return _result(name, "failed", started, contract, f"refused: {refused}")
    except Exception as error:  # a scenario's failure is its result
        return _result(name, "failed", started, contract, f"{type(error).__name__}: {error}")
    return _result(name, "passed", started, contract)


def _result(
    name: str, result: str, started: float, contract: Contract | None, detail: str = ""
) -> ScenarioResult:
    return ScenarioResult(
        name,
        result,
        time.perf_counter() - started,
        tuple(contract.codes) if contract else (),
        detail,
        tuple(contract.exchanges) if contract else (),
    )


def names(adapters: Sequence[ContractAdapter] = ADAPTERS) -> list[str]:
    return [a.name for a in adapters]
