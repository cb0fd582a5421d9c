"""Where paygate's extra time goes: the in-process exchange of the overhead benchmark, each
contender run under ``cProfile``, its time split into the stages of one call.

A stage's share is the cumulative profiled time of the function that does it, over the
contender's whole profiled time. cProfile weighs Python function calls more heavily than C work
(it slows call-heavy code most), so the split is a guide to where the time goes, not a
measurement of each stage in µs; the overhead table has the measured medians. The sync
``Gateway`` is profiled; ``AsyncGateway`` runs the same core between its awaits. A stage whose
function is no longer found (renamed, moved) fails the run rather than vanish from the split.
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from benchmarks._stripe_bare import API_KEY
from benchmarks.overhead import BASE_URL, _answer, sync_contenders
from paygate import Gateway
from paygate.adapters.stripe import StripeAdapter

# (stage, the file it lives in, the function whose cumulative time is the stage's), in call
# order. None of these functions calls another of them, so the stages do not overlap.
PAYGATE_STAGES = (
    ("capability check, key and fingerprint", "paygate/gateway/_steps.py", "prepare"),
    ("idempotency store: begin", "paygate/gateway/_sync.py", "_begin"),
    ("build the request", "paygate/gateway/_steps.py", "sendable"),
    # paygate sends straight into the transport, and reads the body within its size limit
    ("send and take the body, without the transport", "paygate/_primitives.py", "exchange"),
    ("the mock transport's answer (both pay it)", "benchmarks/overhead.py", "_answer"),
    ("read and validate the answer", "paygate/gateway/_steps.py", "read_response"),
    ("payment record write", "paygate/gateway/_sync.py", "_record"),
    ("encode the result for the store", "paygate/_outcomes.py", "encode_result"),
    ("idempotency store: complete", "paygate/gateway/_sync.py", "_settle"),
)
BARE_STAGES = (
    ("build the request", "httpx/_client.py", "build_request"),
    ("send and take the body, without the transport", "httpx/_client.py", "send"),
    ("the mock transport's answer (both pay it)", "benchmarks/overhead.py", "_answer"),
    ("read and validate the answer", "httpx/_models.py", "json"),
)
REST = "the rest: breaker, bulkhead, retry, deadline, results"
SEND = "send and take the body, without the transport"
ANSWER = "the mock transport's answer (both pay it)"


@dataclass(frozen=True)
class Breakdown:
    stages: list[str]  # in call order, the rest last
    paygate: dict[str, float]  # stage -> share of the contender's profiled time
    bare: dict[str, float]
    calls: int
    profiled_us: tuple[float, float]  # µs per call under the profiler: paygate, bare


def _profile(call: Callable[[int], object], calls: int) -> pstats.Stats:
    for n in range(50):  # imports, caches, the pool's connection: not what is profiled
        call(1_000_000 + n)
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(calls):
        call(n)
    profiler.disable()
    return pstats.Stats(profiler)


def _shares(
    stats: pstats.Stats, total_of: Callable[[int], object], stages: tuple[tuple[str, str, str], ...]
) -> tuple[dict[str, float], float]:
    """Each stage's share of ``total_of``'s profiled time, and that time in seconds."""
    table = stats.stats  # type: ignore[attr-defined]  # (file, line, name) -> (cc, nc, tt, ct, callers)
    code = total_of.__code__
    total = next(
        row[3]
        for (file, line, name), row in table.items()
        if file == code.co_filename and line == code.co_firstlineno and name == code.co_name
    )
    found = {stage: 0.0 for stage, _, _ in stages}
    matched: set[str] = set()
    for (file, _, name), row in table.items():
        for stage, where, function in stages:
            if name == function and file.replace("\\", "/").endswith(where):
                found[stage] += row[3] / total
                matched.add(stage)
    if missing := [stage for stage in found if stage not in matched]:
        # A renamed or moved function: the split would silently lose a stage.
        raise AssertionError(f"no profiled function for the stages {missing}")
    # The transport's answer is timed inside the send: take it out of send.
    found[SEND] -= found[ANSWER]
    found[REST] = 1.0 - sum(found.values())
    return found, total


def breakdown(calls: int) -> Breakdown:
    transport = httpx.MockTransport(_answer)
    adapter = StripeAdapter(API_KEY, base_url=BASE_URL)
    with Gateway(adapter, transport=transport) as gw, httpx.Client(transport=transport) as client:
        through_paygate, bare_httpx = sync_contenders(gw, client)
        ours, our_time = _shares(_profile(through_paygate, calls), through_paygate, PAYGATE_STAGES)
        theirs, their_time = _shares(_profile(bare_httpx, calls), bare_httpx, BARE_STAGES)
    stages = [stage for stage, _, _ in PAYGATE_STAGES] + [REST]
    per_call = (our_time / calls * 1e6, their_time / calls * 1e6)
    return Breakdown(stages, ours, theirs, calls, per_call)
