"""The settlement entry: one row of a provider's settlement data, in exact minor units.

Every reader (Stripe's itemized reports and Balance Transactions, Adyen's Settlement details
and Payment accounting reports) turns its rows into ``Entry`` values, so matching reads one
model whatever the provider. Amounts are signed integers of the currency's ISO 4217 minor unit
(``EUR 12.34`` is ``1234``), from the merchant's balance's point of view: money in is positive,
money out (refunds, chargebacks, fees, payouts) negative; ``fee`` is a cost, so ``net`` is
``gross - fee`` on a row that is right.
"""

from __future__ import annotations

import decimal
import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final, NamedTuple

from paygate._currencies import ISO_4217_EXPONENTS
from paygate.money import Currency

__all__ = ["Entry", "EntryKind", "ReportError", "minor_units"]

# Enough precision that no amount a report can hold is rounded; rounding would raise.
_EXACT: Final = decimal.Context(prec=60, traps=[decimal.InvalidOperation, decimal.Inexact])


class EntryKind(StrEnum):
    """What a settlement row is, in canonical terms (the provider's own name stays on the
    entry as ``provider_kind``)."""

    CHARGE = "charge"  # a captured payment settled
    RELEASE = "release"  # the uncaptured part of a partially captured charge released (Stripe)
    REFUND = "refund"
    REFUND_REVERSAL = "refund_reversal"  # a refund that failed or was reversed after settling
    CHARGEBACK = "chargeback"  # a dispute opened (first or second chargeback)
    CHARGEBACK_REVERSAL = "chargeback_reversal"  # a dispute won
    FEE = "fee"  # a cost not tied to one payment
    PAYOUT = "payout"  # money sent to (or back from) the merchant's bank
    ADJUSTMENT = "adjustment"  # transfers, corrections, deductions, other movements
    STATUS = "status"  # a lifecycle step that moves no money (Adyen: Received, Authorised...)

    @property
    def about_a_payment(self) -> bool:
        """Whether the row is about one payment, and so is matched to a record."""
        return self in _ABOUT_A_PAYMENT


_ABOUT_A_PAYMENT: Final = frozenset(
    {
        EntryKind.CHARGE,
        EntryKind.RELEASE,
        EntryKind.REFUND,
        EntryKind.REFUND_REVERSAL,
        EntryKind.CHARGEBACK,
        EntryKind.CHARGEBACK_REVERSAL,
    }
)


class ReportError(ValueError):
    """Settlement data paygate will not guess at: an unknown column set, an unknown record
    type, a malformed row. ``line`` is the 1-based line of the file (for an API page, the
    position of the object in the whole listing)."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}, line {line}: {message}")
        self.source = source
        self.line = line
        self.message = message


class Entry(NamedTuple):
    """One settlement row. ``gross``, ``fee`` and ``net`` are in ``currency`` (the balance or
    settlement currency); ``amount`` is the same movement in ``amount_currency``, the payment's
    own currency (equal to ``gross`` unless the provider converted it at ``exchange_rate``).
    ``entry_id`` names the row at the provider (Stripe's ``txn_`` id; Adyen has none, so the
    batch and the line); ``source`` and ``line`` say where it was read.

    A named tuple, immutable (``_replace`` makes a changed copy): a report of a million rows
    makes a million of them, and a tuple is made, and staged for matching, much faster than
    a frozen dataclass."""

    provider: str
    kind: EntryKind
    provider_kind: str
    entry_id: str
    payment_reference: str | None  # Stripe PaymentIntent id, Adyen payment pspReference
    merchant_reference: str | None  # the caller's reference, as the provider echoes it
    modification_reference: str | None  # Stripe ch_/re_/dp_ source, Adyen modification psp
    currency: Currency
    gross: int
    fee: int
    net: int
    amount_currency: Currency
    amount: int
    exchange_rate: Decimal | None
    created: datetime
    available: datetime | None  # available on (Stripe) or booked (Adyen), when given
    payout: str | None  # Stripe automatic payout id, Adyen batch number
    source: str
    line: int

    def __repr__(self) -> str:
        return (
            f"paygate.recon.Entry({self.provider} {self.provider_kind} {self.entry_id}, "
            f"{self.amount_currency} {self.amount}, {self.source} line {self.line})"
        )

    @property
    def net_checks(self) -> bool:
        """Whether ``net == gross - fee``, as every right row has it."""
        return self.net == self.gross - self.fee


_CURRENCIES: Final[dict[str, Currency]] = {}


def currency(code: str) -> Currency:
    """The ISO 4217 currency a report names, any case (``InvalidRequestError`` if unknown)."""
    known = _CURRENCIES.get(code)
    if known is None:
        known = _CURRENCIES[code] = Currency(code)
    return known


_LIMIT: Final = 1 << 63  # matching holds minor units as 64-bit integers


def _in_range(minor: int, text: str) -> int:
    if not -_LIMIT <= minor < _LIMIT:
        raise ValueError(f"{text[:40]} is out of range for an amount")
    return minor


# A plain decimal (``-12.34``), as nearly every report writes amounts: read with integers.
_PLAIN: Final = re.compile(r"(-?)([0-9]+)(?:\.([0-9]*))?")


def minor_units(text: str, code: Currency) -> int:
    """A major-unit decimal as written in a report (``"12.34"``), as exact minor units of
    ``code`` (``1234`` for EUR). ``ValueError`` for text that is not a decimal, and for a value
    finer than the currency's minor unit (``"12.5"`` JPY): paygate never rounds money."""
    exponent = ISO_4217_EXPONENTS[code]
    plain = _PLAIN.fullmatch(text)
    if plain is not None and len(plain[3] or "") <= exponent:
        sign, whole, decimals = plain.groups("")
        minor = int(whole + decimals.ljust(exponent, "0"))
        return _in_range(-minor if sign else minor, text)
    try:  # any other form Decimal reads (an exponent, a sign, zeros past the minor unit)
        value = Decimal(text)
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {text[:40]!r}")
        exact = value.scaleb(exponent, context=_EXACT).to_integral_exact(context=_EXACT)
        return _in_range(int(exact), text)
    except decimal.Inexact:
        raise ValueError(f"{text[:40]} has more decimals than {code} allows ({exponent})") from None
    except decimal.InvalidOperation:
        raise ValueError(f"not a decimal amount: {text[:40]!r}") from None
