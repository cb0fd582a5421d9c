"""The trail's hashed payload is a fixed format: chains already written must keep verifying."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paygate import PaymentStatus
from paygate.records import AuditEntry
from paygate.records.trail import (
    GENESIS,
    CallCause,
    ResolverCause,
    WebhookCause,
    seal,
    verify_chain,
)


def _entry(**changes_: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "record_id": "pr_0123",
        "seq": 0,
        "at": datetime(2026, 11, 25, 9, 30, 15, 250000, tzinfo=UTC),
        "from_status": PaymentStatus.AUTHORIZED,
        "to_status": PaymentStatus.CAPTURED,
        "amount_authorized": "12.34",
        "amount_captured": "12.34",
        "amount_refunded": "0.00",
        "currency": "EUR",
        "cause": WebhookCause(
            provider="adyen", event_id="psp_1:CAPTURE:true", event_type="CAPTURE"
        ),
        "note": "refused: captured → voided is not an allowed transition (adyen reports Cancelled)",
        "prev_hash": GENESIS,
        "hash": "",
    }
    fields.update(changes_)
    return AuditEntry(**fields)


# -- the hashed format is pinned ------------------------------------------------------------------
def test_the_payload_and_hash_of_an_entry_are_pinned() -> None:
    # Written with the format every store has used since the trail began: if this test fails,
    # chains already stored would no longer verify.
    entry = seal(_entry(), seq=2, prev_hash="ab" * 32)
    assert entry.payload() == (
        '{"amount_authorized":"12.34","amount_captured":"12.34","amount_refunded":"0.00",'
        '"at":"2026-11-25T09:30:15.250000Z","cause":{"event_id":"psp_1:CAPTURE:true",'
        '"event_type":"CAPTURE","kind":"webhook","provider":"adyen"},"currency":"EUR",'
        '"from_status":"authorized","note":"refused: captured \\u2192 voided is not an allowed '
        'transition (adyen reports Cancelled)","prev_hash":"' + "ab" * 32 + '",'
        '"record_id":"pr_0123","seq":2,"to_status":"captured"}'
    )
    assert entry.hash == "c992ea36c58d8e1b149b2a729e900cd3ceeadd170736a290520ba0eaa0915747"


def test_the_hash_of_a_first_entry_is_pinned() -> None:
    entry = _entry(
        seq=1, at=datetime(2026, 11, 25, 9, 30, 15, tzinfo=UTC), from_status=None,
        to_status=PaymentStatus.AUTHORIZED, amount_captured="0.00",
        cause=CallCause(operation="authorize", idempotency_key="key-1"),
        note="stripe reports requires_capture",
    )  # fmt: skip
    assert seal(entry, seq=1, prev_hash=GENESIS).hash == (
        "9cf17e7b6b1ec5c20d6ddc25e833aacfcd9fe0fdf7bdfe1f111a531bcd51dac2"
    )


def test_a_sealed_entry_is_what_chaining_then_hashing_it_gives() -> None:
    entry = seal(_entry(), seq=3, prev_hash="cd" * 32)
    chained = _entry(seq=3, prev_hash="cd" * 32)
    assert entry.model_dump(exclude={"hash"}) == chained.model_dump(exclude={"hash"})
    assert verify_chain("pr_0123", [entry], length=1, head=entry.hash) is not None  # seq 3 ≠ 1
    first = seal(_entry(), seq=1, prev_hash=GENESIS)
    assert verify_chain("pr_0123", [first], length=1, head=first.hash) is None


@pytest.mark.parametrize("model", [AuditEntry, CallCause, WebhookCause, ResolverCause])
def test_models_the_hash_covers_declare_their_fields_in_sorted_order(model: type[Any]) -> None:
    # payload() takes pydantic's JSON as the canonical text only because of this order.
    assert list(model.model_fields) == sorted(model.model_fields)


@settings(max_examples=300, deadline=None)
@given(note=st.text(), key=st.one_of(st.none(), st.text(min_size=1)))
def test_the_payload_is_json_dumps_with_sorted_keys_for_any_text(
    note: str, key: str | None
) -> None:
    entry = _entry(note=note, cause=CallCause(operation="capture", idempotency_key=key))
    generic = json.dumps(
        entry.model_dump(mode="json", exclude={"hash"}), sort_keys=True, separators=(",", ":")
    )
    assert entry.payload() == generic
