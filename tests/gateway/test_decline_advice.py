"""A decline carries what the card network said, as the provider passed it on: the network's
advice code and its own decline code, next to the provider's decline code, with one normalized
advice; a repeat under the same key replays all of it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from paygate import Money, PaymentSource
from paygate.errors import CardDeclinedError, DeclineReason, RetryAdvice
from paygate.testing import MockProvider

EUR = Money("10.00", "EUR")


def _stripe_decline(**error: str) -> httpx.Response:
    body = {
        "error": {
            "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.", **error,
        }
    }  # fmt: skip
    return httpx.Response(402, json=body, headers={"Request-Id": "req_decline"})


def _adyen_refusal(**additional: str) -> httpx.Response:
    body: dict[str, Any] = {
        "pspReference": "8825000000000001", "resultCode": "Refused",
        "refusalReason": "Not enough balance", "refusalReasonCode": "51",
        "merchantReference": "order-advice", "additionalData": additional,
    }  # fmt: skip
    return httpx.Response(200, content=json.dumps(body).encode(), headers={"pspReference": "x"})


def _declined(provider: str, answer: httpx.Response, source: PaymentSource) -> CardDeclinedError:
    mock = MockProvider(provider, lambda request: answer)
    with mock.gateway() as gw:
        with pytest.raises(CardDeclinedError) as first:
            gw.authorize(EUR, source=source, reference="order-advice", idempotency_key="k-1")
        with pytest.raises(CardDeclinedError) as replayed:  # the stored outcome, not sent again
            gw.authorize(EUR, source=source, reference="order-advice", idempotency_key="k-1")
    assert len(mock.requests) == 1
    for name in ("reason", "advice", "network_advice_code", "network_decline_code"):
        assert getattr(replayed.value, name) == getattr(first.value, name), name
    return first.value


STRIPE = PaymentSource.token("pm_card_visa")
ADYEN = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="J. Smith")


@pytest.mark.parametrize(
    ("answer", "advice", "network"),
    [
        (_stripe_decline(), RetryAdvice.RETRY_LATER, (None, None)),  # the reason's default
        (
            _stripe_decline(network_advice_code="03", network_decline_code="51"),
            RetryAdvice.DO_NOT_RETRY,  # the network's advice over the reason's default
            ("03", "51"),
        ),
        (
            _stripe_decline(advice_code="confirm_card_data", network_advice_code="02"),
            RetryAdvice.UPDATE_PAYMENT_DETAILS,  # Stripe's own advice over the network's
            ("02", None),
        ),
    ],
    ids=["no-network-codes", "network-advice", "stripe-advice-wins"],
)
def test_stripe_passes_the_networks_codes_on(
    answer: httpx.Response, advice: RetryAdvice, network: tuple[str | None, str | None]
) -> None:
    declined = _declined("stripe", answer, STRIPE)
    assert declined.reason is DeclineReason.INSUFFICIENT_FUNDS
    assert declined.decline_code == "insufficient_funds"
    assert declined.advice is advice
    assert (declined.network_advice_code, declined.network_decline_code) == network
    shown = str(declined)
    assert all(code in shown for code in network if code is not None)


def test_adyen_passes_the_networks_codes_on() -> None:
    answer = _adyen_refusal(
        merchantAdviceCode="01: New account information available",
        refusalReasonRaw="51 : Insufficient funds",
    )
    declined = _declined("adyen", answer, ADYEN)
    assert declined.decline_code == "51" and declined.reason is DeclineReason.INSUFFICIENT_FUNDS
    assert declined.network_advice_code == "01"
    assert declined.network_decline_code == "51 : Insufficient funds"
    assert declined.advice is RetryAdvice.UPDATE_PAYMENT_DETAILS  # Mastercard's, not the reason's
