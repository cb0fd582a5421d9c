"""Reconciliation output: a summary table per category and currency (rich), and the
discrepancies as CSV or JSON lines, one row per finding, amounts as exact decimal strings."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Final, TextIO

from rich.table import Table

from paygate.money import Money
from paygate.recon.results import Finding, Reconciliation

__all__ = ["FIELDS", "summary_table", "write_csv", "write_jsonl", "write_report"]

FIELDS: Final = (
    "category",
    "priority",
    "provider",
    "currency",
    "expected",
    "settled",
    "record_id",
    "payment_reference",
    "merchant_reference",
    "modification_reference",
    "entry_id",
    "source",
    "line",
    "note",
)


def _amount(minor: int, currency: str) -> str:
    return str(Money.from_minor_units(minor, currency).amount)


def summary_table(result: Reconciliation) -> Table:
    """Rows and amounts per category and currency, most serious first."""
    table = Table(
        title=f"paygate recon: {result.provider}, {result.rows:,} settlement rows",
        caption=f"{len(result.problems):,} discrepancies need a person; "
        f"{len(result.applied):,} records changed",
    )
    for column in ("category", "currency", "count", "amount", "needs a person"):
        table.add_column(column, justify="right" if column in {"count", "amount"} else "left")
    for (category, currency), tally in sorted(
        result.tallies.items(), key=lambda item: (item[0][0].priority, item[0][1])
    ):
        table.add_row(
            category.value,
            currency,
            f"{tally.count:,}",
            _amount(tally.amount, currency),
            "yes" if category.problem else "",
        )
    return table


def _row(finding: Finding) -> dict[str, str | int | None]:
    def money(minor: int | None) -> str | None:
        return None if minor is None else _amount(minor, finding.currency)

    return {
        "category": finding.category.value,
        "priority": finding.category.priority,
        "provider": finding.provider,
        "currency": finding.currency,
        "expected": money(finding.expected),
        "settled": money(finding.settled),
        "record_id": finding.record_id,
        "payment_reference": finding.payment_reference,
        "merchant_reference": finding.merchant_reference,
        "modification_reference": finding.modification_reference,
        "entry_id": finding.entry_id,
        "source": finding.source,
        "line": finding.line,
        "note": finding.note,
    }


def write_csv(findings: Iterable[Finding], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for finding in findings:
        writer.writerow(_row(finding))


def write_jsonl(findings: Iterable[Finding], out: TextIO) -> None:
    for finding in findings:
        out.write(json.dumps(_row(finding), ensure_ascii=False) + "\n")


def write_report(findings: Iterable[Finding], path: Path) -> None:
    """``.csv`` or ``.jsonl`` by the file's suffix."""
    with path.open("w", encoding="utf-8", newline="") as out:
        if path.suffix == ".csv":
            write_csv(findings, out)
        elif path.suffix in {".jsonl", ".ndjson"}:
            write_jsonl(findings, out)
        else:
            raise ValueError(f"write a .csv or .jsonl report, not {path.suffix or 'no suffix'}")
