"""Adyen Checkout API v71, sans-IO: ``/payments`` (manual capture for authorize, automatic for
purchase), and the asynchronous modifications ``/captures``, ``/cancels`` and ``/refunds``.
Sections in the order every adapter follows: constants (``_constants``) → wire models
(``_wire``) → status and code tables (``_codes``) → request builders → response parsers →
error classifier → webhook verification and parsing (``_webhooks``).

Three Adyen facts shape it:

* **Declines are answers, not HTTP errors.** ``/payments`` says 200 with ``resultCode``
  Refused / Error / Cancelled; the adapter reports those as ``CardDeclinedError`` values, as
  a Stripe 402 is, so a caller handles a decline the same way whichever provider answered.
* **Modifications are only received.** A capture, cancel or refund answers 201 with
  ``status: "received"``; its outcome arrives by webhook. Captures and voids become a
  ``ModificationReceipt``, refunds a pending ``Refund``; the gateway keeps them pending on its
  payment record until the webhook confirms them.
* **Nothing can be read back.** There is no endpoint to read a payment, and captures and
  refunds must name their amount: the gateway fills a full capture or refund's amount in from
  its payment record and answers retrieve from it (``needs_payment_record``).

The caller's description is not sent: Adyen's ``PaymentRequest`` has no field for it. The
nearest, ``shopperStatement``, is the text printed on the shopper's bank statement (about 22
characters, a restricted alphabet), which an internal description must not silently become.
``metadata`` is the caller's own, sent as given; Adyen's limits on it (20 keys, keys of 20
characters, values of 80) are declared in ``CAPABILITIES`` and checked before any I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

import httpx
from pydantic import BaseModel, SecretStr

from paygate import __version__
from paygate._redaction import url_without_credentials
from paygate.adapters.adyen._codes import (
    CODE_REASONS,
    DECLINE_FALLBACK,
    MODIFICATION_PATHS,
    REFUND_REASONS,
    RESULT_STATUS,
    ResultCode,
    advice_for,
    decline_reason_for,
    error_code_for,
)
from paygate.adapters.adyen._constants import (
    CAPABILITIES,
    CURRENCIES,
    DEFAULT_BASE_URL,
    PROVIDER,
    money,
)
from paygate.adapters.adyen._webhooks import decode_hmac_key, read_notification
from paygate.adapters.adyen._wire import (
    AmountWire,
    CancelResponseWire,
    CaptureResponseWire,
    PaymentResponseWire,
    RefundResponseWire,
    ServiceErrorWire,
)
from paygate.adapters.base import (
    ResponseContext,
    endpoint,
    http_request,
    json_body,
    parse_retry_after,
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
from paygate.errors import DeclineReason, ErrorCode, InvalidRequestError, InvalidWebhookError
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
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
    WebhookEvent,
    payment_id_of,
)
from paygate.money import Money

__all__ = ["AdyenAdapter"]

JsonObject = dict[str, Any]

_SHOPPER_REFERENCE_MIN: Final = 3  # the spec's minLength for shopperReference


class AdyenAdapter:
    """Translates canonical operations to Adyen's Checkout API v71 and back. Does no I/O.

    ``return_url`` is sent as ``returnUrl`` when given: the spec requires it on ``/payments``
    for flows that redirect the shopper (3D Secure, redirect payment methods).
    """

    name: Final = PROVIDER
    capabilities: Final = CAPABILITIES

    def __init__(
        self,
        api_key: SecretStr | str,
        *,
        merchant_account: str,
        base_url: str = DEFAULT_BASE_URL,
        hmac_key: SecretStr | str | None = None,
        return_url: str | None = None,
    ) -> None:
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not self._api_key.get_secret_value():
            raise ValueError("an Adyen API key is required")
        if not merchant_account:
            raise ValueError("an Adyen merchant account is required")
        self.merchant_account = merchant_account
        self.base_url = base_url.rstrip("/")
        self.return_url = return_url
        self._hmac_key: SecretStr | None = None
        if hmac_key is not None:
            self._hmac_key = hmac_key if isinstance(hmac_key, SecretStr) else SecretStr(hmac_key)
            decode_hmac_key(self._hmac_key)  # refuse a key that cannot be used, now

    def __repr__(self) -> str:
        hmac_key = "None" if self._hmac_key is None else "**********"
        base_url = url_without_credentials(self.base_url)
        return (
            f"paygate.adapters.adyen.AdyenAdapter(base_url={base_url!r}, "
            f"merchant_account={self.merchant_account!r}, api_key=**********, "
            f"hmac_key={hmac_key})"
        )

    # -- request builders ----------------------------------------------------------------------
    def validate(self, request: OperationRequest) -> None:
        """Adyen's rules that ``CAPABILITIES`` cannot express: a stored payment method is
        charged only with the shopper it was stored for (``shopperReference``, of 3 characters
        or more; ``PaymentSource`` already holds a customer to 255)."""
        if not isinstance(request, AuthorizeRequest) or request.source.card_details is not None:
            return
        customer = request.source.customer
        if customer is None or len(customer) < _SHOPPER_REFERENCE_MIN:
            raise InvalidRequestError(
                "Adyen charges a stored payment method only for the shopper it was stored for: "
                "pass PaymentSource.token(..., customer=<shopperReference>, 3 characters or more)",
                provider=PROVIDER,
            )

    def build_request(
        self, request: OperationRequest, *, idempotency_key: str | None
    ) -> httpx.Request:
        path, body = self._endpoint(request)
        headers = {
            "X-API-Key": self._api_key.get_secret_value(),
            "Content-Type": "application/json",
            "User-Agent": f"paygate/{__version__}",
        }
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        url = endpoint(f"{self.base_url}{path}")
        return http_request("POST", url, headers, json_body(body))

    def _endpoint(self, request: OperationRequest) -> tuple[str, JsonObject]:
        if isinstance(request, AuthorizeRequest):
            return "/payments", self._payment_body(request)
        if isinstance(request, CaptureRequest | VoidRequest | RefundRequest):
            path = f"/payments/{request.payment_id}/{MODIFICATION_PATHS[request.operation]}"
            body: JsonObject = {
                "merchantAccount": self.merchant_account,
                "reference": request.reference,
            }
            if isinstance(request, CaptureRequest | RefundRequest):
                body["amount"] = _amount_body(_required_amount(request))
            if isinstance(request, RefundRequest) and request.reason is not None:
                body["merchantRefundReason"] = REFUND_REASONS[request.reason]
            return path, _compact(body)
        raise InvalidRequestError(
            "Adyen offers no endpoint to read a payment; the gateway answers retrieve from its "
            "payment record",
            code=ErrorCode.UNSUPPORTED,
            provider=PROVIDER,
        )

    def _payment_body(self, request: AuthorizeRequest) -> JsonObject:
        body: JsonObject = {
            "merchantAccount": self.merchant_account,
            "amount": _amount_body(request.amount),
            "reference": request.reference,  # echoed as merchantReference, in webhooks too
            **_source_fields(request),
            "metadata": dict(request.metadata) or None,
            "returnUrl": self.return_url,
        }
        if not request.capture:
            # Per payment, whatever the merchant account's capture delay is set to.
            body["additionalData"] = {"manualCapture": "true"}
        return _compact(body)

    # -- response parsers ----------------------------------------------------------------------
    def parse_response(
        self, response: httpx.Response, context: ResponseContext
    ) -> Result | Failure:
        base = Context(
            provider=PROVIDER,
            message="",
            http_status=response.status_code,
            request_id=response.headers.get("pspreference"),
            idempotency_key=context.idempotency_key,
        )
        if response.status_code >= 300:
            return self._classify(response, context, base)
        request = context.request
        if isinstance(request, AuthorizeRequest):
            payment = validate_body(PaymentResponseWire, response, base)
            if isinstance(payment, SchemaViolation):
                return payment
            return _payment(payment, request, response, base)
        if isinstance(request, CaptureRequest):
            capture = validate_body(CaptureResponseWire, response, base)
            if isinstance(capture, SchemaViolation):
                return capture
            return _receipt(capture, Operation.CAPTURE, capture.amount, context, base)
        if isinstance(request, VoidRequest):
            cancel = validate_body(CancelResponseWire, response, base)
            if isinstance(cancel, SchemaViolation):
                return cancel
            return _receipt(cancel, Operation.VOID, None, context, base)
        if isinstance(request, RefundRequest):
            refund = validate_body(RefundResponseWire, response, base)
            if isinstance(refund, SchemaViolation):
                return refund
            return _refund(refund, context, base)
        message = f"Adyen has no answer to {request.operation.value}"
        return ProviderError(replace(base, message=message), ErrorCode.UNSUPPORTED)

    # -- error classifier ----------------------------------------------------------------------
    def _classify(
        self, response: httpx.Response, context: ResponseContext, base: Context
    ) -> Failure:
        status = response.status_code
        # Adyen's own word that repeating the request with the same key is safe.
        transient = _is_true(response.headers.get("transient-error"))  # any casing
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

    # -- webhook verification and parsing ------------------------------------------------------
    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: float
    ) -> list[WebhookEvent]:
        """Verify every item's HMAC signature (any failure refuses the whole delivery), then
        read the items; see ``_webhooks`` for the scheme and the event table.

        Adyen signs fields of each item, not the request: ``headers`` are not read. ``now`` is
        unused too, since Adyen signs no timestamp: a replayed delivery verifies, and the
        gateway's deduplication by ``event_id`` is what stops it from being applied twice.
        """
        if self._hmac_key is None:
            raise InvalidWebhookError(
                "no Adyen HMAC key is configured, and an unsigned notification is never "
                "trusted: pass hmac_key (the hex key from the Customer Area) to the adapter",
                code=ErrorCode.WEBHOOK_SIGNATURE_INVALID,
                provider=PROVIDER,
            )
        return read_notification(body, decode_hmac_key(self._hmac_key))


# -- request helpers ---------------------------------------------------------------------------
def _compact(body: JsonObject) -> JsonObject:
    return {key: value for key, value in body.items() if value is not None}


def _amount_body(amount: Money) -> JsonObject:
    scale = CURRENCIES.get(amount.currency)
    if scale is None:
        raise InvalidRequestError(
            f"{amount.currency} is not supported by Adyen here",
            code=ErrorCode.UNSUPPORTED,
            provider=PROVIDER,
        )
    try:
        value = scale.to_wire(amount)
    except ValueError as exc:
        raise InvalidRequestError(
            str(exc), code=ErrorCode.AMOUNT_INVALID, provider=PROVIDER
        ) from None
    return {"value": value, "currency": str(amount.currency)}


def _required_amount(request: CaptureRequest | RefundRequest) -> Money:
    if request.amount is None:
        raise InvalidRequestError(
            f"Adyen needs the amount of every {request.operation.value}: fill it in from the "
            "payment record before building the request",
            provider=PROVIDER,
        )
    return request.amount


def _source_fields(request: AuthorizeRequest) -> JsonObject:
    source = request.source
    card = source.card_details
    if card is not None:
        method: JsonObject = {
            "type": "scheme",
            "number": card.number.get_secret_value(),
            "expiryMonth": f"{card.exp_month:02d}",
            "expiryYear": f"{card.exp_year:04d}",
            "cvc": card.cvc.get_secret_value() if card.cvc is not None else None,
            "holderName": card.holder_name,
        }
        return {"paymentMethod": _compact(method)}
    return {
        "paymentMethod": {"type": "scheme", "storedPaymentMethodId": source.token_id},
        "shopperReference": source.customer,  # required and checked by validate
        # A returning shopper's card on file, charged without its details being entered
        # again: Adyen's ContAuth interaction with the CardOnFile model.
        "shopperInteraction": "ContAuth",
        "recurringProcessingModel": "CardOnFile",
    }


# -- response helpers --------------------------------------------------------------------------
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
    wire: PaymentResponseWire,
    request: AuthorizeRequest,
    response: httpx.Response,
    base: Context,
) -> Payment | Failure:
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
    if wire.pspReference is None:
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
    action = wire.action
    return Payment(
        id=wire.pspReference,
        provider=PROVIDER,
        status=status,
        amount=amount,
        amount_authorized=authorized,
        amount_captured=captured,
        amount_refunded=zero,
        reference=wire.merchantReference,
        idempotency_key=base.idempotency_key,
        provider_status=wire.resultCode,
        next_action=NextAction(type=action.type, redirect_url=action.url) if action else None,
    )


def _declined(
    wire: PaymentResponseWire,
    result: ResultCode,
    response: httpx.Response,
    base: Context,
) -> Declined:
    reason = decline_reason_for(
        wire.refusalReasonCode, wire.refusalReason, DECLINE_FALLBACK[result]
    )
    merchant_advice = (wire.additionalData or {}).get("merchantAdviceCode")
    advice = advice_for(reason, merchant_advice if isinstance(merchant_advice, str) else None)
    detail = f": {wire.refusalReason}" if wire.refusalReason else ""
    context = replace(
        base,
        message=f"Adyen answered {wire.resultCode}{detail}",
        provider_code=wire.resultCode,
        decline_code=wire.refusalReasonCode,
        payment_id=wire.pspReference,
        provider_body=response.json(),
    )
    return Declined(context, reason, advice)


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


# -- error helpers -----------------------------------------------------------------------------
def _adyens(envelope: ServiceErrorWire) -> bool:
    """Whether a JSON error body is Adyen's ServiceError: the spec requires no field, but Adyen
    always names its error (an ``errorCode`` or an ``errorType``). Any other JSON (a proxy's
    ``{"message": ...}``) says nothing of what Adyen did."""
    return envelope.errorCode is not None or envelope.errorType is not None


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"
