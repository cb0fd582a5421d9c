"""paygate's error taxonomy: one module, branches named after what the caller does next.

::

    PaymentError
    ├── RetriableError            safe to try again with the same idempotency key
    │   ├── CircuitOpen
    │   ├── BulkheadFull
    │   ├── IdempotencyInFlight
    │   └── StoreUnavailable
    ├── TerminalError             trying again cannot help
    │   ├── CardDeclinedError
    │   ├── InvalidRequestError   also a TypeError and a ValueError: bad input
    │   ├── IdempotencyConflict
    │   ├── InvalidWebhookError
    │   └── ConfigurationError    also a ValueError: a setting is wrong, before any call
    └── OutcomeUnknown            the provider may have acted: reconcile, never treat as failed

Every error carries its context as keyword-only attributes: the normalized ``code``, the
``provider`` and its own ``provider_code`` / ``decline_code``, the ``http_status``, the provider's
``request_id``, the ``idempotency_key``, a redacted copy of the provider's error body
(``provider_body``), the provider's payment id when known, ``retry_after`` (seconds the provider
asked to wait) and ``provider_retry_hint`` (the provider's own advice on repeating the request,
e.g. Stripe-Should-Retry). ``provider_code`` is set only when the answer carried the provider's
own error object (or, for a decline answered with 200, its result code): an error status in
any other format came from something in between (a proxy, a load balancer, a firewall) and is
``unexpected_response``.

``InvalidRequestError`` is also a ``TypeError`` and a ``ValueError``. Bad input of every kind
(a float amount, a reference that is not a string, a key with control characters, an amount
above the provider's limit) is refused with this one class, before anything is sent, so a
caller catches one paygate error for it. ``Money`` and ``Currency`` raised ``TypeError`` and
``ValueError`` before they raised paygate errors, and code written against that (``except
(TypeError, ValueError)``) must keep working: inheriting both builtins keeps it working
without a leaf per builtin (which would split bad input over three classes) and without a
third level in the tree above (``InvalidRequestError`` stays a leaf; the builtins are not
paygate classes and are not drawn). The cost: a bare ``except ValueError`` or ``except
TypeError`` around a gateway call also catches the provider's own refusal of a request. Both
mean the same thing, that this request is wrong and repeating it as it is cannot help, so
paygate accepts that.

Messages and ``str(error)`` never carry control characters: they are escaped (``\\x07``),
so an idempotency key or a provider's text cannot forge log lines.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypedDict

from paygate._redaction import escape_controls, redact, redact_text

__all__ = [
    "BulkheadFull",
    "CardDeclinedError",
    "CircuitOpen",
    "ConfigurationError",
    "DeclineReason",
    "ErrorCode",
    "ErrorContext",
    "IdempotencyConflict",
    "IdempotencyInFlight",
    "InvalidRequestError",
    "InvalidWebhookError",
    "OutcomeUnknown",
    "PaymentError",
    "RetriableError",
    "RetryAdvice",
    "StoreUnavailable",
    "TerminalError",
]


class ErrorCode(StrEnum):
    """One set of codes for every provider."""

    CARD_DECLINED = "card_declined"
    INVALID_REQUEST = "invalid_request"
    UNSUPPORTED = "unsupported"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    INVALID_STATE = "invalid_state"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    IDEMPOTENCY_IN_FLIGHT = "idempotency_in_flight"
    AMOUNT_EXCEEDS_CAPTURABLE = "amount_exceeds_capturable"
    AMOUNT_EXCEEDS_REFUNDABLE = "amount_exceeds_refundable"
    AMOUNT_INVALID = "amount_invalid"
    REATTEMPT_LIMITED = "reattempt_limited"
    RATE_LIMITED = "rate_limited"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    NETWORK = "network"
    TIMEOUT = "timeout"
    CIRCUIT_OPEN = "circuit_open"
    BULKHEAD_FULL = "bulkhead_full"
    STORE_UNAVAILABLE = "store_unavailable"
    SCHEMA_VIOLATION = "schema_violation"
    RESPONSE_TOO_LARGE = "response_too_large"
    UNEXPECTED_RESPONSE = "unexpected_response"
    INTEGRITY_MISMATCH = "integrity_mismatch"
    WEBHOOK_SIGNATURE_INVALID = "webhook_signature_invalid"
    WEBHOOK_STALE = "webhook_stale"
    WEBHOOK_MALFORMED = "webhook_malformed"
    CONFIGURATION = "configuration"
    UNKNOWN = "unknown"


class DeclineReason(StrEnum):
    """Why an issuer or the provider's risk engine refused a card, normalized."""

    GENERIC = "generic"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CVC = "incorrect_cvc"
    INCORRECT_NUMBER = "incorrect_number"
    INCORRECT_PIN = "incorrect_pin"
    INCORRECT_ADDRESS = "incorrect_address"
    FRAUD_SUSPECTED = "fraud_suspected"
    LOST_OR_STOLEN = "lost_or_stolen"
    CARD_NOT_SUPPORTED = "card_not_supported"
    CURRENCY_NOT_SUPPORTED = "currency_not_supported"
    RESTRICTED_CARD = "restricted_card"
    LIMIT_EXCEEDED = "limit_exceeded"
    DUPLICATE_TRANSACTION = "duplicate_transaction"
    AUTHENTICATION_REQUIRED = "authentication_required"
    ISSUER_UNAVAILABLE = "issuer_unavailable"
    PROCESSING_ERROR = "processing_error"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_ACCOUNT = "invalid_account"
    DO_NOT_HONOR = "do_not_honor"
    CALL_ISSUER = "call_issuer"
    TEST_MODE = "test_mode"
    UNKNOWN = "unknown"


class RetryAdvice(StrEnum):
    """Whether a *new* attempt (a new idempotency key, later) is advisable after a decline.

    The transport never retries a decline: the same key would only replay it, and repeating
    some declines draws card-network fines. This is advice to the caller's business logic.
    """

    RETRY_LATER = "retry_later"
    UPDATE_PAYMENT_DETAILS = "update_payment_details"
    DO_NOT_RETRY = "do_not_retry"
    UNKNOWN = "unknown"


class ErrorContext(TypedDict, total=False):
    """The keyword context an error is built with, for code that assembles it in steps."""

    provider: str | None
    provider_code: str | None
    decline_code: str | None
    http_status: int | None
    request_id: str | None
    idempotency_key: str | None
    provider_body: Any
    payment_id: str | None
    retry_after: float | None
    provider_retry_hint: bool | None


class PaymentError(Exception):
    """Base of every error paygate raises. Catch a branch, not this, in service code."""

    retriable: bool = False
    default_code: ErrorCode = ErrorCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        provider: str | None = None,
        provider_code: str | None = None,
        decline_code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        provider_body: Any = None,
        payment_id: str | None = None,
        retry_after: float | None = None,
        provider_retry_hint: bool | None = None,
    ) -> None:
        self.message = escape_controls(redact_text(message))
        super().__init__(self.message)
        self.code = code or self.default_code
        self.provider = provider
        self.provider_code = provider_code
        self.decline_code = decline_code
        self.http_status = http_status
        self.request_id = request_id
        self.idempotency_key = idempotency_key
        self.provider_body = redact(provider_body)
        self.payment_id = payment_id
        self.retry_after = retry_after
        self.provider_retry_hint = provider_retry_hint

    def __str__(self) -> str:
        context = ", ".join(
            f"{name}={escape_controls(str(value))}"
            for name, value in (
                ("code", self.code.value),
                ("provider", self.provider),
                ("provider_code", self.provider_code),
                ("decline_code", self.decline_code),
                ("http_status", self.http_status),
                ("request_id", self.request_id),
                ("idempotency_key", self.idempotency_key),
                ("payment_id", self.payment_id),
            )
            if value is not None
        )
        return f"{self.message} ({context})"

    def __repr__(self) -> str:
        return f"paygate.errors.{type(self).__name__}({self.message!r}, code={self.code.value!r})"


class RetriableError(PaymentError):
    """Nothing happened at the provider, or repeating with the same key is safe."""

    retriable = True
    default_code = ErrorCode.PROVIDER_UNAVAILABLE


class TerminalError(PaymentError):
    """The provider refused the request; repeating it cannot change the answer."""

    default_code = ErrorCode.INVALID_REQUEST


class OutcomeUnknown(PaymentError):
    """The provider may or may not have acted. Never treat as failed: reconcile.

    Repeat the call with the same idempotency key (it is on this error), or retrieve the
    payment, or wait for the provider's webhook.
    """

    default_code = ErrorCode.UNKNOWN


class CircuitOpen(RetriableError):
    """The provider's circuit breaker is open: refused locally, nothing was sent."""

    default_code = ErrorCode.CIRCUIT_OPEN


class BulkheadFull(RetriableError):
    """Too many calls in flight to this provider: refused locally, nothing was sent."""

    default_code = ErrorCode.BULKHEAD_FULL


class IdempotencyInFlight(RetriableError):
    """Another call with the same idempotency key is still running. Retry later, same key."""

    default_code = ErrorCode.IDEMPOTENCY_IN_FLIGHT


class StoreUnavailable(RetriableError):
    """paygate's idempotency or payment record store cannot be reached in time: refused before
    anything was sent (at a call, or when the store is opened). Try again once it is back."""

    default_code = ErrorCode.STORE_UNAVAILABLE


class CardDeclinedError(TerminalError):
    """The card was declined. ``reason`` is normalized; ``advice`` says whether to try anew
    (the provider's advice when it gave one, else the network's, else the reason's). The raw
    codes: ``decline_code`` is the provider's; ``network_advice_code`` (Mastercard's merchant
    advice code: ``"03"``) and ``network_decline_code`` (the network's or acquirer's own
    refusal) are the network's, when the provider passed them on."""

    default_code = ErrorCode.CARD_DECLINED

    def __init__(
        self,
        message: str,
        *,
        reason: DeclineReason = DeclineReason.UNKNOWN,
        advice: RetryAdvice = RetryAdvice.UNKNOWN,
        network_advice_code: str | None = None,
        network_decline_code: str | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.reason = reason
        self.advice = advice
        self.network_advice_code = network_advice_code
        self.network_decline_code = network_decline_code

    def __str__(self) -> str:
        network = "".join(
            f", {name}={escape_controls(value)}"
            for name, value in (
                ("network_advice_code", self.network_advice_code),
                ("network_decline_code", self.network_decline_code),
            )
            if value is not None
        )
        return (
            f"{super().__str__()} [reason={self.reason.value}, advice={self.advice.value}{network}]"
        )


class InvalidRequestError(TerminalError, TypeError, ValueError):
    """The request is malformed, unsupported or not allowed in the payment's current state.

    Refused by paygate before anything was sent (``http_status`` is None), or by the provider.
    Also a ``TypeError`` and a ``ValueError``, for code that catches those (see the module).
    """


class IdempotencyConflict(TerminalError):
    """The idempotency key was already used with different parameters."""

    default_code = ErrorCode.IDEMPOTENCY_CONFLICT


class InvalidWebhookError(TerminalError):
    """A webhook delivery that cannot be trusted or read: forged (bad signature), stale (outside
    the tolerance window) or malformed. Nothing was applied; answer the sender with a 4xx."""

    default_code = ErrorCode.WEBHOOK_SIGNATURE_INVALID


class ConfigurationError(TerminalError, ValueError):
    """paygate is configured wrongly: a setting, a settings file or a store needs fixing before
    any gateway can be built. Raised when settings are loaded or a gateway is built from them,
    never by a call. The message names each setting as an environment variable and a TOML key,
    says what is wrong and how to fix it, and never repeats a value given. Also a
    ``ValueError``, as pydantic's validation error it replaces was."""

    default_code = ErrorCode.CONFIGURATION
