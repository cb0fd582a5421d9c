"""What the simulators settle, provider-neutral: the money movements of a ledger, the
discrepancies a test may inject into them, the fees, and the CSV the reports are written as.
Each simulator turns its ledger into ``Movement`` values and renders them in its provider's
report format (``testing/<provider>/_settlement.py``)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from paygate.money import Money

__all__ = ["Movement", "SettlementFaults", "apply_faults", "fee", "major", "write_csv"]

CHARGE: Final = "charge"
RELEASE: Final = "release"  # a partial capture's uncaptured rest, released (Stripe)
REFUND: Final = "refund"
CHARGEBACK: Final = "chargeback"
CHARGEBACK_FEE: Final = 1500  # minor units, on every chargeback


@dataclass(frozen=True, slots=True)
class Movement:
    """One settled movement of one payment. ``amount`` is a positive count of ISO minor units
    of ``currency``; ``kind`` says which way it goes."""

    kind: str
    payment: str  # the provider's payment id
    reference: str | None
    modification: str  # the charge's, capture's, refund's or dispute's own id
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class SettlementFaults:
    """Discrepancies to write into settlement data, by the provider's payment id:
    ``missing`` payments are not settled, ``doubled`` ones are settled twice, ``wrong_amount``
    adds minor units to a payment's charge, ``chargebacks`` disputes a payment in full, and
    ``unknown_payments`` charges that many payments the ledger never made."""

    missing: frozenset[str] = frozenset()
    doubled: frozenset[str] = frozenset()
    wrong_amount: Mapping[str, int] = field(default_factory=dict)
    chargebacks: frozenset[str] = frozenset()
    unknown_payments: int = 0
    unknown_currency: str = "EUR"
    unknown_amount: int = 4200


def fee(movement: Movement) -> int:
    """The simulated provider's fee on a movement, in its minor units: 1.4% + 25 on a charge,
    a flat fee on a chargeback, nothing on a release or a refund."""
    if movement.kind == CHARGE:
        return (movement.amount * 14 + 500) // 1000 + 25
    return CHARGEBACK_FEE if movement.kind == CHARGEBACK else 0


def major(minor: int, currency: str) -> str:
    """Minor units as the major-unit decimal a report writes (``1234 EUR`` → ``12.34``)."""
    return str(Money.from_minor_units(minor, currency).amount)


def apply_faults(
    movements: Sequence[Movement],
    faults: SettlementFaults | None,
    new_id: Callable[[], str],
) -> list[Movement]:
    """``movements`` with the injected discrepancies written into them (``new_id`` names
    a payment or dispute the ledger never made)."""
    if faults is None:
        return list(movements)
    out: list[Movement] = []
    for given in movements:
        if given.payment in faults.missing:
            continue
        movement = given
        if given.kind == CHARGE:
            delta = faults.wrong_amount.get(given.payment, 0)
            movement = replace(given, amount=given.amount + delta)
        out.append(movement)
        if movement.kind == CHARGE and movement.payment in faults.doubled:
            out.append(movement)
    for movement in movements:
        if movement.kind == CHARGE and movement.payment in faults.chargebacks:
            dispute = new_id()
            out.append(replace(movement, kind=CHARGEBACK, modification=dispute))
    for n in range(faults.unknown_payments):
        payment = new_id()
        out.append(
            Movement(
                CHARGE,
                payment,
                f"unknown-{n}",
                payment,
                faults.unknown_amount,
                faults.unknown_currency,
            )
        )
    return out


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path
