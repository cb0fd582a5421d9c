"""Money: exact, immutable, one currency at a time, never a float, never rounded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from paygate import Currency, Money
from paygate._currencies import ISO_4217_EXPONENTS
from paygate.errors import ErrorCode, InvalidRequestError
from paygate.money import ProviderCurrency

CODES = sorted(ISO_4217_EXPONENTS)
codes = st.sampled_from(CODES)
minor_units = st.integers(min_value=-(10**15), max_value=10**15)


def test_iso_exponents() -> None:
    expected = {"JPY": 0, "KRW": 0, "EUR": 2, "USD": 2, "GBP": 2, "CLF": 4}
    expected |= dict.fromkeys(("KWD", "BHD", "JOD", "OMR", "TND", "IQD", "LYD"), 3)
    for code, exponent in expected.items():
        assert Currency(code).exponent == exponent, code
    assert len(CODES) > 150
    assert all(len(c) == 3 and c.isupper() for c in CODES)


def test_currency_codes_are_normalized_and_checked() -> None:
    assert Currency(" eur ") == "EUR"
    with pytest.raises(ValueError, match="unknown"):
        Currency("XXX")
    with pytest.raises(ValueError, match="unknown"):
        Money("1", "HRK")  # withdrawn: kuna became euro in 2023
    with pytest.raises(TypeError):
        Currency(978)  # type: ignore[arg-type]


@given(st.floats(allow_nan=True, allow_infinity=True), codes)
def test_no_float_is_ever_accepted(value: float, code: str) -> None:
    with pytest.raises(TypeError, match="float"):
        Money(value, code)  # type: ignore[arg-type]


def test_bool_none_and_non_numbers_are_refused() -> None:
    for bad in (True, None, [1], b"1"):
        with pytest.raises(TypeError):
            Money(bad, "EUR")  # type: ignore[arg-type]
    for text in ("12,34", "abc", "", "NaN", "Infinity", "-inf"):
        with pytest.raises(ValueError, match=r"decimal amount|finite"):
            Money(text, "EUR")


@pytest.mark.parametrize(
    ("amount", "code"),
    [("12.345", "EUR"), ("1.5", "JPY"), ("0.0001", "KWD"), ("0.001", "USD"), ("1.00001", "CLF")],
)
def test_finer_than_the_minor_unit_is_refused_not_rounded(amount: str, code: str) -> None:
    with pytest.raises(ValueError, match="refuses to round"):
        Money(amount, code)


def test_trailing_zeros_beyond_the_minor_unit_are_exact_and_accepted() -> None:
    assert Money("12.3400", "EUR") == Money("12.34", "EUR")
    assert Money("1500.000", "JPY").amount == Decimal("1500")
    assert str(Money("12.3", "EUR")) == "EUR 12.30"


def test_equal_amounts_hash_alike_and_money_is_immutable() -> None:
    a, b = Money("12.3", "EUR"), Money(Decimal("12.30"), "eur")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert Money("1", "EUR") != Money("1", "USD")
    with pytest.raises(AttributeError):
        a.amount = Decimal(1)  # type: ignore[misc]


def test_arithmetic_and_ordering_only_within_one_currency() -> None:
    assert Money("10.00", "EUR") - Money("2.50", "EUR") == Money("7.50", "EUR")
    assert -Money("1", "EUR") == Money("-1", "EUR")
    assert Money("1", "EUR") < Money("2", "EUR") <= Money("2.00", "EUR")
    with pytest.raises(ValueError, match="cannot combine"):
        Money("1", "EUR") + Money("1", "USD")
    with pytest.raises(ValueError, match="cannot combine"):
        assert Money("1", "EUR") < Money("2", "USD")
    with pytest.raises(TypeError):
        Money("1", "EUR") + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money("1", "EUR") + 0.1  # type: ignore[operator]


def test_amounts_too_large_to_hold_exactly_are_refused() -> None:
    with pytest.raises(ValueError, match="too large"):
        Money("1e70", "EUR")


@given(minor_units, codes)
def test_minor_unit_round_trip_is_exact(minor: int, code: str) -> None:
    money = Money.from_minor_units(minor, code)
    assert money.to_minor_units() == minor
    assert Money(str(money.amount), code) == money
    assert Money(money.amount, code) == money


@given(st.lists(minor_units, min_size=1, max_size=30), codes)
def test_sums_never_lose_a_minor_unit(parts: list[int], code: str) -> None:
    total = Money.zero(code)
    for minor in parts:
        total = total + Money.from_minor_units(minor, code)
    assert total.to_minor_units() == sum(parts)


@given(st.integers(min_value=0, max_value=10**12))
def test_a_provider_scale_different_from_iso(minor: int) -> None:
    isk_on_stripe = ProviderCurrency(exponent=2, step=100)  # ISO says 0 decimals
    money = Money(minor, "ISK")
    wire = isk_on_stripe.to_wire(money)
    assert wire == minor * 100 and isk_on_stripe.from_wire(wire, "ISK") == money


def test_a_provider_step_refuses_what_it_cannot_carry() -> None:
    three_decimal_step_ten = ProviderCurrency(exponent=3, step=10)
    assert three_decimal_step_ten.to_wire(Money("5.120", "KWD")) == 5120
    with pytest.raises(ValueError, match=r"steps of 0\.010"):
        three_decimal_step_ten.to_wire(Money("5.125", "KWD"))
    with pytest.raises(ValueError, match="refusing to round"):
        ProviderCurrency(exponent=0).to_wire(Money("1.50", "EUR"))
    with pytest.raises(TypeError):
        Money.from_minor_units(1.0, "EUR")  # type: ignore[arg-type]


def test_money_in_pydantic_models() -> None:
    class Order(BaseModel):
        total: Money

    order = Order(total={"amount": "12.34", "currency": "EUR"})  # type: ignore[arg-type]
    assert order.total == Money("12.34", "EUR")
    assert order.model_dump(mode="json") == {"total": {"amount": "12.34", "currency": "EUR"}}
    assert Order.model_validate_json(order.model_dump_json()) == order
    with pytest.raises(ValueError, match="refuses to round"):
        Order(total={"amount": "12.345", "currency": "EUR"})  # type: ignore[arg-type]


def test_redaction_masks_card_numbers_but_not_digits_inside_keys() -> None:
    from paygate._redaction import redact_text

    assert redact_text("card 4242 4242 4242 4242 declined") == "card ****4242 declined"
    key = "pg1_a29db47e7275e3c151a5b98fce646fa968eabe653897ec7d73df83da1234567890123"
    assert redact_text(f"key {key} in flight") == f"key {key} in flight"


def test_arithmetic_never_rounds_even_at_the_edge_of_precision() -> None:
    huge = Money("9" * 55 + ".99", "EUR")
    assert (huge - huge) == Money.zero("EUR")
    with pytest.raises(ValueError, match="too large"):
        Money("9" * 58 + ".99", "EUR") + Money("9" * 58 + ".99", "EUR")


# -- every refusal is a paygate error, and still the builtin it was ------------------------------
_TYPE_ERRORS = [
    (lambda: Money(12.34, "EUR"), ErrorCode.AMOUNT_INVALID),  # type: ignore[arg-type]
    (lambda: Money(None, "EUR"), ErrorCode.AMOUNT_INVALID),  # type: ignore[arg-type]
    (lambda: Money(object(), "EUR"), ErrorCode.AMOUNT_INVALID),  # type: ignore[arg-type]
    (lambda: Money("1", 978), ErrorCode.INVALID_REQUEST),  # type: ignore[arg-type]
    (lambda: Money("1", None), ErrorCode.INVALID_REQUEST),  # type: ignore[arg-type]
    (lambda: Money("1", ["EUR"]), ErrorCode.INVALID_REQUEST),  # type: ignore[arg-type]
    (lambda: Money.from_minor_units("1", "EUR"), ErrorCode.AMOUNT_INVALID),  # type: ignore[arg-type]
    (lambda: Money("1", "EUR") + 1, ErrorCode.INVALID_REQUEST),  # type: ignore[operator]
]
_VALUE_ERRORS = [
    (lambda: Money("12.345", "EUR"), ErrorCode.AMOUNT_INVALID),
    (lambda: Money("abc", "EUR"), ErrorCode.AMOUNT_INVALID),
    (lambda: Money("NaN", "EUR"), ErrorCode.AMOUNT_INVALID),
    (lambda: Money("1e70", "EUR"), ErrorCode.AMOUNT_INVALID),
    (lambda: Money("1", "XXX"), ErrorCode.INVALID_REQUEST),
    (lambda: Money.from_minor_units(10**70 + 1, "EUR"), ErrorCode.AMOUNT_INVALID),
    (lambda: Money("1", "EUR") + Money("1", "USD"), ErrorCode.INVALID_REQUEST),
    (lambda: ProviderCurrency(exponent=0).to_wire(Money("1.50", "EUR")), ErrorCode.AMOUNT_INVALID),
]


@pytest.mark.parametrize(("call", "code"), _TYPE_ERRORS)
def test_a_wrong_type_is_an_invalid_request_and_still_a_type_error(
    call: Any, code: ErrorCode
) -> None:
    with pytest.raises(TypeError) as refused:
        call()
    assert isinstance(refused.value, InvalidRequestError) and refused.value.code is code


@pytest.mark.parametrize(("call", "code"), _VALUE_ERRORS)
def test_a_wrong_value_is_an_invalid_request_and_still_a_value_error(
    call: Any, code: ErrorCode
) -> None:
    with pytest.raises(ValueError) as refused:  # noqa: PT011 (the class is the point)
        call()
    assert isinstance(refused.value, InvalidRequestError) and refused.value.code is code


def test_a_huge_amount_or_code_is_not_repeated_whole_in_the_error() -> None:
    for call in (lambda: Money("1" * 5000 + ".123", "EUR"), lambda: Money("x" * 5000, "EUR")):
        with pytest.raises(InvalidRequestError) as refused:
            call()
        assert len(str(refused.value)) < 200
    with pytest.raises(InvalidRequestError) as unknown:
        Money("1", "E" * 5000)
    assert len(str(unknown.value)) < 200


def test_zero_of_anything_but_a_currency_code_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError):
        Money.zero(["EUR"])  # type: ignore[arg-type]
    assert Money.zero(Currency("eur")) == Money("0", "EUR")
