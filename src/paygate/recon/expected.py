"""What a payment record leads settlement to expect, as a projection in minor units, built by
a caller whose records paygate does not hold. Records paygate holds are projected in SQL
(``_records.sql``), from their JSON documents, never through this class."""

from __future__ import annotations

from datetime import datetime

from paygate.money import Currency

__all__ = ["Expected"]


class Expected:
    """One record's side of the match, as ``_records.sql`` projects a record: ``captured``
    and ``authorized`` are minor units of ``currency``; ``refunds`` maps each refund's provider
    id to its amount (refunds received or succeeded), ``failed_refunds`` names those that
    failed; ``captures`` the capture ids; ``unknown`` says the record holds an unknown outcome
    of a call that charges."""

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

    def __repr__(self) -> str:
        return f"paygate.recon.Expected({self.record_id}, {self.provider} {self.payment_id})"
