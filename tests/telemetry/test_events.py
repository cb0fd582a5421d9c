"""The event hook: ``on_event=`` receives one typed stream, in order, from either gateway; a
listener that raises never fails a payment; with no listener nothing is built."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.conftest import API_KEY

from paygate import BulkheadPolicy, Gateway, Money, PaymentSource, Settings
from paygate.errors import BulkheadFull
from paygate.telemetry import (
    AttemptEnded,
    BulkheadRefused,
    Event,
    GatewayClosed,
    GatewayOpened,
    IdempotencyWaiting,
    OperationEnded,
    OperationStarted,
    Outcome,
    RecordChanged,
    key_digest,
    safe_url,
)
from paygate.testing import Fault, StripeSimulator

VISA = PaymentSource.token("pm_card_visa")
EUR = Money("12.34", "EUR")


def test_the_stream_of_one_call_in_order(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    events: list[Event] = []
    gw = make_gateway(on_event=events.append)
    payment = gw.authorize(EUR, source=VISA, reference="ev-1", idempotency_key="ev-key-1")
    kinds = [type(e) for e in events]
    assert kinds == [GatewayOpened, OperationStarted, AttemptEnded, RecordChanged, OperationEnded]
    started, attempt, changed, ended = events[1:]
    assert isinstance(started, OperationStarted) and isinstance(ended, OperationEnded)
    assert started.call == ended.call == attempt.call == changed.call  # type: ignore[union-attr]
    assert ended.outcome is Outcome.SUCCEEDED
    assert (ended.attempts, ended.payment_id) == (1, payment.id)
    assert ended.key_digest == key_digest("ev-key-1") != "ev-key-1"
    assert isinstance(changed, RecordChanged)
    assert (changed.from_status, changed.to_status, changed.cause) == (None, "authorized", "call")


def test_several_listeners_and_one_that_raises(
    sim: StripeSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    with Gateway.for_stripe(API_KEY, base_url=sim.url, on_event=[broken, seen.append]) as gw:
        payment = gw.authorize(EUR, source=VISA, reference="ev-2")
    assert payment.status.value == "authorized"
    assert any(isinstance(e, OperationEnded) for e in seen)
    assert isinstance(seen[-1], GatewayClosed)
    assert "paygate event listener" in caplog.text


def test_from_settings_takes_a_listener(
    sim: StripeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYGATE_PROVIDER", "stripe")
    monkeypatch.setenv("PAYGATE_STRIPE__API_KEY", API_KEY)
    monkeypatch.setenv("PAYGATE_STRIPE__BASE_URL", sim.url)
    seen: list[Event] = []
    with Gateway.from_settings(Settings.load(), on_event=seen.append) as gw:
        gw.authorize(EUR, source=VISA, reference="ev-3")
    assert next(e for e in seen if isinstance(e, OperationEnded)).outcome is Outcome.SUCCEEDED


def test_a_bulkhead_refusal(sim: StripeSimulator) -> None:
    seen: list[Event] = []
    one = BulkheadPolicy(max_concurrent=1, max_wait=0)
    with Gateway.for_stripe(API_KEY, base_url=sim.url, bulkhead=one, on_event=seen.append) as gw:
        sim.inject(Fault.latency(0.5), times=1)
        holder = threading.Thread(
            target=gw.authorize, args=(EUR,), kwargs={"source": VISA, "reference": "ev-6"}
        )
        holder.start()
        time.sleep(0.2)
        with pytest.raises(BulkheadFull):
            gw.authorize(EUR, source=VISA, reference="ev-7")
        holder.join()
    [refused] = [e for e in seen if isinstance(e, BulkheadRefused)]
    [ended] = [e for e in seen if isinstance(e, OperationEnded) and e.call == refused.call]
    assert (ended.outcome, ended.error_code, ended.attempts) == (
        Outcome.RETRIABLE, "bulkhead_full", 0,
    )  # fmt: skip


def test_with_no_listener_nothing_is_watched(sim: StripeSimulator) -> None:
    with Gateway.for_stripe(API_KEY, base_url=sim.url) as gw:
        telemetry = gw._pipeline.telemetry
        assert not telemetry.on
        assert telemetry.watch("stripe", "authorize", None) is None
        gw.authorize(EUR, source=VISA, reference="ev-4")


def test_urls_lose_their_query_values_and_credentials() -> None:
    import httpx

    url = httpx.URL("https://user:pw@api.example/v1/search?query=email:a@b.c&limit=1#frag")
    assert safe_url(url) == "https://api.example/v1/search?query=REDACTED&limit=REDACTED"


def test_log_lines_carry_their_facts_as_fields(
    sim: StripeSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="paygate")
    with Gateway.for_stripe(API_KEY, base_url=sim.url) as gw:
        payment = gw.authorize(EUR, source=VISA, reference="ev-5", idempotency_key="ev-key-5")
        gw.authorize(EUR, source=VISA, reference="ev-5", idempotency_key="ev-key-5")
        gw.capture(payment.id)
    call, replay, capture = [r for r in caplog.records if r.name == "paygate"]
    assert call.paygate_provider == "stripe"  # type: ignore[attr-defined]
    assert call.paygate_operation == "authorize"  # type: ignore[attr-defined]
    assert call.paygate_outcome == "ok"  # type: ignore[attr-defined]
    assert call.paygate_attempts == 1  # type: ignore[attr-defined]
    assert call.paygate_elapsed_ms >= 0  # type: ignore[attr-defined]
    assert call.paygate_key_digest == key_digest("ev-key-5")  # type: ignore[attr-defined]
    assert "ev-key-5" not in call.getMessage()
    assert replay.paygate_outcome == "replayed"  # type: ignore[attr-defined]
    assert capture.paygate_payment_id == payment.id  # type: ignore[attr-defined]


def test_a_duplicate_in_flight_waits_and_then_replays(sim: StripeSimulator) -> None:
    seen: list[Event] = []
    with Gateway.for_stripe(API_KEY, base_url=sim.url, on_event=seen.append) as gw:
        sim.inject(Fault.latency(0.4), times=1)
        args = {"source": VISA, "reference": "ev-8", "idempotency_key": "ev-key-8"}
        first = threading.Thread(target=gw.authorize, args=(EUR,), kwargs=args)
        first.start()
        time.sleep(0.15)
        gw.authorize(EUR, **args)  # type: ignore[arg-type]
        first.join()
    [waiting] = [e for e in seen if isinstance(e, IdempotencyWaiting)]
    assert waiting.key_digest == key_digest("ev-key-8")
    [ended] = [e for e in seen if isinstance(e, OperationEnded) and e.call == waiting.call]
    assert (ended.outcome, ended.attempts) == (Outcome.REPLAYED, 0)
