"""The janitor's decisions, shared by both twins (``_async_janitor.py`` and the generated
``_sync_janitor.py``): when a record's first check is due, what one pass did, and how an
unknown outcome still unknown after the last check is escalated. No I/O here."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from paygate.models import Resolution
from paygate.records import PaymentRecord
from paygate.records.schedule import Scheduled
from paygate.resilience.policies import JanitorPolicy
from paygate.telemetry import Telemetry, UnknownEscalated, key_digest, log_fields

__all__ = ["JanitorPass", "Verdict", "escalate", "first", "next_step", "tally", "utcnow"]

logger: Final = logging.getLogger("paygate")
Verdict = Literal["settled", "still_unknown", "escalated"]  # what a check left its record


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class JanitorPass:
    """What one janitor pass did: the records it checked, settled, left unknown (checked again
    later) and escalated, and each check's resolution."""

    checked: int = 0
    settled: int = 0
    still_unknown: int = 0
    escalated: tuple[str, ...] = ()
    resolutions: tuple[Resolution, ...] = ()


def first(record: PaymentRecord, policy: JanitorPolicy) -> Scheduled:
    """A record's schedule, its first check ``schedule[0]`` after its oldest unknown outcome."""
    since = min(unknown.since for unknown in record.unknown)
    due = since + timedelta(seconds=policy.schedule[0])
    return Scheduled(record.record_id, record.provider, 0, due)


def next_step(scheduled: Scheduled, policy: JanitorPolicy, now: datetime) -> Scheduled:
    """A schedule once a check left its record unknown: the next check, or, after the last,
    escalated (no check is due any more: a person looks)."""
    step = scheduled.step + 1
    if step < len(policy.schedule):
        return replace(scheduled, step=step, due_at=now + timedelta(seconds=policy.schedule[step]))
    return replace(scheduled, step=step, due_at=now, escalated_at=now)


def tally(
    done: JanitorPass, verdict: Verdict, record_id: str, resolutions: Sequence[Resolution]
) -> JanitorPass:
    """``done`` with one more record checked."""
    return JanitorPass(
        checked=done.checked + 1,
        settled=done.settled + (verdict == "settled"),
        still_unknown=done.still_unknown + (verdict == "still_unknown"),
        escalated=(*done.escalated, record_id) if verdict == "escalated" else done.escalated,
        resolutions=(*done.resolutions, *resolutions),
    )


def escalate(telemetry: Telemetry, record: PaymentRecord, now: datetime, checks: int) -> None:
    """Tell a person (an error log line) and the listeners (``UnknownEscalated``) that the
    record's unknown outcomes stayed unknown after the last check. They stay unknown."""
    for unknown in record.unknown:
        age = (now - unknown.since).total_seconds()
        digest = key_digest(unknown.idempotency_key)
        logger.error(
            "%s unknown %s of record %s (key %s) still unknown after the janitor's last "
            "check (%d checks, %.0f s old): escalated, a person must look "
            "(paygate unknown list)",
            record.provider,
            unknown.operation.value,
            record.record_id,
            digest,
            checks,
            age,
            extra=log_fields(
                record.provider,
                operation=unknown.operation.value,
                outcome="escalated",
                payment_id=record.payment_id,
                key=unknown.idempotency_key,
                attempts=checks,
            ),
        )
        if telemetry.on:
            telemetry.emit(
                UnknownEscalated(
                    provider=record.provider,
                    record_id=record.record_id,
                    operation=unknown.operation.value,
                    key_digest=digest,
                    attempts=checks,
                    age=age,
                )
            )
