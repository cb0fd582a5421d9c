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
  asyncio client (``redis.asyncio``) serves ``AsyncGateway``, with the same keys and commands:
  the verbs are written once for asyncio (``_async.py``) and generated for the blocking client
  (``_sync.py``).
* **Fail-safe**: when Redis cannot be reached (``socket_timeout`` bounds every command and
  nothing is retried) the breaker goes on with a local state, seeded with the last shared state
  it saw; it says so once in the ``paygate`` log and adds one to ``fallbacks`` (the
  ``paygate_breaker_storage_fallbacks_total`` counter). Every ``recheck`` seconds one step tries
  Redis again, and the breaker goes back to the shared state (logged) as soon as it answers.

redis-py is an optional dependency (``paygate[redis]``); import this module by name.
"""

from __future__ import annotations

from typing import Any

from paygate.resilience.shared_breaker._async import AsyncRedisVerbs
from paygate.resilience.shared_breaker._core import DEFAULT_PREFIX
from paygate.resilience.shared_breaker._sync import RedisVerbs

__all__ = ["DEFAULT_PREFIX", "RedisBreakerState", "breaker_storage"]


class RedisBreakerState(RedisVerbs, AsyncRedisVerbs):
    """A breaker's ``StateBackend`` in Redis (see the module's notes), with a local fallback.

    ``socket_timeout`` bounds each Redis command (seconds); ``recheck`` is how long the breaker
    stays local after Redis failed before it tries the shared state again, on ``clock``
    (monotonic seconds).
    """


def breaker_storage(url: str, provider: str, **options: Any) -> RedisBreakerState:
    """The shared state of ``provider``'s breaker in the Redis at ``url``, for
    ``CircuitBreaker(provider, policy, storage=...)``. ``options``: see ``RedisBreakerState``."""
    return RedisBreakerState(url, provider, **options)
