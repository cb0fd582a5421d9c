"""A provider's side of idempotency keys: the first answer under a key is saved and replayed.

Not thread-safe on its own: the simulator calls it under its one lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from paygate.testing._records import Reply


class Verdict(Enum):
    """What a request under a key may do."""

    PROCEED = "proceed"  # the key is new: run, then save the answer
    REPLAY = "replay"  # the same request ran before: send its saved answer
    MISMATCH = "mismatch"  # the key was used for a different request
    IN_USE = "in_use"  # a request under the key is still running


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    saved: Reply | None = None  # None while the first request runs


class KeyRegistry:
    """Keys (already scoped, e.g. per API key) → the request that used them and its answer."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def begin(self, key: str, fingerprint: str) -> tuple[Verdict, Reply | None]:
        """The verdict for a request under ``key``, and the saved answer to replay."""
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = _Entry(fingerprint)
            return Verdict.PROCEED, None
        if entry.saved is None:
            return Verdict.IN_USE, None
        if entry.fingerprint != fingerprint:
            return Verdict.MISMATCH, None
        return Verdict.REPLAY, entry.saved

    def complete(self, key: str, saved: Reply) -> None:
        """Save the answer of the request that proceeded under ``key`` (unless a reset
        forgot the key meanwhile)."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.saved = saved

    def release(self, key: str) -> None:
        """Forget a key whose request ended without an answer worth saving."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def running(self) -> int:
        """How many keys a request is running under (begun, no answer saved yet)."""
        return sum(1 for entry in self._entries.values() if entry.saved is None)
