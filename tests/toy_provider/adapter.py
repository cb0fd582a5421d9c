"""Toypay's adapter (sans-IO): a small JSON API with a Bearer key.

``POST /payments`` (``capture`` true for a purchase), ``POST /payments/{id}/capture`` (the
whole amount only), ``/void``, ``/refunds`` (part of it, several times), ``GET
/payments/{id}``. An error is ``{"error": {"code": ..., "reason": ...}}``. No webhooks, no 3-D
Secure, EUR and JPY only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Final, Literal

import httpx
from pydantic import BaseModel, SecretStr

from paygate import Money, Payment, PaymentStatus, ProviderErrorTables, ProviderSettings, Refund
from paygate.adapters.base import (
    REASON_ADVICE,
    AnswerReader,
    Capabilities,
    MetadataLimits,
    ResponseContext,
    endpoint,
    http_request,
    json_body,
    parse_answer,
    parse_retry_after,
)
from paygate.adapters.failures import (
    Context,
    Declined,
    Failure,
    KeyConflict,
    ProviderError,
    SchemaViolation,
    error_status,
    validate_body,
)
from paygate.errors import DeclineReason, ErrorCode, InvalidWebhookError
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
    Operation,
    OperationRequest,
    RefundRequest,
    RefundStatus,
    Result,
    RetrieveRequest,
    VoidRequest,
    WebhookEvent,
)
from paygate.money import ProviderCurrency

NAME: Final = "toypay"
DEFAULT_BASE_URL: Final = "https://api.toypay.invalid"
CURRENCIES: Final = MappingProxyType(
    {"EUR": ProviderCurrency(exponent=2), "JPY": ProviderCurrency(exponent=0)}
)
CAPABILITIES: Final = Capabilities(
    operations=frozenset(Operation) - {Operation.FIND},
    currencies=CURRENCIES,
    partial_capture=False,
    multiple_captures=False,
    partial_refund=True,
    multiple_refunds=True,
    raw_card_data=False,
    idempotent_replay=True,
    max_idempotency_key_length=255,
    max_reference_length=100,
    metadata=MetadataLimits(max_keys=10, max_key_length=40, max_value_length=200),
    payment_id_pattern=re.compile(r"tp_[0-9a-f]{16}"),
    payment_id_format="a Toypay payment id (tp_ and 16 hex digits)",
)

ERROR_CODES: Final[Mapping[str, ErrorCode]] = MappingProxyType(
    {
        "card_declined": ErrorCode.CARD_DECLINED,
        "invalid_request": ErrorCode.INVALID_REQUEST,
        "unauthorized": ErrorCode.AUTHENTICATION,
        "not_found": ErrorCode.NOT_FOUND,
        "invalid_state": ErrorCode.INVALID_STATE,
        "amount_exceeds_refundable": ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE,
        "idempotency_conflict": ErrorCode.IDEMPOTENCY_CONFLICT,
        "rate_limited": ErrorCode.RATE_LIMITED,
        "server_error": ErrorCode.PROVIDER_UNAVAILABLE,
    }
)
DECLINE_REASONS: Final[Mapping[str, DeclineReason]] = MappingProxyType(
    {
        reason.value: reason
        for reason in (
            DeclineReason.GENERIC,
            DeclineReason.INSUFFICIENT_FUNDS,
            DeclineReason.EXPIRED_CARD,
            DeclineReason.INCORRECT_CVC,
        )
    }
)
STATUS_CODES: Final[Mapping[int, ErrorCode]] = MappingProxyType(
    {401: ErrorCode.AUTHENTICATION, 404: ErrorCode.NOT_FOUND, 429: ErrorCode.RATE_LIMITED}
)
ERROR_TABLES: Final = ProviderErrorTables(
    name="Toypay",
    type_field="error.type",
    code_field="error.code",
    decline_field="error.reason",
    advice_field="error.advice",
    error_types=MappingProxyType({}),
    error_codes=ERROR_CODES,
    code_reasons=MappingProxyType({}),
    decline_codes=DECLINE_REASONS,
    advice_codes=MappingProxyType({}),
    reason_advice=REASON_ADVICE,
    operation_overrides=MappingProxyType({}),
    status_codes=STATUS_CODES,
)
_STATUS: Final[Mapping[str, PaymentStatus]] = MappingProxyType(
    {"authorized": PaymentStatus.AUTHORIZED, "voided": PaymentStatus.VOIDED}
)


class ToySettings(ProviderSettings):
    api_key: SecretStr
    base_url: str = DEFAULT_BASE_URL


class PaymentWire(BaseModel):
    id: str
    status: Literal["authorized", "captured", "voided"]
    amount: int
    amount_captured: int
    amount_refunded: int
    currency: str
    reference: str | None = None


class RefundWire(BaseModel):
    id: str
    payment: str
    amount: int
    currency: str
    reference: str | None = None


class ErrorWire(BaseModel):
    class Detail(BaseModel):
        code: str
        reason: str | None = None
        message: str = ""

    error: Detail


class ToyAdapter:
    def __init__(self, api_key: SecretStr | str, *, base_url: str = DEFAULT_BASE_URL) -> None:
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.base_url = base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"ToyAdapter(base_url={self.base_url!r}, api_key=**********)"

    @property
    def name(self) -> str:
        return NAME

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    # -- requests ------------------------------------------------------------------------------
    def build_request(
        self, request: OperationRequest, *, idempotency_key: str | None
    ) -> httpx.Request:
        headers = {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if isinstance(request, RetrieveRequest):
            return http_request("GET", self._url(f"/payments/{request.payment_id}"), headers)
        path, body = self._mutation(request)
        headers["Content-Type"] = "application/json"
        return http_request("POST", self._url(path), headers, json_body(body))

    def _mutation(self, request: OperationRequest) -> tuple[str, dict[str, object]]:
        if isinstance(request, AuthorizeRequest):
            source = request.source.token_id
            return "/payments", {
                **self._amount(request.amount),
                "source": source,
                "capture": request.capture,
                "reference": request.reference,
            }
        if isinstance(request, CaptureRequest):
            return f"/payments/{request.payment_id}/capture", {}
        if isinstance(request, VoidRequest):
            return f"/payments/{request.payment_id}/void", {}
        if isinstance(request, RefundRequest):
            body: dict[str, object] = {"reference": request.reference}
            if request.amount is not None:
                body |= self._amount(request.amount)
            return f"/payments/{request.payment_id}/refunds", body
        raise TypeError(f"not a Toypay operation: {type(request).__name__}")  # pragma: no cover

    @staticmethod
    def _amount(amount: Money) -> dict[str, object]:
        return {"amount": CURRENCIES[amount.currency].to_wire(amount), "currency": amount.currency}

    def _url(self, path: str) -> httpx.URL:
        return endpoint(f"{self.base_url}{path}")

    # -- requests, checked before any I/O ----------------------------------------------------
    def validate(self, request: OperationRequest) -> None:
        """Toypay has no rules beyond its declared capabilities."""

    # -- responses -----------------------------------------------------------------------------
    def parse_response(
        self, response: httpx.Response, context: ResponseContext
    ) -> Result | Failure:
        base = Context.of_answer(NAME, response, response.headers.get("request-id"), None)
        base = replace(
            base,
            idempotency_key=context.idempotency_key,
            retry_after=parse_retry_after(response.headers),
        )
        return parse_answer(response, context, base, classify=_classify, readers=_READERS)

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: float
    ) -> list[WebhookEvent]:
        raise InvalidWebhookError("Toypay sends no webhooks", provider=NAME)


def _classify(response: httpx.Response, context: ResponseContext, base: Context) -> Failure:
    """An error status: Toypay's own error object when it sent one, else the shared reading."""
    detail = validate_body(ErrorWire, response, base)
    own = None if isinstance(detail, SchemaViolation) else detail.error
    return error_status(
        response,
        base,
        None if own is None else (lambda: _refusal(own, context, base)),
        failed=response.status_code >= 500,
    )


def _payment(
    wire: PaymentWire, response: httpx.Response, context: ResponseContext, base: Context
) -> Payment:
    return Payment(
        id=wire.id,
        provider=NAME,
        status=_status(wire),
        amount=_money(wire.amount, wire.currency),
        amount_authorized=_money(wire.amount, wire.currency),
        amount_captured=_money(wire.amount_captured, wire.currency),
        amount_refunded=_money(wire.amount_refunded, wire.currency),
        reference=wire.reference,
        idempotency_key=context.idempotency_key,
        provider_status=wire.status,
    )


def _refund(
    refund: RefundWire, response: httpx.Response, context: ResponseContext, base: Context
) -> Refund:
    return Refund(
        id=refund.id,
        provider=NAME,
        payment_id=refund.payment,
        status=RefundStatus.SUCCEEDED,
        amount=_money(refund.amount, refund.currency),
        reference=refund.reference,
        idempotency_key=context.idempotency_key,
        provider_status="succeeded",
    )


def _refusal(detail: ErrorWire.Detail, context: ResponseContext, base: Context) -> Failure:
    """Toypay's own error object, through its tables."""
    code = ERROR_CODES.get(detail.code, ErrorCode.UNKNOWN)
    message = f"Toypay refused the {context.request.operation.value}: {detail.code}"
    own = replace(base, message=message, provider_code=detail.code, decline_code=detail.reason)
    if code is ErrorCode.CARD_DECLINED:
        reason = DECLINE_REASONS.get(detail.reason or "", DeclineReason.UNKNOWN)
        return Declined(own, reason=reason, advice=REASON_ADVICE[reason])
    if code is ErrorCode.IDEMPOTENCY_CONFLICT:
        return KeyConflict(own)
    return ProviderError(own, code)


def _money(minor: int, currency: str) -> Money:
    return CURRENCIES[currency].from_wire(minor, currency)


def _status(wire: PaymentWire) -> PaymentStatus:
    if wire.status != "captured":
        return _STATUS[wire.status]
    if wire.amount_refunded == 0:
        return PaymentStatus.CAPTURED
    if wire.amount_refunded < wire.amount_captured:
        return PaymentStatus.PARTIALLY_REFUNDED
    return PaymentStatus.REFUNDED


# What each operation's answer is read as: a refund, or the payment as it now stands.
_PAYMENT: Final = AnswerReader(PaymentWire, _payment)
_READERS: Final[Mapping[type[OperationRequest], AnswerReader[Any]]] = MappingProxyType(
    {
        AuthorizeRequest: _PAYMENT,
        CaptureRequest: _PAYMENT,
        VoidRequest: _PAYMENT,
        RetrieveRequest: _PAYMENT,
        RefundRequest: AnswerReader(RefundWire, _refund),
    }
)
