"""The only hand-written sync/async twins: the few verbs in which a blocking caller and an
asyncio one differ. Everything built on them (the gateway, the bulkhead) is written once, for
asyncio, and its blocking twin is generated (``scripts/unasync.py``): ``AsyncX`` becomes ``X``,
``await`` goes, and the names stay the same.

* ``Primitives`` / ``AsyncPrimitives``: sleeping, calling a store (a store that does blocking
  I/O runs in a worker thread under asyncio), the idempotency store as the gateway calls it
  (under asyncio its native face where it has one), finishing a step whatever cancels the
  caller, one HTTP exchange read within a size limit and the call's deadline, and the
  event-loop check.
* ``Semaphore`` / ``AsyncSemaphore``: a counted slot, taken within a timeout.
* ``Sender`` / ``AsyncSender``: where a gateway's requests go.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar, cast

import httpx

from paygate.errors import ErrorCode, InvalidRequestError
from paygate.idempotency.store import (
    AsyncIdempotencyStore,
    BeginResult,
    IdempotencyStore,
)
from paygate.records.state import Intent, PaymentRecord
from paygate.records.store import (
    Applied,
    AsyncRecordCalls,
    AsyncSettlingRecords,
    ChangeFn,
    IntentKey,
    Locate,
    RecordStore,
    SettlingRecords,
)
from paygate.resilience.breaker import StateBackend
from paygate.resilience.clock import Clock
from paygate.resilience.deadline import Deadline
from paygate.transports import Backend, DeadlineTransport, aread_body, async_transport, read_body

__all__ = ["AsyncPrimitives", "AsyncSemaphore", "AsyncSender", "Primitives", "Semaphore", "Sender"]

T = TypeVar("T")

# How long after its deadline an asyncio exchange is cancelled: a per-phase timeout that fires
# at the deadline itself says how far the request got; the cancellation cannot.
_WALL_SLACK: Final = 0.05


class Primitives:
    """The blocking verbs; sleeping is the gateway's clock's."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)

    @staticmethod
    def call(blocking: bool, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A store call (``blocking``: whether the store does blocking I/O; here it does not
        matter: the caller's thread waits either way)."""
        return fn(*args, **kwargs)

    @staticmethod
    def keys(store: IdempotencyStore) -> IdempotencyStore:
        """The idempotency store as the gateway calls it: itself."""
        return store

    @staticmethod
    def close_keys(keys: IdempotencyStore, store: IdempotencyStore, *, owned: bool) -> None:
        """Close the store when the gateway owns it."""
        if owned:
            store.close()

    @staticmethod
    def record_calls(records: RecordStore) -> RecordStore:
        """The record store as the gateway's call path calls it: itself."""
        return records

    @staticmethod
    def settling(keys: IdempotencyStore, calls: RecordStore) -> SettlingRecords | None:
        """The record store's apply that settles a call's key in its own transaction, where the
        two stores share a database (``PostgresRecordStore.settling``); else None."""
        return cast("SettlingRecords | None", _declared(calls, "settling", keys))

    @staticmethod
    def close_records(calls: RecordStore, records: RecordStore, *, owned: bool) -> None:
        """Close the record store when the gateway owns it."""
        if owned:
            records.close()

    @staticmethod
    def shielded(done: T) -> T:
        """A step already done: a blocking call runs to its end unless the process dies."""
        return done

    @staticmethod
    def exchange(
        sender: Sender, request: httpx.Request, deadline: Deadline, limit: int
    ) -> httpx.Response:
        """Send one attempt and read its answer, up to ``limit`` bytes. The deadline is a wall
        for the gateway's own transport (``DeadlineTransport`` cuts every socket operation to
        it); any transport's answer is read no further once it has passed."""
        response = sender.send(request)
        try:
            return read_body(response, limit)
        finally:
            response.close()

    @staticmethod
    def close_breaker_state(state: StateBackend) -> None:
        state.close()

    def check_loop(self) -> None:
        """A blocking gateway serves any thread."""


class AsyncPrimitives:
    """The asyncio verbs, bound to the event loop that first uses them; sleeping is the
    gateway's clock's."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    async def sleep(self, seconds: float) -> None:
        await self._clock.sleep_async(seconds)

    @staticmethod
    async def call(blocking: bool, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A store call: in a worker thread when the store does blocking I/O."""
        if blocking:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    @staticmethod
    def keys(store: IdempotencyStore) -> AsyncIdempotencyStore:
        """The idempotency store as the gateway calls it: its native asyncio face (Redis,
        PostgreSQL), else the store itself, in a worker thread when it does blocking I/O."""
        face = _declared(store, "for_asyncio")
        return _Threaded(store) if face is None else cast(AsyncIdempotencyStore, face)

    @staticmethod
    async def close_keys(
        keys: AsyncIdempotencyStore, store: IdempotencyStore, *, owned: bool
    ) -> None:
        """Close the face's asyncio connections, and the store when the gateway owns it."""
        await keys.aclose()
        if owned:
            await AsyncPrimitives.call(store.blocking, store.close)

    @staticmethod
    def record_calls(records: RecordStore) -> AsyncRecordCalls:
        """The record store as the gateway's call path calls it: its native asyncio face
        (PostgreSQL), else the store itself, in a worker thread when it does blocking I/O."""
        face = _declared(records, "records_for_asyncio")
        return _ThreadedRecords(records) if face is None else cast(AsyncRecordCalls, face)

    @staticmethod
    def settling(keys: IdempotencyStore, calls: AsyncRecordCalls) -> AsyncSettlingRecords | None:
        """The record face's apply that settles a call's key in its own transaction, where the
        two stores share a database (PostgreSQL); else None."""
        return cast("AsyncSettlingRecords | None", _declared(calls, "settling", keys))

    @staticmethod
    async def close_records(calls: AsyncRecordCalls, records: RecordStore, *, owned: bool) -> None:
        """Close the face's asyncio connections, and the store when the gateway owns it."""
        await calls.aclose()
        if owned:
            await AsyncPrimitives.call(records.blocking, records.close)

    @staticmethod
    async def shielded(step: Awaitable[T]) -> T:
        """Run ``step`` to its end even if the calling task is cancelled meanwhile; a
        cancellation that arrived is raised once the step is done."""
        task = asyncio.ensure_future(step)
        cancelled = False
        while not task.done():
            try:
                await asyncio.wait({task})
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError
        return task.result()

    @staticmethod
    async def exchange(
        sender: AsyncSender, request: httpx.Request, deadline: Deadline, limit: int
    ) -> httpx.Response:
        """Send one attempt and read its answer, up to ``limit`` bytes and within the deadline:
        the whole exchange is cancelled when the deadline passes, however the answer trickles
        in (a moment later than the per-phase timeouts, so that those, which know how far the
        request got, fire first when they can)."""
        try:
            async with asyncio.timeout(deadline.remaining() + _WALL_SLACK):
                response = await sender.send(request)
                try:
                    return await aread_body(response, limit)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise httpx.ReadTimeout("the call's deadline passed during the exchange") from None

    @staticmethod
    async def close_breaker_state(state: StateBackend) -> None:
        """Close a shared breaker state's connections, the asyncio ones and the blocking."""
        await state.aclose()
        state.close()

    def check_loop(self) -> None:
        """Refuse, before anything is sent, a call from another event loop than the one first
        used: a gateway's connections and its bulkhead belong to that loop, and neither
        survives the loop's end (``asyncio.run`` twice, a loop per thread)."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = weakref.ref(loop)
        elif self._loop() is not loop:
            raise InvalidRequestError(
                "an AsyncGateway serves the event loop it first ran on, and this call runs on "
                "another: make one gateway per event loop; nothing was sent",
                code=ErrorCode.UNSUPPORTED,
            )


def _declared(store: object, make: str, *args: object) -> object | None:
    """What a store's class declares it makes of ``args`` for this gateway: its native asyncio
    face (``NativeAsync.for_asyncio``, ``NativeAsyncRecords.records_for_asyncio``), its apply
    that settles a key beside a record (``settling``); None when the class declares none (an
    object that answers any attribute, as a test double may, declares nothing)."""
    declared = getattr(type(store), make, None)
    return None if declared is None else declared(store, *args)


class _Threaded:
    """A store with no asyncio face, as ``AsyncGateway`` calls it: in a worker thread when it
    does blocking I/O, inline when it does not."""

    __slots__ = ("_store",)

    def __init__(self, store: IdempotencyStore) -> None:
        self._store = store

    async def begin_async(self, key: str, fingerprint: str, *, lease_seconds: float) -> BeginResult:
        store = self._store
        return await AsyncPrimitives.call(
            store.blocking, store.begin, key, fingerprint, lease_seconds=lease_seconds
        )

    async def complete_async(self, key: str, token: str, outcome: str) -> bool:
        store = self._store
        return await AsyncPrimitives.call(store.blocking, store.complete, key, token, outcome)

    async def release_async(self, key: str, token: str) -> None:
        store = self._store
        await AsyncPrimitives.call(store.blocking, store.release, key, token)

    async def aclose(self) -> None:
        """Nothing of its own to close."""


class _ThreadedRecords:
    """A record store with no asyncio face, as ``AsyncGateway``'s call path calls it: in a
    worker thread when it does blocking I/O, inline when it does not."""

    __slots__ = ("_records",)

    def __init__(self, records: RecordStore) -> None:
        self._records = records

    async def apply_async(
        self,
        locate: Locate,
        change: ChangeFn,
        *,
        event: tuple[str, str] | None = None,
        intent: IntentKey | None = None,
        needs_intent: bool = False,
    ) -> Applied:
        records = self._records
        return await AsyncPrimitives.call(
            records.blocking, records.apply, locate, change,
            event=event, intent=intent, needs_intent=needs_intent,
        )  # fmt: skip

    async def write_intent_async(self, intent: Intent) -> Intent | None:
        records = self._records
        return await AsyncPrimitives.call(records.blocking, records.write_intent, intent)

    async def lookup_async(self, locate: Locate) -> PaymentRecord | None:
        records = self._records
        return await AsyncPrimitives.call(records.blocking, records.lookup, locate)

    async def aclose(self) -> None:
        """Nothing of its own to close."""


class Semaphore:
    """``size`` slots for threads."""

    def __init__(self, size: int) -> None:
        self._slots = threading.BoundedSemaphore(size)
        self._counting = threading.Lock()
        self.in_use = 0  # slots taken (the bulkhead's gauge)

    def acquire(self, wait: float) -> bool:
        """Take a slot within ``wait`` seconds; False when none freed."""
        if not self._slots.acquire(timeout=wait):
            return False
        with self._counting:
            self.in_use += 1
        return True

    def release(self) -> None:
        with self._counting:
            self.in_use -= 1
        self._slots.release()


class AsyncSemaphore:
    """``size`` slots for tasks of one event loop."""

    def __init__(self, size: int) -> None:
        self._slots = asyncio.Semaphore(size)
        self.in_use = 0  # slots taken (the bulkhead's gauge; one event loop: no lock)

    async def acquire(self, wait: float) -> bool:
        """Take a slot within ``wait`` seconds; False when none freed."""
        if not self._slots.locked():
            await self._slots.acquire()  # no timer for a slot that is free now
            self.in_use += 1
            return True
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=wait)
        except TimeoutError:
            return False
        self.in_use += 1
        return True

    def release(self) -> None:
        self.in_use -= 1
        self._slots.release()


class Sender:
    """Where a blocking gateway's requests go: through the caller's ``httpx.Client`` when one
    was given, else straight into the gateway's transport (the one given, or a
    ``DeadlineTransport``) through the transport API httpx documents (``handle_request``), with
    nothing of a client's in between: no cookie jar, auth flow or redirects to step over. (An
    environment's ``HTTPS_PROXY`` is not read, as an httpx client given a transport does not
    read it either: pass a transport or client that uses the proxy.) The gateway closes its
    transport, the one given included, and leaves a client given to its owner."""

    def __init__(
        self,
        client: httpx.Client | None,
        transport: httpx.BaseTransport | None,
        limits: httpx.Limits,
    ) -> None:
        self._client = client
        if client is not None:
            self._transport: httpx.BaseTransport | None = None
        else:
            self._transport = (
                transport if transport is not None else DeadlineTransport(limits=limits)
            )

    def send(self, request: httpx.Request) -> httpx.Response:
        """The answer, its body not read yet."""
        if self._transport is None:
            assert self._client is not None
            return self._client.send(request, stream=True)
        response = self._transport.handle_request(request)
        response.request = request
        return response

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class AsyncSender:
    """``Sender`` for an asyncio gateway; the transport it makes for itself is ``backend``'s
    (``paygate.transports.async_transport``: aiohttp's when it is installed, by default)."""

    def __init__(
        self,
        client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None,
        limits: httpx.Limits,
        backend: Backend,
    ) -> None:
        self._client = client
        if client is not None:
            self._transport: httpx.AsyncBaseTransport | None = None
        elif transport is not None:
            self._transport = transport
        else:
            self._transport = async_transport(backend, limits)

    async def send(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:
            assert self._client is not None
            return await self._client.send(request, stream=True)
        response = await self._transport.handle_async_request(request)
        response.request = request
        return response

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
