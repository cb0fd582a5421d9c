"""``paygate janitor run|watch`` and ``paygate unknown list``: the janitor from the command line,
on the gateway the settings describe (``PAYGATE_*`` variables and/or ``--toml``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from paygate.config import Settings
from paygate.gateway import Gateway, JanitorPass
from paygate.records import PaymentRecord
from paygate.records.schedule import Scheduled
from paygate.resilience.policies import JanitorPolicy
from paygate.telemetry import key_digest

janitor = typer.Typer(
    help="Check unknown outcomes on the janitor's schedule (cron: `paygate janitor run`).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
unknown = typer.Typer(
    help="Payments whose outcome is unknown: `paygate unknown list`.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

Toml = Annotated[
    Path | None,
    typer.Option("--toml", help="a paygate TOML settings file (else PAYGATE_* variables only)"),
]


def _opened(toml: Path | None) -> tuple[Gateway, JanitorPolicy]:
    """The gateway the settings describe, and their janitor policy."""
    settings = Settings.load(toml)
    return Gateway.from_settings(settings), settings.janitor


def _summary(done: JanitorPass) -> str:
    return (
        f"checked {done.checked}: {done.settled} settled, {done.still_unknown} still unknown, "
        f"{len(done.escalated)} escalated"
    )


@janitor.command("run")
def run(toml: Toml = None) -> None:
    """One pass: check the unknown outcomes due now, then exit (for cron). Exits 3 when one
    was escalated (a person must look: `paygate unknown list`)."""
    gw, policy = _opened(toml)
    with gw:
        done = gw.janitor(policy).run_once()
    typer.echo(_summary(done))
    if done.escalated:
        raise typer.Exit(3)


@janitor.command("watch")
def watch(
    toml: Toml = None,
    interval: Annotated[float, typer.Option(help="seconds between passes", min=0.1)] = 60.0,
    passes: Annotated[int | None, typer.Option(help="stop after this many passes")] = None,
) -> None:
    """A pass every --interval seconds, with a running tally, until interrupted."""
    totals = {"passes": 0, "checked": 0, "settled": 0, "still unknown": 0, "escalated": 0}

    def tally() -> Table:
        table = Table(title="paygate janitor")
        for name in totals:
            table.add_column(name, justify="right")
        table.add_row(*(str(value) for value in totals.values()))
        return table

    gw, policy = _opened(toml)
    with gw, Live(tally(), console=Console(), auto_refresh=False) as live:

        def counted(done: JanitorPass) -> None:
            totals["passes"] += 1
            totals["checked"] += done.checked
            totals["settled"] += done.settled
            totals["still unknown"] += done.still_unknown
            totals["escalated"] += len(done.escalated)
            live.update(tally(), refresh=True)

        try:
            gw.janitor(policy).watch(interval=interval, passes=passes, on_pass=counted)
        except KeyboardInterrupt:
            typer.echo("stopped")


def _age(since: datetime, now: datetime) -> str:
    seconds = int((now - since).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h" if days else f"{hours}h {rest // 60}m"


def unknown_table(records: list[PaymentRecord], schedules: list[Scheduled], now: datetime) -> Table:
    """One row per unknown outcome: its age, the checks tried and why it is still unknown,
    the janitor's next step, escalated or not. Keys are shown as their digests."""
    by_record = {s.record_id: s for s in schedules}
    table = Table(title=f"unknown outcomes ({sum(len(r.unknown) for r in records)})")
    columns = ("record", "payment", "operation", "amount", "key", "age", "checks", "janitor",
               "escalated", "last reason")  # fmt: skip
    for column in columns:
        table.add_column(column)
    for record in sorted(records, key=lambda r: min(u.since for u in r.unknown)):
        scheduled = by_record.get(record.record_id)
        for u in record.unknown:
            if scheduled is None:
                step = "not scheduled yet"
            elif scheduled.escalated_at is not None:
                step = f"done ({scheduled.step} checks)"
            else:
                step = f"check {scheduled.step + 1} at {scheduled.due_at:%Y-%m-%d %H:%M} UTC"
            escalated = u.escalated or (
                scheduled is not None and scheduled.escalated_at is not None
            )
            table.add_row(
                record.record_id, record.payment_id or "-", u.operation.value,
                str(u.amount) if u.amount is not None else "-",
                key_digest(u.idempotency_key), _age(u.since, now), str(u.attempts), step,
                "yes" if escalated else "no", u.reason or "-",
            )  # fmt: skip
    return table


@unknown.command("list")
def list_unknown(toml: Toml = None) -> None:
    """Every unknown outcome, oldest first, with its age and what was tried."""
    gw, _ = _opened(toml)
    with gw:
        records = gw.unknown_payments()
        schedules = gw.records.unknown_schedule(gw.provider)
    Console(width=200).print(unknown_table(records, schedules, datetime.now(UTC)))
