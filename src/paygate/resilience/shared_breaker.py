"""Circuit-breaker state shared in Redis, so every instance fails fast once one has opened it.

``breaker_storage(url, provider)`` builds the ``StateBackend`` to hand to ``CircuitBreaker``:

* **Keys** are pybreaker's ``CircuitRedisStorage`` layout under the namespace
  ``paygate:breaker:<provider>``: ``...:pybreaker:state``, ``...:pybreaker:fail_counter``,
  ``...:pybreaker:success_counter``, ``...:pybreaker:opened_at`` (integer epoch seconds, rounded
  up so the circuit never re-opens to a probe early), plus ``...:probe``, the half-open probe
  slot: a lease of ``reset_timeout`` seconds taken with ``SET NX PX``, so one probe at a time
  runs across every instance. A stock ``pybreaker.CircuitRedisStorage(namespace=...)`` reads the
  same state.
* **One round trip each way**: a step reads every field with one ``MGET``, pybreaker decides on
  that snapshot, and what it wrote goes back in one ``MULTI`` (increments as ``INCR``, so no
  failure counted elsewhere is lost). The blocking client (redis-py) serves ``Gateway``; the
  asyncio client (``redis.asyncio``) serves ``AsyncGateway``, with the same keys and commands.
* **Fail-safe**: when Redis cannot be reached (``socket_timeout`` bounds every command and
  nothing is retried) the breaker goes on with a local state, seeded with the last shared state
  it saw; it says so once in the ``paygate`` log and adds one to ``fallbacks`` (the
  ``paygate_breaker_storage_fallbacks_total`` counter). Every ``recheck`` seconds one step tries
  Redis again, and the breaker goes back to the shared state (logged) as soon as it answers.

redis-py is an optional dependency (``paygate[redis]``); import this module by name.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import pybreaker
import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import NoBackoff
from redis.retry import Retry

from paygate.resilience.breaker import Storage

__all__ = ["DEFAULT_PREFIX", "RedisBreakerState", "breaker_storage"]

logger: Final = logging.getLogger("paygate")

DEFAULT_PREFIX: Final = "paygate:breaker:"
_FIELDS: Final = ("state", "fail_counter", "success_counter", "opened_at")
_UNREACHABLE: Final = (redis.RedisError, OSError)

# Frees the probe slot only for its holder (a lapsed slot may belong to another instance now).
_END_PROBE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


def breaker_storage(url: str, provider: str, **options: Any) -> RedisBreakerState:
    """The shared state of ``provider``'s breaker in the Redis at ``url``, for
    ``CircuitBreaker(provider, policy, storage=...)``. ``options``: see ``RedisBreakerState``."""
    return RedisBreakerState(url, provider, **options)


class _Snapshot(Storage):
    """The shared state as one ``MGET`` read it; pybreaker's writes land here and are queued."""

    def __init__(self, values: Sequence[bytes | str | None]) -> None:
        super().__init__("redis")
        state, fails, successes, opened = (
            value.decode() if isinstance(value, bytes) else value for value in values
        )
        self._state = state or pybreaker.STATE_CLOSED
        self._fails = int(fails or 0)
        self._successes = int(successes or 0)
        self._opened = int(opened) if opened else None
        self.writes: list[tuple[str, int, int | str]] = []  # (command, field index, value)

    def _set(self, field: int, value: int | str) -> None:
        self.writes.append(("set", field, value))

    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, state: str) -> None:
        self._state = str(state)
        self._set(0, self._state)

    def increment_counter(self) -> None:
        self._fails += 1
        self.writes.append(("incr", 1, 1))

    def reset_counter(self) -> None:  # every success resets: written only when it changes
        if self._fails:
            self._fails = 0
            self._set(1, 0)

    def increment_success_counter(self) -> None:
        self._successes += 1
        self.writes.append(("incr", 2, 1))

    def reset_success_counter(self) -> None:
        if self._successes:
            self._successes = 0
            self._set(2, 0)

    @property
    def counter(self) -> int:
        return self._fails

    @property
    def success_counter(self) -> int:
        return self._successes

    @property
    def opened_at(self) -> datetime | None:
        return None if self._opened is None else datetime.fromtimestamp(self._opened, UTC)

    @opened_at.setter
    def opened_at(self, when: datetime) -> None:
        self._opened = math.ceil(when.timestamp())
        self._set(3, self._opened)

    def copy_to(self, local: pybreaker.CircuitMemoryStorage) -> None:
        local.state = self._state
        local.reset_counter()
        local.reset_success_counter()
        for _ in range(self._fails):
            local.increment_counter()
        for _ in range(self._successes):
            local.increment_success_counter()
        if self.opened_at is not None:
            local.opened_at = self.opened_at


class RedisBreakerState:
    """A breaker's ``StateBackend`` in Redis (see the module's notes), with a local fallback.

    ``socket_timeout`` bounds each Redis command (seconds); ``recheck`` is how long the breaker
    stays local after Redis failed before it tries the shared state again.
    """

    shared = True

    def __init__(
        self,
        url: str,
        provider: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        socket_timeout: float = 0.25,
        recheck: float = 5.0,
    ) -> None:
        self.provider = provider
        self.namespace = f"{prefix}{provider}"
        self.keys = [f"{self.namespace}:pybreaker:{field}" for field in _FIELDS]
        self.probe_key = f"{self.namespace}:probe"
        timeouts: dict[str, Any] = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_timeout,
            "decode_responses": True,
        }
        self._sync: redis.Redis = redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **timeouts)
        self._async: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
            url, retry=redis.asyncio.retry.Retry(NoBackoff(), 0), **timeouts
        )
        self._end_probe = self._sync.register_script(_END_PROBE)
        self._aend_probe = self._async.register_script(_END_PROBE)
        self._token = uuid.uuid4().hex  # this instance's claim on the probe slot
        self._recheck = recheck
        self._lock = threading.Lock()
        self._local = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._last: _Snapshot | None = None  # the shared state as last seen
        self._local_until: float | None = None  # None while the shared state is in use
        self.fallbacks = 0

    def __repr__(self) -> str:
        mode = "local fallback" if self._local_until is not None else "shared"
        return f"paygate.RedisBreakerState({self.namespace!r}, {mode})"

    @property
    def local(self) -> bool:
        """True while the breaker runs on its local fallback state."""
        return self._local_until is not None

    # -- the decisions both clients share ----------------------------------------------------------
    def _stay_local(self) -> bool:
        return self._local_until is not None and time.monotonic() < self._local_until

    def _fall_back(self, error: BaseException) -> pybreaker.CircuitMemoryStorage:
        with self._lock:
            if self._local_until is None:
                self.fallbacks += 1
                self._local = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
                if self._last is not None:
                    self._last.copy_to(self._local)
                logger.warning(
                    "circuit breaker for %s: shared state in Redis unreachable (%s: %s); "
                    "falling back to a local breaker (fallback #%d), retrying every %.1fs",
                    self.provider,
                    type(error).__name__,
                    error,
                    self.fallbacks,
                    self._recheck,
                )
            self._local_until = time.monotonic() + self._recheck
        return self._local

    def _loaded(self, values: Sequence[bytes | str | None]) -> Storage:
        with self._lock:
            if self._local_until is not None:
                self._local_until = None
                logger.warning(
                    "circuit breaker for %s: shared state in Redis reachable again; "
                    "back to the shared breaker",
                    self.provider,
                )
        self._last = _Snapshot(values)
        return self._last

    def _unsaved(self, view: Storage) -> _Snapshot | None:
        """The snapshot whose writes must go to Redis, or None (a local view is written in
        place; a snapshot read before a fallback is folded into the local state)."""
        if not isinstance(view, _Snapshot) or not view.writes:
            return None
        if self._stay_local():
            view.copy_to(self._local)
            return None
        return view

    def _queue(self, pipe: Any, view: _Snapshot) -> None:
        for command, field, value in view.writes:
            if command == "incr":
                pipe.incr(self.keys[field])
            else:
                pipe.set(self.keys[field], value)

    def _lease_ms(self, lease: float) -> int:
        return max(1, math.ceil(lease * 1000))

    # -- blocking verbs (Gateway) ------------------------------------------------------------------
    def load(self) -> Storage:
        if self._stay_local():
            return self._local
        try:
            values = self._sync.mget(self.keys)
        except _UNREACHABLE as error:
            return self._fall_back(error)
        return self._loaded(values)

    def save(self, view: Storage) -> None:
        snapshot = self._unsaved(view)
        if snapshot is None:
            return
        try:
            with self._sync.pipeline(transaction=True) as pipe:
                self._queue(pipe, snapshot)
                pipe.execute()
        except _UNREACHABLE as error:
            snapshot.copy_to(self._fall_back(error))

    def take_probe(self, lease: float) -> bool:
        if self._stay_local():
            return True
        try:
            taken = self._sync.set(self.probe_key, self._token, nx=True, px=self._lease_ms(lease))
        except _UNREACHABLE as error:
            self._fall_back(error)
            return True  # the breaker's own probe flag still allows one probe here
        return bool(taken)

    def end_probe(self) -> None:
        if self._stay_local():
            return
        try:
            self._end_probe(keys=[self.probe_key], args=[self._token])
        except _UNREACHABLE as error:
            self._fall_back(error)

    def close(self) -> None:
        self._sync.close()

    # -- awaited verbs (AsyncGateway): the same commands on redis.asyncio ------------------------
    async def aload(self) -> Storage:
        if self._stay_local():
            return self._local
        try:
            values = await self._async.mget(self.keys)
        except _UNREACHABLE as error:
            return self._fall_back(error)
        return self._loaded(values)

    async def asave(self, view: Storage) -> None:
        snapshot = self._unsaved(view)
        if snapshot is None:
            return
        try:
            async with self._async.pipeline(transaction=True) as pipe:
                self._queue(pipe, snapshot)
                await pipe.execute()
        except _UNREACHABLE as error:
            snapshot.copy_to(self._fall_back(error))

    async def atake_probe(self, lease: float) -> bool:
        if self._stay_local():
            return True
        try:
            taken = await self._async.set(
                self.probe_key, self._token, nx=True, px=self._lease_ms(lease)
            )
        except _UNREACHABLE as error:
            self._fall_back(error)
            return True
        return bool(taken)

    async def aend_probe(self) -> None:
        if self._stay_local():
            return
        try:
            await self._aend_probe(keys=[self.probe_key], args=[self._token])
        except _UNREACHABLE as error:
            self._fall_back(error)

    async def aclose(self) -> None:
        await self._async.aclose()
