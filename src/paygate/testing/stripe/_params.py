"""Reading Stripe request parameters: each helper returns a typed value or raises the
``invalid_request_error`` Stripe answers with before executing anything (never saved under
an idempotency key). The request has already passed ``_validate`` (the published spec's
parameters, types and enums); what is checked here is what the spec cannot say: the
simulator's test cards, supported currencies, minimum charges, metadata limits."""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Mapping
from typing import Any, Final

from paygate._currencies import ISO_4217_EXPONENTS
from paygate.testing.stripe._cards import BY_NUMBER, CARDS, LIVE_CARD_IN_TEST_MODE, Card
from paygate.testing.stripe._errors import CARD_ERROR, StripeError, invalid
from paygate.testing.stripe._ledger import PaymentMethod, new_id

_INTEGER: Final = re.compile(r"-?[0-9]+")
_METHOD_TYPES: Final = frozenset({"card", "ideal"})
_MAX_AMOUNT: Final = 99_999_999
# Stripe's published minimum charge amounts, in minor units (USD 0.50, JPY 50, HUF 175.00...).
MINIMUM_CHARGE: Final = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
    "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50,
    "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200,
    "sek": 300, "sgd": 50, "thb": 1000,
}  # fmt: skip


def string(params: Mapping[str, Any], name: str, param: str | None = None) -> str | None:
    """A string parameter; None when absent or empty (an empty value unsets)."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(
            f"Invalid string: {param or name} must be a single value.", param=param or name
        )
    return value


def required(params: Mapping[str, Any], name: str, param: str | None = None) -> str:
    """A string parameter that must be there; ``param`` is its full name in errors."""
    value = string(params, name, param)
    if value is None:
        raise invalid(
            f"Missing required param: {param or name}.",
            code="parameter_missing",
            param=param or name,
        )
    return value


def _parse_integer(text: str, param: str) -> int:
    if _INTEGER.fullmatch(text) is None:
        raise invalid(f"Invalid integer: {text}", code="parameter_invalid_integer", param=param)
    value = int(text)
    if value < 1:
        raise invalid(
            f"Invalid {param}: it must be greater than or equal to 1.",
            code="parameter_invalid_integer",
            param=param,
        )
    return value


def integer(params: Mapping[str, Any], name: str, param: str | None = None) -> int:
    """A required positive integer (amounts are integers in minor units)."""
    return _parse_integer(required(params, name, param), param or name)


def optional_integer(params: Mapping[str, Any], name: str) -> int | None:
    text = string(params, name)
    return None if text is None else _parse_integer(text, name)


def boolean(params: Mapping[str, Any], name: str) -> bool:
    value = string(params, name)
    if value not in {None, "true", "false"}:
        raise invalid(f"Invalid boolean: {value}", param=name)
    return value == "true"


def choice(params: Mapping[str, Any], name: str, choices: Collection[str]) -> str | None:
    value = string(params, name)
    if value is not None and value not in choices:
        raise invalid(f"Invalid {name}: must be one of {', '.join(choices)}", param=name)
    return value


def currency(params: Mapping[str, Any]) -> str:
    """An ISO 4217 code, lower-cased (Stripe takes a subset of them; the simulator all)."""
    code = required(params, "currency")
    if code.upper() not in ISO_4217_EXPONENTS:
        raise invalid(
            f"Invalid currency: {code}. Stripe takes a three-letter ISO currency code, in "
            "lowercase, of a currency it supports.",
            param="currency",
        )
    return code.lower()


def charge_amount(params: Mapping[str, Any], currency_code: str) -> int:
    """A PaymentIntent's ``amount``: at least Stripe's minimum charge in its currency (its
    published table; elsewhere Stripe converts to the account's currency first, which the
    simulator cannot, so any positive amount goes), at most eight digits."""
    amount = integer(params, "amount")
    minimum = MINIMUM_CHARGE.get(currency_code, 1)
    if amount < minimum:
        raise invalid(
            f"Amount must be at least {minimum} {currency_code} in minor units "
            "(Stripe's minimum charge).",
            code="amount_too_small",
            param="amount",
        )
    if amount > _MAX_AMOUNT:
        raise invalid(
            f"Amount must be no more than {_MAX_AMOUNT} in minor units (eight digits).",
            code="amount_too_large",
            param="amount",
        )
    return amount


def metadata(params: Mapping[str, Any]) -> dict[str, str]:
    value = params.get("metadata")
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid("Invalid object: metadata must be key-value pairs.", param="metadata")
    pairs: dict[str, str] = {}
    for key, item in value.items():
        param = f"metadata[{key}]"
        if not isinstance(item, str):
            raise invalid(f"Invalid value for {param}: it must be a string.", param=param)
        if len(key) > 40 or len(item) > 500:
            raise invalid(
                f"Invalid {param}: keys take up to 40 characters, values up to 500.", param=param
            )
        if item:  # an empty value unsets the key
            pairs[key] = item
    if len(pairs) > 50:
        raise invalid("Invalid metadata: at most 50 keys.", param="metadata")
    return pairs


def expand(params: Mapping[str, Any], expandable: Collection[str]) -> frozenset[str]:
    value = params.get("expand")
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid("Invalid array: expand takes a list of field names.", param="expand")
    for name in value:
        if name not in expandable:
            raise invalid(f"This property cannot be expanded ({name}).", param="expand")
    return frozenset(value)


def payment_method_types(params: Mapping[str, Any]) -> list[str]:
    value = params.get("payment_method_types")
    if value is None:
        return ["card"]
    if not isinstance(value, list) or not value or any(v not in _METHOD_TYPES for v in value):
        raise invalid(
            "Invalid payment_method_types: this simulator supports card and ideal.",
            param="payment_method_types",
        )
    return [str(v) for v in value]


def payment_method(params: Mapping[str, Any]) -> PaymentMethod | None:
    """The card behind ``payment_method`` (a test ``pm_`` id), or the card or iDEAL method
    ``payment_method_data`` describes."""
    pm_id = string(params, "payment_method")
    data = params.get("payment_method_data")
    if pm_id is not None and data is not None:
        raise invalid(
            "Pass payment_method or payment_method_data, not both.",
            code="parameters_exclusive",
            param="payment_method_data",
        )
    if pm_id is not None:
        card = CARDS.get(pm_id)
        if card is None:
            raise invalid(
                f"No such PaymentMethod: '{pm_id}'", code="resource_missing", param="payment_method"
            )
        return PaymentMethod(pm_id, card, exp_month=12, exp_year=time.gmtime().tm_year + 1)
    if data is None:
        return None
    prefix = "payment_method_data"
    method_type = required(data, "type", f"{prefix}[type]") if isinstance(data, dict) else None
    if not isinstance(data, dict) or method_type not in _METHOD_TYPES:
        raise invalid(
            "Invalid payment_method_data: this simulator supports type=card and type=ideal.",
            param=f"{prefix}[type]",
        )
    if method_type == "ideal":  # the bank, if not chosen here, is chosen on the bank's page
        bank = data.get("ideal")
        chosen = string(bank, "bank") if isinstance(bank, dict) else None
        return PaymentMethod(new_id("pm"), None, type="ideal", bank=chosen)
    card_data = data.get("card")
    if not isinstance(card_data, dict):
        raise invalid(
            f"Missing required param: {prefix}[card].",
            code="parameter_missing",
            param=f"{prefix}[card]",
        )
    number = required(card_data, "number", f"{prefix}[card][number]").replace(" ", "")
    exp_month = integer(card_data, "exp_month", f"{prefix}[card][exp_month]")
    exp_year = integer(card_data, "exp_year", f"{prefix}[card][exp_year]")
    if not _passes_luhn(number):
        raise StripeError(
            402,
            CARD_ERROR,
            "Your card number is incorrect.",
            code="incorrect_number",
            param=f"{prefix}[card][number]",
        )
    billing = data.get("billing_details")
    name = string(billing, "name") if isinstance(billing, dict) else None
    card = BY_NUMBER.get(number) or Card(number, _brand(number), LIVE_CARD_IN_TEST_MODE)
    return PaymentMethod(new_id("pm"), card, exp_month, exp_year, name)


def _brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"}:
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    return "unknown"


def _passes_luhn(number: str) -> bool:
    """Whether ``number`` is 12-19 digits with a valid Luhn check digit."""
    if not (number.isascii() and number.isdigit() and 12 <= len(number) <= 19):
        return False
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(number)):
        doubled = digit * 2 if position % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0
