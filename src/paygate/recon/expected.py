"""What a payment record leads settlement to expect, as a compact projection in minor units:
a million of them fit in memory where a million full records would not."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from paygate.models import Operation
from paygate.money import Currency
from paygate.records.state import ModificationStatus, PaymentRecord

__all__ = ["Expected"]

_SETTLING: Final = frozenset({ModificationStatus.RECEIVED, ModificationStatus.SUCCEEDED})
_CHARGING: Final = frozenset({Operation.AUTHORIZE, Operation.PURCHASE, Operation.CAPTURE})


class Expected:
    """One record's side of the match. ``captured`` and ``authorized`` are minor units of
    ``currency``; ``refunds`` maps each refund's provider id to its amount (refunds received
    or succeeded), ``failed_refunds`` names those that failed; ``captures`` the capture ids;
    ``unknown`` says the record holds an unknown outcome of a call that charges."""

    __slots__ = (
        "authorized",
        "captured",
        "captures",
        "changed_at",
        "currency",
        "failed_refunds",
        "payment_id",
        "provider",
        "record_id",
        "reference",
        "refunds",
        "unknown",
    )

    def __init__(
        self,
        *,
        record_id: str,
        provider: str,
        payment_id: str | None,
        reference: str | None,
        currency: str,
        authorized: int,
        captured: int,
        changed_at: datetime,
        refunds: dict[str, int] | None = None,
        failed_refunds: frozenset[str] = frozenset(),
        captures: tuple[str, ...] = (),
        unknown: bool = False,
    ) -> None:
        self.record_id = record_id
        self.provider = provider
        self.payment_id = payment_id
        self.reference = reference
        self.currency = Currency(currency)
        self.authorized = authorized
        self.captured = captured
        self.changed_at = changed_at
        self.refunds = refunds
        self.failed_refunds = failed_refunds
        self.captures = captures
        self.unknown = unknown

    @classmethod
    def of(cls, record: PaymentRecord) -> Expected:
        refunds: dict[str, int] = {}
        failed: set[str] = set()
        captures: list[str] = []
        for m in record.modifications:
            if m.operation is Operation.CAPTURE:
                captures.append(m.id)
            elif m.operation is Operation.REFUND and m.amount is not None:
                if m.status in _SETTLING:
                    refunds[m.id] = m.amount.to_minor_units()
                else:
                    failed.add(m.id)
        return cls(
            record_id=record.record_id,
            provider=record.provider,
            payment_id=record.payment_id,
            reference=record.reference,
            currency=record.currency,
            authorized=record.amount_authorized.to_minor_units(),
            captured=record.amount_captured.to_minor_units(),
            changed_at=record.updated_at,
            refunds=refunds or None,
            failed_refunds=frozenset(failed),
            captures=tuple(captures),
            unknown=any(u.operation in _CHARGING for u in record.unknown),
        )

    def __repr__(self) -> str:
        return f"paygate.recon.Expected({self.record_id}, {self.provider} {self.payment_id})"
