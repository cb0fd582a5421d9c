"""The adapter protocol, declared capabilities, and helpers every adapter shares."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from paygate.errors import (
    ErrorCode,
    InvalidRequestError,
    OutcomeUnknown,
    PaymentError,
    TerminalError,
)
from paygate.models import Operation, OperationRequest, Result
from paygate.money import Money, ProviderCurrency

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "Adapter",
    "Capabilities",
    "ResponseContext",
    "parse_retry_after",
    "validate_body",
]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider supports, declared as data and checked before any I/O."""

    operations: frozenset[Operation]
    currencies: Mapping[str, ProviderCurrency]
    partial_capture: bool
    multiple_captures: bool
    partial_refund: bool
    multiple_refunds: bool
    three_ds: bool
    raw_card_data: bool
    # The provider replays the first response for a repeated Idempotency-Key, so an ambiguous
    # mutating call may be repeated with the same key without acting twice.
    idempotent_replay: bool
    max_idempotency_key_length: int
    # Captures, refunds and voids are only *received* synchronously; a webhook confirms them.
    asynchronous_modifications: bool = False
    max_reference_length: int = 80

    def check(self, request: OperationRequest) -> None:
        """Refuse, before any I/O, a request this provider cannot carry out."""
        op = request.operation
        if op not in self.operations:
            raise _unsupported(f"{op.value} is not supported by this provider")
        amount: Money | None = getattr(request, "amount", None)
        if amount is not None:
            scale = self.currencies.get(amount.currency)
            if scale is None:
                raise _unsupported(f"{amount.currency} is not supported by this provider")
            try:
                scale.to_wire(amount)
            except ValueError as exc:
                raise InvalidRequestError(str(exc), code=ErrorCode.AMOUNT_INVALID) from None
        if op is Operation.CAPTURE and amount is not None and not self.partial_capture:
            raise _unsupported("partial capture is not supported by this provider")
        if op is Operation.REFUND and amount is not None and not self.partial_refund:
            raise _unsupported("partial refunds are not supported by this provider")
        source = getattr(request, "source", None)
        if source is not None and source.kind == "card" and not self.raw_card_data:
            raise _unsupported("raw card data is not accepted by this provider; use a token")
        if request.reference is not None and len(request.reference) > self.max_reference_length:
            raise InvalidRequestError(
                f"reference is longer than {self.max_reference_length} characters"
            )
        key = request.idempotency_key
        if key is not None and len(key) > self.max_idempotency_key_length:
            raise InvalidRequestError(
                f"idempotency key is longer than {self.max_idempotency_key_length} characters"
            )


def _unsupported(message: str) -> InvalidRequestError:
    return InvalidRequestError(message, code=ErrorCode.UNSUPPORTED)


@dataclass(frozen=True, slots=True)
class ResponseContext:
    """What the gateway knows about the exchange when it hands a response to the adapter."""

    request: OperationRequest
    idempotency_key: str | None
    extra: Mapping[str, Any] = field(default_factory=dict)


class Adapter(Protocol):
    """A provider translator. Implementations do no I/O."""

    @property
    def name(self) -> str:
        """The provider's name in results, errors and logs (``"stripe"``)."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What the provider supports, checked before any I/O."""
        ...

    def build_request(
        self, request: OperationRequest, *, idempotency_key: str | None
    ) -> httpx.Request:
        """The provider HTTP request for one canonical operation."""
        ...

    def parse_response(
        self, response: httpx.Response, context: ResponseContext
    ) -> Result | PaymentError:
        """A canonical result, or a classified (not raised) error."""
        ...


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; None when absent or a date."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def validate_body(
    model: type[M],
    response: httpx.Response,
    context: ResponseContext,
    *,
    provider: str,
    request_id: str | None,
) -> M | PaymentError:
    """Decode and validate a provider body against the adapter's wire model.

    A body that is not JSON or breaks the model is a schema violation; on a mutating call the
    provider may have acted, so it is an ``OutcomeUnknown`` that keeps the redacted body.
    """
    error_cls: type[PaymentError] = (
        OutcomeUnknown if context.request.operation.is_mutating else TerminalError
    )
    try:
        body = json.loads(response.content)
    except ValueError:
        return error_cls(
            f"{provider} answered HTTP {response.status_code} with a body that is not JSON",
            code=ErrorCode.SCHEMA_VIOLATION,
            provider=provider,
            http_status=response.status_code,
            request_id=request_id,
            idempotency_key=context.idempotency_key,
            provider_body=response.text[:2000],
        )
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "<root>" for e in exc.errors())
        return error_cls(
            f"{provider} response broke the expected schema at: {fields}",
            code=ErrorCode.SCHEMA_VIOLATION,
            provider=provider,
            http_status=response.status_code,
            request_id=request_id,
            idempotency_key=context.idempotency_key,
            provider_body=body,
        )
