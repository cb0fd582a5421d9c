"""The Adyen simulator's settlement data: its ledger as a Settlement details report (one
batch: debit and credit columns, fees as commission, the batch's MerchantPayout last) and as
a Payment accounting report (each payment's steps, amounts unsigned)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from paygate.adapters.adyen import CURRENCIES
from paygate.testing._settlement import (
    CHARGE,
    CHARGEBACK,
    REFUND,
    Movement,
    SettlementFaults,
    apply_faults,
    fee,
    major,
    write_csv,
)
from paygate.testing.adyen._errors import new_psp_reference

__all__ = ["movements", "write_payment_accounting", "write_settlement_details"]

DETAILS_HEADER: Final = (
    "Company Account",
    "Merchant Account",
    "Psp Reference",
    "Merchant Reference",
    "Payment Method",
    "Creation Date",
    "TimeZone",
    "Type",
    "Modification Reference",
    "Gross Currency",
    "Gross Debit (GC)",
    "Gross Credit (GC)",
    "Exchange Rate",
    "Net Currency",
    "Net Debit (NC)",
    "Net Credit (NC)",
    "Commission (NC)",
    "Markup (NC)",
    "Scheme Fees (NC)",
    "Interchange (NC)",
    "Payment Method Variant",
    "Modification Merchant Reference",
    "Batch Number",
)
ACCOUNTING_HEADER: Final = (
    "Company Account",
    "Merchant Account",
    "Psp Reference",
    "Merchant Reference",
    "Payment Method",
    "Booking Date",
    "TimeZone",
    "Record Type",
    "Modification Psp Reference",
    "Payment Currency",
    "Received (PC)",
    "Authorised (PC)",
    "Captured (PC)",
    "Settlement Currency",
    "Payable (SC)",
    "Commission (SC)",
    "Markup (SC)",
    "Scheme Fees (SC)",
    "Interchange (SC)",
)
COMPANY: Final = "PaygateTestCompany"
_TYPE: Final = {CHARGE: "Settled", REFUND: "Refunded", CHARGEBACK: "Chargeback"}
_CREDIT: Final = frozenset({CHARGE})


def _iso(minor: int, currency: str) -> int:
    return CURRENCIES[currency].from_wire(minor, currency).to_minor_units()


def movements(
    payments: list[dict[str, Any]], modifications: list[dict[str, Any]]
) -> list[Movement]:
    """What settled: each captured payment (by its capture's pspReference, or its own when it
    was captured with its authorisation) and each processed refund."""
    captures = {
        m["paymentPspReference"]: m["pspReference"]
        for m in modifications
        if m["type"] == "capture" and m["status"] == "processed"
    }
    references = {p["pspReference"]: p["merchantReference"] for p in payments}
    out: list[Movement] = []
    for p in payments:
        if p["captured"]:
            code = p["amount"]["currency"]
            psp = p["pspReference"]
            captured = _iso(p["captured"], code)
            out.append(
                Movement(CHARGE, psp, references[psp], captures.get(psp, psp), captured, code)
            )
    for m in modifications:
        if m["type"] == "refund" and m["status"] == "processed":
            code = m["amount"]["currency"]
            psp = m["paymentPspReference"]
            amount = _iso(m["amount"]["value"], code)
            out.append(Movement(REFUND, psp, references.get(psp), m["pspReference"], amount, code))
    return out


def _now() -> str:
    return datetime.now().astimezone().replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


def _zone() -> str:
    offset = datetime.now().astimezone().utcoffset()
    return "UTC" if not offset else "CET" if offset.total_seconds() == 3600 else "CEST"


def _settled(
    payments: list[dict[str, Any]],
    modifications: list[dict[str, Any]],
    faults: SettlementFaults | None,
) -> list[Movement]:
    return apply_faults(movements(payments, modifications), faults, new_psp_reference)


def _about(merchant: str, m: Movement, when: str, zone: str) -> list[str]:
    """The columns every row about one payment opens with: who, which payment, by what
    method, when."""
    return [COMPANY, merchant, m.payment, m.reference or "", "visa", when, zone]


def write_settlement_details(
    path: Path,
    merchant: str,
    payments: list[dict[str, Any]],
    modifications: list[dict[str, Any]],
    faults: SettlementFaults | None = None,
    *,
    batch: int = 1,
) -> Path:
    def rows() -> Iterator[list[str]]:
        when, zone, paid_out = _now(), _zone(), dict[str, int]()
        for m in _settled(payments, modifications, faults):
            cost = fee(m)
            credit = m.kind in _CREDIT
            net = m.amount - cost if credit else m.amount + cost
            paid_out[m.currency] = paid_out.get(m.currency, 0) + (net if credit else -net)
            gross_text, net_text = major(m.amount, m.currency), major(net, m.currency)
            yield [
                *_about(merchant, m, when, zone),
                _TYPE[m.kind],
                m.modification,
                m.currency,
                "" if credit else gross_text,
                gross_text if credit else "",
                "1",
                m.currency,
                "" if credit else net_text,
                net_text if credit else "",
                major(cost, m.currency),
                "",
                "",
                "",
                "visa",
                "",
                str(batch),
            ]
        for code, total in paid_out.items():
            yield [
                COMPANY,
                merchant,
                "",
                "",
                "",
                when,
                zone,
                "MerchantPayout",
                "",
                "",
                "",
                "",
                "",
                code,
                major(total, code),
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                str(batch),
            ]

    return write_csv(path, DETAILS_HEADER, rows())


def write_payment_accounting(
    path: Path,
    merchant: str,
    payments: list[dict[str, Any]],
    modifications: list[dict[str, Any]],
    faults: SettlementFaults | None = None,
) -> Path:
    def rows() -> Iterator[list[str]]:
        when, zone = _now(), _zone()
        for m in _settled(payments, modifications, faults):
            cost = fee(m)
            payable = m.amount - cost if m.kind in _CREDIT else m.amount + cost
            amount = major(m.amount, m.currency)
            if m.kind == CHARGE:
                yield [
                    *_about(merchant, m, when, zone),
                    "Authorised",
                    "",
                    m.currency,
                    "",
                    amount,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            yield [
                *_about(merchant, m, when, zone),
                _TYPE[m.kind],
                m.modification,
                m.currency,
                "",
                "",
                amount,
                m.currency,
                major(payable, m.currency),
                major(cost, m.currency),
                "",
                "",
                "",
            ]

    return write_csv(path, ACCOUNTING_HEADER, rows())
