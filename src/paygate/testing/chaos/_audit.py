"""The provider's ledger against paygate's records: what the simulator did is the truth, and
every payment, capture, void and refund it made must be on a record, or listed as an unknown
outcome (before settling); on a record, with the same amounts, once everything is settled."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from paygate.models import Operation, PaymentStatus
from paygate.money import Money
from paygate.records import AuditEntry, Intent, PaymentRecord
from paygate.testing.adyen import AdyenSimulator
from paygate.testing.stripe import StripeSimulator

__all__ = ["Findings", "audit"]


@dataclass
class Findings:
    """What the audit counted. Every field but the totals must be zero for a sound run."""

    payments: int = 0
    refunds: int = 0
    double_charges: int = 0
    double_refunds: int = 0
    double_captures: int = 0
    lost_payments: int = 0
    lost_captures: int = 0
    lost_voids: int = 0
    lost_refunds: int = 0
    wrong_amounts: int = 0
    unknown_open: int = 0
    intents_open: int = 0
    awaiting_shopper: int = 0
    examples: list[str] = field(default_factory=list)

    def problems(self) -> dict[str, int]:
        """The non-zero counts that must be zero."""
        totals = {"payments", "refunds", "examples", "unknown_open", "intents_open"}
        totals.add("awaiting_shopper")
        return {
            name: value
            for name, value in vars(self).items()
            if name not in totals and isinstance(value, int) and value
        }

    def note(self, what: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(what)


class _Records:
    """paygate's side: records by payment id, and the open unknowns and intents by reference."""

    def __init__(self, gw: Any, provider: str) -> None:
        self._gw = gw
        unknown = gw.unknown_payments()
        intents: list[Intent] = [i for i in gw.records.intents() if i.provider == provider]
        self.unknown_count = sum(len(r.unknown) for r in unknown)
        self.intent_count = len(intents)
        # What is still open, as a failed run should say it: which call, how often it was
        # checked, and why the last check did not settle it.
        self.still_open = [
            f"open: {u.operation.value} {u.reference} on {r.record_id} ({r.payment_id}), "
            f"{u.attempts} checks, escalated={u.escalated}: {u.reason}"
            for r in unknown
            for u in r.unknown
        ] + [f"open intent: {i.operation.value} {i.reference} ({i.payment_id})" for i in intents]
        self._open: set[tuple[str, str | None]] = {
            (u.operation.value, u.reference) for r in unknown for u in r.unknown
        } | {(i.operation.value, i.reference) for i in intents}
        self._open_on: set[tuple[str, str | None]] = {
            (u.operation.value, r.payment_id) for r in unknown for u in r.unknown
        } | {(i.operation.value, i.payment_id) for i in intents}

    def record(self, payment_id: str) -> PaymentRecord | None:
        found: PaymentRecord | None = self._gw.payment_record(payment_id)
        return found

    def trail(self, payment_id: str) -> list[AuditEntry]:
        """The record's trail, to say in a finding how it got where it is."""
        found: list[AuditEntry] = self._gw.audit_trail(payment_id)
        return found

    def listed(self, operation: Operation, reference: str | None) -> bool:
        """An unknown outcome or an intent for this operation and reference."""
        return (operation.value, reference) in self._open

    def listed_on(self, operation: Operation, payment_id: str | None) -> bool:
        """An unknown outcome or an intent for this operation of this payment."""
        return (operation.value, payment_id) in self._open_on


def _eur(minor: int, currency: str) -> Money:
    return Money.from_minor_units(minor, currency.upper())


def _doubles(keys: Iterable[str | None]) -> int:
    counted = Counter(key for key in keys if key is not None)
    return sum(n - 1 for n in counted.values() if n > 1)


def audit(gw: Any, sim: StripeSimulator | AdyenSimulator, *, settled: bool) -> Findings:
    """Compare ``sim``'s ledger with ``gw``'s records. Before settling (``settled=False``) a
    provider object may be listed as an unknown outcome instead of recorded; after, it must
    be recorded, with the provider's amounts, and nothing may be open."""
    records = _Records(gw, "stripe" if isinstance(sim, StripeSimulator) else "adyen")
    findings = Findings()
    findings.unknown_open, findings.intents_open = records.unknown_count, records.intent_count
    if settled:
        for what in records.still_open:
            findings.note(what)
    if isinstance(sim, StripeSimulator):
        _stripe(sim, records, findings, settled)
    else:
        _adyen(sim, records, findings, settled)
    return findings


def _stripe(sim: StripeSimulator, records: _Records, findings: Findings, settled: bool) -> None:
    intents = sim.payment_intents()
    refunds = sim.refunds()
    findings.payments, findings.refunds = len(intents), len(refunds)
    findings.double_charges = _doubles(i["metadata"].get("reference") for i in intents)
    findings.double_refunds = _doubles(r["metadata"].get("reference") for r in refunds)
    by_intent: dict[str, list[dict[str, Any]]] = {}
    for refund in refunds:
        by_intent.setdefault(refund["payment_intent"], []).append(refund)
    for intent in intents:
        pid, reference = intent["id"], intent["metadata"].get("reference")
        record = records.record(pid)
        if record is None:
            if settled or not (
                records.listed(Operation.AUTHORIZE, reference)
                or records.listed(Operation.PURCHASE, reference)
            ):
                findings.lost_payments += 1
                findings.note(f"stripe payment {pid} ({reference}) is on no record")
            continue
        received = _eur(intent["amount_received"], intent["currency"])
        captured = record.amount_captured
        # A purchase the shopper's action captured (3-D Secure, iDEAL: Stripe moves the money
        # on their word, and completing it is a read) is open while paygate lists completing
        # it as unknown, or the payment as awaiting the shopper.
        capture_open = not settled and (
            records.listed_on(Operation.CAPTURE, pid)
            or records.listed(Operation.PURCHASE, reference)
            or records.listed_on(Operation.COMPLETE_ACTION, pid)
            or record.status is PaymentStatus.REQUIRES_ACTION
        )
        if captured < received and not capture_open:
            findings.lost_captures += 1
            trail = "; ".join(f"{e.cause.kind}: {e.note}" for e in records.trail(pid))
            findings.note(f"stripe capture of {pid}: {received}, record {captured} ({trail})")
        elif captured > received:
            findings.wrong_amounts += 1
            findings.note(f"stripe {pid} captured {received}, record {captured}")
        canceled = intent["status"] == "canceled"
        void_open = not settled and records.listed_on(Operation.VOID, pid)
        if canceled != record.voided and not void_open:
            findings.lost_voids += 1
            findings.note(f"stripe void of {pid}: provider {canceled}, record {record.voided}")
        recorded = {m.id for m in record.modifications}
        refunded = Money.zero(record.currency)
        for refund in by_intent.get(pid, []):
            if refund["status"] == "succeeded":
                refunded = refunded + _eur(refund["amount"], refund["currency"])
            listed = not settled and records.listed(
                Operation.REFUND, refund["metadata"].get("reference")
            )
            if refund["id"] not in recorded and not listed:
                findings.lost_refunds += 1
                findings.note(f"stripe refund {refund['id']} of {pid} is on no record")
        if settled and record.amount_refunded != refunded:
            findings.wrong_amounts += 1
            findings.note(f"stripe {pid} refunded {refunded}, record {record.amount_refunded}")


def _adyen(sim: AdyenSimulator, records: _Records, findings: Findings, settled: bool) -> None:
    payments = sim.payments()
    modifications = sim.modifications()
    findings.payments = len(payments)
    findings.refunds = sum(m["type"] == "refund" for m in modifications)
    findings.double_charges = _doubles(p["merchantReference"] for p in payments)
    findings.double_refunds = _doubles(
        m["reference"] for m in modifications if m["type"] == "refund"
    )
    findings.double_captures = _doubles(
        m["paymentPspReference"] for m in modifications if m["type"] == "capture"
    )
    for payment in payments:
        psp, reference = payment["pspReference"], payment["merchantReference"]
        if payment["status"] == "redirect":
            # Still awaiting the shopper: nothing moved, and Adyen has named it to no one.
            findings.awaiting_shopper += 1
            continue
        record = records.record(psp)
        if record is None:
            listed = not settled and any(  # a completed action names the payment too
                records.listed(operation, reference)
                for operation in (
                    Operation.AUTHORIZE,
                    Operation.PURCHASE,
                    Operation.COMPLETE_ACTION,
                )
            )
            if not listed:
                findings.lost_payments += 1
                findings.note(f"adyen payment {psp} ({reference}) is on no record")
            continue
        recorded = {m.id for m in record.modifications}
        operations = {"capture": Operation.CAPTURE, "cancel": Operation.VOID}
        operations |= {"refund": Operation.REFUND}
        for modification in sim.modifications(psp):
            operation = operations[modification["type"]]
            if modification["pspReference"] in recorded:
                continue
            if not settled and (
                records.listed(operation, modification["reference"])
                or records.listed_on(operation, psp)
            ):
                continue
            lost = {Operation.CAPTURE: "lost_captures", Operation.VOID: "lost_voids"}
            name = lost.get(operation, "lost_refunds")
            setattr(findings, name, getattr(findings, name) + 1)
            findings.note(f"adyen {modification['type']} {modification['pspReference']} of {psp}")
        if settled:
            currency = payment["amount"]["currency"]
            captured = _eur(payment["captured"], currency)
            refunded = _eur(payment["refunded"], currency)
            if (record.amount_captured, record.amount_refunded) != (captured, refunded):
                findings.wrong_amounts += 1
                findings.note(
                    f"adyen {psp}: captured {captured} refunded {refunded}, record "
                    f"{record.amount_captured} / {record.amount_refunded}"
                )
