"""Dispute events in any order: an older one never moves the dispute state back, a later one
(a second chargeback, a new dispute) always applies, and each is kept in the trail."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from paygate import Money, Payment, PaymentStatus
from paygate.models import EventType, WebhookEvent
from paygate.records import PaymentRecord, changes
from paygate.records.trail import CallCause, WebhookCause

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
OPENED, REVERSED = EventType.CHARGEBACK, EventType.CHARGEBACK_REVERSED


def captured() -> PaymentRecord:
    paid = Payment(
        id="pay_1", provider="p", status=PaymentStatus.CAPTURED, amount=Money("10.00", "EUR"),
        amount_authorized=Money("10.00", "EUR"), amount_captured=Money("10.00", "EUR"),
        amount_refunded=Money("0", "EUR"), reference="order-1", provider_status="succeeded",
    )  # fmt: skip
    call = CallCause(operation="purchase", idempotency_key="k")
    return changes.observe(None, paid, call, NOW).record


def dispute(
    kind: EventType, dispute_id: str | None = "dp_1", days_ago: int | None = 3, n: int = 1
) -> WebhookEvent:
    """A dispute event ``days_ago`` days before now (None: without a time)."""
    return WebhookEvent(
        provider="p", event_id=f"evt_{n}", type=kind, provider_type=kind.value,
        payment_id="pay_1", amount=Money("10.00", "EUR"), modification_id=dispute_id,
        occurred_at=None if days_ago is None else NOW - days_ago * DAY,
    )  # fmt: skip


def apply(record: PaymentRecord, *events: WebhookEvent) -> list[changes.Change]:
    """Each event applied in turn, as the store would: each change to the record it left."""
    done = []
    for event in events:
        cause = WebhookCause(provider="p", event_id=event.event_id, event_type=event.type.value)
        change = changes.apply_event(record, event, cause, NOW)
        assert change is not None
        done.append(change)
        record = change.record
    return done


def test_a_late_opening_after_the_dispute_was_won_changes_nothing() -> None:
    won, late = apply(captured(), dispute(REVERSED, days_ago=1), dispute(OPENED, days_ago=3, n=2))
    assert won.applied and not won.record.disputed
    assert won.record.dispute_id == "dp_1" and won.record.dispute_at == NOW - DAY
    assert not late.applied and late.record == won.record  # still won: not disputed
    assert late.entry.note.startswith("no change: older dispute event, not applied")
    assert "chargeback opened (dispute dp_1)" in late.entry.note
    assert late.entry.from_status is late.entry.to_status is PaymentStatus.CAPTURED


def test_in_order_a_dispute_opens_and_closes() -> None:
    opened, won = apply(captured(), dispute(OPENED, days_ago=3), dispute(REVERSED, days_ago=1))
    assert opened.applied and opened.record.disputed
    assert opened.entry.note == "chargeback opened (dispute dp_1)"
    assert won.applied and not won.record.disputed
    assert won.entry.note == "chargeback reversed (dispute dp_1)"


def test_a_late_reversal_does_not_close_a_later_chargeback() -> None:
    """Adyen: CHARGEBACK, CHARGEBACK_REVERSED and SECOND_CHARGEBACK share the dispute's
    pspReference; the second chargeback is later, and a late reversal is older than it."""
    _, second, late = apply(
        captured(),
        dispute(OPENED, "DSP1", days_ago=9),
        dispute(OPENED, "DSP1", days_ago=2, n=2),  # SECOND_CHARGEBACK, the reversal not yet in
        dispute(REVERSED, "DSP1", days_ago=5, n=3),
    )
    assert second.applied and second.record.disputed
    assert not late.applied and late.record.disputed


# Adyen's dispute, one pspReference throughout: notice, chargeback, reversed, second chargeback.
ADYEN_DISPUTE = [
    dispute(OPENED, "DSP1", days_ago=20, n=1),
    dispute(OPENED, "DSP1", days_ago=15, n=2),
    dispute(REVERSED, "DSP1", days_ago=8, n=3),
    dispute(OPENED, "DSP1", days_ago=2, n=4),
]
# A Stripe dispute won, then a new dispute (a new id) later.
STRIPE_DISPUTES = [
    dispute(OPENED, "dp_1", days_ago=20, n=1),
    dispute(REVERSED, "dp_1", days_ago=8, n=2),
    dispute(OPENED, "dp_2", days_ago=2, n=3),
]


@pytest.mark.parametrize(
    ("events", "disputed"),
    [(ADYEN_DISPUTE, True), (ADYEN_DISPUTE[:3], False), (STRIPE_DISPUTES, True),
     (STRIPE_DISPUTES[:2], False)],
)  # fmt: skip
def test_any_delivery_order_ends_in_the_latest_events_state(
    events: list[WebhookEvent], disputed: bool
) -> None:
    for order in itertools.permutations(events):
        record = apply(captured(), *order)[-1].record
        assert record.disputed is disputed, [e.event_id for e in order]
        assert record.dispute_at == max(e.occurred_at for e in events if e.occurred_at)


@pytest.mark.parametrize("days_ago", [1, None], ids=["same instant", "no time"])
def test_unordered_by_time_a_reversed_dispute_is_not_reopened_by_its_own_opening(
    days_ago: int | None,
) -> None:
    won, late = apply(
        captured(), dispute(REVERSED, days_ago=days_ago), dispute(OPENED, days_ago=days_ago, n=2)
    )
    assert not won.record.disputed
    assert not late.applied and not late.record.disputed
    assert "dispute dp_1 was reversed, and this event is not later" in late.entry.note


def test_unordered_by_time_a_new_dispute_opens() -> None:
    _, new = apply(captured(), dispute(REVERSED, days_ago=None), dispute(OPENED, "dp_2", None, 2))
    assert new.applied and new.record.disputed and new.record.dispute_id == "dp_2"


def test_unordered_by_time_a_reversal_closes_the_open_dispute() -> None:
    _, won = apply(captured(), dispute(OPENED, days_ago=1), dispute(REVERSED, days_ago=1, n=2))
    assert won.applied and not won.record.disputed


def test_a_later_event_keeps_the_latest_time_even_without_its_own() -> None:
    opened, won = apply(captured(), dispute(OPENED, days_ago=3), dispute(REVERSED, "dp_1", None))
    assert won.applied and not won.record.disputed
    assert won.record.dispute_at == opened.record.dispute_at == NOW - 3 * DAY


def test_a_record_stored_before_dispute_history_was_kept_still_loads_and_moves() -> None:
    stored = captured().model_copy(update={"disputed": True}).model_dump(mode="json")
    del stored["dispute_id"], stored["dispute_at"]  # the JSON a store kept before
    legacy = PaymentRecord.model_validate_json(json.dumps(stored))
    assert legacy.disputed and legacy.dispute_id is None and legacy.dispute_at is None
    [won] = apply(legacy, dispute(REVERSED, days_ago=1))
    assert won.applied and not won.record.disputed and won.record.dispute_id == "dp_1"
