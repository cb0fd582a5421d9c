"""``AsyncReconciler``: the records' side of a gateway, written once for asyncio (the blocking
twin is generated from it): webhooks applied to the payment records, calls that ended without
recording anything, and the resolver that settles unknown outcomes. Every decision is a
function of ``paygate.records.reconcile``; a check that repeats a call runs it through the
gateway's own call loop (``run``), with every guarantee of a call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from paygate._outcomes import is_final
from paygate._primitives import AsyncPrimitives
from paygate.errors import InvalidWebhookError, PaymentError
from paygate.gateway import _steps as steps
from paygate.gateway._pipeline import Pipeline
from paygate.gateway._steps import as_payment
from paygate.models import (
    OperationRequest,
    Resolution,
    Result,
    RetrieveRequest,
    WebhookEvent,
    WebhookOutcome,
    validated,
)
from paygate.records import Locate, PaymentRecord, UnknownOperation
from paygate.records import reconcile as rec
from paygate.records.store import Applied, ChangeFn
from paygate.resilience.breaker import saved_failure
from paygate.telemetry import Watch

__all__ = ["AsyncReconciler"]

T = TypeVar("T")
Run = Callable[..., Awaitable[Result]]


class AsyncReconciler:
    """Webhooks, lapsed intents and the resolver of one gateway."""

    def __init__(self, pipeline: Pipeline, io: AsyncPrimitives, run: Run) -> None:
        self._pipeline = pipeline
        self._io = io
        self._run = run  # the gateway's call loop: (request, *, fingerprint=None) -> Result

    async def handle_webhook(
        self, headers: Mapping[str, str], body: bytes | str
    ) -> list[WebhookOutcome]:
        p = self._pipeline
        watch = p.telemetry.watch(p.provider, "handle_webhook", None)
        try:
            events = steps.webhook_events(p, headers, body)
            outcomes = [await self._apply_event(event, watch) for event in events]
        except BaseException as exc:
            if watch is not None:
                if isinstance(exc, InvalidWebhookError):  # refused unread
                    watch.webhook("-", "invalid", None)
                watch.failed(exc)
            raise
        if watch is not None:
            watch.succeeded(None)
        return outcomes

    async def unknown_payments(self) -> list[PaymentRecord]:
        await self._adopt_lapsed()
        return await self._records(self._pipeline.records.with_unknown)

    async def resolve_unknown(self, due_by: datetime | None) -> list[Resolution]:
        await self._adopt_lapsed()
        due = due_by or steps.now()
        resolutions = []
        for record in await self._records(self._pipeline.records.with_unknown, due):
            for unknown in record.unknown:
                if unknown.next_check_at <= due:
                    resolutions.append(await self._resolve(record, unknown))
        return resolutions

    async def resolve_record(self, record: PaymentRecord) -> list[Resolution]:
        """Check every unknown outcome ``record`` holds, due or not (the janitor's step)."""
        return [await self._resolve(record, unknown) for unknown in record.unknown]

    async def _records(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A record store call."""
        return await self._io.call(self._pipeline.records.blocking, fn, *args, **kwargs)

    async def _apply(
        self, locate: Locate, change: ChangeFn, watch: Watch | None = None, **options: Any
    ) -> Applied:
        """A record store's ``apply``, its change told to the listeners."""
        applied = await self._records(self._pipeline.records.apply, locate, change, **options)
        self._pipeline.telemetry.changed(self._pipeline.provider, applied, watch)
        return applied

    async def _apply_event(self, event: WebhookEvent, watch: Watch | None) -> WebhookOutcome:
        outcome = await self._event_outcome(event, watch)
        if watch is not None:
            watch.webhook(event.provider_type, outcome.result, event.payment_id)
        return outcome

    async def _event_outcome(self, event: WebhookEvent, watch: Watch | None) -> WebhookOutcome:
        if event.payment_id is None:
            return rec.webhook_outcome(event, None)
        locate, change, seen = rec.webhook_change(self._pipeline.provider, event)
        if (
            event.type in rec.ADOPTING_EVENTS
            and await self._records(self._pipeline.records.lookup, locate) is None
        ):
            # Intents first: a call's intent turns into its unknown outcome in one transaction,
            # never back, so what is in neither read was in neither store.
            in_flight = await self._records(self._pipeline.records.intents)
            unknown = await self._records(self._pipeline.records.with_unknown)
            orphan = rec.orphan(self._pipeline.provider, unknown, event.reference, event.amount)
            if orphan is not None:
                locate, change = rec.adopting_event(
                    self._pipeline.adapter.capabilities, event, orphan
                )
            else:  # the call that made it may still be waiting for its answer
                claimed = rec.claimed_by(self._pipeline.provider, in_flight, event)
                if claimed is None:  # or the shopper acted, and nothing asked Adyen since
                    waiting = await self._records(
                        self._pipeline.records.awaiting_action, self._pipeline.provider
                    )
                    claimed = rec.awaited_by(
                        self._pipeline.adapter.capabilities, self._pipeline.provider, waiting, event
                    )
                if claimed is not None:
                    locate, change = claimed
        applied = await self._apply(locate, change, watch, event=seen)
        return rec.webhook_outcome(event, applied)

    async def _adopt_lapsed(self) -> None:
        """Turn every intent whose lease ended into an unknown outcome on its record."""
        for intent in await self._records(self._pipeline.records.intents, steps.now()):
            if intent.provider != self._pipeline.provider:
                continue
            locate, change = rec.lapsed(self._pipeline.provider, intent)
            key = (intent.provider, intent.idempotency_key)
            await self._apply(locate, change, intent=key, needs_intent=True)

    async def _resolve(self, record: PaymentRecord, unknown: UnknownOperation) -> Resolution:
        capabilities = self._pipeline.adapter.capabilities
        if unknown.operation in rec.NEW_PAYMENTS and record.payment_id is not None:
            # The provider's own report (a webhook) named this key's payment while the call
            # was waiting for its answer: the record already holds it.
            detail = f"found {record.payment_id}"
            await self._settle_unknown(record, rec.settle(capabilities, unknown, by_report=True))
            return rec.resolution(record, unknown, settled=True, detail=detail)
        replay = rec.replay_for(capabilities, unknown, self._rebuilt_digest)
        if replay.request is None:
            found = await self._found(record, unknown)
            if found is not None:
                return found
            return await self._still_unknown(record, unknown, replay.reason, replay.escalate)
        try:
            result = await self._run(replay.request, fingerprint=unknown.fingerprint)
        except PaymentError as error:
            if saved_failure(error):  # the key holds a failure: ask for the payment instead
                looked = await self._looked_up(record, unknown)
                if looked is not None:
                    return looked
            if not is_final(error):
                return await self._still_unknown(record, unknown, *rec.unsettled_by(error))
            detail = f"refused: {error.code}"
        else:
            detail = rec.describe(result)
        # The call's own record change settled it, unless the answer came from the idempotency
        # store (an earlier call under the key completed) or went to the record a webhook had
        # started for the payment: settle it here then.
        await self._settle_unknown(record, rec.settle(capabilities, unknown))
        return rec.resolution(record, unknown, settled=True, detail=detail)

    def _rebuilt_digest(self, request: OperationRequest) -> str | None:
        prepared = steps.prepare(self._pipeline.provider, request)
        return steps.sendable(self._pipeline, prepared).digest

    async def _settle_unknown(self, record: PaymentRecord, change: ChangeFn) -> None:
        await self._apply(Locate(record_id=record.record_id), change)

    async def _still_unknown(
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
            change = rec.still_unknown(
                record, unknown, reason, escalate=escalate, count=not counted
            )
            await self._settle_unknown(record, change)
        return rec.resolution(record, unknown, settled=False, detail=reason, escalated=escalate)

    async def _looked_up(
        self, record: PaymentRecord, unknown: UnknownOperation
    ) -> Resolution | None:
        """Settle an unknown outcome from the provider's own account of the payment, where it
        can be asked: a new payment found by its reference, a capture, void or refund told by
        the payment as the provider reports it now. None when that cannot tell."""
        if unknown.operation in rec.NEW_PAYMENTS:
            return await self._found(record, unknown)
        if record.payment_id is None or not steps.can_retrieve(self._pipeline):
            return None
        try:
            retrieve = validated(RetrieveRequest, payment_id=record.payment_id)
            payment = as_payment(await self._run(retrieve))
            now = await self._records(self._pipeline.records.get, record.record_id)
        except PaymentError:
            return None
        detail = None if now is None else rec.looked_up(now, unknown, payment)
        if detail is None:
            return None
        await self._settle_unknown(record, rec.settle(self._pipeline.adapter.capabilities, unknown))
        return rec.resolution(record, unknown, settled=True, detail=detail)

    async def _found(self, record: PaymentRecord, unknown: UnknownOperation) -> Resolution | None:
        """Settle a lost authorize answer by finding its payment by reference, where the
        provider can search; None when it cannot, or nothing (new) is found yet."""
        search = rec.finds(self._pipeline.adapter.capabilities, record, unknown)
        if search is None:
            return None
        try:
            found = as_payment(await self._run(search))
        except PaymentError:
            return None
        if (
            await self._records(self._pipeline.records.find, self._pipeline.provider, found.id)
            is not None
        ):
            return None  # an earlier attempt's payment, already on its own record
        locate, change = rec.adopting_found(found, (record, unknown))
        await self._apply(locate, change)
        return rec.resolution(record, unknown, settled=True, detail=f"found {found.id}")
