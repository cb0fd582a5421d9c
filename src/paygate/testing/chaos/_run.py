"""The in-process chaos run: for each provider, many orders at once through a blocking gateway
(threads) and an asyncio gateway (tasks) sharing one set of stores, faults of every kind thrown
at the simulator, some asyncio calls cancelled, webhooks delivered late, out of order and
twice; then the faults stop, everything unknown is settled, and the provider's ledger is
audited against the records, before and after settling."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from paygate.errors import PaymentError
from paygate.gateway import AsyncGateway, Gateway
from paygate.idempotency import IdempotencyStore, MemoryStore
from paygate.records import MemoryRecordStore, RecordStore
from paygate.resilience.policies import BreakerPolicy, IdempotencyPolicy, RetryPolicy, Timeout
from paygate.testing._server import Simulator
from paygate.testing.adyen import DEFAULT_MERCHANT, AdyenSimulator
from paygate.testing.chaos._audit import Findings, audit
from paygate.testing.chaos._flows import Injector, Tally, run_flow, run_flow_async
from paygate.testing.chaos._plans import PROVIDERS, Provider, plans
from paygate.testing.chaos._stores import open_stores
from paygate.testing.stripe import StripeSimulator

__all__ = [
    "ChaosConfig",
    "ChaosReport",
    "connect",
    "gateway_options",
    "run_chaos",
    "settle",
    "simulator",
]

_SETTLE_ROUNDS: Final = 8
_FAR: Final = timedelta(days=2)  # due_by for settling: everything, whatever its back-off
ADYEN_PREFIX: Final = "/v71"


@dataclass(frozen=True, slots=True)
class ChaosConfig:
    """How big a run is. ``flows`` orders per provider go through each gateway kind."""

    flows: int = 30
    threads: int = 4
    tasks: int = 12
    fault_rate: float = 0.25
    cancel_rate: float = 0.05
    deadline: float = 1.0
    seed: int = 1
    workdir: Path | None = None  # the stores' scratch place; memory stores without one
    # With a workdir: "sqlite", a migrated postgresql:// URL or a redis:// URL (open_stores).
    stores: str = "sqlite"


@dataclass
class ChaosReport:
    """One provider's run: what happened, and the audit before and after settling."""

    provider: str
    orders: int
    seconds: float
    settle_rounds: int
    before: Findings
    after: Findings
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        provider: str,
        orders: int,
        *,
        started: float,
        rounds: int,
        audits: tuple[Findings, Findings],
        tally: Tally,
    ) -> ChaosReport:
        """The report of a run that began at ``started`` (monotonic), audited before and after
        settling."""
        before, after = audits
        return cls(
            provider=provider,
            orders=orders,
            seconds=time.monotonic() - started,
            settle_rounds=rounds,
            before=before,
            after=after,
            counts=dict(sorted(tally.counts.items())),
        )

    @property
    def sound(self) -> bool:
        """No double charge or refund, nothing the provider did missing from the records
        (before settling: recorded or listed unknown), and nothing open after settling."""
        return (
            not self.before.problems()
            and not self.after.problems()
            and not self.after.unknown_open
            and not self.after.intents_open
        )


@contextlib.contextmanager
def simulator(provider: Provider) -> Iterator[StripeSimulator | AdyenSimulator]:
    sim: StripeSimulator | AdyenSimulator
    sim = StripeSimulator() if provider == "stripe" else AdyenSimulator()
    with sim:
        yield sim


def gateway_options(deadline: float) -> dict[str, Any]:
    """The policies of a chaos gateway: a service's retries, quick; a breaker that opens and
    recovers within a run."""
    return {
        "timeout": Timeout(connect=deadline, read=deadline, total=deadline),
        "retry": RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05),
        "breaker": BreakerPolicy(failure_threshold=25, reset_timeout=0.2),
        "idempotency": IdempotencyPolicy(lease=deadline + 1.0, in_flight_wait=deadline),
    }


def connect(
    kind: type[Gateway] | type[AsyncGateway], provider: str, url: str, secret: str, **options: Any
) -> Any:
    """A gateway of ``kind`` to a simulator at ``url`` (``secret``: its webhook secret)."""
    if provider == "stripe":
        return kind.for_stripe("sk_test_chaos", base_url=url, webhook_secret=secret, **options)
    return kind.for_adyen(
        "chaos-key",
        merchant_account=DEFAULT_MERCHANT,
        base_url=f"{url}{ADYEN_PREFIX}",
        hmac_key=secret,
        **options,
    )


def _connect(
    kind: type[Gateway] | type[AsyncGateway],
    sim: StripeSimulator | AdyenSimulator,
    **options: Any,
) -> Any:
    secret = sim.webhook_secret if isinstance(sim, StripeSimulator) else sim.hmac_key
    provider = "stripe" if isinstance(sim, StripeSimulator) else "adyen"
    return connect(kind, provider, sim.url, secret, **options)


class _Webhooks:
    """Delivers the simulator's webhooks to the gateway while a run goes on: late (every few
    tens of milliseconds), shuffled, some twice; Adyen's modifications decided meanwhile. A
    delivery the gateway could not take (its store was busy) is kept for a later pump, as the
    provider sends it again. Pumps from the delivery thread and from ``settle`` take turns."""

    def __init__(self, gw: Gateway, sim: Simulator, seed: int, tally: Tally) -> None:
        self._gw, self._sim, self._tally = gw, sim, tally
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending: list[Any] = []
        self._thread = threading.Thread(target=self._run, name="chaos-webhooks", daemon=True)

    def __enter__(self) -> _Webhooks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.03):
            self.pump()

    @property
    def pending(self) -> int:
        """Deliveries kept for a later pump."""
        with self._lock:
            return len(self._pending)

    def pump(self) -> None:
        with self._lock:
            self._pump()

    def _pump(self) -> None:
        if isinstance(self._sim, AdyenSimulator):
            self._sim.process_modifications()
        if isinstance(self._sim, StripeSimulator | AdyenSimulator):
            self._pending += self._sim.drain_webhooks()
        self._rng.shuffle(self._pending)
        batch, self._pending = self._pending, []
        for delivery in batch:
            for _ in range(2 if self._rng.random() < 0.1 else 1):
                try:
                    self._gw.handle_webhook(delivery.headers, delivery.body)
                    self._tally.add("webhook delivered")
                except PaymentError:  # the store was busy: the provider sends it again later
                    self._pending.append(delivery)
                    self._tally.add("webhook to send again")
                    break


def _stores(config: ChaosConfig, provider: str) -> tuple[IdempotencyStore, RecordStore]:
    if config.workdir is None:
        return MemoryStore(), MemoryRecordStore()
    return open_stores(config.stores, config.workdir, provider)


def run_chaos(config: ChaosConfig) -> list[ChaosReport]:
    """Run chaos against each provider's simulator; one report each."""
    return [_run_provider(config, provider) for provider in PROVIDERS]


def _run_provider(config: ChaosConfig, provider: Provider) -> ChaosReport:
    started = time.monotonic()
    tally = Tally()
    sync_plans = plans(provider, config.flows, config.seed, "sync", shoppers=True)
    async_plans = plans(provider, config.flows, config.seed, "async", shoppers=True)
    prefix = ADYEN_PREFIX if provider == "adyen" else ""
    store, records = _stores(config, provider)
    options = gateway_options(config.deadline) | {"store": store, "records": records}
    with simulator(provider) as sim, _connect(Gateway, sim, **options) as gw:
        injector = Injector(sim, config.fault_rate, config.deadline, config.seed, tally)
        with _Webhooks(gw, sim, config.seed, tally) as webhooks:

            def threads() -> None:
                with ThreadPoolExecutor(config.threads, thread_name_prefix="chaos") as pool:
                    list(pool.map(lambda p: run_flow(
                        gw, p, injector, tally, prefix=prefix, shopper=sim.authenticate
                    ), sync_plans))  # fmt: skip

            runner = threading.Thread(target=threads, name="chaos-threads")
            runner.start()
            asyncio.run(
                _tasks(
                    config, sim, options, async_plans, injector=injector, tally=tally,
                    prefix=prefix,
                )
            )  # fmt: skip
            runner.join()
            injector.enabled = False
            sim.clear_faults()
            before = audit(gw, sim, settled=False)
            rounds = settle(gw, webhooks, tally)
        after = audit(gw, sim, settled=True)
    store.close()
    records.close()
    orders = len(sync_plans) + len(async_plans)
    return ChaosReport.of(
        provider, orders, started=started, rounds=rounds, audits=(before, after), tally=tally
    )


def settle(gw: Gateway, webhooks: _Webhooks, tally: Tally) -> int:
    """Once the faults stop: wait until every intent's lease has ended (an intent left behind
    is an unknown outcome only then), deliver what the provider reports, and resolve every
    unknown outcome, round after round, until none is left; how many rounds it took."""
    intents = gw.records.intents()
    lapse = max((intent.lease_until for intent in intents), default=None)
    while lapse is not None and datetime.now(UTC) < lapse:
        time.sleep(0.05)
    rounds = 0
    while rounds < _SETTLE_ROUNDS:
        webhooks.pump()
        if not gw.unknown_payments():
            break
        rounds += 1
        resolutions = gw.resolve_unknown(due_by=datetime.now(UTC) + _FAR)
        tally.add("resolutions settled", sum(r.settled for r in resolutions))
        tally.add("resolutions still unknown", sum(not r.settled for r in resolutions))
    webhooks.pump()
    for _ in range(_SETTLE_ROUNDS):  # what the gateway could not take yet, sent again
        if not webhooks.pending:
            break
        webhooks.pump()
    return rounds


async def _tasks(
    config: ChaosConfig,
    sim: StripeSimulator | AdyenSimulator,
    options: dict[str, Any],
    async_plans: list[Any],
    *,
    injector: Injector,
    tally: Tally,
    prefix: str,
) -> None:
    rng = random.Random(config.seed)
    gate = asyncio.Semaphore(config.tasks)
    async with _connect(AsyncGateway, sim, **options) as agw:

        async def one(plan: Any) -> None:
            async with gate:
                await run_flow_async(
                    agw, plan, injector, tally, rng=rng, cancel_rate=config.cancel_rate,
                    prefix=prefix, shopper=sim.authenticate,
                )  # fmt: skip

        await asyncio.gather(*(one(plan) for plan in async_plans))
