"""Adyen's settlement data: the Settlement details report (one CSV per settlement batch,
debit and credit columns, gross in the transaction currency, net and fees in the settlement
currency) and the Payment accounting report (each lifecycle step of each payment, with what
it made payable), read into ``Entry`` values. Amounts are in major units.

``SETTLEMENT_TYPES`` and ``ACCOUNTING_TYPES`` map every record type paygate knows to an
``EntryKind``; a type they lack stops the read at its line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final

from paygate.adapters.adyen import SPEC
from paygate.recon._csvfile import Format, Layout, Progress, read_report
from paygate.recon._rows import Cells
from paygate.recon.entries import Entry, EntryKind

__all__ = [
    "ACCOUNTING",
    "ACCOUNTING_TYPES",
    "SETTLEMENT_DETAILS",
    "SETTLEMENT_TYPES",
    "read_payment_accounting",
    "read_settlement_details",
]

PROVIDER: Final = SPEC.name
K = EntryKind
SETTLEMENT_TYPES: Final[Mapping[str, EntryKind]] = MappingProxyType(
    {
        "Settled": K.CHARGE,
        "SettledBulk": K.CHARGE,
        "Refunded": K.REFUND,
        "RefundedBulk": K.REFUND,
        "RefundedReversed": K.REFUND_REVERSAL,
        "Chargeback": K.CHARGEBACK,
        "SecondChargeback": K.CHARGEBACK,
        "ChargebackReversed": K.CHARGEBACK_REVERSAL,
        "Fee": K.FEE,
        "MiscCosts": K.FEE,
        "PaymentCost": K.FEE,
        "MerchantPayout": K.PAYOUT,
        "DepositCorrection": K.ADJUSTMENT,
        "InvoiceDeduction": K.ADJUSTMENT,
        "Balancetransfer": K.ADJUSTMENT,
    }
)
ACCOUNTING_TYPES: Final[Mapping[str, EntryKind]] = MappingProxyType(
    {
        "Received": K.STATUS,
        "Authorised": K.STATUS,
        "Refused": K.STATUS,
        "Error": K.STATUS,
        "Cancelled": K.STATUS,
        "Expired": K.STATUS,
        "SentForSettle": K.STATUS,
        "SentForRefund": K.STATUS,
        "CaptureFailed": K.STATUS,
        "RefundFailed": K.STATUS,
        "NotificationOfChargeback": K.STATUS,
        "RequestForInformation": K.STATUS,
        "Settled": K.CHARGE,
        "SettledBulk": K.CHARGE,
        "Refunded": K.REFUND,
        "RefundedBulk": K.REFUND,
        "RefundedReversed": K.REFUND_REVERSAL,
        "Chargeback": K.CHARGEBACK,
        "SecondChargeback": K.CHARGEBACK,
        "ChargebackReversed": K.CHARGEBACK_REVERSAL,
    }
)
# Which way each kind moves the merchant's balance, for the report whose columns carry
# amounts without a sign (the Payment accounting report).
_DIRECTION: Final[Mapping[EntryKind, int]] = MappingProxyType(
    {
        K.CHARGE: 1,
        K.REFUND: -1,
        K.REFUND_REVERSAL: 1,
        K.CHARGEBACK: -1,
        K.CHARGEBACK_REVERSAL: 1,
        K.STATUS: 0,
    }
)

_SETTLEMENT_FEES: Final = ("Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)")
_ACCOUNTING_FEES: Final = ("Commission (SC)", "Markup (SC)", "Scheme Fees (SC)", "Interchange (SC)")
_RESERVED: Final = frozenset(f"Reserved{n}" for n in range(1, 11))

SETTLEMENT_DETAILS: Final = Layout(
    name="Adyen Settlement details report",
    required=frozenset(
        {"Psp Reference", "Merchant Reference", "Creation Date", "TimeZone", "Type"}
        | {"Modification Reference", "Gross Currency", "Gross Debit (GC)", "Gross Credit (GC)"}
        | {"Exchange Rate", "Net Currency", "Net Debit (NC)", "Net Credit (NC)", "Batch Number"}
        | set(_SETTLEMENT_FEES)
    ),
    optional=frozenset(
        {"Company Account", "Merchant Account", "Payment Method", "Payment Method Variant"}
        | {"Modification Merchant Reference"}
    )
    | _RESERVED,
)
ACCOUNTING: Final = Layout(
    name="Adyen Payment accounting report",
    required=frozenset(
        {"Psp Reference", "Merchant Reference", "Booking Date", "TimeZone", "Record Type"}
        | {"Payment Currency", "Captured (PC)", "Settlement Currency", "Payable (SC)"}
        | set(_ACCOUNTING_FEES)
    ),
    optional=frozenset(
        {"Company Account", "Merchant Account", "Payment Method", "Payment Method Variant"}
        | {"Main Currency", "Main Amount", "Received (PC)", "Authorised (PC)", "User Name"}
        | {"Processing Fee Currency", "Processing Fee (FC)", "Modification Merchant Reference"}
        | {"Modification Psp Reference"}
    )
    | _RESERVED,
)


def _kind(cells: Cells, column: str, table: Mapping[str, EntryKind]) -> tuple[EntryKind, str]:
    name = cells.required(column)
    kind = table.get(name)
    if kind is None:
        raise cells.error(f"unknown {column} {name[:40]!r}")
    return kind, name


def read_settlement_details(path: Path, *, progress: Progress | None = None) -> Iterator[Entry]:
    """The entries of a Settlement details report CSV, in file order, streamed."""
    return read_report(path, DETAILS_REPORT, progress=progress)


def _settlement_entry(cells: Cells) -> Entry:
    kind, name = _kind(cells, "Type", SETTLEMENT_TYPES)
    net_currency = cells.currency("Net Currency")
    net = cells.minor("Net Credit (NC)", net_currency, empty_is_zero=True) - cells.minor(
        "Net Debit (NC)", net_currency, empty_is_zero=True
    )
    fee = sum(cells.minor(c, net_currency, empty_is_zero=True) for c in _SETTLEMENT_FEES)
    gross_currency = (
        net_currency if cells.text("Gross Currency") is None else cells.currency("Gross Currency")
    )
    amount = cells.minor("Gross Credit (GC)", gross_currency, empty_is_zero=True) - cells.minor(
        "Gross Debit (GC)", gross_currency, empty_is_zero=True
    )
    if cells.text("Gross Currency") is None:
        amount = net + fee  # a row with no gross (fees, payouts): what it cost and moved
    # Converted: the gross in the settlement currency is what the net and the fees add up to.
    gross = amount if gross_currency == net_currency else net + fee
    modification = cells.text("Modification Reference")
    batch = cells.text("Batch Number")
    return Entry(
        provider=PROVIDER,
        kind=kind,
        provider_kind=name,
        entry_id=f"{modification}:{name}" if modification else f"{cells.source}:{cells.line}",
        payment_reference=cells.text("Psp Reference"),
        merchant_reference=cells.text("Merchant Reference"),
        modification_reference=modification,
        currency=net_currency,
        gross=gross,
        fee=fee,
        net=net,
        amount_currency=gross_currency,
        amount=amount,
        exchange_rate=cells.rate("Exchange Rate"),
        created=cells.time("Creation Date", cells.zone("TimeZone")),
        available=None,
        payout=batch,
        source=cells.source,
        line=cells.line,
    )


def read_payment_accounting(path: Path, *, progress: Progress | None = None) -> Iterator[Entry]:
    """The entries of a Payment accounting report CSV, in file order, streamed. Its amounts
    carry no sign: the record type says which way the money went."""
    return read_report(path, ACCOUNTING_REPORT, progress=progress)


def _accounting_entry(cells: Cells) -> Entry:
    kind, name = _kind(cells, "Record Type", ACCOUNTING_TYPES)
    direction = _DIRECTION[kind]
    payment_currency = cells.currency("Payment Currency")
    if direction == 0:  # a lifecycle step: nothing payable
        settlement_currency, net, fee = payment_currency, 0, 0
        amount = 0
    else:
        settlement_currency = cells.currency("Settlement Currency")
        net = direction * abs(cells.minor("Payable (SC)", settlement_currency))
        fee = sum(
            abs(cells.minor(c, settlement_currency, empty_is_zero=True)) for c in _ACCOUNTING_FEES
        )
        same = payment_currency == settlement_currency
        captured = cells.minor("Captured (PC)", payment_currency, empty_is_zero=same)
        amount = direction * abs(captured) if captured else net + fee
    psp = cells.text("Psp Reference")
    modification = cells.text("Modification Psp Reference")
    return Entry(
        provider=PROVIDER,
        kind=kind,
        provider_kind=name,
        entry_id=f"{modification or psp}:{name}" if psp else f"{cells.source}:{cells.line}",
        payment_reference=psp,
        merchant_reference=cells.text("Merchant Reference"),
        modification_reference=modification,
        currency=settlement_currency,
        gross=net + fee,
        fee=fee,
        net=net,
        amount_currency=payment_currency,
        amount=amount,
        exchange_rate=None,
        created=cells.time("Booking Date", cells.zone("TimeZone")),
        available=cells.time("Booking Date", cells.zone("TimeZone")),
        payout=None,
        source=cells.source,
        line=cells.line,
    )


DETAILS_REPORT: Final = Format("adyen_settlement_details", SETTLEMENT_DETAILS, _settlement_entry)
ACCOUNTING_REPORT: Final = Format("adyen_payment_accounting", ACCOUNTING, _accounting_entry)
