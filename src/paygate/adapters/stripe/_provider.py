"""Stripe's entry in the provider registry: its settings section (defaults from the adapter's
constants), its error tables for the guide, and where its simulator and contract entries live
(``paygate.testing.stripe``, imported only by test tooling)."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from pydantic import Field, SecretStr

from paygate.adapters.registry import ProviderErrorTables, ProviderSettings, ProviderSpec
from paygate.adapters.stripe import _codes as codes
from paygate.adapters.stripe._adapter import StripeAdapter
from paygate.adapters.stripe._constants import API_VERSION, DEFAULT_BASE_URL, PROVIDER
from paygate.adapters.stripe._responses import AMOUNT_TOO_LARGE, STATUS_CODES
from paygate.adapters.stripe._webhooks import DEFAULT_TOLERANCE

if TYPE_CHECKING:
    from paygate.testing.contract import ContractAdapter
    from paygate.testing.stripe import StripeSimulator

__all__ = ["SPEC", "StripeSettings"]


class StripeSettings(ProviderSettings):
    api_key: SecretStr = Field(description="secret key, sk_test_... or sk_live_...")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="API base address")
    api_version: str = Field(default=API_VERSION, description="Stripe-Version sent and pinned")
    webhook_secret: SecretStr | None = Field(default=None, description="whsec_... signing secret")
    webhook_tolerance: float = Field(
        default=DEFAULT_TOLERANCE,
        gt=0,
        allow_inf_nan=False,
        description="seconds a signed webhook's timestamp may be behind the clock",
    )
    raw_card_data: bool = Field(
        default=False,
        description="send PaymentSource.card numbers (accounts with raw card data access only)",
    )


ERROR_TABLES: Final = ProviderErrorTables(
    name="Stripe",
    type_field="error.type",
    code_field="error.code",
    decline_field="error.decline_code",
    advice_field="error.advice_code",
    error_types=codes.ERROR_TYPES,
    error_codes=codes.ERROR_CODES,
    code_reasons=codes.CODE_REASONS,
    decline_codes=codes.DECLINE_CODES,
    advice_codes=codes.ADVICE_CODES,
    reason_advice=codes.REASON_ADVICE,
    operation_overrides=MappingProxyType({"amount_too_large": AMOUNT_TOO_LARGE}),
    status_codes=STATUS_CODES,
)


def _testing() -> ContractAdapter[StripeSimulator]:
    from paygate.testing.stripe import CONTRACT  # noqa: PLC0415 - test code, on use only

    return CONTRACT


SPEC: Final = ProviderSpec(
    name=PROVIDER,
    adapter=StripeAdapter,
    settings=StripeSettings,
    error_tables=ERROR_TABLES,
    testing=_testing,
)
