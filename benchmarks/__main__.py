"""``python -m benchmarks [--quick]``: run every benchmark and print its table."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks import concurrency as conc
from benchmarks import failfast, hostile, loopback, steady
from benchmarks.breakdown import Breakdown, breakdown
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


def _breakdown_table(result: Breakdown, measured: OverheadResult) -> Table:
    table = Table(
        title="Where paygate's extra time goes: one sync authorize under cProfile, by stage",
        caption=f"{result.calls:,} calls per contender, profiled; each column is the share of "
        "that contender's profiled time. cProfile weighs Python calls more than C work (profiled, "
        f"a call took {result.profiled_us[0]:,.0f} µs through the Gateway and "
        f"{result.profiled_us[1]:,.0f} µs bare), so the split shows where the time goes, not how "
        "many µs each stage takes; the last row is the measured median from the table above",
    )
    for column in ("stage", "Gateway", "httpx.Client"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in result.stages:
        theirs = result.bare.get(stage)
        table.add_row(
            stage, f"{result.paygate[stage]:.0%}", "—" if theirs is None else f"{theirs:.0%}"
        )
    own = sum(share for stage, share in result.paygate.items() if stage not in result.bare)
    table.add_row("paygate's stages with no counterpart in the bare exchange", f"{own:.0%}", "—")
    table.add_row(
        "the whole call, median µs (not profiled)",
        f"{measured.paygate.median:,.0f}",
        f"{measured.bare.median:,.0f}",
    )
    return table


def _stores_table(results: list[StoreResult], plan: Plan) -> Table:
    table = Table(
        title="Store throughput: idempotency begin+complete on fresh keys; record transitions on "
        "a distinct record per worker (throughput, not lock contention); the intent every "
        "mutating call writes before its request leaves",
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


def _met(value: float, limit: float, *, at_most: bool = True) -> str:
    return "met" if (value <= limit if at_most else value >= limit) else "MISSED"


_LOOPBACK_TARGETS = {
    loopback.BARE: 1.25,
    "stripe.StripeClient": 0.65,
    "Adyen (new connection per call)": 0.8,
}


def _loopback_table(results: list[loopback.LoopbackResult]) -> Table:
    table = Table(
        title="Against the official SDKs, same simulator over loopback: one authorize + capture "
        "(2 HTTP calls in sequence) per sample",
        caption="paygate / contender = paygate's median over the contender's. The simulator "
        "serves from a thread of this process. stripe: max_network_retries=0, telemetry off, "
        "keep-alive (requests.Session); Adyen: baseUrl set on its Checkout services, "
        "requests.request per call = a new TCP connection per call; paygate and bare httpx "
        "keep one connection alive. 'not installed': the official SDKs are the bench extra, "
        "which make bench installs",
    )
    for column in ("provider", "contender", "median µs", "p99 µs", "paygate / contender"):
        table.add_column(
            column,
            justify="right" if "µs" in column or "/" in column else "left",
            no_wrap=column in ("contender", "median µs"),
        )
    table.add_column("target")
    for result in results:
        for contender in result.contenders:
            if contender.stats is None:
                table.add_row(result.provider, contender.name, contender.note, "—", "—", "—")
                continue
            ratio = result.ratio(contender.name)
            limit = _LOOPBACK_TARGETS.get(contender.name)
            target = "" if limit is None or ratio is None else f"≤ {limit:.2f}x"
            if target and ratio is not None and limit is not None:
                target += f" {_met(ratio, limit)}"
            table.add_row(
                result.provider,
                contender.name,
                f"{contender.stats.median:,.1f}",
                f"{contender.stats.p99:,.1f}",
                "1.00x" if contender.name == loopback.PAYGATE else f"{ratio:.2f}x",
                target,
            )
    return table


def _concurrency_note(result: conc.ConcurrencyResult) -> str:
    busiest = max(r.simulator_cpu for r in result.runs + result.capacity)
    raw_top = max((r for r in result.runs if r.contender == conc.RAW), key=lambda r: r.concurrency)
    multi = max(result.capacity, key=lambda r: r.throughput)
    client = min(r.client_cpu for r in result.runs)
    if busiest >= 0.85:
        verdict = (
            f"The simulator IS the bottleneck: its process used up to {busiest:.0%} of a core "
            "(its threads share one GIL: ~100% is its ceiling)"
        )
    else:
        verdict = (
            f"The simulator is not the bottleneck: its process used at most {busiest:.0%} of a "
            f"core, and {multi.processes} raw client processes ({multi.concurrency} in flight "
            f"each) drew {multi.throughput:,.0f} calls/s from it against "
            f"{raw_top.throughput:,.0f} for one raw client at {raw_top.concurrency} in flight"
        )
    if client >= 0.85:
        verdict += (
            f"; the one client process is CPU-bound (at least {client:.0%} of a core in every "
            "run): the limit is on the client side, httpx/httpcore's async pool included"
        )
    warnings = "; ".join(f"{n} x '{msg}'" for msg, n in result.warnings.items())
    return (
        f"{verdict}. CPU columns: CPU seconds per wall second of the simulator's process and of "
        "the client process(es). calls/s over successful calls, all rounds (A B, then B A); per "
        f"round: each round's, in the order run; a round starts no call after "
        f"{conc.ROUND_BUDGET:.0f} s (ok then shows fewer). Over many pooled connections "
        "httpcore's pool bookkeeping grows with the idle ones (encode/httpcore#1035), so one "
        "client's throughput can swing between rounds, or collapse, at 200 in flight: the ratio "
        "then measures httpcore as much as paygate. err: calls that failed (the "
        "simulator resets connections under load), not timed. The gateway's breaker opens after "
        f"{conc.BREAKER_THRESHOLD} failures; its bulkhead admits the concurrency; the two share "
        "one connection pool of that size. paygate warnings logged: " + (warnings or "none")
    )


def _concurrency_table(result: conc.ConcurrencyResult) -> Table:
    table = Table(
        title="Concurrency: authorizations through AsyncGateway vs raw httpx.AsyncClient against "
        "the Stripe simulator (own process), with the simulator's capacity (raw clients in "
        "several processes)",
        caption=_concurrency_note(result),
    )
    columns = ("contender", "in flight", "procs", "ok", "err", "calls/s", "per round")
    columns += ("med ms", "p99 ms")
    columns += ("ratio", "target", "sim CPU", "client CPU")
    for column in columns:
        table.add_column(column, justify="left" if column == "contender" else "right")

    def row(run: conc.Run, ratio: str, target: str, prefix: str = "") -> None:
        table.add_row(
            prefix + run.contender,
            f"{run.concurrency}" + ("/proc" if run.processes > 1 else ""),
            str(run.processes),
            f"{run.calls:,}",
            str(run.errors),
            f"{run.throughput:,.0f}",
            " / ".join(f"{rate:,.0f}" for rate in run.per_round),
            f"{run.latency.median / 1000:,.1f}",
            f"{run.latency.p99 / 1000:,.1f}",
            ratio,
            target,
            f"{run.simulator_cpu:.0%}",
            f"{run.client_cpu:.0%}",
        )

    levels = sorted({r.concurrency for r in result.runs})
    for level in levels:
        ratio = result.ratio(level)
        target = f"≥ 0.85x {_met(ratio, 0.85, at_most=False)}" if level == max(levels) else ""
        for run in (r for r in result.runs if r.concurrency == level):
            is_gw = run.contender == conc.GATEWAY
            row(run, f"{ratio:.2f}x" if is_gw else "1.00x", target if is_gw else "")
    for run in result.capacity:
        row(run, "", "", prefix="capacity: ")
    return table


def _steady_table(result: steady.SteadyResult) -> Table:
    table = Table(
        title="Steady state: resident memory after N sequential authorizes through a Gateway "
        "(MockTransport, memory stores; a fresh interpreter per configuration)",
        caption=f"Bounds: {steady.BOUNDS}. B/call: RSS growth since the previous checkpoint "
        "over the calls between them",
    )
    for column in ("stores", "calls", "RSS MiB", "growth MiB", "B/call", "keys held"):
        table.add_column(column, justify="left" if column == "stores" else "right")
    table.add_column("records held", justify="right")
    base: dict[str, int] = {}
    for point in result.checkpoints:
        base.setdefault(point.config, point.rss)
        per_call = result.per_call(point)
        table.add_row(
            point.config,
            "after warm-up" if point.calls == 0 else f"{point.calls:,}",
            f"{point.rss / 2**20:,.1f}",
            f"{(point.rss - base[point.config]) / 2**20:+,.1f}",
            "—" if per_call is None else f"{per_call:,.0f}",
            f"{point.keys:,}",
            "—" if point.records is None else f"{point.records:,}",
        )
    return table


def _failfast_table(result: failfast.FailFastResult) -> Table:
    table = Table(
        title="Failing fast: latency of an authorize refused locally (Gateway, MockTransport)",
        caption=f"requests that reached the transport while refusals were timed: {result.sent}",
    )
    for column in ("refused by", "median µs", "p99 µs", "target"):
        table.add_column(column, justify="right" if "µs" in column else "left")
    for name, stats in result.refusals.items():
        target = f"< 50 µs {_met(stats.median, 50)}" if name == failfast.OPEN_BREAKER else ""
        table.add_row(name, f"{stats.median:.1f}", f"{stats.p99:.1f}", target)
    return table


def _hostile_table(results: list[hostile.HostileResult]) -> Table:
    table = Table(
        title="Hostile answers: one authorize (sync Gateway, Stripe simulator) whose answer is "
        f"huge, endless, a gzip bomb or dripped, against a {hostile.DEADLINE:g} s deadline",
        caption="a fresh interpreter per case; memory: its peak RSS over the RSS before the "
        "call; the answer limit is LimitsPolicy.response_body (4 MiB); target: within the "
        "deadline, and memory bounded by the limit, not by the answer",
    )
    for column in ("answer", "paygate raised", "seconds", "peak memory growth MiB", "target"):
        numeric = column in {"seconds", "peak memory growth MiB"}
        table.add_column(column, justify="right" if numeric else "left")
    for row in results:
        met = row.seconds <= hostile.DEADLINE + 0.5 and row.growth_mib < 64
        table.add_row(
            row.case,
            row.outcome,
            f"{row.seconds:.2f}",
            f"{row.growth_mib:.1f}",
            f"≤ {hostile.DEADLINE:g} s, < 64 MiB {'met' if met else 'MISSED'}",
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
    quick = args.quick
    rounds, per_round = (2, 5) if quick else (20, 250)
    plan = Plan(ops=24, warmup=1) if quick else Plan()
    loop_rounds, loop_per_round = (2, 3) if quick else (20, 30)
    console = Console(width=110)
    heading = (
        f"paygate benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"Python {platform.python_version()}, {platform.machine()}, {platform.system()}"
    )
    console.print(heading)
    overhead: list[OverheadResult] = []

    def measure_overhead() -> Table:
        overhead.append(sync_overhead(rounds=rounds, per_round=per_round))
        overhead.append(async_overhead(rounds=rounds, per_round=per_round))
        return _overhead_table(overhead)

    sections: list[Callable[[], Table]] = [
        measure_overhead,
        lambda: _breakdown_table(breakdown(20 if quick else 2000), overhead[0]),
        lambda: _stores_table(store_throughput(plan), plan),
        lambda: _loopback_table(
            [
                loopback.stripe_loopback(rounds=loop_rounds, per_round=loop_per_round),
                loopback.adyen_loopback(rounds=loop_rounds, per_round=loop_per_round),
            ]
        ),
        lambda: _concurrency_table(
            conc.concurrency(calls=40, rounds=1, levels=(4, 16))
            if quick
            else conc.concurrency(calls=1000, rounds=2, levels=(50, 200))  # 2,000 each, A B B A
        ),
        lambda: _steady_table(
            steady.steady_state([50, 100], [50, 100])
            if quick
            else steady.steady_state([10_000, 100_000, 110_000], [10_000, 30_000])
        ),
        lambda: _failfast_table(failfast.fail_fast(rounds=rounds, per_round=per_round)),
        lambda: _hostile_table(
            hostile.hostile(("1 GB gzip bomb",)) if quick else hostile.hostile()
        ),
    ]
    started = time.perf_counter()
    tables: list[Table] = []
    for section in sections:
        began = time.perf_counter()
        tables.append(section())
        # The concurrency table has thirteen columns: wider than the rest.
        Console(width=150 if len(tables[-1].columns) > 10 else 110).print(tables[-1])
        console.print(f"[dim]took {time.perf_counter() - began:.0f} s[/dim]")
    took = f"ran in {time.perf_counter() - started:.0f} s"
    console.print(took)
    if not quick:
        _write_results(f"{heading}; {took}", tables)
        console.print(f"written to {RESULTS.relative_to(RESULTS.parents[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
