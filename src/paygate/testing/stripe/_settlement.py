"""The Stripe simulator's settlement data: its ledger as an itemized balance report
(``payout_reconciliation.itemized.5`` columns, amounts in major units), all of it in one
automatic payout."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from paygate.adapters.stripe._constants import REFERENCE_KEY, money
from paygate.testing._settlement import (
    CHARGE,
    CHARGEBACK,
    REFUND,
    RELEASE,
    Movement,
    SettlementFaults,
    apply_faults,
    fee,
    major,
    write_csv,
)
from paygate.testing.stripe._ledger import new_id

__all__ = ["movements", "write_report"]

HEADER: Final = (
    "balance_transaction_id",
    "created_utc",
    "available_on_utc",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "source_id",
    "description",
    "customer_facing_amount",
    "customer_facing_currency",
    "automatic_payout_id",
    "payment_intent_id",
    f"payment_metadata[{REFERENCE_KEY}]",
)
_CATEGORY: Final = {
    CHARGE: "charge",
    RELEASE: "partial_capture_reversal",
    REFUND: "refund",
    CHARGEBACK: "dispute",
}
_SIGN: Final = {CHARGE: 1, RELEASE: -1, REFUND: -1, CHARGEBACK: -1}


def _iso(minor: int, currency: str) -> int:
    """A Stripe amount as ISO minor units."""
    return money(minor, currency).to_minor_units()


def movements(intents: list[dict[str, Any]], refunds: list[dict[str, Any]]) -> list[Movement]:
    """What settled: each captured charge at what was authorized, its uncaptured rest
    released, and each succeeded refund."""
    out: list[Movement] = []
    for intent in intents:
        charge = intent["latest_charge"]
        if not isinstance(charge, dict) or not charge["captured"]:
            continue
        code = intent["currency"].upper()
        reference = intent["metadata"].get(REFERENCE_KEY)
        authorized = _iso(charge["amount"], intent["currency"])
        captured = _iso(charge["amount_captured"], intent["currency"])
        out.append(Movement(CHARGE, intent["id"], reference, charge["id"], authorized, code))
        if captured < authorized:
            released = authorized - captured
            out.append(Movement(RELEASE, intent["id"], reference, charge["id"], released, code))
    for refund in refunds:
        if refund["status"] == "succeeded":
            amount = _iso(refund["amount"], refund["currency"])
            out.append(
                Movement(
                    REFUND,
                    refund["payment_intent"],
                    None,
                    refund["id"],
                    amount,
                    refund["currency"].upper(),
                )
            )
    return out


def write_report(
    path: Path,
    intents: list[dict[str, Any]],
    refunds: list[dict[str, Any]],
    faults: SettlementFaults | None = None,
) -> Path:
    settled = apply_faults(movements(intents, refunds), faults, lambda: new_id("pi"))
    payout = new_id("po")
    now = datetime.fromtimestamp(int(time.time()), UTC).strftime("%Y-%m-%d %H:%M:%S")
    rows: list[list[str]] = []
    paid_out: dict[str, int] = {}
    for m in settled:
        gross = _SIGN[m.kind] * m.amount
        cost = fee(m)
        net = gross - cost
        paid_out[m.currency] = paid_out.get(m.currency, 0) + net
        rows.append(
            [
                new_id("txn"),
                now,
                now,
                m.currency.lower(),
                major(gross, m.currency),
                major(cost, m.currency),
                major(net, m.currency),
                _CATEGORY[m.kind],
                m.modification,
                "",
                major(abs(gross), m.currency),
                m.currency.lower(),
                payout,
                m.payment,
                m.reference or "",
            ]
        )
    for code, total in paid_out.items():
        amount = major(-total, code)
        rows.append(
            [
                new_id("txn"),
                now,
                now,
                code.lower(),
                amount,
                major(0, code),
                amount,
                "payout",
                payout,
                "STRIPE PAYOUT",
                "",
                "",
                payout,
                "",
                "",
            ]
        )
    return write_csv(path, HEADER, rows)
