"""Adyen Standard webhooks, sans-IO: verify every item's HMAC signature, then read the items.

**Delivery.** The body is a ``NotificationRequest``: ``{"live": "false", "notificationItems":
[{"NotificationRequestItem": {...}}, ...]}``. Each item is signed on its own and carries its
signature in ``additionalData.hmacSignature``; no header is involved.

**Signature.** HMAC-SHA256, keyed with the hex-*decoded* HMAC key from the Customer Area, over
eight of the item's fields joined by ``:`` in a fixed order (``SIGNED_FIELDS``); a missing field
is an empty string, nothing is escaped (a ``:`` inside a reference stays as it is), and the
integer amount is written in decimal. The signature is the base64 of the digest. It is compared
in constant time. ``additionalData`` is not signed: paygate reads from it only the signature
and, for ``CANCEL_OR_REFUND``, which of the two Adyen did (a hint that can only choose between
the two outcomes of an item whose signed fields are genuine).

**All or nothing.** One item that fails verification refuses the whole delivery: nothing in it
is applied, and Adyen delivers it again later. A body paygate cannot read is refused as
malformed. Neither message names the key or a signature.

**No timestamp.** Adyen does not sign a time, so there is no tolerance window: a replayed
delivery verifies, and the gateway's deduplication by ``event_id`` (Adyen's own key: the
item's pspReference, eventCode and success) is what makes a replay harmless.

**Events.** ``EVENT_TYPES`` gives, per eventCode, what a successful and an unsuccessful item
mean. In a modification's item ``pspReference`` is the modification and ``originalReference``
the payment; in an authorisation's there is no ``originalReference``.

**Values paygate does not know.** A verified item is never refused for a value paygate does
not know, since one refused item holds up its whole batch and Adyen sends it again for days. An
eventCode the table does not list, a ``success`` that is neither true nor false (kept as sent
in ``WebhookEvent.provider_status``), a CANCEL_OR_REFUND action other than cancel or refund,
and an amount paygate cannot hold (a currency Adyen does not take here; CLP hundredths that
are not whole pesos, since Adyen writes CLP with two decimals) make the item
``EventType.OTHER``: acknowledged and applied to nothing, never read as an outcome.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from pydantic import AwareDatetime, SecretStr, TypeAdapter, ValidationError
from pydantic_core import TzInfo

from paygate.adapters.adyen._constants import PROVIDER, money
from paygate.adapters.adyen._wire import NotificationItemWire, NotificationRequestWire
from paygate.adapters.base import event_amount
from paygate.errors import ConfigurationError, ErrorCode, InvalidWebhookError
from paygate.models import EventType, WebhookEvent

__all__ = [
    "CANCEL_OR_REFUND_ACTIONS",
    "EVENT_TYPES",
    "SIGNED_FIELDS",
    "decode_hmac_key",
    "event_type_for",
    "parse_webhook",
    "read_notification",
    "sign",
    "signing_string",
    "verify_item",
]

# -- constants ---------------------------------------------------------------------------------
SIGNED_FIELDS: Final = (
    "pspReference",
    "originalReference",
    "merchantAccountCode",
    "merchantReference",
    "amount.value",
    "amount.currency",
    "eventCode",
    "success",
)
_SIGNATURE_KEY: Final = "hmacSignature"  # in the item's additionalData
_ACTION_KEY: Final = "modification.action"  # in a CANCEL_OR_REFUND item's additionalData
_UTC: Final = TzInfo(0)
_EVENT_DATE: Final[TypeAdapter[AwareDatetime]] = TypeAdapter(AwareDatetime)

# -- tables ------------------------------------------------------------------------------------
_E = EventType
# (what a successful item means, what an unsuccessful one means) → the eventCodes that mean it.
_EVENT_GROUPS: Final[tuple[tuple[tuple[EventType, EventType], tuple[str, ...]], ...]] = (
    ((_E.AUTHORIZED, _E.FAILED), ("AUTHORISATION",)),
    ((_E.CAPTURED, _E.CAPTURE_FAILED), ("CAPTURE",)),
    # A capture the scheme rejected after it was confirmed.
    ((_E.CAPTURE_FAILED, _E.CAPTURE_FAILED), ("CAPTURE_FAILED",)),
    ((_E.VOIDED, _E.VOID_FAILED), ("CANCELLATION", "TECHNICAL_CANCEL")),
    ((_E.REFUNDED, _E.REFUND_FAILED), ("REFUND",)),
    # A refund that failed, or was reversed (returned by the scheme), after it was confirmed.
    ((_E.REFUND_FAILED, _E.REFUND_FAILED), ("REFUNDED_REVERSED", "REFUND_FAILED")),
    # The uncaptured remainder of an authorisation expired: released, as by a void.
    ((_E.VOIDED, _E.OTHER), ("EXPIRE",)),
    ((_E.CHARGEBACK, _E.CHARGEBACK), (
        "CHARGEBACK", "NOTIFICATION_OF_CHARGEBACK", "SECOND_CHARGEBACK",
    )),
    ((_E.CHARGEBACK_REVERSED, _E.CHARGEBACK_REVERSED), ("CHARGEBACK_REVERSED",)),
    # Verified, acknowledged, applied to nothing. CANCEL_OR_REFUND is refined by its action
    # (CANCEL_OR_REFUND_ACTIONS); without one it stays here. The rest are disputes' paperwork,
    # fraud and review notices, payouts, reports, orders, recurring contracts, unreferenced
    # refunds and amount adjustments, none of which moves a payment paygate made.
    ((_E.OTHER, _E.OTHER), (
        "ACH_NOTIFICATION_OF_CHANGE", "AUTHENTICATION", "AUTHORISATION_ADJUSTMENT",
        "AUTORESCUE", "CANCEL_AUTORESCUE", "CANCEL_OR_REFUND",
        "DIRECT_DEBIT_NOTICE_OF_CHANGE_NOTIFICATION", "DISPUTE_DEFENSE_PERIOD_ENDED",
        "HANDLED_EXTERNALLY", "INFORMATION_SUPPLIED", "ISSUER_COMMENTS",
        "ISSUER_RESPONSE_TIMEFRAME_EXPIRED", "MANUAL_REVIEW_ACCEPT", "MANUAL_REVIEW_REJECT",
        "NOTIFICATION_OF_FRAUD", "OFFER_CLOSED", "ORDER_CLOSED", "ORDER_OPENED",
        "PAIDOUT_REVERSED", "PAYOUT_DECLINE", "PAYOUT_EXPIRE", "PAYOUT_THIRDPARTY",
        "POSTPONED_REFUND", "PREARBITRATION_ACCEPTED", "PREARBITRATION_DECLINED",
        "PREARBITRATION_ISSUER_WITHDRAWN", "PREARBITRATION_LOST", "PREARBITRATION_OPEN",
        "PREARBITRATION_WON", "RECURRING_CONTRACT", "REFUND_WITH_DATA", "REPORT_AVAILABLE",
        "REQUEST_FOR_INFORMATION", "SCHEME_ARBITRATION", "SCHEME_ARBITRATION_LOST",
        "SCHEME_ARBITRATION_WON", "VOID_PENDING_REFUND",
    )),
)  # fmt: skip

EVENT_TYPES: Final[Mapping[str, tuple[EventType, EventType]]] = MappingProxyType(
    {code: outcomes for outcomes, codes in _EVENT_GROUPS for code in codes}
)

# CANCEL_OR_REFUND (the answer to /reversals) says in additionalData which it did: a cancel of
# an authorisation not yet captured, or a refund of a captured one. paygate never sends
# /reversals, but a payment it made may be reversed from the Customer Area.
CANCEL_OR_REFUND_ACTIONS: Final[Mapping[str, tuple[EventType, EventType]]] = MappingProxyType(
    {"cancel": (_E.VOIDED, _E.VOID_FAILED), "refund": (_E.REFUNDED, _E.REFUND_FAILED)}
)

_FAILURES: Final = frozenset({_E.FAILED, _E.CAPTURE_FAILED, _E.VOID_FAILED, _E.REFUND_FAILED})
# An item's success flag, in any casing and spacing.
_SUCCESS: Final[Mapping[str, bool]] = MappingProxyType({"true": True, "false": False})


def event_type_for(event_code: str, success: bool, action: str | None = None) -> EventType:
    """What an item means; ``EventType.OTHER`` for an eventCode the table does not list."""
    outcomes = EVENT_TYPES.get(event_code, (_E.OTHER, _E.OTHER))
    if event_code == "CANCEL_OR_REFUND" and action is not None:
        outcomes = CANCEL_OR_REFUND_ACTIONS.get(action.strip().casefold(), outcomes)
    return outcomes[0] if success else outcomes[1]


# -- webhook verification ----------------------------------------------------------------------
def parse_webhook(body: bytes, *, hmac_key: SecretStr | None) -> list[WebhookEvent]:
    """Verify every item's HMAC signature with ``hmac_key`` (any failure refuses the whole
    delivery), then read the items. Without a key every delivery is refused: an unsigned
    notification is never trusted."""
    if hmac_key is None:
        raise InvalidWebhookError(
            "no Adyen HMAC key is configured, and an unsigned notification is never "
            "trusted: pass hmac_key (the hex key from the Customer Area) to the adapter",
            code=ErrorCode.WEBHOOK_SIGNATURE_INVALID,
            provider=PROVIDER,
        )
    return read_notification(body, decode_hmac_key(hmac_key))


def decode_hmac_key(key: SecretStr) -> bytes:
    """The HMAC key as bytes (it is given hex-encoded). ``ConfigurationError`` (a
    ``ValueError``) for a key that is not one, whose message never echoes it.

    Whitespace anywhere in the key is refused, never cleaned: ``bytes.fromhex`` would skip it
    silently, and a key pasted with a space or a line break in it is one the operator should
    look at again (a key cut short or run into the next line signs nothing Adyen sent)."""
    text = key.get_secret_value()
    if any(char.isspace() for char in text):
        raise _key_error(
            "has whitespace in it (a space, tab or line break): give the hex string from the "
            "Customer Area exactly, with nothing around or inside it"
        )
    try:
        decoded = bytes.fromhex(text)
    except ValueError:
        raise _key_error("must be the hex string from the Customer Area") from None
    if not decoded:
        raise _key_error("is empty")
    return decoded


def _key_error(problem: str) -> ConfigurationError:
    return ConfigurationError(
        f"the Adyen HMAC key (hmac_key, PAYGATE_ADYEN__HMAC_KEY) {problem}; "
        "the key is not repeated here"
    )


def signing_string(item: Mapping[str, Any]) -> str:
    """The text Adyen signs for one NotificationRequestItem, read from the item as sent."""
    return ":".join(_signed_value(item, field) for field in SIGNED_FIELDS)


def _signed_value(item: Mapping[str, Any], path: str) -> str:
    value: Any = item
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return "" if value is None else str(value)


def sign(item: Mapping[str, Any], key: bytes) -> str:
    """The base64 HMAC-SHA256 signature of one item under the decoded ``key``."""
    digest = hmac.new(key, signing_string(item).encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_item(item: Mapping[str, Any], key: bytes) -> bool:
    """Whether the item's ``additionalData.hmacSignature`` is the one ``key`` gives. A missing,
    non-text or otherwise broken signature is simply not valid; nothing here raises."""
    additional = item.get("additionalData")
    given = additional.get(_SIGNATURE_KEY) if isinstance(additional, Mapping) else None
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(sign(item, key).encode("ascii"), given.encode("utf-8", "replace"))


# -- webhook parsing ---------------------------------------------------------------------------
def read_notification(body: bytes, key: bytes) -> list[WebhookEvent]:
    """Verify every item of a delivery with ``key``, then return their canonical events.

    Raises ``InvalidWebhookError``: ``webhook_malformed`` for a body that is not a
    NotificationRequest, ``webhook_signature_invalid`` when any item's signature fails.
    """
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        raise _malformed("the body is not JSON") from None
    try:
        request = NotificationRequestWire.model_validate(decoded)
    except ValidationError as exc:
        raise _malformed(f"the body is not a NotificationRequest ({_fields(exc)})") from None
    items = [wrapper.NotificationRequestItem for wrapper in request.notificationItems]
    for index, item in enumerate(items, start=1):
        if not verify_item(item, key):
            raise InvalidWebhookError(
                f"notification item {index} of {len(items)} failed HMAC verification; "
                "nothing in this delivery was applied",
                code=ErrorCode.WEBHOOK_SIGNATURE_INVALID,
                provider=PROVIDER,
            )
    return [_event(item, index) for index, item in enumerate(items, start=1)]


def _event(raw: Mapping[str, Any], index: int) -> WebhookEvent:
    try:
        item = NotificationItemWire.model_validate(raw)
    except ValidationError as exc:
        raise _malformed(f"notification item {index} broke the schema at: {_fields(exc)}") from None
    success = _SUCCESS.get(item.success.strip().casefold())
    additional = item.additionalData or {}
    action = additional.get(_ACTION_KEY)
    kind = _E.OTHER  # a success flag paygate does not know: never an outcome
    if success is not None:
        kind = event_type_for(item.eventCode, success, action if isinstance(action, str) else None)
    amount = None
    if item.amount is not None:
        amount = event_amount(money, item.amount.value, item.amount.currency)
        if amount is None:
            kind = _E.OTHER  # an amount paygate cannot hold: about no payment of its own
    original = item.originalReference or None  # some senders write "" for "none"
    flag = item.success if success is None else ("true" if success else "false")
    return WebhookEvent(
        provider=PROVIDER,
        event_id=f"{item.pspReference}:{item.eventCode}:{flag}",
        type=kind,
        provider_type=item.eventCode,
        payment_id=original or item.pspReference,
        reference=item.merchantReference or None,
        amount=amount,
        modification_id=item.pspReference if original else None,
        occurred_at=_occurred_at(item.eventDate),
        # On success the field carries other things (auth code and card summary, a report URL).
        reason=item.reason if kind in _FAILURES or success is False else None,
        provider_status=item.success,
    )


def _occurred_at(event_date: str | None) -> AwareDatetime | None:
    """``eventDate`` (ISO 8601 with an offset) in UTC. It is not signed: a date that does not
    parse is dropped rather than allowed to hold up a verified event."""
    if event_date is None:
        return None
    try:
        return _EVENT_DATE.validate_python(event_date).astimezone(_UTC)
    except ValidationError:
        return None


def _fields(exc: ValidationError) -> str:
    return ", ".join(".".join(str(p) for p in e["loc"]) or "<root>" for e in exc.errors())


def _malformed(message: str) -> InvalidWebhookError:
    return InvalidWebhookError(message, code=ErrorCode.WEBHOOK_MALFORMED, provider=PROVIDER)
