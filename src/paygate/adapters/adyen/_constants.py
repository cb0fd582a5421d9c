"""Adyen constants shared by the adapter and its webhook reader: the provider's name, URLs,
API version, currency scales and declared capabilities (the first section of every adapter)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from paygate._currencies import ISO_4217_EXPONENTS
from paygate.adapters.base import Capabilities, MetadataLimits
from paygate.models import Operation, RedirectMethod
from paygate.money import Money, ProviderCurrency

__all__ = [
    "API_VERSION",
    "CAPABILITIES",
    "CURRENCIES",
    "DEFAULT_BASE_URL",
    "PROVIDER",
    "money",
]

PROVIDER: Final = "adyen"
API_VERSION: Final = "71"  # Checkout API; the version is a path segment of the base URL
# Adyen's test environment. Live endpoints carry a company-specific prefix and are never a
# default: the contract suite, not the adapter, decides whether a live URL may be used.
DEFAULT_BASE_URL: Final = f"https://checkout-test.adyen.com/v{API_VERSION}"

# Adyen's own minor-unit table, which departs from ISO 4217: CLP and ISK are two-decimal on
# Adyen (ISO: zero), IDR and CVE zero-decimal (ISO: two). Everything not listed is two-decimal.
_ZERO_DECIMAL: Final = frozenset(
    {"CVE", "DJF", "GNF", "IDR", "JPY", "KMF", "KRW", "PYG"}
    | {"RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_THREE_DECIMAL: Final = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
# Left out: ISO funds codes and units of account, which nobody is charged in, and MGA / BIF,
# which are in neither of Adyen's short lists (its libraries default them to two decimals
# while ISO and the card schemes treat them differently): enable them only once Adyen's own
# currency table confirms their scale.
_NOT_ON_ADYEN: Final = frozenset(
    {"BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW"} | {"BIF", "MGA"}
)


def _adyen_currency(code: str) -> ProviderCurrency:
    if code in _ZERO_DECIMAL:
        return ProviderCurrency(exponent=0)
    if code in _THREE_DECIMAL:
        return ProviderCurrency(exponent=3)
    return ProviderCurrency(exponent=2)


CURRENCIES: Final[Mapping[str, ProviderCurrency]] = MappingProxyType(
    {code: _adyen_currency(code) for code in ISO_4217_EXPONENTS if code not in _NOT_ON_ADYEN}
)

CAPABILITIES: Final = Capabilities(
    # No retrieve: Adyen has no endpoint to read a payment; the gateway answers it from its
    # payment record (needs_payment_record).
    operations=frozenset(
        {Operation.AUTHORIZE, Operation.PURCHASE, Operation.CAPTURE, Operation.VOID}
        | {Operation.REFUND, Operation.COMPLETE_ACTION}
    ),
    currencies=CURRENCIES,
    partial_capture=True,
    multiple_captures=False,
    partial_refund=True,
    multiple_refunds=True,
    raw_card_data=True,  # test environment only; PCI scope forbids it elsewhere
    idempotent_replay=True,
    request_id_header="pspReference",  # on every answer, success or error
    max_idempotency_key_length=64,
    purchase_captured_at_authorization=True,
    needs_payment_record=True,
    max_reference_length=80,
    # Adyen keeps keys for at least 7 days (31 by its current docs); paygate relies on 7.
    idempotency_window=7 * 24 * 3600.0,
    # /payments metadata, by the spec's description of the field: 20 keys of at most 20
    # characters, values of at most 80. paygate sends none of its own there.
    metadata=MetadataLimits(max_keys=20, max_key_length=20, max_value_length=80),
    payment_id_pattern=re.compile(r"[A-Za-z0-9]{16}"),
    payment_id_format="an Adyen pspReference (16 letters and digits)",
    max_amount=2**63 - 1,  # amount.value is an int64 in the spec
    # paymentMethod.type "ideal" (the spec's IdealDetails): a redirect to the bank.
    redirect_methods=frozenset({RedirectMethod.IDEAL}),
)


def money(minor: int, currency: str) -> Money:
    """An Adyen amount (integer minor units, by Adyen's scale for the currency) as ``Money``.

    ``KeyError`` for a currency Adyen does not take here; ``ValueError`` for an amount finer
    than paygate's ``Money`` holds (CLP or ISK hundredths that are not whole units).
    """
    code = currency.upper()
    return CURRENCIES[code].from_wire(minor, code)
