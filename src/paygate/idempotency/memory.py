"""The in-memory idempotency store: the default, for one process."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from paygate.idempotency.store import BeginResult, Entry, decide

DEFAULT_TTL = 24 * 3600.0  # as long as Stripe keeps a key; a repeat after that is a new call
DEFAULT_MAX_ENTRIES = 100_000


class MemoryStore:
    """Keys, leases and outcomes in a dict, safe across the threads of one process.

    Completed entries are kept for ``ttl`` seconds and at most ``max_entries`` of them (the
    oldest completed go first); entries in flight are never evicted.
    """

    blocking = False

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or max_entries < 1:
            raise ValueError("ttl must be positive and max_entries at least 1")
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"paygate.MemoryStore(entries={len(self._entries)}, ttl={self._ttl})"

    def __len__(self) -> int:
        return len(self._entries)

    def begin(self, key: str, fingerprint: str, *, lease_seconds: float) -> BeginResult:
        with self._lock:
            now = self._clock()
            self._evict(now)
            result, write = decide(self._entries.get(key), fingerprint, now, lease_seconds)
            if write is not None:
                self._entries[key] = write
                self._entries.move_to_end(key)
            return result

    def complete(self, key: str, token: str, outcome: str) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.token != token:
                return False
            expires = self._clock() + self._ttl
            done = Entry(entry.fingerprint, None, 0.0, outcome, expires)  # completed: no lease
            self._entries[key] = done
            self._entries.move_to_end(key)
            return True

    def release(self, key: str, token: str) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.token == token:
                del self._entries[key]

    def close(self) -> None:
        with self._lock:
            self._entries.clear()

    def _evict(self, now: float) -> None:
        """Drop, oldest first, expired entries and completed ones over the bound.

        Entries in flight are stepped over (moved to the back), except a lease that lapsed a
        whole ``ttl`` ago: it belongs to a call that will never settle it.
        """
        entries = self._entries
        for _ in range(len(entries)):
            key, oldest = next(iter(entries.items()))
            if oldest.completed:
                if oldest.expires_at > now and len(entries) <= self._max_entries:
                    return
                del entries[key]
            elif oldest.lease_until + self._ttl <= now:
                del entries[key]
            else:
                entries.move_to_end(key)
