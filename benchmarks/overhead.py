"""Pure SDK overhead, no network: one authorize through the Gateway (memory idempotency store,
breaker, retry policy and bulkhead all on) against the same exchange done by hand with a bare
httpx client (build the form body, POST, parse the JSON), both over one httpx.MockTransport
that answers a canned Stripe PaymentIntent."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from benchmarks import _stripe_bare as bare
from benchmarks._harness import Stats, run_interleaved, run_interleaved_async
from paygate import AsyncGateway, Gateway, PaymentStatus
from paygate.adapters.stripe import StripeAdapter
from paygate.telemetry import OpenTelemetry

BASE_URL = "https://stripe.bench"


def _answer(request: httpx.Request) -> httpx.Response:
    """A Stripe PaymentIntent that echoes what was asked, as the integrity check expects, with
    every field Stripe's spec requires of one (``created`` among them)."""
    form = dict(parse_qsl(request.content.decode()))
    amount = int(form["amount"])
    body = {
        "id": f"pi_{form['metadata[reference]']}",
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": amount,
        "amount_received": 0,
        "currency": form["currency"],
        "status": "requires_capture",
        "capture_method": "manual",
        "confirmation_method": "automatic",
        "created": 1764806400,
        "payment_method_types": ["card"],
        "livemode": False,
        "metadata": {"reference": form["metadata[reference]"]},
        "latest_charge": {
            "id": "ch_bench",
            "object": "charge",
            "amount": amount,
            "amount_captured": 0,
            "amount_refunded": 0,
            "captured": False,
            "currency": form["currency"],
            "status": "succeeded",
        },
        "next_action": None,
        "last_payment_error": None,
    }
    return httpx.Response(200, content=json.dumps(body).encode(), headers={"Request-Id": "req_b"})


@dataclass(frozen=True)
class OverheadResult:
    title: str
    paygate: Stats
    bare: Stats
    target: str = "≤ 1.50x"  # telemetry on: its cost is reported, with no target

    @property
    def ratio(self) -> float:
        return self.paygate.median / self.bare.median


def sync_contenders(
    gw: Gateway, client: httpx.Client
) -> tuple[Callable[[int], None], Callable[[int], None]]:
    """One authorize through ``gw``, and the same exchange by hand through ``client``."""

    def through_paygate(n: int) -> None:
        p = gw.authorize(bare.AMOUNT, source=bare.VISA, reference=f"bench-{n}")
        if p.status is not PaymentStatus.AUTHORIZED:
            raise AssertionError(p)

    def bare_httpx(n: int) -> None:
        response = client.post(
            f"{BASE_URL}/v1/payment_intents",
            data=bare.authorize_form(f"bench-{n}"),
            headers=bare.headers(bare.API_KEY, f"bare-{n}"),
        )
        response.raise_for_status()
        bare.check(response.json())

    return through_paygate, bare_httpx


def sync_contest(*, rounds: int, per_round: int, **options: Any) -> tuple[Stats, Stats]:
    """The sync contest: a ``Gateway`` made with ``options`` against the bare exchange."""
    transport = httpx.MockTransport(_answer)
    adapter = StripeAdapter(bare.API_KEY, base_url=BASE_URL)
    with (
        Gateway(adapter, transport=transport, **options) as gw,
        httpx.Client(transport=transport) as client,
    ):
        through_paygate, bare_httpx = sync_contenders(gw, client)
        stats = run_interleaved(
            {"Gateway": through_paygate, "httpx.Client": bare_httpx},
            rounds=rounds,
            per_round=per_round,
        )
    return stats["Gateway"], stats["httpx.Client"]


def sync_overhead(*, rounds: int, per_round: int, telemetry: bool = False) -> OverheadResult:
    """With ``telemetry``, the gateway's events go to paygate's OpenTelemetry listener over
    the OpenTelemetry SDK's providers (spans recorded, no exporter; metrics aggregated into an
    in-memory reader): what turning it on costs a call, export aside."""
    if telemetry:
        paygate, bare_httpx = sync_contest(
            rounds=rounds, per_round=per_round, on_event=_otel_listener()
        )
        return OverheadResult(
            "sync, in-process, OpenTelemetry on", paygate, bare_httpx, target="reported"
        )
    return OverheadResult("sync, in-process", *sync_contest(rounds=rounds, per_round=per_round))


def _otel_listener() -> OpenTelemetry:
    meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return OpenTelemetry(tracer_provider=TracerProvider(), meter_provider=meters)


def async_contenders(
    gw: AsyncGateway, client: httpx.AsyncClient
) -> tuple[Callable[[int], Awaitable[None]], Callable[[int], Awaitable[None]]]:
    """``sync_contenders`` on an event loop."""

    async def through_paygate(n: int) -> None:
        p = await gw.authorize(bare.AMOUNT, source=bare.VISA, reference=f"bench-{n}")
        if p.status is not PaymentStatus.AUTHORIZED:
            raise AssertionError(p)

    async def bare_httpx(n: int) -> None:
        response = await client.post(
            f"{BASE_URL}/v1/payment_intents",
            data=bare.authorize_form(f"bench-{n}"),
            headers=bare.headers(bare.API_KEY, f"bare-{n}"),
        )
        response.raise_for_status()
        bare.check(response.json())

    return through_paygate, bare_httpx


def async_contest(*, rounds: int, per_round: int, **options: Any) -> tuple[Stats, Stats]:
    """The async contest: an ``AsyncGateway`` made with ``options`` against the bare exchange."""
    transport = httpx.MockTransport(_answer)
    adapter = StripeAdapter(bare.API_KEY, base_url=BASE_URL)
    through_paygate, bare_httpx = async_contenders(
        AsyncGateway(adapter, transport=transport, **options),
        httpx.AsyncClient(transport=transport),
    )
    stats = run_interleaved_async(
        {"AsyncGateway": through_paygate, "httpx.AsyncClient": bare_httpx},
        rounds=rounds,
        per_round=per_round,
    )
    return stats["AsyncGateway"], stats["httpx.AsyncClient"]


def async_overhead(*, rounds: int, per_round: int) -> OverheadResult:
    return OverheadResult("async, in-process", *async_contest(rounds=rounds, per_round=per_round))
