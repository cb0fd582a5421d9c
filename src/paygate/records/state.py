"""The payment record and its state machine, as data and pure functions.

A record's status is never set directly: it is *derived* from what is known — the provider's
own cumulative figures when it reports them, each capture / refund / void by its provider id
(received → succeeded | failed), and the lifecycle flags (voided, failed). Deriving the status
makes every input idempotent and order-tolerant: the same refund reported by its API answer and
by two webhooks is counted once, and an older event cannot lower a figure. ``TRANSITIONS`` is
then the rule every derived change must obey; what it lacks is refused and kept in the trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from pydantic import BaseModel, ConfigDict

from paygate.models import Operation, PaymentStatus
from paygate.money import Money

__all__ = [
    "PRE_AUTHORIZATION",
    "TRANSITIONS",
    "Intent",
    "Modification",
    "ModificationStatus",
    "PaymentRecord",
    "UnknownOperation",
    "derive_status",
    "status_of",
    "transition_allowed",
]

S = PaymentStatus

# Every status a record may move to from each status. A record that does not exist yet is the
# ``None`` row. Self-transitions with new figures (a second partial refund) are always allowed.
TRANSITIONS: Final[Mapping[PaymentStatus | None, frozenset[PaymentStatus]]] = MappingProxyType(
    {
        # A payment is first recorded in whatever state paygate first hears of it (a call's
        # answer, a retrieve of a payment made elsewhere, a webhook).
        None: frozenset(PaymentStatus),
        # The provider's answer was lost: whatever the provider says settles it.
        S.UNKNOWN: frozenset({S.PENDING, S.REQUIRES_ACTION, S.AUTHORIZED, S.PARTIALLY_CAPTURED,
                              S.CAPTURED, S.FAILED, S.VOIDED}),
        S.PENDING: frozenset({S.REQUIRES_ACTION, S.AUTHORIZED, S.PARTIALLY_CAPTURED,
                              S.CAPTURED, S.FAILED, S.VOIDED}),
        S.REQUIRES_ACTION: frozenset({S.PENDING, S.AUTHORIZED, S.PARTIALLY_CAPTURED,
                                      S.CAPTURED, S.FAILED, S.VOIDED}),
        S.AUTHORIZED: frozenset({S.PARTIALLY_CAPTURED, S.CAPTURED, S.VOIDED}),
        # A capture the scheme rejects after confirming it (Adyen CAPTURE_FAILED) undoes it.
        S.PARTIALLY_CAPTURED: frozenset({S.CAPTURED, S.PARTIALLY_REFUNDED, S.REFUNDED,
                                         S.AUTHORIZED}),
        S.CAPTURED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.AUTHORIZED}),
        # A refund that fails or is reversed after succeeding gives the money back to the
        # merchant: the only way down from a refunded status.
        S.PARTIALLY_REFUNDED: frozenset({S.REFUNDED, S.CAPTURED, S.PARTIALLY_CAPTURED}),
        S.REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.CAPTURED, S.PARTIALLY_CAPTURED}),
        S.VOIDED: frozenset(),
        S.FAILED: frozenset(),
    }
)  # fmt: skip

# Statuses a payment has before any money is held; the provider reports which.
PRE_AUTHORIZATION: Final = frozenset({S.UNKNOWN, S.PENDING, S.REQUIRES_ACTION})


def transition_allowed(old: PaymentStatus | None, new: PaymentStatus) -> bool:
    return old == new or new in TRANSITIONS[old]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModificationStatus(StrEnum):
    RECEIVED = "received"  # the provider has it; its outcome comes later (webhook)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # refused, or (refunds) reversed after succeeding


# How one capture / refund / void may move. Never back to received; a success may still fail
# (a scheme rejecting a capture, a refund reversed), a failure is final.
MODIFICATION_TRANSITIONS: Final[Mapping[ModificationStatus, frozenset[ModificationStatus]]] = (
    MappingProxyType(
        {
            ModificationStatus.RECEIVED: frozenset(
                {ModificationStatus.SUCCEEDED, ModificationStatus.FAILED}
            ),
            ModificationStatus.SUCCEEDED: frozenset({ModificationStatus.FAILED}),
            ModificationStatus.FAILED: frozenset(),
        }
    )
)


class Modification(_Frozen):
    """One capture, refund or void of a payment, by the provider's id for it."""

    id: str
    operation: Operation
    amount: Money | None
    status: ModificationStatus
    idempotency_key: str | None = None
    reference: str | None = None


class _Call(_Frozen):
    """A mutating call as it was sent: everything needed to send it again byte for byte, or
    to recognise it in the provider's account, and nothing secret."""

    operation: Operation
    idempotency_key: str
    amount: Money | None
    reference: str | None
    # Whether the request can be sent again as it was (a token or redirect source, or a
    # modification); a raw card is never stored, so such an authorize can only be settled by
    # reading.
    replayable: bool
    source: Mapping[str, object] | None = None
    # Every parameter of the canonical request (``OperationRequest``, as JSON) but the payment
    # source, which ``source`` describes without card data; None on an entry written before
    # paygate kept them (it is then never sent again).
    request: Mapping[str, object] | None = None
    # SHA-256 of the request as it went out (method, path, body; not the host or headers): a
    # repeat is sent only if it rebuilds to the same digest. None when the body held card data.
    body_digest: str | None = None
    # The call's idempotency fingerprint, as the caller asked (before paygate filled an amount
    # in from the record): a repeat is the same call to the idempotency store too.
    fingerprint: str | None = None


class UnknownOperation(_Call):
    """A call whose outcome is unknown: kept until the provider's own account settles it."""

    attempts: int = 0
    since: datetime
    next_check_at: datetime
    reason: str | None = None  # why it is unknown, or why the last check did not settle it
    # Set when a check was refused by something other than the provider's account of the
    # call (authentication, a foreign answer, a conflicting key): a person should look.
    escalated: bool = False


class Intent(_Call):
    """A mutating call written down before its request leaves: from then on a crash, a
    cancellation or any exception leaves it on the record, as an unknown once ``lease_until``
    has passed. Its outcome's record change clears it, in the same transaction."""

    provider: str
    record_id: str | None  # the record an authorize or purchase will start (named by its key)
    payment_id: str | None  # the payment a capture, void or refund is about
    since: datetime
    lease_until: datetime

    def as_unknown(self, next_check_at: datetime, reason: str) -> UnknownOperation:
        """The unknown outcome this intent leaves when its call ended without an outcome."""
        call = {name: getattr(self, name) for name in _Call.model_fields}
        return UnknownOperation(
            **call, since=self.since, next_check_at=next_check_at, reason=reason
        )


class PaymentRecord(_Frozen):
    """What paygate knows about one payment. Built and changed only through ``paygate.records``."""

    record_id: str
    provider: str
    payment_id: str | None  # the provider's id; None until the provider has answered
    reference: str | None
    # The caller's description and metadata, as the payment was created with them.
    description: str | None = None
    metadata: Mapping[str, str] = {}
    # Asked as a purchase (captured with its authorization): what completing a shopper's
    # action settles it as.
    purchase: bool = False
    status: PaymentStatus
    amount: Money  # what was asked for
    # The provider's own cumulative figures, as last reported (never lowered).
    reported_authorized: Money
    reported_captured: Money
    reported_refunded: Money
    pre_authorization: PaymentStatus = S.PENDING  # UNKNOWN, PENDING or REQUIRES_ACTION
    voided: bool = False
    failed: bool = False
    disputed: bool = False
    # The dispute (the provider's id for it) of the last dispute event applied, and the latest
    # time a dispute event applied happened: what tells a late, older dispute event (None in a
    # record stored before they were kept).
    dispute_id: str | None = None
    dispute_at: datetime | None = None
    modifications: tuple[Modification, ...] = ()
    unknown: tuple[UnknownOperation, ...] = ()
    # ``operation:key`` of the latest calls whose answers this record took: a repeat of one
    # of them under its key is a replay, sent to the provider whatever the record says now.
    applied_keys: tuple[str, ...] = ()
    created_at: datetime
    updated_at: datetime

    @property
    def currency(self) -> str:
        return self.amount.currency

    def __repr__(self) -> str:
        """One line: whose payment, where it stands (what moved, when anything did), and how
        many of its calls have an unknown outcome."""
        moved = [
            f", {name} {amount.amount}"  # in the record's currency
            for name, amount in (
                ("captured", self.amount_captured),
                ("refunded", self.amount_refunded),
            )
            if amount.amount
        ]
        unknown = f", {len(self.unknown)} unknown" if self.unknown else ""
        return (
            f"paygate.PaymentRecord({self.record_id}, {self.provider} {self.payment_id}, "
            f"{self.status.value}, {self.amount}{''.join(moved)}{unknown})"
        )

    __str__ = __repr__

    def _sum(self, operation: Operation, *statuses: ModificationStatus) -> Money:
        total = Money.zero(self.currency)
        for m in self.modifications:
            if m.operation is operation and m.status in statuses and m.amount is not None:
                total = total + m.amount
        return total

    @property
    def amount_authorized(self) -> Money:
        return self.reported_authorized

    @property
    def amount_captured(self) -> Money:
        if not self.modifications and self.reported_captured.amount >= 0:
            return self.reported_captured  # nothing of its own to add to the provider's figure
        return max(
            self.reported_captured, self._sum(Operation.CAPTURE, ModificationStatus.SUCCEEDED)
        )

    @property
    def amount_refunded(self) -> Money:
        if not self.modifications and self.reported_refunded.amount >= 0:
            return self.reported_refunded
        return max(
            self.reported_refunded, self._sum(Operation.REFUND, ModificationStatus.SUCCEEDED)
        )

    @property
    def pending_captures(self) -> Money:
        return self._sum(Operation.CAPTURE, ModificationStatus.RECEIVED)

    @property
    def pending_refunds(self) -> Money:
        return self._sum(Operation.REFUND, ModificationStatus.RECEIVED)

    def pending(self) -> Operation | None:
        """The capture or void the provider has received and not yet confirmed, if any."""
        for m in self.modifications:
            if m.status is ModificationStatus.RECEIVED and m.operation is not Operation.REFUND:
                return m.operation
        return None

    def modification(self, modification_id: str) -> Modification | None:
        return next((m for m in self.modifications if m.id == modification_id), None)


def derive_status(record: PaymentRecord) -> PaymentStatus:
    """The status the record's facts add up to."""
    return status_of(
        voided=record.voided,
        failed=record.failed,
        captured=record.amount_captured,
        refunded=record.amount_refunded,
        authorized=record.amount_authorized,
        pre_authorization=record.pre_authorization,
    )


def status_of(
    *,
    voided: bool,
    failed: bool,
    captured: Money,
    refunded: Money,
    authorized: Money,
    pre_authorization: PaymentStatus,
) -> PaymentStatus:
    """The status these facts add up to (a record's, or a new record's before it is built)."""
    # A void or failure reported for a payment that has moved on derives a status the table
    # then refuses (captured → voided): the report is kept in the trail, the record is not moved.
    if voided:
        return S.VOIDED
    if failed:
        return S.FAILED
    if refunded:
        return S.REFUNDED if refunded >= captured else S.PARTIALLY_REFUNDED
    if captured:
        return S.CAPTURED if captured >= authorized else S.PARTIALLY_CAPTURED
    if authorized:
        return S.AUTHORIZED
    return pre_authorization


def now_utc() -> datetime:
    return datetime.now(UTC)
