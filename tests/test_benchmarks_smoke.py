"""The benchmarks run end to end (a few iterations) so they cannot rot between `make bench`s."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
THREADED = ("Gateway (shared)", "httpx.Client (shared)", "httpx.Client (one per thread)")


def _state(path: Path) -> tuple[int, bytes] | None:
    """What a write would change: the file's mtime and content (None: no file)."""
    return (path.stat().st_mtime_ns, path.read_bytes()) if path.exists() else None


def test_benchmarks_run_and_print_their_tables() -> None:
    before = _state(RESULTS)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for row in ("Gateway", "httpx.Client", "AsyncGateway", "ratio"):
        assert row in done.stdout, row

    # The breakdown: every stage of a Gateway call has a share, the bare exchange's stages too,
    # and the measured medians close the table.
    assert "Where paygate's extra time goes" in done.stdout
    for stage in (
        "capability check, key and fingerprint",
        "build the request",
        "read and validate the answer",
        "payment record write",
        "the rest: breaker, bulkhead, retry, deadline, results",
    ):
        assert re.search(rf"{re.escape(stage)}\W+\d+%", done.stdout), stage
    assert re.search(r"build the request\W+\d+%\W+\d+%", done.stdout)
    assert re.search(r"median µs \(not profiled\)\W+[\d,]+\W+[\d,]+", done.stdout)

    # The record path priced out: both modes measured, with the full path's ratio beside.
    assert "record path priced out" in done.stdout
    for mode in ("sync", "async"):
        row = rf"\n\W*{mode}\W+[\d.]+\W+[\d.]+\W+[\d.]+x\W+[\d.]+x\W+-?[\d.]+\W+[\d.]+"
        assert re.search(row, done.stdout), mode

    # The stores table: measured rows for the stores that need no server, for 1 and 8 workers
    # (a number of ops/s); PostgreSQL and Redis rows are measured or say why they were skipped.
    assert "Store throughput" in done.stdout
    assert "not lock contention" in done.stdout
    for header in ("ops/s", "median latency µs", "p99 µs"):
        assert header in done.stdout, header
    for store in ("memory", "sqlite"):
        for operation in ("idempotency begin+complete", "record transition (apply)"):
            for workers in (1, 8):
                row = rf"{store}\W+{re.escape(operation)}\W+{workers}\W+[\d,]+\W"
                assert re.search(row, done.stdout), (store, operation, workers)
    for store in ("postgres", "redis"):
        assert re.search(rf"{store}\W+idempotency begin\+complete\W", done.stdout), store

    # Against the official SDKs, same simulator: paygate and bare httpx always measured; the
    # official SDKs measured when the bench extra is installed, else a "skipped" row.
    assert "Against the official SDKs" in done.stdout
    for provider, official, module in (
        ("Stripe", "stripe.StripeClient", "stripe"),
        ("Adyen", "Adyen (new connection per call)", "Adyen"),
    ):
        for contender in ("paygate Gateway", "bare httpx.Client"):
            row = rf"{provider}\W+{re.escape(contender)}\W+[\d,.]+\W+[\d,.]+\W+[\d.]+x"
            assert re.search(row, done.stdout), (provider, contender)
        if importlib.util.find_spec(module) is not None:
            row = rf"{provider}\W+{re.escape(official)}\W+[\d,.]+\W+[\d,.]+\W+[\d.]+x"
        else:
            row = rf"{provider}\W+{re.escape(official)}\W+not installed"
        assert re.search(row, done.stdout), (provider, official)

    # Concurrency: both contenders at each level, and the simulator's capacity rows.
    assert "Concurrency" in done.stdout
    for contender in ("AsyncGateway", "httpx.AsyncClient"):
        for level in (4, 16):
            assert re.search(rf"│ {contender}\W+{level}\W+1\W+\d+\W+\d+\W+[\d,]+", done.stdout)
    assert re.search(r"capacity: httpx.AsyncClient\W+16/proc\W+2\W+\d+", done.stdout)
    assert re.search(r"capacity: httpx.AsyncClient\W+4/proc\W+3\W+\d+", done.stdout)
    assert "bottleneck" in done.stdout

    # The transports: AsyncGateway on each, both raw clients, at each level; the server's
    # capacity from two processes; the client CPU per call of every row.
    assert "AsyncGateway's HTTP transports" in done.stdout
    for contender in (
        "AsyncGateway (aiohttp)",
        "aiohttp.ClientSession",
        "AsyncGateway (httpx)",
        "httpx.AsyncClient",
    ):
        for level in (4, 16):
            row = rf"│ {re.escape(contender)}\W+{level}\W+\d+\W+\d+\W+[\d,]+\W+[\d,/ ]+\W+[\d.]+"
            assert re.search(row, done.stdout), (contender, level)
    assert re.search(r"│ aiohttp.ClientSession\W+16/proc\W+\d+", done.stdout)
    assert "client µs/call" in done.stdout

    # Stores on the hot path: memory and SQLite measured for both gateways at both levels;
    # PostgreSQL and Redis measured or skipped with the reason.
    assert "Stores on the hot path" in done.stdout
    for config in ("memory", "sqlite"):
        for gateway in ("Gateway", "AsyncGateway"):
            for level in (1, 4):
                row = rf"│ {config}\W+{gateway}\W+{level}\W+\d+\W+\d+\W+[\d,]+\W+[\d.]+"
                assert re.search(row, done.stdout), (config, gateway, level)
    for config in ("postgres", "redis"):
        assert re.search(rf"│ {config}[\w +]*\W+Gateway\W+1\W", done.stdout), config

    # Threads: the shared Gateway and both raw layouts at each thread count, and a verdict.
    assert "The blocking Gateway under threads" in done.stdout
    for contender in THREADED:
        for level in (4, 16):
            row = rf"{re.escape(contender)}\W+{level}\W+\d+\W+\d+\W+[\d,]+"
            assert re.search(row, done.stdout), (contender, level)
    assert "Verdict: the shared pool" in done.stdout

    # Steady state: RSS at each checkpoint for both store configurations, with bytes per call.
    assert "Steady state" in done.stdout
    for config in ("default memory stores", "bounds 1,000 / 1,000"):
        for calls in ("after warm-up", "50", "100"):
            assert re.search(rf"{re.escape(config)}\W+{calls}\W+[\d,.]+\W+[+-]", done.stdout)
    assert "B/call" in done.stdout

    # Failing fast: both refusals timed, and nothing reached the transport.
    assert "Failing fast" in done.stdout
    for refusal in ("open circuit breaker (CircuitOpen)", "full bulkhead (BulkheadFull)"):
        assert re.search(rf"{re.escape(refusal)}\W+[\d.]+\W+[\d.]+", done.stdout), refusal
    assert "reached the transport while refusals were timed: 0" in done.stdout

    # Settlement reconciliation: the planted counts were found, at a measured rate, with the
    # records' load from the store, the report's read and the match timed apart.
    assert "Settlement reconciliation" in done.stdout
    seconds = r"\s+[\d.]+ │" * 4  # load, read, match, total
    assert re.search(
        rf"│\s+[\d,]+ │\s+2,000 │{seconds}\s+[\d,]+ │\s+1.00x │.*as planted", done.stdout
    )

    assert _state(RESULTS) == before, "--quick must not write benchmarks/RESULTS.md"
