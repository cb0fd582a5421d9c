"""The glue between calls and payment records, as pure decisions the two gateways share:
which record a call is about, what the record refuses or fills in before the call, how an
outcome changes the record, and what the caller gets back."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final

from pydantic import ValidationError

from paygate._outcomes import is_final
from paygate.adapters.base import Capabilities
from paygate.errors import (
    CardDeclinedError,
    ErrorCode,
    InvalidRequestError,
    OutcomeUnknown,
    PaymentError,
)
from paygate.models import (
    RECORD_ID_PREFIX,
    AuthorizeRequest,
    CaptureRequest,
    CompleteActionRequest,
    EventType,
    FindRequest,
    ModificationReceipt,
    Operation,
    OperationRequest,
    Payment,
    PaymentSource,
    PaymentStatus,
    Refund,
    RefundRequest,
    Result,
    VoidRequest,
    WebhookEvent,
    WebhookOutcome,
    amount_of,
    payment_id_of,
    source_of,
)
from paygate.records import (
    Applied,
    Intent,
    Locate,
    PaymentRecord,
    UnknownOperation,
    changes,
    guards,
)
from paygate.records.store import ChangeFn, locate_payment
from paygate.records.trail import CallCause, Cause

__all__ = [
    "change_for",
    "checked",
    "intent",
    "locate",
    "public_result",
    "replay_request",
    "to_payment",
    "webhook_outcome",
]


@functools.lru_cache(maxsize=1024)  # asked twice per call: where the record is, what changes it
def _record_id(provider: str, idempotency_key: str) -> str:
    """The record of an authorize or purchase follows from its key, so a repeat of a call
    whose answer was lost lands on the same record."""
    return (
        RECORD_ID_PREFIX
        + hashlib.sha256(f"{provider}\0{idempotency_key}".encode()).hexdigest()[:32]
    )


def locate(
    provider: str,
    request: OperationRequest,
    key: str | None,
    outcome: Result | PaymentError | None = None,
) -> Locate:
    """The record a call is about. An authorize's is named by its key (and, once the provider
    has answered, found by the payment id too: a webhook may have started it first). A find
    is applied by the resolver, which knows the record it settles."""
    if isinstance(request, FindRequest):
        return Locate()
    if isinstance(request, AuthorizeRequest):
        assert key is not None
        answered = (  # a payment awaiting the shopper may have no id of the provider's yet
            outcome.id or None
            if isinstance(outcome, Payment)
            else getattr(outcome, "payment_id", None)
        )
        return Locate(record_id=_record_id(provider, key), provider=provider, payment_id=answered)
    if isinstance(request, CompleteActionRequest) and isinstance(outcome, Payment) and outcome.id:
        # The answer may name the payment for the first time: found by the record's id then.
        named = locate_payment(provider, request.payment_id)
        return Locate(record_id=named.record_id, provider=provider, payment_id=outcome.id)
    return locate_payment(provider, request.payment_id)


def checked(
    request: OperationRequest,
    key: str | None,
    record: PaymentRecord | None,
    capabilities: Capabilities,
) -> OperationRequest:
    """Refuse what the record says cannot succeed; fill a full capture or refund's amount in
    for a provider that needs it. Raises ``InvalidRequestError`` (nothing is sent)."""
    if isinstance(request, AuthorizeRequest | FindRequest):
        return request
    if record is None:
        if capabilities.needs_payment_record:
            raise InvalidRequestError(
                f"paygate has no record of payment {request.payment_id}, and this provider "
                "cannot be asked for it; nothing was sent",
                code=ErrorCode.NOT_FOUND,
                payment_id=request.payment_id,
            )
        return request
    if isinstance(request, CompleteActionRequest):
        guards.check(record, request.operation, None, key)
        filled = {
            "amount": record.amount,
            "capture": record.purchase,
            "reference": record.reference,
        }
        return request.model_copy(update=filled)
    amount = guards.check(
        record, request.operation, amount_of(request), key,
        multiple_captures=capabilities.multiple_captures,
        multiple_refunds=capabilities.multiple_refunds,
    )  # fmt: skip
    if capabilities.needs_payment_record and isinstance(request, CaptureRequest | RefundRequest):
        return request.model_copy(update={"amount": amount})
    return request


def _call(
    request: OperationRequest, key: str, body_digest: str | None, fingerprint: str | None
) -> dict[str, object]:
    """What intents and unknown outcomes keep of a mutating call: every parameter paygate sends
    but card data, the digest of the request as it went out (None when the body held card
    data: such a call is never sent again, only looked for), and its idempotency
    fingerprint."""
    source = source_of(request)
    return {
        "fingerprint": fingerprint,
        "operation": request.operation,
        "idempotency_key": key,
        "amount": amount_of(request),
        "reference": request.reference,
        "replayable": body_digest is not None,
        "source": source.fingerprint_parts() if source is not None else None,
        "request": request.model_dump(mode="json", exclude={"source"}),
        "body_digest": body_digest,
    }


def intent(
    provider: str,
    request: OperationRequest,
    key: str,
    body_digest: str | None,
    *,
    fingerprint: str | None,
    now: datetime,
    lease: timedelta,
) -> Intent:
    """The intent of a mutating call, written before its request leaves."""
    new_payment = isinstance(request, AuthorizeRequest)
    call = _call(request, key, body_digest, fingerprint)
    call["provider"] = provider
    call["record_id"] = _record_id(provider, key) if new_payment else None
    call["payment_id"] = payment_id_of(request)
    call["since"] = now
    call["lease_until"] = now + lease
    return Intent.model_validate(call)


def _unknown(
    request: OperationRequest,
    key: str,
    *,
    body_digest: str | None,
    fingerprint: str | None,
    now: datetime,
    reason: str,
) -> UnknownOperation:
    return UnknownOperation(
        **_call(request, key, body_digest, fingerprint),
        since=now,
        next_check_at=changes.first_check(now),
        reason=reason,
    )


def change_for(
    provider: str,
    request: OperationRequest,
    *,
    key: str | None,
    outcome: Result | PaymentError,
    now: datetime,
    body_digest: str | None = None,
    fingerprint: str | None = None,
    cause: Cause | None = None,
) -> ChangeFn | None:
    """How a call's outcome changes its record; None when it leaves the record alone.

    A success or the provider's final answer (``is_final``) settles an unknown outcome
    recorded under the same key; nothing else does. An ``OutcomeUnknown`` is kept on the
    record with everything needed to send the call again (``body_digest``: the request as
    it went out)."""
    if isinstance(request, FindRequest):
        return None  # the resolver applies what it finds to the record it is settling
    why: Cause = cause or CallCause(operation=request.operation.value, idempotency_key=key)
    new_id = (
        _record_id(provider, key)
        if key is not None and isinstance(request, AuthorizeRequest)
        else None
    )
    tag = f"{request.operation.value}:{key}" if key is not None and new_id is None else None

    def after(change: changes.Change) -> changes.Change:
        """A known outcome settles an unknown one recorded under the same key, and the
        record remembers the key: a repeat under it is a replay, whatever the record says."""
        if tag is not None:
            change = changes.remember_key(change, tag)
        record = change.record
        if key is not None and any(u.idempotency_key == key for u in record.unknown):
            done = changes.settled(record, key, why, now)
            return changes.Change(done.record, change.entry, change.applied or done.applied)
        return change

    if isinstance(outcome, Payment):
        purchase = isinstance(request, AuthorizeRequest) and request.capture
        return lambda r: after(changes.observe(r, outcome, why, now, new_id, purchase=purchase))
    if isinstance(outcome, Refund):
        return lambda r: None if r is None else after(changes.refunded(r, outcome, why, now))
    if isinstance(outcome, ModificationReceipt):
        return lambda r: None if r is None else after(changes.received(r, outcome, why, now))
    if isinstance(outcome, CardDeclinedError) and isinstance(request, AuthorizeRequest):
        return lambda r: after(
            changes.declined(
                r,
                outcome,
                amount=request.amount,
                reference=request.reference,
                provider=provider,
                cause=why,
                now=now,
                record_id=new_id,
            )
        )
    if isinstance(outcome, CardDeclinedError) and isinstance(request, CompleteActionRequest):
        # The shopper's authentication failed, or the issuer refused after it.
        return lambda r: None if r is None else after(
            changes.declined(
                r, outcome, amount=r.amount, reference=r.reference, provider=provider,
                cause=why, now=now,
            )
        )  # fmt: skip
    if isinstance(outcome, PaymentError) and is_final(outcome) and key:
        # The provider's final answer under this key: whatever was unknown did not happen.
        refused_key = key

        def refused(r: PaymentRecord | None) -> changes.Change | None:
            if r is None or all(u.idempotency_key != refused_key for u in r.unknown):
                return None
            return changes.settled(r, refused_key, why, now)

        return refused
    if isinstance(outcome, OutcomeUnknown) and key is not None:
        unknown = _unknown(
            request, key, body_digest=body_digest, fingerprint=fingerprint, now=now,
            reason=outcome.message,
        )  # fmt: skip
        if isinstance(request, AuthorizeRequest):
            return lambda r: changes.outcome_unknown(
                r, unknown, amount=request.amount, provider=provider, cause=why, now=now,
                record_id=new_id,
            )  # fmt: skip
        return lambda r: (
            None if r is None else changes.outcome_unknown(
                r, unknown, amount=r.amount, provider=provider, cause=why, now=now
            )
        )  # fmt: skip
    return None


def to_payment(record: PaymentRecord, key: str | None, *, from_record: bool) -> Payment:
    """The record as a canonical Payment; PENDING while a capture or void awaits its webhook."""
    pending = record.pending()
    status = PaymentStatus.PENDING if pending is not None else record.status
    return Payment(
        id=record.payment_id or record.record_id,
        provider=record.provider,
        status=status,
        amount=record.amount,
        amount_authorized=record.amount_authorized,
        amount_captured=record.amount_captured,
        amount_refunded=record.amount_refunded,
        reference=record.reference,
        description=record.description,
        metadata=dict(record.metadata),
        created_at=record.created_at,
        idempotency_key=key,
        provider_status=f"paygate record: {record.status.value}",
        pending=pending,
        from_record=from_record,
    )


def public_result(result: Result, record: PaymentRecord | None) -> Result:
    """What the caller gets: a received capture or void becomes the pending Payment; a
    payment whose provider gave no creation time has the record's, and one the provider has
    not named yet (it awaits the shopper) is named by its record."""
    if isinstance(result, Payment) and record is not None:
        update: dict[str, object] = {}
        if result.created_at is None:
            update["created_at"] = record.created_at
        if not result.id:
            update["id"] = record.record_id
        if result.description is None and record.description is not None:
            update["description"] = record.description
        if not result.metadata and record.metadata:
            update["metadata"] = dict(record.metadata)
        return result.model_copy(update=update) if update else result
    if not isinstance(result, ModificationReceipt):
        return result
    if record is None:  # needs_payment_record guarantees one; a bug if not
        raise OutcomeUnknown(
            f"{result.provider} received the {result.operation.value} of {result.payment_id}, "
            "but paygate has no record to report it from",
            provider=result.provider,
            idempotency_key=result.idempotency_key,
            payment_id=result.payment_id,
        )
    return to_payment(record, result.idempotency_key, from_record=False)


_REQUESTS: Final[Mapping[Operation, type[OperationRequest]]] = MappingProxyType(
    {
        Operation.AUTHORIZE: AuthorizeRequest,
        Operation.PURCHASE: AuthorizeRequest,
        Operation.CAPTURE: CaptureRequest,
        Operation.VOID: VoidRequest,
        Operation.REFUND: RefundRequest,
        Operation.COMPLETE_ACTION: CompleteActionRequest,
    }
)


def replay_request(unknown: UnknownOperation) -> OperationRequest | None:
    """The call to send again under the same key to settle an unknown outcome: every parameter
    as it was first sent, or None when it cannot be rebuilt (raw card data is never kept, and
    an entry written before paygate kept every parameter is never guessed at). The gateway
    still compares the rebuilt request's digest with ``unknown.body_digest`` before sending."""
    if not unknown.replayable or unknown.request is None or unknown.body_digest is None:
        return None
    fields = {**unknown.request, "idempotency_key": unknown.idempotency_key}
    if unknown.operation in NEW_PAYMENTS:
        source = _replayed_source(unknown.source or {})
        if source is None:
            return None
        fields["source"] = source
    try:
        return _REQUESTS[unknown.operation].model_validate(fields)
    except ValidationError:
        return None


def _replayed_source(kept: Mapping[str, object]) -> PaymentSource | None:
    """The payment source a new payment was sent with, from what its entry kept of it: a token
    (and its customer), or a redirect method (nothing secret in either); None for a card."""
    token, customer, method = kept.get("token"), kept.get("customer"), kept.get("redirect")
    if isinstance(token, str):
        return PaymentSource.token(token, customer=customer if isinstance(customer, str) else None)
    if isinstance(method, str):
        try:
            return PaymentSource.redirect(method)
        except ValueError:  # a method this paygate no longer offers: never guessed at
            return None
    return None


NEW_PAYMENTS: Final = frozenset({Operation.AUTHORIZE, Operation.PURCHASE})


def webhook_outcome(event: WebhookEvent, applied: Applied) -> WebhookOutcome:
    """How one event went, with the payment as its record now stands."""
    payment = to_payment(applied.record, None, from_record=True) if applied.record else None
    if applied.duplicate:
        return WebhookOutcome(event=event, result="duplicate", payment=payment)
    if applied.entry is None:
        result = "ignored" if event.type is EventType.OTHER else "no_record"
        return WebhookOutcome(event=event, result=result, payment=payment)
    if applied.applied:
        return WebhookOutcome(event=event, result="applied", payment=payment)
    refused = applied.entry.note.startswith("refused")
    return WebhookOutcome(
        event=event, result="refused" if refused else "unchanged", payment=payment
    )
