"""``paygate recon``: reconcile a provider's settlement data with the payment records (private).

Exit status: 0 when everything settled as recorded, 1 when a discrepancy needs a person, 2
when the settlement data or the options cannot be read (nothing is guessed)."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from paygate._stores import open_records
from paygate.adapters.stripe import DEFAULT_BASE_URL
from paygate.errors import InvalidRequestError
from paygate.money import Money
from paygate.recon import (
    Entry,
    FetchError,
    ReconPolicy,
    ReportError,
    fetch_balance_transactions,
    read_settlement,
    reconcile,
    summary_table,
    write_report,
)
from paygate.recon.matching import DEFAULT_GRACE

__all__ = ["recon"]

_PROVIDERS: Final = ("stripe", "adyen")
_LONG_FILE: Final = 8 * 1024 * 1024  # bytes past which a progress bar is drawn


def _provider(name: str) -> str:
    if name not in _PROVIDERS:
        raise typer.BadParameter(f"settlement data is read for {' and '.join(_PROVIDERS)} only")
    return name


def _tolerances(given: list[str]) -> dict[str, Money]:
    out: dict[str, Money] = {}
    for item in given:
        code, _, amount = item.partition("=")
        try:
            money = Money(Decimal(amount), code)
        except (InvalidOperation, InvalidRequestError) as exc:
            raise typer.BadParameter(
                f"{item!r}: give CURRENCY=AMOUNT, as EUR=0.01 ({exc})"
            ) from None
        out[money.currency] = money
    return out


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=value.tzinfo or UTC)


def recon(
    *,
    provider: Annotated[
        str, typer.Option(help="stripe or adyen", metavar="PROVIDER", callback=_provider)
    ],
    file: Annotated[
        Path | None,
        typer.Option(
            help="a settlement report CSV: Stripe itemized, Adyen Settlement details or "
            "Payment accounting",
            metavar="FILE",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            help="Stripe API: balance transactions created from (UTC unless given)",
            metavar="TIME",
        ),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(help="Stripe API: created before (UTC unless given)", metavar="TIME"),
    ] = None,
    records: Annotated[
        str | None,
        typer.Option(
            envvar=["PAYGATE_STORE__RECORDS_URL", "PAYGATE_STORE__URL"],
            help="the record store: sqlite:///FILE or postgresql://... "
            "(default: $PAYGATE_STORE__RECORDS_URL, else $PAYGATE_STORE__URL)",
            metavar="URL",
            show_default=False,
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            help="write one row per discrepancy to this .csv or .jsonl file", metavar="FILE"
        ),
    ] = None,
    tolerance: Annotated[
        list[str] | None,
        typer.Option(
            help="CURRENCY=AMOUNT still counted as matched (repeat per currency)",
            metavar="CURRENCY=AMOUNT",
        ),
    ] = None,
    grace_days: Annotated[
        float | None,
        typer.Option(
            help="days a capture may go unsettled (default: stripe 7, adyen 3)", metavar="DAYS"
        ),
    ] = None,
    apply: Annotated[
        bool,
        typer.Option(
            help="apply chargebacks and resolved unknown outcomes to the records (audited)"
        ),
    ] = True,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="PAYGATE_STRIPE__API_KEY",
            help="Stripe API: the secret key",
            metavar="KEY",
            show_default=False,
        ),
    ] = None,
    base_url: Annotated[
        str,
        typer.Option(
            envvar="PAYGATE_STRIPE__BASE_URL", help="Stripe API: base address", metavar="URL"
        ),
    ] = DEFAULT_BASE_URL,
) -> None:
    """Reconcile settlement data with the payment records: a report file (`--file`), or
    Stripe's Balance Transactions API (`--since` and `--until`).

    Prints a summary per category and currency; `--report` writes each discrepancy. Exit
    status 0: settled as recorded; 1: a discrepancy needs a person; 2: the data or the
    options cannot be read.
    """
    err = Console(stderr=True, soft_wrap=True)
    if records is None:
        err.print("[red]no record store[/red]: give --records or set PAYGATE_STORE__RECORDS_URL")
        raise typer.Exit(2)
    if (file is None) == (since is None):
        err.print("[red]give either --file, or --since and --until (Stripe's API)[/red]")
        raise typer.Exit(2)
    grace = dict(DEFAULT_GRACE) if grace_days is None else {provider: timedelta(days=grace_days)}
    policy = ReconPolicy(tolerance=_tolerances(tolerance or []), grace=grace)
    with ExitStack() as stack:
        try:
            store = open_records(records)
        except ValueError as exc:
            err.print(f"[red]cannot open the record store[/red]: {exc}")
            raise typer.Exit(2) from None
        stack.callback(store.close)
        try:
            entries = _entries(
                stack, provider, file=file, since=since, until=until, api_key=api_key,
                base_url=base_url,
            )  # fmt: skip
            result = reconcile(
                provider, entries, store, policy=policy,
                store=store if apply else None,
            )  # fmt: skip
        except (ReportError, FetchError) as exc:
            err.print(f"[red]settlement data refused[/red]: {exc}")
            raise typer.Exit(2) from None
    Console(width=max(100, Console().width)).print(summary_table(result))
    if report is not None:
        try:
            write_report(result.findings, report)
        except ValueError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    raise typer.Exit(result.exit_code)


def _entries(
    stack: ExitStack,
    provider: str,
    *,
    file: Path | None,
    since: datetime | None,
    until: datetime | None,
    api_key: str | None,
    base_url: str,
) -> Iterable[Entry]:
    if file is not None:
        size = file.stat().st_size
        if size < _LONG_FILE:
            return read_settlement(provider, file)
        bar = stack.enter_context(
            Progress(
                "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True,
            )
        )  # fmt: skip
        task = bar.add_task(f"reading {file.name}", total=size)
        return read_settlement(
            provider, file, progress=lambda done: bar.update(task, completed=done)
        )
    if provider != "stripe" or api_key is None or since is None or until is None:
        raise typer.BadParameter(
            "--since and --until read Stripe's API: give --provider stripe, --until and "
            "--api-key (or PAYGATE_STRIPE__API_KEY)"
        )
    return fetch_balance_transactions(
        api_key, since=_utc(since), until=_utc(until), base_url=base_url
    )
