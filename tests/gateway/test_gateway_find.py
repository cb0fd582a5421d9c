"""``Gateway.find`` / ``AsyncGateway.find`` end to end against the Stripe simulator, sync and
async: the newest payment with a reference (and amount), not found, and only reads sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from paygate import Money, PaymentSource, PaymentStatus
from paygate.errors import ErrorCode, InvalidRequestError, OutcomeUnknown, TerminalError
from paygate.testing import Fault, StripeSimulator

VISA = PaymentSource.token("pm_card_visa")
SEARCH = "/v1/payment_intents/search"


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def test_find_returns_the_newest_or_the_one_with_the_amount_and_only_reads(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    first = gw.authorize(eur("10.00"), source=VISA, reference="order-7")
    second = gw.authorize(eur("20.00"), source=VISA, reference="order-7")
    gw.authorize(eur("10.00"), source=VISA, reference="order-8")
    sent_before = len(sim.requests)

    newest = gw.find("order-7")
    assert newest.id == second.id and newest.amount == eur("20.00")
    assert newest.status is PaymentStatus.AUTHORIZED and newest.reference == "order-7"
    by_amount = gw.find("order-7", amount=eur("10.00"))
    assert by_amount.id == first.id and by_amount.amount_authorized == eur("10.00")
    with pytest.raises(TerminalError) as missing:
        gw.find("order-unknown")
    assert missing.value.code is ErrorCode.NOT_FOUND
    assert not isinstance(missing.value, OutcomeUnknown)
    assert "eventually consistent" in str(missing.value)
    with pytest.raises(TerminalError) as other_amount:
        gw.find("order-7", amount=eur("30.00"))
    assert other_amount.value.code is ErrorCode.NOT_FOUND

    finds = sim.requests[sent_before:]
    assert len(finds) == 4
    assert all((r.method, r.path) == ("GET", SEARCH) for r in finds)
    assert all(r.idempotency_key is None for r in finds)
    assert finds[1].params["query"] == (
        "metadata['reference']:'order-7' AND amount:1000 AND currency:'eur'"
    )
    assert len(sim.payment_intents()) == 3  # nothing was created by a find


def test_the_found_payment_is_what_retrieve_says(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    paid = gw.authorize(eur("12.34"), source=VISA, reference="order-c")
    gw.capture(paid.id, amount=eur("10.00"))
    found = gw.find("order-c")
    assert found.status is PaymentStatus.PARTIALLY_CAPTURED
    assert found.amount_captured == eur("10.00")
    assert found == gw.retrieve(paid.id)


def test_a_reference_with_a_quote_is_found_and_a_case_variant_is_not(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    quoted = gw.authorize(eur("5.00"), source=VISA, reference="O'Brien-7")
    assert gw.find("O'Brien-7").id == quoted.id
    # Stripe's search ignores case; the adapter keeps only the exact reference.
    with pytest.raises(TerminalError) as variant:
        gw.find("o'brien-7")
    assert variant.value.code is ErrorCode.NOT_FOUND
    assert sim.request_count(method="GET", path=SEARCH) == 2


def test_a_reference_stripe_cannot_search_for_is_refused_before_any_io(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    with pytest.raises(InvalidRequestError) as refused:
        gw.find("back\\slash")
    assert refused.value.code is ErrorCode.UNSUPPORTED
    assert sim.requests == []


def test_a_broken_search_result_is_terminal_and_a_server_error_is_retried(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    paid = gw.authorize(eur("1.00"), source=VISA, reference="order-f")
    sim.inject(Fault.schema_break(), method="GET", path=SEARCH)
    with pytest.raises(TerminalError) as broken:
        gw.find("order-f")
    assert broken.value.code is ErrorCode.SCHEMA_VIOLATION
    assert not isinstance(broken.value, OutcomeUnknown)

    sim.inject(Fault.server_error(500), method="GET", path=SEARCH)
    assert gw.find("order-f").id == paid.id  # a read: repeated safely
    assert sim.request_count(method="GET", path=SEARCH) == 3
