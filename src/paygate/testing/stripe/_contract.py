"""Stripe's contract-suite entry: its test payment methods, how a gateway reaches the
simulator and the sandbox (a test key from the environment; a live one is refused)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from paygate import Money, PaymentSource, RedirectMethod
from paygate.testing.contract import (
    ContractAdapter,
    LiveCredentialsError,
    Sources,
    deliver_webhooks,
)
from paygate.testing.stripe._simulator import StripeSimulator

__all__ = ["CONTRACT", "STRIPE_KEY_ENV", "STRIPE_WEBHOOK_ENV"]

STRIPE_KEY_ENV: Final = "PAYGATE_CONTRACT_STRIPE_API_KEY"
STRIPE_WEBHOOK_ENV: Final = "PAYGATE_CONTRACT_STRIPE_WEBHOOK_SECRET"  # optional


def _sim_options(sim: StripeSimulator) -> dict[str, str]:
    return {
        "api_key": "sk_test_paygate_contract",
        "base_url": sim.url,
        "webhook_secret": sim.webhook_secret,
    }


def _sandbox_options(env: Mapping[str, str]) -> dict[str, str | None]:
    key = env[STRIPE_KEY_ENV]
    if key.startswith(("sk_live_", "rk_live_")):
        raise LiveCredentialsError(
            f"{STRIPE_KEY_ENV} is a live Stripe key: the contract suite never touches real money"
        )
    if not key.startswith(("sk_test_", "rk_test_")):
        raise LiveCredentialsError(f"{STRIPE_KEY_ENV} must be a Stripe test key (sk_test_...)")
    return {"api_key": key, "webhook_secret": env.get(STRIPE_WEBHOOK_ENV)}


def _charges(sim: StripeSimulator, reference: str) -> int:
    return len(sim.payment_intents(reference=reference))


CONTRACT: Final = ContractAdapter(
    name="stripe",
    sources=Sources(
        approved=PaymentSource.token("pm_card_visa"),
        generic_decline=PaymentSource.token("pm_card_visa_chargeDeclined"),
        insufficient_funds=PaymentSource.token("pm_card_visa_chargeDeclinedInsufficientFunds"),
        expired_card=PaymentSource.token("pm_card_chargeDeclinedExpiredCard"),
        incorrect_cvc=PaymentSource.token("pm_card_chargeDeclinedIncorrectCvc"),
        three_ds=PaymentSource.token("pm_card_threeDSecure2Required"),
        three_ds_frictionless=PaymentSource.token("pm_card_threeDSecureOptional"),
        redirect=PaymentSource.redirect(RedirectMethod.IDEAL),
    ),
    simulator=StripeSimulator,
    sim_options=_sim_options,
    sandbox_env=(STRIPE_KEY_ENV,),
    sandbox_options=_sandbox_options,
    confirm=deliver_webhooks,
    charges=_charges,
    wire_module="paygate.adapters.stripe._wire",
    three_decimal=Money("5.120", "KWD"),  # Stripe takes KWD only with a trailing 0
)
