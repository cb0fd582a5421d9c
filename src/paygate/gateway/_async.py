"""``AsyncGateway``: the call loop, top to bottom, and the loops of webhooks and the resolver.

Every decision is a function of ``_steps`` (a call) or ``records.reconcile`` (the records);
the I/O verbs are ``AsyncPrimitives``'. The asyncio twin (``_async.py``) is the hand-written
one; the blocking twin (``_sync.py``) is generated from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, Unpack

import httpx
import tenacity

from paygate._primitives import AsyncPrimitives, AsyncSender
from paygate.adapters.base import Adapter
from paygate.errors import CardDeclinedError, PaymentError
from paygate.gateway import _steps as steps
from paygate.gateway._async_janitor import AsyncJanitor
from paygate.gateway._async_reconciler import AsyncReconciler
from paygate.gateway._constructors import Constructors
from paygate.gateway._gauges import GatewayGauges
from paygate.gateway._options import PolicyOptions, checked
from paygate.gateway._pipeline import Pipeline
from paygate.gateway._steps import Prepared, as_payment, as_refund
from paygate.idempotency import BeginResult, IdempotencyStore
from paygate.models import (
    AuthorizeRequest,
    BrowserInfo,
    CaptureRequest,
    CompleteActionRequest,
    FindRequest,
    OperationRequest,
    Payment,
    PaymentSource,
    Refund,
    RefundRequest,
    Resolution,
    Result,
    RetrieveRequest,
    StoredCredential,
    VoidRequest,
    WebhookOutcome,
    payment_id_of,
    validated,
)
from paygate.money import Money
from paygate.records import AuditEntry, PaymentRecord, RecordStore
from paygate.records.store import locate_payment
from paygate.resilience.breaker import CircuitBreaker
from paygate.resilience.bulkhead import AsyncBulkhead
from paygate.resilience.deadline import Deadline
from paygate.resilience.policies import JanitorPolicy
from paygate.resilience.transport_errors import PHASES
from paygate.telemetry import GatewayClosed, GatewayOpened, Watch
from paygate.transports import BodyError

__all__ = ["AsyncGateway"]

T = TypeVar("T")
RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]
_TRANSPORT_ERRORS = tuple(PHASES)


class AsyncGateway(Constructors):
    """The asyncio gateway: the same operations as ``Gateway``, awaited."""

    def __init__(
        self,
        adapter: Adapter,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **policies: Unpack[PolicyOptions],
    ) -> None:
        self._pipeline = p = Pipeline(adapter, **checked(policies))
        self._sender = AsyncSender(client, transport, p.http_limits(), p.http.backend)
        self._bulkhead = AsyncBulkhead(p.provider, p.bulkhead)
        self._io = AsyncPrimitives(p.clock)
        self._keys = self._io.keys(p.store)  # the idempotency store, as it is called
        self._recs = self._io.record_calls(p.records)  # the call path's record store calls
        self._joint = self._io.settling(p.store, self._recs)  # both stores on one database
        self._reconciler = AsyncReconciler(p, self._io, self._run)
        self._gauges = GatewayGauges(p, self._bulkhead)
        if p.telemetry.on:
            p.telemetry.emit(GatewayOpened(self._gauges))

    def __repr__(self) -> str:
        """The provider and where it is reached (its adapter's repr: no secret in it)."""
        return f"paygate.AsyncGateway({self.adapter!r})"

    # -- accessors -----------------------------------------------------------------------------
    @property
    def provider(self) -> str:
        """The provider's name (``"stripe"``)."""
        return self._pipeline.provider

    @property
    def adapter(self) -> Adapter:
        """The provider's adapter."""
        return self._pipeline.adapter

    @property
    def store(self) -> IdempotencyStore:
        """The idempotency store."""
        return self._pipeline.store

    @property
    def records(self) -> RecordStore:
        """The payment record store."""
        return self._pipeline.records

    @property
    def breaker(self) -> CircuitBreaker:
        """The provider's circuit breaker (``breaker.state``)."""
        return self._pipeline.breaker

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        p = self._pipeline
        if p.telemetry.on:
            p.telemetry.emit(GatewayClosed(self._gauges))
        await self._sender.aclose()
        await self._io.close_keys(self._keys, p.store, owned=p.owns_store)
        await self._io.close_records(self._recs, p.records, owned=p.owns_records)
        if p.owns_breaker_state:
            await self._io.close_breaker_state(p.breaker.backend)

    # -- operations ----------------------------------------------------------------------------
    async def authorize(
        self,
        amount: Money,
        *,
        source: PaymentSource,
        reference: str,
        idempotency_key: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        return_url: str | None = None,
        stored_credential: StoredCredential | None = None,
        browser: BrowserInfo | None = None,
    ) -> Payment:
        """Hold ``amount`` on the source, to capture later. A card that needs 3-D Secure (or a
        redirect method) answers ``requires_action`` with its ``next_action``; the shopper
        comes back to ``return_url`` (else the adapter's), then ``complete_action``.
        ``stored_credential``: a payment with a stored payment method, or the first of a
        series that stores one (who initiated it and why). ``browser``: the shopper's browser,
        for 3-D Secure 2 in the page where the provider runs it so (Adyen)."""
        request = validated(
            AuthorizeRequest,
            amount=amount,
            source=source,
            reference=reference,
            idempotency_key=idempotency_key,
            description=description,
            metadata=metadata or {},
            return_url=return_url,
            stored_credential=stored_credential,
            browser=browser,
            capture=False,
        )
        return as_payment(await self._run(request))

    async def purchase(
        self,
        amount: Money,
        *,
        source: PaymentSource,
        reference: str,
        idempotency_key: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        return_url: str | None = None,
        stored_credential: StoredCredential | None = None,
        browser: BrowserInfo | None = None,
    ) -> Payment:
        """Authorize and capture ``amount`` in one step (``requires_action`` as ``authorize``)."""
        request = validated(
            AuthorizeRequest,
            amount=amount,
            source=source,
            reference=reference,
            idempotency_key=idempotency_key,
            description=description,
            metadata=metadata or {},
            return_url=return_url,
            stored_credential=stored_credential,
            browser=browser,
            capture=True,
        )
        return as_payment(await self._run(request))

    async def capture(
        self,
        payment_id: str,
        *,
        amount: Money | None = None,
        reference: str | None = None,
        idempotency_key: str | None = None,
    ) -> Payment:
        """Capture an authorized payment: all of it, or ``amount`` of it."""
        request = validated(
            CaptureRequest,
            payment_id=payment_id,
            amount=amount,
            reference=reference,
            idempotency_key=idempotency_key,
        )
        return as_payment(await self._run(request))

    async def void(
        self, payment_id: str, *, reference: str | None = None, idempotency_key: str | None = None
    ) -> Payment:
        """Release an authorization that was not captured."""
        request = validated(
            VoidRequest, payment_id=payment_id, reference=reference, idempotency_key=idempotency_key
        )
        return as_payment(await self._run(request))

    async def complete_action(
        self,
        payment_id: str,
        *,
        details: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Payment:
        """Go on with a payment in ``requires_action`` once the shopper has acted (3-D Secure,
        a redirect): ``details`` are what the front end got back (Adyen: ``redirectResult``
        or ``threeDSResult``; Stripe: none). Authorized (or captured, for a purchase), or
        ``requires_action`` again with the next step; a failed authentication raises
        ``CardDeclinedError``. Repeating it under the same key replays the answer."""
        request = validated(
            CompleteActionRequest,
            payment_id=payment_id,
            details=details or {},
            idempotency_key=idempotency_key,
        )
        return as_payment(await self._run(request))

    async def refund(
        self,
        payment_id: str,
        *,
        amount: Money | None = None,
        reason: RefundReason | None = None,
        reference: str | None = None,
        idempotency_key: str | None = None,
    ) -> Refund:
        """Refund a captured payment: what remains, or ``amount`` of it."""
        request = validated(
            RefundRequest,
            payment_id=payment_id,
            amount=amount,
            reason=reason,
            reference=reference,
            idempotency_key=idempotency_key,
        )
        return as_refund(await self._run(request))

    async def retrieve(self, payment_id: str) -> Payment:
        """The payment's current state at the provider."""
        return as_payment(await self._run(validated(RetrieveRequest, payment_id=payment_id)))

    async def find(self, reference: str, *, amount: Money | None = None) -> Payment:
        """The newest payment made with your ``reference`` (and ``amount``), where the
        provider can search; ``TerminalError`` with code ``not_found`` when there is none."""
        request = validated(FindRequest, reference=reference, amount=amount)
        return as_payment(await self._run(request))

    # -- records, webhooks, unknown outcomes ------------------------------------------------------
    async def payment_record(self, payment_id: str) -> PaymentRecord | None:
        """paygate's record of a payment, by its id as paygate returned it (the provider's, or
        the record's for a payment the provider has not named yet)."""
        payment_id = steps.checked_payment_id(self._pipeline, payment_id)
        locate = locate_payment(self.provider, payment_id)
        return await self._records(self.records.lookup, locate)

    async def audit_trail(self, payment_id: str) -> list[AuditEntry]:
        """Every change of the payment's record, oldest first (hash-chained)."""
        record = await self.payment_record(payment_id)
        if record is None:
            return []
        return await self._records(self.records.trail, record.record_id)

    async def handle_webhook(
        self, headers: Mapping[str, str], body: bytes | str
    ) -> list[WebhookOutcome]:
        """Verify a provider's webhook delivery and apply its events to the payment records.

        ``body`` is the raw bytes received, or their UTF-8 text as a framework decoded it.
        Raises ``InvalidWebhookError`` (answer 400) for a forged, stale or malformed delivery;
        nothing is applied then. Each event is applied at most once, whatever the provider
        resends; an older event never moves a payment backwards (it is kept in the trail).
        """
        return await self._reconciler.handle_webhook(headers, body)

    async def payments_awaiting_action(
        self, *, older_than: timedelta = timedelta(0)
    ) -> list[PaymentRecord]:
        """Payments still awaiting the shopper (``requires_action``) for at least
        ``older_than``, oldest first: the abandoned ones, to void where the provider named
        them (``void``) or to leave to expire."""
        waiting = await self._records(self.records.awaiting_action, self.provider)
        cutoff = steps.now() - older_than
        return [record for record in waiting if record.created_at <= cutoff]

    async def unknown_payments(self) -> list[PaymentRecord]:
        """Records holding a call whose outcome is still unknown, those of calls that ended
        without recording anything (a crash, once their lease ended) included."""
        return await self._reconciler.unknown_payments()

    async def resolve_unknown(self, *, due_by: datetime | None = None) -> list[Resolution]:
        """Settle every unknown outcome that is due for a check (safe from a periodic job), on
        the provider's own account of each call only: repeat the call under its own key,
        exactly as it was sent, while the provider still replays it, and apply the answer. A
        refusal that is not the provider's answer about the call (credentials, a conflicting
        key, a foreign answer) settles nothing: the outcome stays unknown, escalated. What
        stays unknown is checked again later, backing off. ``due_by`` checks those due by then
        instead of now (to settle everything at once)."""
        return await self._reconciler.resolve_unknown(due_by)

    def janitor(
        self,
        policy: JanitorPolicy | None = None,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> AsyncJanitor:
        """A janitor that checks this gateway's unknown outcomes on ``policy``'s schedule
        (``run_once()`` for one pass, ``watch()`` for a loop), sharing the work through the
        record store with the janitors of other instances. ``owner``: this instance's name on
        the records it leases; ``clock``: now, as an aware datetime (tests)."""
        more = {} if clock is None else {"clock": clock}
        return AsyncJanitor(self._pipeline, self._io, self._reconciler, policy, owner=owner, **more)

    # -- the call ------------------------------------------------------------------------------
    async def _run(self, request: OperationRequest, *, fingerprint: str | None = None) -> Result:
        self._io.check_loop()
        p = self._pipeline
        if not p.telemetry.on:
            return await self._call(request, fingerprint, None)
        watch = p.telemetry.watch(p.provider, request.operation.value, payment_id_of(request))
        assert watch is not None
        try:
            result = await self._call(request, fingerprint, watch)
        except BaseException as exc:
            watch.failed(exc)
            raise
        watch.succeeded(steps.result_payment_id(result))
        return result

    async def _call(
        self, request: OperationRequest, fingerprint: str | None, watch: Watch | None
    ) -> Result:
        p = self._pipeline
        prepared = steps.admitted(p, request, fingerprint, watch)
        with Deadline(p.timeout.total, p.clock.monotonic) as deadline:  # the wall: stores, sockets
            if not prepared.mutating:
                return await self._read(prepared, deadline)
            return await self._mutate(prepared, deadline)

    async def _mutate(self, prepared: Prepared, deadline: Deadline) -> Result:
        token = await self._begin(prepared, deadline)
        if not isinstance(token, str):
            return token  # the stored outcome of an earlier call under the key
        stored: str | None = None
        settled = False  # the key settled with the record, in one transaction
        try:
            if steps.guarded(prepared):
                record = await self._guard_record(prepared, deadline)
                done = steps.completed_action(prepared, record)
                if done is not None:
                    return done  # the provider's webhook told the outcome first: nothing sent
                prepared = steps.checked(self._pipeline, prepared, record)
            if steps.merchant_initiated(prepared):
                await self._check_reattempt(prepared)
            async with self._bulkhead.slot(deadline.remaining()):
                prepared = steps.sendable(self._pipeline, prepared)
                prepared = await self._write_intent(prepared)
                try:  # from here on, the request may leave: every way out is recorded
                    outcome = await self._send(prepared, deadline)
                except PaymentError as error:
                    await self._record(prepared, error)
                    if isinstance(error, CardDeclinedError):
                        await self._note_decline(prepared, error)
                    raise
                except BaseException as exc:
                    unknown = steps.interrupted(self.provider, prepared, exc)
                    await self._io.shielded(self._record(prepared, unknown))
                    raise
            record, settled = await self._record_answer(prepared, outcome, token)
            result = steps.answer(outcome, record)
            stored = steps.stored_result(prepared, result)
            return result
        except PaymentError as error:
            stored = steps.stored_outcome(error)
            raise
        finally:
            if not settled:
                await self._settle(prepared, token, stored)

    async def _read(self, prepared: Prepared, deadline: Deadline) -> Result:
        if steps.reads_from_record(self._pipeline):
            locate = steps.record_locate(self.provider, prepared)
            record = await self._records(self.records.lookup, locate)
            return steps.from_record(self.provider, prepared, record)
        async with self._bulkhead.slot(deadline.remaining()):
            result = await self._send(steps.sendable(self._pipeline, prepared), deadline)
        await self._record(prepared, result)
        return result

    async def _begin(self, prepared: Prepared, deadline: Deadline) -> str | Result:
        """The idempotency store's lease on the call's key (its token), or the outcome stored
        under it; waits, within the policy and the deadline, while another call holds it."""
        assert prepared.key is not None and prepared.fingerprint is not None
        policy, clock = self._pipeline.idempotency, self._pipeline.clock
        give_up = clock.monotonic() + min(policy.in_flight_wait, deadline.remaining())
        waited = False
        while True:
            try:
                begun: BeginResult = await self._keys.begin_async(
                    prepared.key, prepared.fingerprint, lease_seconds=policy.lease
                )
            except Exception as exc:  # fail closed: never a provider call without a key
                raise steps.store_unavailable(self.provider, prepared, "idempotency", exc) from exc
            decided = steps.begun(self.provider, prepared, begun)
            if decided is not None:
                return decided
            if clock.monotonic() >= give_up:
                raise steps.in_flight(self.provider, prepared)
            if not waited:
                waited = True
                steps.waiting(prepared)
            await self._io.sleep(policy.poll_interval)

    async def _check_reattempt(self, prepared: Prepared) -> None:
        """Refuse a merchant-initiated payment the card networks' caps forbid (fail closed:
        with the declines unreadable, the caps cannot be checked)."""
        card, at = steps.card_of(prepared), steps.now()
        assert card is not None  # a merchant-initiated payment is an authorize
        try:
            history = await self._records(self.records.declines, card, steps.reattempt_window(at))
        except Exception as exc:
            raise steps.store_unavailable(self.provider, prepared, "payment record", exc) from exc
        refused = steps.reattempt_refused(
            self.provider, prepared, history, self._pipeline.reattempts, at
        )
        if refused is not None:
            raise refused

    async def _note_decline(self, prepared: Prepared, error: CardDeclinedError) -> None:
        """Count a declined payment against its card (a count lost only loosens the caps:
        logged, never raised over the decline itself)."""
        card = steps.card_of(prepared)
        if card is None:
            return
        try:
            await self._records(
                self.records.note_decline, card, steps.now(), final=steps.final_decline(error)
            )
        except Exception:
            steps.decline_not_noted(self.provider, prepared)

    async def _guard_record(self, prepared: Prepared, deadline: Deadline) -> PaymentRecord | None:
        """The record a call is checked against. A capture, void or refund of a payment paygate
        has no record of is first read from the provider, where it can be asked, so that its
        outcome, known or unknown, always has a record to go on."""
        locate = steps.record_locate(self.provider, prepared)
        try:
            record = await self._recs.lookup_async(locate)
        except Exception as exc:  # fail closed: the record's guards cannot be checked
            raise steps.store_unavailable(self.provider, prepared, "payment record", exc) from exc
        payment_id = payment_id_of(prepared.request)
        if record is not None or payment_id is None or not steps.can_retrieve(self._pipeline):
            return record
        retrieve = steps.prepare(self.provider, validated(RetrieveRequest, payment_id=payment_id))
        await self._read(retrieve, deadline)
        try:
            return await self._recs.lookup_async(locate)
        except Exception as exc:
            raise steps.store_unavailable(self.provider, prepared, "payment record", exc) from exc

    async def _write_intent(self, prepared: Prepared) -> Prepared:
        """``prepared`` once its intent is written, knowing the earlier call's it replaced."""
        try:
            replaced = await self._recs.write_intent_async(steps.intent(self._pipeline, prepared))
        except Exception as exc:  # fail closed: never a request that leaves no trace
            raise steps.store_unavailable(self.provider, prepared, "payment record", exc) from exc
        return steps.wrote_intent(prepared, replaced)

    async def _send(self, prepared: Prepared, deadline: Deadline) -> Result:
        """The attempts of one call: the first, then tenacity's retries of what may be
        repeated, within the deadline."""
        retry = steps.new_retry(self._pipeline, prepared, deadline)
        clock = self._pipeline.clock
        started = clock.monotonic()
        try:
            try:
                answered: steps.Answered = await self._attempt(prepared, deadline)
            except PaymentError as first:
                wait = retry.first_failure(first)
                if wait is None:
                    raise
                await self._io.sleep(wait)
                loop = tenacity.AsyncRetrying(sleep=self._io.sleep, **retry.strategies())
                answered = await loop(self._attempt, prepared, deadline)
        except PaymentError as error:
            final = retry.finish(error)
            steps.log_call(
                self._pipeline,
                prepared,
                clock.monotonic() - started,
                retry.attempts,
                final.code.value,
                request_id=final.request_id,
            )
            if final is error:
                raise
            raise final from error
        result, response = answered
        elapsed = clock.monotonic() - started
        steps.log_call(self._pipeline, prepared, elapsed, retry.attempts, "ok", answer=response)
        return result

    async def _attempt(self, prepared: Prepared, deadline: Deadline) -> steps.Answered:
        p = self._pipeline
        admission = await p.breaker.admit_async()  # refused before anything is built
        try:
            request = steps.attempt_request(p, prepared, deadline)
            began = steps.attempt_began(prepared)
            try:
                response = await self._io.exchange(
                    self._sender, request, deadline, p.limits.response_body
                )
            except _TRANSPORT_ERRORS as exc:
                steps.attempted(p, prepared, request, began, exc)
                outcome: Result | PaymentError = steps.transport_error(p.provider, prepared, exc)
            except BodyError as exc:
                steps.attempted(p, prepared, request, began, exc)
                outcome = steps.body_error(p.provider, prepared, exc)
            else:
                steps.attempted(p, prepared, request, began, response)
                outcome = steps.read_response(p, prepared, response)
        except BaseException:  # a bug or a cancellation: no outcome to count
            if admission is not None:
                await admission.abandon_async()
            raise
        if admission is not None:
            await admission.record_async(outcome if isinstance(outcome, PaymentError) else None)
        if isinstance(outcome, PaymentError):
            raise outcome
        return outcome, response

    async def _record(
        self, prepared: Prepared, outcome: Result | PaymentError, *, strict: bool = False
    ) -> PaymentRecord | None:
        """Apply a call's outcome to its record and clear its intent, in one transaction. When
        that fails the intent stays, and becomes an unknown outcome when its lease ends; the
        failure is logged, or with ``strict`` raised as ``OutcomeUnknown``: an answer the
        provider gave is never reported as a success paygate did not record."""
        locate, change = steps.record_change(self.provider, prepared, outcome)
        try:
            applied = await self._recs.apply_async(
                locate, change, intent=steps.intent_key(self.provider, prepared)
            )
        except Exception as exc:
            if strict:
                raise steps.unrecorded(self.provider, prepared, exc) from exc
            steps.record_failed(self.provider, prepared)
            return None
        self._pipeline.telemetry.changed(self.provider, applied, prepared.watch)
        return applied.record

    async def _record_answer(
        self, prepared: Prepared, outcome: Result, token: str
    ) -> tuple[PaymentRecord | None, bool]:
        """Record the provider's answer as ``_record`` does, strictly. Where the idempotency
        store shares the record store's database, the call's key is settled in the same
        transaction (then True): one commit, and both written or neither."""
        if self._joint is None:
            return await self._record(prepared, outcome, strict=True), False
        assert prepared.key is not None
        locate, change = steps.record_change(self.provider, prepared, outcome)
        try:
            applied, lost = await self._joint.apply_settling_async(
                locate,
                change,
                intent=steps.intent_key(self.provider, prepared),
                key=prepared.key,
                token=token,
                outcome_of=lambda record: steps.stored_result(
                    prepared, steps.answer(outcome, record)
                ),
            )
        except Exception as exc:
            raise steps.unrecorded(self.provider, prepared, exc) from exc
        if lost:
            steps.lease_lost(self.provider, prepared)
        self._pipeline.telemetry.changed(self.provider, applied, prepared.watch)
        return applied.record, True

    async def _settle(self, prepared: Prepared, token: str, stored: str | None) -> None:
        """Complete the key with the outcome to replay, or free it for a repeat."""
        assert prepared.key is not None
        try:
            if stored is None:
                await self._keys.release_async(prepared.key, token)
            elif not await self._keys.complete_async(prepared.key, token, stored):
                steps.lease_lost(self.provider, prepared)
        except Exception:  # the provider's answer stands; the lease lapses and a repeat settles
            steps.settle_failed(self.provider, prepared)

    async def _records(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A record store call."""
        return await self._io.call(self.records.blocking, fn, *args, **kwargs)
