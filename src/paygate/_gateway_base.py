"""What both gateway twins are built on: their constructors, and the few verbs in which a
blocking gateway and an asyncio one differ (store calls, sleeping, closing shared state).

``AsyncGateway`` (``_async_gateway.py``) is written once against these verbs; ``Gateway``
(``_sync_gateway.py``) is generated from it by ``python -m paygate._unasync``, so the twins
cannot drift: a test fails when the generated file is stale.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, Self, TypeVar

import httpx

from paygate._core import GatewayCore
from paygate.adapters import stripe
from paygate.adapters.registry import provider_spec
from paygate.config import Settings, gateway_options
from paygate.errors import ErrorCode, InvalidRequestError
from paygate.resilience.deadline import Deadline
from paygate.transports import aread_body, read_body

T = TypeVar("T")

# How long after its deadline an asyncio exchange is cancelled: a per-phase timeout that fires
# at the deadline itself says how far the request got; the cancellation cannot.
_WALL_SLACK: Final = 0.05


class _Constructors(GatewayCore):
    @classmethod
    def for_provider(cls, name: str, **options: Any) -> Self:
        """A gateway to the registered provider ``name`` (or its simulator at ``base_url``).

        The options the provider's adapter takes (its settings section's fields: ``api_key``,
        ``base_url``...) build the adapter; the others are the gateway's (``retry``,
        ``timeout``, ``store``...). ``KeyError`` for a provider that is not registered.
        """
        spec = provider_spec(name)
        takes = spec.adapter_parameters()
        adapter = spec.adapter(**{k: v for k, v in options.items() if k in takes})
        return cls(adapter, **{k: v for k, v in options.items() if k not in takes})

    @classmethod
    def for_stripe(
        cls,
        api_key: str,
        *,
        base_url: str | None = None,
        api_version: str = stripe.API_VERSION,
        webhook_secret: str | None = None,
        **options: Any,
    ) -> Self:
        """A gateway to Stripe (or a Stripe simulator at ``base_url``)."""
        if base_url is not None:
            options["base_url"] = base_url
        return cls.for_provider(
            "stripe",
            api_key=api_key,
            api_version=api_version,
            webhook_secret=webhook_secret,
            **options,
        )

    @classmethod
    def for_adyen(
        cls,
        api_key: str,
        *,
        merchant_account: str,
        base_url: str | None = None,
        hmac_key: str | None = None,
        **options: Any,
    ) -> Self:
        """A gateway to Adyen's Checkout API (or an Adyen simulator at ``base_url``)."""
        if base_url is not None:
            options["base_url"] = base_url
        return cls.for_provider(
            "adyen",
            api_key=api_key,
            merchant_account=merchant_account,
            hmac_key=hmac_key,
            **options,
        )

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, toml_file: str | Path | None = None
    ) -> Self:
        """A gateway configured from ``PAYGATE_*`` environment variables and/or a TOML file."""
        loaded = settings if settings is not None else Settings.load(toml_file)
        gateway = cls(**gateway_options(loaded))
        gateway._owns_store = gateway._owns_records = True  # opened for this gateway alone
        gateway._owns_breaker_state = True
        return gateway


class _BlockingIO(_Constructors):
    """The verbs of the blocking gateway."""

    _client: httpx.Client

    def _exchange(self, request: httpx.Request, deadline: Deadline) -> httpx.Response:
        """Send one attempt and read its answer, within the limit. The deadline is a wall for
        the gateway's own transport (``DeadlineTransport`` cuts every socket operation to it);
        any transport's answer is read no further once it has passed."""
        response = self._client.send(request, stream=True)
        try:
            return read_body(response, self.limits.response_body)
        finally:
            response.close()

    def _own_loop(self) -> None:
        """A blocking gateway serves any thread."""

    @staticmethod
    def _shielded(done: T) -> T:
        """A step already done: a blocking call runs to its end unless the process dies."""
        return done

    def _store_call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """An idempotency store call."""
        return fn(*args, **kwargs)

    def _records(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A record store call."""
        return fn(*args, **kwargs)

    @staticmethod
    def _sleep(seconds: float) -> None:
        time.sleep(seconds)

    def _close_breaker_state(self) -> None:
        self.breaker.backend.close()


class _AsyncIO(_Constructors):
    """The verbs of the asyncio gateway: a store that does blocking I/O runs in a thread."""

    _loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
    _client: httpx.AsyncClient

    async def _exchange(self, request: httpx.Request, deadline: Deadline) -> httpx.Response:
        """Send one attempt and read its answer, within the limit and the deadline: the whole
        exchange is cancelled when the deadline passes, however the answer trickles in (a
        moment later than the per-phase timeouts, so that those, which know how far the
        request got, fire first when they can)."""
        try:
            async with asyncio.timeout(deadline.remaining() + _WALL_SLACK):
                response = await self._client.send(request, stream=True)
                try:
                    return await aread_body(response, self.limits.response_body)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise httpx.ReadTimeout("the call's deadline passed during the exchange") from None

    def _own_loop(self) -> None:
        """Refuse, before anything is sent, a call from another event loop than the one the
        gateway first ran on: its connections and its bulkhead belong to that loop, and
        neither survives the loop's end (``asyncio.run`` twice, a loop per thread)."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = weakref.ref(loop)
        elif self._loop() is not loop:
            raise InvalidRequestError(
                "an AsyncGateway serves the event loop it first ran on, and this call runs on "
                "another: make one gateway per event loop; nothing was sent",
                code=ErrorCode.UNSUPPORTED,
            )

    @staticmethod
    async def _shielded(step: Awaitable[T]) -> T:
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

    async def _store_call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """An idempotency store call."""
        if self.store.blocking:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    async def _records(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A record store call."""
        if self.records.blocking:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    @staticmethod
    async def _sleep(seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _close_breaker_state(self) -> None:
        await self.breaker.backend.aclose()
        self.breaker.backend.close()
