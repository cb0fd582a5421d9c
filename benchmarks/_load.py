"""What the load benchmarks share: driving calls at a concurrency, timing them, and the CPU the
processes involved spent meanwhile."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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
