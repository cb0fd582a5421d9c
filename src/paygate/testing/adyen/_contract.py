"""Adyen's contract-suite entry: its test cards, how a gateway reaches the simulator and the
sandbox (credentials from the environment; any endpoint but Adyen's test one is refused), and
how its asynchronous modifications are confirmed (decided, then their webhooks delivered)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import httpx

from paygate import Gateway, Money, PaymentSource, RedirectMethod
from paygate.adapters.adyen import DEFAULT_BASE_URL
from paygate.models import WebhookOutcome
from paygate.testing.adyen._simulator import AdyenSimulator
from paygate.testing.contract import (
    ContractAdapter,
    LiveCredentialsError,
    Sources,
    deliver_webhooks,
)

__all__ = [
    "ADYEN_HMAC_ENV",
    "ADYEN_KEY_ENV",
    "ADYEN_MERCHANT_ENV",
    "ADYEN_URL_ENV",
    "CONTRACT",
]

ADYEN_KEY_ENV: Final = "PAYGATE_CONTRACT_ADYEN_API_KEY"
ADYEN_MERCHANT_ENV: Final = "PAYGATE_CONTRACT_ADYEN_MERCHANT_ACCOUNT"
ADYEN_HMAC_ENV: Final = "PAYGATE_CONTRACT_ADYEN_HMAC_KEY"
ADYEN_URL_ENV: Final = "PAYGATE_CONTRACT_ADYEN_BASE_URL"  # optional: the test endpoint
_TEST_HOST: Final = httpx.URL(DEFAULT_BASE_URL).host


def _card(holder: str, number: str = "4111111145551142", cvc: str = "737") -> PaymentSource:
    return PaymentSource.card(number, 3, 2030, cvc, holder_name=holder)


def _sim_options(sim: AdyenSimulator) -> dict[str, str]:
    return {
        "api_key": "AQE_paygate_contract",
        "merchant_account": sim.merchant_account,
        "base_url": f"{sim.url}/v71",
        "hmac_key": sim.hmac_key,
    }


def _sandbox_options(env: Mapping[str, str]) -> dict[str, str]:
    base_url = env.get(ADYEN_URL_ENV) or DEFAULT_BASE_URL
    host = httpx.URL(base_url).host
    if "live" in host or host != _TEST_HOST:
        raise LiveCredentialsError(
            f"{ADYEN_URL_ENV}={base_url} is not Adyen's test endpoint ({_TEST_HOST}): "
            "the contract suite never touches real money"
        )
    return {
        "api_key": env[ADYEN_KEY_ENV],
        "merchant_account": env[ADYEN_MERCHANT_ENV],
        "base_url": base_url,
        "hmac_key": env[ADYEN_HMAC_ENV],
    }


def _confirm(gw: Gateway, sim: AdyenSimulator) -> list[WebhookOutcome]:
    """Decide the received modifications, then deliver every queued webhook."""
    sim.process_modifications()
    return deliver_webhooks(gw, sim)


def _charges(sim: AdyenSimulator, reference: str) -> int:
    return len(sim.payments(reference=reference))


CONTRACT: Final = ContractAdapter(
    name="adyen",
    sources=Sources(
        approved=_card("APPROVED"),
        generic_decline=_card("DECLINED"),
        insufficient_funds=_card("NOT_ENOUGH_BALANCE"),
        expired_card=_card("CARD_EXPIRED"),
        incorrect_cvc=_card("CVC_DECLINED"),
        three_ds=_card("3DS", number="4917610000000000"),
        three_ds_frictionless=_card("3DS", number="371449635398431", cvc="7373"),
        redirect=PaymentSource.redirect(RedirectMethod.IDEAL),
    ),
    simulator=AdyenSimulator,
    sim_options=_sim_options,
    sandbox_env=(ADYEN_KEY_ENV, ADYEN_MERCHANT_ENV, ADYEN_HMAC_ENV),
    sandbox_options=_sandbox_options,
    confirm=_confirm,
    charges=_charges,
    wire_module="paygate.adapters.adyen._wire",
    three_decimal=Money("5.125", "KWD"),
    asynchronous_modifications=True,
)
