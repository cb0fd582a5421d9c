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
from benchmarks import failfast, hostile, hot_path, loopback, recon, steady
from benchmarks import threads as th
from benchmarks import transports as tr
from benchmarks._load import Run
from benchmarks.breakdown import Breakdown, breakdown
from benchmarks.overhead import OverheadResult, async_overhead, sync_overhead
from benchmarks.record_path import RecordPathResult, record_path
from benchmarks.stores import Plan, StoreResult, store_throughput

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _overhead_table(results: list[OverheadResult]) -> Table:
    table = Table(title="SDK overhead over a bare httpx exchange (MockTransport, no network)")
    for column in ("mode", "contender", "median µs", "p99 µs", "ratio (median)", "target"):
        table.add_column(column, justify="right" if "µs" in column or "ratio" in column else "left")
    for result in results:
        for stats, ratio in ((result.paygate, f"{result.ratio:.2f}x"), (result.bare, "1.00x")):
            target = result.target if stats is result.paygate else ""
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


def _record_path_table(results: list[RecordPathResult], measured: list[OverheadResult]) -> Table:
    table = Table(
        title="The in-process contest again with the payment record path priced out: the "
        "intent and the outcome's record change neither built nor kept (a measurement of the "
        "target's budget, not a mode any gateway runs in)",
        caption="with: the ratio of the overhead table above; the record path: the Gateway's "
        "median with it less the median without it; the budget: what the ≤ 1.50x target leaves "
        "paygate over the bare exchange (half the bare median), for everything it does",
    )
    columns = (
        "mode", "Gateway µs", "bare µs", "ratio", "with", "the record path µs", "the budget µs",
    )  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "mode" else "right")
    for result, full in zip(results, measured, strict=True):
        table.add_row(
            result.title,
            f"{result.paygate.median:.1f}",
            f"{result.bare.median:.1f}",
            f"{result.ratio:.2f}x",
            f"{full.ratio:.2f}x",
            f"{full.paygate.median - result.paygate.median:.1f}",
            f"{full.bare.median / 2:.1f}",
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


def _rates(run: Run) -> list[str]:
    """A load run's calls/s (all rounds, then each round's) and its median and p99 in ms."""
    return [
        f"{run.throughput:,.0f}",
        " / ".join(f"{rate:,.0f}" for rate in run.per_round),
        f"{run.latency.median / 1000:,.1f}",
        f"{run.latency.p99 / 1000:,.1f}",
    ]


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

    def row(run: Run, ratio: str, target: str, prefix: str = "") -> None:
        table.add_row(
            prefix + run.contender,
            f"{run.concurrency}" + ("/proc" if run.processes > 1 else ""),
            str(run.processes),
            f"{run.calls:,}",
            str(run.errors),
            *_rates(run),
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


# The targets for AsyncGateway on aiohttp, against raw aiohttp at the same concurrency.
_THROUGHPUT_TARGETS = {10: 0.7, 200: 0.8}
_CPU_TARGET = 2.0


def _transports_table(result: tr.TransportResult) -> Table:
    capacity = result.capacity
    busiest = max(r.simulator_cpu for r in result.runs)
    table = Table(
        title="AsyncGateway's HTTP transports: authorizations through AsyncGateway on aiohttp "
        "and on httpx vs raw aiohttp and raw httpx, against a canned-answer server (own process)",
        caption=f"The server is not the bottleneck: its process used at most {busiest:.0%} of a "
        "core in any run, and two raw aiohttp client processes "
        f"({capacity.concurrency} in flight each) drew {capacity.throughput:,.0f} calls/s from "
        "it (last row). Every contender has its own pool as large as the concurrency; they "
        "take turns, in one order then the reverse; calls/s over successful calls of all "
        f"rounds, a round starting no call after {tr.ROUND_BUDGET:.0f} s. vs aiohttp: "
        "throughput over raw aiohttp's at the same concurrency. client µs/call: CPU time of "
        "the client process per call (its ratio to raw aiohttp's: CPU vs aiohttp). server "
        "CPU: CPU seconds per wall second of the server's process",
    )
    columns = ("contender", "in flight", "ok", "err", "calls/s", "per round", "med ms", "p99 ms")
    columns += ("vs aiohttp", "target", "client µs/call", "CPU vs aiohttp", "target", "server CPU")
    for column in columns:
        left = column == "contender"
        table.add_column(column, justify="left" if left else "right", no_wrap=left)

    def row(run: Run, cells: tuple[str, str, str, str]) -> None:
        table.add_row(
            run.contender,
            f"{run.concurrency}" + ("/proc" if run.processes > 1 else ""),
            f"{run.calls:,}",
            str(run.errors),
            *_rates(run),
            cells[0],
            cells[1],
            f"{tr.cpu_per_call(run):,.0f}",
            cells[2],
            cells[3],
            f"{run.simulator_cpu:.0%}",
        )

    for level in sorted({r.concurrency for r in result.runs}):
        for name in tr.CONTENDERS:
            ratio, cpu = result.ratio(name, level), result.cpu_ratio(name, level)
            goal = _THROUGHPUT_TARGETS.get(level)
            targets = name == tr.ON_AIOHTTP
            row(
                result.run(name, level),
                (
                    f"{ratio:.2f}x",
                    f"≥ {goal:.2f}x {_met(ratio, goal, at_most=False)}" if targets and goal else "",
                    f"{cpu:.2f}x",
                    f"≤ {_CPU_TARGET:.1f}x {_met(cpu, _CPU_TARGET)}" if targets else "",
                ),
            )
    row(capacity, ("", "", "", ""))
    return table


def _hot_path_table(result: hot_path.HotPathResult) -> Table:
    table = Table(
        title="Stores on the hot path: one authorize through each gateway with each store "
        "configuration (canned-answer server, own process; AsyncGateway on aiohttp)",
        caption="added: the median over the same gateway's with memory stores at the same "
        "concurrency. A mutating call writes to the idempotency store twice (begin, complete) "
        "and to the record store twice (the intent before the request leaves, the outcome "
        "after); every one of PostgreSQL's commits waits for its WAL flush. Gateway: N "
        "threads; AsyncGateway: N tasks, the Redis and PostgreSQL stores on their asyncio "
        "drivers, SQLite in a worker thread",
    )
    for column in ("stores", "gateway", "in flight", "ok", "err", "calls/s", "med ms", "p99 ms"):
        table.add_column(column, justify="left" if column in {"stores", "gateway"} else "right")
    table.add_column("added ms", justify="right")
    for run in result.runs:
        if run.latency is None:
            table.add_row(run.config, run.gateway, str(run.in_flight), "—", "—", run.skipped)
            continue
        added = result.added_ms(run)
        table.add_row(
            run.config,
            run.gateway,
            str(run.in_flight),
            f"{run.calls:,}",
            str(run.errors),
            f"{run.throughput:,.0f}",
            f"{run.latency.median / 1000:,.2f}",
            f"{run.latency.p99 / 1000:,.2f}",
            "—" if added is None or run.config == "memory" else f"{added:+,.2f}",
        )
    return table


def _threads_table(result: th.ThreadsResult) -> Table:
    levels = sorted({r.concurrency for r in result.runs})
    top = max(levels)
    shared, own = result.run(th.SHARED, top), result.run(th.OWN, top)
    verdict = (
        "the shared pool is not the limit: a client per thread drew no more calls/s than one "
        f"shared client at {top} threads ({own.throughput:,.0f} against "
        f"{shared.throughput:,.0f}), and every run kept this process's CPU at a core or more: "
        "the one interpreter (its GIL) is"
        if own.throughput <= shared.throughput * 1.1
        else f"the shared pool IS a limit: a client per thread drew {own.throughput:,.0f} "
        f"calls/s against {shared.throughput:,.0f} for one shared client at {top} threads"
    )
    table = Table(
        title="The blocking Gateway under threads: one Gateway shared by N threads vs one "
        "httpx.Client shared the same way and one httpx.Client per thread (canned-answer "
        "server, own process)",
        caption=f"Verdict: {verdict}. Contenders take turns, in one order then the reverse; "
        "client CPU: CPU seconds of this process per wall second; µs/call: its CPU per call",
    )
    for column in ("contender", "threads", "ok", "err", "calls/s", "per round", "med ms"):
        table.add_column(column, justify="left" if column == "contender" else "right")
    for column in ("p99 ms", "vs shared client", "client CPU", "µs/call", "server CPU"):
        table.add_column(column, justify="right")
    for level in levels:
        base = result.run(th.SHARED, level).throughput
        for name in th.CONTENDERS:
            run = result.run(name, level)
            table.add_row(
                name,
                str(level),
                f"{run.calls:,}",
                str(run.errors),
                *_rates(run),
                f"{run.throughput / base:.2f}x",
                f"{run.client_cpu:.0%}",
                f"{tr.cpu_per_call(run):,.0f}",
                f"{run.simulator_cpu:.0%}",
            )
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


def _recon_table(points: list[recon.ReconPoint]) -> Table:
    first = points[0]
    table = Table(
        title="Settlement reconciliation: a Stripe itemized report read and matched against as "
        "many records in a SQLite record store (every category planted at a known count; a "
        "fresh interpreter per size)",
        caption="processes: reading the report (a report of 32 MiB or more is read by one worker "
        "per CPU, at most four, while the records are staged); load: the records' JSON "
        "documents pulled out of the store; read + match: the rest. growth: seconds per row "
        "relative to the smallest size (1.00x is linear). Targets for 1,000,000 rows: at most "
        "20 s and 1.5 GiB peak RSS",
    )
    columns = ("rows", "records", "processes", "load s", "read + match s", "total s", "rows/s")
    for column in (*columns, "growth", "peak RSS MiB", "worker peak MiB", "counts"):
        table.add_column(column, justify="left" if column == "counts" else "right")
    for point in points:
        growth = (point.seconds / point.rows) / (first.seconds / first.rows)
        table.add_row(
            f"{point.rows:,}",
            f"{point.records:,}",
            f"{point.workers}",
            *(f"{s:,.2f}" for s in (point.load, point.match, point.seconds)),
            f"{point.rate:,.0f}",
            f"{growth:.2f}x",
            f"{point.peak_rss / 2**20:,.0f}",
            f"{point.worker_rss / 2**20:,.0f}" if point.workers > 1 else "-",
            "as planted" if point.correct else "WRONG",
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
        overhead.append(sync_overhead(rounds=rounds, per_round=per_round, telemetry=True))
        return _overhead_table(overhead)

    sections: list[Callable[[], Table]] = [
        measure_overhead,
        lambda: _breakdown_table(breakdown(20 if quick else 2000), overhead[0]),
        lambda: _record_path_table(record_path(rounds=rounds, per_round=per_round), overhead[:2]),
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
        lambda: _transports_table(
            tr.transports(calls=40, rounds=1, levels=(4, 16))
            if quick
            else tr.transports(calls=1000, rounds=2, levels=(10, 50, 200))
        ),
        lambda: _hot_path_table(
            hot_path.hot_path(calls={1: 20, 4: 40} if quick else {1: 300, 50: 1000})
        ),
        lambda: _threads_table(
            th.threaded(calls=40, rounds=1, levels=(4, 16))
            if quick
            else th.threaded(calls=1000, rounds=2, levels=(10, 50, 200))
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
        lambda: _recon_table(recon.scaling((2_000,) if quick else (10_000, 100_000, 1_000_000))),
    ]
    started = time.perf_counter()
    tables: list[Table] = []
    for section in sections:
        began = time.perf_counter()
        tables.append(section())
        # The concurrency tables have thirteen columns or more: wider than the rest.
        Console(width=200 if len(tables[-1].columns) > 10 else 110).print(tables[-1])
        console.print(f"[dim]took {time.perf_counter() - began:.0f} s[/dim]")
    took = f"ran in {time.perf_counter() - started:.0f} s"
    console.print(took)
    if not quick:
        _write_results(f"{heading}; {took}", tables)
        console.print(f"written to {RESULTS.relative_to(RESULTS.parents[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
