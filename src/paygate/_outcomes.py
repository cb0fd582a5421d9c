"""Which answers are the provider's final word on a call, the text a completed call leaves in
the idempotency store, and how a repeat reads it back.

A success stores the canonical result; a final refusal from the provider (``is_final``: a
decline, an invalid request in the provider's own error format) stores the error so a repeat
raises the same error without a provider call. Nothing secret is in either: results carry no
card data, errors are redacted when built.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from paygate import errors
from paygate.errors import (
    CardDeclinedError,
    DeclineReason,
    ErrorCode,
    PaymentError,
    RetryAdvice,
    TerminalError,
)
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


# Refusals the provider gives without looking at what the key did: the credentials, the key
# itself, or the pace of requests. They say nothing of an earlier attempt under the key, and
# the same request may succeed once they are fixed.
_NOT_FINAL: Final = frozenset(
    {
        ErrorCode.AUTHENTICATION,
        ErrorCode.PERMISSION,
        ErrorCode.IDEMPOTENCY_CONFLICT,
        ErrorCode.IDEMPOTENCY_IN_FLIGHT,
        ErrorCode.RATE_LIMITED,
        ErrorCode.UNEXPECTED_RESPONSE,
    }
)


def is_final(error: PaymentError) -> bool:
    """Whether ``error`` is the provider's own, final answer to the request under its key: a
    decline, or a refusal (4xx) in the provider's error format about the request itself.

    Only such an answer is kept as the key's outcome, and only such an answer (or a success)
    settles an earlier unknown outcome under the key: had an earlier attempt acted, the
    provider would have replayed its answer instead. A local refusal (no HTTP status), an
    answer from something that is not the provider (no provider code), and a refusal of the
    credentials, the key or the pace (``_NOT_FINAL``) are never final.
    """
    if not isinstance(error, TerminalError) or error.http_status is None:
        return False
    if isinstance(error, CardDeclinedError):
        return True
    return (
        error.provider_code is not None
        and 400 <= error.http_status < 500
        and error.code not in _NOT_FINAL
    )


def encode_result(result: Result) -> str:
    kind = "payment" if isinstance(result, Payment) else "refund"
    return f'{{"result": "{kind}", "value": {result.model_dump_json()}}}'


def encode_error(error: TerminalError) -> str:
    value: dict[str, Any] = {name: getattr(error, name) for name in _CONTEXT}
    value |= {"message": error.message, "code": error.code.value}
    if isinstance(error, CardDeclinedError):
        value |= {"reason": error.reason.value, "advice": error.advice.value}
        value |= {
            "network_advice_code": error.network_advice_code,
            "network_decline_code": error.network_decline_code,
        }
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
