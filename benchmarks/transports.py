"""AsyncGateway's two HTTP transports at 10, 50 and 200 in flight, against raw clients sending
the same authorize, and a server that is not the bottleneck.

The server (``benchmarks._canned``) answers in a process of its own with a canned
PaymentIntent, at a small fraction of the Stripe simulator's cost per request. Contenders, each
with its own connection pool as large as the concurrency, take turns (in one order, then the
reverse) in this process:

* ``AsyncGateway`` with the transport it makes itself, once on aiohttp and once on httpx
  (``HttpPolicy(backend=...)``); its bulkhead admits the concurrency;
* raw ``aiohttp.ClientSession`` and raw ``httpx.AsyncClient``: build the form, POST, parse the
  JSON, check the status.

Per contender: calls/s over the wall time of its rounds, latency, and CPU: the client process's
CPU per call, and the server's CPU per wall second (far under one core: not the bottleneck).
The server's own capacity is shown too: raw aiohttp clients in two processes at once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

from benchmarks import _load as load
from benchmarks import _stripe_bare as bare
from benchmarks._canned import canned_server
from benchmarks._load import Drive, Run, drive_calls, merge, report, take_turns, warm_up
from paygate import (
    AsyncGateway,
    BulkheadPolicy,
    HttpPolicy,
)

ON_AIOHTTP = "AsyncGateway (aiohttp)"
ON_HTTPX = "AsyncGateway (httpx)"
RAW_AIOHTTP = "aiohttp.ClientSession"
RAW_HTTPX = "httpx.AsyncClient"
CONTENDERS = (ON_AIOHTTP, RAW_AIOHTTP, ON_HTTPX, RAW_HTTPX)
ROUND_BUDGET = 12.0  # a round starts no call after this long (httpx's pool can crawl at 200)
CAPACITY_PROCESSES = 2


@dataclass(frozen=True)
class TransportResult:
    runs: list[Run]
    capacity: Run

    def run(self, contender: str, concurrency: int) -> Run:
        return next(
            r for r in self.runs if r.contender == contender and r.concurrency == concurrency
        )

    def ratio(self, contender: str, concurrency: int) -> float:
        """Throughput over raw aiohttp's at the same concurrency."""
        return (
            self.run(contender, concurrency).throughput
            / self.run(RAW_AIOHTTP, concurrency).throughput
        )

    def cpu_ratio(self, contender: str, concurrency: int) -> float:
        """Client CPU per call over raw aiohttp's."""
        return cpu_per_call(self.run(contender, concurrency)) / cpu_per_call(
            self.run(RAW_AIOHTTP, concurrency)
        )


def cpu_per_call(run: Run) -> float:
    """Client CPU µs per successful call."""
    return run.client_cpu * run.seconds / run.calls * 1e6 if run.calls else float("nan")


# -- the raw calls -----------------------------------------------------------------------------
def _raw_aiohttp(session: aiohttp.ClientSession, url: str) -> Callable[[int], Awaitable[None]]:
    endpoint = f"{url}/v1/payment_intents"

    async def authorize(n: int) -> None:
        async with session.post(
            endpoint,
            data=bare.authorize_form(f"tr-aio-{n}"),
            headers=bare.headers(bare.API_KEY, f"aio-{os.getpid()}-{n}"),
        ) as response:
            response.raise_for_status()
            bare.check(await response.json())

    return authorize


def _session(concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))


def _gateway(url: str, concurrency: int, backend: str) -> AsyncGateway:
    return AsyncGateway.for_stripe(
        bare.API_KEY,
        base_url=url,
        bulkhead=BulkheadPolicy(max_concurrent=concurrency, max_wait=30),
        http=HttpPolicy.model_validate({"backend": backend}),
    )


# -- one level ---------------------------------------------------------------------------------
async def _level(
    url: str, pid: int, concurrency: int, calls: int, rounds: int
) -> dict[str, list[tuple[Drive, float]]]:
    on_aiohttp, on_httpx = (
        _gateway(url, concurrency, "aiohttp"),
        _gateway(url, concurrency, "httpx"),
    )
    session = _session(concurrency)
    client = httpx.AsyncClient(
        base_url=url,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )
    contenders = {
        ON_AIOHTTP: bare.async_gateway_authorize(on_aiohttp, "tr-aio"),
        RAW_AIOHTTP: _raw_aiohttp(session, url),
        ON_HTTPX: bare.async_gateway_authorize(on_httpx, "tr-hx-gw"),
        RAW_HTTPX: bare.httpx_authorize(client, "tr-hx"),
    }
    try:
        counter = 0
        for call in contenders.values():  # every pool opened before anything is timed
            counter += await warm_up(call, concurrency, 50_000_000 + counter)
        return await take_turns(
            contenders,
            calls=calls,
            concurrency=concurrency,
            rounds=rounds,
            first=counter,
            server=pid,
            budget=ROUND_BUDGET,
        )
    finally:
        await on_aiohttp.aclose()
        await on_httpx.aclose()
        await session.close()
        await client.aclose()


# -- the server's capacity ---------------------------------------------------------------------
def _client_process(url: str, calls: int, concurrency: int, *, barrier: Any, results: Any) -> None:
    async def main() -> Drive:
        async with _session(concurrency) as session:
            call = _raw_aiohttp(session, url)
            await warm_up(call, concurrency, 60_000_000)
            barrier.wait()
            return await drive_calls(call, calls, concurrency, 0, ROUND_BUDGET)

    report(asyncio.run(main()), results)


def transports(
    *, calls: int, rounds: int, levels: tuple[int, ...] = (10, 50, 200)
) -> TransportResult:
    runs: list[Run] = []
    with canned_server() as (url, pid):
        for level in levels:
            measured = asyncio.run(_level(url, pid, level, calls, rounds))
            runs += [merge(name, level, 1, measured[name]) for name in CONTENDERS]
        capacity = load.capacity(
            _client_process,
            RAW_AIOHTTP,
            url,
            pid,
            processes=CAPACITY_PROCESSES,
            calls=calls * rounds,
            concurrency=max(levels),
        )
    return TransportResult(runs, capacity)
