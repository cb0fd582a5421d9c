"""Stripe webhooks, sans-IO: verify a delivery's ``Stripe-Signature``, then read its event.

**Signature.** The header is ``t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=<hex>]``. A v1 value
is the lowercase hex HMAC-SHA256 of ``b"<t>." + <raw body>``, keyed with the whole ``whsec_...``
secret as UTF-8 bytes (nothing is decoded). While a secret is being rolled Stripe sends one v1
per secret, so one match is enough; other schemes (v0, the legacy test-mode one) are ignored.

**Order of checks.** The signature is checked first, the age second. A sender without the
secret then learns nothing but "invalid", whatever timestamp it tries: it cannot probe the
tolerance window or the receiver's clock. Only a delivery Stripe really signed can come back as
stale, which tells the operator something true (a replay, or a clock out of step).

**Only the age is checked**, as every official Stripe library does (stripe-python's
``WebhookSignature.verify_header``: ``timestamp < now - tolerance`` is refused): a timestamp
more than ``tolerance`` seconds before ``now`` is stale; one after ``now`` is accepted however
far ahead. Only Stripe can sign a timestamp, so one from the future says this machine's clock is
behind Stripe's, not that the delivery is forged; refusing it would turn a slow clock into
events lost while Stripe resends them for days. The replay guard is the age check, and
the gateway's deduplication by event id behind it.

**Events.** A Stripe delivery carries one event. ``EVENT_RULES`` says, per Stripe event type,
which object ``data.object`` is and what the event means in canonical terms: fixed, or chosen
by that object's status from a table. An event type the table does not list is
``EventType.OTHER``.

**Values paygate does not know.** Stripe adds enum values without a new API version (dispute
statuses ``appeal_needs_response``, ``appeal_under_review``, ``prevented`` came after the
2023-08-16 spec paygate reads). A status no table of the object's kind lists, a refund without
a status (the spec lets it be null), and an amount paygate cannot hold (a currency Stripe does
not take here, an ISK or UGX amount off its step) make the event ``EventType.OTHER``: verified,
acknowledged and applied to nothing, never guessed as an outcome. The status is kept as sent
in ``WebhookEvent.provider_status``. Refusing the delivery instead would not help: Stripe would
send the same event again for days. Only a status that contradicts its event (a dispute closed
while it ``needs_response``) is refused as malformed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from paygate.adapters.base import event_amount
from paygate.adapters.stripe._constants import PROVIDER, REFERENCE_KEY, money
from paygate.adapters.stripe._wire import (
    DisputeWire,
    EventChargeWire,
    EventObjectWire,
    EventWire,
    PaymentIntentWire,
    RefundWire,
)
from paygate.errors import ErrorCode, InvalidWebhookError
from paygate.models import EventType, WebhookEvent
from paygate.money import Money

__all__ = [
    "DEFAULT_TOLERANCE",
    "DISPUTE_CLOSED",
    "DISPUTE_OPENED",
    "EVENT_RULES",
    "KNOWN_STATUSES",
    "REFUND_EVENTS",
    "SIGNATURE_HEADER",
    "EventObject",
    "EventRule",
    "parse_webhook",
    "read_events",
    "verify_signature",
]

W = TypeVar("W", bound=BaseModel)

# -- constants ---------------------------------------------------------------------------------
SIGNATURE_HEADER: Final = "Stripe-Signature"
_SCHEME: Final = "v1"
DEFAULT_TOLERANCE: Final = 300.0  # seconds, Stripe's own default
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}")


# -- tables ------------------------------------------------------------------------------------
class EventObject(StrEnum):
    """The kind of object an event's ``data.object`` is, for the types paygate reads."""

    PAYMENT_INTENT = "payment_intent"
    REFUND = "refund"
    CHARGE = "charge"
    DISPUTE = "dispute"


# Which of the object's amount fields the event is about.
AmountField = Literal["amount", "amount_capturable", "amount_received"]


@dataclass(frozen=True, slots=True)
class EventRule:
    """What one Stripe event type means: the object it carries, the canonical event (fixed, or
    by the object's status), and which amount of the object it is about."""

    carries: EventObject
    outcome: EventType | Mapping[str, EventType]
    amount: AmountField | None = None


# A refund's status → what its event means. Pending and requires_action refunds have not moved
# money yet; their later refund.updated carries the outcome.
REFUND_EVENTS: Final[Mapping[str, EventType]] = MappingProxyType(
    {
        "pending": EventType.OTHER,
        "requires_action": EventType.OTHER,
        "succeeded": EventType.REFUNDED,
        "failed": EventType.REFUND_FAILED,
        "canceled": EventType.REFUND_FAILED,
    }
)

# charge.dispute.created, by the dispute's status. The warning_* statuses are inquiries
# (retrieval requests): no funds are withdrawn, so they are not chargebacks.
DISPUTE_OPENED: Final[Mapping[str, EventType]] = MappingProxyType(
    {
        "needs_response": EventType.CHARGEBACK,
        "under_review": EventType.CHARGEBACK,
        "lost": EventType.CHARGEBACK,
        "won": EventType.OTHER,
        "warning_needs_response": EventType.OTHER,
        "warning_under_review": EventType.OTHER,
        "warning_closed": EventType.OTHER,
    }
)

# charge.dispute.closed, by the dispute's status. Only a won dispute gives the funds back; a
# closed event with an open status is contradictory and refused.
DISPUTE_CLOSED: Final[Mapping[str, EventType]] = MappingProxyType(
    {
        "won": EventType.CHARGEBACK_REVERSED,
        "lost": EventType.OTHER,
        "warning_closed": EventType.OTHER,
    }
)

_REFUND_RULE: Final = EventRule(EventObject.REFUND, REFUND_EVENTS, "amount")

# Every status paygate knows, per kind of object: one of them that its event's table does not
# list contradicts the event; any other is newer than paygate.
KNOWN_STATUSES: Final[Mapping[EventObject, frozenset[str]]] = MappingProxyType(
    {
        EventObject.REFUND: frozenset(REFUND_EVENTS),
        EventObject.DISPUTE: frozenset(DISPUTE_OPENED) | frozenset(DISPUTE_CLOSED),
    }
)

EVENT_RULES: Final[Mapping[str, EventRule]] = MappingProxyType(
    {
        "payment_intent.amount_capturable_updated": EventRule(
            EventObject.PAYMENT_INTENT, EventType.AUTHORIZED, "amount_capturable"
        ),
        "payment_intent.succeeded": EventRule(
            EventObject.PAYMENT_INTENT, EventType.CAPTURED, "amount_received"
        ),
        "payment_intent.payment_failed": EventRule(
            EventObject.PAYMENT_INTENT, EventType.FAILED, "amount"
        ),
        "payment_intent.canceled": EventRule(
            EventObject.PAYMENT_INTENT, EventType.VOIDED, "amount"
        ),
        # Each refund reports itself, whichever name the event goes by (charge.refund.updated is
        # the older name of refund.updated, and Stripe may send both for one change).
        "refund.created": _REFUND_RULE,
        "refund.updated": _REFUND_RULE,
        "refund.failed": _REFUND_RULE,
        "charge.refund.updated": _REFUND_RULE,
        # charge.refunded carries the charge with its *cumulative* amount_refunded, while every
        # refund also arrives on its own through the refund events above. Applying both would
        # count each refund twice, so the charge-level event is applied to nothing.
        "charge.refunded": EventRule(EventObject.CHARGE, EventType.OTHER),
        # Sent alongside payment_intent.succeeded, which carries the capture.
        "charge.captured": EventRule(EventObject.CHARGE, EventType.OTHER),
        "charge.dispute.created": EventRule(EventObject.DISPUTE, DISPUTE_OPENED, "amount"),
        "charge.dispute.closed": EventRule(EventObject.DISPUTE, DISPUTE_CLOSED, "amount"),
    }
)


# -- webhook verification ----------------------------------------------------------------------
def parse_webhook(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: SecretStr | None,
    now: float,
    tolerance: float,
) -> list[WebhookEvent]:
    """Verify a delivery's ``Stripe-Signature`` (signature first, then its age), then read
    its one event. Without a ``secret`` every delivery is refused: an unsigned delivery is
    never trusted."""
    if secret is None:
        raise InvalidWebhookError(
            "no Stripe webhook secret is configured, and an unsigned delivery is never "
            "trusted: pass webhook_secret (whsec_...) to the adapter",
            code=ErrorCode.WEBHOOK_SIGNATURE_INVALID,
            provider=PROVIDER,
        )
    verify_signature(headers, body, secret=secret, now=now, tolerance=tolerance)
    return read_events(body)


def verify_signature(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: SecretStr,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> None:
    """Accept a delivery Stripe signed with ``secret`` no more than ``tolerance`` seconds
    before ``now`` (a timestamp after ``now`` is accepted); raise ``InvalidWebhookError``
    (signature invalid, or stale) otherwise."""
    timestamp, signatures = _parse_header(_signature_header(headers))
    expected = _signature(secret, timestamp, body)
    # Every candidate is compared in constant time; which one matched says nothing secret.
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise _invalid("no v1 signature in the Stripe-Signature header matches this body")
    age = now - timestamp
    if age > tolerance:
        raise InvalidWebhookError(
            f"the Stripe-Signature timestamp is {age:.0f} s old, "
            f"outside the {tolerance:g} s tolerance",
            code=ErrorCode.WEBHOOK_STALE,
            provider=PROVIDER,
        )


def _signature_header(headers: Mapping[str, str]) -> str:
    wanted = SIGNATURE_HEADER.lower()
    values = [value for name, value in headers.items() if name.lower() == wanted]
    if not values:
        raise _invalid("the Stripe-Signature header is missing")
    if len(values) > 1:
        raise _invalid("the Stripe-Signature header was sent more than once")
    return values[0]


def _parse_header(header: str) -> tuple[int, list[bytes]]:
    timestamp: int | None = None
    signatures: list[bytes] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            if timestamp is not None or not _TIMESTAMP.fullmatch(value):
                raise _invalid("the Stripe-Signature header has no single, numeric timestamp")
            timestamp = int(value)
        elif key == _SCHEME:
            signatures.append(value.encode("utf-8", "replace"))
    if timestamp is None:
        raise _invalid("the Stripe-Signature header has no timestamp")
    if not signatures:
        raise _invalid("the Stripe-Signature header has no v1 signature")
    return timestamp, signatures


def _signature(secret: SecretStr, timestamp: int, body: bytes) -> bytes:
    key = secret.get_secret_value().encode("utf-8")
    signed = f"{timestamp}.".encode() + body  # the raw body, never re-serialized
    return hmac.new(key, signed, hashlib.sha256).hexdigest().encode("ascii")


def _invalid(message: str) -> InvalidWebhookError:
    return InvalidWebhookError(message, code=ErrorCode.WEBHOOK_SIGNATURE_INVALID, provider=PROVIDER)


# -- webhook parsing ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Subject:
    """What an event's object says about the payment, read from its validated wire model."""

    wire: BaseModel
    payment_id: str | None
    status: str | None = None
    currency: str | None = None
    reference: str | None = None
    modification_id: str | None = None
    reason: str | None = None


def read_events(body: bytes) -> list[WebhookEvent]:
    """The canonical events of a verified delivery's body (one, for Stripe); a body paygate
    cannot read raises ``InvalidWebhookError`` with code ``webhook_malformed``."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        raise _malformed("the body is not JSON") from None
    event = _validate(EventWire, decoded, "event")
    rule = EVENT_RULES.get(event.type)
    if rule is None:
        return [_build(event, EventType.OTHER, _loose(event))]
    subject = _subject(rule.carries, event)
    outcome = _outcome(event, rule, subject)
    amount = None
    if rule.amount is not None:
        minor: int | None = getattr(subject.wire, rule.amount)
        amount = event_amount(money, minor, subject.currency or "") if minor is not None else None
        if amount is None:
            outcome = EventType.OTHER  # no amount paygate can hold: about no payment of its own
    return [_build(event, outcome, subject, amount)]


def _outcome(event: EventWire, rule: EventRule, subject: _Subject) -> EventType:
    """What the event means: its rule's fixed outcome, or the one its object's status gives.
    A status paygate does not know (or none) is ``OTHER``; a known one the event's table does
    not list contradicts the event and is refused."""
    if isinstance(rule.outcome, EventType):
        return rule.outcome
    status = subject.status
    known = rule.outcome.get(status) if status is not None else None
    if known is not None:
        return known
    if status is None or status not in KNOWN_STATUSES.get(rule.carries, frozenset()):
        return EventType.OTHER
    raise _malformed(
        f"a {event.type} event whose {rule.carries.value} has the status {status!r}, which "
        "contradicts the event",
        payment_id=subject.payment_id,
    )


def _subject(kind: EventObject, event: EventWire) -> _Subject:
    data = event.data.object
    match kind:
        case EventObject.PAYMENT_INTENT:
            intent = _validate(PaymentIntentWire, data, "payment_intent")
            error = intent.last_payment_error
            return _Subject(
                intent,
                intent.id,
                intent.status,
                intent.currency,
                reference=intent.metadata.get(REFERENCE_KEY),
                reason=(error.decline_code or error.code) if error else None,
            )
        case EventObject.REFUND:
            # The refund's own metadata reference names the refund, not the payment.
            refund = _validate(RefundWire, data, "refund")
            return _Subject(
                refund,
                refund.payment_intent,
                refund.status,
                refund.currency,
                modification_id=refund.id,
            )
        case EventObject.CHARGE:
            charge = _validate(EventChargeWire, data, "charge")
            return _Subject(charge, charge.payment_intent)
        case EventObject.DISPUTE:
            dispute = _validate(DisputeWire, data, "dispute")
            return _Subject(
                dispute,
                dispute.payment_intent,
                dispute.status,
                dispute.currency,
                modification_id=dispute.id,
            )


def _loose(event: EventWire) -> _Subject:
    """An event paygate applies to nothing: the payment it names, when it names one."""
    found = _validate(EventObjectWire, event.data.object, "object")
    status = found.status if isinstance(found.status, str) else None
    if found.object == EventObject.PAYMENT_INTENT.value:
        metadata = found.metadata if isinstance(found.metadata, Mapping) else {}
        reference = metadata.get(REFERENCE_KEY)
        return _Subject(
            found,
            found.id,
            status,
            reference=reference if isinstance(reference, str) else None,
        )
    payment = found.payment_intent
    return _Subject(found, payment if isinstance(payment, str) else None, status)


def _build(
    event: EventWire, outcome: EventType, subject: _Subject, amount: Money | None = None
) -> WebhookEvent:
    return WebhookEvent.model_validate(
        {
            "provider": PROVIDER,
            "event_id": event.id,
            "type": outcome,
            "provider_type": event.type,
            "payment_id": subject.payment_id,
            "reference": subject.reference,
            "amount": amount,
            "modification_id": subject.modification_id,
            "occurred_at": event.created,  # Unix seconds → an aware UTC datetime
            "reason": subject.reason,
            "provider_status": subject.status,
        }
    )


def _validate(model: type[W], value: object, what: str) -> W:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "<root>" for e in exc.errors())
        raise _malformed(f"the {what} in the body broke the expected schema at: {fields}") from None


def _malformed(message: str, *, payment_id: str | None = None) -> InvalidWebhookError:
    return InvalidWebhookError(
        message, code=ErrorCode.WEBHOOK_MALFORMED, provider=PROVIDER, payment_id=payment_id
    )
