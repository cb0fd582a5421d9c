"""Payment records: what paygate knows about each payment, the rules for how that may change,
and the hash-chained audit trail of every change.

The gateway keeps a record of every payment it touches. A call the record says cannot succeed
is refused before any provider call; every answer and every webhook event is applied through
the state machine (``TRANSITIONS``); every application, refused ones included, appends an
entry to the record's audit trail.
"""

from paygate.records.memory import MemoryRecordStore
from paygate.records.sqlite import SQLiteRecordStore
from paygate.records.state import (
    TRANSITIONS,
    Intent,
    Modification,
    ModificationStatus,
    PaymentRecord,
    UnknownOperation,
)
from paygate.records.store import Applied, IntentKey, Locate, RecordStore
from paygate.records.trail import AuditEntry, ChainProblem

__all__ = [
    "TRANSITIONS",
    "Applied",
    "AuditEntry",
    "ChainProblem",
    "Intent",
    "IntentKey",
    "Locate",
    "MemoryRecordStore",
    "Modification",
    "ModificationStatus",
    "PaymentRecord",
    "RecordStore",
    "SQLiteRecordStore",
    "UnknownOperation",
]
