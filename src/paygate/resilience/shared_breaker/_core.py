"""The shared breaker state's parts and the decisions its blocking and asyncio verbs share:
the keys, both Redis clients, the local fallback, and what one write sends."""

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
from paygate.telemetry import log_fields

__all__ = ["DEFAULT_PREFIX", "UNREACHABLE", "RedisStateCore"]

logger: Final = logging.getLogger("paygate")

DEFAULT_PREFIX: Final = "paygate:breaker:"
_FIELDS: Final = ("state", "fail_counter", "success_counter", "opened_at")
UNREACHABLE: Final = (redis.RedisError, OSError)

# Frees the probe slot only for its holder (a lapsed slot may belong to another instance now).
_END_PROBE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


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


class RedisStateCore:
    """A breaker's state in Redis (see the package's notes), with a local fallback: the two
    clients and the decisions both share; the verbs are ``RedisVerbs`` and ``AsyncRedisVerbs``.

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
        self._client = redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **timeouts)
        self._client_async = redis.asyncio.Redis.from_url(
            url, retry=redis.asyncio.retry.Retry(NoBackoff(), 0), **timeouts
        )
        self._end_probe = self._client.register_script(_END_PROBE)
        self._end_probe_async = self._client_async.register_script(_END_PROBE)
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
                    extra=log_fields(self.provider),
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
                    extra=log_fields(self.provider),
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
