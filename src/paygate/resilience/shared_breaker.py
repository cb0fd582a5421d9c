"""Circuit-breaker state shared in Redis, so every instance fails fast once one has opened it.

``breaker_storage(url, provider)`` builds the ``StateBackend`` to hand to ``CircuitBreaker``:

* **Keys** live under the namespace ``paygate:breaker:<provider>``: ``...:pybreaker:state``
  (``closed``, ``open`` or ``half-open``), ``...:pybreaker:fail_counter``,
  ``...:pybreaker:success_counter``, ``...:pybreaker:opened_at`` (integer epoch seconds, rounded
  up so the circuit never re-opens to a probe early), plus ``...:probe``, the half-open probe
  slot: a lease of ``reset_timeout`` seconds taken with ``SET NX PX``, so one probe at a time
  runs across every instance. The first four keep the names of pybreaker's Redis layout, which
  paygate's breaker used before it had its own: instances of either version, mid-rollout, share
  one state.
* **One round trip each way**: a step reads every field with one ``MGET``, the breaker decides
  on that snapshot, and what changed goes back in one ``MULTI`` (added counts as ``INCRBY``, so
  no failure counted elsewhere is lost). The blocking client (redis-py) serves ``Gateway``; the
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
from collections.abc import Callable, Sequence
from typing import Any, Final

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import NoBackoff
from redis.retry import Retry

from paygate.resilience.breaker import CLOSED, BreakerState, MemoryState, Phase

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


def _decoded(values: Sequence[bytes | str | None]) -> BreakerState:
    """The state one ``MGET`` of the four fields read (absent keys: a closed breaker)."""
    state, failures, successes, opened_at = (
        value.decode() if isinstance(value, bytes) else value for value in values
    )
    return BreakerState(
        phase=Phase(state) if state else Phase.CLOSED,
        failures=int(failures or 0),
        successes=int(successes or 0),
        opened_at=float(opened_at) if opened_at else None,
    )


class RedisBreakerState:
    """A breaker's ``StateBackend`` in Redis (see the module's notes), with a local fallback.

    ``socket_timeout`` bounds each Redis command (seconds); ``recheck`` is how long the breaker
    stays local after Redis failed before it tries the shared state again, on ``clock``
    (monotonic seconds).
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
        clock: Callable[[], float] = time.monotonic,
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
        self._clock = clock
        self._lock = threading.Lock()
        self._local = MemoryState()
        self._last = CLOSED  # the shared state as last seen
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
        return self._local_until is not None and self._clock() < self._local_until

    def _fall_back(self, error: BaseException, seed: BreakerState | None = None) -> MemoryState:
        """The local state, from now until ``recheck`` seconds have passed. An outage starts
        it from ``seed``, or else from the shared state as last seen."""
        with self._lock:
            if self._local_until is None:
                self.fallbacks += 1
                self._local = MemoryState(seed if seed is not None else self._last)
                logger.warning(
                    "circuit breaker for %s: shared state in Redis unreachable (%s: %s); "
                    "falling back to a local breaker (fallback #%d), retrying every %.1fs",
                    self.provider,
                    type(error).__name__,
                    error,
                    self.fallbacks,
                    self._recheck,
                )
            self._local_until = self._clock() + self._recheck
        return self._local

    def _loaded(self, values: Sequence[bytes | str | None]) -> BreakerState:
        with self._lock:
            if self._local_until is not None:
                self._local_until = None
                logger.warning(
                    "circuit breaker for %s: shared state in Redis reachable again; "
                    "back to the shared breaker",
                    self.provider,
                )
        self._last = _decoded(values)
        return self._last

    def _unsaved(self, error: BaseException, before: BreakerState, after: BreakerState) -> bool:
        """A write Redis did not take: an outage starting now starts from ``after``; during
        one begun meanwhile, the local state takes it if it is still ``before``."""
        local = self._fall_back(error, after)
        return local.read() is after or local.write(before, after)

    def _queue(self, pipe: Any, before: BreakerState, after: BreakerState) -> None:
        """What changed from ``before`` to ``after``; counts that grew, as increments."""
        state, failures, successes, opened_at = self.keys
        if after.phase != before.phase:
            pipe.set(state, after.phase.value)
        for key, was, now in (
            (failures, before.failures, after.failures),
            (successes, before.successes, after.successes),
        ):
            if now > was:
                pipe.incrby(key, now - was)
            elif now != was:
                pipe.set(key, now)
        if after.opened_at is not None and after.opened_at != before.opened_at:
            pipe.set(opened_at, math.ceil(after.opened_at))

    def _lease_ms(self, lease: float) -> int:
        return max(1, math.ceil(lease * 1000))

    # -- blocking verbs (Gateway) ------------------------------------------------------------------
    def read(self) -> BreakerState:
        if self._stay_local():
            return self._local.read()
        try:
            values = self._sync.mget(self.keys)
        except _UNREACHABLE as error:
            return self._fall_back(error).read()
        return self._loaded(values)

    def write(self, before: BreakerState, after: BreakerState) -> bool:
        if self._stay_local():
            return self._local.write(before, after)
        try:
            with self._sync.pipeline(transaction=True) as pipe:
                self._queue(pipe, before, after)
                pipe.execute()
        except _UNREACHABLE as error:
            return self._unsaved(error, before, after)
        return True

    def take_probe(self, lease: float) -> bool:
        if self._stay_local():
            return True  # the breaker's own probe flag is the slot
        try:
            taken = self._sync.set(self.probe_key, self._token, nx=True, px=self._lease_ms(lease))
        except _UNREACHABLE as error:
            self._fall_back(error)
            return True
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
    async def read_async(self) -> BreakerState:
        if self._stay_local():
            return self._local.read()
        try:
            values = await self._async.mget(self.keys)
        except _UNREACHABLE as error:
            return self._fall_back(error).read()
        return self._loaded(values)

    async def write_async(self, before: BreakerState, after: BreakerState) -> bool:
        if self._stay_local():
            return self._local.write(before, after)
        try:
            async with self._async.pipeline(transaction=True) as pipe:
                self._queue(pipe, before, after)
                await pipe.execute()
        except _UNREACHABLE as error:
            return self._unsaved(error, before, after)
        return True

    async def take_probe_async(self, lease: float) -> bool:
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

    async def end_probe_async(self) -> None:
        if self._stay_local():
            return
        try:
            await self._aend_probe(keys=[self.probe_key], args=[self._token])
        except _UNREACHABLE as error:
            self._fall_back(error)

    async def aclose(self) -> None:
        await self._async.aclose()
