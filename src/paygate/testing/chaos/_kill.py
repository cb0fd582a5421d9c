"""The kill run: orders run by a worker process (``python -m paygate.testing.chaos._worker``)
that is SIGKILLed at random points and restarted, as a service is by its orchestrator. A
restarted worker repeats the order it was in from the start, under the same keys. Meanwhile
this process serves the simulator, throws delays and lost answers at it so that kills land
while requests are at the provider, and delivers webhooks with a gateway of its own on the
same stores. Then every lease lapses, everything unknown is settled, and the provider's ledger
is audited against the records, before and after settling."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from paygate.gateway import Gateway
from paygate.testing.chaos._audit import audit
from paygate.testing.chaos._flows import Tally
from paygate.testing.chaos._plans import PROVIDERS, Provider
from paygate.testing.chaos._run import (
    ChaosReport,
    _connect,
    _Webhooks,
    gateway_options,
    settle,
    simulator,
)
from paygate.testing.chaos._stores import open_stores
from paygate.testing.faults import Fault

__all__ = ["KillConfig", "run_kills"]

_BETWEEN_KILLS: Final = (0.05, 0.8)  # seconds a ready worker runs orders before its kill


@dataclass(frozen=True, slots=True)
class KillConfig:
    """``flows`` orders per provider, ``kills`` SIGKILLs of the worker running them, on
    ``stores``: "sqlite" (a file in ``workdir``) or a migrated ``postgresql://`` URL (as
    ``open_stores`` opens them)."""

    workdir: Path
    flows: int = 12
    kills: int = 6
    stores: str = "sqlite"
    deadline: float = 1.0
    seed: int = 1


def run_kills(config: KillConfig) -> list[ChaosReport]:
    """Run the kill run against each provider's simulator; one report each."""
    return [_run_provider(config, provider) for provider in PROVIDERS]


def _worker(config: KillConfig, provider: Provider, sim: Any) -> subprocess.Popen[bytes]:
    secret = sim.webhook_secret if provider == "stripe" else sim.hmac_key
    argv = [
        sys.executable, "-m", "paygate.testing.chaos._worker", provider, sim.url, secret,
        config.stores, str(config.workdir), str(config.flows), str(config.seed),
        str(config.deadline),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    worker = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert worker.stdout is not None
    worker.stdout.readline()  # "ready" (or nothing, when it failed: its exit code tells)
    return worker


def _finished(worker: subprocess.Popen[bytes]) -> bool:
    """Wait for a worker that was not killed; it must have run every order."""
    _, errors = worker.communicate()
    if worker.returncode != 0:
        raise RuntimeError(f"the chaos worker failed:\n{errors.decode()[-2000:]}")
    return True


def _troubles(sim: Any, stop: threading.Event, seed: int, tally: Tally) -> None:
    """Delays and lost answers at the provider, so that kills land mid-call."""
    rng = random.Random(seed)
    while not stop.wait(rng.uniform(0.05, 0.2)):
        fault = (
            Fault.latency(rng.uniform(0.1, 0.6))
            if rng.random() < 0.7
            else Fault.timeout_after_commit(hold=2.0)
        )
        tally.add(f"fault {fault.kind.value}")
        sim.inject(fault, times=1, method="POST")


def _run_provider(config: KillConfig, provider: Provider) -> ChaosReport:
    started = time.monotonic()
    tally = Tally()
    rng = random.Random(f"{config.seed}:{provider}:kills")
    store, records = open_stores(config.stores, config.workdir, provider)
    options = gateway_options(config.deadline) | {"store": store, "records": records}
    with simulator(provider) as sim, _connect(Gateway, sim, **options) as gw:
        stop = threading.Event()
        troubles = threading.Thread(target=_troubles, args=(sim, stop, config.seed, tally))
        with _Webhooks(gw, sim, config.seed, tally) as webhooks:
            troubles.start()
            kills, finished = 0, False
            while kills < config.kills and not finished:
                worker = _worker(config, provider, sim)
                try:
                    worker.wait(rng.uniform(*_BETWEEN_KILLS))
                except subprocess.TimeoutExpired:
                    worker.send_signal(signal.SIGKILL)
                    worker.wait()
                    kills += 1
                    tally.add("worker killed")
                    continue
                finished = _finished(worker)
            stop.set()
            troubles.join()
            sim.clear_faults()
            if not finished:  # the last start runs the rest of the orders, without faults
                _finished(_worker(config, provider, sim))
            webhooks.pump()
            before = audit(gw, sim, settled=False)
            rounds = settle(gw, webhooks, tally)
        after = audit(gw, sim, settled=True)
    store.close()
    records.close()
    tally.add("kills", kills)
    return ChaosReport.of(
        provider, config.flows, started=started, rounds=rounds, audits=(before, after),
        tally=tally,
    )  # fmt: skip
