"""The benchmarks run end to end (a few iterations) so they cannot rot between `make bench`s."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmarks_run_and_print_their_tables() -> None:
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
