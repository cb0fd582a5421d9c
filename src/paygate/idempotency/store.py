"""The store protocol and the one decision every store makes when a call begins.

Stores differ in where entries live (a dict, a SQLite file, later Redis or PostgreSQL) and in how
they make ``begin`` atomic; what ``begin`` decides is the same everywhere and lives in
``decide``, a pure function of the existing entry, the request and the clock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

__all__ = [
    "AsyncIdempotencyStore",
    "Begin",
    "BeginResult",
    "Entry",
    "IdempotencyStore",
    "NativeAsync",
    "decide",
    "new_token",
]


class Begin(Enum):
    """What the caller of ``begin`` must do next."""

    PROCEED = "proceed"  # the caller holds the lease: send the request
    REPLAY = "replay"  # the call completed before: return its stored outcome
    CONFLICT = "conflict"  # the key was used for a different request: refuse
    IN_FLIGHT = "in_flight"  # another caller holds a live lease: wait and ask again


@dataclass(frozen=True, slots=True)
class BeginResult:
    outcome: Begin
    token: str | None = None  # the lease token, with PROCEED
    stored: str | None = None  # the stored outcome, with REPLAY
    retaken: bool = False  # PROCEED over a lapsed lease left by another owner


@dataclass(frozen=True, slots=True)
class Entry:
    """One key's record. Times are seconds on the store's clock."""

    fingerprint: str
    token: str | None  # the lease holder while in flight; None once completed
    lease_until: float  # in flight until then (0 once completed)
    outcome: str | None  # the encoded outcome once completed
    expires_at: float  # a completed entry is forgotten after this

    @property
    def completed(self) -> bool:
        return self.outcome is not None


def new_token() -> str:
    """A lease token: 128 random bits, as hex."""
    return os.urandom(16).hex()


def decide(
    existing: Entry | None, fingerprint: str, now: float, lease_seconds: float
) -> tuple[BeginResult, Entry | None]:
    """The outcome of ``begin`` and the entry to write (None: leave the store as it is)."""
    if existing is not None and existing.completed and existing.expires_at <= now:
        existing = None  # expired: the key is free again, as at the provider
    if existing is None:
        token = new_token()
        fresh = Entry(fingerprint, token, now + lease_seconds, None, now + lease_seconds)
        return BeginResult(Begin.PROCEED, token=token), fresh
    if existing.fingerprint != fingerprint:
        return BeginResult(Begin.CONFLICT), None
    if existing.completed:
        return BeginResult(Begin.REPLAY, stored=existing.outcome), None
    if existing.lease_until > now:
        return BeginResult(Begin.IN_FLIGHT), None
    token = new_token()
    retaken = Entry(fingerprint, token, now + lease_seconds, None, now + lease_seconds)
    return BeginResult(Begin.PROCEED, token=token, retaken=True), retaken


class IdempotencyStore(Protocol):
    """Where keys, leases and outcomes live. Every method is atomic with respect to others,
    across threads, and across processes for stores that are shared between them."""

    blocking: bool
    """True when calls do blocking I/O (the async gateway then runs them in a worker thread,
    unless the store gives it an asyncio face: ``NativeAsync``)."""

    def begin(self, key: str, fingerprint: str, *, lease_seconds: float) -> BeginResult:
        """Take the key for a call, or say why not (see ``Begin``)."""
        ...

    def complete(self, key: str, token: str, outcome: str) -> bool:
        """Record the outcome under the lease ``token``; False if the lease was lost."""
        ...

    def release(self, key: str, token: str) -> None:
        """Free the key without an outcome (the call may be repeated under it)."""
        ...

    def close(self) -> None:
        """Release resources; the store is unusable afterwards."""
        ...


class AsyncIdempotencyStore(Protocol):
    """An idempotency store as ``AsyncGateway`` calls it: the same verbs, awaited. A store
    with a native asyncio driver gives one (``NativeAsync``); any other is run in a worker
    thread when it does blocking I/O, or inline when it does not."""

    async def begin_async(
        self, key: str, fingerprint: str, *, lease_seconds: float
    ) -> BeginResult: ...

    async def complete_async(self, key: str, token: str, outcome: str) -> bool: ...

    async def release_async(self, key: str, token: str) -> None: ...

    async def aclose(self) -> None:
        """Release what this face holds (its asyncio connections); the store stays open."""
        ...


@runtime_checkable
class NativeAsync(Protocol):
    """A store that talks to its server from asyncio itself (Redis, PostgreSQL), rather than
    from a worker thread: ``for_asyncio()`` gives a new face for one event loop, opened on
    its first call and sharing the store's settings."""

    def for_asyncio(self) -> AsyncIdempotencyStore: ...
