"""Shared stores on the hot path: one whole authorize through ``Gateway`` (threads) and
``AsyncGateway`` (tasks, aiohttp transport) with each store configuration, at 1 and at 50 in
flight, against the canned-answer server of ``benchmarks._canned``; the latency a store adds
is the median over the same gateway's with memory stores.

A mutating call pays the idempotency store twice (begin, complete) and the record store twice
(the intent written before the request leaves, the outcome applied after). Configurations:
memory; SQLite (both families in one file); PostgreSQL (both families); Redis for idempotency
keys with memory records (Redis holds no records: this isolates what Redis costs).
PostgreSQL and Redis are found as for the store table (``PAYGATE_BENCH_*_URL``, else
``PAYGATE_TEST_*_URL``), and skipped when absent.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from benchmarks import _stripe_bare as bare
from benchmarks._canned import canned_server
from benchmarks._harness import Stats
from benchmarks._load import Drive, drive_calls, drive_threads, warm_up
from benchmarks.stores import Skip, postgres_schema, redis_prefix
from paygate import (
    AsyncGateway,
    BulkheadPolicy,
    Gateway,
    HttpPolicy,
    IdempotencyStore,
    MemoryStore,
    SQLiteStore,
)
from paygate.records import MemoryRecordStore, RecordStore, SQLiteRecordStore

CONFIGS = ("memory", "sqlite", "postgres", "redis + memory records")
GATEWAYS = ("Gateway", "AsyncGateway")
ROUND_BUDGET = 12.0

Stores = tuple[IdempotencyStore, RecordStore]


@dataclass(frozen=True)
class HotPathRun:
    config: str
    gateway: str
    in_flight: int
    calls: int
    errors: int
    seconds: float
    latency: Stats | None  # None: skipped
    skipped: str = ""

    @property
    def throughput(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class HotPathResult:
    runs: list[HotPathRun]

    def added_ms(self, run: HotPathRun) -> float | None:
        """The run's median over the memory stores' (same gateway and concurrency), in ms."""
        base = next(
            r
            for r in self.runs
            if r.config == "memory" and r.gateway == run.gateway and r.in_flight == run.in_flight
        )
        if run.latency is None or base.latency is None:
            return None
        return (run.latency.median - base.latency.median) / 1000


# -- the stores --------------------------------------------------------------------------------
@contextmanager
def _memory() -> Iterator[Callable[[], Stores]]:
    yield lambda: (MemoryStore(), MemoryRecordStore())


@contextmanager
def _sqlite() -> Iterator[Callable[[], Stores]]:
    with tempfile.TemporaryDirectory() as scratch:
        files = count()

        def make() -> Stores:
            path = Path(scratch) / f"hot-{next(files)}.db"
            return SQLiteStore(path), SQLiteRecordStore(path)

        yield make


@contextmanager
def _postgres() -> Iterator[Callable[[], Stores]]:
    from paygate.idempotency.postgres import PostgresStore  # noqa: PLC0415 - optional extra
    from paygate.records.postgres import PostgresRecordStore  # noqa: PLC0415

    with postgres_schema() as conninfo:
        yield lambda: (
            PostgresStore(conninfo, pool_size=50),
            PostgresRecordStore(conninfo, pool_size=50),
        )


@contextmanager
def _redis() -> Iterator[Callable[[], Stores]]:
    from paygate.idempotency.redis import RedisStore  # noqa: PLC0415 - optional extra

    with redis_prefix() as (url, prefix):
        yield lambda: (RedisStore(url, prefix=prefix), MemoryRecordStore())


_STORES: dict[str, Callable[[], AbstractContextManager[Callable[[], Stores]]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgres": _postgres,
    "redis + memory records": _redis,
}


# -- the gateways ------------------------------------------------------------------------------
def _sync_run(url: str, stores: Stores, in_flight: int, calls: int) -> Drive:
    gateway = Gateway.for_stripe(
        bare.API_KEY,
        base_url=url,
        store=stores[0],
        records=stores[1],
        bulkhead=BulkheadPolicy(max_concurrent=in_flight, max_wait=30),
    )

    one = bare.gateway_authorize(gateway, "hot-s")
    try:
        drive_threads(one, in_flight * 2, in_flight, 0)  # connections and pools opened
        drive = drive_threads(one, calls, in_flight, in_flight * 2, ROUND_BUDGET)
    finally:
        gateway.close()
    return drive


def _async_run(url: str, stores: Stores, in_flight: int, calls: int) -> Drive:
    async def main() -> Drive:
        gateway = AsyncGateway.for_stripe(
            bare.API_KEY,
            base_url=url,
            store=stores[0],
            records=stores[1],
            bulkhead=BulkheadPolicy(max_concurrent=in_flight, max_wait=30),
            http=HttpPolicy(backend="aiohttp"),
        )

        one = bare.async_gateway_authorize(gateway, "hot-a")
        try:
            made = await warm_up(one, in_flight, 0)
            drive = await drive_calls(one, calls, in_flight, made, ROUND_BUDGET)
        finally:
            await gateway.aclose()
        return drive

    return asyncio.run(main())


def hot_path(*, calls: dict[int, int]) -> HotPathResult:
    """``calls[n]``: the calls timed at ``n`` in flight, per gateway and configuration."""
    runs: list[HotPathRun] = []
    with canned_server() as (url, _):
        for config in CONFIGS:
            with ExitStack() as stack:
                try:
                    make = stack.enter_context(_STORES[config]())
                except Skip as skipped:
                    runs += [
                        HotPathRun(config, gw, n, 0, 0, 0.0, None, str(skipped))
                        for gw in GATEWAYS
                        for n in calls
                    ]
                    continue
                for in_flight, timed in calls.items():
                    for gateway, run in (("Gateway", _sync_run), ("AsyncGateway", _async_run)):
                        stores = make()
                        try:
                            drive = run(url, stores, in_flight, timed)
                        finally:
                            stores[0].close()
                            stores[1].close()
                        runs.append(
                            HotPathRun(
                                config,
                                gateway,
                                in_flight,
                                len(drive.samples),
                                drive.errors,
                                drive.seconds,
                                Stats(gateway, drive.samples),
                            )
                        )
    return HotPathResult(runs)
