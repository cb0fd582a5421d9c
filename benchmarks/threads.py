"""The blocking Gateway under threads: 10, 50 and 200 threads sharing one ``Gateway`` (httpx,
over paygate's walled httpcore pool), against one ``httpx.Client`` shared the same way and
against one ``httpx.Client`` per thread (no pool shared at all), all sending the same authorize
to the canned-answer server of ``benchmarks._canned``.

If the shared pool were the limit, the clients of their own would draw clearly more calls per
second than the shared client at the same thread count; if both land together, the limit is
the one interpreter (its GIL) that every thread shares.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from benchmarks import _stripe_bare as bare
from benchmarks._canned import canned_server
from benchmarks._load import Drive, Run, cpu_seconds, drive_threads, merge
from paygate import BulkheadPolicy, Gateway

GATEWAY = "Gateway (shared)"
SHARED = "httpx.Client (shared)"
OWN = "httpx.Client (one per thread)"
CONTENDERS = (GATEWAY, SHARED, OWN)
ROUND_BUDGET = 12.0


@dataclass(frozen=True)
class ThreadsResult:
    runs: list[Run]

    def run(self, contender: str, threads: int) -> Run:
        return next(r for r in self.runs if r.contender == contender and r.concurrency == threads)


def _limits(threads: int) -> httpx.Limits:
    return httpx.Limits(max_connections=threads, max_keepalive_connections=threads)


def _raw(client: httpx.Client, n: int) -> None:
    response = client.post(
        "/v1/payment_intents",
        data=bare.authorize_form(f"th-raw-{n}"),
        headers=bare.headers(bare.API_KEY, f"th-{os.getpid()}-{n}"),
    )
    response.raise_for_status()
    bare.check(response.json())


def _level(url: str, server: int, threads: int, calls: int, rounds: int) -> list[Run]:
    gateway = Gateway.for_stripe(
        bare.API_KEY, base_url=url, bulkhead=BulkheadPolicy(max_concurrent=threads, max_wait=30)
    )
    shared = httpx.Client(base_url=url, limits=_limits(threads))
    local = threading.local()
    owned: list[httpx.Client] = []
    owned_lock = threading.Lock()

    def own_client(n: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, limits=_limits(1))
            with owned_lock:
                owned.append(client)
        _raw(client, n)

    contenders: dict[str, Callable[[int], None]] = {
        GATEWAY: bare.gateway_authorize(gateway, "th-pg"),
        SHARED: lambda n: _raw(shared, n),
        OWN: own_client,
    }
    measured: dict[str, list[tuple[Drive, float]]] = {name: [] for name in contenders}
    counter = 70_000_000
    try:
        for call in contenders.values():  # every connection opened before anything is timed
            drive_threads(call, threads * 2, threads, counter, ROUND_BUDGET)
            counter += threads * 2
        for round_no in range(rounds):
            order = list(contenders) if round_no % 2 == 0 else list(contenders)[::-1]
            for name in order:
                cpu = cpu_seconds(server)
                drive = drive_threads(contenders[name], calls, threads, counter, ROUND_BUDGET)
                measured[name].append((drive, cpu_seconds(server) - cpu))
                counter += calls
    finally:
        gateway.close()
        shared.close()
        for client in owned:
            client.close()
    return [merge(name, threads, 1, drives) for name, drives in measured.items()]


def threaded(*, calls: int, rounds: int, levels: tuple[int, ...] = (10, 50, 200)) -> ThreadsResult:
    runs: list[Run] = []
    with canned_server() as (url, pid):
        for threads in levels:
            runs += _level(url, pid, threads, calls, rounds)
    return ThreadsResult(runs)
