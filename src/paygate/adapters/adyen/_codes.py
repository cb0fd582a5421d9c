"""Adyen's result codes, refusals and errors mapped onto paygate's vocabulary, as data.

A declined payment is not an HTTP error on Adyen: ``POST /payments`` answers 200 with
``resultCode`` Refused / Error / Cancelled and a ``refusalReasonCode`` (with its text in
``refusalReason``). A request Adyen would not process answers 4xx/5xx with a ``ServiceError``
whose ``errorCode`` is a string. One table per field:

``ResultCode`` / ``RESULT_STATUS`` / ``DECLINE_FALLBACK``
    ``resultCode`` (exactly the spec's enum) → ``PaymentStatus``, total; a failed one is a
    decline, whose reason is its refusal code's, else ``DECLINE_FALLBACK``'s.
``MODIFICATION_PATHS`` / ``REFUND_REASONS``
    The endpoint of each modification, and ``RefundRequest.reason`` → ``merchantRefundReason``.
``REFUSALS`` / ``REFUSAL_CODES`` / ``REFUSAL_TEXTS``
    ``refusalReasonCode`` (and, when a response carries only the text, ``refusalReason``) →
    ``DeclineReason``, for every refusal reason Adyen documents. Codes 0, 1 and 13 are not
    refusals (unknown, authorised, received) and are absent. A code nobody has seen yet is
    ``UNKNOWN``, never a guess.
``ADVICE_CODES``
    Mastercard's merchant advice code (``additionalData.merchantAdviceCode``, sent as
    ``"03"`` or ``"03: Do not try again"``) → ``RetryAdvice``; it wins over the reason's
    default advice (``paygate.adapters.base.REASON_ADVICE``, shared by every adapter).
``ERROR_CODES``
    ``errorCode`` → ``ErrorCode``. ``000`` is absent on purpose: Adyen uses it for unrelated
    failures (bad credentials, an unparsable message, a lookup that found nothing), so the HTTP
    status decides (``GENERIC_ERROR_CODES``, ``STATUS_CODES``). A validation error about the
    card data itself (101 invalid card number, 102 unrecognised card number, 103 CVC length,
    129 expiry date) is a decline, as the same mistake is on Stripe: the customer must correct
    the card details, and a caller handles it in one place whichever provider answered.
``CODE_REASONS``
    ``errorCode`` → ``DeclineReason``, for those card-data codes.
``STATUS_CODES``
    HTTP status → ``ErrorCode``: for a ``000``, an ``errorCode`` not in ``ERROR_CODES``, or a
    body that is not a ``ServiceError`` at all (a proxy's HTML page).

Sources: ../shared/providers/README.md ("Adyen errors", "Adyen test data"), the Checkout v71
spec (177, in ``metadata``'s description), and Adyen's published refusal-reason and error-code
lists for the rest. A ``# fmt: skip`` keeps the dense groups one sorted block each.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from paygate.adapters.base import NETWORK_ADVICE, REASON_ADVICE
from paygate.errors import DeclineReason, ErrorCode, RetryAdvice
from paygate.models import Operation, PaymentStatus

__all__ = [
    "ADVICE_CODES",
    "CODE_REASONS",
    "DECLINE_FALLBACK",
    "ERROR_CODES",
    "GENERIC_ERROR_CODES",
    "MODIFICATION_PATHS",
    "REASON_ADVICE",
    "REFUND_REASONS",
    "REFUSALS",
    "REFUSAL_CODES",
    "REFUSAL_TEXTS",
    "RESULT_STATUS",
    "STATUS_CODES",
    "ResultCode",
    "advice_for",
    "decline_reason_for",
    "error_code_for",
]


# -- status tables -----------------------------------------------------------------------------
class ResultCode(StrEnum):
    """``PaymentResponse.resultCode``: exactly the spec's enum."""

    AUTHENTICATION_FINISHED = "AuthenticationFinished"
    AUTHENTICATION_NOT_REQUIRED = "AuthenticationNotRequired"
    AUTHORISED = "Authorised"
    CANCELLED = "Cancelled"
    CHALLENGE_SHOPPER = "ChallengeShopper"
    ERROR = "Error"
    IDENTIFY_SHOPPER = "IdentifyShopper"
    PARTIALLY_AUTHORISED = "PartiallyAuthorised"
    PENDING = "Pending"
    PRESENT_TO_SHOPPER = "PresentToShopper"
    RECEIVED = "Received"
    REDIRECT_SHOPPER = "RedirectShopper"
    REFUSED = "Refused"
    SUCCESS = "Success"


# The canonical status of each result code. An authorised purchase is CAPTURED (Adyen captures
# it without being asked); a FAILED one is reported as a decline (DECLINE_FALLBACK).
RESULT_STATUS: Final[Mapping[ResultCode, PaymentStatus]] = MappingProxyType(
    {
        ResultCode.AUTHORISED: PaymentStatus.AUTHORIZED,
        ResultCode.SUCCESS: PaymentStatus.AUTHORIZED,
        # Authorised for less than asked: the answer's amount says how much, and the gateway's
        # integrity check reports the difference.
        ResultCode.PARTIALLY_AUTHORISED: PaymentStatus.AUTHORIZED,
        ResultCode.REDIRECT_SHOPPER: PaymentStatus.REQUIRES_ACTION,
        ResultCode.IDENTIFY_SHOPPER: PaymentStatus.REQUIRES_ACTION,
        ResultCode.CHALLENGE_SHOPPER: PaymentStatus.REQUIRES_ACTION,
        ResultCode.PRESENT_TO_SHOPPER: PaymentStatus.REQUIRES_ACTION,
        ResultCode.PENDING: PaymentStatus.PENDING,
        ResultCode.RECEIVED: PaymentStatus.PENDING,
        # Authentication-only flows: authenticated, not (yet) authorised.
        ResultCode.AUTHENTICATION_FINISHED: PaymentStatus.PENDING,
        ResultCode.AUTHENTICATION_NOT_REQUIRED: PaymentStatus.PENDING,
        ResultCode.REFUSED: PaymentStatus.FAILED,
        ResultCode.ERROR: PaymentStatus.FAILED,
        ResultCode.CANCELLED: PaymentStatus.FAILED,
    }
)

# The decline reason of a failed result whose refusal code and text name none. Error is a
# processing failure, not an issuer's verdict. Cancelled is final and no money moved: it is a
# decline like the others (a caller that only catches errors cannot mistake it for a payment),
# generic because nobody refused the card, so a new attempt needs the shopper.
DECLINE_FALLBACK: Final[Mapping[ResultCode, DeclineReason]] = MappingProxyType(
    {
        ResultCode.REFUSED: DeclineReason.UNKNOWN,
        ResultCode.ERROR: DeclineReason.PROCESSING_ERROR,
        ResultCode.CANCELLED: DeclineReason.GENERIC,
    }
)

MODIFICATION_PATHS: Final[Mapping[Operation, str]] = MappingProxyType(
    {
        Operation.CAPTURE: "captures",
        Operation.VOID: "cancels",
        Operation.REFUND: "refunds",
    }
)

# RefundRequest.reason → merchantRefundReason (the spec's enum).
REFUND_REASONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "duplicate": "DUPLICATE",
        "fraudulent": "FRAUD",
        "requested_by_customer": "CUSTOMER REQUEST",
    }
)


# -- refusals and errors -----------------------------------------------------------------------
_D = DeclineReason


# (refusalReasonCode, refusalReason as Adyen writes it, normalized reason), in code order.
REFUSALS: Final[tuple[tuple[str, str, DeclineReason], ...]] = (
    ("2", "Refused", _D.GENERIC),
    ("3", "Referral", _D.CALL_ISSUER),
    ("4", "Acquirer Error", _D.PROCESSING_ERROR),
    ("5", "Blocked Card", _D.RESTRICTED_CARD),
    ("6", "Expired Card", _D.EXPIRED_CARD),
    ("7", "Invalid Amount", _D.INVALID_AMOUNT),
    ("8", "Invalid Card Number", _D.INCORRECT_NUMBER),
    ("9", "Issuer Unavailable", _D.ISSUER_UNAVAILABLE),
    ("10", "Not supported", _D.CARD_NOT_SUPPORTED),
    ("11", "3D Not Authenticated", _D.AUTHENTICATION_REQUIRED),
    ("12", "Not enough balance", _D.INSUFFICIENT_FUNDS),
    ("14", "Acquirer Fraud", _D.FRAUD_SUSPECTED),
    # Cancelled by the merchant's side or by the shopper before completion: nobody refused the
    # card, and the next attempt needs the shopper, not an automatic retry.
    ("15", "Cancelled", _D.GENERIC),
    ("16", "Shopper Cancelled", _D.GENERIC),
    ("17", "Invalid Pin", _D.INCORRECT_PIN),
    ("18", "Pin tries exceeded", _D.INCORRECT_PIN),
    ("19", "Pin validation not possible", _D.PROCESSING_ERROR),
    ("20", "FRAUD", _D.FRAUD_SUSPECTED),
    ("21", "Not Submitted", _D.PROCESSING_ERROR),
    ("22", "FRAUD-CANCELLED", _D.FRAUD_SUSPECTED),
    ("23", "Transaction Not Permitted", _D.RESTRICTED_CARD),
    ("24", "CVC Declined", _D.INCORRECT_CVC),
    ("25", "Restricted Card", _D.RESTRICTED_CARD),
    ("26", "Revocation Of Auth", _D.RESTRICTED_CARD),
    # Adyen's bucket for issuer answers it cannot map reliably: a refusal without a reason.
    ("27", "Declined Non Generic", _D.GENERIC),
    ("28", "Withdrawal amount exceeded", _D.LIMIT_EXCEEDED),
    ("29", "Withdrawal count exceeded", _D.LIMIT_EXCEEDED),
    ("31", "Issuer Suspected Fraud", _D.FRAUD_SUSPECTED),
    ("32", "AVS Declined", _D.INCORRECT_ADDRESS),
    ("33", "Card requires online pin", _D.AUTHENTICATION_REQUIRED),
    ("34", "No checking account available on Card", _D.INVALID_ACCOUNT),
    ("35", "No savings account available on card", _D.INVALID_ACCOUNT),
    ("36", "Mobile pin required", _D.AUTHENTICATION_REQUIRED),
    # The card must be presented another way (inserted, not tapped; another application).
    ("37", "Contactless fallback", _D.CARD_NOT_SUPPORTED),
    ("38", "Authentication required", _D.AUTHENTICATION_REQUIRED),
    ("39", "RReq not received from DS", _D.AUTHENTICATION_REQUIRED),
    ("40", "Current AID is in Penalty Box", _D.CARD_NOT_SUPPORTED),
    ("41", "CVM Required Restart Payment", _D.AUTHENTICATION_REQUIRED),
    ("42", "3DS Authentication Error", _D.AUTHENTICATION_REQUIRED),
    ("43", "Online PIN required", _D.AUTHENTICATION_REQUIRED),
    ("44", "Try another interface", _D.CARD_NOT_SUPPORTED),
    ("45", "Chip downgrade mode", _D.CARD_NOT_SUPPORTED),
    # Adyen stops a card's retries before the schemes' excessive-retry fees apply.
    ("46", "Transaction blocked by Adyen to prevent excessive retry fees", _D.LIMIT_EXCEEDED),
)

REFUSAL_CODES: Final[Mapping[str, DeclineReason]] = MappingProxyType(
    {code: reason for code, _, reason in REFUSALS}
)
# Matched case-insensitively, whole text only: a free-text reason is never searched for words.
REFUSAL_TEXTS: Final[Mapping[str, DeclineReason]] = MappingProxyType(
    {text.casefold(): reason for _, text, reason in REFUSALS}
)

# Mastercard merchant advice codes (the two digits before any ": text").
ADVICE_CODES: Final[Mapping[str, RetryAdvice]] = NETWORK_ADVICE  # the networks' own, shared

_ERROR_CODE_GROUPS: Final[tuple[tuple[ErrorCode, tuple[str, ...]], ...]] = (
    (ErrorCode.AMOUNT_INVALID, ("137",)),  # invalid amount specified
    (ErrorCode.CARD_DECLINED, ("101", "102", "103", "129")),
    (ErrorCode.IDEMPOTENCY_IN_FLIGHT, ("704",)),  # request already processed or in progress
    (ErrorCode.INVALID_REQUEST, (
        "100",  # a required field (amount, originalReference) is missing
        "104",  # billing address problem
        "167",  # original pspReference required for this operation
        "177",  # metadata size exceeds limit
    )),
    (ErrorCode.NOT_FOUND, ("800", "803")),  # contract / stored payment detail not found
    (ErrorCode.PERMISSION, ("010", "901")),  # not allowed; invalid merchant account
    (ErrorCode.UNSUPPORTED, ("138", "905")),  # currency; payment details not supported
)  # fmt: skip

ERROR_CODES: Final[Mapping[str, ErrorCode]] = MappingProxyType(
    {name: code for code, names in _ERROR_CODE_GROUPS for name in names}
)
# Codes whose meaning is the HTTP status they come with.
GENERIC_ERROR_CODES: Final = frozenset({"000"})

CODE_REASONS: Final[Mapping[str, DeclineReason]] = MappingProxyType(
    {
        "101": _D.INCORRECT_NUMBER,  # invalid card number
        "102": _D.INCORRECT_NUMBER,  # the number matches no card brand
        "103": _D.INCORRECT_CVC,  # CVC is not the right length
        "129": _D.EXPIRED_CARD,  # expiry date invalid
    }
)

STATUS_CODES: Final[Mapping[int, ErrorCode]] = MappingProxyType(
    {
        400: ErrorCode.INVALID_REQUEST,
        401: ErrorCode.AUTHENTICATION,
        403: ErrorCode.PERMISSION,
        404: ErrorCode.NOT_FOUND,
        422: ErrorCode.INVALID_REQUEST,
    }
)


def error_code_for(error_code: str | None, status: int) -> ErrorCode:
    """The normalized code: ``errorCode``'s entry, else the HTTP status's, else ``UNKNOWN``."""
    by_status = STATUS_CODES.get(status, ErrorCode.UNKNOWN)
    return by_status if error_code is None else ERROR_CODES.get(error_code, by_status)


def decline_reason_for(
    code: str | None, text: str | None, fallback: DeclineReason = DeclineReason.UNKNOWN
) -> DeclineReason:
    """The normalized reason of a refusal: ``refusalReasonCode``'s entry, else the exact
    ``refusalReason`` text's, else ``fallback``."""
    if code is not None and code.strip() in REFUSAL_CODES:
        return REFUSAL_CODES[code.strip()]
    if text is not None:
        return REFUSAL_TEXTS.get(text.strip().casefold(), fallback)
    return fallback


def advice_for(reason: DeclineReason, merchant_advice: str | None) -> RetryAdvice:
    """Mastercard's advice (its code alone) when it is one we know, else the reason's default
    advice."""
    by_reason = REASON_ADVICE.get(reason, RetryAdvice.UNKNOWN)
    return by_reason if merchant_advice is None else ADVICE_CODES.get(merchant_advice, by_reason)
