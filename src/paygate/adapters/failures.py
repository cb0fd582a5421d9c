"""What an adapter says about a failed exchange: a classification, never an exception class.

An adapter reads the provider's answer and says *what* it is: a decline, the provider's own
refusal, a rate limit, a provider failure, an answer that broke the schema, one that is not the
provider's at all, ... Whether that is retriable, terminal or an unknown outcome depends on
what only the core knows (whether the call mutates, how far the request got), so the core
decides it, once, in ``paygate._decision``.

Each classification is a frozen value holding a ``Context`` (what every error carries: the
provider, its request id, the HTTP status, the provider's own code and body, the message, ...)
and what is particular to its kind. The core turns it into the ``PaymentError`` it raises.

``error_status`` is the skeleton every adapter's error classification shares: a redirect, a
429 and a failure status say the same whoever sent them; only the provider's own error object
needs the adapter's tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, ClassVar, Final, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from paygate.errors import DeclineReason, ErrorCode, RetryAdvice

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "Context",
    "Declined",
    "Failure",
    "InFlight",
    "KeyConflict",
    "Kind",
    "Mismatch",
    "NotFound",
    "ProviderError",
    "ProviderFailed",
    "RateLimited",
    "SchemaViolation",
    "TransportFailure",
    "UnexpectedAnswer",
    "Unread",
    "Unsendable",
    "error_status",
    "unexpected_answer",
    "validate_body",
]

_BODY_TEXT: Final = 2000  # how much of a body that is not the provider's JSON is kept


class Kind(StrEnum):
    """What a failure is. The core's decision table has one row per kind."""

    # From the provider's answer (what an adapter returns).
    DECLINED = "declined"
    REFUSED = "refused"  # the provider's own refusal of the request
    NOT_PROCESSED = "not_processed"  # the provider's error, with its word that nothing happened
    RATE_LIMITED = "rate_limited"
    PROVIDER_FAILED = "provider_failed"  # a 5xx, a failed dependency: it may have acted first
    SCHEMA_VIOLATION = "schema_violation"
    UNEXPECTED_ANSWER = "unexpected_answer"  # not in the provider's format: a proxy, a redirect
    NOT_FOUND = "not_found"
    IN_FLIGHT = "in_flight"  # another request under the key is still being processed
    KEY_CONFLICT = "key_conflict"  # the key was used for another request
    # From the exchange itself (what the core classifies).
    UNREAD = "unread"  # an answer paygate would not read: too large, or undecodable
    MISMATCH = "mismatch"  # an answer that does not echo the request (the integrity check)
    TRANSPORT = "transport"  # no answer: the network failed, or a timeout
    UNSENDABLE = "unsendable"  # the request could not be made at all


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What every error carries, as the adapter (or the core) read it from the exchange.

    ``provider_code`` is set only from the provider's own error object (or, for a decline
    answered with 200, its result code): it is what tells the provider's refusal from a
    proxy's. ``provider_body`` is redacted when the error is built."""

    provider: str
    message: str
    http_status: int | None = None
    request_id: str | None = None
    idempotency_key: str | None = None
    payment_id: str | None = None
    provider_code: str | None = None
    decline_code: str | None = None
    provider_body: Any = None
    retry_after: float | None = None
    provider_retry_hint: bool | None = None

    @classmethod
    def of_answer(
        cls, provider: str, response: httpx.Response, request_id: str | None, key: str | None
    ) -> Context:
        """The context of an answer as it arrives: its status, the provider's request id (each
        provider names its header) and the call's idempotency key; no message yet."""
        return cls(
            provider=provider,
            message="",
            http_status=response.status_code,
            request_id=request_id,
            idempotency_key=key,
        )


@dataclass(frozen=True, slots=True)
class Declined:
    """The card was declined (by the issuer, the network or the provider's risk checks)."""

    context: Context
    reason: DeclineReason = DeclineReason.UNKNOWN
    advice: RetryAdvice = RetryAdvice.UNKNOWN
    # The card network's own advice and decline code, as the provider passed them on.
    network_advice_code: str | None = None
    network_decline_code: str | None = None
    kind: ClassVar[Kind] = Kind.DECLINED
    code: ClassVar[ErrorCode] = ErrorCode.CARD_DECLINED


@dataclass(frozen=True, slots=True)
class ProviderError:
    """The provider's own error object, normalized to ``code``. ``not_processed``: the provider
    says it did nothing (Adyen's ``transient-error``, Stripe's lock timeout), so the same key
    may be repeated; otherwise it is the provider's refusal of the request."""

    context: Context
    code: ErrorCode
    not_processed: bool = False

    @property
    def kind(self) -> Kind:
        return Kind.NOT_PROCESSED if self.not_processed else Kind.REFUSED


@dataclass(frozen=True, slots=True)
class RateLimited:
    """A 429: refused for the pace of requests, before anything was processed."""

    context: Context
    kind: ClassVar[Kind] = Kind.RATE_LIMITED
    code: ClassVar[ErrorCode] = ErrorCode.RATE_LIMITED


@dataclass(frozen=True, slots=True)
class ProviderFailed:
    """A 5xx, a failed dependency (Stripe's 424) or the provider's internal error: it may have
    acted before it failed (a 503 too: a load balancer's may come after the commit)."""

    context: Context
    kind: ClassVar[Kind] = Kind.PROVIDER_FAILED
    code: ClassVar[ErrorCode] = ErrorCode.PROVIDER_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """An answer in the provider's format that paygate cannot use: not JSON, a broken schema,
    a status or currency it does not know. ``context.provider_body`` keeps what was read."""

    context: Context
    kind: ClassVar[Kind] = Kind.SCHEMA_VIOLATION
    code: ClassVar[ErrorCode] = ErrorCode.SCHEMA_VIOLATION


@dataclass(frozen=True, slots=True)
class UnexpectedAnswer:
    """An answer not in the provider's API format (a redirect, a proxy's or a firewall's
    page): no account of what the provider did, and never its refusal."""

    context: Context
    kind: ClassVar[Kind] = Kind.UNEXPECTED_ANSWER
    code: ClassVar[ErrorCode] = ErrorCode.UNEXPECTED_RESPONSE


@dataclass(frozen=True, slots=True)
class NotFound:
    """Nothing matches what was asked for (a search with no match)."""

    context: Context
    kind: ClassVar[Kind] = Kind.NOT_FOUND
    code: ClassVar[ErrorCode] = ErrorCode.NOT_FOUND


@dataclass(frozen=True, slots=True)
class InFlight:
    """Another request under the same key is still being processed by the provider."""

    context: Context
    kind: ClassVar[Kind] = Kind.IN_FLIGHT
    code: ClassVar[ErrorCode] = ErrorCode.IDEMPOTENCY_IN_FLIGHT


@dataclass(frozen=True, slots=True)
class KeyConflict:
    """The idempotency key was already used with other parameters."""

    context: Context
    kind: ClassVar[Kind] = Kind.KEY_CONFLICT
    code: ClassVar[ErrorCode] = ErrorCode.IDEMPOTENCY_CONFLICT


@dataclass(frozen=True, slots=True)
class Unread:
    """An answer paygate would not read: larger than its limit (``too_large``), or a body it
    could not decode."""

    context: Context
    too_large: bool
    kind: ClassVar[Kind] = Kind.UNREAD

    @property
    def code(self) -> ErrorCode:
        return ErrorCode.RESPONSE_TOO_LARGE if self.too_large else ErrorCode.SCHEMA_VIOLATION


@dataclass(frozen=True, slots=True)
class Mismatch:
    """An answer that differs from what was asked (amount, currency, reference, payment)."""

    context: Context
    kind: ClassVar[Kind] = Kind.MISMATCH
    code: ClassVar[ErrorCode] = ErrorCode.INTEGRITY_MISMATCH


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """No answer: the network failed or a timeout fired (``code``: ``network``, ``timeout``,
    or ``schema_violation`` for a body the HTTP layer could not decode)."""

    context: Context
    code: ErrorCode
    kind: ClassVar[Kind] = Kind.TRANSPORT


@dataclass(frozen=True, slots=True)
class Unsendable:
    """The request could not be made at all (a bug or a bad configuration)."""

    context: Context
    kind: ClassVar[Kind] = Kind.UNSENDABLE
    code: ClassVar[ErrorCode] = ErrorCode.INVALID_REQUEST


Failure = (
    Declined
    | ProviderError
    | RateLimited
    | ProviderFailed
    | SchemaViolation
    | UnexpectedAnswer
    | NotFound
    | InFlight
    | KeyConflict
    | Unread
    | Mismatch
    | TransportFailure
    | Unsendable
)


# -- helpers every adapter shares ----------------------------------------------------------------
def validate_body(model: type[M], response: httpx.Response, base: Context) -> M | SchemaViolation:
    """Decode and validate a provider body against the adapter's wire model, in one pass
    (pydantic parses the JSON itself; the body is decoded a second time only to report it).

    A body that is not JSON or breaks the model is a schema violation that keeps the body.
    ``base`` is the exchange's context; the violation's message and body replace its own."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        errors = exc.errors()
    body: object
    if errors and errors[0]["type"] == "json_invalid":
        message = (
            f"{base.provider} answered HTTP {response.status_code} with a body that is not JSON"
        )
        body = response.text[:_BODY_TEXT]
    else:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "<root>" for e in errors)
        message = f"{base.provider} response broke the expected schema at: {fields}"
        try:
            body = json.loads(response.content)
        except ValueError:  # JSON to pydantic's parser, not to Python's (a lone surrogate, say)
            body = response.text[:_BODY_TEXT]
    return SchemaViolation(replace(base, message=message, provider_body=body))


def unexpected_answer(response: httpx.Response, base: Context) -> UnexpectedAnswer:
    """An answer that is not in the provider's API format: a redirect, or an error status with
    an HTML page or someone else's body. Its ``provider_code`` stays unset."""
    status = response.status_code
    kind = "a redirect" if 300 <= status < 400 else f"HTTP {status}"
    message = (
        f"{base.provider} answered with {kind} not in its API's format (a proxy, load balancer "
        "or firewall in between?); what the provider did is unknown"
    )
    return UnexpectedAnswer(
        replace(base, message=message, provider_code=None, provider_body=response.text[:_BODY_TEXT])
    )


def error_status(
    response: httpx.Response,
    base: Context,
    own: Callable[[], Failure] | None,
    *,
    failed: bool,
    not_processed: bool = False,
    own_format: str = "an error object",
) -> Failure:
    """The classification of an answer with a status of 300 or more, in the order every
    adapter follows:

    1. a redirect: an unexpected answer (no provider API here redirects);
    2. a 429 is rate limited and a failure status (``failed``: a 5xx, or what the adapter
       counts as one) a provider failure, whoever sent them: in the provider's own error
       format, with its code and body (``base`` holds them then), else with the raw body;
    3. the provider's own error object: ``own()``, the adapter's reading of it through its
       tables (``own`` None: the body is not the provider's error object);
    4. otherwise, the provider's mark that nothing was processed (``not_processed``), or an
       answer from something in between that says nothing of the provider.

    ``own_format`` names the provider's error format in the message of a bare status."""
    status = response.status_code
    if status < 400:
        return unexpected_answer(response, base)
    context = base
    if own is None:
        message = f"{base.provider} answered HTTP {status} without {own_format}"
        context = replace(base, message=message, provider_body=response.text[:_BODY_TEXT])
    if status == 429:
        return RateLimited(context)
    if failed:
        return ProviderFailed(context)
    if own is not None:
        return own()
    if not_processed:
        return ProviderError(context, ErrorCode.PROVIDER_UNAVAILABLE, not_processed=True)
    return unexpected_answer(response, base)
