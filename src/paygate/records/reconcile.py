"""How paygate's records are reconciled with what the provider did: the decisions behind a
webhook about a payment paygate may not know yet, a call that ended without recording (its
intent lapsed), and the resolver that settles unknown outcomes. None of them does I/O; the
gateways run them (``AsyncGateway.handle_webhook`` / ``resolve_unknown`` and their twins).

* **Orphans and adoption:** an authorize whose answer was lost has a record without the
  provider's payment id; the provider's report of that payment (a webhook, a search by
  reference) is adopted onto it, never started on a record of its own.
* **Claims:** an event about a new payment whose call is still waiting for its answer goes to
  the record that call will answer to (its intent names it).
* **Replay:** an unknown outcome is settled by repeating the call under its key, exactly as it
  was sent, while the provider still replays the key; otherwise by the provider's own account
  (a retrieve, a search), or it stays unknown, escalated when a person must look.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from paygate import _recording
from paygate.adapters.base import Capabilities
from paygate.errors import ErrorCode, OutcomeUnknown, PaymentError, TerminalError
from paygate.models import (
    RECORD_ID_PREFIX,
    EventType,
    FindRequest,
    Operation,
    OperationRequest,
    Payment,
    PaymentStatus,
    Resolution,
    Result,
    WebhookEvent,
    WebhookOutcome,
    validated,
)
from paygate.money import Money
from paygate.records.changes import (
    Change,
    adopt,
    captured_at_authorization,
    observe,
    outcome_unknown,
    settled,
    unsettled,
)
from paygate.records.changes import apply_event as changes_apply_event
from paygate.records.state import Intent, ModificationStatus, PaymentRecord, UnknownOperation
from paygate.records.store import Applied, ChangeFn, Locate, locate_payment
from paygate.records.trail import CallCause, Cause, ResolverCause, WebhookCause
from paygate.telemetry import key_digest, log_fields

__all__ = [
    "ADOPTING_EVENTS",
    "NEW_PAYMENTS",
    "Orphan",
    "Replay",
    "adopting_event",
    "adopting_found",
    "awaited_by",
    "claimed_by",
    "describe",
    "finds",
    "lapsed",
    "looked_up",
    "orphan",
    "replay_for",
    "resolution",
    "settle",
    "still_unknown",
    "unsettled_by",
    "webhook_change",
    "webhook_outcome",
]

logger: Final = logging.getLogger("paygate")

NEW_PAYMENTS: Final = _recording.NEW_PAYMENTS
# Calls whose answer may be the first to name a payment: a new one, or one awaiting the shopper.
_NAMING: Final = NEW_PAYMENTS | {Operation.COMPLETE_ACTION}
# Events that can carry a payment paygate asked for but never heard the id of.
ADOPTING_EVENTS: Final = frozenset({EventType.AUTHORIZED, EventType.FAILED, EventType.CAPTURED})
_FAILED: Final = ModificationStatus.FAILED

# The record of an authorize whose answer was lost, with the unknown outcome it holds.
Orphan = tuple[PaymentRecord, UnknownOperation]


@dataclass(frozen=True, slots=True)
class Replay:
    """How the resolver checks one unknown outcome: the request to send again under its key,
    or why there is none and whether that needs a person."""

    request: OperationRequest | None
    reason: str = ""
    escalate: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def _webhook_cause(event: WebhookEvent) -> WebhookCause:
    return WebhookCause(
        provider=event.provider, event_id=event.event_id, event_type=event.provider_type
    )


def _resolver_cause(unknown: UnknownOperation) -> ResolverCause:
    return ResolverCause(
        operation=unknown.operation.value,
        idempotency_key=unknown.idempotency_key,
        attempt=unknown.attempts + 1,
    )


# -- calls that ended without recording ----------------------------------------------------------
def lapsed(provider: str, intent: Intent, *, repeated: bool = False) -> tuple[Locate, ChangeFn]:
    """An intent whose lease ended with nothing recorded (the process stopped, or its record
    store failed): an unknown outcome from now on, due for a check at once. ``repeated``: the
    intent was replaced by a repeat under its key that sent nothing (its lease need not have
    ended: the repeat held the key)."""
    now = _now()
    reason = (
        f"the {intent.operation.value} ended without recording an outcome (the process "
        f"stopped, or the record store failed); its request may have been sent at "
        f"{intent.since:%Y-%m-%d %H:%M:%S} UTC"
    )
    if repeated:
        reason += ", and a repeat under its key sent nothing that could tell"
    unknown = intent.as_unknown(now, reason)
    cause = CallCause(operation=intent.operation.value, idempotency_key=intent.idempotency_key)
    if intent.record_id is not None:
        assert intent.amount is not None
        amount = intent.amount

        def started(r: PaymentRecord | None) -> Change | None:
            return outcome_unknown(
                r, unknown, amount=amount, provider=provider, cause=cause, now=now,
                record_id=intent.record_id,
            )  # fmt: skip

        return Locate(record_id=intent.record_id), started

    def modified(r: PaymentRecord | None) -> Change | None:
        if r is None:
            return None  # a record a capture, void or refund is about always exists first
        return outcome_unknown(r, unknown, amount=r.amount, provider=provider, cause=cause, now=now)

    assert intent.payment_id is not None  # a call about a payment names it
    return locate_payment(provider, intent.payment_id), modified


# -- webhooks ----------------------------------------------------------------------------------
def webhook_change(provider: str, event: WebhookEvent) -> tuple[Locate, ChangeFn, tuple[str, str]]:
    """Where an event goes, how it changes the record, and the key it is applied once under."""
    cause, now = _webhook_cause(event), _now()

    def change(record: PaymentRecord | None) -> Change | None:
        return changes_apply_event(record, event, cause, now)

    locate = Locate(provider=provider, payment_id=event.payment_id)
    return locate, change, (event.provider, event.event_id)


def webhook_outcome(event: WebhookEvent, applied: Applied | None) -> WebhookOutcome:
    if applied is None:
        return WebhookOutcome(event=event, result="no_record")
    return _recording.webhook_outcome(event, applied)


def orphan(
    provider: str, candidates: list[PaymentRecord], reference: str | None, amount: Money | None
) -> Orphan | None:
    """The record of an authorize whose answer was lost before its payment id was known, for
    this reference and amount, if there is exactly one."""
    found = [
        (record, unknown)
        for record in candidates
        if record.provider == provider and record.payment_id is None
        for unknown in record.unknown
        if unknown.operation in _NAMING
        and unknown.reference == reference
        and (amount is None or unknown.amount == amount)
    ]
    return found[0] if len(found) == 1 else None


def claimed_by(
    provider: str, intents: list[Intent], event: WebhookEvent
) -> tuple[Locate, ChangeFn] | None:
    """Where an event about a payment paygate has no record of goes when a new payment's call
    is still waiting for its answer, for the same reference and amount (exactly one): the
    record that call will answer to, named by its key. Without this, the payment would start a
    record of its own, and the call's answer (or its unknown outcome) another."""
    claims = [
        intent
        for intent in intents
        if intent.provider == provider
        and intent.operation in _NAMING
        and intent.reference == event.reference
        and intent.amount == event.amount
    ]
    record_id = _named_record(claims[0]) if len(claims) == 1 else None
    if record_id is None:
        return None
    cause, now = _webhook_cause(event), _now()

    def change(record: PaymentRecord | None) -> Change | None:
        return changes_apply_event(record, event, cause, now, record_id)

    return Locate(record_id=record_id), change


def awaited_by(
    capabilities: Capabilities, provider: str, waiting: list[PaymentRecord], event: WebhookEvent
) -> tuple[Locate, ChangeFn] | None:
    """Where an event about a payment paygate has no record of goes when a payment awaits the
    shopper for the same reference and amount (exactly one), with no provider id yet: the
    shopper acted and the provider names it first in its webhook (a redirect the shopper
    completed at their bank, and never came back from). That record takes the payment's id; a
    purchase the provider captured when it authorized it (and says no more) is captured."""
    found = [
        record
        for record in waiting
        if record.provider == provider
        and record.payment_id is None
        and record.reference == event.reference
        and record.amount == event.amount
    ]
    if len(found) != 1 or event.payment_id is None:
        return None
    record_id, payment_id = found[0].record_id, event.payment_id
    cause, now = _webhook_cause(event), _now()
    capture = found[0].purchase and capabilities.purchase_captured_at_authorization
    report = _authorization_report(event, cause, now, capture=capture)

    def change(record: PaymentRecord | None) -> Change | None:
        if record is None or record.payment_id is not None:
            return None  # named meanwhile by another path
        applied = report(record.model_copy(update={"payment_id": payment_id}))
        return None if applied is None else Change(applied.record, applied.entry, True)

    return Locate(record_id=record_id), change


def _named_record(intent: Intent) -> str | None:
    """The record a call that may name a payment answers to: a new payment's (by its key), or
    the record of a payment awaiting the shopper that the call completes (by its id)."""
    if intent.operation is Operation.COMPLETE_ACTION:
        named = intent.payment_id
        return named if named is not None and named.startswith(RECORD_ID_PREFIX) else None
    return intent.record_id


def _adopting(
    found: Orphan,
    payment_id: str,
    report: Callable[[PaymentRecord], Change | None],
    cause: Cause,
) -> tuple[Locate, ChangeFn]:
    record, unknown = found
    now = _now()

    def change(current: PaymentRecord | None) -> Change | None:
        if current is None or current.payment_id is not None:
            return None  # settled meanwhile by another path
        return adopt(
            current, payment_id=payment_id, key=unknown.idempotency_key, report=report,
            cause=cause, now=now,
        )  # fmt: skip

    return Locate(record_id=record.record_id), change


def captured_with(
    capabilities: Capabilities, unknown: UnknownOperation, record: PaymentRecord
) -> bool:
    """Whether settling ``unknown`` by the provider's report of its authorization means it was
    captured too (a purchase, or the completed action of one, on a provider that captures it
    then and says no more)."""
    purchase = unknown.operation is Operation.PURCHASE or (
        unknown.operation is Operation.COMPLETE_ACTION and record.purchase
    )
    return purchase and capabilities.purchase_captured_at_authorization


def adopting_event(
    capabilities: Capabilities, event: WebhookEvent, found: Orphan
) -> tuple[Locate, ChangeFn]:
    """The provider's report (a webhook) of the payment of a lost authorize answer."""
    assert event.payment_id is not None
    cause, now = _webhook_cause(event), _now()
    capture = captured_with(capabilities, found[1], found[0])
    report = _authorization_report(event, cause, now, capture=capture)
    return _adopting(found, event.payment_id, report, cause)


def _authorization_report(
    event: WebhookEvent, cause: Cause, now: datetime, *, capture: bool
) -> Callable[[PaymentRecord], Change | None]:
    """The provider's report of a payment paygate had not named yet, applied to its record;
    with ``capture``, a purchase its provider captured when it authorized it (and says no more
    of) is recorded captured too (a failed one is left as it is)."""

    def report(record: PaymentRecord) -> Change | None:
        change = changes_apply_event(record, event, cause, now)
        if change is None or not capture:
            return change
        return captured_at_authorization(change, cause, now)

    return report


def adopting_found(payment: Payment, found: Orphan) -> tuple[Locate, ChangeFn]:
    """The payment a search by reference found for a lost authorize answer."""
    cause, now = _resolver_cause(found[1]), _now()
    return _adopting(found, payment.id, lambda r: observe(r, payment, cause, now), cause)


# -- unknown outcomes --------------------------------------------------------------------------
def finds(
    capabilities: Capabilities, record: PaymentRecord, unknown: UnknownOperation
) -> FindRequest | None:
    """A search for the payment of a lost authorize answer, where the provider can search."""
    can_search = Operation.FIND in capabilities.operations
    if not can_search or record.payment_id is not None or unknown.reference is None:
        return None
    if unknown.operation not in NEW_PAYMENTS:
        return None
    return validated(FindRequest, reference=unknown.reference, amount=unknown.amount)


def replay_for(
    capabilities: Capabilities,
    unknown: UnknownOperation,
    rebuilt_digest: Callable[[OperationRequest], str | None],
) -> Replay:
    """How to check an unknown outcome: the call to repeat under the same key, exactly as it
    was first sent (``rebuilt_digest``: the digest of the bytes the request builds to now), or
    why there is none: not rebuildable (raw card data is never kept; an entry from before
    paygate kept every parameter), rebuilt to other bytes (the provider would refuse it as
    another request, or worse, act on it), or past the window in which the provider replays a
    key (repeating then could act twice)."""
    window = timedelta(seconds=capabilities.idempotency_window)
    if _now() - unknown.since >= window:
        return Replay(None, "past the provider's idempotency window: check it by hand", True)
    if not unknown.replayable:
        return Replay(None, "cannot be repeated (raw card data is never kept)")
    request = _recording.replay_request(unknown)
    if request is None:
        return Replay(None, "its parameters were not kept: check it by hand", True)
    if rebuilt_digest(request) != unknown.body_digest:
        reason = (
            "it rebuilds to other bytes than were sent (the adapter's settings changed?): "
            "check it by hand"
        )
        return Replay(None, reason, True)
    return Replay(request)


def looked_up(record: PaymentRecord, unknown: UnknownOperation, payment: Payment) -> str | None:
    """How the provider's own account of the payment (a retrieve, strongly consistent) settles
    an unknown capture, void or refund whose key holds a saved failure (a repeat only gets that
    failure again, and nothing under the key is still running); None when it cannot tell. A
    refund is told by the refunded total against the refunds the record knows, only when it is
    the payment's one unknown refund."""
    status = payment.status
    if unknown.operation is Operation.CAPTURE:
        if payment.amount_captured.is_positive:
            return f"captured {payment.amount_captured} (the provider's payment)"
        return f"not captured: the payment is {status} (the provider's payment)"
    if unknown.operation is Operation.VOID:
        done = "voided" if status is PaymentStatus.VOIDED else f"not voided: it is {status}"
        return f"{done} (the provider's payment)"
    refunds = [u for u in record.unknown if u.operation is Operation.REFUND]
    if len(refunds) != 1 or unknown.amount is None:
        return None
    known = Money.zero(record.currency)
    for m in record.modifications:
        if m.operation is Operation.REFUND and m.amount and m.status is not _FAILED:
            known = known + m.amount
    if payment.amount_refunded == known:
        return "not refunded: the payment's refunded total has no room for it"
    if payment.amount_refunded == known + unknown.amount:
        return f"refunded {unknown.amount} (the payment's refunded total)"
    return None


def settle(
    capabilities: Capabilities, unknown: UnknownOperation, *, by_report: bool = False
) -> ChangeFn:
    """Settle ``unknown`` on its record, if a check's answer has not done so already; when the
    provider's report of an authorization settles it (``by_report``), a purchase it captured
    then is recorded captured."""
    cause, now, key = _resolver_cause(unknown), _now(), unknown.idempotency_key

    def change(r: PaymentRecord | None) -> Change | None:
        if r is None or all(u.idempotency_key != key for u in r.unknown):
            return None
        done = settled(r, key, cause, now)
        capture = by_report and captured_with(capabilities, unknown, r)
        return captured_at_authorization(done, cause, now) if capture else done

    return change


def unsettled_by(error: PaymentError) -> tuple[str, bool, bool]:
    """Why a check that ended in ``error`` (not the provider's final answer) left the outcome
    unknown, whether a person should look, and whether the check's own call already counted
    the attempt (it kept its own ``OutcomeUnknown`` on the record).

    A person should look at a refusal that is no account of the call: the credentials, a
    conflicting key, a local refusal, an answer from something that is not the provider. A
    retriable failure, a timeout or a 5xx is simply checked again later."""
    counted = isinstance(error, OutcomeUnknown)
    foreign = error.code is ErrorCode.UNEXPECTED_RESPONSE
    if foreign or isinstance(error, TerminalError):
        return f"refused: {error.code} ({error.message})", True, counted
    return error.message, False, counted


def still_unknown(
    record: PaymentRecord,
    unknown: UnknownOperation,
    reason: str,
    *,
    escalate: bool = False,
    count: bool = True,
) -> ChangeFn:
    """Keep ``unknown`` with the reason, backing off (``count``), escalated when a person
    should look."""
    cause, now, key = _resolver_cause(unknown), _now(), unknown.idempotency_key
    log = logger.error if escalate else logger.warning
    log(
        "%s unknown %s of record %s (key %s) not settled%s: %s",
        record.provider,
        unknown.operation.value,
        record.record_id,
        key_digest(key),
        " (escalated: needs a person)" if escalate else "",
        reason,
        extra=log_fields(
            record.provider,
            operation=unknown.operation.value,
            outcome="unknown",
            payment_id=record.payment_id,
            key=key,
            attempts=unknown.attempts,
        ),
    )

    def change(r: PaymentRecord | None) -> Change | None:
        if r is None or all(u.idempotency_key != key for u in r.unknown):
            return None  # settled meanwhile
        return unsettled(r, key, cause, now, reason=reason, escalate=escalate, count=count)

    return change


def resolution(
    record: PaymentRecord,
    unknown: UnknownOperation,
    *,
    settled: bool,
    detail: str,
    escalated: bool = False,
) -> Resolution:
    return Resolution(
        record_id=record.record_id,
        operation=unknown.operation,
        idempotency_key=unknown.idempotency_key,
        settled=settled,
        detail=detail,
        escalated=escalated or unknown.escalated,
    )


def describe(result: Result) -> str:
    if isinstance(result, Payment):
        return f"settled: {result.status.value}"
    return f"settled: {result.provider_status}"
