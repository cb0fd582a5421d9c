"""The blocking gateway is generated from the async one and must be committed as generated."""

from __future__ import annotations

from paygate import _unasync


def test_the_committed_blocking_twin_is_the_generated_one() -> None:
    assert _unasync.TARGET.read_text() == _unasync.generate(), (
        "src/paygate/_sync_gateway.py is stale: edit _async_gateway.py, then run "
        "`python -m paygate._unasync`"
    )


def test_the_rewrite_swaps_every_async_verb() -> None:
    sync = _unasync.unasync(_unasync.SOURCE.read_text())
    for leftover in ("await ", "async def", "async with", "aclose", "AsyncClient", "_async("):
        assert leftover not in sync, leftover
