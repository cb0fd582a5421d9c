"""``python -m benchmarks [--quick]``: run every benchmark and print its table."""

from __future__ import annotations

import argparse
import platform
import sys
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from benchmarks.overhead import OverheadResult, async_overhead, sync_overhead


def _overhead_table(results: list[OverheadResult]) -> Table:
    table = Table(title="SDK overhead over a bare httpx exchange (MockTransport, no network)")
    for column in ("mode", "contender", "median µs", "p99 µs", "ratio (median)", "target"):
        table.add_column(column, justify="right" if "µs" in column or "ratio" in column else "left")
    for result in results:
        for stats, ratio in ((result.paygate, f"{result.ratio:.2f}x"), (result.bare, "1.00x")):
            target = "≤ 1.50x" if stats is result.paygate else ""
            table.add_row(
                result.title, stats.name, f"{stats.median:.1f}", f"{stats.p99:.1f}", ratio, target
            )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few iterations: a smoke run")
    args = parser.parse_args(argv)
    rounds, per_round = (2, 5) if args.quick else (20, 250)
    console = Console(width=110)
    console.print(
        f"paygate benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"Python {platform.python_version()}, {platform.machine()}, {platform.system()}"
    )
    results = [
        sync_overhead(rounds=rounds, per_round=per_round),
        async_overhead(rounds=rounds, per_round=per_round),
    ]
    console.print(_overhead_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
