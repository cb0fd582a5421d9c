"""What the load benchmarks share: driving calls at a concurrency, timing them, the CPU the
processes involved spent meanwhile, a server in a process of its own, and client processes
started together to show a server's capacity."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from benchmarks._harness import Stats


@dataclass(frozen=True)
class Run:
    contender: str
    concurrency: int
    processes: int
    calls: int  # that succeeded
    errors: int
    seconds: float
    latency: Stats
    simulator_cpu: float  # CPU seconds of the simulator process per wall second
    client_cpu: float  # CPU seconds of the client process(es) per wall second
    per_round: tuple[float, ...]  # calls/s of each round, in the order they ran

    @property
    def throughput(self) -> float:
        return self.calls / self.seconds


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (0 where there is no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Drive:
    seconds: float
    samples: list[float]  # µs per successful call
    errors: int
    cpu: float  # CPU seconds this process spent


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def drive_calls(
    call: Callable[[int], Awaitable[None]],
    calls: int,
    concurrency: int,
    first: int,
    budget: float = float("inf"),
) -> Drive:
    """``calls`` calls, ``concurrency`` in flight, none started after ``budget`` seconds. A call
    that fails is counted, not timed."""
    numbers = iter(range(first, first + calls))
    samples: list[float] = []
    errors = 0
    stop = time.perf_counter() + budget

    async def worker() -> None:
        nonlocal errors
        for n in numbers:
            if time.perf_counter() > stop:
                return
            started = time.perf_counter_ns()
            try:
                await call(n)
            except Exception:
                errors += 1
                continue
            samples.append((time.perf_counter_ns() - started) / 1000)

    cpu, started = own_cpu(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Drive(time.perf_counter() - started, samples, errors, own_cpu() - cpu)


_RAMP = 25


async def warm_up(call: Callable[[int], Awaitable[None]], concurrency: int, first: int) -> int:
    """Open the pool's connections a few at a time, so that every timed run starts on a full
    pool of open connections (the failures of a warm-up are not counted anywhere). Returns the
    number of calls made."""
    made = 0
    for step in range(min(_RAMP, concurrency), concurrency + _RAMP, _RAMP):
        width = min(step, concurrency)
        await drive_calls(call, width, width, first + made)
        made += width
    return made


def merge(name: str, concurrency: int, processes: int, runs: list[tuple[Drive, float]]) -> Run:
    seconds = sum(d.seconds for d, _ in runs)
    samples = [x for d, _ in runs for x in d.samples]
    return Run(
        contender=name,
        concurrency=concurrency,
        processes=processes,
        calls=len(samples),
        errors=sum(d.errors for d, _ in runs),
        seconds=seconds,
        latency=Stats(name, samples),
        simulator_cpu=sum(c for _, c in runs) / seconds,
        client_cpu=sum(d.cpu for d, _ in runs) / seconds,
        per_round=tuple(len(d.samples) / d.seconds for d, _ in runs),
    )


# -- processes: a server of its own, and client processes started together --------------------
_CTX = multiprocessing.get_context("spawn")


@contextmanager
def served(serve: Callable[[Connection], None]) -> Iterator[tuple[str, int]]:
    """A server in a process of its own: ``serve(conn)`` sends its base URL over ``conn`` and
    runs until it receives anything. Yields (the URL, the process id)."""
    ours, theirs = _CTX.Pipe()
    process = _CTX.Process(target=serve, args=(theirs,), daemon=True)
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


def capacity(
    client: Callable[..., None],
    contender: str,
    url: str,
    server: int,
    *,
    processes: int,
    calls: int,
    concurrency: int,
) -> Run:
    """``calls`` in all, shared by ``processes`` client processes with ``concurrency`` in flight
    each, started together: ``client(url, calls, concurrency, barrier=, results=)`` warms up,
    waits on ``barrier``, drives its calls and puts (start, end, ``Drive``) on ``results``."""
    barrier = _CTX.Barrier(processes + 1)
    results = _CTX.Queue()
    workers = [
        _CTX.Process(
            target=client,
            args=(url, calls // processes, concurrency),
            kwargs={"barrier": barrier, "results": results},
            daemon=True,
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    barrier.wait(timeout=120)
    cpu = cpu_seconds(server)
    done = [results.get(timeout=300) for _ in workers]
    cpu = cpu_seconds(server) - cpu
    for worker in workers:
        worker.join(10)
    seconds = max(end for _, end, _ in done) - min(start for start, _, _ in done)
    samples = [x for _, _, d in done for x in d.samples]
    return Run(
        contender=contender,
        concurrency=concurrency,
        processes=processes,
        calls=len(samples),
        errors=sum(d.errors for _, _, d in done),
        seconds=seconds,
        latency=Stats(contender, samples),
        simulator_cpu=cpu / seconds,
        client_cpu=sum(d.cpu for _, _, d in done) / seconds,
        per_round=(len(samples) / seconds,),
    )


def report(drive: Drive, results: Any) -> None:
    """A client process's drive, put on ``results`` as ``capacity`` reads it."""
    ended = time.time()
    results.put((ended - drive.seconds, ended, drive))


async def take_turns(
    contenders: dict[str, Callable[[int], Awaitable[None]]],
    *,
    calls: int,
    concurrency: int,
    rounds: int,
    first: int,
    server: int,
    budget: float,
) -> dict[str, list[tuple[Drive, float]]]:
    """Each contender's rounds of ``calls``, the contenders taking turns in one order, then the
    reverse: per round, the drive and the ``server`` process's CPU seconds meanwhile. Call
    numbers start at ``first``."""
    measured: dict[str, list[tuple[Drive, float]]] = {name: [] for name in contenders}
    counter = first
    for round_no in range(rounds):
        order = list(contenders) if round_no % 2 == 0 else list(contenders)[::-1]
        for name in order:
            cpu = cpu_seconds(server)
            drive = await drive_calls(contenders[name], calls, concurrency, counter, budget)
            measured[name].append((drive, cpu_seconds(server) - cpu))
            counter += calls
    return measured


def drive_threads(
    call: Callable[[int], None],
    calls: int,
    threads: int,
    first: int,
    budget: float = float("inf"),
) -> Drive:
    """``drive_calls`` for a blocking ``call``: ``calls`` calls from ``threads`` threads, none
    started after ``budget`` seconds; a call that fails is counted, not timed."""
    numbers = iter(range(first, first + calls))  # next() on a range iterator is atomic
    samples: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.perf_counter() + budget

    def worker() -> None:
        nonlocal errors
        for n in numbers:
            if time.perf_counter() > stop:
                return
            started = time.perf_counter_ns()
            try:
                call(n)
            except Exception:
                with lock:
                    errors += 1
                continue
            with lock:
                samples.append((time.perf_counter_ns() - started) / 1000)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    cpu, started = own_cpu(), time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return Drive(time.perf_counter() - started, samples, errors, own_cpu() - cpu)
