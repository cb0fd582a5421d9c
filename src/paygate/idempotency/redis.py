"""The Redis idempotency store: one truth for every instance that reaches the same Redis.

Each key is one hash, ``<prefix><key>``, with the fields of ``Entry`` (``fingerprint``, ``token``,
``lease_until``, ``outcome``, ``expires_at``; a missing field is ``None``). ``begin``,
``complete`` and ``release`` are Lua scripts, so each runs atomically inside Redis. Times are
Redis's own clock (``TIME``), so leases mean the same thing on every host; a test may inject a
clock, whose reading is then passed in instead.

Redis forgets a key on its own: a completed entry ``ttl`` seconds after completion, an entry
left in flight (its owner crashed) ``lease + ttl`` seconds after it was taken.

Under ``AsyncGateway`` the store is called through its asyncio face (``for_asyncio``):
redis-py's asyncio client on the gateway's event loop, the same scripts and the same bounds (a
command takes at most the time its call has left), with no worker thread in between.

redis-py is an optional dependency (``paygate[redis]``); import this module by name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import redis
import redis.asyncio
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript
from redis.retry import Retry

from paygate._bounded import BoundedCalls
from paygate.errors import StoreUnavailable
from paygate.idempotency.memory import DEFAULT_TTL
from paygate.idempotency.store import AsyncIdempotencyStore, Begin, BeginResult, new_token
from paygate.resilience.deadline import time_left

T = TypeVar("T")

__all__ = ["DEFAULT_PREFIX", "RedisStore"]

DEFAULT_PREFIX: Final = "paygate:idem:"

# Seconds on Redis's clock, or the caller's reading when one is given (ARGV[1] ~= '').
_CLOCK: Final = """
local function clock(given)
  if given ~= '' then return tonumber(given) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

# decide() in store.py, restated; each branch names the line of decide() it mirrors.
# KEYS[1] the entry; ARGV: now, fingerprint, lease seconds, ttl seconds, a new token.
_BEGIN: Final = (
    _CLOCK
    + """
local now, lease, ttl = clock(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4])
local e = redis.call('HMGET', KEYS[1], 'fingerprint', 'lease_until', 'outcome', 'expires_at')
-- "completed and expires_at <= now: existing = None"
local free = (not e[1]) or (e[3] and tonumber(e[4]) <= now)
if not free then
  if e[1] ~= ARGV[2] then return {'conflict'} end           -- "fingerprint != ..."
  if e[3] then return {'replay', e[3]} end                   -- "existing.completed"
  if tonumber(e[2]) > now then return {'in_flight'} end      -- "lease_until > now"
end
-- "existing is None" (proceed) or a lapsed lease (proceed, retaken): a fresh in-flight entry
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'fingerprint', ARGV[2], 'token', ARGV[5],
           'lease_until', tostring(now + lease), 'expires_at', tostring(now + lease))
redis.call('PEXPIRE', KEYS[1], math.ceil((lease + ttl) * 1000))
if free then return {'proceed', ARGV[5]} end
return {'retaken', ARGV[5]}
"""
)

# MemoryStore.complete: only the lease holder settles; then the entry lives ttl more seconds.
# KEYS[1] the entry; ARGV: now, token, outcome, ttl seconds.
_COMPLETE: Final = (
    _CLOCK
    + """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[2] then return 0 end
local ttl = tonumber(ARGV[4])
redis.call('HDEL', KEYS[1], 'token')
redis.call('HSET', KEYS[1], 'outcome', ARGV[3], 'lease_until', '0',
           'expires_at', tostring(clock(ARGV[1]) + ttl))
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl * 1000))
return 1
"""
)

# MemoryStore.release: only the lease holder frees the key. KEYS[1] the entry; ARGV[1] token.
_RELEASE: Final = """
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

_OUTCOMES: Final = {
    b"proceed": Begin.PROCEED,
    b"retaken": Begin.PROCEED,
    b"replay": Begin.REPLAY,
    b"conflict": Begin.CONFLICT,
    b"in_flight": Begin.IN_FLIGHT,
}


def _retry() -> Retry:
    """A command is retried (twice, briefly) when its connection failed, never when it timed
    out: it may have run. (A begin run twice finds its own lease: in flight, never a second
    owner.)"""
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 2, (redis.ConnectionError,))


def _begun(reply: list[Any]) -> BeginResult:
    """``begin``'s script reply as the store protocol says it."""
    outcome = _OUTCOMES[reply[0]]
    if outcome is Begin.PROCEED:
        return BeginResult(outcome, token=reply[1].decode(), retaken=reply[0] == b"retaken")
    if outcome is Begin.REPLAY:
        return BeginResult(outcome, stored=reply[1].decode())
    return BeginResult(outcome)


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"Redis is unavailable ({type(exc).__name__})")


class RedisStore:
    """Keys, leases and outcomes in Redis. Safe across threads, processes and hosts.

    Opening pings Redis within ``socket_timeout``; each command takes at most the time its call
    has left (``socket_timeout`` outside a call, and at most that on the socket itself). A
    Redis that cannot be reached, or answers too late, is ``StoreUnavailable``, which the
    gateway reports before anything is sent (fail closed).
    """

    blocking = True

    def __init__(
        self,
        url: str,
        *,
        ttl: float = DEFAULT_TTL,
        prefix: str = DEFAULT_PREFIX,
        socket_timeout: float = 5.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self._ttl = ttl
        self._prefix = prefix
        self._clock = clock
        self._url = url
        self._socket_timeout = socket_timeout
        self._redis: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout,
            retry=_retry(),
        )  # fmt: skip
        self._begin = self._redis.register_script(_BEGIN)
        self._complete = self._redis.register_script(_COMPLETE)
        self._release = self._redis.register_script(_RELEASE)
        self._calls = BoundedCalls("Redis idempotency store", workers=16, ceiling=socket_timeout)
        self._call(self._redis.ping)

    def __repr__(self) -> str:
        return f"paygate.RedisStore(prefix={self._prefix!r}, ttl={self._ttl})"

    def _now(self) -> str:
        return "" if self._clock is None else repr(self._clock())

    def _begin_args(self, lease_seconds: float, fingerprint: str) -> list[str]:
        return [self._now(), fingerprint, repr(float(lease_seconds)), repr(self._ttl), new_token()]

    def _complete_args(self, token: str, outcome: str) -> list[str]:
        return [self._now(), token, outcome, repr(self._ttl)]

    def for_asyncio(self) -> AsyncIdempotencyStore:
        """This store's asyncio face, for one event loop (``AsyncGateway`` takes one)."""
        return _AsyncRedisStore(self)

    def _call(self, command: Callable[[], T]) -> T:
        """``command()`` within the time left of the call; whatever else goes wrong talking
        to Redis (unreachable, timed out, an answer redis-py cannot read) as
        ``StoreUnavailable``."""
        try:
            return self._calls.run(command)
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise _unavailable(exc) from exc

    def begin(self, key: str, fingerprint: str, *, lease_seconds: float) -> BeginResult:
        args, entry = self._begin_args(lease_seconds, fingerprint), [self._prefix + key]
        return _begun(cast(list[Any], self._call(lambda: self._begin(keys=entry, args=args))))

    def complete(self, key: str, token: str, outcome: str) -> bool:
        args = self._complete_args(token, outcome)
        return bool(self._call(lambda: self._complete(keys=[self._prefix + key], args=args)))

    def release(self, key: str, token: str) -> None:
        self._call(lambda: self._release(keys=[self._prefix + key], args=[token]))

    def close(self) -> None:
        self._calls.close()
        self._redis.close()


class _AsyncRedisStore:
    """A ``RedisStore`` for one event loop: redis-py's asyncio client, opened on the first call
    (an asyncio client belongs to the loop it first runs on), running the store's scripts
    within the time each call has left. A command cut at the deadline is ``StoreUnavailable``,
    and redis-py drops the connection it was on (its answer may still come: a later command
    must never read it)."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._redis: redis.asyncio.Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}

    def _script(self, source: str) -> AsyncScript:
        """One of the store's scripts on this face's client (opened on the first call)."""
        script = self._scripts.get(source)
        if script is None:
            if self._redis is None:
                store = self._store
                self._redis = redis.asyncio.Redis.from_url(
                    store._url, socket_timeout=store._socket_timeout,
                    socket_connect_timeout=store._socket_timeout, retry=_retry(),
                )  # fmt: skip
            script = self._scripts[source] = self._redis.register_script(source)
        return script

    async def _call(self, source: str, keys: list[str], args: list[str]) -> Any:
        """Run one of the store's scripts within the time left of the call; whatever goes
        wrong talking to Redis as ``StoreUnavailable``."""
        seconds = time_left(self._store._socket_timeout)
        script = self._script(source)
        try:
            async with asyncio.timeout(seconds):
                return await script(keys=keys, args=args)
        except TimeoutError:
            raise StoreUnavailable(
                f"the Redis idempotency store did not answer within {seconds:.3g}s"
            ) from None
        except Exception as exc:
            raise _unavailable(exc) from exc

    async def begin_async(self, key: str, fingerprint: str, *, lease_seconds: float) -> BeginResult:
        store = self._store
        args = store._begin_args(lease_seconds, fingerprint)
        return _begun(await self._call(_BEGIN, [store._prefix + key], args))

    async def complete_async(self, key: str, token: str, outcome: str) -> bool:
        store = self._store
        args = store._complete_args(token, outcome)
        return bool(await self._call(_COMPLETE, [store._prefix + key], args))

    async def release_async(self, key: str, token: str) -> None:
        await self._call(_RELEASE, [self._store._prefix + key], [token])

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
            self._scripts.clear()
