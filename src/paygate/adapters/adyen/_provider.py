"""Adyen's entry in the provider registry: its settings section (defaults from the adapter's
constants), its error tables for the guide, and where its simulator and contract entries live
(``paygate.testing.adyen``, imported only by test tooling)."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from pydantic import Field, SecretStr

from paygate.adapters.adyen import _codes as codes
from paygate.adapters.adyen._adapter import AdyenAdapter
from paygate.adapters.adyen._constants import DEFAULT_BASE_URL, PROVIDER
from paygate.adapters.base import REASON_ADVICE
from paygate.adapters.registry import ProviderErrorTables, ProviderSettings, ProviderSpec
from paygate.errors import ErrorCode

if TYPE_CHECKING:
    from paygate.testing.adyen import AdyenSimulator
    from paygate.testing.contract import ContractAdapter

__all__ = ["SPEC", "AdyenSettings"]


class AdyenSettings(ProviderSettings):
    api_key: SecretStr = Field(description="API key of the web-service user (X-API-Key)")
    merchant_account: str = Field(description="merchant account every request is made for")
    base_url: str = Field(
        default=DEFAULT_BASE_URL, description="Checkout API base address, version included"
    )
    hmac_key: SecretStr | None = Field(
        default=None, description="hex HMAC key that signs the standard webhooks"
    )
    return_url: str | None = Field(
        default=None, description="where a redirected shopper comes back to (returnUrl)"
    )


ERROR_TABLES: Final = ProviderErrorTables(
    name="Adyen",
    type_field="resultCode",
    code_field="errorCode",
    decline_field="refusalReasonCode",
    advice_field="merchantAdviceCode",
    # A refused, errored or cancelled payment is a decline (HTTP 200); other results are not
    # errors at all (see the adapter's RESULT_STATUS).
    error_types=MappingProxyType(dict.fromkeys(codes.DECLINE_FALLBACK, ErrorCode.CARD_DECLINED)),
    error_codes=codes.ERROR_CODES,
    code_reasons=codes.CODE_REASONS,
    decline_codes=codes.REFUSAL_CODES,
    advice_codes=codes.ADVICE_CODES,
    reason_advice=REASON_ADVICE,
    operation_overrides=MappingProxyType({}),
    status_codes=codes.STATUS_CODES,
)


def _testing() -> ContractAdapter[AdyenSimulator]:
    from paygate.testing.adyen import CONTRACT  # noqa: PLC0415 - test code, on use only

    return CONTRACT


SPEC: Final = ProviderSpec(
    name=PROVIDER,
    adapter=AdyenAdapter,
    settings=AdyenSettings,
    error_tables=ERROR_TABLES,
    testing=_testing,
)
