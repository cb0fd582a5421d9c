"""``adapters.base.http_request`` builds what ``httpx.Request(..., content=...)`` builds, and
Stripe's ``form_body`` what ``urllib.parse.urlencode`` gives: the providers see the same bytes
as the libraries' own would send."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paygate import Money, PaymentSource
from paygate.adapters.adyen import AdyenAdapter
from paygate.adapters.base import http_request
from paygate.adapters.stripe import StripeAdapter
from paygate.adapters.stripe._wire import form_body
from paygate.models import AuthorizeRequest, CaptureRequest, FindRequest, RetrieveRequest

HEADERS = {"Authorization": "Bearer sk_test_x", "Idempotency-Key": "k-1", "X-Trace": "a b"}
URLS = [
    "https://api.stripe.com/v1/payment_intents",
    "http://127.0.0.1:8123/v1/payment_intents/pi_1/capture",  # a port: part of Host
    "https://checkout-test.adyen.com:443/v71/payments",  # the default port: not part of Host
    "https://bücher.example/v1/refunds",  # an international name: Host is its IDNA form
]


def _same(ours: httpx.Request, theirs: httpx.Request) -> None:
    assert ours.method == theirs.method
    assert ours.url == theirs.url
    assert ours.headers.raw == theirs.headers.raw
    assert ours.content == theirs.content


@pytest.mark.parametrize("url", URLS)
@given(body=st.binary(min_size=1, max_size=300))
def test_a_post_is_the_request_httpx_builds_from_the_same_content(url: str, body: bytes) -> None:
    parsed = httpx.URL(url)
    _same(
        http_request("POST", parsed, HEADERS, body),
        httpx.Request("POST", parsed, content=body, headers=HEADERS),
    )


@pytest.mark.parametrize("url", URLS)
def test_a_get_has_no_body_and_no_content_length(url: str) -> None:
    parsed = httpx.URL(url, params=(("expand[]", "latest_charge"),))
    ours = http_request("GET", parsed, HEADERS)
    _same(ours, httpx.Request("GET", parsed, headers=HEADERS))
    assert "content-length" not in ours.headers
    assert ours.content == b""


def test_an_empty_post_still_says_its_length() -> None:
    ours = http_request("POST", httpx.URL(URLS[0]), HEADERS, b"")
    assert ours.headers["Content-Length"] == "0"
    assert ours.content == b""


def _echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200, content=request.content, headers={"X-Length": str(len(request.content))}
    )


def test_the_body_reaches_the_transport_through_either_client_and_on_a_repeat() -> None:
    request = http_request("POST", httpx.URL(URLS[0]), HEADERS, b"amount=1234&currency=eur")
    with httpx.Client(transport=httpx.MockTransport(_echo)) as client:
        for _ in range(2):  # a retry sends the same request object again
            answer = client.send(request)
            assert answer.content == b"amount=1234&currency=eur"
            assert answer.headers["X-Length"] == request.headers["Content-Length"] == "24"

    async def through_async() -> bytes:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_echo)) as client:
            return (await client.send(request)).content

    assert asyncio.run(through_async()) == b"amount=1234&currency=eur"


AMOUNT = Money("12.34", "EUR")
STRIPE = StripeAdapter("sk_test_abc", base_url="http://127.0.0.1:12111")
ADYEN = AdyenAdapter("adyen-key", merchant_account="Acme", base_url="https://adyen.test:8443/v71")


@pytest.mark.parametrize(
    ("adapter", "request_"),
    [
        (
            STRIPE,
            AuthorizeRequest(amount=AMOUNT, source=PaymentSource.token("pm_x"), reference="r"),
        ),
        (STRIPE, CaptureRequest(payment_id="pi_1", amount=Money("10.00", "EUR"))),
        (STRIPE, RetrieveRequest(payment_id="pi_1")),
        (STRIPE, FindRequest(reference="r")),
        (
            ADYEN,
            AuthorizeRequest(
                amount=AMOUNT,
                source=PaymentSource.card("4111111145551142", 3, 2030, "737"),
                reference="r",
            ),
        ),
        (ADYEN, CaptureRequest(payment_id="PSP1", amount=AMOUNT)),
    ],
    ids=lambda v: type(v).__name__,
)
def test_each_adapter_sends_what_httpx_would_frame_from_its_headers_and_body(
    adapter: StripeAdapter | AdyenAdapter, request_: AuthorizeRequest
) -> None:
    ours = adapter.build_request(request_, idempotency_key="key-1")
    chosen = [(k, v) for k, v in ours.headers.raw if k not in (b"Host", b"Content-Length")]
    content = ours.content if ours.method == "POST" else None
    _same(ours, httpx.Request(ours.method, ours.url, content=content, headers=chosen))


@given(
    pairs=st.lists(
        st.tuples(st.text(max_size=12), st.text(max_size=40))
        | st.tuples(st.sampled_from(["amount", "metadata[reference]"]), st.text(max_size=40)),
        max_size=8,
    )
)
def test_a_form_body_is_what_urlencode_gives(pairs: list[tuple[str, str]]) -> None:
    assert form_body(pairs) == urlencode(pairs).encode()
