"""What a record leads settlement to expect is projected once, in SQL, from the record's JSON
document (``_records.sql``): the projection agrees with the record's own figures for any
record, from memory or from a store's documents, and leaves other providers' records out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from paygate import Money, Payment, PaymentStatus
from paygate.models import Operation
from paygate.recon import ReconPolicy
from paygate.recon._engine import connect
from paygate.recon.matching import Matcher
from paygate.records import SQLiteRecordStore, UnknownOperation, changes
from paygate.records.changes import Change
from paygate.records.state import Modification, ModificationStatus, PaymentRecord
from paygate.records.trail import CallCause

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
M = ModificationStatus
CHARGING = {Operation.AUTHORIZE, Operation.PURCHASE, Operation.CAPTURE}


def _money(minor: int, currency: str) -> Money:
    return Money.from_minor_units(minor, currency)


@st.composite
def records(draw: st.DrawFn, provider: str = "stripe") -> PaymentRecord:
    """Any record: amounts in currencies of 0, 2 and 3 decimals, captures, refunds and voids
    in every status (some without an amount), unknown outcomes of any call."""
    n = draw(st.integers(0, 10**6))
    currency = draw(st.sampled_from(["EUR", "JPY", "KWD"]))
    amount = st.integers(0, 10**12)
    mods = draw(
        st.lists(
            st.tuples(
                st.sampled_from([Operation.CAPTURE, Operation.REFUND, Operation.VOID]),
                st.sampled_from(list(M)),
                st.none() | amount,
            ),
            max_size=5,
        )
    )
    lost = draw(st.lists(st.sampled_from(list(Operation)), max_size=3))
    changed = NOW - timedelta(seconds=draw(st.integers(0, 10**7)))
    return PaymentRecord(
        record_id=f"pr_{n}",
        provider=provider,
        payment_id=draw(st.none() | st.just(f"pay_{n}")),
        reference=draw(st.none() | st.text(max_size=20)),
        status=PaymentStatus.CAPTURED,
        amount=_money(draw(amount), currency),
        reported_authorized=_money(draw(amount), currency),
        reported_captured=_money(draw(st.integers(-100, 10**12)), currency),
        reported_refunded=_money(0, currency),
        modifications=tuple(
            Modification(
                id=f"m{i}",
                operation=op,
                status=status,
                amount=None if minor is None else _money(minor, currency),
            )
            for i, (op, status, minor) in enumerate(mods)
        ),
        unknown=tuple(
            UnknownOperation(
                operation=op,
                idempotency_key=f"k{i}",
                amount=_money(1, currency),
                reference=None,
                replayable=True,
                since=NOW,
                next_check_at=NOW,
            )
            for i, op in enumerate(lost)
        ),
        created_at=changed,
        updated_at=changed,
    )


def _projected(staged: list[Any], tmp: Path) -> tuple[list[tuple[Any, ...]], set[tuple[Any, ...]]]:
    matcher = Matcher("stripe", staged, ReconPolicy(as_of=NOW))
    with matcher, connect(tmp) as db:
        matcher._stage()
        matcher._project(db)
        rows = db.execute(
            "SELECT record_id, payment_id, reference, currency, authorized, captured, unknown, "
            "overdue FROM records ORDER BY rec"
        ).fetchall()
        mods = db.execute(
            "SELECT r.record_id, mod_id, role, m.amount FROM modifications m "
            "JOIN records r USING (rec)"
        ).fetchall()
    return rows, set(mods)


def _figures(record: PaymentRecord) -> tuple[Any, ...]:
    overdue = record.updated_at <= NOW - timedelta(days=7)
    return (
        record.record_id, record.payment_id, record.reference, record.currency,
        record.amount_authorized.to_minor_units(), record.amount_captured.to_minor_units(),
        any(u.operation in CHARGING for u in record.unknown), overdue,
    )  # fmt: skip


def _roles(record: PaymentRecord) -> set[tuple[Any, ...]]:
    roles = set()
    for m in record.modifications:
        if m.operation is Operation.CAPTURE:
            roles.add((record.record_id, m.id, "capture", None))
        elif m.operation is Operation.REFUND and m.amount is not None:
            settling = m.status in {M.RECEIVED, M.SUCCEEDED}
            amount = m.amount.to_minor_units() if settling else None
            roles.add((record.record_id, m.id, "refund" if settling else "failed", amount))
    return roles


@settings(max_examples=60, deadline=None)
@given(st.lists(records(), max_size=4, unique_by=lambda r: r.record_id), records("adyen"))
def test_the_projection_agrees_with_the_records_own_figures(
    tmp_path_factory: Any, mine: list[PaymentRecord], other: PaymentRecord
) -> None:
    rows, mods = _projected([*mine, other], tmp_path_factory.mktemp("projection"))
    assert rows == [_figures(record) for record in mine]  # the other provider's is left out
    assert mods == set().union(*(_roles(record) for record in mine))


def _stored(record: PaymentRecord) -> Change:
    """A change that makes ``record`` (as the store's bulk load takes it)."""
    paid = Payment(
        id="pay_1", provider="stripe", status=PaymentStatus.CAPTURED, amount=record.amount,
        amount_authorized=record.amount, amount_captured=record.amount,
        amount_refunded=_money(0, record.currency), reference=None, provider_status="x",
    )  # fmt: skip
    made = changes.observe(None, paid, CallCause(operation="purchase", idempotency_key="k"), NOW)
    return Change(record.model_copy(update={"record_id": made.record.record_id}), made.entry, True)


@settings(max_examples=10, deadline=None)
@given(records())
def test_a_stores_documents_project_as_its_records_do(
    tmp_path_factory: Any, record: PaymentRecord
) -> None:
    tmp = tmp_path_factory.mktemp("store")
    change = _stored(record)
    store = SQLiteRecordStore(tmp / "records.db")
    try:
        store.bulk_load([[change]])
        documents = list(store.scan_json("stripe"))
    finally:
        store.close()
    laid_out = [json.dumps(json.loads(document), indent=2) for document in documents]
    from_store = _projected(documents, tmp / "a")
    assert from_store == _projected([change.record], tmp / "b")
    assert _projected(laid_out, tmp / "c") == from_store
    assert from_store[0] == [_figures(change.record)]
