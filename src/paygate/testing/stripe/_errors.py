"""Stripe's error object (``{"error": {"type", "code", "message", ...}}``) as an exception the
simulator raises and turns into an HTTP answer."""

from __future__ import annotations

from typing import Any, Final

from paygate.testing._records import Reply, json_reply

API_ERROR: Final = "api_error"
CARD_ERROR: Final = "card_error"
IDEMPOTENCY_ERROR: Final = "idempotency_error"
INVALID_REQUEST: Final = "invalid_request_error"

_DOCS: Final = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    """An answer in Stripe's error shape. Fields that are None are left out of the body."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        advice_code: str | None = None,
        charge: str | None = None,
        payment_intent: dict[str, Any] | None = None,
        payment_method: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        fields: dict[str, Any] = {
            "type": type_,
            "code": code,
            "decline_code": decline_code,
            "advice_code": advice_code,
            "message": message,
            "param": param,
            "doc_url": None if code is None else _DOCS + code.replace("_", "-"),
            "charge": charge,
            "payment_intent": payment_intent,
            "payment_method": payment_method,
        }
        self.error = {name: value for name, value in fields.items() if value is not None}

    def reply(self) -> Reply:
        return json_reply(self.status, {"error": self.error}, *should_retry(self.status))


def should_retry(status: int) -> tuple[tuple[str, str], ...]:
    """Stripe's ``Stripe-Should-Retry`` hint: yes for conflicts and server errors, no for the
    other client errors, none for rate limits (the client decides from ``Retry-After``)."""
    if status == 429:
        return ()
    retry = status == 409 or status >= 500
    return (("Stripe-Should-Retry", "true" if retry else "false"),)


def invalid(
    message: str, *, code: str | None = None, param: str | None = None, status: int = 400
) -> StripeError:
    """An ``invalid_request_error``."""
    return StripeError(status, INVALID_REQUEST, message, code=code, param=param)


def missing(kind: str, object_id: str, param: str) -> StripeError:
    """404 ``resource_missing`` for an id that names nothing."""
    return invalid(
        f"No such {kind}: '{object_id}'", code="resource_missing", param=param, status=404
    )
