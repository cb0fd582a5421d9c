"""Hostile answers cannot hold a call past its deadline or take the process's memory, and
leave no payment unrecorded: an answer dripped a byte at a time (body or headers), a huge or
endless body, a gzip bomb, an answer from something that is not the provider. Both gateways,
both providers."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from paygate import LimitsPolicy, Money, PaymentSource, RetryPolicy, Timeout
from paygate.errors import ErrorCode, InvalidWebhookError, OutcomeUnknown, TerminalError
from paygate.testing import AdyenSimulator, Fault, StripeSimulator

LATER = datetime.now(UTC) + timedelta(hours=2)
VISA = PaymentSource.token("pm_card_visa")
PI_PATH = "/v1/payment_intents"
ONE_ATTEMPT = RetryPolicy(max_attempts=1)
DEADLINE = 1.0
SLACK = 0.6  # scheduling, and the asyncio gateway's cancellation a moment after the deadline


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def _settled_once(gw: Any, sim: StripeSimulator, reference: str) -> None:
    """The unknown outcome is on the record, and the provider's replay settles it: one charge."""
    [record] = gw.unknown_payments()
    assert record.unknown[0].reason
    sim.clear_faults()
    [resolution] = gw.resolve_unknown(due_by=LATER)
    assert resolution.settled, resolution
    assert len(sim.payment_intents(reference=reference)) == 1
    assert gw.unknown_payments() == []


@pytest.mark.parametrize(
    "fault", [Fault.slow_body(interval=0.1), Fault.slow_headers(interval=0.1)], ids=repr
)
def test_an_answer_dripped_a_byte_at_a_time_cannot_hold_a_call_past_its_deadline(
    make_gateway: Callable[..., Any], sim: StripeSimulator, fault: Fault
) -> None:
    """Each read gets a byte well within its read timeout; the deadline still ends the call."""
    gw = make_gateway(retry=ONE_ATTEMPT, timeout=Timeout(read=0.5, total=DEADLINE))
    sim.inject(fault, method="POST", path=PI_PATH)
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown) as lost:
        gw.authorize(eur("10.00"), source=VISA, reference="order-drip")
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + SLACK, elapsed
    assert lost.value.code is ErrorCode.TIMEOUT
    _settled_once(gw, sim, "order-drip")


@pytest.mark.parametrize(
    "fault",
    [Fault.oversized_body(size=8 << 20), Fault.endless_body(), Fault.gzip_bomb(size=1 << 30)],
    ids=repr,
)
def test_a_huge_answer_is_refused_at_the_limit_not_read(
    make_gateway: Callable[..., Any], sim: StripeSimulator, fault: Fault
) -> None:
    gw = make_gateway(retry=ONE_ATTEMPT, timeout=Timeout(total=10.0))
    sim.inject(fault, method="POST", path=PI_PATH)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, the peak so far
    with pytest.raises(OutcomeUnknown) as refused:
        gw.authorize(eur("11.00"), source=VISA, reference="order-huge")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert refused.value.code is ErrorCode.RESPONSE_TOO_LARGE
    assert grown < 64 * 1024, f"the peak grew {grown} KiB"  # a bomb would be a gigabyte
    _settled_once(gw, sim, "order-huge")


def test_the_limit_is_a_setting_and_a_read_past_it_is_terminal(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway(retry=ONE_ATTEMPT, limits=LimitsPolicy(response_body=2048))
    p = gw.authorize(eur("12.00"), source=VISA, reference="order-small-limit")  # ~1.5 KB: fits
    sim.inject(Fault.oversized_body(size=4096), method="GET")
    with pytest.raises(TerminalError) as refused:
        gw.retrieve(p.id)
    assert refused.value.code is ErrorCode.RESPONSE_TOO_LARGE
    assert not isinstance(refused.value, OutcomeUnknown)  # a read moves no money


@pytest.mark.parametrize(
    "fault",
    [Fault.foreign(status=404), Fault.foreign(status=302), Fault.foreign_json(status=409)],
    ids=repr,
)
def test_an_answer_that_is_not_the_providers_is_an_unknown_outcome(
    make_gateway: Callable[..., Any], sim: StripeSimulator, fault: Fault
) -> None:
    gw = make_gateway(retry=ONE_ATTEMPT)
    sim.inject(fault, method="POST", path=PI_PATH)
    with pytest.raises(OutcomeUnknown) as foreign:
        gw.authorize(eur("13.00"), source=VISA, reference="order-foreign")
    assert foreign.value.code is ErrorCode.UNEXPECTED_RESPONSE
    sim.inject(fault, method="POST", path=PI_PATH)  # the resolver meets it again: escalated
    [check] = gw.resolve_unknown(due_by=LATER)
    assert not check.settled and check.escalated
    _settled_once(gw, sim, "order-foreign")


def test_adyen_answers_are_walled_and_bounded_too(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    gw = make_adyen_gateway(retry=ONE_ATTEMPT, timeout=Timeout(read=0.5, total=DEADLINE))
    card = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="APPROVED")
    for fault, code in [
        (Fault.slow_body(interval=0.1), ErrorCode.TIMEOUT),
        (Fault.gzip_bomb(size=1 << 30), ErrorCode.RESPONSE_TOO_LARGE),
    ]:
        adyen_sim.inject(fault, method="POST")
        started = time.monotonic()
        with pytest.raises(OutcomeUnknown) as lost:
            gw.authorize(eur("14.00"), source=card, reference=f"order-{fault.kind.value}")
        assert lost.value.code is code
        assert time.monotonic() - started < DEADLINE + SLACK
    assert len(gw.unknown_payments()) == 2


def test_a_webhook_delivery_over_the_limit_is_refused_unread(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway(limits=LimitsPolicy(webhook_body=4096))
    gw.authorize(eur("15.00"), source=VISA, reference="order-hook")
    [delivery] = sim.drain_webhooks()
    padded = delivery.body[:-1] + b" " * 5000 + b"}"
    with pytest.raises(InvalidWebhookError) as refused:
        gw.handle_webhook(delivery.headers, padded)
    assert refused.value.code is ErrorCode.WEBHOOK_MALFORMED and "limit" in str(refused.value)
    [outcome] = gw.handle_webhook(delivery.headers, delivery.body)  # the real one still applies
    assert outcome.result == "unchanged"
