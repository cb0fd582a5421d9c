"""Idempotency: key derivation, the store protocol, and the memory and SQLite stores.

A mutating call runs under a key. The store records the key with the request's fingerprint
while the call is in flight (a lease), and its outcome once it completes, so that:

* a completed call repeated returns the stored outcome without calling the provider;
* the same key with different parameters is refused (``IdempotencyConflict``) before any I/O;
* a concurrent duplicate waits for the first instead of being sent twice;
* a key left in flight by a crashed process is retaken once its lease has lapsed, and the
  provider's own idempotency (the same key is sent again) settles what the first owner sent.
"""

from paygate.idempotency.keys import derive_key, fingerprint
from paygate.idempotency.memory import MemoryStore
from paygate.idempotency.sqlite import SQLiteStore
from paygate.idempotency.store import Begin, BeginResult, Entry, IdempotencyStore, decide

__all__ = [
    "Begin",
    "BeginResult",
    "Entry",
    "IdempotencyStore",
    "MemoryStore",
    "SQLiteStore",
    "decide",
    "derive_key",
    "fingerprint",
]
