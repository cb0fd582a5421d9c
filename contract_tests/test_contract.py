"""The contract suite: every scenario, for every registered adapter, on the chosen target."""

from __future__ import annotations

import pytest

from paygate.testing._contract_scenarios import SCENARIOS, Scenario
from paygate.testing.contract import Contract, ScenarioSkipped


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(contract: Contract, scenario: Scenario) -> None:
    try:
        scenario.run(contract)
    except ScenarioSkipped as skipped:
        pytest.skip(str(skipped))
