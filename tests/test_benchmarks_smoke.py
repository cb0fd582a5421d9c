"""The benchmarks run end to end (a few iterations) so they cannot rot between `make bench`s."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


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

    assert _state(RESULTS) == before, "--quick must not write benchmarks/RESULTS.md"
