"""The janitor's schedule of one record holding unknown outcomes, as the record store keeps it
(beside the record, never in its audit trail): which check comes next and when, who holds the
record's lease while checking it, and when it was escalated to a person.

A record's schedule is claimed by one instance at a time (``RecordStore.claim_unknown``): the
lease makes several instances share the work without checking one record twice in a step;
a lease that lapses (an instance that stopped mid-check) lets another take the record over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Scheduled"]


@dataclass(frozen=True, slots=True)
class Scheduled:
    """``step``: checks the janitor made so far (the next is ``schedule[step]``); ``due_at``:
    when the next is due; ``escalated_at``: when the last check left it unknown (no check is
    due then: a person looks)."""

    record_id: str
    provider: str
    step: int
    due_at: datetime
    escalated_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
