"""The Stripe authorize every benchmark sends: through paygate (the key, amount and card), and
by hand for the raw contenders (the form paygate's adapter builds for the same call, the
headers it carries, and the check of the answer)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping

import httpx

from paygate import AsyncGateway, Gateway, Money, PaymentSource, PaymentStatus
from paygate.adapters.stripe import API_VERSION

API_KEY = "sk_test_bench_0000000000000000"
AMOUNT = Money("12.34", "EUR")
VISA = PaymentSource.token("pm_card_visa")


def authorize_form(reference: str) -> dict[str, str]:
    """A manual-capture PaymentIntent for EUR 12.34 with the test card, confirmed at once."""
    return {
        "amount": "1234",
        "currency": "eur",
        "confirm": "true",
        "capture_method": "manual",
        "payment_method_types[0]": "card",
        "metadata[reference]": reference,
        "expand[0]": "latest_charge",
        "payment_method": "pm_card_visa",
    }


def headers(api_key: str, idempotency_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "Stripe-Version": API_VERSION,
        "Idempotency-Key": idempotency_key,
    }


def check(body: Mapping[str, object]) -> None:
    """Refuse an answer that is not the authorization asked for."""
    if body["status"] != "requires_capture":
        raise AssertionError(f"unexpected answer: {body['status']}")


def httpx_authorize(client: httpx.AsyncClient, tag: str) -> Callable[[int], Awaitable[None]]:
    """The authorize by hand through a raw ``httpx.AsyncClient`` (its ``base_url`` the
    server's); call ``n`` gets reference ``{tag}-{n}`` and a key of this process's."""

    async def authorize(n: int) -> None:
        response = await client.post(
            "/v1/payment_intents",
            data=authorize_form(f"{tag}-{n}"),
            headers=headers(API_KEY, f"{tag}-{os.getpid()}-{n}"),
        )
        response.raise_for_status()
        check(response.json())

    return authorize


def gateway_authorize(gateway: Gateway, tag: str) -> Callable[[int], None]:
    """The authorize through a ``Gateway``; call ``n`` gets reference ``{tag}-{n}``, and an
    answer that is not an authorization fails it."""

    def authorize(n: int) -> None:
        p = gateway.authorize(AMOUNT, source=VISA, reference=f"{tag}-{n}")
        if p.status is not PaymentStatus.AUTHORIZED:
            raise AssertionError(p)

    return authorize


def async_gateway_authorize(gateway: AsyncGateway, tag: str) -> Callable[[int], Awaitable[None]]:
    """``gateway_authorize`` through an ``AsyncGateway``."""

    async def authorize(n: int) -> None:
        p = await gateway.authorize(AMOUNT, source=VISA, reference=f"{tag}-{n}")
        if p.status is not PaymentStatus.AUTHORIZED:
            raise AssertionError(p)

    return authorize
