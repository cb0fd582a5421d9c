"""Toypay, a third provider that lives entirely in the tests: its adapter (``adapter``), its
simulator and contract entry (``simulator``), and its spec (``SPEC``). Registering ``SPEC``
is all it takes for settings, the gateways' constructors, the CLI, the pytest plugin, the
contract suite and the error guide to know it: no file outside this package names it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from paygate import ProviderSpec
from toy_provider.adapter import ERROR_TABLES, ToyAdapter, ToySettings

if TYPE_CHECKING:
    from paygate.testing.contract import ContractAdapter


def _testing() -> ContractAdapter[Any]:
    from toy_provider.simulator import CONTRACT

    return CONTRACT


SPEC: Final = ProviderSpec(
    name="toypay",
    adapter=ToyAdapter,
    settings=ToySettings,
    error_tables=ERROR_TABLES,
    testing=_testing,
)
