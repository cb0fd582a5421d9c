"""Stripe constants shared by the adapter and its webhook reader: the provider's name, URLs,
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
    "REFERENCE_KEY",
    "SEARCH_LIMIT",
    "money",
]

PROVIDER: Final = "stripe"
DEFAULT_BASE_URL: Final = "https://api.stripe.com"
API_VERSION: Final = "2023-08-16"
REFERENCE_KEY: Final = "reference"  # metadata key that carries the caller's reference
# PaymentIntents one search asks for (Stripe's default page). A reference names one payment,
# so more than a page of matches means the caller reused it; find reads the first page only.
SEARCH_LIMIT: Final = 10

# Stripe's own minor-unit rules, where they differ from ISO 4217.
_ZERO_DECIMAL: Final = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_THREE_DECIMAL: Final = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])  # last digit must be 0
_WHOLE_IN_CENTS: Final = frozenset(["ISK", "UGX"])  # two-decimal on the wire, whole units
# Not chargeable on Stripe: funds codes, units of account, and ISO three-decimal currencies
# missing from Stripe's three-decimal list.
_NOT_ON_STRIPE: Final = frozenset(
    {"BOV", "CHE", "CHW", "CLF", "COU", "CUP", "IQD", "IRR"}
    | {"KPW", "LYD", "MXV", "SYP", "USN", "UYI", "UYW", "VED"}
)


def _stripe_currency(code: str) -> ProviderCurrency:
    if code in _ZERO_DECIMAL:
        return ProviderCurrency(exponent=0)
    if code in _THREE_DECIMAL:
        return ProviderCurrency(exponent=3, step=10)
    if code in _WHOLE_IN_CENTS:
        return ProviderCurrency(exponent=2, step=100)
    return ProviderCurrency(exponent=2)


CURRENCIES: Final[Mapping[str, ProviderCurrency]] = MappingProxyType(
    {code: _stripe_currency(code) for code in ISO_4217_EXPONENTS if code not in _NOT_ON_STRIPE}
)

# Stripe's published minimum charge amounts. Stripe states them per *settlement* currency
# ("$0.50 or its equivalent"): a charge in another currency than the account settles in is
# converted first, so its true minimum moves with the exchange rate. paygate applies the table
# per charge currency, an approximation that refuses what Stripe certainly would in that
# currency; a currency not listed is left to Stripe (amount_too_small). Stripe's table also
# lists BGN 1.00, which paygate's ISO table no longer has (withdrawn for the euro).
_MINIMUM_CHARGE: Final = {
    "USD": "0.50", "AED": "2.00", "AUD": "0.50", "BRL": "0.50", "CAD": "0.50",
    "CHF": "0.50", "CZK": "15.00", "DKK": "2.50", "EUR": "0.50", "GBP": "0.30", "HKD": "4.00",
    "HUF": "175.00", "INR": "0.50", "JPY": "50", "MXN": "10", "MYR": "2", "NOK": "3.00",
    "NZD": "0.50", "PLN": "2.00", "RON": "2.00", "SEK": "3.00", "SGD": "0.50", "THB": "10",
}  # fmt: skip

CAPABILITIES: Final = Capabilities(
    operations=frozenset(Operation),
    currencies=CURRENCIES,
    partial_capture=True,
    multiple_captures=False,
    partial_refund=True,
    multiple_refunds=True,
    # Off unless the adapter is built with raw_card_data=True: Stripe's published spec has no
    # raw card fields for payment_method_data, and Stripe refuses card numbers sent as
    # payment_method_data[type]=card unless the account has raw card data access.
    raw_card_data=False,
    idempotent_replay=True,
    request_id_header="Request-Id",  # on every answer, success or error
    max_idempotency_key_length=255,
    max_reference_length=500,
    # 50 keys, the reference paygate sends among them; keys of 40 characters, values of 500;
    # a bracket in a key would break the bracket form encoding (metadata[key]=value).
    metadata=MetadataLimits(
        max_keys=50,
        max_key_length=40,
        max_value_length=500,
        reserved_keys=frozenset({REFERENCE_KEY}),
        forbidden_key_characters="[]",
    ),
    payment_id_pattern=re.compile(r"pi_[A-Za-z0-9]+"),
    payment_id_format="a Stripe PaymentIntent id (pi_ and letters and digits)",
    max_amount=99_999_999,  # eight digits in minor units
    minimum_charge=MappingProxyType(
        {code: Money(amount, code) for code, amount in _MINIMUM_CHARGE.items()}
    ),
    raw_card_refusal=(
        "Stripe refuses raw card numbers (payment_method_data[type]=card) unless the account "
        "has raw card data access: pass a PaymentMethod id instead "
        "(PaymentSource.token('pm_card_visa') in test mode), or, for an account with that "
        "access or the Stripe simulator, opt in with raw_card_data=True "
        "(PAYGATE_STRIPE__RAW_CARD_DATA=true, or Gateway.for_stripe(..., raw_card_data=True))"
    ),
    # payment_method_data[type]=ideal: next_action redirect_to_url, to the bank.
    redirect_methods=frozenset({RedirectMethod.IDEAL}),
)


def money(minor: int, currency: str) -> Money:
    """A Stripe amount (integer minor units, lowercase currency) as ``Money``, by Stripe's own
    scale for that currency. KeyError for a currency Stripe does not take."""
    code = currency.upper()
    return CURRENCIES[code].from_wire(minor, code)
