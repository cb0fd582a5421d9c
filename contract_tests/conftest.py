"""Options and fixtures of the contract suite: one world per (adapter x target).

The ``sim`` target always runs: each adapter's simulator on loopback. The ``sandbox`` target
(the providers' test environments, credentials from the environment only) runs when selected
with ``--paygate-target=sandbox`` or ``PAYGATE_CONTRACT_TARGET=sandbox``; otherwise, and when
a credential is missing, its cases are skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from paygate.testing._server import Simulator
from paygate.testing.contract import (
    Contract,
    ContractAdapter,
    ScenarioSkipped,
    Target,
    adapters,
    missing_sandbox_env,
    open_contract,
)

TARGET_ENV = "PAYGATE_CONTRACT_TARGET"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--paygate-target",
        choices=[t.value for t in Target],
        default=None,
        help=f"sandbox also runs the contract suite on the providers' test environments "
        f"(credentials from the environment); or set {TARGET_ENV}=sandbox. sim always runs.",
    )


def _sandbox_selected(config: pytest.Config) -> bool:
    chosen = config.getoption("--paygate-target") or os.environ.get(TARGET_ENV) or "sim"
    return Target(chosen) is Target.SANDBOX


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "contract_adapter" in metafunc.fixturenames:
        entries = adapters()
        metafunc.parametrize("contract_adapter", entries, ids=[a.name for a in entries])
    if "contract_target" in metafunc.fixturenames:
        metafunc.parametrize("contract_target", list(Target), ids=[t.value for t in Target])


@pytest.fixture(scope="session")
def simulators() -> Iterator[dict[str, Simulator]]:
    """One running simulator per adapter, started on first use, reset for every scenario."""
    running: dict[str, Simulator] = {}
    yield running
    for sim in running.values():
        sim.stop()


@pytest.fixture
def contract(
    request: pytest.FixtureRequest,
    contract_adapter: ContractAdapter[Any],
    contract_target: Target,
    simulators: dict[str, Simulator],
) -> Iterator[Contract]:
    """A fresh gateway to the adapter's target (and on sim, its reset simulator)."""
    simulator = None
    if contract_target is Target.SIM:
        simulator = simulators.get(contract_adapter.name)
        if simulator is None:
            simulator = simulators[contract_adapter.name] = contract_adapter.simulator().start()
    elif not _sandbox_selected(request.config):
        missing = missing_sandbox_env(contract_adapter, os.environ)
        needs = f"; it needs {', '.join(missing)}" if missing else ""
        pytest.skip(
            f"sandbox not selected: pass --paygate-target=sandbox or {TARGET_ENV}=sandbox{needs}"
        )
    try:
        with open_contract(contract_adapter, contract_target, simulator) as opened:
            yield opened
    except ScenarioSkipped as skipped:
        pytest.skip(str(skipped))
