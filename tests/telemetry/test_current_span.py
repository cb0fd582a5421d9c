"""While an operation runs, its INTERNAL span is the current OpenTelemetry span: a span another
instrumentation starts inside the call (here a transport's, and a listener's) is its child, on
the blocking gateway and under asyncio; the caller's context comes back when the call ends,
a cancelled one included. Two gateways may share one listener (their calls never mix)."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from tests.conftest import API_KEY
from tests.telemetry.conftest import Otel

from paygate import AsyncGateway, Gateway, Money, PaymentSource, RetryPolicy
from paygate.adapters.stripe import StripeAdapter
from paygate.telemetry import Event, OperationStarted
from paygate.testing import StripeSimulator

VISA = PaymentSource.token("pm_card_visa")
EUR = Money("12.34", "EUR")
ONCE = RetryPolicy(max_attempts=1)


class _Traced(httpx.BaseTransport):
    """Sends through ``inner`` inside a span of its own, as an HTTP instrumentation would."""

    def __init__(self, tracer: trace.Tracer, inner: httpx.BaseTransport) -> None:
        self._tracer, self._inner = tracer, inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._tracer.start_as_current_span("transport"):
            return self._inner.handle_request(request)


class _AsyncTraced(httpx.AsyncBaseTransport):
    def __init__(self, tracer: trace.Tracer, inner: httpx.AsyncBaseTransport) -> None:
        self._tracer, self._inner = tracer, inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with self._tracer.start_as_current_span("transport"):
            return await self._inner.handle_async_request(request)


def _parent_of(otel: Otel, name: str) -> ReadableSpan:
    [span] = otel.named(name)
    assert span.parent is not None, name
    [parent] = [s for s in otel.spans() if s.context.span_id == span.parent.span_id]  # type: ignore[union-attr]
    return parent


@pytest.fixture
def tracer(otel: Otel) -> trace.Tracer:
    return otel.tracer_provider.get_tracer("shop")


def test_a_span_started_inside_a_blocking_call_is_the_operations_child(
    otel: Otel, tracer: trace.Tracer, sim: StripeSimulator
) -> None:
    def listener(event: Event) -> None:
        otel.listener(event)
        if isinstance(event, OperationStarted):  # after paygate's listener: inside the call
            tracer.start_span("listener").end()

    adapter = StripeAdapter(API_KEY, base_url=sim.url)
    with (
        httpx.HTTPTransport() as inner,
        Gateway(adapter, transport=_Traced(tracer, inner), on_event=listener) as gw,
        tracer.start_as_current_span("checkout") as checkout,
    ):
        gw.authorize(EUR, source=VISA, reference="current-1")
        assert trace.get_current_span() is checkout  # the caller's context is back
    assert _parent_of(otel, "transport").name == "paygate authorize"
    assert _parent_of(otel, "listener").name == "paygate authorize"
    assert _parent_of(otel, "paygate authorize").name == "checkout"


async def test_a_span_started_inside_an_async_call_is_the_operations_child(
    otel: Otel, tracer: trace.Tracer, sim: StripeSimulator
) -> None:
    adapter = StripeAdapter(API_KEY, base_url=sim.url)
    async with (
        httpx.AsyncHTTPTransport() as inner,
        AsyncGateway(adapter, transport=_AsyncTraced(tracer, inner), on_event=otel.listener) as gw,
    ):
        with tracer.start_as_current_span("checkout") as checkout:
            await gw.authorize(EUR, source=VISA, reference="current-2")
            assert trace.get_current_span() is checkout
        # Concurrent calls, each in its own task: each transport span under its own operation.
        await asyncio.gather(
            *(gw.authorize(EUR, source=VISA, reference=f"current-3-{i}") for i in range(3))
        )
    operations = otel.named("paygate authorize")
    transports = otel.named("transport")
    assert len(operations) == len(transports) == 4
    parents = {t.parent.span_id for t in transports if t.parent is not None}
    assert parents == {o.context.span_id for o in operations if o.context is not None}
    assert trace.get_current_span() is trace.INVALID_SPAN


class _Stalled(httpx.AsyncBaseTransport):
    """Never answers: the call waits until it is cancelled."""

    def __init__(self) -> None:
        self.sending = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sending.set()
        await asyncio.sleep(3600)
        raise AssertionError("not reached")


async def test_a_cancelled_async_call_gives_the_callers_context_back(
    otel: Otel, tracer: trace.Tracer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="opentelemetry.context")
    stalled = _Stalled()
    adapter = StripeAdapter(API_KEY, base_url="https://stripe.invalid")
    seen_after: list[object] = []

    async def checkout(gw: AsyncGateway) -> None:
        with tracer.start_as_current_span("checkout") as span:
            try:
                await gw.authorize(EUR, source=VISA, reference="current-4")
            except asyncio.CancelledError:
                seen_after.append(trace.get_current_span() is span)
                raise

    async with AsyncGateway(adapter, transport=stalled, retry=ONCE, on_event=otel.listener) as gw:
        task = asyncio.create_task(checkout(gw))
        await stalled.sending.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert seen_after == [True]  # in the cancelled task, the caller's span is current again
    [operation] = otel.named("paygate authorize")
    assert (operation.attributes or {})["paygate.outcome"] == "interrupted"
    assert _parent_of(otel, "paygate authorize").name == "checkout"
    # OpenTelemetry logs "Failed to detach context" for a detach out of turn: none here.
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry.context")]


def test_two_gateways_share_one_listener_without_mixing_their_calls(
    otel: Otel, tracer: trace.Tracer, sim: StripeSimulator
) -> None:
    """A call of one gateway made inside a call of another (both gateways' first call): each
    operation span ends with its own attributes, one the other's descendant."""
    adapter = StripeAdapter(API_KEY, base_url=sim.url)
    with Gateway(adapter, on_event=otel.listener, retry=ONCE) as inner_gw:

        class _Nested(httpx.BaseTransport):
            def __init__(self, inner: httpx.BaseTransport) -> None:
                self._inner = inner

            def handle_request(self, request: httpx.Request) -> httpx.Response:
                if request.method == "POST" and "/capture" not in request.url.path:
                    inner_gw.authorize(EUR, source=VISA, reference="current-inner")
                return self._inner.handle_request(request)

        with (
            httpx.HTTPTransport() as http,
            Gateway(adapter, transport=_Nested(http), on_event=otel.listener) as outer_gw,
        ):
            outer_gw.authorize(EUR, source=VISA, reference="current-outer")
    spans = otel.named("paygate authorize")
    assert len(spans) == 2  # both ended
    by_reference = {(s.attributes or {})["paygate.payment_id"]: s for s in spans}
    assert len(by_reference) == 2
    inner, outer = sorted(spans, key=lambda s: s.start_time or 0, reverse=True)
    assert inner.parent is not None and outer.context is not None
    assert inner.parent.span_id == outer.context.span_id
    assert trace.get_current_span() is trace.INVALID_SPAN
