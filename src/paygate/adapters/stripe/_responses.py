"""Stripe responses, sans-IO: the status tables, ``parse_response`` (a PaymentIntent, a refund,
a search page, as canonical results) and the error classifier (an error status as a
``paygate.adapters.failures`` classification, never an exception)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

import httpx
from pydantic import AwareDatetime, TypeAdapter

from paygate.adapters.base import (
    AnswerReader,
    ResponseContext,
    is_true,
    network_advice_code,
    parse_answer,
    parse_retry_after,
    request_id_of,
)
from paygate.adapters.failures import (
    Context,
    Declined,
    Failure,
    InFlight,
    KeyConflict,
    NotFound,
    ProviderError,
    SchemaViolation,
    error_status,
    validate_body,
)
from paygate.adapters.stripe._codes import advice_for, decline_reason_for, error_code_for
from paygate.adapters.stripe._constants import (
    CAPABILITIES,
    CURRENCIES,
    PROVIDER,
    REFERENCE_KEY,
    money,
)
from paygate.adapters.stripe._requests import wire_amount
from paygate.adapters.stripe._wire import (
    ChargeWire,
    ErrorEnvelopeWire,
    NextActionWire,
    PaymentIntentWire,
    RefundWire,
    SearchResultWire,
)
from paygate.errors import ErrorCode
from paygate.models import (
    ActionKind,
    AuthorizeRequest,
    CaptureRequest,
    CompleteActionRequest,
    FindRequest,
    NextAction,
    Operation,
    OperationRequest,
    Payment,
    PaymentStatus,
    Refund,
    RefundRequest,
    RefundStatus,
    Result,
    RetrieveRequest,
    VoidRequest,
)

__all__ = [
    "AMOUNT_TOO_LARGE",
    "REFUND_STATUS_MAP",
    "STATUS_CODES",
    "STATUS_MAP",
    "IntentStatus",
    "parse_response",
]

# Unix seconds → an aware UTC datetime (pydantic reads them so; the adapter has no clock).
_UNIX_TIME: Final = TypeAdapter[AwareDatetime | None](AwareDatetime | None)


# -- status tables -----------------------------------------------------------------------------
class IntentStatus(StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


# The canonical status of each PaymentIntent status, before the amounts refine it.
STATUS_MAP: Final[Mapping[IntentStatus, PaymentStatus]] = MappingProxyType(
    {
        IntentStatus.REQUIRES_PAYMENT_METHOD: PaymentStatus.PENDING,  # FAILED after a decline
        IntentStatus.REQUIRES_CONFIRMATION: PaymentStatus.PENDING,
        IntentStatus.REQUIRES_ACTION: PaymentStatus.REQUIRES_ACTION,
        IntentStatus.PROCESSING: PaymentStatus.PENDING,
        IntentStatus.REQUIRES_CAPTURE: PaymentStatus.AUTHORIZED,
        IntentStatus.SUCCEEDED: PaymentStatus.CAPTURED,  # or partially captured / refunded
        IntentStatus.CANCELED: PaymentStatus.VOIDED,
    }
)

REFUND_STATUS_MAP: Final[Mapping[str, RefundStatus]] = MappingProxyType(
    {
        "pending": RefundStatus.PENDING,
        "requires_action": RefundStatus.PENDING,
        "succeeded": RefundStatus.SUCCEEDED,
        "failed": RefundStatus.FAILED,
        "canceled": RefundStatus.FAILED,
    }
)

# What Stripe's error object is, by its normalized code, where that is more than Stripe's
# refusal of the request (a ProviderError): a decline (card_error is one too, whatever its
# code), the key in use or reused, or Stripe's word that it processed nothing (a lock timeout).
_OWN_ERRORS: Final[Mapping[ErrorCode, type[Declined | InFlight | KeyConflict]]] = MappingProxyType(
    {
        ErrorCode.CARD_DECLINED: Declined,
        ErrorCode.IDEMPOTENCY_IN_FLIGHT: InFlight,
        ErrorCode.IDEMPOTENCY_CONFLICT: KeyConflict,
    }
)
_NOT_PROCESSED: Final = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.PROVIDER_UNAVAILABLE})
# amount_too_large means a different thing for each operation.
AMOUNT_TOO_LARGE: Final[Mapping[Operation, ErrorCode]] = MappingProxyType(
    {
        Operation.CAPTURE: ErrorCode.AMOUNT_EXCEEDS_CAPTURABLE,
        Operation.REFUND: ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE,
    }
)
# Error statuses that arrive without Stripe's error object (a proxy, a load balancer).
STATUS_CODES: Final[Mapping[int, ErrorCode]] = MappingProxyType(
    {401: ErrorCode.AUTHENTICATION, 403: ErrorCode.PERMISSION, 404: ErrorCode.NOT_FOUND}
)
# 424: a dependency of Stripe's (the card network, an issuer) failed mid-request; for a
# mutating call Stripe may have acted, like a 500.
_DEPENDENCY_FAILED: Final = 424


# -- response parsers --------------------------------------------------------------------------
def parse_response(response: httpx.Response, context: ResponseContext) -> Result | Failure:
    answer_id = request_id_of(CAPABILITIES, response.headers)
    base = Context.of_answer(PROVIDER, response, answer_id, context.idempotency_key)
    return parse_answer(response, context, base, classify=_classify, readers=_READERS)


def _payment(
    intent: PaymentIntentWire, context: ResponseContext, base: Context
) -> Payment | SchemaViolation:
    try:
        base_status = STATUS_MAP[IntentStatus(intent.status)]
        currency = CURRENCIES[intent.currency.upper()]
    except (ValueError, KeyError):
        return _unreadable(
            intent,
            base,
            "Stripe returned a PaymentIntent with an unknown status or currency "
            f"({intent.status!r}, {intent.currency!r})",
        )
    code = intent.currency.upper()
    charge = intent.latest_charge if isinstance(intent.latest_charge, ChargeWire) else None
    authorized = charge.amount if charge and charge.status == "succeeded" else 0
    captured = intent.amount_received
    if captured is None:
        if base_status is PaymentStatus.CAPTURED:
            return _unreadable(
                intent,
                base,
                "Stripe returned a succeeded PaymentIntent without its amount_received",
            )
        captured = 0  # nothing can have been received before the PaymentIntent succeeded
    refunded = charge.amount_refunded if charge and charge.captured else 0
    status = _refine(base_status, intent, captured, refunded)
    next_action = None if intent.next_action is None else _next_action(intent.next_action)
    return Payment.model_validate(
        {
            "id": intent.id,
            "provider": PROVIDER,
            "status": status,
            "amount": currency.from_wire(intent.amount, code),
            "amount_authorized": currency.from_wire(authorized, code),
            "amount_captured": currency.from_wire(captured, code),
            "amount_refunded": currency.from_wire(refunded, code),
            "reference": intent.metadata.get(REFERENCE_KEY),
            "description": intent.description,
            "metadata": {k: v for k, v in intent.metadata.items() if k != REFERENCE_KEY},
            "created_at": _UNIX_TIME.validate_python(intent.created),
            "idempotency_key": context.idempotency_key,
            "provider_status": intent.status,
            "next_action": next_action,
            "livemode": intent.livemode,
        }
    )


def _unreadable(intent: PaymentIntentWire, base: Context, message: str) -> SchemaViolation:
    """A PaymentIntent that validated but says what paygate cannot use; it keeps what was read."""
    return SchemaViolation(
        replace(
            base,
            message=message,
            payment_id=intent.id,
            provider_body=intent.model_dump(mode="json"),
        )
    )


def _next_action(wire: NextActionWire) -> NextAction:
    """Stripe's ``next_action``: ``redirect_to_url`` sends the shopper to its ``url`` (a GET);
    ``use_stripe_sdk`` is for Stripe.js (``handleNextAction`` with the PaymentIntent's client
    secret), which takes the object as it is."""
    raw = wire.model_dump(mode="json", exclude_none=True)
    if wire.redirect_to_url is not None and wire.redirect_to_url.get("url"):
        url = wire.redirect_to_url["url"]
        return NextAction(
            type=wire.type, kind=ActionKind.REDIRECT, redirect_url=url, method="GET",
            provider_action=raw,
        )  # fmt: skip
    if wire.type == "use_stripe_sdk":
        return NextAction(type=wire.type, kind=ActionKind.THREE_DS, provider_action=raw)
    return NextAction(type=wire.type, provider_action=raw)


def _newest_match(
    page: SearchResultWire, response: httpx.Response, context: ResponseContext, base: Context
) -> Payment | Failure:
    """The newest PaymentIntent (by ``created``) of the page that carries exactly the reference
    (and amount) asked for, read as retrieve reads one. Stripe matches metadata without regard
    to case, so its matches are checked again here. Two created in the same second keep
    Stripe's order. Only this page is read: past ``SEARCH_LIMIT`` matches, the caller reused
    the reference."""
    request = context.request
    assert isinstance(request, FindRequest)  # read for a search only (_READERS)
    wanted: tuple[int, str] | None = None
    if request.amount is not None:
        wanted = (wire_amount(request.amount), request.amount.currency.lower())
    matches = [
        intent
        for intent in page.data
        if intent.metadata.get(REFERENCE_KEY) == request.reference
        and (wanted is None or (intent.amount, intent.currency.lower()) == wanted)
    ]
    if not matches:
        asked = f"reference {request.reference!r}"
        if request.amount is not None:
            asked += f" and amount {request.amount}"
        more = " (Stripe had more results than the page read)" if page.has_more else ""
        return NotFound(
            replace(
                base,
                message=f"no Stripe PaymentIntent found with {asked}{more}. Stripe's search is "
                "eventually consistent: a payment created in the last minute (longer during an "
                "incident) may not show yet, so search again later before concluding there is "
                "none",
            )
        )
    if len(matches) > 1 and any(intent.created is None for intent in matches):
        return SchemaViolation(
            replace(
                base,
                message="Stripe returned matching PaymentIntents without their creation time, "
                "so the newest cannot be told",
                provider_body=page.model_dump(mode="json"),
            )
        )
    newest = max(matches, key=lambda intent: intent.created or 0)  # the first of equals
    return _payment(newest, context, base)


def _refine(
    status: PaymentStatus, intent: PaymentIntentWire, captured: int, refunded: int
) -> PaymentStatus:
    if status is PaymentStatus.PENDING and intent.last_payment_error is not None:
        return PaymentStatus.FAILED
    if status is not PaymentStatus.CAPTURED:
        return status
    if refunded and refunded >= captured:
        return PaymentStatus.REFUNDED
    if refunded:
        return PaymentStatus.PARTIALLY_REFUNDED
    if captured < intent.amount:
        return PaymentStatus.PARTIALLY_CAPTURED
    return PaymentStatus.CAPTURED


def _refund(refund: RefundWire, context: ResponseContext, base: Context) -> Refund | Failure:
    request = context.request
    assert isinstance(request, RefundRequest)  # read for a refund only (_READERS)
    # No status (the spec allows null): Stripe made the refund and has not said how it ended.
    status = REFUND_STATUS_MAP.get(refund.status) if refund.status else RefundStatus.PENDING
    if status is None or refund.currency.upper() not in CURRENCIES:
        message = (
            f"Stripe returned a refund paygate cannot read (status {refund.status!r}, "
            f"currency {refund.currency!r})"
        )
        return SchemaViolation(
            replace(base, message=message, provider_body=refund.model_dump(mode="json"))
        )
    return Refund(
        id=refund.id,
        provider=PROVIDER,
        # A refund without a PaymentIntent (the spec allows it) is the refund of the payment it
        # was asked for: the request named that PaymentIntent.
        payment_id=refund.payment_intent or request.payment_id,
        status=status,
        amount=money(refund.amount, refund.currency),
        reference=(refund.metadata or {}).get(REFERENCE_KEY),
        idempotency_key=context.idempotency_key,
        provider_status=refund.status or "",
    )


# -- error classifier --------------------------------------------------------------------------
def _classify(response: httpx.Response, context: ResponseContext, base: Context) -> Failure:
    status = response.status_code
    base = replace(
        base,
        provider_retry_hint=_should_retry(response),
        retry_after=parse_retry_after(response.headers),
    )
    failed = status >= 500 or status == _DEPENDENCY_FAILED
    envelope = validate_body(ErrorEnvelopeWire, response, base)
    if isinstance(envelope, SchemaViolation):
        # An error status without Stripe's error object: judge by the status alone.
        return error_status(response, base, None, failed=failed)
    error = envelope.error
    own = replace(
        base,
        message=error.message or f"Stripe answered HTTP {status} ({error.type})",
        provider_code=error.code or error.type,
        decline_code=error.decline_code,
        provider_body=response.json(),
        payment_id=error.payment_intent.id if error.payment_intent else None,
    )

    def stripes() -> Failure:
        code = error_code_for(error.type, error.code)
        if error.code is None:  # e.g. a bad key: 401, type invalid_request_error, no code
            code = STATUS_CODES.get(status, code)
        if error.code == "amount_too_large":
            code = AMOUNT_TOO_LARGE.get(context.request.operation, code)
        kind = Declined if error.type == "card_error" else _OWN_ERRORS.get(code)
        if kind is Declined:
            reason = decline_reason_for(error.decline_code, error.code)
            network = network_advice_code(error.network_advice_code)
            return Declined(
                own,
                reason,
                advice_for(reason, error.advice_code, network),
                network_advice_code=network,
                network_decline_code=error.network_decline_code,
            )
        if kind is not None:
            return kind(own)
        return ProviderError(own, code, not_processed=code in _NOT_PROCESSED)

    return error_status(response, own, stripes, failed=failed or error.type == "api_error")


def _completed(
    intent: PaymentIntentWire, context: ResponseContext, base: Context
) -> Payment | Failure:
    """A PaymentIntent read back after the shopper's action: authorized or captured, still
    awaiting the shopper, or back to ``requires_payment_method`` with the reason it failed
    (a failed authentication: a decline, as Stripe's 402 for it would be)."""
    payment = _payment(intent, context, base)
    error = intent.last_payment_error
    if (
        not isinstance(payment, Payment)
        or payment.status is not PaymentStatus.FAILED
        or error is None
    ):
        return payment
    reason = decline_reason_for(error.decline_code, error.code)
    own = replace(
        base,
        message=f"the payment failed after the shopper's action ({error.code or error.type})",
        provider_code=error.code or error.type,
        decline_code=error.decline_code,
        payment_id=intent.id,
    )
    return Declined(own, reason, advice_for(reason, None))


def _should_retry(response: httpx.Response) -> bool | None:
    """Stripe's own hint. A replayed 5xx is saved under the key: repeating it replays it again."""
    if response.status_code >= 500 and is_true(response.headers.get("idempotent-replayed")):
        return False
    value = response.headers.get("stripe-should-retry")
    return None if value is None else is_true(value)


# What each operation's successful answer is read as: a PaymentIntent but for a search (a
# page of them) and a refund.
_INTENT: Final = AnswerReader(
    PaymentIntentWire, lambda intent, _, context, base: _payment(intent, context, base)
)
_READERS: Final[Mapping[type[OperationRequest], AnswerReader[Any]]] = MappingProxyType(
    {
        AuthorizeRequest: _INTENT,
        CaptureRequest: _INTENT,
        VoidRequest: _INTENT,
        RetrieveRequest: _INTENT,
        CompleteActionRequest: AnswerReader(
            PaymentIntentWire, lambda i, _, c, b: _completed(i, c, b)
        ),
        FindRequest: AnswerReader(SearchResultWire, _newest_match),
        RefundRequest: AnswerReader(
            RefundWire, lambda refund, _, context, base: _refund(refund, context, base)
        ),
    }
)
