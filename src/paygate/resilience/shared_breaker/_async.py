"""The shared state's verbs, written once for the asyncio Redis client (``_async.py``) and
generated for the blocking one (``_sync.py``): the same commands, one round trip each way; an
unreachable Redis hands the step to the local state."""

from __future__ import annotations

from paygate.resilience.breaker import BreakerState
from paygate.resilience.shared_breaker._core import UNREACHABLE, RedisStateCore

__all__ = ["AsyncRedisVerbs"]


class AsyncRedisVerbs(RedisStateCore):
    """The ``StateBackend`` verbs."""

    async def read_async(self) -> BreakerState:
        if self._stay_local():
            return self._local.read()
        try:
            values = await self._client_async.mget(self.keys)
        except UNREACHABLE as error:
            return self._fall_back(error).read()
        return self._loaded(values)

    async def write_async(self, before: BreakerState, after: BreakerState) -> bool:
        if self._stay_local():
            return self._local.write(before, after)
        try:
            async with self._client_async.pipeline(transaction=True) as pipe:
                self._queue(pipe, before, after)
                await pipe.execute()
        except UNREACHABLE as error:
            return self._unsaved(error, before, after)
        return True

    async def take_probe_async(self, lease: float) -> bool:
        if self._stay_local():
            return True  # the breaker's own probe flag is the slot
        try:
            taken = await self._client_async.set(
                self.probe_key, self._token, nx=True, px=self._lease_ms(lease)
            )
        except UNREACHABLE as error:
            self._fall_back(error)
            return True
        return bool(taken)

    async def end_probe_async(self) -> None:
        if self._stay_local():
            return
        try:
            await self._end_probe_async(keys=[self.probe_key], args=[self._token])
        except UNREACHABLE as error:
            self._fall_back(error)

    async def aclose(self) -> None:
        await self._client_async.aclose()
