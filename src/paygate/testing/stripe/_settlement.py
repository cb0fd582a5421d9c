"""The Stripe simulator's settlement data: its ledger as balance transactions (the objects
``GET /v1/balance_transactions`` lists) and as an itemized balance report (the
``payout_reconciliation.itemized.5`` columns, amounts in major units), all of it in one
automatic payout. The report is written from the same balance transactions, so the two paths
cannot disagree. Ids are derived from what they settle, so a listing pages consistently."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any, Final

from paygate.adapters.stripe import CAPABILITIES, REFERENCE_KEY
from paygate.money import Money
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

__all__ = ["balance_transactions", "movements", "write_report"]

HEADER: Final = (
    "balance_transaction_id", "created_utc", "available_on_utc", "currency", "gross", "fee",
    "net", "reporting_category", "source_id", "description", "customer_facing_amount",
    "customer_facing_currency", "automatic_payout_id", "payment_intent_id",
    f"payment_metadata[{REFERENCE_KEY}]",
)  # fmt: skip
_CATEGORY: Final = {
    CHARGE: "charge",
    RELEASE: "partial_capture_reversal",
    REFUND: "refund",
    CHARGEBACK: "dispute",
}
_TYPE: Final = {CHARGE: "charge", RELEASE: "adjustment", REFUND: "refund", CHARGEBACK: "adjustment"}
_SOURCE_OBJECT: Final = {CHARGE: "charge", RELEASE: "charge", REFUND: "refund"}
_SIGN: Final = {CHARGE: 1, RELEASE: -1, REFUND: -1, CHARGEBACK: -1}


def _iso(minor: int, currency: str) -> int:
    """A Stripe amount as ISO minor units."""
    code = currency.upper()
    return CAPABILITIES.currencies[code].from_wire(minor, code).to_minor_units()


def _wire(minor: int, currency: str) -> int:
    """ISO minor units as a Stripe amount."""
    return CAPABILITIES.currencies[currency].to_wire(Money.from_minor_units(minor, currency))


def _id(prefix: str, *parts: object) -> str:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:24]
    return f"{prefix}_{digest}"


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
            code = refund["currency"].upper()
            amount = _iso(refund["amount"], refund["currency"])
            out.append(Movement(REFUND, refund["payment_intent"], None, refund["id"], amount, code))
    return out


def balance_transactions(
    intents: list[dict[str, Any]],
    refunds: list[dict[str, Any]],
    faults: SettlementFaults | None = None,
    *,
    expand: bool = False,
) -> list[dict[str, Any]]:
    """Every balance transaction of the ledger, oldest first, the payout last; ``source`` as
    an id, or ``expand``-ed to the object it names (``expand[]=data.source``)."""
    made = count(1)
    settled = apply_faults(
        movements(intents, refunds), faults, lambda: _id("pi", "injected", next(made))
    )
    created = {i["id"]: int(i["created"]) for i in intents} | {
        r["id"]: int(r["created"]) for r in refunds
    }
    now = int(time.time())
    payout = _id("po", *(m.modification for m in settled))
    out: list[dict[str, Any]] = []
    paid_out: dict[str, int] = {}
    seen: dict[tuple[str, str], int] = {}
    for m in settled:
        gross, cost = _SIGN[m.kind] * m.amount, fee(m)
        key = (m.kind, m.modification)
        seen[key] = seen.get(key, 0) + 1
        paid_out[m.currency] = paid_out.get(m.currency, 0) + gross - cost
        source: dict[str, Any] = {
            "id": m.modification if m.kind != CHARGEBACK else _id("dp", m.modification),
            "object": _SOURCE_OBJECT.get(m.kind, "dispute"),
            "payment_intent": m.payment,
            "amount": _wire(m.amount, m.currency),
            "currency": m.currency.lower(),
            "metadata": {REFERENCE_KEY: m.reference} if m.reference else {},
        }
        out.append(
            _transaction(
                _id("txn", m.kind, m.modification, seen[key]), m.currency, gross=gross,
                cost=cost, category=_CATEGORY[m.kind], kind=_TYPE[m.kind],
                source=source if expand else source["id"],
                created=created.get(m.payment, created.get(m.modification, now)),
            )
        )  # fmt: skip
    for code, total in paid_out.items():
        payout_source = {"id": payout, "object": "payout"}
        out.append(
            _transaction(
                _id("txn", "payout", payout, code), code, gross=-total, cost=0,
                category="payout", kind="payout", source=payout_source if expand else payout,
                created=now,
            )
        )  # fmt: skip
    return out


def _transaction(
    txn: str,
    currency: str,
    *,
    gross: int,
    cost: int,
    category: str,
    kind: str,
    source: Any,
    created: int,
) -> dict[str, Any]:
    return {
        "id": txn,
        "object": "balance_transaction",
        "amount": _wire(gross, currency),
        "available_on": created,
        "created": created,
        "currency": currency.lower(),
        "description": None,
        "exchange_rate": None,
        "fee": _wire(cost, currency),
        "fee_details": [],
        "net": _wire(gross - cost, currency),
        "reporting_category": category,
        "source": source,
        "status": "available",
        "type": kind,
    }


def write_report(
    path: Path,
    intents: list[dict[str, Any]],
    refunds: list[dict[str, Any]],
    faults: SettlementFaults | None = None,
) -> Path:
    rows: list[list[str]] = []
    payout = ""
    for txn in balance_transactions(intents, refunds, faults, expand=True):
        code, source = txn["currency"].upper(), txn["source"]
        if txn["reporting_category"] == "payout":
            payout = source["id"]
        when = datetime.fromtimestamp(txn["created"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        gross, cost = _iso(txn["amount"], txn["currency"]), _iso(txn["fee"], txn["currency"])
        facing = source.get("amount")
        rows.append(
            [
                txn["id"], when, when, txn["currency"], major(gross, code), major(cost, code),
                major(gross - cost, code), txn["reporting_category"], source["id"],
                "STRIPE PAYOUT" if txn["type"] == "payout" else "",
                "" if facing is None else major(_iso(facing, txn["currency"]), code),
                "" if facing is None else txn["currency"],
                "", source.get("payment_intent", ""),
                source.get("metadata", {}).get(REFERENCE_KEY, ""),
            ]
        )  # fmt: skip
    for row in rows:
        row[12] = payout  # every row is in the one automatic payout
    return write_csv(path, HEADER, rows)
