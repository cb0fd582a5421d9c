"""Stripe, sans-IO: PaymentIntents (manual capture for authorize, automatic for purchase),
Refunds, retrieve, and find (a PaymentIntent search by the caller's reference). Sections in the
order every adapter follows: constants (``_constants``) → wire models (``_wire``) → status
tables (here and ``_codes``) → request builders → response parsers → error classifier →
webhook verification and parsing (``_webhooks``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from enum import StrEnum
from types import MappingProxyType
from typing import Final

import httpx
from pydantic import SecretStr

from paygate import __version__
from paygate._redaction import url_without_credentials
from paygate.adapters.base import ResponseContext, endpoint, http_request, parse_retry_after
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
from paygate.errors import ErrorCode, InvalidRequestError, InvalidWebhookError
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
    def validate(self, request: OperationRequest) -> None:
        """Stripe's rules that ``CAPABILITIES`` cannot express. A quote inside a quoted search
        value is escaped with a backslash (Stripe's search docs); no escape is documented for
        a backslash itself, so a reference with one cannot be searched for."""
        if isinstance(request, FindRequest) and "\\" in request.reference:
            raise InvalidRequestError(
                "Stripe's search syntax documents no escape for a backslash, so a reference "
                "containing one cannot be searched for; nothing was sent",
                code=ErrorCode.UNSUPPORTED,
                provider=PROVIDER,
            )

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
    ) -> Result | Failure:
        base = Context(
            provider=PROVIDER,
            message="",
            http_status=response.status_code,
            request_id=response.headers.get("request-id"),
            idempotency_key=context.idempotency_key,
        )
        if response.status_code >= 300:
            return self._classify(response, context, base)
        request = context.request
        if isinstance(request, FindRequest):
            found = validate_body(SearchResultWire, response, base)
            if isinstance(found, SchemaViolation):
                return found
            return _newest_match(found, request, context, base)
        if isinstance(request, RefundRequest):
            refund = validate_body(RefundWire, response, base)
            if isinstance(refund, SchemaViolation):
                return refund
            return _refund(refund, context, base)
        intent = validate_body(PaymentIntentWire, response, base)
        if isinstance(intent, SchemaViolation):
            return intent
        return _payment(intent, context, base)

    # -- error classifier ----------------------------------------------------------------------
    def _classify(
        self, response: httpx.Response, context: ResponseContext, base: Context
    ) -> Failure:
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
                return Declined(own, reason, advice_for(reason, error.advice_code))
            if kind is not None:
                return kind(own)
            return ProviderError(own, code, not_processed=code in _NOT_PROCESSED)

        return error_status(response, own, stripes, failed=failed or error.type == "api_error")

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


def _wire_amount(amount: Money) -> int:
    return CURRENCIES[amount.currency].to_wire(amount)


def _search_query(request: FindRequest) -> str:
    """Stripe search syntax for a find: the reference in metadata, and, when asked, the amount
    (minor units) and its currency, joined by AND. A quote inside a quoted value is escaped
    with a backslash; a reference with a backslash is refused by ``validate``."""
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
    intent: PaymentIntentWire, context: ResponseContext, base: Context
) -> Payment | SchemaViolation:
    try:
        base_status = STATUS_MAP[IntentStatus(intent.status)]
        currency = CURRENCIES[intent.currency.upper()]
    except (ValueError, KeyError):
        message = (
            f"Stripe returned a PaymentIntent with an unknown status or currency "
            f"({intent.status!r}, {intent.currency!r})"
        )
        unread = replace(
            base,
            message=message,
            payment_id=intent.id,
            provider_body=intent.model_dump(mode="json"),
        )
        return SchemaViolation(unread)
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
    page: SearchResultWire, request: FindRequest, context: ResponseContext, base: Context
) -> Payment | Failure:
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
    status = REFUND_STATUS_MAP.get(refund.status or "")
    if status is None or refund.payment_intent is None or refund.currency.upper() not in CURRENCIES:
        message = (
            f"Stripe returned a refund paygate cannot read (status {refund.status!r}, "
            f"payment_intent {refund.payment_intent!r}, currency {refund.currency!r})"
        )
        return SchemaViolation(
            replace(base, message=message, provider_body=refund.model_dump(mode="json"))
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
