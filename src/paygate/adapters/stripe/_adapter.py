"""Stripe, sans-IO: PaymentIntents (manual capture for authorize, automatic for purchase),
Refunds, retrieve, and find (a PaymentIntent search by the caller's reference). Sections in the
order every adapter follows: constants (``_constants``) → wire models (``_wire``) → status
tables (here and ``_codes``) → request builders → response parsers → error classifier →
webhook verification and parsing (``_webhooks``)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

import httpx
from pydantic import SecretStr

from paygate import __version__
from paygate._redaction import url_without_credentials
from paygate.adapters.base import (
    ResponseContext,
    endpoint,
    http_request,
    parse_retry_after,
    server_error,
    unexpected_answer,
    unknown_if_mutating,
    validate_body,
)
from paygate.adapters.stripe._codes import advice_for, decline_reason_for, error_code_for
from paygate.adapters.stripe._constants import (
    API_VERSION,
    CAPABILITIES,
    CURRENCIES,
    DEFAULT_BASE_URL,
    PROVIDER,
    REFERENCE_KEY,
    SEARCH_LIMIT,
    money,
)
from paygate.adapters.stripe._webhooks import DEFAULT_TOLERANCE, read_events, verify_signature
from paygate.adapters.stripe._wire import (
    ChargeWire,
    ErrorEnvelopeWire,
    FormValue,
    PaymentIntentWire,
    RefundWire,
    SearchResultWire,
    encode_form,
    form_body,
)
from paygate.errors import (
    CardDeclinedError,
    ErrorCode,
    ErrorContext,
    IdempotencyConflict,
    IdempotencyInFlight,
    InvalidRequestError,
    InvalidWebhookError,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
    TerminalError,
)
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
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
    WebhookEvent,
)
from paygate.money import Money


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

# The terminal error class for a normalized code; anything else is an InvalidRequestError.
_TERMINAL_CLASS: Final[Mapping[ErrorCode, type[TerminalError]]] = MappingProxyType(
    {
        ErrorCode.CARD_DECLINED: CardDeclinedError,
        ErrorCode.IDEMPOTENCY_CONFLICT: IdempotencyConflict,
    }
)
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


class StripeAdapter:
    """Translates canonical operations to Stripe's v1 API and back. Does no I/O."""

    name: Final = PROVIDER
    capabilities: Final = CAPABILITIES

    def __init__(
        self,
        api_key: SecretStr | str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = API_VERSION,
        webhook_secret: SecretStr | str | None = None,
        webhook_tolerance: float = DEFAULT_TOLERANCE,
    ) -> None:
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not self._api_key.get_secret_value():
            raise ValueError("a Stripe secret key is required")
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        if isinstance(webhook_secret, str):
            webhook_secret = SecretStr(webhook_secret)
        if webhook_secret is not None and not webhook_secret.get_secret_value():
            raise ValueError("the Stripe webhook secret is empty; pass None to leave it unset")
        self._webhook_secret = webhook_secret
        if not 0 < webhook_tolerance < float("inf"):
            raise ValueError(
                f"webhook_tolerance must be a positive number of seconds, not {webhook_tolerance!r}"
            )
        self.webhook_tolerance = float(webhook_tolerance)

    def __repr__(self) -> str:
        secrets = "api_key=**********"
        if self._webhook_secret is not None:
            secrets += ", webhook_secret=**********"
        base_url = url_without_credentials(self.base_url)
        return f"paygate.adapters.stripe.StripeAdapter(base_url={base_url!r}, {secrets})"

    # -- request builders ----------------------------------------------------------------------
    def build_request(
        self, request: OperationRequest, *, idempotency_key: str | None
    ) -> httpx.Request:
        headers = {
            "Authorization": f"Bearer {self._api_key.get_secret_value()}",
            "Stripe-Version": self.api_version,
            "User-Agent": f"paygate/{__version__}",
        }
        if isinstance(request, RetrieveRequest | FindRequest):
            # A read: a GET, which Stripe keys by nothing (Idempotency-Key is for POSTs).
            path, params = self._query(request)
            url = httpx.URL(endpoint(f"{self.base_url}{path}"), params=tuple(params))
            return http_request("GET", url, headers)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        path, params = self._form(request)
        url = endpoint(f"{self.base_url}{path}")
        return http_request("POST", url, headers, form_body(params))

    def _query(self, request: RetrieveRequest | FindRequest) -> tuple[str, list[tuple[str, str]]]:
        if isinstance(request, RetrieveRequest):
            path = f"/v1/payment_intents/{request.payment_id}"
            return path, encode_form({"expand": ["latest_charge"]})
        params: dict[str, FormValue] = {
            "query": _search_query(request),
            "limit": SEARCH_LIMIT,
            "expand": ["data.latest_charge"],
        }
        return "/v1/payment_intents/search", encode_form(params)

    def _form(self, request: OperationRequest) -> tuple[str, list[tuple[str, str]]]:
        expand: FormValue = ["latest_charge"]
        if isinstance(request, AuthorizeRequest):
            metadata: dict[str, FormValue] = {**request.metadata, REFERENCE_KEY: request.reference}
            params: dict[str, FormValue] = {
                "amount": _wire_amount(request.amount),
                "currency": request.amount.currency.lower(),
                "confirm": True,
                "capture_method": "automatic" if request.capture else "manual",
                "payment_method_types": ["card"],
                "description": request.description,
                "metadata": metadata,
                "expand": expand,
                **_source_params(request),
            }
            return "/v1/payment_intents", encode_form(params)
        if isinstance(request, CaptureRequest):
            params = {
                "amount_to_capture": _wire_amount(request.amount) if request.amount else None,
                "expand": expand,
            }
            return f"/v1/payment_intents/{request.payment_id}/capture", encode_form(params)
        if isinstance(request, VoidRequest):
            path = f"/v1/payment_intents/{request.payment_id}/cancel"
            return path, encode_form({"expand": expand})
        if isinstance(request, RefundRequest):
            params = {
                "payment_intent": request.payment_id,
                "amount": _wire_amount(request.amount) if request.amount else None,
                "reason": request.reason,
                "metadata": {REFERENCE_KEY: request.reference} if request.reference else None,
            }
            return "/v1/refunds", encode_form(params)
        raise TypeError(f"not a Stripe operation: {type(request).__name__}")  # pragma: no cover

    # -- response parsers ----------------------------------------------------------------------
    def parse_response(
        self, response: httpx.Response, context: ResponseContext
    ) -> Result | PaymentError:
        request_id = response.headers.get("request-id")
        if response.status_code >= 300:
            return self._classify(response, context, request_id)
        request = context.request
        if isinstance(request, FindRequest):
            found = validate_body(
                SearchResultWire, response, context, provider=PROVIDER, request_id=request_id
            )
            if isinstance(found, PaymentError):
                return found
            return _newest_match(found, request, context, response.status_code, request_id)
        if isinstance(request, RefundRequest):
            refund = validate_body(
                RefundWire, response, context, provider=PROVIDER, request_id=request_id
            )
            if isinstance(refund, PaymentError):
                return refund
            return _refund(refund, context)
        intent = validate_body(
            PaymentIntentWire, response, context, provider=PROVIDER, request_id=request_id
        )
        if isinstance(intent, PaymentError):
            return intent
        return _payment(intent, context, request_id)

    # -- error classifier ----------------------------------------------------------------------
    def _classify(
        self, response: httpx.Response, context: ResponseContext, request_id: str | None
    ) -> PaymentError:
        status = response.status_code
        op = context.request.operation
        hint = _should_retry(response)
        base: ErrorContext = {
            "provider": PROVIDER,
            "http_status": status,
            "request_id": request_id,
            "idempotency_key": context.idempotency_key,
            "provider_retry_hint": hint,
            "retry_after": parse_retry_after(response.headers),
        }
        if status < 400:  # Stripe's API never redirects
            return unexpected_answer(PROVIDER, response, context, base)
        envelope = validate_body(
            ErrorEnvelopeWire, response, context, provider=PROVIDER, request_id=request_id
        )
        if isinstance(envelope, PaymentError):
            # An error status without Stripe's error object: judge by the status alone.
            return _by_status(response, context, base)
        error = envelope.error
        base["provider_code"] = error.code or error.type
        base["decline_code"] = error.decline_code
        base["provider_body"] = response.json()
        base["payment_id"] = error.payment_intent.id if error.payment_intent else None
        message = error.message or f"Stripe answered HTTP {status} ({error.type})"
        if status == 429:
            return RetriableError(message, code=ErrorCode.RATE_LIMITED, **base)
        if status >= 500 or status == _DEPENDENCY_FAILED or error.type == "api_error":
            return server_error(op, message, base)
        code = error_code_for(error.type, error.code)
        if error.code is None:  # e.g. a bad key: 401, type invalid_request_error, no code
            code = STATUS_CODES.get(status, code)
        if error.code == "amount_too_large":
            code = AMOUNT_TOO_LARGE.get(op, code)
        if code is ErrorCode.IDEMPOTENCY_IN_FLIGHT:
            return IdempotencyInFlight(message, **base)
        if code is ErrorCode.CARD_DECLINED or error.type == "card_error":
            reason = decline_reason_for(error.decline_code, error.code)
            return CardDeclinedError(
                message,
                reason=reason,
                advice=advice_for(reason, error.advice_code),
                **base,
            )
        if code in {ErrorCode.RATE_LIMITED, ErrorCode.PROVIDER_UNAVAILABLE}:
            return RetriableError(message, code=code, **base)
        cls = _TERMINAL_CLASS.get(code, InvalidRequestError)
        return cls(message, code=code, **base)

    # -- webhook verification and parsing ------------------------------------------------------
    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: float
    ) -> list[WebhookEvent]:
        """Verify a delivery's ``Stripe-Signature`` (signature first, then its age), then read
        its one event; see ``_webhooks`` for the checks and the event table."""
        if self._webhook_secret is None:
            raise InvalidWebhookError(
                "no Stripe webhook secret is configured, and an unsigned delivery is never "
                "trusted: pass webhook_secret (whsec_...) to the adapter",
                code=ErrorCode.WEBHOOK_SIGNATURE_INVALID,
                provider=PROVIDER,
            )
        verify_signature(
            headers, body, secret=self._webhook_secret, now=now, tolerance=self.webhook_tolerance
        )
        return read_events(body)


def _should_retry(response: httpx.Response) -> bool | None:
    """Stripe's own hint. A replayed 5xx is saved under the key: repeating it replays it again."""
    if response.status_code >= 500 and _is_true(response.headers.get("idempotent-replayed")):
        return False
    value = response.headers.get("stripe-should-retry")
    return None if value is None else _is_true(value)


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"


def _by_status(
    response: httpx.Response, context: ResponseContext, base: ErrorContext
) -> PaymentError:
    """An error status without Stripe's error object. A 429 or a 5xx says the same whoever
    sent it; any other status came from something in between and says nothing of Stripe."""
    status = response.status_code
    message = f"Stripe answered HTTP {status} without an error object"
    with_body: ErrorContext = {**base, "provider_body": response.text[:2000]}
    if status == 429:
        return RetriableError(message, code=ErrorCode.RATE_LIMITED, **with_body)
    if status >= 500 or status == _DEPENDENCY_FAILED:
        return server_error(context.request.operation, message, with_body)
    return unexpected_answer(PROVIDER, response, context, base)


def _wire_amount(amount: Money) -> int:
    return CURRENCIES[amount.currency].to_wire(amount)


def _search_query(request: FindRequest) -> str:
    """Stripe search syntax for a find: the reference in metadata, and, when asked, the amount
    (minor units) and its currency, joined by AND. A quote inside a quoted value is escaped
    with a backslash (Stripe's search docs); no escape is documented for a backslash itself, so
    a reference with one is refused here, before anything is sent."""
    if "\\" in request.reference:
        raise InvalidRequestError(
            "Stripe's search syntax documents no escape for a backslash, so a reference "
            "containing one cannot be searched for; nothing was sent",
            code=ErrorCode.UNSUPPORTED,
            provider=PROVIDER,
        )
    clauses = [f"metadata['{REFERENCE_KEY}']:{_quoted(request.reference)}"]
    if request.amount is not None:
        clauses.append(f"amount:{_wire_amount(request.amount)}")
        clauses.append(f"currency:{_quoted(request.amount.currency.lower())}")
    return " AND ".join(clauses)


def _quoted(value: str) -> str:
    escaped = value.replace("'", "\\'")
    return f"'{escaped}'"


def _source_params(request: AuthorizeRequest) -> dict[str, FormValue]:
    source = request.source
    if source.card_details is None:
        return {"payment_method": source.token_id, "customer": source.customer}
    card = source.card_details
    return {
        "payment_method_data": {
            "type": "card",
            "card": {
                "number": card.number.get_secret_value(),
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "cvc": card.cvc.get_secret_value() if card.cvc else None,
            },
            "billing_details": {"name": card.holder_name} if card.holder_name else None,
        }
    }


def _payment(
    intent: PaymentIntentWire, context: ResponseContext, request_id: str | None
) -> Payment | PaymentError:
    try:
        base_status = STATUS_MAP[IntentStatus(intent.status)]
        currency = CURRENCIES[intent.currency.upper()]
    except (ValueError, KeyError):
        error_cls = unknown_if_mutating(context.request.operation)
        return error_cls(
            f"Stripe returned a PaymentIntent with an unknown status or currency "
            f"({intent.status!r}, {intent.currency!r})",
            code=ErrorCode.SCHEMA_VIOLATION,
            provider=PROVIDER,
            request_id=request_id,
            idempotency_key=context.idempotency_key,
            payment_id=intent.id,
            provider_body=intent.model_dump(mode="json"),
        )
    code = intent.currency.upper()
    charge = intent.latest_charge if isinstance(intent.latest_charge, ChargeWire) else None
    authorized = charge.amount if charge and charge.status == "succeeded" else 0
    captured = intent.amount_received
    refunded = charge.amount_refunded if charge and charge.captured else 0
    status = _refine(base_status, intent, captured, refunded)
    next_action = None
    if intent.next_action is not None:
        redirect = intent.next_action.redirect_to_url or {}
        next_action = NextAction(type=intent.next_action.type, redirect_url=redirect.get("url"))
    return Payment(
        id=intent.id,
        provider=PROVIDER,
        status=status,
        amount=currency.from_wire(intent.amount, code),
        amount_authorized=currency.from_wire(authorized, code),
        amount_captured=currency.from_wire(captured, code),
        amount_refunded=currency.from_wire(refunded, code),
        reference=intent.metadata.get(REFERENCE_KEY),
        idempotency_key=context.idempotency_key,
        provider_status=intent.status,
        next_action=next_action,
        livemode=intent.livemode,
    )


def _newest_match(
    page: SearchResultWire,
    request: FindRequest,
    context: ResponseContext,
    http_status: int,
    request_id: str | None,
) -> Payment | PaymentError:
    """The newest PaymentIntent (by ``created``) of the page that carries exactly the reference
    (and amount) asked for, read as retrieve reads one. Stripe matches metadata without regard
    to case, so its matches are checked again here. Two created in the same second keep
    Stripe's order. Only this page is read: past ``SEARCH_LIMIT`` matches, the caller reused
    the reference."""
    wanted: tuple[int, str] | None = None
    if request.amount is not None:
        wanted = (_wire_amount(request.amount), request.amount.currency.lower())
    matches = [
        intent
        for intent in page.data
        if intent.metadata.get(REFERENCE_KEY) == request.reference
        and (wanted is None or (intent.amount, intent.currency.lower()) == wanted)
    ]
    base: ErrorContext = {
        "provider": PROVIDER,
        "http_status": http_status,
        "request_id": request_id,
    }
    if not matches:
        asked = f"reference {request.reference!r}"
        if request.amount is not None:
            asked += f" and amount {request.amount}"
        more = " (Stripe had more results than the page read)" if page.has_more else ""
        return TerminalError(
            f"no Stripe PaymentIntent found with {asked}{more}. Stripe's search is eventually "
            "consistent: a payment created in the last minute (longer during an incident) may "
            "not show yet, so search again later before concluding there is none",
            code=ErrorCode.NOT_FOUND,
            **base,
        )
    if len(matches) > 1 and any(intent.created is None for intent in matches):
        base["provider_body"] = page.model_dump(mode="json")
        return TerminalError(
            "Stripe returned matching PaymentIntents without their creation time, so the "
            "newest cannot be told",
            code=ErrorCode.SCHEMA_VIOLATION,
            **base,
        )
    newest = max(matches, key=lambda intent: intent.created or 0)  # the first of equals
    return _payment(newest, context, request_id)


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


def _refund(refund: RefundWire, context: ResponseContext) -> Refund | PaymentError:
    status = REFUND_STATUS_MAP.get(refund.status or "")
    if status is None or refund.payment_intent is None or refund.currency.upper() not in CURRENCIES:
        return OutcomeUnknown(
            f"Stripe returned a refund paygate cannot read (status {refund.status!r}, "
            f"payment_intent {refund.payment_intent!r}, currency {refund.currency!r})",
            code=ErrorCode.SCHEMA_VIOLATION,
            provider=PROVIDER,
            idempotency_key=context.idempotency_key,
            provider_body=refund.model_dump(mode="json"),
        )
    return Refund(
        id=refund.id,
        provider=PROVIDER,
        payment_id=refund.payment_intent,
        status=status,
        amount=money(refund.amount, refund.currency),
        reference=(refund.metadata or {}).get(REFERENCE_KEY),
        idempotency_key=context.idempotency_key,
        provider_status=refund.status or "",
    )
