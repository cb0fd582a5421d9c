"""Money: a Decimal amount in one ISO 4217 currency, and exact minor-unit conversion.

Floats are refused; an amount finer than the currency's minor unit is refused, never rounded.
Arithmetic and ordering only within one currency. Every refusal is a
``paygate.errors.InvalidRequestError``, which is also a ``TypeError`` and a ``ValueError``:
code that caught those before paygate had its own errors keeps working.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Self

from pydantic_core import core_schema

from paygate._currencies import ISO_4217_EXPONENTS
from paygate.errors import ErrorCode, InvalidRequestError

__all__ = ["Currency", "Money", "ProviderCurrency"]

# Enough precision that no amount a payment system can meet is rounded by the context.
_CONTEXT: Final = decimal.Context(prec=60, traps=[decimal.InvalidOperation, decimal.Inexact])


class Currency(str):
    """An ISO 4217 code known to paygate, upper case. ``Currency("eur") == "EUR"``."""

    __slots__ = ()

    def __new__(cls, code: str) -> Self:
        known = _KNOWN.get(code) if type(code) is str else None
        if known is not None and cls is Currency:
            return known  # type: ignore[return-value]  # the one instance per code
        if not isinstance(code, str):
            raise InvalidRequestError(f"currency code must be a str, not {type(code).__name__}")
        upper = code.strip().upper()
        if upper not in ISO_4217_EXPONENTS:
            raise InvalidRequestError(f"unknown or inactive ISO 4217 currency code: {code[:20]!r}")
        return super().__new__(cls, upper)

    @property
    def exponent(self) -> int:
        """Digits after the decimal point of the minor unit (JPY 0, EUR 2, KWD 3)."""
        return ISO_4217_EXPONENTS[self]

    def __repr__(self) -> str:
        return f"paygate.Currency({str(self)!r})"


# One instance per code, reused by every Money built from a plain upper-case code.
_KNOWN: Final[dict[str, Currency]] = {}
# Zero in each currency, built once (Money is immutable).
_ZEROS: Final[dict[str, Money]] = {}
_PLAIN: Final = (str, Currency)  # a code, or the one instance of one: a look-up, no checks
_KNOWN.update({code: Currency(code) for code in ISO_4217_EXPONENTS})


def _invalid_amount(message: str) -> InvalidRequestError:
    return InvalidRequestError(message, code=ErrorCode.AMOUNT_INVALID)


def _short(value: Decimal) -> str:
    """An amount for a message: whole when short, else its start and its size."""
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def _to_decimal(amount: object) -> Decimal:
    if isinstance(amount, bool | float):
        raise _invalid_amount(
            f"money amounts must be Decimal, int or str, never {type(amount).__name__}: "
            "a binary float cannot hold most decimal amounts exactly"
        )
    if isinstance(amount, Decimal):
        value = amount
    elif isinstance(amount, int):
        value = Decimal(amount)
    elif isinstance(amount, str):
        try:
            value = Decimal(amount.strip())
        except decimal.InvalidOperation:
            raise _invalid_amount(f"not a decimal amount: {amount[:40]!r}") from None
    else:
        raise _invalid_amount(
            f"money amounts must be Decimal, int or str, not {type(amount).__name__}"
        )
    if not value.is_finite():
        raise _invalid_amount(f"money amounts must be finite, got {value}")
    return value


def _exactly(op: Callable[[Decimal, Decimal], Decimal], a: Decimal, b: Decimal) -> Decimal:
    """``op`` in paygate's context, where a result that would need rounding raises."""
    try:
        return op(a, b)
    except decimal.Inexact:
        raise _invalid_amount("the result is too large to represent exactly") from None


def _scale(exponent: int) -> Decimal:
    return Decimal(1).scaleb(-exponent)


@dataclass(frozen=True, slots=True, init=False)
class Money:
    """An exact amount in one currency: ``Money("12.34", "EUR")``.

    The amount is kept quantized to the currency's exponent, so ``Money("12.3", "EUR")`` and
    ``Money("12.30", "EUR")`` are equal, hash alike and print as ``12.30``.
    """

    amount: Decimal
    currency: Currency

    def __init__(self, amount: Decimal | int | str, currency: str) -> None:
        cur = currency if isinstance(currency, Currency) else Currency(currency)
        value = _to_decimal(amount)
        try:
            exact = value.quantize(_scale(cur.exponent), context=_CONTEXT)
        except decimal.Inexact:
            raise _invalid_amount(
                f"{_short(value)} has more decimals than {cur} allows ({cur.exponent}); "
                "paygate refuses to round money"
            ) from None
        except decimal.InvalidOperation:
            raise _invalid_amount(
                f"{_short(value)} {cur} is too large to represent exactly"
            ) from None
        object.__setattr__(self, "amount", exact)
        object.__setattr__(self, "currency", cur)

    # -- minor units -------------------------------------------------------------------------
    def to_minor_units(self, exponent: int | None = None) -> int:
        """The amount as an integer count of minor units (``EUR 12.34`` → ``1234``).

        ``exponent`` overrides the ISO exponent for providers that use another scale; an amount
        that does not fit the given scale is refused (``InvalidRequestError``).
        """
        exp = self.currency.exponent if exponent is None else exponent
        try:
            minor = self.amount.scaleb(exp, context=_CONTEXT).to_integral_exact(context=_CONTEXT)
        except decimal.Inexact:
            raise _invalid_amount(
                f"{self} does not fit a scale of {exp} decimals; refusing to round"
            ) from None
        return int(minor)

    @classmethod
    def from_minor_units(cls, minor: int, currency: str, exponent: int | None = None) -> Money:
        """Build from an integer count of minor units (``1234, "EUR"`` → ``EUR 12.34``)."""
        if isinstance(minor, bool) or not isinstance(minor, int):
            raise _invalid_amount(f"minor units must be an int, not {type(minor).__name__}")
        cur = Currency(currency)
        exp = cur.exponent if exponent is None else exponent
        try:
            amount = Decimal(minor).scaleb(-exp, context=_CONTEXT)
        except (decimal.Inexact, decimal.InvalidOperation):
            raise _invalid_amount(
                f"{minor} minor units is too large to represent exactly"
            ) from None
        if exp == cur.exponent:
            return cls._exact(amount, cur)  # minor units at the currency's own scale are exact
        return cls(amount, cur)  # another scale: the amount must still fit the currency's

    @classmethod
    def zero(cls, currency: str) -> Money:
        zero = _ZEROS.get(currency) if type(currency) in _PLAIN else None
        if zero is None or cls is not Money:
            zero = _ZEROS[Currency(currency)] = cls.from_minor_units(0, currency)
        return zero

    # -- arithmetic within one currency ------------------------------------------------------
    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise InvalidRequestError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise InvalidRequestError(f"cannot combine {self.currency} with {other.currency}")
        return other

    @classmethod
    def _exact(cls, amount: Decimal, currency: Currency) -> Money:
        """A Money from an amount already exact in ``currency`` (the sum, difference or
        negation of two such amounts is): no re-validation on the arithmetic hot path."""
        money = object.__new__(cls)
        object.__setattr__(money, "amount", amount)
        object.__setattr__(money, "currency", currency)
        return money

    def __add__(self, other: Money) -> Money:
        return Money._exact(
            _exactly(_CONTEXT.add, self.amount, self._same(other).amount), self.currency
        )

    def __sub__(self, other: Money) -> Money:
        total = _exactly(_CONTEXT.subtract, self.amount, self._same(other).amount)
        return Money._exact(total, self.currency)

    def __neg__(self) -> Money:
        return Money._exact(_CONTEXT.minus(self.amount), self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other).amount

    def __bool__(self) -> bool:
        return bool(self.amount)

    @property
    def is_positive(self) -> bool:
        return self.amount > 0

    def __str__(self) -> str:
        return f"{self.currency} {self.amount}"

    def __repr__(self) -> str:
        return f"paygate.Money('{self.amount}', '{self.currency}')"


@dataclass(frozen=True, slots=True)
class ProviderCurrency:
    """How one provider writes amounts of one currency on the wire.

    ``exponent`` is the provider's scale (it may differ from ISO 4217); ``step`` is the
    granularity the provider accepts in those units (Stripe: three-decimal amounts must end
    in 0, so ``step=10``; ISK and UGX are sent in hundredths and must be whole, ``step=100``).
    """

    exponent: int
    step: int = 1

    def to_wire(self, money: Money) -> int:
        minor = money.to_minor_units(self.exponent)
        if minor % self.step:
            raise _invalid_amount(
                f"{money} cannot be sent: the provider takes {money.currency} only in steps of "
                f"{Money.from_minor_units(self.step, money.currency, self.exponent).amount}"
            )
        return minor

    def from_wire(self, minor: int, currency: str) -> Money:
        if minor == 0 and type(minor) is int:
            return Money.zero(currency)  # zero at any scale; answers carry several
        return Money.from_minor_units(minor, currency, self.exponent)


def _money_core_schema() -> Any:
    """Pydantic support: Money validates from a Money or ``{"amount", "currency"}``."""

    def from_mapping(value: Any) -> Money:
        if isinstance(value, Money):
            return value
        if isinstance(value, dict) and set(value) == {"amount", "currency"}:
            return Money(value["amount"], value["currency"])
        raise ValueError("expected Money or {'amount': str, 'currency': str}")  # for pydantic

    return core_schema.no_info_plain_validator_function(
        from_mapping,
        serialization=core_schema.plain_serializer_function_ser_schema(
            lambda m: {"amount": str(m.amount), "currency": str(m.currency)}
        ),
    )


Money.__get_pydantic_core_schema__ = classmethod(  # type: ignore[attr-defined]
    lambda cls, _source, _handler: _money_core_schema()
)
