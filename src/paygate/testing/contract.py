"""The contract suite: one set of scenarios, written once against ``Gateway``, run for every
provider in the registry (``paygate.adapters.registry``) on every target (``sim``: its
simulator on loopback; ``sandbox``: the provider's real test environment).

The scenarios live in ``paygate.testing._contract_scenarios``; ``contract_tests/`` runs them
under pytest and ``paygate contract`` runs them from the command line, so both run the same
code. A provider takes part through its spec's ``testing`` entry, a ``ContractAdapter`` kept
in its simulator package (``paygate.testing.stripe``): its simulator, the settings that reach
it and the sandbox, its test payment sources, and how its webhooks are delivered. A scenario
that needs what the provider does not offer (its ``Capabilities``, a test source, webhooks)
is skipped with the reason.

Sandbox credentials come from the environment only (``ContractAdapter.sandbox_env``); a
missing one skips the sandbox with a reason naming it, and a live credential is refused before
any call.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Generic, Protocol, TypeVar

import httpx

from paygate import Gateway, Money, Payment, PaymentSource, RetryPolicy, Timeout
from paygate.adapters.base import Capabilities
from paygate.adapters.registry import provider_names, provider_spec, provider_specs
from paygate.errors import CardDeclinedError, PaymentError
from paygate.models import WebhookOutcome
from paygate.testing._contract_record import Exchange, RecordingTransport
from paygate.testing._deliveries import WebhookDelivery
from paygate.testing._server import Simulator

__all__ = [
    "WEBHOOK_URL_ENV",
    "Contract",
    "ContractAdapter",
    "LiveCredentialsError",
    "ScenarioSkipped",
    "Sources",
    "Target",
    "adapter_named",
    "adapters",
    "deliver_webhooks",
    "open_contract",
]

E = TypeVar("E", bound=PaymentError)
S = TypeVar("S", bound=Simulator)

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
    """The test payment sources of a provider, one per behaviour (None: the provider has no
    such test source, and the scenarios that need it are skipped). ``three_ds`` is a card
    whose issuer challenges the shopper, ``three_ds_frictionless`` one whose issuer
    authenticates without asking them, ``redirect`` a redirect method (iDEAL)."""

    approved: PaymentSource
    generic_decline: PaymentSource
    insufficient_funds: PaymentSource
    expired_card: PaymentSource
    incorrect_cvc: PaymentSource
    three_ds: PaymentSource | None = None
    three_ds_frictionless: PaymentSource | None = None
    redirect: PaymentSource | None = None


@dataclass(frozen=True, slots=True)
class ContractAdapter(Generic[S]):
    """One provider's entry in the contract suite (its spec's ``testing``).

    ``simulator`` is the simulator class; ``sim_options`` the settings that point a gateway at
    a running one (``Gateway.for_provider(name, **sim_options(sim))``, and the
    ``PAYGATE_<NAME>__...`` variables of ``settings_env``). ``sandbox_env`` names the
    environment variables the sandbox needs, all required; ``sandbox_options`` turns their
    values into settings (and raises ``LiveCredentialsError`` for a live credential, before
    any call). ``confirm`` hands the simulator's pending asynchronous steps and webhooks to the
    gateway; ``charges`` counts the payments the simulator holds for a reference; ``webhooks``
    False: the provider sends none, and the webhook scenario is skipped;
    ``asynchronous_modifications``: captures, voids and refunds are only received at once, and
    confirmed later by webhook (on the sandbox, scenarios that need that confirmation skip).
    """

    name: str
    sources: Sources
    simulator: Callable[..., S]  # the class: (port=0, *, webhook_url=None, ...)
    sim_options: Callable[[S], Mapping[str, Any]]
    sandbox_env: tuple[str, ...]
    sandbox_options: Callable[[Mapping[str, str]], Mapping[str, Any]]
    confirm: Callable[[Gateway, S], list[WebhookOutcome]]
    charges: Callable[[S, str], int]
    wire_module: str  # the module holding the adapter's wire models (for schema drift)
    three_decimal: Money | None = None  # a three-decimal amount the provider takes, if any
    webhooks: bool = True
    asynchronous_modifications: bool = False

    def sim_gateway(self, simulator: S, **options: Any) -> Gateway:
        """A gateway to ``simulator``; ``options`` are the gateway's (retry, timeout...)."""
        return Gateway.for_provider(self.name, **self.sim_options(simulator), **options)

    def sandbox_gateway(self, env: Mapping[str, str], **options: Any) -> Gateway:
        """A gateway to the provider's test environment, credentials from ``env``."""
        return Gateway.for_provider(self.name, **self.sandbox_options(env), **options)

    def settings_env(self, simulator: S) -> dict[str, str]:
        """The ``PAYGATE_*`` variables that point ``Gateway.from_settings()`` at
        ``simulator``."""
        prefix = f"PAYGATE_{self.name.upper()}__"
        options = self.sim_options(simulator).items()
        return {"PAYGATE_PROVIDER": self.name} | {
            f"{prefix}{key.upper()}": str(value) for key, value in options
        }


class _QueuesWebhooks(Protocol):
    def drain_webhooks(self) -> Sequence[WebhookDelivery]: ...


def deliver_webhooks(gw: Gateway, sim: _QueuesWebhooks) -> list[WebhookOutcome]:
    """Hand every webhook the simulator queued to the gateway; what each event did."""
    outcomes: list[WebhookOutcome] = []
    for delivery in sim.drain_webhooks():
        outcomes.extend(gw.handle_webhook(delivery.headers, delivery.body))
    return outcomes


def adapter_named(name: str) -> ContractAdapter[Any]:
    """The contract entry of the registered provider ``name``; ``KeyError`` if none."""
    try:
        spec = provider_spec(name)
    except KeyError:
        known = ", ".join(provider_names())
        raise KeyError(f"no adapter {name!r} in the contract registry (known: {known})") from None
    entry = spec.testing()
    if entry.name != spec.name:
        raise ValueError(f"provider {spec.name!r}: its contract entry is named {entry.name!r}")
    return entry


def adapters() -> tuple[ContractAdapter[Any], ...]:
    """The contract entry of every registered provider, in registry order."""
    return tuple(adapter_named(spec.name) for spec in provider_specs())


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

    adapter: ContractAdapter[Any]
    target: Target
    gateway: Gateway
    simulator: Simulator | None
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    codes: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def sources(self) -> Sources:
        return self.adapter.sources

    @property
    def capabilities(self) -> Capabilities:
        return self.gateway.adapter.capabilities

    def require(self, offered: bool, what: str) -> None:
        """Skip the scenario unless the provider offers ``what``."""
        if not offered:
            raise ScenarioSkipped(f"{self.adapter.name} does not offer {what}")

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
        """Like ``confirm``, for a scenario about webhooks themselves (on every provider that
        sends them)."""
        self.require(self.adapter.webhooks, "webhooks")
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


def missing_sandbox_env(adapter: ContractAdapter[Any], env: Mapping[str, str]) -> list[str]:
    return [name for name in adapter.sandbox_env if not env.get(name)]


@contextmanager
def open_contract(
    adapter: ContractAdapter[Any],
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
    adapter: ContractAdapter[Any],
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
