"""``Gateway``: the blocking twin. GENERATED from ``_async_gateway.py`` by
``python -m paygate._unasync``: do not edit; edit the async twin and regenerate.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import httpx

from paygate import _outcomes
from paygate._core import (
    ADOPTING_EVENTS,
    Prepared,
    _now,
    as_payment,
    as_refund,
    describe,
    logger,
    resolution,
)
from paygate._gateway_base import _BlockingIO
from paygate._outcomes import is_final
from paygate._recording import NEW_PAYMENTS
from paygate.adapters.base import Adapter
from paygate.errors import PaymentError
from paygate.idempotency import BeginResult
from paygate.models import (
    OperationRequest,
    Payment,
    PaymentSource,
    Refund,
    Resolution,
    Result,
    WebhookEvent,
    WebhookOutcome,
    payment_id_of,
)
from paygate.money import Money
from paygate.records import AuditEntry, Locate, PaymentRecord, UnknownOperation
from paygate.resilience.breaker import saved_failure
from paygate.resilience.bulkhead import Bulkhead
from paygate.resilience.deadline import Deadline
from paygate.resilience.transport_errors import PHASES
from paygate.transports import BodyError, ProviderClient

__all__ = ["Gateway"]

T = TypeVar("T")
RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]
_TRANSPORT_ERRORS = tuple(PHASES)


class Gateway(_BlockingIO):
    """The blocking gateway. Thread-safe; use one per provider and reuse it."""

    def __init__(
        self,
        adapter: Adapter,
        *,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        **policies: Any,
    ) -> None:
        super().__init__(adapter, **policies)
        self._owns_client = client is None
        self._client = client or ProviderClient(
            transport=transport, limits=self._limits(), follow_redirects=False
        )
        self._bulkhead = Bulkhead(self.provider, self.bulkhead_policy)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
        if self._owns_store:
            self._store_call(self.store.close)
        if self._owns_records:
            self._records(self.records.close)
        if self._owns_breaker_state:
            self._close_breaker_state()

    # -- operations ----------------------------------------------------------------------------
    def authorize(
        self,
        amount: Money,
        *,
        source: PaymentSource,
        reference: str,
        idempotency_key: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Payment:
        """Hold ``amount`` on the source, to capture later."""
        request = self.authorize_request(
            amount=amount,
            source=source,
            reference=reference,
            idempotency_key=idempotency_key,
            description=description,
            metadata=metadata,
            capture=False,
        )
        return as_payment(self._run(request))

    def purchase(
        self,
        amount: Money,
        *,
        source: PaymentSource,
        reference: str,
        idempotency_key: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Payment:
        """Authorize and capture ``amount`` in one step."""
        request = self.authorize_request(
            amount=amount,
            source=source,
            reference=reference,
            idempotency_key=idempotency_key,
            description=description,
            metadata=metadata,
            capture=True,
        )
        return as_payment(self._run(request))

    def capture(
        self,
        payment_id: str,
        *,
        amount: Money | None = None,
        reference: str | None = None,
        idempotency_key: str | None = None,
    ) -> Payment:
        """Capture an authorized payment: all of it, or ``amount`` of it."""
        request = self.capture_request(
            payment_id=payment_id,
            amount=amount,
            reference=reference,
            idempotency_key=idempotency_key,
        )
        return as_payment(self._run(request))

    def void(
        self, payment_id: str, *, reference: str | None = None, idempotency_key: str | None = None
    ) -> Payment:
        """Release an authorization that was not captured."""
        request = self.void_request(
            payment_id=payment_id, reference=reference, idempotency_key=idempotency_key
        )
        return as_payment(self._run(request))

    def refund(
        self,
        payment_id: str,
        *,
        amount: Money | None = None,
        reason: RefundReason | None = None,
        reference: str | None = None,
        idempotency_key: str | None = None,
    ) -> Refund:
        """Refund a captured payment: what remains, or ``amount`` of it."""
        request = self.refund_request(
            payment_id=payment_id,
            amount=amount,
            reason=reason,
            reference=reference,
            idempotency_key=idempotency_key,
        )
        return as_refund(self._run(request))

    def retrieve(self, payment_id: str) -> Payment:
        """The payment's current state at the provider."""
        return as_payment(self._run(self.retrieve_request(payment_id=payment_id)))

    def find(self, reference: str, *, amount: Money | None = None) -> Payment:
        """The newest payment made with your ``reference`` (and ``amount``), where the
        provider can search; ``TerminalError`` with code ``not_found`` when there is none."""
        return as_payment(self._run(self.find_request(reference=reference, amount=amount)))

    # -- records, webhooks, unknown outcomes ------------------------------------------------------
    def payment_record(self, payment_id: str) -> PaymentRecord | None:
        """paygate's record of a payment, by the provider's payment id."""
        payment_id = self.checked_payment_id(payment_id)
        return self._records(self.records.find, self.provider, payment_id)

    def audit_trail(self, payment_id: str) -> list[AuditEntry]:
        """Every change of the payment's record, oldest first (hash-chained)."""
        record = self.payment_record(payment_id)
        if record is None:
            return []
        return self._records(self.records.trail, record.record_id)

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookOutcome]:
        """Verify a provider's webhook delivery and apply its events to the payment records.

        Raises ``InvalidWebhookError`` (answer 400) for a forged, stale or malformed delivery;
        nothing is applied then. Each event is applied at most once, whatever the provider
        resends; an older event never moves a payment backwards (it is kept in the trail).
        """
        return [self._apply_event(event) for event in self.webhook_events(headers, body)]

    def _apply_event(self, event: WebhookEvent) -> WebhookOutcome:
        if event.payment_id is None:
            return self.webhook_outcome(event, None)
        locate, change, seen = self.webhook_change(event)
        if event.type in ADOPTING_EVENTS and self._records(self.records.lookup, locate) is None:
            # Intents first: a call's intent turns into its unknown outcome in one transaction,
            # never back, so what is in neither read was in neither store.
            in_flight = self._records(self.records.intents)
            unknown = self._records(self.records.with_unknown)
            orphan = self.orphan(unknown, event.reference, event.amount)
            if orphan is not None:
                locate, change = self.adopting_event(event, orphan)
            else:  # the call that made it may still be waiting for its answer
                claimed = self.claimed_by(in_flight, event)
                if claimed is not None:
                    locate, change = claimed
        applied = self._records(self.records.apply, locate, change, event=seen)
        return self.webhook_outcome(event, applied)

    def unknown_payments(self) -> list[PaymentRecord]:
        """Records holding a call whose outcome is still unknown, those of calls that ended
        without recording anything (a crash, once their lease ended) included."""
        self._adopt_lapsed()
        return self._records(self.records.with_unknown)

    def resolve_unknown(self, *, due_by: datetime | None = None) -> list[Resolution]:
        """Settle every unknown outcome that is due for a check (safe from a periodic job), on
        the provider's own account of each call only: repeat the call under its own key,
        exactly as it was sent, while the provider still replays it, and apply the answer. A
        refusal that is not the provider's answer about the call (credentials, a conflicting
        key, a foreign answer) settles nothing: the outcome stays unknown, escalated. What
        stays unknown is checked again later, backing off. ``due_by`` checks those due by then
        instead of now (to settle everything at once)."""
        self._adopt_lapsed()
        due = due_by or _now()
        resolutions = []
        for record in self._records(self.records.with_unknown, due):
            for unknown in record.unknown:
                if unknown.next_check_at <= due:
                    resolutions.append(self._resolve(record, unknown))
        return resolutions

    def _adopt_lapsed(self) -> None:
        """Turn every intent whose lease ended into an unknown outcome on its record."""
        for intent in self._records(self.records.intents, _now()):
            if intent.provider != self.provider:
                continue
            locate, change = self.lapsed(intent)
            key = (intent.provider, intent.idempotency_key)
            self._records(self.records.apply, locate, change, intent=key, needs_intent=True)

    def _resolve(self, record: PaymentRecord, unknown: UnknownOperation) -> Resolution:
        if unknown.operation in NEW_PAYMENTS and record.payment_id is not None:
            # The provider's own report (a webhook) named this key's payment while the call
            # was waiting for its answer: the record already holds it.
            detail = f"found {record.payment_id}"
            settle = self.settle(unknown, detail, by_report=True)
            self._records(self.records.apply, Locate(record_id=record.record_id), settle)
            return resolution(record, unknown, settled=True, detail=detail)
        replay = self.replay_for(unknown)
        if replay.request is None:
            found = self._found(record, unknown)
            if found is not None:
                return found
            return self._still_unknown(record, unknown, replay.reason, replay.escalate)
        try:
            result = self._run(replay.request, fingerprint=unknown.fingerprint)
        except PaymentError as error:
            if saved_failure(error):  # the key holds a failure: ask for the payment instead
                looked = self._looked_up(record, unknown)
                if looked is not None:
                    return looked
            if not is_final(error):
                return self._still_unknown(record, unknown, *self.unsettled_by(error))
            detail = f"refused: {error.code}"
        else:
            detail = describe(result)
        # The call's own record change settled it, unless the answer came from the idempotency
        # store (an earlier call under the key completed) or went to the record a webhook had
        # started for the payment: settle it here then.
        self._records(
            self.records.apply, Locate(record_id=record.record_id), self.settle(unknown, detail)
        )
        return resolution(record, unknown, settled=True, detail=detail)

    def _still_unknown(
        self,
        record: PaymentRecord,
        unknown: UnknownOperation,
        reason: str,
        escalate: bool,
        counted: bool = False,
    ) -> Resolution:
        """Keep ``unknown`` with the reason, backing off (unless the check's own call already
        counted it), escalated when a person should look."""
        if escalate or not counted:
            change = self.still_unknown(
                record, unknown, reason, escalate=escalate, count=not counted
            )
            self._records(self.records.apply, Locate(record_id=record.record_id), change)
        return resolution(record, unknown, settled=False, detail=reason, escalated=escalate)

    def _looked_up(self, record: PaymentRecord, unknown: UnknownOperation) -> Resolution | None:
        """Settle an unknown outcome from the provider's own account of the payment, where it
        can be asked: a new payment found by its reference, a capture, void or refund told by
        the payment as the provider reports it now. None when that cannot tell."""
        if unknown.operation in NEW_PAYMENTS:
            return self._found(record, unknown)
        if record.payment_id is None or not self.can_retrieve:
            return None
        try:
            payment = as_payment(self._run(self.retrieve_request(payment_id=record.payment_id)))
            now = self._records(self.records.get, record.record_id)
        except PaymentError:
            return None
        detail = None if now is None else self.looked_up(now, unknown, payment)
        if detail is None:
            return None
        locate = Locate(record_id=record.record_id)
        self._records(self.records.apply, locate, self.settle(unknown, detail))
        return resolution(record, unknown, settled=True, detail=detail)

    def _found(self, record: PaymentRecord, unknown: UnknownOperation) -> Resolution | None:
        """Settle a lost authorize answer by finding its payment by reference, where the
        provider can search; None when it cannot, or nothing (new) is found yet."""
        search = self.finds(record, unknown)
        if search is None:
            return None
        try:
            found = as_payment(self._run(search))
        except PaymentError:
            return None
        if self._records(self.records.find, self.provider, found.id) is not None:
            return None  # an earlier attempt's payment, already on its own record
        locate, change = self.adopting_found(found, (record, unknown))
        self._records(self.records.apply, locate, change)
        return resolution(record, unknown, settled=True, detail=f"found {found.id}")

    # -- the call ------------------------------------------------------------------------------
    def _run(self, request: OperationRequest, *, fingerprint: str | None = None) -> Result:
        self._own_loop()
        prepared = self.admitted(request, fingerprint)
        with Deadline(self.timeout.total) as deadline:  # the wall: stores and sockets too
            if not prepared.mutating:
                return self._read(prepared, deadline)
            return self._mutate(prepared, deadline)

    def _mutate(self, prepared: Prepared, deadline: Deadline) -> Result:
        begun = self._begin(prepared, deadline)
        if not isinstance(begun, str):
            return begun
        stored: str | None = None
        try:
            if self.guarded(prepared):
                prepared = self.checked(prepared, self._guard_record(prepared, deadline))
            with self._bulkhead.slot(deadline.remaining()):
                prepared = self.sendable(prepared)
                self._write_intent(prepared)
                try:  # from here on, the request may leave: every way out is recorded
                    outcome = self._send(prepared, deadline)
                except PaymentError as error:
                    self._record(prepared, error)
                    raise
                except BaseException as exc:
                    self._shielded(self._record(prepared, self.interrupted(prepared, exc)))
                    raise
            result = self.answer(outcome, self._record(prepared, outcome, strict=True))
            stored = _outcomes.encode_result(result)
            return result
        except PaymentError as error:
            stored = self.stored_outcome(error)
            raise
        finally:
            self._settle(prepared, begun, stored)

    def _guard_record(self, prepared: Prepared, deadline: Deadline) -> PaymentRecord | None:
        """The record a call is checked against. A capture, void or refund of a payment paygate
        has no record of is first read from the provider, where it can be asked, so that its
        outcome, known or unknown, always has a record to go on."""
        locate = self.record_locate(prepared)
        try:
            record = self._records(self.records.lookup, locate)
        except Exception as exc:  # fail closed: the record's guards cannot be checked
            raise self.store_unavailable(prepared, "payment record", exc) from exc
        payment_id = payment_id_of(prepared.request)
        if record is not None or payment_id is None or not self.can_retrieve:
            return record
        retrieve = self.prepare(self.retrieve_request(payment_id=payment_id))
        self._read(retrieve, deadline)
        try:
            return self._records(self.records.lookup, locate)
        except Exception as exc:
            raise self.store_unavailable(prepared, "payment record", exc) from exc

    def _write_intent(self, prepared: Prepared) -> None:
        try:
            self._records(self.records.write_intent, self.intent(prepared))
        except Exception as exc:  # fail closed: never a request that leaves no trace
            raise self.store_unavailable(prepared, "payment record", exc) from exc

    def _read(self, prepared: Prepared, deadline: Deadline) -> Result:
        if self.reads_from_record:
            record = self._records(self.records.lookup, self.record_locate(prepared))
            return self.from_record(prepared, record)
        with self._bulkhead.slot(deadline.remaining()):
            result = self._send(self.sendable(prepared), deadline)
        self._record(prepared, result)
        return result

    def _record(
        self, prepared: Prepared, outcome: Result | PaymentError, *, strict: bool = False
    ) -> PaymentRecord | None:
        """Apply a call's outcome to its record and clear its intent, in one transaction. When
        that fails the intent stays, and becomes an unknown outcome when its lease ends; the
        failure is logged, or with ``strict`` raised as ``OutcomeUnknown``: an answer the
        provider gave is never reported as a success paygate did not record."""
        locate, change = self.record_change(prepared, outcome)
        try:
            applied = self._records(
                self.records.apply, locate, change, intent=self.intent_key(prepared)
            )
        except Exception as exc:
            if strict:
                raise self.unrecorded(prepared, exc) from exc
            self.record_failed(prepared)
            return None
        return applied.record

    def _begin(self, prepared: Prepared, deadline: Deadline) -> str | Result:
        assert prepared.key is not None and prepared.fingerprint is not None
        policy = self.idempotency_policy
        give_up = time.monotonic() + min(policy.in_flight_wait, deadline.remaining())
        while True:
            try:
                begun: BeginResult = self._store_call(
                    self.store.begin, prepared.key, prepared.fingerprint, lease_seconds=policy.lease
                )
            except Exception as exc:  # fail closed: never a provider call without a key
                raise self.store_unavailable(prepared, "idempotency", exc) from exc
            decided = self.on_begin(prepared, begun)
            if decided is not None:
                return decided
            if time.monotonic() >= give_up:
                raise self.in_flight_error(prepared)
            self._sleep(policy.poll_interval)

    def _settle(self, prepared: Prepared, token: str, stored: str | None) -> None:
        assert prepared.key is not None
        try:
            if stored is None:
                self._store_call(self.store.release, prepared.key, token)
            elif not self._store_call(self.store.complete, prepared.key, token, stored):
                logger.warning("idempotency key %s: lease lost before completion", prepared.key)
        except Exception:  # the provider's answer stands; the lease lapses and a repeat settles
            self.settle_failed(prepared)

    def _send(self, prepared: Prepared, deadline: Deadline) -> Result:
        retry = self.new_retry(prepared, deadline)
        started = time.monotonic()
        try:
            try:
                result: Result = self._attempt(prepared, deadline)
            except PaymentError as first:
                wait = retry.first_failure(first)
                if wait is None:
                    raise
                self._sleep(wait)
                result = retry.retrying()(self._attempt, prepared, deadline)
        except PaymentError as error:
            final = retry.finish(error)
            self.log_call(prepared, started, retry.attempts, final.code.value)
            if final is error:
                raise
            raise final from error
        self.log_call(prepared, started, retry.attempts, "ok")
        return result

    def _attempt(self, prepared: Prepared, deadline: Deadline) -> Result:
        admission = self.admit()  # refused before anything is built
        try:
            try:
                response = self._exchange(self.http_request(prepared, deadline), deadline)
            except _TRANSPORT_ERRORS as exc:
                outcome: Result | PaymentError = self.transport_error(prepared, exc)
            except BodyError as exc:
                outcome = self.body_error(prepared, exc)
            else:
                outcome = self.read_response(prepared, response)
        except BaseException:  # a bug or a cancellation: no outcome to count
            if admission is not None:
                admission.abandon()
            raise
        return self.settle_attempt(admission, outcome)
