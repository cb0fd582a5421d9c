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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx

from benchmarks import _load as load
from benchmarks import _stripe_bare as bare
from benchmarks._load import Drive, Run, drive_calls, merge, report, served, take_turns, warm_up
from paygate import AsyncGateway, BreakerPolicy, BulkheadPolicy
from paygate.testing import StripeSimulator

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
        bare.API_KEY,
        base_url=url,
        bulkhead=BulkheadPolicy(max_concurrent=concurrency, max_wait=30),
        breaker=BreakerPolicy(failure_threshold=BREAKER_THRESHOLD),
        client=raw,
    )

    through_gateway = bare.async_gateway_authorize(gateway, "conc-pg")
    contenders = {GATEWAY: through_gateway, RAW: bare.httpx_authorize(raw, "conc-raw")}
    try:
        # The shared pool's connections, opened a few at a time; then one pass of the other
        # contender over them.
        counter = await warm_up(through_gateway, concurrency, 10_000_000)
        await drive_calls(contenders[RAW], concurrency, concurrency, 10_000_000 + counter)
        return await take_turns(
            contenders,
            calls=calls,
            concurrency=concurrency,
            rounds=rounds,
            first=counter + concurrency,
            server=pid,
            budget=ROUND_BUDGET,
        )
    finally:
        await gateway.aclose()
        await raw.aclose()


# -- the simulator's capacity: raw clients in several processes at once ------------------------
def _client_process(url: str, calls: int, concurrency: int, *, barrier: Any, results: Any) -> None:
    async def main() -> Drive:
        async with httpx.AsyncClient(base_url=url, limits=_limits(concurrency)) as client:
            call = bare.httpx_authorize(client, "conc-raw")
            await warm_up(call, concurrency, 20_000_000)
            barrier.wait()
            return await drive_calls(call, calls, concurrency, 0, ROUND_BUDGET)

    report(asyncio.run(main()), results)


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
    with served(_serve) as (url, pid), _counting_warnings() as warnings:
        for level in levels:
            measured = asyncio.run(_contenders(url, pid, level, calls, rounds))
            runs += [merge(name, level, 1, measured[name]) for name in measured]
        # Raw clients in several processes: as many in flight as the top level, and a few in
        # flight each (a small pool costs its client little, so the server is pushed harder).
        for processes, in_flight in ((2, max(levels)), (CAPACITY_PROCESSES, CAPACITY_IN_FLIGHT)):
            capacity.append(
                # as many calls in all as each contender made over its rounds
                load.capacity(
                    _client_process,
                    RAW,
                    url,
                    pid,
                    processes=processes,
                    calls=calls * rounds,
                    concurrency=in_flight,
                )
            )
    return ConcurrencyResult(runs, capacity, dict(warnings.counts))
