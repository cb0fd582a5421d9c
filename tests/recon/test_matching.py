"""Matching, category by category, on entries and records written here for both providers;
and what settlement applies through the store: an unknown outcome resolved (audit entry citing
the row), a dispute opened then closed."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from paygate import Money, Payment, PaymentStatus
from paygate.models import Operation
from paygate.recon import (
    Category,
    Entry,
    EntryKind,
    Expected,
    Reconciliation,
    ReconPolicy,
    reconcile,
    summary_table,
    write_csv,
    write_jsonl,
)
from paygate.recon.entries import currency
from paygate.records import MemoryRecordStore, UnknownOperation, changes
from paygate.records.store import Locate
from paygate.records.trail import CallCause

C = Category
K = EntryKind
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
EUR = currency("EUR")
PROVIDERS = pytest.mark.parametrize("provider", ["stripe", "adyen"])


def entry(provider: str, kind: EntryKind = K.CHARGE, amount: int = 2000, **fields: object) -> Entry:
    base = Entry(
        provider=provider, kind=kind, provider_kind=kind.value, entry_id="e1",
        payment_reference="pay_1", merchant_reference="order-1", modification_reference="mod_1",
        currency=EUR, gross=amount, fee=0, net=amount, amount_currency=EUR, amount=amount,
        exchange_rate=None, created=NOW, available=None, payout=None, source="f.csv", line=2,
    )  # fmt: skip
    return base._replace(**fields)


def expected(provider: str, **fields: object) -> Expected:
    values: dict[str, object] = {
        "record_id": "pr_1", "provider": provider, "payment_id": "pay_1",
        "reference": "order-1", "currency": "EUR", "authorized": 2000, "captured": 2000,
        "changed_at": NOW,
    }  # fmt: skip
    values.update(fields)
    return Expected(**values)  # type: ignore[arg-type]


def run(
    provider: str, entries: list[Entry], records: list[Expected], **policy: Any
) -> Reconciliation:
    return reconcile(provider, entries, records, policy=ReconPolicy(as_of=NOW, **policy))


@PROVIDERS
def test_a_charge_settled_as_recorded_is_matched(provider: str) -> None:
    result = run(provider, [entry(provider)], [expected(provider)])
    assert result.findings == [] and result.exit_code == 0
    assert result.tallies[(C.MATCHED, "EUR")].count == 1


@PROVIDERS
def test_join_falls_back_to_the_modification_then_the_merchant_reference(provider: str) -> None:
    by_capture = entry(provider, payment_reference=None)
    record = expected(provider, captures=("mod_1",), reference=None)
    assert run(provider, [by_capture], [record]).findings == []
    by_reference = entry(provider, payment_reference=None, modification_reference=None)
    assert run(provider, [by_reference], [expected(provider)]).findings == []
    # A reference two records hold names neither.
    twins = [
        expected(provider, payment_id=None),
        expected(provider, record_id="pr_2", payment_id="x"),
    ]
    result = run(provider, [by_reference], twins)
    assert [f.category for f in result.findings] == [C.SETTLED_WITHOUT_RECORD]


@PROVIDERS
def test_each_discrepancy_on_a_charge(provider: str) -> None:
    over = run(provider, [entry(provider, amount=2001)], [expected(provider)])
    assert [(f.category, f.expected, f.settled) for f in over.findings] == [
        (C.AMOUNT_OVER, 2000, 2001)
    ]
    under = run(provider, [entry(provider, amount=1999)], [expected(provider)])
    assert under.findings[0].category is C.AMOUNT_UNDER
    twice = run(provider, [entry(provider), entry(provider, entry_id="e2", line=3)],
                [expected(provider)])  # fmt: skip
    assert [(f.category, f.line) for f in twice.findings] == [(C.SETTLED_TWICE, 3)]
    usd = run(provider, [entry(provider, amount_currency=currency("USD"))], [expected(provider)])
    assert usd.findings[0].category is C.CURRENCY_MISMATCH
    unknown = run(provider, [entry(provider, payment_reference="pay_9", merchant_reference="x",
                                   modification_reference="y")], [])  # fmt: skip
    assert unknown.findings[0].category is C.SETTLED_WITHOUT_RECORD
    net = run(provider, [entry(provider, fee=30, net=1980)], [expected(provider)])
    assert [(f.category, f.expected, f.settled) for f in net.findings] == [
        (C.NET_MISMATCH, 1970, 1980)
    ]


@PROVIDERS
def test_a_tolerance_is_per_currency_and_opt_in(provider: str) -> None:
    rows, records = [entry(provider, amount=1998)], [expected(provider)]
    assert run(provider, rows, records).findings[0].category is C.AMOUNT_UNDER
    loose = {"EUR": Money("0.02", "EUR")}
    assert run(provider, rows, records, tolerance=loose).findings == []
    assert run(provider, rows, records, tolerance={"USD": Money("1", "USD")}).findings != []


@PROVIDERS
def test_refunds_are_matched_by_their_own_id(provider: str) -> None:
    record = expected(provider, refunds={"re_1": 500}, failed_refunds=frozenset({"re_2"}))
    charge = entry(provider)
    refund = entry(provider, K.REFUND, -500, modification_reference="re_1", entry_id="e2")
    assert run(provider, [charge, refund], [record]).findings == []
    over = refund._replace(amount=-600, gross=-600, net=-600)
    found = run(provider, [charge, over], [record]).findings
    assert [(f.category, f.expected, f.settled) for f in found] == [(C.AMOUNT_OVER, 500, 600)]
    stranger = refund._replace(modification_reference="re_9")
    assert run(provider, [charge, stranger], [record]).findings[0].category is (
        C.REFUND_WITHOUT_RECORD
    )
    again = run(provider, [charge, refund, refund._replace(line=9)], [record]).findings
    assert [(f.category, f.line) for f in again] == [(C.SETTLED_TWICE, 9)]
    reversal = entry(provider, K.REFUND_REVERSAL, 500, modification_reference="re_2")
    assert run(provider, [charge, reversal], [record]).findings == []


@PROVIDERS
def test_not_settled_waits_for_the_grace_period_and_the_window(provider: str) -> None:
    record = expected(provider, changed_at=NOW - timedelta(days=2))
    assert run(provider, [], [record], grace={provider: timedelta(days=3)}).findings == []
    late = run(provider, [], [record], grace={provider: timedelta(days=1)})
    assert [(f.category, f.expected) for f in late.findings] == [(C.NOT_SETTLED, 2000)]
    before = run(provider, [], [record], grace={provider: timedelta(days=1)}, since=NOW)
    assert before.findings == []
    never_captured = expected(provider, captured=0, changed_at=NOW - timedelta(days=30))
    assert run(provider, [], [never_captured]).findings == []


def test_a_stripe_partial_capture_release() -> None:
    record = expected("stripe", captured=1500)
    release = entry("stripe", K.RELEASE, -500, entry_id="e2")
    result = run("stripe", [entry("stripe"), release], [record])
    assert result.findings == [] and result.tallies[(C.RELEASE_EXPECTED, "EUR")].amount == -500
    missing = run("stripe", [entry("stripe")], [record])
    assert [(f.category, f.expected, f.settled) for f in missing.findings] == [
        (C.RELEASE_MISSING, 1500, 2000)
    ]


@PROVIDERS
def test_fees_and_payouts_are_bookkeeping(provider: str) -> None:
    rows = [entry(provider, K.FEE, -30, payment_reference=None), entry(provider, K.PAYOUT, -1970)]
    result = run(provider, rows, [])
    assert result.findings == [] and result.tallies[(C.BOOKKEEPING, "EUR")].count == 2


def test_findings_are_ordered_by_priority_and_written_as_csv_and_json_lines() -> None:
    rows = [
        entry("adyen", amount=2001),
        entry("adyen", payment_reference="pay_9", merchant_reference=None,
              modification_reference=None, line=5),
    ]  # fmt: skip
    result = run("adyen", rows, [expected("adyen")])
    assert [f.category for f in result.findings] == [C.SETTLED_WITHOUT_RECORD, C.AMOUNT_OVER]
    assert [f.category.priority for f in result.findings] == [1, 3]
    out = io.StringIO()
    write_jsonl(result.findings, out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[1] | {"note": ""} == {
        "category": "amount_over", "priority": 3, "provider": "adyen", "currency": "EUR",
        "expected": "20.00", "settled": "20.01", "record_id": "pr_1",
        "payment_reference": "pay_1", "merchant_reference": "order-1",
        "modification_reference": None, "entry_id": "e1", "source": "f.csv", "line": 2,
        "note": "",
    }  # fmt: skip
    out = io.StringIO()
    write_csv(result.findings, out)
    header, first, _ = out.getvalue().splitlines()
    assert header.startswith("category,priority,provider,currency,expected,settled")
    assert first.startswith("settled_without_record,1,adyen,EUR,,20.00,")
    table = summary_table(result)
    assert [c.header for c in table.columns][:4] == ["category", "currency", "count", "amount"]


# -- through the store ---------------------------------------------------------------------------
def _lost_authorize(store: MemoryRecordStore) -> str:
    """A record whose authorize lost its answer: no payment id, an unknown outcome."""
    unknown = UnknownOperation(
        operation=Operation.AUTHORIZE, idempotency_key="key-1", amount=Money("20.00", "EUR"),
        reference="order-1", replayable=True, since=NOW, next_check_at=NOW,
    )  # fmt: skip
    applied = store.apply(
        Locate(),
        lambda r: changes.outcome_unknown(
            r, unknown, amount=Money("20.00", "EUR"), provider="adyen",
            cause=CallCause(operation="authorize", idempotency_key="key-1"), now=NOW,
        ),
    )  # fmt: skip
    assert applied.record is not None and applied.record.status is PaymentStatus.UNKNOWN
    return applied.record.record_id


def test_an_unknown_outcome_is_resolved_from_settlement_with_an_audit_entry() -> None:
    store = MemoryRecordStore()
    record_id = _lost_authorize(store)
    row = entry("adyen", payment_reference="PSP77", modification_reference=None, line=4)
    result = reconcile("adyen", [row], store.scan("adyen"), store=store)
    assert [f.category for f in result.findings] == [C.UNKNOWN_RESOLVED]
    assert result.exit_code == 0 and result.applied == [record_id]
    record = store.get(record_id)
    assert record is not None and record.unknown == ()
    assert record.payment_id == "PSP77" and record.status is PaymentStatus.CAPTURED
    assert record.amount_captured == Money("20.00", "EUR")
    last = store.trail(record_id)[-1]
    assert last.cause.kind == "settlement"
    assert (last.cause.source, last.cause.line, last.cause.entry_id) == ("f.csv", 4, "e1")
    assert "settlement shows EUR 20.00 charged" in last.note
    assert store.verify() is None
    # Reconciled again: matched now, nothing applied twice.
    again = reconcile("adyen", [row], store.scan("adyen"), store=store)
    assert again.findings == [] and again.applied == []


def test_a_chargeback_opens_the_dispute_and_its_reversal_closes_it() -> None:
    store = MemoryRecordStore()
    paid = Payment(
        id="pay_1", provider="stripe", status=PaymentStatus.CAPTURED,
        amount=Money("20.00", "EUR"), amount_authorized=Money("20.00", "EUR"),
        amount_captured=Money("20.00", "EUR"), amount_refunded=Money("0", "EUR"),
        reference="order-1", provider_status="succeeded",
    )  # fmt: skip
    call = CallCause(operation="purchase", idempotency_key="k")
    record = store.apply(Locate(), lambda r: changes.observe(r, paid, call, NOW)).record
    assert record is not None
    dispute = entry("stripe", K.CHARGEBACK, -2000, modification_reference="dp_1", entry_id="t2",
                    created=NOW - timedelta(days=2))  # fmt: skip
    opened = reconcile("stripe", [entry("stripe"), dispute], store.scan("stripe"), store=store)
    assert [f.category for f in opened.findings] == [C.CHARGEBACK] and opened.exit_code == 1
    assert store.get(record.record_id).disputed  # type: ignore[union-attr]
    won = dispute._replace(kind=K.CHARGEBACK_REVERSAL, amount=2000, entry_id="t3",
                  created=NOW - timedelta(days=1))  # fmt: skip
    reconcile("stripe", [won], store.scan("stripe"), store=store)
    after = store.get(record.record_id)
    assert after is not None and not after.disputed
    notes = [e.note for e in store.trail(record.record_id)]
    assert notes[-2:] == ["chargeback opened (dispute dp_1)", "chargeback reversed (dispute dp_1)"]


def test_reprs_say_paygate_and_stay_short() -> None:
    row = entry("stripe", amount=2001)
    result = run("stripe", [row], [expected("stripe")])
    assert repr(row) == "paygate.recon.Entry(stripe charge e1, EUR 2001, f.csv line 2)"
    assert repr(result) == (
        "paygate.recon.Reconciliation(stripe, 1 rows, 1 findings, 1 need a person)"
    )
    assert repr(result.findings[0]) == (
        "paygate.recon.Finding(amount_over, stripe pay_1, expected EUR 20.00, "
        "settled EUR 20.01, f.csv line 2)"
    )
