"""A gateway sends straight into its transport, with no client's cookie jar in between: a
provider's ``Set-Cookie`` never rides along on a later call (the gateway is shared by every
customer's calls); a client given keeps its own jar, which paygate never sends from."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl

import httpx
import pytest

from paygate import AsyncGateway, Gateway, Money, PaymentSource
from paygate.adapters.stripe import StripeAdapter

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


def test_a_transport_given_is_used_as_it_is_whatever_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
    provider = _CookieSettingStripe()
    closed: list[bool] = []

    class Closing(httpx.MockTransport):
        def close(self) -> None:
            closed.append(True)

    adapter = StripeAdapter("sk_test_direct", base_url="https://stripe.test")
    with Gateway(adapter, transport=Closing(provider)) as gw:
        gw.authorize(Money("10.00", "EUR"), source=VISA, reference="direct-1")
    assert len(provider.cookies_sent) == 1
    assert closed == [True]  # the gateway closes the transport it was given, as httpx would
