"""What reconciliation finds: the categories (each with a priority and whether it needs a
person), one ``Finding`` per discrepancy, counts and amounts per category and currency, and
the ``Reconciliation`` that holds them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from paygate.money import Money

__all__ = ["Category", "Finding", "Reconciliation", "Tally"]


class Category(StrEnum):
    """What one settlement row (or one record no row settled) turned out to be. Declared most
    serious first: ``priority`` 1 is the most serious."""

    SETTLED_WITHOUT_RECORD = "settled_without_record"  # money moved that paygate never saw
    SETTLED_TWICE = "settled_twice"
    AMOUNT_OVER = "amount_over"  # settled more than the record captured (or refunded)
    AMOUNT_UNDER = "amount_under"
    CURRENCY_MISMATCH = "currency_mismatch"
    REFUND_WITHOUT_RECORD = "refund_without_record"
    CHARGEBACK = "chargeback"  # a dispute opened or reversed: applied to the record
    RELEASE_MISSING = "release_missing"  # a partial capture settled in full (Stripe)
    NET_MISMATCH = "net_mismatch"  # net is not gross - fee on the row
    NOT_SETTLED = "not_settled"  # captured, and no settlement after the grace period
    UNKNOWN_RESOLVED = "unknown_resolved"  # an unknown outcome settled by the settlement
    RELEASE_EXPECTED = "release_expected"  # a partial capture's release, as expected
    MATCHED = "matched"
    BOOKKEEPING = "bookkeeping"  # fees, payouts, adjustments: not about one payment

    @property
    def priority(self) -> int:
        return _PRIORITY[self]

    @property
    def problem(self) -> bool:
        """Whether a person must look (and the exit code says so)."""
        return self.priority <= _PRIORITY[Category.NOT_SETTLED]


_PRIORITY: Final[Mapping[Category, int]] = MappingProxyType(
    {category: rank for rank, category in enumerate(Category, start=1)}
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One discrepancy, or one thing reconciliation did to a record. Amounts are minor units
    of ``currency``: ``expected`` what the record says, ``settled`` what the row says (None
    where there is no such side)."""

    category: Category
    provider: str
    currency: str
    expected: int | None
    settled: int | None
    note: str
    record_id: str | None = None
    payment_reference: str | None = None
    merchant_reference: str | None = None
    modification_reference: str | None = None
    entry_id: str | None = None
    source: str | None = None
    line: int | None = None

    def __repr__(self) -> str:
        where = f", {self.source} line {self.line}" if self.line is not None else ""
        return (
            f"paygate.recon.Finding({self.category.value}, {self.provider} "
            f"{self.payment_reference}, expected {self.money(self.expected)}, "
            f"settled {self.money(self.settled)}{where})"
        )

    def money(self, minor: int | None) -> Money | None:
        return None if minor is None else Money.from_minor_units(minor, self.currency)


@dataclass(slots=True)
class Tally:
    """Rows (or records) and the sum of their amounts, in minor units of one currency."""

    count: int = 0
    amount: int = 0


@dataclass(slots=True)
class Reconciliation:
    """The outcome of one run: every finding (most serious first once finished), the tally
    per category and currency, how many rows were read, and what was applied to records."""

    provider: str
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    tallies: dict[tuple[Category, str], Tally] = field(default_factory=dict)
    applied: list[str] = field(default_factory=list)  # record ids changed through the store

    def __repr__(self) -> str:
        """One line, however many findings: never the findings themselves."""
        return (
            f"paygate.recon.Reconciliation({self.provider}, {self.rows:,} rows, "
            f"{len(self.findings):,} findings, {len(self.problems):,} need a person)"
        )

    def count(self, category: Category, currency: str, amount: int, rows: int = 1) -> None:
        tally = self.tallies.get((category, currency))
        if tally is None:
            tally = self.tallies[(category, currency)] = Tally()
        tally.count += rows
        tally.amount += amount

    def add(self, finding: Finding, amount: int) -> None:
        self.findings.append(finding)
        self.count(finding.category, finding.currency, amount)

    def of(self, category: Category) -> list[Finding]:
        return [f for f in self.findings if f.category is category]

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.category.problem]

    @property
    def exit_code(self) -> int:
        """0: everything settled as recorded; 1: something needs a person."""
        return 1 if self.problems else 0

    def finish(self) -> None:
        self.findings.sort(key=lambda f: (f.category.priority, f.source or "", f.line or 0))
