"""Every decision of one call, as functions of what the gateway is made of (``Pipeline``) and
what the call has so far: none of them does I/O, so both gateway twins run the same ones.

A call, top to bottom (the loop itself is ``AsyncGateway._run`` and its generated twin):
validate and admit → derive the key → idempotency store → record guards → bulkhead → intent →
attempts (breaker → transport → adapter → schema → integrity) → payment record → settle the
idempotency store → return or raise.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx

from paygate import _integrity, _outcomes, _recording
from paygate._decision import Reach, decide
from paygate._outcomes import is_final
from paygate.adapters.base import ResponseContext, request_id_of
from paygate.adapters.failures import Context, Unread
from paygate.errors import (
    CardDeclinedError,
    DeclineReason,
    ErrorCode,
    IdempotencyConflict,
    IdempotencyInFlight,
    InvalidRequestError,
    InvalidWebhookError,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
    StoreUnavailable,
    TerminalError,
)
from paygate.gateway._pipeline import Pipeline
from paygate.idempotency import Begin, BeginResult, derive_key, fingerprint
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
    CompleteActionRequest,
    Operation,
    OperationRequest,
    Payment,
    PaymentStatus,
    Refund,
    RefundRequest,
    Result,
    RetrieveRequest,
    VoidRequest,
    WebhookEvent,
    amount_of,
    payment_id_of,
    source_of,
    validated,
)
from paygate.records import Intent, IntentKey, Locate, PaymentRecord, reconcile
from paygate.records.changes import Change
from paygate.records.store import ChangeFn, Declines
from paygate.resilience.deadline import Deadline
from paygate.resilience.policies import ReattemptPolicy
from paygate.resilience.retry import CallRetry
from paygate.resilience.transport_errors import from_transport_error
from paygate.telemetry import Watch, key_digest, log_fields
from paygate.transports import BodyError, BodyTooLarge

logger: Final = logging.getLogger("paygate")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated request with the key it travels under and its fingerprint; once it is about
    to be sent, the HTTP request every attempt sends and that request's digest."""

    request: OperationRequest
    key: str | None
    fingerprint: str | None
    http: httpx.Request | None = None
    digest: str | None = None  # None: a read, or a body with card data (never kept)
    record: PaymentRecord | None = None  # what a capture, void or refund was checked against
    # The intent this call's own replaced under its key: an earlier call's, ended without its
    # outcome recorded (its request may have reached the provider). See ``record_change``.
    earlier: Intent | None = None
    watch: Watch | None = None  # the call's events (None: nobody listens)

    @property
    def mutating(self) -> bool:
        return self.request.operation.is_mutating


Answered = tuple[Result, httpx.Response]  # an attempt's result, and the answer it was read from


def now() -> datetime:
    return datetime.now(UTC)


def _key(prepared: Prepared) -> str:
    """How a log line's text names the call's idempotency key: its digest (``key_digest``)."""
    return key_digest(prepared.key) if prepared.key is not None else "-"


def _fields(provider: str, prepared: Prepared, **more: Any) -> dict[str, Any]:
    """A log line's ``extra=`` fields for a call (``log_fields``)."""
    request = prepared.request
    return log_fields(
        provider,
        operation=request.operation.value,
        payment_id=payment_id_of(request),
        key=prepared.key,
        **more,
    )


def body_digest(request: httpx.Request) -> str:
    """SHA-256 of what the provider compares a repeat with: method, path and body (not the
    host, which a deployment may move, nor the headers, which carry the credentials)."""
    digest = hashlib.sha256(request.method.encode())
    digest.update(b" " + request.url.raw_path + b"\n")
    digest.update(request.content)
    return digest.hexdigest()


# -- before I/O --------------------------------------------------------------------------------
def checked_payment_id(p: Pipeline, payment_id: str) -> str:
    """``payment_id`` if it can name one of this provider's payments (a record lookup's
    argument, checked as an operation's is); ``InvalidRequestError`` otherwise."""
    p.adapter.capabilities.check(validated(RetrieveRequest, payment_id=payment_id))
    return payment_id


def admitted(
    p: Pipeline,
    request: OperationRequest,
    fingerprint: str | None = None,
    watch: Watch | None = None,
) -> Prepared:
    """A caller's request, checked against the provider's capabilities and the adapter's own
    rules, then the breaker, with
    its idempotency key settled: all before any I/O but a shared breaker state's read. Bad
    input is refused as such even while the breaker is open; an open breaker refuses before a
    key is derived. ``fingerprint``: a repeat's, as the call first had it (the request repeated
    may carry an amount paygate filled in). ``watch``: the call's events, if anyone listens."""
    p.adapter.capabilities.check(request)
    p.adapter.validate(request)  # the adapter's own rules, before the breaker and the stores
    p.breaker.check()
    prepared = prepare(p.provider, request)
    if watch is not None:
        watch.keyed(prepared.key)
        prepared = replace(prepared, watch=watch)
    if fingerprint is None or not prepared.mutating:
        return prepared
    return replace(prepared, fingerprint=fingerprint)


def prepare(provider: str, request: OperationRequest) -> Prepared:
    """``request`` with the key it travels under and its fingerprint."""
    if not request.operation.is_mutating:
        return Prepared(request, None, None)
    amount, payment_id, source = amount_of(request), payment_id_of(request), source_of(request)
    source_parts = source.fingerprint_parts() if source is not None else None
    key = request.idempotency_key or derive_key(
        request.operation.value,
        reference=request.reference,
        amount=str(amount.amount) if amount else None,
        currency=amount.currency if amount else None,
        payment_id=payment_id,
        source=source_parts,
        details=request.details if isinstance(request, CompleteActionRequest) else None,
    )
    fields = request.model_dump(mode="json", exclude={"idempotency_key", "source"})
    if source_parts is not None:
        fields["source"] = source_parts
    fields["provider"] = provider
    return Prepared(request, key, fingerprint(request.operation.value, fields))


def begun(provider: str, prepared: Prepared, begin: BeginResult) -> str | Result | None:
    """What the idempotency store's answer means: the lease token to proceed with, a stored
    result to return, or None to wait. A stored terminal error is raised; a conflicting key
    is refused."""
    if begin.outcome is Begin.PROCEED:
        assert begin.token is not None
        if begin.retaken:
            logger.warning(
                "%s idempotency key %s: took over a lapsed lease; the provider's own "
                "idempotency settles whatever the previous owner sent",
                provider,
                _key(prepared),
                extra=_fields(provider, prepared),
            )
        return begin.token
    if begin.outcome is Begin.REPLAY:
        assert begin.stored is not None
        logger.info(
            "%s idempotency key %s: replaying the stored outcome",
            provider,
            _key(prepared),
            extra=_fields(provider, prepared, outcome="replayed"),
        )
        if prepared.watch is not None:
            prepared.watch.replay()
        stored = _outcomes.decode(begin.stored)
        if isinstance(stored, PaymentError):
            raise stored
        return stored
    if begin.outcome is Begin.CONFLICT:
        raise IdempotencyConflict(
            f"idempotency key {prepared.key} was already used for a different "
            f"{prepared.request.operation.value} request; nothing was sent",
            provider=provider,
            idempotency_key=prepared.key,
        )
    return None


def store_unavailable(
    provider: str, prepared: Prepared, store: str, exc: Exception
) -> StoreUnavailable:
    logger.error(
        "%s %s store unavailable (%s); %s refused, nothing was sent",
        provider,
        store,
        type(exc).__name__,
        prepared.request.operation.value,
        extra=_fields(provider, prepared, outcome=ErrorCode.STORE_UNAVAILABLE.value),
    )
    return StoreUnavailable(
        f"the {store} store is unavailable ({type(exc).__name__}); nothing was sent",
        provider=provider,
        idempotency_key=prepared.key,
    )


def settle_failed(provider: str, prepared: Prepared) -> None:
    logger.exception(
        "%s idempotency key %s: the outcome could not be stored; the key stays leased until "
        "its lease lapses, and a repeat is then settled by the provider's replay",
        provider,
        _key(prepared),
        extra=_fields(provider, prepared),
    )


def lease_lost(provider: str, prepared: Prepared) -> None:
    logger.warning(
        "%s idempotency key %s: lease lost before completion",
        provider,
        _key(prepared),
        extra=_fields(provider, prepared),
    )


def in_flight(provider: str, prepared: Prepared) -> IdempotencyInFlight:
    return IdempotencyInFlight(
        f"another call with idempotency key {prepared.key} is still in flight; "
        "retry later with the same key",
        provider=provider,
        idempotency_key=prepared.key,
    )


def guarded(prepared: Prepared) -> bool:
    """Whether the payment record is read before the call: a capture, void or refund is
    checked against it. (A new payment has nothing to check; that no request leaves without a
    reachable record store is the intent's job.)"""
    return isinstance(
        prepared.request, CaptureRequest | VoidRequest | RefundRequest | CompleteActionRequest
    )


def checked(p: Pipeline, prepared: Prepared, record: PaymentRecord | None) -> Prepared:
    """Refuse, before any I/O, what the record says cannot succeed; fill amounts in."""
    request = _recording.checked(prepared.request, prepared.key, record, p.adapter.capabilities)
    return replace(prepared, request=request, record=record)


def sendable(p: Pipeline, prepared: Prepared) -> Prepared:
    """``prepared`` with the HTTP request every attempt sends (built once, so every attempt
    sends the same bytes) and, for a mutating call, its digest (None when the body holds card
    data)."""
    request = p.adapter.build_request(prepared.request, idempotency_key=prepared.key)
    source = source_of(prepared.request)
    keep = prepared.mutating and (source is None or source.card_details is None)
    return replace(prepared, http=request, digest=body_digest(request) if keep else None)


def intent(p: Pipeline, prepared: Prepared) -> Intent:
    """The intent written before a mutating call's request leaves."""
    assert prepared.key is not None
    lease = timedelta(seconds=p.idempotency.lease)
    return _recording.intent(
        p.provider, prepared.request, prepared.key, prepared.digest,
        fingerprint=prepared.fingerprint, now=now(), lease=lease,
    )  # fmt: skip


def wrote_intent(prepared: Prepared, replaced: Intent | None) -> Prepared:
    """``prepared`` once its intent is written, with the earlier call's it replaced, if any."""
    return prepared if replaced is None else replace(prepared, earlier=replaced)


def intent_key(provider: str, prepared: Prepared) -> IntentKey | None:
    """The intent a call's record change clears (None for a read, which writes none)."""
    return (provider, prepared.key) if prepared.key is not None else None


# -- reattempts on a declined card ---------------------------------------------------------------
# Declines no reattempt can turn (Visa's category 1: a lost, stolen, closed or unknown account, a
# card the transaction is not allowed on, a pick-up; Mastercard's advice 03 and 21).
_FINAL_REASONS: Final = frozenset(
    {
        DeclineReason.LOST_OR_STOLEN, DeclineReason.INVALID_ACCOUNT,
        DeclineReason.INCORRECT_NUMBER, DeclineReason.RESTRICTED_CARD,
        DeclineReason.FRAUD_SUSPECTED,
    }
)  # fmt: skip
_FINAL_NETWORK_ADVICE: Final = frozenset({"03", "21"})
_DAY: Final = timedelta(days=1)
_MONTH: Final = timedelta(days=30)


def card_of(prepared: Prepared) -> str | None:
    """The card a new payment is made with, as a digest that names it without its number
    (None for anything but an authorize or purchase, and for a redirect method: no card)."""
    request = prepared.request
    if not isinstance(request, AuthorizeRequest) or request.source.method is not None:
        return None
    return "card_" + fingerprint("card", request.source.fingerprint_parts())[:32]


def merchant_initiated(prepared: Prepared) -> bool:
    request = prepared.request
    credential = request.stored_credential if isinstance(request, AuthorizeRequest) else None
    return credential is not None and credential.initiator == "merchant"


def reattempt_refused(
    provider: str, prepared: Prepared, history: Declines, policy: ReattemptPolicy, at: datetime
) -> InvalidRequestError | None:
    """Why a merchant-initiated payment on a card with these declines would breach the card
    networks' caps (None when it would not): nothing is sent then."""
    day = sum(1 for when in history.at if when >= at - _DAY)
    why = None
    if history.final:
        why = "the card was declined for good (the network will never approve it)"
    elif day >= policy.max_per_day:
        why = f"the card was declined {day} times in the last 24 hours"
    elif len(history.at) >= policy.max_per_30_days:
        why = f"the card was declined {len(history.at)} times in the last 30 days"
    if why is None:
        return None
    return InvalidRequestError(
        f"{why}: a merchant-initiated reattempt would breach the card networks' caps; nothing "
        "was sent. Ask the customer for another card, or wait",
        code=ErrorCode.REATTEMPT_LIMITED,
        provider=provider,
        idempotency_key=prepared.key,
    )


def reattempt_window(at: datetime) -> datetime:
    """Since when a card's declines count."""
    return at - _MONTH


def decline_not_noted(provider: str, prepared: Prepared) -> None:
    logger.exception(
        "%s %s key=%s: the decline could not be counted against its card; the reattempt caps "
        "count one decline fewer",
        provider,
        prepared.request.operation.value,
        _key(prepared),
        extra=_fields(provider, prepared, outcome="declined"),
    )


def final_decline(error: CardDeclinedError) -> bool:
    """Whether no reattempt can turn this decline."""
    return error.reason in _FINAL_REASONS or error.network_advice_code in _FINAL_NETWORK_ADVICE


# -- attempts ----------------------------------------------------------------------------------
def new_retry(p: Pipeline, prepared: Prepared, deadline: Deadline) -> CallRetry:
    return CallRetry(
        p.retry,
        deadline,
        mutating=prepared.mutating,
        idempotent_replay=p.adapter.capabilities.idempotent_replay,
        on_retry=prepared.watch.retry if prepared.watch is not None else None,
    )


def attempt_began(prepared: Prepared) -> int:
    """When an attempt's exchange began (wall clock, ns), for its event; 0 when unwatched."""
    return time.time_ns() if prepared.watch is not None else 0


def attempted(
    p: Pipeline,
    prepared: Prepared,
    request: httpx.Request,
    began: int,
    answer: httpx.Response | Exception,
) -> None:
    """One attempt's exchange ended with ``answer`` (the response, or why there was none)."""
    watch = prepared.watch
    if watch is None:
        return
    elapsed = (time.time_ns() - began) / 1e9
    if isinstance(answer, httpx.Response):
        capabilities = p.adapter.capabilities
        watch.attempt(
            request, began, elapsed, status_code=answer.status_code,
            request_id=request_id_of(capabilities, answer.headers),
            request_id_header=capabilities.request_id_header,
        )  # fmt: skip
    else:
        watch.attempt(request, began, elapsed, status_code=None, error=answer)


def waiting(prepared: Prepared) -> None:
    """Another call holds the key: this one starts waiting for it."""
    if prepared.watch is not None:
        prepared.watch.waiting()


def attempt_request(p: Pipeline, prepared: Prepared, deadline: Deadline) -> httpx.Request:
    """The request one attempt sends, with the time the deadline leaves it."""
    if deadline.expired:
        # Nothing goes out; if an earlier attempt may have, CallRetry.finish says so.
        raise RetriableError(
            f"the call's deadline of {p.timeout.total}s passed before the next attempt",
            code=ErrorCode.TIMEOUT,
            provider=p.provider,
            idempotency_key=prepared.key,
        )
    request = prepared.http
    assert request is not None, "sendable() builds the request before any attempt"
    request.extensions["timeout"] = deadline.attempt_timeout(p.timeout)
    return request


def read_response(
    p: Pipeline, prepared: Prepared, response: httpx.Response
) -> Result | PaymentError:
    """The adapter's reading of the answer, then the integrity check; a failure either finds
    is decided here."""
    context = ResponseContext(request=prepared.request, idempotency_key=prepared.key)
    outcome = p.adapter.parse_response(response, context)
    if isinstance(outcome, Result):
        mismatch = _integrity.check(prepared.request, outcome, prepared.key, prepared.record)
        if mismatch is None:
            return outcome
        outcome = mismatch
    return decide(outcome, mutating=prepared.mutating, reach=Reach.ANSWERED)


def body_error(provider: str, prepared: Prepared, exc: BodyError) -> PaymentError:
    """An answer whose body paygate would not read (too large, or undecodable): on a mutating
    call the provider may have acted, so the outcome is unknown."""
    context = Context(
        provider=provider,
        message=f"{provider}'s answer {exc}; it was not read",
        idempotency_key=prepared.key,
    )
    unread = Unread(context, too_large=isinstance(exc, BodyTooLarge))
    return decide(unread, mutating=prepared.mutating, reach=Reach.ANSWERED)


def transport_error(provider: str, prepared: Prepared, exc: Exception) -> PaymentError:
    failure, reach = from_transport_error(exc, provider=provider, idempotency_key=prepared.key)
    return decide(failure, mutating=prepared.mutating, reach=reach)


def log_call(
    p: Pipeline,
    prepared: Prepared,
    elapsed: float,
    attempts: int,
    outcome: str,
    *,
    request_id: str | None = None,
    answer: httpx.Response | None = None,
) -> None:
    """The line a call's attempts end with. ``request_id``: the provider's id of the exchange
    that ended it, as its error carries it; else read from ``answer``, the response it ended
    with (only when the line is written: nothing is read otherwise)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    if answer is not None and request_id is None:
        request_id = request_id_of(p.adapter.capabilities, answer.headers)
    provider = p.provider
    logger.info(
        "%s %s %s key=%s attempts=%d outcome=%s elapsed_ms=%.1f",
        provider,
        prepared.request.operation.value,
        payment_id_of(prepared.request) or prepared.request.reference,
        _key(prepared),
        attempts,
        outcome,
        elapsed * 1000,
        extra=_fields(
            provider,
            prepared,
            outcome=outcome,
            attempts=attempts,
            elapsed=elapsed,
            request_id=request_id,
        ),
    )


# -- after the answer --------------------------------------------------------------------------
def stored_result(prepared: Prepared, result: Result) -> str | None:
    """What the idempotency store keeps for a call that succeeded: its result, but for a
    completed action that still awaits the shopper (their next step would otherwise replay
    this answer under the same key)."""
    awaiting = isinstance(result, Payment) and result.status is PaymentStatus.REQUIRES_ACTION
    if awaiting and isinstance(prepared.request, CompleteActionRequest):
        return None
    return _outcomes.encode_result(result)


def stored_outcome(error: PaymentError) -> str | None:
    """What the idempotency store keeps for a call that ended in ``error``: the provider's
    final answer (``is_final``); anything else leaves the key free for a repeat, which the
    provider's own idempotency then settles."""
    if isinstance(error, TerminalError) and is_final(error):
        return _outcomes.encode_error(error)
    return None


def record_locate(
    provider: str, prepared: Prepared, outcome: Result | PaymentError | None = None
) -> Locate:
    return _recording.locate(provider, prepared.request, prepared.key, outcome)


def record_change(
    provider: str, prepared: Prepared, outcome: Result | PaymentError
) -> tuple[Locate, ChangeFn]:
    """Where a call's outcome goes on the records, and how it changes them (a change that
    leaves the record alone still clears the call's intent).

    An outcome that leaves the record alone says that *this* call did nothing at the provider
    (nothing was sent, or the provider said it did nothing with it). When the call's intent
    replaced an earlier call's under the same key (``Prepared.earlier``: an answer that could
    not be recorded, a crash), that says nothing of the earlier request, which may well have
    been acted on: clearing the intent would leave no trace of it. The earlier call's outcome
    is kept unknown instead, as its intent would have been once its lease ended. (Any other
    outcome is the provider's account of the key, which replays the earlier request's answer,
    or keeps the key's outcome unknown itself.)"""
    change = _recording.change_for(
        provider, prepared.request, key=prepared.key, outcome=outcome, now=now(),
        body_digest=prepared.digest, fingerprint=prepared.fingerprint,
    )  # fmt: skip
    if change is None:
        if prepared.earlier is not None:
            logger.warning(
                "%s %s key=%s: this call did nothing at the provider, but the earlier call "
                "under its key ended without recording an outcome; that outcome is kept unknown",
                provider,
                prepared.request.operation.value,
                _key(prepared),
                extra=_fields(provider, prepared, outcome="unknown"),
            )
            return reconcile.lapsed(provider, prepared.earlier, repeated=True)
        return _NOWHERE, _no_change
    return record_locate(provider, prepared, outcome), change


_NOWHERE: Final = Locate()  # names no record: with ``_no_change``, nothing is written


def _no_change(record: PaymentRecord | None) -> Change | None:
    return None


def record_failed(provider: str, prepared: Prepared) -> None:
    logger.exception(
        "%s %s key=%s: the payment record could not be updated; the call's intent stays in "
        "the store and becomes an unknown outcome when its lease ends",
        provider,
        prepared.request.operation.value,
        _key(prepared),
        extra=_fields(provider, prepared),
    )


def interrupted(provider: str, prepared: Prepared, exc: BaseException) -> OutcomeUnknown:
    """What a call interrupted after its request may have left (a cancellation, a
    KeyboardInterrupt, a closed event loop, a bug) is recorded as: an unknown outcome."""
    logger.error(
        "%s %s key=%s: interrupted by %s after its request may have been sent; kept as an "
        "unknown outcome",
        provider,
        prepared.request.operation.value,
        _key(prepared),
        type(exc).__name__,
        extra=_fields(provider, prepared, outcome="unknown"),
    )
    return OutcomeUnknown(
        f"the call was interrupted ({type(exc).__name__}) after its request may have been sent",
        provider=provider,
        idempotency_key=prepared.key,
    )


def unrecorded(provider: str, prepared: Prepared, exc: Exception) -> OutcomeUnknown:
    """The provider answered, but its answer could not be recorded: the caller learns the
    outcome by repeating the call under its key (the provider replays it), and the intent,
    still in the store, makes it an unknown outcome there once its lease ends."""
    logger.error(
        "%s %s key=%s: the provider answered but the payment record could not be updated "
        "(%s); repeat the call under its key",
        provider,
        prepared.request.operation.value,
        _key(prepared),
        type(exc).__name__,
        extra=_fields(provider, prepared, outcome="unknown"),
    )
    return OutcomeUnknown(
        f"the provider answered, but the payment record could not be updated "
        f"({type(exc).__name__}); repeat the call with the same idempotency key",
        code=ErrorCode.STORE_UNAVAILABLE,
        provider=provider,
        idempotency_key=prepared.key,
    )


def answer(result: Result, record: PaymentRecord | None) -> Result:
    return _recording.public_result(result, record)


def reads_from_record(p: Pipeline) -> bool:
    """Whether reads are answered from the record (a provider that cannot be asked)."""
    return p.adapter.capabilities.needs_payment_record


def can_retrieve(p: Pipeline) -> bool:
    """Whether the provider can be asked for a payment (Adyen cannot)."""
    return Operation.RETRIEVE in p.adapter.capabilities.operations


def completed_action(prepared: Prepared, record: PaymentRecord | None) -> Payment | None:
    """For a completion of a shopper's action whose record already has its outcome (the
    provider's webhook named and settled it first): the payment as the record holds it, so
    the provider is asked nothing more. None otherwise."""
    if (
        not isinstance(prepared.request, CompleteActionRequest)
        or record is None
        or record.payment_id is None
        or record.pre_authorization is not PaymentStatus.REQUIRES_ACTION
        or record.status is PaymentStatus.REQUIRES_ACTION
        or record.unknown
    ):
        return None
    return _recording.to_payment(record, None, from_record=True)


def from_record(provider: str, prepared: Prepared, record: PaymentRecord | None) -> Payment:
    """A read answered from the record, for a provider that cannot be asked."""
    if record is None:
        raise TerminalError(
            f"paygate has no record of payment {payment_id_of(prepared.request)}"
            f", and {provider} cannot be asked for it",
            code=ErrorCode.NOT_FOUND,
            provider=provider,
        )
    return _recording.to_payment(record, None, from_record=True)


def result_payment_id(result: Result) -> str | None:
    """The payment a call's result is about."""
    return result.id if isinstance(result, Payment) else result.payment_id


def as_payment(result: Result) -> Payment:
    assert isinstance(result, Payment), "integrity check guarantees a Payment here"
    return result


def as_refund(result: Result) -> Refund:
    assert isinstance(result, Refund), "integrity check guarantees a Refund here"
    return result


# -- webhooks ----------------------------------------------------------------------------------
def webhook_events(
    p: Pipeline, headers: Mapping[str, str], body: bytes | str
) -> list[WebhookEvent]:
    """Verified, normalized events (``InvalidWebhookError`` when the delivery is not, or is
    larger than ``LimitsPolicy.webhook_body``: refused unread).

    ``body`` is the raw bytes received, or their text as a framework decoded it (UTF-8, which
    every provider sends; it is encoded back before the signature is checked, so a body decoded
    any other way fails verification). ``InvalidRequestError`` when the arguments are not a
    delivery at all: ``headers`` must be a mapping of names to values (a dict, or a framework's
    headers object).
    """
    _check_webhook_arguments(headers, body)
    if isinstance(body, str):
        body = _encoded(p.provider, body)
    if len(body) > p.limits.webhook_body:
        raise InvalidWebhookError(
            f"a webhook delivery of {len(body)} bytes is over the {p.limits.webhook_body}-byte "
            "limit; refused unread",
            code=ErrorCode.WEBHOOK_MALFORMED,
            provider=p.provider,
        )
    return p.adapter.parse_webhook(headers, body, now=p.clock.time())


def _encoded(provider: str, body: str) -> bytes:
    """A body given as text, as the bytes it was decoded from (UTF-8)."""
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no bytes a provider sent decode to it
        raise InvalidWebhookError(
            "a webhook body given as text holds characters UTF-8 cannot carry; refused",
            code=ErrorCode.WEBHOOK_MALFORMED,
            provider=provider,
        ) from None


def _check_webhook_arguments(headers: object, body: object) -> None:
    if not isinstance(body, bytes | str):
        raise InvalidRequestError(
            "a webhook body must be the raw bytes received (or their text), "
            f"not {type(body).__name__}"
        )
    items = getattr(headers, "items", None)
    if isinstance(headers, str | bytes) or not callable(items):
        raise InvalidRequestError(
            f"webhook headers must be a mapping of names to values, not {type(headers).__name__}"
        )
    for pair in items():
        if not (
            isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            raise InvalidRequestError("webhook header names and values must be strings")
