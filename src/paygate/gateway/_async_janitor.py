"""``AsyncJanitor``: ``resolve_unknown()`` run for people, on a schedule (``JanitorPolicy``),
written once for asyncio (the blocking ``Janitor`` is generated from it).

One pass (``run_once``): the provider's records holding unknown outcomes get a schedule in the
record store if they have none (the first check ``schedule[0]`` after the oldest became
unknown), and a schedule whose record holds nothing unknown any more (settled since by a
webhook, a call or a person, escalated or not) is dropped, so that a later unknown outcome of
that record starts a schedule of its own; the schedules due are leased to this instance one at
a time, each as its check begins
(``RecordStore.claim_unknown``: several instances share the work, none checks a record another
holds, and a record's lease runs from its own check, not from the start of a long pass); each
record is checked by the gateway's own resolver; a record left with nothing unknown loses its
schedule, one still unknown moves to its next step, or, after the last, is escalated: an
``UnknownEscalated`` event, the ``paygate.unknown_outcomes.escalated`` metric, an error log
line, and ``paygate unknown list``. An unknown outcome is never marked failed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from paygate._primitives import AsyncPrimitives
from paygate.gateway import _janitor_steps as js
from paygate.gateway._async_reconciler import AsyncReconciler
from paygate.gateway._janitor_steps import JanitorPass
from paygate.gateway._pipeline import Pipeline
from paygate.models import Resolution
from paygate.records.schedule import Scheduled
from paygate.resilience.policies import JanitorPolicy

__all__ = ["AsyncJanitor"]

T = TypeVar("T")


class AsyncJanitor:
    """Checks a gateway's unknown outcomes on ``policy``'s schedule. ``owner``: this
    instance's name on the leases it takes (default: a fresh one); ``clock``: now, as an
    aware datetime (for tests)."""

    def __init__(
        self,
        pipeline: Pipeline,
        io: AsyncPrimitives,
        reconciler: AsyncReconciler,
        policy: JanitorPolicy | None = None,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = js.utcnow,
    ) -> None:
        self._pipeline = pipeline
        self._io = io
        self._reconciler = reconciler
        self.policy = policy or JanitorPolicy()
        self.owner = owner or f"janitor-{uuid.uuid4().hex[:12]}"
        self._clock = clock

    def __repr__(self) -> str:
        return f"paygate.AsyncJanitor({self._pipeline.provider!r}, owner={self.owner!r})"

    async def run_once(self) -> JanitorPass:
        """One pass over the schedules due now."""
        p = self._pipeline
        records = p.records
        scheduled = await self._records(records.unknown_schedule, p.provider)
        unknown = await self._reconciler.unknown_payments()  # lapsed intents adopted first
        mine = [record for record in unknown if record.provider == p.provider]
        holding = {record.record_id for record in mine}
        for stale in scheduled:  # settled since (by a webhook, a person, a call): escalated too
            if stale.record_id not in holding:
                await self._records(records.unschedule_unknown, stale.record_id)
        await self._records(records.schedule_unknown, [js.first(r, self.policy) for r in mine])
        done = JanitorPass()
        for _ in range(self.policy.batch):
            now = self._clock()
            lease = now + timedelta(seconds=self.policy.lease)
            claimed = await self._records(
                records.claim_unknown, p.provider, self.owner, now, lease, 1
            )
            if not claimed:
                break
            verdict, resolutions = await self._check(claimed[0])
            done = js.tally(done, verdict, claimed[0].record_id, resolutions)
        return done

    async def watch(
        self,
        *,
        interval: float = 60.0,
        passes: int | None = None,
        on_pass: Callable[[JanitorPass], object] | None = None,
    ) -> None:
        """Run a pass every ``interval`` seconds (``passes`` of them; forever by default),
        telling ``on_pass`` what each did."""
        count = 0
        while passes is None or count < passes:
            done = await self.run_once()
            if on_pass is not None:
                on_pass(done)
            count += 1
            if passes is None or count < passes:
                await self._io.sleep(interval)

    async def _check(self, scheduled: Scheduled) -> tuple[js.Verdict, list[Resolution]]:
        """Check one leased record's unknown outcomes, then move its schedule on."""
        records = self._pipeline.records
        record = await self._records(records.get, scheduled.record_id)
        resolutions: list[Resolution] = []
        if record is not None and record.unknown:
            resolutions = await self._reconciler.resolve_record(record)
            record = await self._records(records.get, scheduled.record_id)
        if record is None or not record.unknown:
            await self._records(records.unschedule_unknown, scheduled.record_id)
            return "settled", resolutions
        now = self._clock()
        moved = js.next_step(scheduled, self.policy, now)
        held = await self._records(records.reschedule_unknown, moved, self.owner)
        if not held or moved.escalated_at is None:
            # Not held: the lease lapsed mid-check and another instance took the record over;
            # its schedule, and any escalation, are that instance's now.
            return "still_unknown", resolutions
        js.escalate(self._pipeline.telemetry, record, now, moved.step)
        return "escalated", resolutions

    async def _records(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A record store call."""
        return await self._io.call(self._pipeline.records.blocking, fn, *args, **kwargs)
