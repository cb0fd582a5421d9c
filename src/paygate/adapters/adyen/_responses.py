"""Adyen responses, sans-IO: ``parse_response`` (a ``/payments`` answer as a ``Payment`` or a
decline, a received capture or void as a ``ModificationReceipt``, a received refund as a pending
``Refund``) and the error classifier (an error status as a ``paygate.adapters.failures``
classification, never an exception). The status and code tables are in ``_codes``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Final

import httpx
from pydantic import BaseModel

from paygate.adapters.adyen._codes import (
    CODE_REASONS,
    DECLINE_FALLBACK,
    RESULT_STATUS,
    ResultCode,
    advice_for,
    decline_reason_for,
    error_code_for,
)
from paygate.adapters.adyen._constants import CAPABILITIES, PROVIDER, money
from paygate.adapters.adyen._wire import (
    ActionWire,
    AmountWire,
    CancelResponseWire,
    CaptureResponseWire,
    PaymentResponseWire,
    RefundResponseWire,
    ServiceErrorWire,
)
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
    ProviderError,
    SchemaViolation,
    error_status,
    validate_body,
)
from paygate.errors import DeclineReason, ErrorCode
from paygate.models import (
    ActionKind,
    AuthorizeRequest,
    CaptureRequest,
    CompleteActionRequest,
    ModificationReceipt,
    NextAction,
    Operation,
    OperationRequest,
    Payment,
    PaymentStatus,
    Refund,
    RefundRequest,
    RefundStatus,
    Result,
    VoidRequest,
    payment_id_of,
)
from paygate.money import Money

__all__ = ["parse_response"]


# -- response parsers --------------------------------------------------------------------------
def parse_response(response: httpx.Response, context: ResponseContext) -> Result | Failure:
    answer_id = request_id_of(CAPABILITIES, response.headers)
    base = Context.of_answer(PROVIDER, response, answer_id, context.idempotency_key)
    return parse_answer(response, context, base, classify=_classify, readers=_READERS)


def _schema_violation(message: str, base: Context, wire: BaseModel) -> SchemaViolation:
    """An answer that validated but says what paygate cannot use; it keeps what was read."""
    return SchemaViolation(
        replace(base, message=message, provider_body=wire.model_dump(mode="json"))
    )


def _money(amount: AmountWire) -> Money | None:
    try:
        return money(amount.value, amount.currency)
    except (KeyError, ValueError):
        return None


def _payment(
    wire: PaymentResponseWire, response: httpx.Response, context: ResponseContext, base: Context
) -> Payment | Failure:
    request = context.request
    # Read for an authorization and for the details that complete one (_READERS).
    assert isinstance(request, AuthorizeRequest | CompleteActionRequest)
    base = replace(base, request_id=base.request_id or wire.pspReference)
    try:
        result = ResultCode(wire.resultCode)
    except ValueError:
        return _schema_violation(
            f"Adyen answered with a resultCode paygate does not know ({wire.resultCode!r})",
            base,
            wire,
        )
    status = RESULT_STATUS[result]
    if status is PaymentStatus.FAILED:
        return _declined(wire, result, response, base)
    awaiting = status is PaymentStatus.REQUIRES_ACTION
    if wire.pspReference is None and not awaiting:
        return _schema_violation(
            f"Adyen answered {wire.resultCode} without a pspReference", base, wire
        )
    # Adyen leaves the amount out of some answers (actions to take, pending results): the
    # requested amount is then the best paygate has, and the integrity check has nothing to
    # compare it with.
    amount = request.amount if wire.amount is None else _money(wire.amount)
    if amount is None:
        return _schema_violation("Adyen answered with an amount paygate cannot read", base, wire)
    zero = Money.zero(amount.currency)
    authorized = amount if status is PaymentStatus.AUTHORIZED else zero
    captured = zero
    if status is PaymentStatus.AUTHORIZED and request.capture:
        # No manualCapture was asked for: Adyen captures the authorisation by itself.
        status, captured = PaymentStatus.CAPTURED, amount
    return Payment(
        # An answer asking the shopper to act names no payment yet (Adyen gives its
        # pspReference once the action is completed): the gateway names it by its record.
        id=wire.pspReference or "",
        provider=PROVIDER,
        status=status,
        amount=amount,
        amount_authorized=authorized,
        amount_captured=captured,
        amount_refunded=zero,
        # An answer asking the shopper to act may leave the reference out too: the one asked.
        reference=wire.merchantReference or (request.reference if awaiting else None),
        # Not sent (Adyen has no field for it), kept; metadata is sent, never echoed. (A
        # completed action's are the payment record's, which the gateway fills in.)
        description=request.description if isinstance(request, AuthorizeRequest) else None,
        metadata=request.metadata if isinstance(request, AuthorizeRequest) else {},
        idempotency_key=base.idempotency_key,
        provider_status=wire.resultCode,
        next_action=None if wire.action is None else _next_action(wire.action),
        network_transaction_id=_text((wire.additionalData or {}).get("networkTxReference")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _next_action(action: ActionWire) -> NextAction:
    """Adyen's ``action``: ``redirect`` sends the shopper to ``url`` (a GET, or a POST of
    ``data``); ``threeDS2`` is for the 3-D Secure 2 component, with its ``token``."""
    raw = action.model_dump(mode="json", exclude_none=True)
    if action.type == "redirect" and action.url:
        return NextAction(
            type=action.type, kind=ActionKind.REDIRECT, redirect_url=action.url,
            method=(action.method or "GET").upper(),
            form_data={k: str(v) for k, v in (action.data or {}).items()},
            provider_action=raw,
        )  # fmt: skip
    if action.type == "threeDS2":
        return NextAction(
            type=action.type, kind=ActionKind.THREE_DS, token=action.token,
            subtype=action.subtype, redirect_url=action.url, provider_action=raw,
        )  # fmt: skip
    return NextAction(type=action.type, redirect_url=action.url, provider_action=raw)


def _declined(
    wire: PaymentResponseWire,
    result: ResultCode,
    response: httpx.Response,
    base: Context,
) -> Declined:
    reason = decline_reason_for(
        wire.refusalReasonCode, wire.refusalReason, DECLINE_FALLBACK[result]
    )
    additional = wire.additionalData or {}
    network_advice = network_advice_code(additional.get("merchantAdviceCode"))
    advice = advice_for(reason, network_advice)
    detail = f": {wire.refusalReason}" if wire.refusalReason else ""
    context = replace(
        base,
        message=f"Adyen answered {wire.resultCode}{detail}",
        provider_code=wire.resultCode,
        decline_code=wire.refusalReasonCode,
        payment_id=wire.pspReference,
        provider_body=response.json(),
    )
    return Declined(
        context,
        reason,
        advice,
        network_advice_code=network_advice,
        network_decline_code=_text(additional.get("refusalReasonRaw")),  # the acquirer's own
    )


def _receipt(
    wire: CaptureResponseWire | CancelResponseWire,
    operation: Operation,
    amount_wire: AmountWire | None,
    context: ResponseContext,
    base: Context,
) -> ModificationReceipt | Failure:
    amount = None if amount_wire is None else _money(amount_wire)
    if amount_wire is not None and amount is None:
        return _schema_violation(
            f"Adyen received the {operation.value} with an amount paygate cannot read",
            replace(base, request_id=base.request_id or wire.pspReference),
            wire,
        )
    return ModificationReceipt(
        provider=PROVIDER,
        payment_id=wire.paymentPspReference,
        operation=operation,
        modification_id=wire.pspReference,
        amount=amount,
        reference=wire.reference,
        idempotency_key=context.idempotency_key,
        provider_status=wire.status,
    )


def _refund(wire: RefundResponseWire, context: ResponseContext, base: Context) -> Refund | Failure:
    amount = _money(wire.amount)
    if amount is None:
        return _schema_violation(
            "Adyen received the refund with an amount paygate cannot read",
            replace(base, request_id=base.request_id or wire.pspReference),
            wire,
        )
    return Refund(
        id=wire.pspReference,
        provider=PROVIDER,
        payment_id=wire.paymentPspReference,
        status=RefundStatus.PENDING,  # received; the REFUND webhook says whether it succeeded
        amount=amount,
        reference=wire.reference,
        idempotency_key=context.idempotency_key,
        provider_status=wire.status,
    )


# -- error classifier --------------------------------------------------------------------------
def _classify(response: httpx.Response, context: ResponseContext, base: Context) -> Failure:
    status = response.status_code
    # Adyen's own word that repeating the request with the same key is safe.
    transient = is_true(response.headers.get("transient-error"))  # any casing
    base = replace(
        base,
        payment_id=payment_id_of(context.request),
        provider_retry_hint=True if transient else None,
        retry_after=parse_retry_after(response.headers),
    )
    failed = status >= 500
    envelope = validate_body(ServiceErrorWire, response, base)
    if isinstance(envelope, SchemaViolation) or not _adyens(envelope):
        # An error status without Adyen's ServiceError: judge by the status alone.
        return error_status(
            response, base, None, failed=failed, not_processed=transient,
            own_format="a ServiceError",
        )  # fmt: skip
    own = replace(
        base,
        message=envelope.message or f"Adyen answered HTTP {status} ({envelope.errorType})",
        provider_code=envelope.errorCode,
        provider_body=response.json(),
        request_id=base.request_id or envelope.pspReference,
    )

    def adyens() -> Failure:
        code = error_code_for(envelope.errorCode, status)
        if code is ErrorCode.IDEMPOTENCY_IN_FLIGHT:
            # The same key is still being processed (or its first answer is being stored):
            # the core repeats it with the same key after a backoff, and gets the one answer.
            return InFlight(own)
        if transient:
            return ProviderError(own, ErrorCode.PROVIDER_UNAVAILABLE, not_processed=True)
        if code is ErrorCode.CARD_DECLINED:
            reason = CODE_REASONS.get(envelope.errorCode or "", DeclineReason.UNKNOWN)
            return Declined(own, reason, advice_for(reason, None))
        return ProviderError(own, code)

    return error_status(response, own, adyens, failed=failed)


def _adyens(envelope: ServiceErrorWire) -> bool:
    """Whether a JSON error body is Adyen's ServiceError: the spec requires no field, but Adyen
    always names its error (an ``errorCode`` or an ``errorType``). Any other JSON (a proxy's
    ``{"message": ...}``) says nothing of what Adyen did."""
    return envelope.errorCode is not None or envelope.errorType is not None


# What each operation's successful answer is read as; Adyen has no read of a payment.
_READERS: Final[Mapping[type[OperationRequest], AnswerReader[Any]]] = MappingProxyType(
    {
        AuthorizeRequest: AnswerReader(PaymentResponseWire, _payment),
        # PaymentDetailsResponse has PaymentResponse's fields that paygate reads.
        CompleteActionRequest: AnswerReader(PaymentResponseWire, _payment),
        CaptureRequest: AnswerReader(
            CaptureResponseWire,
            lambda wire, _, context, base: _receipt(
                wire, Operation.CAPTURE, wire.amount, context, base
            ),
        ),
        VoidRequest: AnswerReader(
            CancelResponseWire,
            lambda wire, _, context, base: _receipt(wire, Operation.VOID, None, context, base),
        ),
        RefundRequest: AnswerReader(
            RefundResponseWire, lambda wire, _, context, base: _refund(wire, context, base)
        ),
    }
)
