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
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

from benchmarks import _stripe_bare as bare
from benchmarks._canned import canned_server
from benchmarks._harness import Stats
from benchmarks._load import Drive, Run, cpu_seconds, drive_calls, merge, warm_up
from paygate import (
    AsyncGateway,
    BulkheadPolicy,
    HttpPolicy,
    Money,
    PaymentSource,
    PaymentStatus,
)

API_KEY = "sk_test_bench_0000000000000000"
AMOUNT = Money("12.34", "EUR")
VISA = PaymentSource.token("pm_card_visa")
ON_AIOHTTP = "AsyncGateway (aiohttp)"
ON_HTTPX = "AsyncGateway (httpx)"
RAW_AIOHTTP = "aiohttp.ClientSession"
RAW_HTTPX = "httpx.AsyncClient"
CONTENDERS = (ON_AIOHTTP, RAW_AIOHTTP, ON_HTTPX, RAW_HTTPX)
ROUND_BUDGET = 12.0  # a round starts no call after this long (httpx's pool can crawl at 200)
CAPACITY_PROCESSES = 2

_CTX = multiprocessing.get_context("spawn")


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
def _check(body: dict[str, Any]) -> None:
    if body["status"] != "requires_capture":
        raise AssertionError(body["status"])


def _raw_aiohttp(session: aiohttp.ClientSession, url: str) -> Callable[[int], Awaitable[None]]:
    endpoint = f"{url}/v1/payment_intents"

    async def authorize(n: int) -> None:
        async with session.post(
            endpoint,
            data=bare.authorize_form(f"tr-aio-{n}"),
            headers=bare.headers(API_KEY, f"aio-{os.getpid()}-{n}"),
        ) as response:
            response.raise_for_status()
            _check(await response.json())

    return authorize


def _raw_httpx(client: httpx.AsyncClient) -> Callable[[int], Awaitable[None]]:
    async def authorize(n: int) -> None:
        response = await client.post(
            "/v1/payment_intents",
            data=bare.authorize_form(f"tr-hx-{n}"),
            headers=bare.headers(API_KEY, f"hx-{n}"),
        )
        response.raise_for_status()
        _check(response.json())

    return authorize


def _session(concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))


def _gateway(url: str, concurrency: int, backend: str) -> AsyncGateway:
    return AsyncGateway.for_stripe(
        API_KEY,
        base_url=url,
        bulkhead=BulkheadPolicy(max_concurrent=concurrency, max_wait=30),
        http=HttpPolicy.model_validate({"backend": backend}),
    )


def _through(gateway: AsyncGateway, tag: str) -> Callable[[int], Awaitable[None]]:
    async def authorize(n: int) -> None:
        p = await gateway.authorize(AMOUNT, source=VISA, reference=f"tr-{tag}-{n}")
        if p.status is not PaymentStatus.AUTHORIZED:
            raise AssertionError(p)

    return authorize


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
        ON_AIOHTTP: _through(on_aiohttp, "aio"),
        RAW_AIOHTTP: _raw_aiohttp(session, url),
        ON_HTTPX: _through(on_httpx, "hx"),
        RAW_HTTPX: _raw_httpx(client),
    }
    measured: dict[str, list[tuple[Drive, float]]] = {name: [] for name in contenders}
    counter = 0
    try:
        for call in contenders.values():  # every pool opened before anything is timed
            counter += await warm_up(call, concurrency, 50_000_000 + counter)
        for round_no in range(rounds):
            order = list(contenders) if round_no % 2 == 0 else list(contenders)[::-1]
            for name in order:
                cpu = cpu_seconds(pid)
                drive = await drive_calls(
                    contenders[name], calls, concurrency, counter, ROUND_BUDGET
                )
                measured[name].append((drive, cpu_seconds(pid) - cpu))
                counter += calls
    finally:
        await on_aiohttp.aclose()
        await on_httpx.aclose()
        await session.close()
        await client.aclose()
    return measured


# -- the server's capacity ---------------------------------------------------------------------
def _client_process(url: str, calls: int, concurrency: int, *, barrier: Any, results: Any) -> None:
    async def main() -> Drive:
        async with _session(concurrency) as session:
            call = _raw_aiohttp(session, url)
            await warm_up(call, concurrency, 60_000_000)
            barrier.wait()
            return await drive_calls(call, calls, concurrency, 0, ROUND_BUDGET)

    drive = asyncio.run(main())
    ended = time.time()
    results.put((ended - drive.seconds, ended, drive))


def _capacity(url: str, pid: int, *, calls: int, concurrency: int) -> Run:
    barrier = _CTX.Barrier(CAPACITY_PROCESSES + 1)
    results = _CTX.Queue()
    workers = [
        _CTX.Process(
            target=_client_process,
            args=(url, calls // CAPACITY_PROCESSES, concurrency),
            kwargs={"barrier": barrier, "results": results},
            daemon=True,
        )
        for _ in range(CAPACITY_PROCESSES)
    ]
    for worker in workers:
        worker.start()
    barrier.wait(timeout=120)
    cpu = cpu_seconds(pid)
    done = [results.get(timeout=300) for _ in workers]
    cpu = cpu_seconds(pid) - cpu
    for worker in workers:
        worker.join(10)
    seconds = max(end for _, end, _ in done) - min(start for start, _, _ in done)
    drives = [d for _, _, d in done]
    samples = [x for d in drives for x in d.samples]
    return Run(
        contender=RAW_AIOHTTP,
        concurrency=concurrency,
        processes=CAPACITY_PROCESSES,
        calls=len(samples),
        errors=sum(d.errors for d in drives),
        seconds=seconds,
        latency=Stats(RAW_AIOHTTP, samples),
        simulator_cpu=cpu / seconds,
        client_cpu=sum(d.cpu for d in drives) / seconds,
        per_round=(len(samples) / seconds,),
    )


def transports(
    *, calls: int, rounds: int, levels: tuple[int, ...] = (10, 50, 200)
) -> TransportResult:
    runs: list[Run] = []
    with canned_server() as (url, pid):
        for level in levels:
            measured = asyncio.run(_level(url, pid, level, calls, rounds))
            runs += [merge(name, level, 1, measured[name]) for name in CONTENDERS]
        capacity = _capacity(url, pid, calls=calls * rounds, concurrency=max(levels))
    return TransportResult(runs, capacity)
