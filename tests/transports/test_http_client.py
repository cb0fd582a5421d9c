"""The client a gateway makes for itself keeps no cookies: a provider's ``Set-Cookie`` never
rides along on a later call (the client is shared by every customer's calls)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl

import httpx
import pytest

from paygate import AsyncGateway, Gateway, Money, PaymentSource
from paygate.adapters.stripe import StripeAdapter
from paygate.transports import AsyncProviderClient, ProviderClient

VISA = PaymentSource.token("pm_card_visa")


class _CookieSettingStripe:
    """Answers every authorize, setting a cookie each time; remembers the Cookie headers sent."""

    def __init__(self) -> None:
        self.cookies_sent: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.cookies_sent.append(request.headers.get("cookie"))
        form = dict(parse_qsl(request.content.decode()))
        body = {
            "id": f"pi_{form['metadata[reference]']}",
            "object": "payment_intent",
            "amount": int(form["amount"]),
            "amount_capturable": int(form["amount"]),
            "amount_received": 0,
            "currency": form["currency"],
            "status": "requires_capture",
            "capture_method": "manual",
            "livemode": False,
            "metadata": {"reference": form["metadata[reference]"]},
        }
        return httpx.Response(
            200,
            content=json.dumps(body).encode(),
            headers={"Set-Cookie": "session=from-an-earlier-answer; Path=/"},
        )


def test_a_cookie_set_by_an_answer_is_not_sent_on_the_next_call() -> None:
    provider = _CookieSettingStripe()
    adapter = StripeAdapter("sk_test_cookies", base_url="https://stripe.test")
    with Gateway(adapter, transport=httpx.MockTransport(provider)) as gw:
        for n in range(3):
            gw.authorize(Money("10.00", "EUR"), source=VISA, reference=f"cookie-{n}")
    assert provider.cookies_sent == [None, None, None]


def test_the_async_gateway_sends_no_cookie_either() -> None:
    provider = _CookieSettingStripe()
    adapter = StripeAdapter("sk_test_cookies", base_url="https://stripe.test")

    async def main() -> None:
        async with AsyncGateway(adapter, transport=httpx.MockTransport(provider)) as gw:
            for n in range(3):
                await gw.authorize(Money("10.00", "EUR"), source=VISA, reference=f"cookie-{n}")

    asyncio.run(main())
    assert provider.cookies_sent == [None, None, None]


SET_COOKIE = {"Set-Cookie": "session=from-an-answer; Path=/"}


def _sets_a_cookie(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers=SET_COOKIE)


def test_the_provider_client_keeps_no_cookie_from_an_answer() -> None:
    with ProviderClient(transport=httpx.MockTransport(_sets_a_cookie)) as client:
        client.get("https://stripe.test/v1/payment_intents/pi_1")
        assert len(client.cookies) == 0  # httpx gave the answer to its jar: ours kept nothing


def test_the_async_provider_client_keeps_no_cookie_from_an_answer() -> None:
    async def main() -> int:
        transport = httpx.MockTransport(_sets_a_cookie)
        async with AsyncProviderClient(transport=transport) as client:
            await client.get("https://stripe.test/v1/payment_intents/pi_1")
            return len(client.cookies)

    assert asyncio.run(main()) == 0


@pytest.mark.parametrize("client_cls", [ProviderClient, AsyncProviderClient])
def test_the_provider_clients_keep_no_cookie_set_by_hand(client_cls: type[httpx.Client]) -> None:
    client = client_cls()
    client.cookies.set("session", "x", domain="stripe.test")
    client.cookies.update({"other": "y"})
    answer = httpx.Response(200, headers=SET_COOKIE, request=httpx.Request("GET", "https://a.b/"))
    client.cookies.extract_cookies(answer)
    assert len(client.cookies) == 0


def test_a_client_passed_in_keeps_its_own_jar_but_paygate_sends_no_cookie() -> None:
    """paygate builds every request itself: even the caller's client sends no cookie from its
    jar, which paygate leaves to the caller's own policy."""
    provider = _CookieSettingStripe()
    adapter = StripeAdapter("sk_test_cookies", base_url="https://stripe.test")
    client = httpx.Client(transport=httpx.MockTransport(provider))
    with client, Gateway(adapter, client=client) as gw:
        gw.authorize(Money("10.00", "EUR"), source=VISA, reference="own-1")
        gw.authorize(Money("10.00", "EUR"), source=VISA, reference="own-2")
        assert client.cookies.get("session") == "from-an-earlier-answer"
    assert provider.cookies_sent == [None, None]
