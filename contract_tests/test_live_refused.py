"""Live credentials are refused before any call: the contract suite never touches real money."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from paygate.testing.adyen import CONTRACT as ADYEN
from paygate.testing.adyen._contract import (
    ADYEN_HMAC_ENV,
    ADYEN_KEY_ENV,
    ADYEN_MERCHANT_ENV,
    ADYEN_URL_ENV,
)
from paygate.testing.contract import ContractAdapter, LiveCredentialsError, Target, open_contract
from paygate.testing.stripe import CONTRACT as STRIPE
from paygate.testing.stripe._contract import STRIPE_KEY_ENV

ADYEN_TEST = {ADYEN_KEY_ENV: "AQE_test", ADYEN_MERCHANT_ENV: "Merchant", ADYEN_HMAC_ENV: "AB12"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    sent: list[httpx.Request] = []

    def refuse(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise AssertionError(f"a request was sent: {request.method} {request.url}")

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", refuse)
    return sent


@pytest.mark.parametrize(
    ("adapter", "env"),
    [
        (STRIPE, {STRIPE_KEY_ENV: "sk_live_51Abcdefghijklmnop"}),
        (STRIPE, {STRIPE_KEY_ENV: "rk_live_51Abcdefghijklmnop"}),
        (STRIPE, {STRIPE_KEY_ENV: "pk_test_not_a_secret_key"}),
        (
            ADYEN,
            {
                **ADYEN_TEST,
                ADYEN_URL_ENV: "https://1797a8-Demo-checkout-live.adyenpayments.com/checkout/v71",
            },
        ),
        (ADYEN, {**ADYEN_TEST, ADYEN_URL_ENV: "https://checkout-live.adyen.com/v71"}),
    ],
    ids=[
        "stripe-sk_live",
        "stripe-rk_live",
        "stripe-not-secret",
        "adyen-live-prefix",
        "adyen-live",
    ],
)
def test_live_credentials_are_refused_before_any_call(
    adapter: ContractAdapter[Any], env: dict[str, str], no_network: list[httpx.Request]
) -> None:
    with (
        pytest.raises(LiveCredentialsError, match=r"never touches real money|test key"),
        open_contract(adapter, Target.SANDBOX, env=env) as contract,
    ):
        contract.gateway.retrieve("pi_123")  # never reached
    assert no_network == []


def test_test_credentials_build_a_gateway_without_calling(no_network: list[httpx.Request]) -> None:
    with open_contract(STRIPE, Target.SANDBOX, env={STRIPE_KEY_ENV: "sk_test_51Abc"}) as c:
        assert c.gateway.provider == "stripe"
    with open_contract(ADYEN, Target.SANDBOX, env=ADYEN_TEST) as c:
        assert c.gateway.provider == "adyen"
    assert no_network == []
