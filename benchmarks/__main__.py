"""``python -m benchmarks [--quick]``: run every benchmark and print its table."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.overhead import OverheadResult, async_overhead, sync_overhead
from benchmarks.stores import Plan, StoreResult, store_throughput

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


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


def _stores_table(results: list[StoreResult], plan: Plan) -> Table:
    table = Table(
        title="Store throughput: idempotency begin+complete on fresh keys; record transitions on "
        "a distinct record per worker (throughput, not lock contention)",
        caption=(
            f"threads share one store object; {plan.seconds:g} s per row"
            if plan.ops is None
            else f"threads share one store object; {plan.ops} operations per row"
        )
        + f"; {os.cpu_count()} CPUs",
    )
    for column in ("store", "operation", "workers", "ops/s", "median latency µs", "p99 µs"):
        table.add_column(column, justify="left" if column in ("store", "operation") else "right")
    for r in results:
        if r.skipped is not None or r.latency is None:
            table.add_row(r.store, r.operation, "—", f"skipped: {r.skipped}", "—", "—")
            continue
        table.add_row(
            r.store,
            r.operation,
            str(r.workers),
            f"{r.ops_per_second:,.0f}",
            f"{r.latency.median:,.1f}",
            f"{r.latency.p99:,.1f}",
        )
    return table


def _markdown(table: Table) -> str:
    """The table as plain Markdown: its title as a heading, its caption below."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    headers = [cell(column.header) for column in table.columns]
    rule = ["---:" if column.justify == "right" else "---" for column in table.columns]
    rows = zip(*(list(column.cells) for column in table.columns), strict=True)
    lines = [f"## {cell(table.title)}", ""]
    lines += [f"| {' | '.join(row)} |" for row in (headers, rule)]
    lines += [f"| {' | '.join(cell(value) for value in row)} |" for row in rows]
    if table.caption:
        lines += ["", f"_{cell(table.caption)}_"]
    return "\n".join(lines) + "\n"


def _write_results(heading: str, tables: list[Table]) -> None:
    body = "\n".join(_markdown(table) for table in tables)
    RESULTS.write_text(
        "# paygate benchmark results\n\n"
        f"{heading}. Written by `make bench` (`python -m benchmarks`); `--quick` does not.\n\n"
        f"{body}",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few iterations: a smoke run")
    args = parser.parse_args(argv)
    rounds, per_round = (2, 5) if args.quick else (20, 250)
    plan = Plan(ops=24, warmup=1) if args.quick else Plan()
    console = Console(width=110)
    heading = (
        f"paygate benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"Python {platform.python_version()}, {platform.machine()}, {platform.system()}"
    )
    console.print(heading)
    results = [
        sync_overhead(rounds=rounds, per_round=per_round),
        async_overhead(rounds=rounds, per_round=per_round),
    ]
    tables = [_overhead_table(results)]
    console.print(tables[-1])
    tables.append(_stores_table(store_throughput(plan), plan))
    console.print(tables[-1])
    if not args.quick:
        _write_results(heading, tables)
        console.print(f"written to {RESULTS.relative_to(RESULTS.parents[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
