"""Interleaved A/B timing: contenders take turns within each round, and the order flips every
round, so drift on a shared machine (frequency scaling, a noisy neighbour) hits them alike.
Ratios from one run are the result; absolute times are context."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Stats:
    name: str
    samples_us: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples_us)

    @property
    def p99(self) -> float:
        ordered = sorted(self.samples_us)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _schedule(names: Sequence[str], rounds: int, per_round: int) -> Iterator[tuple[str, int]]:
    """(contender, call number) in the interleaved order; call numbers are unique."""
    counter = 0
    for round_no in range(rounds):
        for name in names if round_no % 2 == 0 else names[::-1]:
            for _ in range(per_round):
                counter += 1
                yield name, counter


def run_interleaved(
    contenders: Mapping[str, Callable[[int], object]], *, rounds: int, per_round: int
) -> dict[str, Stats]:
    """Time every call; a contender gets the call number, to make each call unique."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for name, n in _schedule(list(contenders), rounds, per_round):
        started = time.perf_counter_ns()
        contenders[name](n)
        samples[name].append((time.perf_counter_ns() - started) / 1000)
    return {name: Stats(name, values) for name, values in samples.items()}


def run_interleaved_async(
    contenders: Mapping[str, Callable[[int], Awaitable[object]]], *, rounds: int, per_round: int
) -> dict[str, Stats]:
    """The same for coroutine functions, one call at a time on one event loop."""

    async def main() -> dict[str, Stats]:
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        for name, n in _schedule(list(contenders), rounds, per_round):
            started = time.perf_counter_ns()
            await contenders[name](n)
            samples[name].append((time.perf_counter_ns() - started) / 1000)
        return {name: Stats(name, values) for name, values in samples.items()}

    return asyncio.run(main())
