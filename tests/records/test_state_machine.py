"""The state machine: derived statuses, the transition table, and inputs that are idempotent
and tolerate any order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paygate import Money, Payment, PaymentStatus, Refund, RefundStatus
from paygate.errors import CardDeclinedError, DeclineReason
from paygate.models import EventType, ModificationReceipt, Operation, WebhookEvent
from paygate.records import TRANSITIONS, ModificationStatus, PaymentRecord, changes
from paygate.records.state import transition_allowed
from paygate.records.trail import CallCause, WebhookCause

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CALL = CallCause(operation="authorize", idempotency_key="k")
S = PaymentStatus


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def payment(
    status: PaymentStatus, authorized: str = "10.00", captured: str = "0", refunded: str = "0"
) -> Payment:
    return Payment(
        id="pay_1", provider="p", status=status, amount=eur("10.00"),
        amount_authorized=eur(authorized), amount_captured=eur(captured),
        amount_refunded=eur(refunded), reference="order-1", provider_status=status.value,
    )  # fmt: skip


def event(
    kind: EventType, amount: str | None = None, mod: str | None = None, n: int = 1
) -> WebhookEvent:
    return WebhookEvent(
        provider="p", event_id=f"evt_{n}", type=kind, provider_type=kind.value,
        payment_id="pay_1", amount=eur(amount) if amount else None, modification_id=mod,
    )  # fmt: skip


def hook(n: int = 1) -> WebhookCause:
    return WebhookCause(provider="p", event_id=f"evt_{n}", event_type="x")


def authorized() -> PaymentRecord:
    return changes.observe(None, payment(S.AUTHORIZED), CALL, NOW).record


def test_the_table_has_a_row_for_every_status_and_final_states_are_final() -> None:
    assert set(TRANSITIONS) == {None, *PaymentStatus}
    for final in (S.VOIDED, S.FAILED):
        assert TRANSITIONS[final] == frozenset()
    assert (
        not transition_allowed(S.CAPTURED, S.AUTHORIZED) or S.AUTHORIZED in TRANSITIONS[S.CAPTURED]
    )
    assert not transition_allowed(S.VOIDED, S.CAPTURED)
    assert not transition_allowed(S.AUTHORIZED, S.FAILED)
    assert transition_allowed(S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED)


def test_observe_builds_and_moves_a_record() -> None:
    first = changes.observe(None, payment(S.AUTHORIZED), CALL, NOW)
    assert first.applied and first.record.status is S.AUTHORIZED
    assert first.entry.from_status is None and first.entry.to_status is S.AUTHORIZED
    captured = changes.observe(
        first.record, payment(S.PARTIALLY_CAPTURED, captured="6.00"), CALL, NOW
    )
    assert captured.record.status is S.PARTIALLY_CAPTURED
    assert captured.record.amount_captured == eur("6.00")


def test_an_older_snapshot_never_lowers_a_figure_or_moves_backwards() -> None:
    record = changes.observe(authorized(), payment(S.CAPTURED, captured="10.00"), CALL, NOW).record
    stale = changes.observe(record, payment(S.AUTHORIZED), CALL, NOW)
    assert not stale.applied and stale.record == record
    assert stale.entry.note.startswith("no change")


def test_a_void_after_capture_is_refused_and_kept_in_the_trail() -> None:
    record = changes.observe(authorized(), payment(S.CAPTURED, captured="10.00"), CALL, NOW).record
    late = changes.apply_event(record, event(EventType.FAILED), hook(), NOW)
    assert late is not None and not late.applied and late.record.status is S.CAPTURED
    assert "refused" in late.entry.note or "no change" in late.entry.note


def test_received_modifications_wait_for_their_webhook() -> None:
    receipt = ModificationReceipt(
        provider="p", payment_id="pay_1", operation=Operation.CAPTURE,
        modification_id="cap_1", amount=eur("10.00"), provider_status="received",
    )  # fmt: skip
    record = changes.received(authorized(), receipt, CALL, NOW).record
    assert record.status is S.AUTHORIZED and record.pending() is Operation.CAPTURE
    done = changes.apply_event(record, event(EventType.CAPTURED, "10.00", "cap_1"), hook(), NOW)
    assert done is not None and done.record.status is S.CAPTURED and done.record.pending() is None
    # The same webhook again (under another event id) changes nothing.
    again = changes.apply_event(
        done.record, event(EventType.CAPTURED, "10.00", "cap_1", 2), hook(2), NOW
    )
    assert again is not None and not again.applied and again.record.amount_captured == eur("10.00")


def test_refunds_are_counted_once_whichever_report_comes_first() -> None:
    record = changes.observe(authorized(), payment(S.CAPTURED, captured="10.00"), CALL, NOW).record
    refund = Refund(
        id="re_1", provider="p", payment_id="pay_1", status=RefundStatus.SUCCEEDED,
        amount=eur("3.00"), provider_status="succeeded",
    )  # fmt: skip
    via_webhook = changes.apply_event(
        record, event(EventType.REFUNDED, "3.00", "re_1"), hook(), NOW
    )
    assert via_webhook is not None
    via_answer = changes.refunded(via_webhook.record, refund, CALL, NOW)
    snapshot = changes.observe(
        via_answer.record,
        payment(S.PARTIALLY_REFUNDED, captured="10.00", refunded="3.00"),
        CALL,
        NOW,
    )
    for step in (via_webhook, via_answer, snapshot):
        assert step.record.amount_refunded == eur("3.00")
    assert snapshot.record.status is S.PARTIALLY_REFUNDED


def test_out_of_order_refund_reports_never_resurrect_a_failed_refund() -> None:
    record = changes.observe(authorized(), payment(S.CAPTURED, captured="10.00"), CALL, NOW).record
    failed = changes.apply_event(
        record, event(EventType.REFUND_FAILED, "3.00", "re_1"), hook(), NOW
    )
    assert failed is not None
    late_success = changes.apply_event(
        failed.record, event(EventType.REFUNDED, "3.00", "re_1", 2), hook(2), NOW
    )
    assert late_success is not None and late_success.record.amount_refunded == eur("0.00")
    assert late_success.record.modification("re_1").status is ModificationStatus.FAILED  # type: ignore[union-attr]


def test_a_reversed_refund_gives_the_money_back() -> None:
    record = changes.observe(authorized(), payment(S.CAPTURED, captured="10.00"), CALL, NOW).record
    done = changes.apply_event(record, event(EventType.REFUNDED, "10.00", "re_1"), hook(), NOW)
    assert done is not None and done.record.status is S.REFUNDED
    reversed_ = changes.apply_event(
        done.record, event(EventType.REFUND_FAILED, "10.00", "re_1", 2), hook(2), NOW
    )
    assert reversed_ is not None and reversed_.record.status is S.CAPTURED


def test_a_decline_and_an_unknown_outcome_make_records_too() -> None:
    error = CardDeclinedError("no", reason=DeclineReason.INSUFFICIENT_FUNDS, payment_id="pay_9")
    failed = changes.declined(
        None, error, amount=eur("5.00"), reference="o", provider="p", cause=CALL, now=NOW
    )
    assert failed.record.status is S.FAILED and failed.record.payment_id == "pay_9"
    unknown = changes.UnknownOperation(
        operation=Operation.AUTHORIZE, idempotency_key="k", amount=eur("5.00"), reference="o",
        replayable=True, since=NOW, next_check_at=changes.first_check(NOW),
    )  # fmt: skip
    lost = changes.outcome_unknown(
        None, unknown, amount=eur("5.00"), provider="p", cause=CALL, now=NOW
    )
    assert lost.record.status is S.UNKNOWN and lost.record.unknown == (unknown,)
    later = changes.unsettled(lost.record, "k", CALL, unknown.next_check_at, reason="503")
    assert later.record.unknown[0].attempts == 1 and later.record.unknown[0].reason == "503"
    assert later.record.unknown[0].next_check_at > unknown.next_check_at
    assert not later.record.unknown[0].escalated
    refused = changes.unsettled(later.record, "k", CALL, NOW, reason="401", escalate=True)
    assert refused.record.unknown[0].escalated and "escalated" in refused.entry.note
    again = changes.unsettled(refused.record, "k", CALL, NOW, reason="503")
    assert again.record.unknown[0].escalated  # until it is settled
    settled = changes.settled(again.record, "k", CALL, NOW)
    assert settled.record.unknown == () and settled.record.status is S.PENDING


@pytest.mark.parametrize("kind", [EventType.AUTHORIZED, EventType.FAILED])
def test_an_event_for_an_unknown_payment_starts_a_record(kind: EventType) -> None:
    started = changes.apply_event(None, event(kind, "7.00"), hook(), NOW)
    assert started is not None and started.record.payment_id == "pay_1"
    assert changes.apply_event(None, event(EventType.CAPTURED, "7.00", "c"), hook(), NOW) is None
    assert changes.apply_event(authorized(), event(EventType.OTHER), hook(), NOW) is None


@pytest.mark.parametrize("status", list(PaymentStatus))
@pytest.mark.parametrize(
    ("authorized", "captured", "refunded"),
    [("0", "0", "0"), ("10.00", "0", "0"), ("10.00", "4.00", "0"), ("10.00", "10.00", "2.50")],
)
def test_a_new_record_is_what_deriving_the_status_of_a_blank_one_gives(
    status: PaymentStatus, authorized: str, captured: str, refunded: str
) -> None:
    """``observe`` builds a new record once, with its status derived from the provider's facts;
    it must equal the record the generic path builds (a blank record, then ``derive_status``)."""
    seen = payment(status, authorized, captured, refunded)
    built = changes.observe(None, seen, CALL, NOW, "pr_same")
    blank = changes.blank("p", eur("10.00"), "order-1", NOW, "pr_same", payment_id="pay_1")
    facts: dict[str, object] = {
        "reported_authorized": seen.amount_authorized,
        "reported_captured": seen.amount_captured,
        "reported_refunded": seen.amount_refunded,
        "voided": status is S.VOIDED,
        "failed": status is S.FAILED,
    }
    if status in {S.UNKNOWN, S.PENDING, S.REQUIRES_ACTION}:
        facts["pre_authorization"] = status
    candidate = blank.model_copy(update=facts)
    expected = candidate.model_copy(update={"status": changes.derive_status(candidate)})
    assert built.record == expected
    assert built.applied and built.entry.to_status is expected.status
    assert built.entry.from_status is None


def test_the_no_change_check_compares_every_field_but_the_time() -> None:
    # A field left out of it would let a change pass as "no change" and be dropped.
    assert sorted(changes._FACTS) == sorted(set(PaymentRecord.model_fields) - {"updated_at"})
