"""``MockProvider``: a provider answering in process, through the httpx transport a gateway is
given, with a handler of the test's own in front of it.

The handler sees every request first and answers it (an ``httpx.Response``), fails it (raise
``httpx.ConnectError``, ``httpx.ReadTimeout``...: what the network would do), or passes it on
(``None``) to the provider's simulator, which then answers as over loopback: same state, test
cards, idempotency and injected faults, with no socket and no server thread (an asyncio
gateway's requests reach it in a worker thread, so that its waits never block the event loop).
The simulator's waits and the time an answer takes to arrive run on the mock's clock; with a
``FakeClock`` nothing really waits, and the call's deadline still sees every second.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Final

import httpx

from paygate.gateway import AsyncGateway, Gateway
from paygate.models import WebhookOutcome
from paygate.resilience.clock import SYSTEM_CLOCK, Clock
from paygate.testing._dispatch import Delivery, Stream
from paygate.testing._records import Headers
from paygate.testing._server import Simulator
from paygate.testing.contract import adapter_named
from paygate.testing.faults import Fault

__all__ = ["Handler", "MockProvider"]

Answer = httpx.Response | None
Handler = Callable[[httpx.Request], Answer | Awaitable[Answer]]

_DRIP_PIECE: Final = 1024  # a dripped body arrives in pieces this big, each after its wait


class MockProvider(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The provider ``provider`` (a registered name), answering in process: the transport of a
    ``Gateway`` and of an ``AsyncGateway`` (``mock.gateway()``, ``mock.async_gateway()``).

    ``handler(request)`` answers first when given (an ``async def`` handler answers an
    ``AsyncGateway`` only); ``None`` from it lets the simulator answer. ``clock`` is the
    gateways' clock and the one the simulated provider waits on (the system's when None).
    ``requests`` are every request sent, in order; ``simulator`` is the provider's simulator
    (its payments, webhooks, ``inject``), not served over HTTP.
    """

    def __init__(
        self,
        provider: str = "stripe",
        handler: Handler | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._entry = adapter_named(provider)
        self.provider = provider
        self.handler = handler
        self.clock = clock
        self._waits: Clock = clock if clock is not None else SYSTEM_CLOCK
        self.simulator: Simulator = self._entry.simulator()
        self._dispatcher = self.simulator.in_process(self._waits.sleep)
        self._lock = threading.Lock()
        self._requests: list[httpx.Request] = []

    def __repr__(self) -> str:
        return f"paygate.testing.MockProvider({self.provider!r})"

    # -- for a test ----------------------------------------------------------------------------
    def options(self) -> dict[str, Any]:
        """What points a gateway at this mock: the provider's settings, ``transport`` and
        ``clock``."""
        clock = {} if self.clock is None else {"clock": self.clock}
        return {**self._entry.sim_options(self.simulator), "transport": self, **clock}

    def gateway(self, **options: Any) -> Gateway:
        """A ``Gateway`` answered by this mock; ``options`` are the gateway's (``retry``...)."""
        return Gateway.for_provider(self.provider, **self.options(), **options)

    def async_gateway(self, **options: Any) -> AsyncGateway:
        """An ``AsyncGateway`` answered by this mock."""
        return AsyncGateway.for_provider(self.provider, **self.options(), **options)

    def inject(
        self,
        fault: Fault,
        times: int | None = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Have the simulator apply ``fault`` to the next ``times`` matching requests it gets
        (``Simulator.inject``)."""
        self.simulator.inject(fault, times, method, path)

    def deliver_webhooks(self, gw: Gateway) -> list[WebhookOutcome]:
        """Decide the provider's pending asynchronous steps (Adyen's modifications) and hand
        every webhook it queued to ``gw``; what each event did."""
        return self._entry.confirm(gw, self.simulator)

    def charges(self, reference: str) -> int:
        """How many payments the provider holds for ``reference``."""
        return self._entry.charges(self.simulator, reference)

    @property
    def requests(self) -> list[httpx.Request]:
        """Every request a gateway sent to the mock, in order, bodies read."""
        with self._lock:
            return list(self._requests)

    def request_count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests matched ``method`` and the exact URL ``path`` (None: any)."""
        wanted = None if method is None else method.upper()
        return sum(
            1
            for r in self.requests
            if (wanted is None or r.method == wanted) and (path is None or r.url.path == path)
        )

    # -- the transport -------------------------------------------------------------------------
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self._note(request)
        if self.handler is not None:
            answer = self.handler(request)
            if inspect.isawaitable(answer):
                close = getattr(answer, "close", None)
                if close is not None:
                    close()  # an un-awaited coroutine, closed quietly
                raise TypeError("an async def handler answers an AsyncGateway only")
            if answer is not None:
                return answer
        return self._respond(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self._note(request)
        if self.handler is not None:
            answer = self.handler(request)
            if inspect.isawaitable(answer):
                answer = await answer
            if answer is not None:
                return answer
        # The simulator's waits block: in a worker thread, the event loop runs on meanwhile.
        return await asyncio.to_thread(self._respond, request)

    def _note(self, request: httpx.Request) -> None:
        with self._lock:
            self._requests.append(request)

    def _respond(self, request: httpx.Request) -> httpx.Response:
        """The simulator's answer, shaped as the fault that spoils its delivery says."""
        headers = Headers(request.headers.items())
        query = request.url.query.decode("ascii")
        try:
            delivery = self._dispatcher.dispatch(
                request.method, request.url.path, query, headers, request.content
            )
        except Exception:  # a simulator bug: answer as its HTTP server would
            provider = self._dispatcher.provider
            delivery = Delivery(provider.stamp(provider.server_error(500)))
        return _Arrival(delivery, request, self._waits).response()


class _Arrival:
    """How a delivery reaches the client in process: the simulator's hold, the answer's head
    and its body each take their time on the clock, and a wait the client's read timeout would
    not sit through ends in the ``httpx.ReadTimeout`` it would raise."""

    def __init__(self, delivery: Delivery, request: httpx.Request, clock: Clock) -> None:
        self._delivery = delivery
        self._request = request
        self._clock = clock
        timeouts = request.extensions.get("timeout") or {}
        self._read: float | None = timeouts.get("read")

    def response(self) -> httpx.Response:
        delivery, reply = self._delivery, self._delivery.reply
        if delivery.hold:
            self._wait(delivery.hold)
        if reply is None:
            raise httpx.ReadError("connection closed without an answer", request=self._request)
        stream = delivery.stream or Stream(iter((reply.body,)), len(reply.body))
        headers = list(reply.headers)
        if stream.length is not None:
            headers.append(("Content-Length", str(stream.length)))
        if delivery.drip_head:
            head = sum(len(name) + len(value) + 4 for name, value in headers) + 17
            self._wait(delivery.drip_head, head)
        return httpx.Response(
            reply.status,
            headers=headers,
            stream=_Body(self, stream.pieces, delivery.drip_body, self._clock),
            request=self._request,
        )

    def piece_wait(self, piece: bytes, drip: float) -> tuple[float, bool]:
        """Seconds until ``piece`` has arrived at ``drip`` seconds a byte, and whether the
        client's read timeout ends that wait first (then the seconds are the timeout's)."""
        if drip and self._read is not None and drip > self._read:
            return self._read, True
        return drip * len(piece), False

    def timed_out(self) -> httpx.ReadTimeout:
        return httpx.ReadTimeout("no byte within the read timeout", request=self._request)

    def _wait(self, seconds: float, size: int = 1) -> None:
        """Wait for ``size`` bytes, ``seconds`` apart (the first after ``seconds`` too)."""
        if self._read is not None and seconds > self._read:
            self._clock.sleep(self._read)
            raise self.timed_out()
        self._clock.sleep(seconds * size)


class _Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """An answer's body, piece by piece, each after the time it takes to arrive."""

    def __init__(
        self, arrival: _Arrival, pieces: Iterator[bytes], drip: float, clock: Clock
    ) -> None:
        self._arrival = arrival
        self._pieces = _split(pieces) if drip else pieces
        self._drip = drip
        self._clock = clock

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._pieces:
            wait, late = self._arrival.piece_wait(piece, self._drip)
            if wait:
                self._clock.sleep(wait)
            if late:
                raise self._arrival.timed_out()
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            wait, late = self._arrival.piece_wait(piece, self._drip)
            if wait:
                await self._clock.sleep_async(wait)
            if late:
                raise self._arrival.timed_out()
            yield piece


def _split(pieces: Iterator[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        for at in range(0, len(piece), _DRIP_PIECE):
            yield piece[at : at + _DRIP_PIECE]
