"""Concurrency: N authorizations with C in flight through ``AsyncGateway`` against the Stripe
simulator, versus a raw ``httpx.AsyncClient`` sending the same request at the same concurrency.

The simulator runs in a process of its own (so it does not share this process's GIL with the
client under test); the contenders take turns (A B, then B A) in this process, on one
connection pool as large as the concurrency: the gateway is handed the raw client, and its
bulkhead is set to C in flight. Throughput is calls over the wall time of a run; latencies are
per call.

To show whether the simulator is the bottleneck, the same table carries its own capacity: raw
clients sending the same authorize from several processes at once (as many in flight each as
the top level, and a few in flight each), and for every row the CPU use over the run (CPU
seconds / wall seconds) of the simulator's process and of the client process(es). The
simulator is a ``ThreadingHTTPServer``: Python threads under one GIL, so about 100% (one core)
is its ceiling.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx

from benchmarks import _stripe_bare as bare
from benchmarks._harness import Stats
from benchmarks._load import Drive, Run, cpu_seconds, drive_calls, merge, warm_up
from paygate import AsyncGateway, BreakerPolicy, BulkheadPolicy, Money, PaymentSource, PaymentStatus
from paygate.testing import StripeSimulator

API_KEY = "sk_test_bench_0000000000000000"
AMOUNT = Money("12.34", "EUR")
VISA = PaymentSource.token("pm_card_visa")
GATEWAY = "AsyncGateway"
RAW = "httpx.AsyncClient"
CAPACITY_PROCESSES = 3
CAPACITY_IN_FLIGHT = 4

# The breaker stays on, but opens only after this many consecutive failures: the simulator
# resets some connections under load (see the table's note), and an open breaker would turn the
# rest of a run into fast refusals.
BREAKER_THRESHOLD = 1000
# A timed round stops taking new calls after this long (those in flight finish): a client whose
# pool bookkeeping collapses (encode/httpcore#1035) must not hold ``make bench`` for minutes.
ROUND_BUDGET = 12.0

_CTX = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class ConcurrencyResult:
    runs: list[Run]  # the contenders, per concurrency
    capacity: list[Run]  # the simulator's own capacity
    warnings: dict[str, int]  # what paygate logged at WARNING or above, by message template

    def ratio(self, concurrency: int) -> float:
        ours = next(r for r in self.runs if r.contender == GATEWAY and r.concurrency == concurrency)
        raw = next(r for r in self.runs if r.contender == RAW and r.concurrency == concurrency)
        return ours.throughput / raw.throughput


# -- the simulator, in its own process ---------------------------------------------------------
def _serve(conn: Connection) -> None:
    with StripeSimulator() as sim:
        conn.send(sim.url)
        conn.recv()  # until told to stop


@contextmanager
def _simulator() -> Iterator[tuple[str, int]]:
    ours, theirs = _CTX.Pipe()
    process = _CTX.Process(target=_serve, args=(theirs,), daemon=True)
    process.start()
    try:
        url = ours.recv()
        assert process.pid is not None
        yield url, process.pid
    finally:
        ours.send("stop")
        process.join(10)
        if process.is_alive():
            process.kill()


# -- the calls ---------------------------------------------------------------------------------
def _raw_call(client: httpx.AsyncClient) -> Callable[[int], Awaitable[None]]:
    async def authorize(n: int) -> None:
        response = await client.post(
            "/v1/payment_intents",
            data=bare.authorize_form(f"conc-raw-{n}"),
            headers=bare.headers(API_KEY, f"raw-{os.getpid()}-{n}"),
        )
        response.raise_for_status()
        if response.json()["status"] != "requires_capture":
            raise AssertionError(response.text)

    return authorize


def _limits(concurrency: int) -> httpx.Limits:
    return httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=300
    )


async def _contenders(
    url: str, pid: int, concurrency: int, calls: int, rounds: int
) -> dict[str, list[tuple[Drive, float]]]:
    # One pool for both, warmed once: the gateway is handed the raw client, so the two take
    # turns on the same open connections.
    raw = httpx.AsyncClient(base_url=url, limits=_limits(concurrency), follow_redirects=False)
    gateway = AsyncGateway.for_stripe(
        API_KEY,
        base_url=url,
        bulkhead=BulkheadPolicy(max_concurrent=concurrency, max_wait=30),
        breaker=BreakerPolicy(failure_threshold=BREAKER_THRESHOLD),
        client=raw,
    )

    async def through_gateway(n: int) -> None:
        p = await gateway.authorize(AMOUNT, source=VISA, reference=f"conc-pg-{n}")
        if p.status is not PaymentStatus.AUTHORIZED:
            raise AssertionError(p)

    contenders = {GATEWAY: through_gateway, RAW: _raw_call(raw)}
    measured: dict[str, list[tuple[Drive, float]]] = {n: [] for n in contenders}
    try:
        # The shared pool's connections, opened a few at a time; then one pass of the other
        # contender over them.
        counter = await warm_up(through_gateway, concurrency, 10_000_000)
        await drive_calls(contenders[RAW], concurrency, concurrency, 10_000_000 + counter)
        counter += concurrency
        for round_no in range(rounds):
            names = list(contenders) if round_no % 2 == 0 else list(contenders)[::-1]
            for name in names:
                cpu = cpu_seconds(pid)
                drive = await drive_calls(
                    contenders[name], calls, concurrency, counter, ROUND_BUDGET
                )
                measured[name].append((drive, cpu_seconds(pid) - cpu))
                counter += calls
    finally:
        await gateway.aclose()
        await raw.aclose()
    return measured


# -- the simulator's capacity: raw clients in several processes at once ------------------------
def _client_process(url: str, calls: int, concurrency: int, *, barrier: Any, results: Any) -> None:
    async def main() -> Drive:
        async with httpx.AsyncClient(base_url=url, limits=_limits(concurrency)) as client:
            call = _raw_call(client)
            await warm_up(call, concurrency, 20_000_000)
            barrier.wait()
            return await drive_calls(call, calls, concurrency, 0, ROUND_BUDGET)

    drive = asyncio.run(main())
    ended = time.time()
    results.put((ended - drive.seconds, ended, drive))


def _capacity(url: str, pid: int, *, processes: int, calls: int, concurrency: int) -> Run:
    """``calls`` in all, shared by ``processes`` raw clients with ``concurrency`` in flight
    each, started together."""
    barrier = _CTX.Barrier(processes + 1)
    results = _CTX.Queue()
    workers = [
        _CTX.Process(
            target=_client_process,
            args=(url, calls // processes, concurrency),
            kwargs={"barrier": barrier, "results": results},
            daemon=True,
        )
        for _ in range(processes)
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
    samples = [x for _, _, d in done for x in d.samples]
    return Run(
        contender=RAW,
        concurrency=concurrency,
        processes=processes,
        calls=len(samples),
        errors=sum(d.errors for _, _, d in done),
        seconds=seconds,
        latency=Stats(RAW, samples),
        simulator_cpu=cpu / seconds,
        client_cpu=sum(d.cpu for _, _, d in done) / seconds,
        per_round=(len(samples) / seconds,),
    )


class _Counting(logging.Handler):
    """Counts log records by message template, instead of printing each one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: collections.Counter[str] = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[str(record.msg)] += 1


@contextmanager
def _counting_warnings() -> Iterator[_Counting]:
    logger = logging.getLogger("paygate")
    handler, propagate = _Counting(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def concurrency(
    *, calls: int, rounds: int, levels: tuple[int, ...] = (50, 200)
) -> ConcurrencyResult:
    runs: list[Run] = []
    capacity: list[Run] = []
    with _simulator() as (url, pid), _counting_warnings() as warnings:
        for level in levels:
            measured = asyncio.run(_contenders(url, pid, level, calls, rounds))
            runs += [merge(name, level, 1, measured[name]) for name in measured]
        # Raw clients in several processes: as many in flight as the top level, and a few in
        # flight each (a small pool costs its client little, so the server is pushed harder).
        for processes, in_flight in ((2, max(levels)), (CAPACITY_PROCESSES, CAPACITY_IN_FLIGHT)):
            capacity.append(
                # as many calls in all as each contender made over its rounds
                _capacity(
                    url, pid, processes=processes, calls=calls * rounds, concurrency=in_flight
                )
            )
    return ConcurrencyResult(runs, capacity, dict(warnings.counts))
