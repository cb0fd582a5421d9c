"""Matching settlement entries to payment records: each category defined once, here.

Entries stream through ``Matcher.feed`` one at a time; each is joined to a record by the
provider's payment reference, then by the modification reference (a capture's or refund's own
id), then by the merchant reference when exactly one record holds it. Charge rows are summed
per record and judged when the stream ends (``finish``), with every record that no row settled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Final

from paygate.money import Money
from paygate.recon.entries import Entry, EntryKind
from paygate.recon.expected import Expected
from paygate.recon.results import Category, Finding, Reconciliation

__all__ = ["Action", "Matcher", "ReconPolicy"]

C = Category
K = EntryKind

DEFAULT_GRACE: Final[Mapping[str, timedelta]] = MappingProxyType(
    {"stripe": timedelta(days=7), "adyen": timedelta(days=3)}
)
_AMBIGUOUS: Final = object()  # a merchant reference more than one record holds


@dataclass(frozen=True, slots=True)
class ReconPolicy:
    """How strict a run is. ``tolerance``: per currency, the difference still counted as a
    match (exact when a currency is not listed); ``grace``: per provider, how long after a
    record last changed its capture may go unsettled before it is ``not_settled``; ``as_of``:
    the time the grace is measured to (now by default); ``since``: records that last changed
    before it are not expected in this settlement data."""

    tolerance: Mapping[str, Money] = field(default_factory=dict)
    grace: Mapping[str, timedelta] = field(default_factory=lambda: DEFAULT_GRACE)
    as_of: datetime | None = None
    since: datetime | None = None

    def tolerance_for(self, currency: str) -> int:
        allowed = self.tolerance.get(currency)
        return 0 if allowed is None else abs(allowed.to_minor_units())

    def overdue(self, expected: Expected, now: datetime) -> bool:
        grace = self.grace.get(expected.provider, timedelta(days=7))
        if self.since is not None and expected.changed_at < self.since:
            return False
        return expected.changed_at <= now - grace


@dataclass(frozen=True, slots=True)
class Action:
    """A change settlement asks of a record: a dispute opened or reversed (``kind`` is the
    entry's), or an unknown outcome resolved by the amount the settlement shows charged."""

    record_id: str
    entry: Entry
    settled: int  # minor units: the charge settled (resolution) or the row's amount


class Matcher:
    """Joins entries of one provider to the records expected to settle."""

    def __init__(
        self, provider: str, records: Iterable[Expected], policy: ReconPolicy | None = None
    ) -> None:
        self.provider = provider
        self.policy = policy or ReconPolicy()
        self.result = Reconciliation(provider)
        self.actions: list[Action] = []
        self._records: list[Expected] = []
        self._by_payment: dict[str, Expected] = {}
        self._by_modification: dict[str, Expected] = {}
        self._by_reference: dict[str, object] = {}
        self._cited: dict[str, Entry] = {}
        for expected in records:
            if expected.provider != provider:
                continue
            expected.reset()
            self._records.append(expected)
            if expected.payment_id is not None:
                self._by_payment[expected.payment_id] = expected
            for capture in expected.captures:
                self._by_modification[capture] = expected
            for refund in (*(expected.refunds or ()), *expected.failed_refunds):
                self._by_modification[refund] = expected
            if expected.reference is not None:
                seen = self._by_reference.get(expected.reference)
                self._by_reference[expected.reference] = expected if seen is None else _AMBIGUOUS

    # -- reading -------------------------------------------------------------------------------
    def _locate(self, entry: Entry) -> Expected | None:
        if entry.payment_reference is not None:
            found = self._by_payment.get(entry.payment_reference)
            if found is not None:
                return found
        if entry.modification_reference is not None:
            found = self._by_modification.get(entry.modification_reference)
            if found is not None:
                return found
        if entry.merchant_reference is not None:
            by_reference = self._by_reference.get(entry.merchant_reference)
            if isinstance(by_reference, Expected):
                return by_reference
        return None

    def feed(self, entry: Entry) -> None:
        result = self.result
        result.rows += 1
        if not entry.net_checks:
            self._row(
                C.NET_MISMATCH,
                entry,
                None,
                entry.gross - entry.fee,
                entry.net,
                note=f"net {entry.net} is not gross {entry.gross} - fee {entry.fee}",
            )
        if not entry.kind.about_a_payment:
            result.count(C.BOOKKEEPING, entry.currency, entry.net)
            return
        expected = self._locate(entry)
        if expected is None:
            refund = entry.kind is K.REFUND
            category = C.REFUND_WITHOUT_RECORD if refund else C.SETTLED_WITHOUT_RECORD
            self._row(
                category, entry, None, None, entry.amount, note=f"{entry.provider_kind}: no record"
            )
            return
        if entry.amount_currency != expected.currency:
            self._row(
                C.CURRENCY_MISMATCH,
                entry,
                expected,
                None,
                entry.amount,
                note=f"settled in {entry.amount_currency}, recorded in {expected.currency}",
            )
            return
        kind = entry.kind
        if kind is K.CHARGE:
            self._charge(entry, expected)
        elif kind is K.RELEASE:
            expected.released += entry.amount
            expected.releases += 1
        elif kind is K.REFUND:
            self._refund(entry, expected)
        elif kind is K.REFUND_REVERSAL:
            known = entry.modification_reference in expected.failed_refunds
            if known:
                result.count(C.MATCHED, entry.currency, entry.amount)
            else:
                self._row(
                    C.REFUND_WITHOUT_RECORD,
                    entry,
                    expected,
                    None,
                    entry.amount,
                    note="refund reversed, and no failed refund of that id on the record",
                )
        else:  # a chargeback opened or reversed
            self._row(C.CHARGEBACK, entry, expected, None, entry.amount, note=entry.provider_kind)
            self.actions.append(Action(expected.record_id, entry, entry.amount))

    def _charge(self, entry: Entry, expected: Expected) -> None:
        key = entry.modification_reference or entry.payment_reference or entry.entry_id
        if key in expected.keys:
            self._row(
                C.SETTLED_TWICE,
                entry,
                expected,
                None,
                entry.amount,
                note=f"{entry.provider_kind} {key} already settled",
            )
            return
        expected.keys = (*expected.keys, key)
        expected.settled += entry.amount
        expected.rows += 1
        if expected.first_entry is None:
            expected.first_entry, expected.first_line = entry.entry_id, entry.line
            expected.first_source = entry.source
            if expected.unknown:
                self._cited[expected.record_id] = entry  # the row a resolution cites

    def _refund(self, entry: Entry, expected: Expected) -> None:
        refund_id = entry.modification_reference or ""
        recorded = (expected.refunds or {}).get(refund_id)
        if recorded is None:
            self._row(
                C.REFUND_WITHOUT_RECORD,
                entry,
                expected,
                None,
                entry.amount,
                note=f"refund {refund_id or '(no id)'} is not on the record",
            )
            return
        if refund_id in expected.settled_refunds:
            self._row(
                C.SETTLED_TWICE,
                entry,
                expected,
                recorded,
                -entry.amount,
                note=f"refund {refund_id} already settled",
            )
            return
        expected.settled_refunds = (*expected.settled_refunds, refund_id)
        category = self._compare(expected.currency, -entry.amount, recorded)
        if category is C.MATCHED:
            self.result.count(C.MATCHED, entry.currency, entry.amount)
        else:
            self._row(
                category, entry, expected, recorded, -entry.amount, note=f"refund {refund_id}"
            )

    def _compare(self, currency: str, settled: int, recorded: int) -> Category:
        difference = settled - recorded
        if abs(difference) <= self.policy.tolerance_for(currency):
            return C.MATCHED
        return C.AMOUNT_OVER if difference > 0 else C.AMOUNT_UNDER

    def _row(
        self,
        category: Category,
        entry: Entry,
        expected: Expected | None,
        recorded: int | None,
        settled: int | None,
        *,
        note: str,
    ) -> None:
        finding = Finding(
            category=category,
            provider=entry.provider,
            currency=entry.amount_currency if settled is not None else entry.currency,
            expected=recorded,
            settled=settled,
            note=note,
            record_id=None if expected is None else expected.record_id,
            payment_reference=entry.payment_reference,
            merchant_reference=entry.merchant_reference,
            modification_reference=entry.modification_reference,
            entry_id=entry.entry_id,
            source=entry.source,
            line=entry.line,
        )
        self.result.add(finding, settled or 0)

    # -- judging -------------------------------------------------------------------------------
    def finish(self) -> Reconciliation:
        """Judge every record's charge rows, and every captured record no row settled."""
        now = self.policy.as_of or datetime.now(UTC)
        for expected in self._records:
            if expected.rows:
                self._judge(expected)
            elif expected.captured and self.policy.overdue(expected, now):
                self._record(
                    C.NOT_SETTLED,
                    expected,
                    expected.captured,
                    None,
                    note=f"captured, not settled since {expected.changed_at:%Y-%m-%d %H:%M}",
                )
        self.result.finish()
        return self.result

    def _judge(self, expected: Expected) -> None:
        settled = expected.settled + expected.released
        currency = expected.currency
        if expected.unknown:
            self._record(
                C.UNKNOWN_RESOLVED,
                expected,
                None,
                settled,
                note="the record's unknown outcome: settlement shows it charged",
            )
            cited = self._cited[expected.record_id]
            self.actions.append(Action(expected.record_id, cited, settled))
            return
        category = self._compare(currency, settled, expected.captured)
        if category is C.MATCHED:
            self.result.count(C.MATCHED, currency, expected.settled, expected.rows)
            if expected.releases:
                self.result.count(
                    C.RELEASE_EXPECTED, currency, expected.released, expected.releases
                )
            return
        partial = expected.captured < expected.authorized
        if partial and not expected.releases and expected.settled == expected.authorized:
            self._record(
                C.RELEASE_MISSING,
                expected,
                expected.captured,
                settled,
                note="partially captured, settled in full, and no release",
            )
            return
        self._record(category, expected, expected.captured, settled, note="charge")

    def _record(
        self,
        category: Category,
        expected: Expected,
        recorded: int | None,
        settled: int | None,
        *,
        note: str,
    ) -> None:
        finding = Finding(
            category=category,
            provider=expected.provider,
            currency=expected.currency,
            expected=recorded,
            settled=settled,
            note=note,
            record_id=expected.record_id,
            payment_reference=expected.payment_id,
            merchant_reference=expected.reference,
            entry_id=expected.first_entry,
            source=expected.first_source,
            line=expected.first_line or None,
        )
        self.result.add(finding, settled if settled is not None else recorded or 0)
