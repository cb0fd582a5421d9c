"""Adapters translate; the gateway sends. No adapter module may reach for I/O, the clock, the
environment or randomness: that is what lets one adapter serve both gateways and be tested
with constructed responses."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import paygate.adapters

ADAPTERS = Path(paygate.adapters.__file__).parent
MODULES = sorted(ADAPTERS.rglob("*.py"))
BANNED_MODULES = {
    "asyncio", "datetime", "os", "random", "requests", "secrets", "socket", "ssl",
    "subprocess", "threading", "time", "urllib.request", "uuid",
}  # fmt: skip
BANNED_HTTPX = {"Client", "AsyncClient", "HTTPTransport", "AsyncHTTPTransport", "get", "post"}


def test_there_are_adapter_modules_to_check() -> None:
    assert any(m.name == "_adapter.py" for m in MODULES)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(ADAPTERS)))
def test_adapter_module_does_no_io(module: Path) -> None:
    tree = ast.parse(module.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            if node.module == "httpx":
                assert not {a.name for a in node.names} & BANNED_HTTPX, module.name
        else:
            names = set()
        assert not names & BANNED_MODULES, (module.name, names & BANNED_MODULES)
        is_httpx = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if is_httpx and node.value.id == "httpx":  # type: ignore[attr-defined]
            assert node.attr not in BANNED_HTTPX, (module.name, f"httpx.{node.attr}")  # type: ignore[attr-defined]
