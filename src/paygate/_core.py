"""What the sync and async gateways share: every decision of a call, none of its I/O.

Flow of one call (see docs/index.md): validate → check capabilities → derive the idempotency
key → idempotency store → payment record guards → bulkhead → retry loop → circuit breaker →
transport → adapter → schema validation → integrity check → payment record → settle the
idempotency store → return or raise.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final

import httpx

from paygate import _integrity, _outcomes, _recording
from paygate._decision import Reach, decide
from paygate._outcomes import is_final
from paygate.adapters.base import Adapter, ResponseContext
from paygate.adapters.failures import Context, Unread
from paygate.errors import (
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
from paygate.idempotency import (
    Begin,
    BeginResult,
    IdempotencyStore,
    MemoryStore,
    derive_key,
    fingerprint,
)
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
    EventType,
    FindRequest,
    Operation,
    OperationRequest,
    Payment,
    PaymentSource,
    PaymentStatus,
    Refund,
    RefundRequest,
    Resolution,
    Result,
    RetrieveRequest,
    VoidRequest,
    WebhookEvent,
    WebhookOutcome,
    amount_of,
    payment_id_of,
    source_of,
    validated,
)
from paygate.money import Money
from paygate.records import (
    Intent,
    IntentKey,
    Locate,
    MemoryRecordStore,
    ModificationStatus,
    PaymentRecord,
    RecordStore,
    UnknownOperation,
)
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
from paygate.records.store import Applied, ChangeFn
from paygate.records.trail import CallCause, Cause, ResolverCause, WebhookCause
from paygate.resilience.breaker import Admission, CircuitBreaker, StateBackend
from paygate.resilience.deadline import Deadline
from paygate.resilience.policies import (
    BreakerPolicy,
    BulkheadPolicy,
    IdempotencyPolicy,
    LimitsPolicy,
    RetryPolicy,
    Timeout,
)
from paygate.resilience.retry import CallRetry
from paygate.resilience.transport_errors import from_transport_error
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

    @property
    def mutating(self) -> bool:
        return self.request.operation.is_mutating


@dataclass(frozen=True, slots=True)
class Replay:
    """How the resolver checks one unknown outcome: the request to send again under its key,
    or why there is none and whether that needs a person."""

    request: OperationRequest | None
    reason: str = ""
    escalate: bool = False


def body_digest(request: httpx.Request) -> str:
    """SHA-256 of what the provider compares a repeat with: method, path and body (not the
    host, which a deployment may move, nor the headers, which carry the credentials)."""
    digest = hashlib.sha256(request.method.encode())
    digest.update(b" " + request.url.raw_path + b"\n")
    digest.update(request.content)
    return digest.hexdigest()


class GatewayCore:
    """State and decisions shared by ``Gateway`` and ``AsyncGateway``."""

    def __init__(
        self,
        adapter: Adapter,
        *,
        store: IdempotencyStore | None = None,
        records: RecordStore | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        breaker_state: StateBackend | None = None,
        bulkhead: BulkheadPolicy | None = None,
        idempotency: IdempotencyPolicy | None = None,
        limits: LimitsPolicy | None = None,
    ) -> None:
        self.adapter = adapter
        self.store: IdempotencyStore = store if store is not None else MemoryStore()
        self._owns_store = store is None  # a store passed in may be shared: its owner closes it
        self.records: RecordStore = records if records is not None else MemoryRecordStore()
        self._owns_records = records is None
        self.timeout = timeout or Timeout()
        self.retry_policy = retry or RetryPolicy()
        self.bulkhead_policy = bulkhead or BulkheadPolicy()
        self.idempotency_policy = idempotency or IdempotencyPolicy()
        self.limits = limits or LimitsPolicy()
        # Shared breaker state (Redis) makes every instance see one provider's breaker open.
        self.breaker = CircuitBreaker(adapter.name, breaker or BreakerPolicy(), breaker_state)
        self._owns_breaker_state = False
        if self.idempotency_policy.lease <= self.timeout.total:
            raise ValueError(
                f"idempotency lease ({self.idempotency_policy.lease}s) must outlast the call "
                f"deadline ({self.timeout.total}s), or a live call's key could be taken over"
            )

    @property
    def provider(self) -> str:
        return self.adapter.name

    def _limits(self) -> httpx.Limits:
        size = self.bulkhead_policy.max_concurrent
        return httpx.Limits(max_connections=size, max_keepalive_connections=size)

    # -- requests ------------------------------------------------------------------------------
    @staticmethod
    def authorize_request(
        *,
        amount: Money,
        source: PaymentSource,
        reference: str,
        idempotency_key: str | None,
        description: str | None,
        metadata: dict[str, str] | None,
        capture: bool,
    ) -> AuthorizeRequest:
        return validated(
            AuthorizeRequest,
            amount=amount,
            source=source,
            reference=reference,
            idempotency_key=idempotency_key,
            description=description,
            metadata=metadata or {},
            capture=capture,
        )

    @staticmethod
    def capture_request(
        *, payment_id: str, amount: Money | None, reference: str | None, idempotency_key: str | None
    ) -> CaptureRequest:
        return validated(
            CaptureRequest,
            payment_id=payment_id,
            amount=amount,
            reference=reference,
            idempotency_key=idempotency_key,
        )

    @staticmethod
    def void_request(
        *, payment_id: str, reference: str | None, idempotency_key: str | None
    ) -> VoidRequest:
        return validated(
            VoidRequest, payment_id=payment_id, reference=reference, idempotency_key=idempotency_key
        )

    @staticmethod
    def refund_request(
        *,
        payment_id: str,
        amount: Money | None,
        reason: str | None,
        reference: str | None,
        idempotency_key: str | None,
    ) -> RefundRequest:
        return validated(
            RefundRequest,
            payment_id=payment_id,
            amount=amount,
            reason=reason,
            reference=reference,
            idempotency_key=idempotency_key,
        )

    @staticmethod
    def retrieve_request(*, payment_id: str) -> RetrieveRequest:
        return validated(RetrieveRequest, payment_id=payment_id)

    def checked_payment_id(self, payment_id: str) -> str:
        """``payment_id`` if it can name one of this provider's payments (a record lookup's
        argument, checked as an operation's is); ``InvalidRequestError`` otherwise."""
        self.adapter.capabilities.check(self.retrieve_request(payment_id=payment_id))
        return payment_id

    @staticmethod
    def find_request(*, reference: str, amount: Money | None) -> FindRequest:
        return validated(FindRequest, reference=reference, amount=amount)

    # -- before I/O ----------------------------------------------------------------------------
    def admitted(self, request: OperationRequest, fingerprint: str | None = None) -> Prepared:
        """A caller's request, checked against the provider's capabilities, then the breaker,
        with its idempotency key settled: all before any I/O but a shared breaker state's
        read. Bad input is refused as such even while the breaker is open; an open breaker
        refuses before a key is derived. ``fingerprint``: a repeat's, as the call first had it
        (the request repeated may carry an amount paygate filled in)."""
        self.adapter.capabilities.check(request)
        self.adapter.validate(request)  # the adapter's own rules, before the breaker and stores
        self.breaker.check()
        prepared = self.prepare(request)
        if fingerprint is None or not prepared.mutating:
            return prepared
        return replace(prepared, fingerprint=fingerprint)

    def prepare(self, request: OperationRequest) -> Prepared:
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
        )
        fields = request.model_dump(mode="json", exclude={"idempotency_key", "source"})
        if source_parts is not None:
            fields["source"] = source_parts
        fields["provider"] = self.provider
        return Prepared(request, key, fingerprint(request.operation.value, fields))

    def on_begin(self, prepared: Prepared, begun: BeginResult) -> str | Result | None:
        """The lease token to proceed with, a stored result to return, or None to wait.

        A stored terminal error is raised; a conflicting key is refused.
        """
        if begun.outcome is Begin.PROCEED:
            assert begun.token is not None
            if begun.retaken:
                logger.warning(
                    "idempotency key %s: took over a lapsed lease; the provider's own "
                    "idempotency settles whatever the previous owner sent",
                    prepared.key,
                )
            return begun.token
        if begun.outcome is Begin.REPLAY:
            assert begun.stored is not None
            logger.info("idempotency key %s: replaying the stored outcome", prepared.key)
            stored = _outcomes.decode(begun.stored)
            if isinstance(stored, PaymentError):
                raise stored
            return stored
        if begun.outcome is Begin.CONFLICT:
            raise IdempotencyConflict(
                f"idempotency key {prepared.key} was already used for a different "
                f"{prepared.request.operation.value} request; nothing was sent",
                provider=self.provider,
                idempotency_key=prepared.key,
            )
        return None

    def store_unavailable(self, prepared: Prepared, store: str, exc: Exception) -> StoreUnavailable:
        logger.error(
            "%s store unavailable (%s); %s refused, nothing was sent",
            store,
            type(exc).__name__,
            prepared.request.operation.value,
        )
        return StoreUnavailable(
            f"the {store} store is unavailable ({type(exc).__name__}); nothing was sent",
            provider=self.provider,
            idempotency_key=prepared.key,
        )

    @staticmethod
    def settle_failed(prepared: Prepared) -> None:
        logger.exception(
            "idempotency key %s: the outcome could not be stored; the key stays leased until "
            "its lease lapses, and a repeat is then settled by the provider's replay",
            prepared.key,
        )

    def in_flight_error(self, prepared: Prepared) -> IdempotencyInFlight:
        return IdempotencyInFlight(
            f"another call with idempotency key {prepared.key} is still in flight; "
            "retry later with the same key",
            provider=self.provider,
            idempotency_key=prepared.key,
        )

    def new_retry(self, prepared: Prepared, deadline: Deadline) -> CallRetry:
        return CallRetry(
            self.retry_policy,
            deadline,
            mutating=prepared.mutating,
            idempotent_replay=self.adapter.capabilities.idempotent_replay,
        )

    def sendable(self, prepared: Prepared) -> Prepared:
        """``prepared`` with the HTTP request every attempt sends (built once, so every attempt
        sends the same bytes) and, for a mutating call, its digest (None when the body holds
        card data)."""
        request = self.adapter.build_request(prepared.request, idempotency_key=prepared.key)
        source = source_of(prepared.request)
        keep = prepared.mutating and (source is None or source.card_details is None)
        return replace(prepared, http=request, digest=body_digest(request) if keep else None)

    def http_request(self, prepared: Prepared, deadline: Deadline) -> httpx.Request:
        if deadline.expired:
            # Nothing goes out; if an earlier attempt may have, CallRetry.finish says so.
            raise RetriableError(
                f"the call's deadline of {self.timeout.total}s passed before the next attempt",
                code=ErrorCode.TIMEOUT,
                provider=self.provider,
                idempotency_key=prepared.key,
            )
        request = prepared.http
        assert request is not None, "sendable() builds the request before any attempt"
        request.extensions["timeout"] = deadline.attempt_timeout(self.timeout)
        return request

    # -- intents ---------------------------------------------------------------------------------
    def intent(self, prepared: Prepared) -> Intent:
        """The intent written before a mutating call's request leaves."""
        assert prepared.key is not None
        lease = timedelta(seconds=self.idempotency_policy.lease)
        return _recording.intent(
            self.provider, prepared.request, prepared.key, prepared.digest,
            fingerprint=prepared.fingerprint, now=_now(), lease=lease,
        )  # fmt: skip

    def intent_key(self, prepared: Prepared) -> IntentKey | None:
        """The intent a call's record change clears (None for a read, which writes none)."""
        return (self.provider, prepared.key) if prepared.key is not None else None

    def lapsed(self, intent: Intent) -> tuple[Locate, ChangeFn]:
        """An intent whose lease ended with nothing recorded (the process stopped, or its
        record store failed): an unknown outcome from now on, due for a check at once."""
        now = _now()
        reason = (
            f"the {intent.operation.value} ended without recording an outcome (the process "
            f"stopped, or the record store failed); its request may have been sent at "
            f"{intent.since:%Y-%m-%d %H:%M:%S} UTC"
        )
        unknown = intent.as_unknown(now, reason)
        cause = CallCause(operation=intent.operation.value, idempotency_key=intent.idempotency_key)
        if intent.record_id is not None:
            assert intent.amount is not None
            amount = intent.amount

            def started(r: PaymentRecord | None) -> Change | None:
                return outcome_unknown(
                    r, unknown, amount=amount, provider=self.provider, cause=cause, now=now,
                    record_id=intent.record_id,
                )  # fmt: skip

            return Locate(record_id=intent.record_id), started

        def modified(r: PaymentRecord | None) -> Change | None:
            if r is None:
                return None  # a record a capture, void or refund is about always exists first
            return outcome_unknown(
                r, unknown, amount=r.amount, provider=self.provider, cause=cause, now=now
            )

        return Locate(provider=self.provider, payment_id=intent.payment_id), modified

    def interrupted(self, prepared: Prepared, exc: BaseException) -> OutcomeUnknown:
        """What a call interrupted after its request may have left (a cancellation, a
        KeyboardInterrupt, a closed event loop, a bug) is recorded as: an unknown outcome."""
        logger.error(
            "%s key=%s: interrupted by %s after its request may have been sent; kept as an "
            "unknown outcome",
            prepared.request.operation.value,
            prepared.key,
            type(exc).__name__,
        )
        return OutcomeUnknown(
            f"the call was interrupted ({type(exc).__name__}) after its request may have been sent",
            provider=self.provider,
            idempotency_key=prepared.key,
        )

    def unrecorded(self, prepared: Prepared, exc: Exception) -> OutcomeUnknown:
        """The provider answered, but its answer could not be recorded: the caller learns the
        outcome by repeating the call under its key (the provider replays it), and the intent,
        still in the store, makes it an unknown outcome there once its lease ends."""
        logger.error(
            "%s key=%s: the provider answered but the payment record could not be updated "
            "(%s); repeat the call under its key",
            prepared.request.operation.value,
            prepared.key,
            type(exc).__name__,
        )
        return OutcomeUnknown(
            f"the provider answered, but the payment record could not be updated "
            f"({type(exc).__name__}); repeat the call with the same idempotency key",
            code=ErrorCode.STORE_UNAVAILABLE,
            provider=self.provider,
            idempotency_key=prepared.key,
        )

    def admit(self) -> Admission | None:
        """Pass the circuit breaker for one attempt (``CircuitOpen`` when it is open)."""
        return self.breaker.admit()

    async def admit_async(self) -> Admission | None:
        """``admit``, with a shared breaker state's I/O awaited (``AsyncGateway``)."""
        return await self.breaker.admit_async()

    # -- after I/O -----------------------------------------------------------------------------
    @staticmethod
    def settle_attempt(admission: Admission | None, outcome: Result | PaymentError) -> Result:
        """Tell the breaker how the attempt went; return its result or raise its error."""
        if admission is not None:
            admission.record(outcome if isinstance(outcome, PaymentError) else None)
        if isinstance(outcome, PaymentError):
            raise outcome
        return outcome

    @staticmethod
    async def settle_attempt_async(
        admission: Admission | None, outcome: Result | PaymentError
    ) -> Result:
        """``settle_attempt``, with a shared breaker state's I/O awaited (``AsyncGateway``)."""
        if admission is not None:
            await admission.record_async(outcome if isinstance(outcome, PaymentError) else None)
        return GatewayCore.settle_attempt(None, outcome)

    def body_error(self, prepared: Prepared, exc: BodyError) -> PaymentError:
        """An answer whose body paygate would not read (too large, or undecodable): on a
        mutating call the provider may have acted, so the outcome is unknown."""
        context = Context(
            provider=self.provider,
            message=f"{self.provider}'s answer {exc}; it was not read",
            idempotency_key=prepared.key,
        )
        unread = Unread(context, too_large=isinstance(exc, BodyTooLarge))
        return decide(unread, mutating=prepared.mutating, reach=Reach.ANSWERED)

    def transport_error(self, prepared: Prepared, exc: Exception) -> PaymentError:
        failure, reach = from_transport_error(
            exc, provider=self.provider, idempotency_key=prepared.key
        )
        return decide(failure, mutating=prepared.mutating, reach=reach)

    def read_response(self, prepared: Prepared, response: httpx.Response) -> Result | PaymentError:
        """The adapter's reading of the answer, then the integrity check; a failure either
        finds is decided here."""
        context = ResponseContext(request=prepared.request, idempotency_key=prepared.key)
        outcome = self.adapter.parse_response(response, context)
        if isinstance(outcome, Result):
            mismatch = _integrity.check(prepared.request, outcome, prepared.key, prepared.record)
            if mismatch is None:
                return outcome
            outcome = mismatch
        return decide(outcome, mutating=prepared.mutating, reach=Reach.ANSWERED)

    @staticmethod
    def stored_outcome(error: PaymentError) -> str | None:
        """What the store keeps for a call that ended in ``error``: the provider's final answer
        (``is_final``); anything else leaves the key free for a repeat, which the provider's
        own idempotency then settles."""
        if isinstance(error, TerminalError) and is_final(error):
            return _outcomes.encode_error(error)
        return None

    @staticmethod
    def log_call(prepared: Prepared, started: float, attempts: int, outcome: str) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        logger.info(
            "%s %s key=%s attempts=%d outcome=%s elapsed_ms=%.1f",
            prepared.request.operation.value,
            payment_id_of(prepared.request) or prepared.request.reference,
            prepared.key,
            attempts,
            outcome,
            (time.monotonic() - started) * 1000,
        )

    # -- the payment record ----------------------------------------------------------------------
    def record_locate(
        self, prepared: Prepared, outcome: Result | PaymentError | None = None
    ) -> Locate:
        return _recording.locate(self.provider, prepared.request, prepared.key, outcome)

    @staticmethod
    def guarded(prepared: Prepared) -> bool:
        """Whether the payment record is read before the call: a capture, void or refund is
        checked against it. (A new payment has nothing to check; that no request leaves
        without a reachable record store is the intent's job.)"""
        return isinstance(prepared.request, CaptureRequest | VoidRequest | RefundRequest)

    def checked(self, prepared: Prepared, record: PaymentRecord | None) -> Prepared:
        """Refuse, before any I/O, what the record says cannot succeed; fill amounts in."""
        request = _recording.checked(
            prepared.request, prepared.key, record, self.adapter.capabilities
        )
        return replace(prepared, request=request, record=record)

    def record_change(
        self, prepared: Prepared, outcome: Result | PaymentError
    ) -> tuple[Locate, ChangeFn]:
        """Where a call's outcome goes on the records, and how it changes them (a change that
        leaves the record alone still clears the call's intent)."""
        change = _recording.change_for(
            self.provider, prepared.request, key=prepared.key, outcome=outcome, now=_now(),
            body_digest=prepared.digest, fingerprint=prepared.fingerprint,
        )  # fmt: skip
        if change is None:
            return _NOWHERE, _no_change
        return self.record_locate(prepared, outcome), change

    @staticmethod
    def record_failed(prepared: Prepared) -> None:
        logger.exception(
            "%s key=%s: the payment record could not be updated; the call's intent stays in "
            "the store and becomes an unknown outcome when its lease ends",
            prepared.request.operation.value,
            prepared.key,
        )

    @staticmethod
    def answer(result: Result, record: PaymentRecord | None) -> Result:
        return _recording.public_result(result, record)

    def from_record(self, prepared: Prepared, record: PaymentRecord | None) -> Payment:
        """A read answered from the record, for a provider that cannot be asked."""
        if record is None:
            raise TerminalError(
                f"paygate has no record of payment {payment_id_of(prepared.request)}"
                f", and {self.provider} cannot be asked for it",
                code=ErrorCode.NOT_FOUND,
                provider=self.provider,
            )
        return _recording.to_payment(record, None, from_record=True)

    @property
    def reads_from_record(self) -> bool:
        return self.adapter.capabilities.needs_payment_record

    @property
    def can_retrieve(self) -> bool:
        """Whether the provider can be asked for a payment (Adyen cannot)."""
        return Operation.RETRIEVE in self.adapter.capabilities.operations

    # -- webhooks --------------------------------------------------------------------------------
    def webhook_events(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Verified, normalized events (``InvalidWebhookError`` when the delivery is not, or
        is larger than ``LimitsPolicy.webhook_body``: refused unread).

        ``InvalidRequestError`` when the arguments are not a delivery at all: ``body`` must be
        the raw bytes received (a decoded or re-encoded body would not verify anyway), and
        ``headers`` a mapping of names to values (a dict, or a framework's headers object).
        """
        _check_webhook_arguments(headers, body)
        if len(body) > self.limits.webhook_body:
            raise InvalidWebhookError(
                f"a webhook delivery of {len(body)} bytes is over the "
                f"{self.limits.webhook_body}-byte limit; refused unread",
                code=ErrorCode.WEBHOOK_MALFORMED,
                provider=self.provider,
            )
        return self.adapter.parse_webhook(headers, body, now=time.time())

    def webhook_change(self, event: WebhookEvent) -> tuple[Locate, ChangeFn, tuple[str, str]]:
        cause = WebhookCause(
            provider=event.provider, event_id=event.event_id, event_type=event.provider_type
        )
        now = _now()

        def change(record: PaymentRecord | None) -> Change | None:
            return changes_apply_event(record, event, cause, now)

        locate = Locate(provider=self.provider, payment_id=event.payment_id)
        return locate, change, (event.provider, event.event_id)

    def orphan(
        self, candidates: list[PaymentRecord], reference: str | None, amount: Money | None
    ) -> tuple[PaymentRecord, UnknownOperation] | None:
        """The record of an authorize whose answer was lost before its payment id was known,
        for this reference and amount, if there is exactly one."""
        found = [
            (record, unknown)
            for record in candidates
            if record.provider == self.provider and record.payment_id is None
            for unknown in record.unknown
            if unknown.operation in _recording.NEW_PAYMENTS
            and unknown.reference == reference
            and (amount is None or unknown.amount == amount)
        ]
        return found[0] if len(found) == 1 else None

    def claimed_by(
        self, intents: list[Intent], event: WebhookEvent
    ) -> tuple[Locate, ChangeFn] | None:
        """Where an event about a payment paygate has no record of goes when a new payment's
        call is still waiting for its answer, for the same reference and amount (exactly one):
        the record that call will answer to, named by its key. Without this, the payment would
        start a record of its own, and the call's answer (or its unknown outcome) another."""
        claims = [
            intent
            for intent in intents
            if intent.provider == self.provider
            and intent.operation in _recording.NEW_PAYMENTS
            and intent.reference == event.reference
            and intent.amount == event.amount
        ]
        if len(claims) != 1 or claims[0].record_id is None:
            return None
        record_id = claims[0].record_id
        cause = WebhookCause(
            provider=event.provider, event_id=event.event_id, event_type=event.provider_type
        )
        now = _now()

        def change(record: PaymentRecord | None) -> Change | None:
            return changes_apply_event(record, event, cause, now, record_id)

        return Locate(record_id=record_id), change

    def adopting(
        self,
        orphan: tuple[PaymentRecord, UnknownOperation],
        payment_id: str,
        report: Callable[[PaymentRecord], Change | None],
        cause: Cause,
    ) -> tuple[Locate, ChangeFn]:
        record, unknown = orphan
        now = _now()

        def change(current: PaymentRecord | None) -> Change | None:
            if current is None or current.payment_id is not None:
                return None  # settled meanwhile by another path
            return adopt(
                current, payment_id=payment_id, key=unknown.idempotency_key, report=report,
                cause=cause, now=now,
            )  # fmt: skip

        return Locate(record_id=record.record_id), change

    def adopting_event(
        self, event: WebhookEvent, orphan: tuple[PaymentRecord, UnknownOperation]
    ) -> tuple[Locate, ChangeFn]:
        assert event.payment_id is not None
        cause = WebhookCause(
            provider=event.provider, event_id=event.event_id, event_type=event.provider_type
        )
        now = _now()

        def report(r: PaymentRecord) -> Change | None:
            change = changes_apply_event(r, event, cause, now)
            if change is None or not self.captured_with(orphan[1]):
                return change
            return captured_at_authorization(change, cause, now)

        return self.adopting(orphan, event.payment_id, report, cause)

    def captured_with(self, unknown: UnknownOperation) -> bool:
        """Whether settling ``unknown`` by the provider's report of its authorization means it
        was captured too (a purchase, on a provider that captures it then and says no more)."""
        purchase = unknown.operation is Operation.PURCHASE
        return purchase and self.adapter.capabilities.purchase_captured_at_authorization

    def adopting_found(
        self, found: Payment, orphan: tuple[PaymentRecord, UnknownOperation]
    ) -> tuple[Locate, ChangeFn]:
        unknown = orphan[1]
        cause = ResolverCause(
            operation=unknown.operation.value,
            idempotency_key=unknown.idempotency_key,
            attempt=unknown.attempts + 1,
        )
        now = _now()
        return self.adopting(orphan, found.id, lambda r: observe(r, found, cause, now), cause)

    def finds(self, record: PaymentRecord, unknown: UnknownOperation) -> FindRequest | None:
        """A search for the payment of a lost authorize answer, where the provider can search."""
        can_search = Operation.FIND in self.adapter.capabilities.operations
        if not can_search or record.payment_id is not None or unknown.reference is None:
            return None
        if unknown.operation not in _recording.NEW_PAYMENTS:
            return None
        return self.find_request(reference=unknown.reference, amount=unknown.amount)

    @staticmethod
    def webhook_outcome(event: WebhookEvent, applied: Applied | None) -> WebhookOutcome:
        if applied is None:
            return WebhookOutcome(event=event, result="no_record")
        return _recording.webhook_outcome(event, applied)

    # -- unknown outcomes ------------------------------------------------------------------------
    def replay_for(self, unknown: UnknownOperation) -> Replay:
        """How to check an unknown outcome: the call to repeat under the same key, exactly as it
        was first sent, or why there is none: not rebuildable (raw card data is never kept; an
        entry from before paygate kept every parameter), rebuilt to other bytes (the provider
        would refuse it as another request, or worse, act on it), or past the window in which
        the provider replays a key (repeating then could act twice)."""
        window = timedelta(seconds=self.adapter.capabilities.idempotency_window)
        if _now() - unknown.since >= window:
            return Replay(None, "past the provider's idempotency window: check it by hand", True)
        if not unknown.replayable:
            return Replay(None, "cannot be repeated (raw card data is never kept)")
        request = _recording.replay_request(unknown)
        if request is None:
            return Replay(None, "its parameters were not kept: check it by hand", True)
        rebuilt = self.sendable(self.prepare(request))
        if rebuilt.digest != unknown.body_digest:
            reason = (
                "it rebuilds to other bytes than were sent (the adapter's settings changed?): "
                "check it by hand"
            )
            return Replay(None, reason, True)
        return Replay(request)

    @staticmethod
    def looked_up(record: PaymentRecord, unknown: UnknownOperation, payment: Payment) -> str | None:
        """How the provider's own account of the payment (a retrieve, strongly consistent)
        settles an unknown capture, void or refund whose key holds a saved failure (a repeat
        only gets that failure again, and nothing under the key is still running); None when
        it cannot tell. A refund is told by the refunded total against the refunds the record
        knows, only when it is the payment's one unknown refund."""
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
        self, unknown: UnknownOperation, detail: str, *, by_report: bool = False
    ) -> ChangeFn:
        """Settle ``unknown`` on its record, if a check's answer has not done so already; when
        the provider's report of an authorization settles it (``by_report``), a purchase it
        captured then is recorded captured."""
        cause = ResolverCause(
            operation=unknown.operation.value,
            idempotency_key=unknown.idempotency_key,
            attempt=unknown.attempts + 1,
        )
        now, key = _now(), unknown.idempotency_key
        capture = by_report and self.captured_with(unknown)

        def change(r: PaymentRecord | None) -> Change | None:
            if r is None or all(u.idempotency_key != key for u in r.unknown):
                return None
            done = settled(r, key, cause, now)
            return captured_at_authorization(done, cause, now) if capture else done

        return change

    @staticmethod
    def unsettled_by(error: PaymentError) -> tuple[str, bool, bool]:
        """Why a check that ended in ``error`` (not the provider's final answer) left the
        outcome unknown, whether a person should look, and whether the check's own call already
        counted the attempt (it kept its own ``OutcomeUnknown`` on the record).

        A person should look at a refusal that is no account of the call: the credentials, a
        conflicting key, a local refusal, an answer from something that is not the provider.
        A retriable failure, a timeout or a 5xx is simply checked again later."""
        counted = isinstance(error, OutcomeUnknown)
        foreign = error.code is ErrorCode.UNEXPECTED_RESPONSE
        if foreign or isinstance(error, TerminalError):
            return f"refused: {error.code} ({error.message})", True, counted
        return error.message, False, counted

    @staticmethod
    def still_unknown(
        record: PaymentRecord,
        unknown: UnknownOperation,
        reason: str,
        *,
        escalate: bool = False,
        count: bool = True,
    ) -> ChangeFn:
        cause = ResolverCause(
            operation=unknown.operation.value,
            idempotency_key=unknown.idempotency_key,
            attempt=unknown.attempts + 1,
        )
        now = _now()
        log = logger.error if escalate else logger.warning
        log(
            "unknown %s of record %s (key %s) not settled%s: %s",
            unknown.operation.value,
            record.record_id,
            unknown.idempotency_key,
            " (escalated: needs a person)" if escalate else "",
            reason,
        )
        key = unknown.idempotency_key

        def change(r: PaymentRecord | None) -> Change | None:
            if r is None or all(u.idempotency_key != key for u in r.unknown):
                return None  # settled meanwhile
            return unsettled(r, key, cause, now, reason=reason, escalate=escalate, count=count)

        return change


_FAILED: Final = ModificationStatus.FAILED
_NOWHERE: Final = Locate()  # names no record: with ``_no_change``, nothing is written


def _no_change(record: PaymentRecord | None) -> Change | None:
    return None


# Events that can carry a payment paygate asked for but never heard the id of.
ADOPTING_EVENTS: Final = frozenset({EventType.AUTHORIZED, EventType.FAILED, EventType.CAPTURED})


def _now() -> datetime:
    return datetime.now(UTC)


def _check_webhook_arguments(headers: object, body: object) -> None:
    if not isinstance(body, bytes):
        raise InvalidRequestError(
            f"a webhook body must be the raw bytes received, not {type(body).__name__}"
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


def as_payment(result: Result) -> Payment:
    assert isinstance(result, Payment), "integrity check guarantees a Payment here"
    return result


def as_refund(result: Result) -> Refund:
    assert isinstance(result, Refund), "integrity check guarantees a Refund here"
    return result
