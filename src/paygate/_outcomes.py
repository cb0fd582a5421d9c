"""The text a completed call leaves in the idempotency store, and how a repeat reads it back.

A success stores the canonical result; a terminal answer from the provider (a decline, an
invalid request) stores the error so a repeat raises the same error without a provider call.
Nothing secret is in either: results carry no card data, errors are redacted when built.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from paygate import errors
from paygate.errors import CardDeclinedError, DeclineReason, ErrorCode, RetryAdvice, TerminalError
from paygate.models import Payment, Refund, Result

_RESULTS: Final[Mapping[str, type[Payment] | type[Refund]]] = {"payment": Payment, "refund": Refund}
_ERRORS: Final[Mapping[str, type[TerminalError]]] = {
    cls.__name__: cls
    for cls in (
        errors.TerminalError,
        errors.CardDeclinedError,
        errors.InvalidRequestError,
        errors.IdempotencyConflict,
    )
}
_CONTEXT: Final = (
    "provider",
    "provider_code",
    "decline_code",
    "http_status",
    "request_id",
    "idempotency_key",
    "provider_body",
    "payment_id",
)


def encode_result(result: Result) -> str:
    kind = "payment" if isinstance(result, Payment) else "refund"
    return f'{{"result": "{kind}", "value": {result.model_dump_json()}}}'


def encode_error(error: TerminalError) -> str:
    value: dict[str, Any] = {name: getattr(error, name) for name in _CONTEXT}
    value |= {"message": error.message, "code": error.code.value}
    if isinstance(error, CardDeclinedError):
        value |= {"reason": error.reason.value, "advice": error.advice.value}
    return json.dumps({"error": type(error).__name__, "value": value}, default=str)


def decode(stored: str) -> Result | TerminalError:
    """The result or error a completed call ended with."""
    data = json.loads(stored)
    if "result" in data:
        return _RESULTS[data["result"]].model_validate(data["value"])
    value = dict(data["value"])
    cls = _ERRORS[data["error"]]
    message = value.pop("message")
    code = ErrorCode(value.pop("code"))
    if issubclass(cls, CardDeclinedError):
        reason = DeclineReason(value.pop("reason"))
        advice = RetryAdvice(value.pop("advice"))
        return cls(message, code=code, reason=reason, advice=advice, **value)
    return cls(message, code=code, **value)
