"""The ``extra=`` fields of paygate's log lines: a JSON formatter gets a line's facts as fields,
without parsing its text. Each name starts with ``paygate_`` (no clash with ``LogRecord``'s own
attributes or another library's); a field with nothing to say is left out. An idempotency key
appears as its digest (``key_digest``), never as the caller's raw key."""

from __future__ import annotations

from typing import Any

from paygate.telemetry._emit import key_digest

__all__ = ["log_fields"]


def log_fields(
    provider: str,
    *,
    operation: str | None = None,
    outcome: str | None = None,
    payment_id: str | None = None,
    key: str | None = None,
    attempts: int | None = None,
    elapsed: float | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The fields of one log line (``elapsed`` in seconds, logged as ``paygate_elapsed_ms``)."""
    fields: dict[str, Any] = {"paygate_provider": provider}
    if operation is not None:
        fields["paygate_operation"] = operation
    if outcome is not None:
        fields["paygate_outcome"] = outcome
    if payment_id is not None:
        fields["paygate_payment_id"] = payment_id
    if key is not None:
        fields["paygate_key_digest"] = key_digest(key)
    if attempts is not None:
        fields["paygate_attempts"] = attempts
    if elapsed is not None:
        fields["paygate_elapsed_ms"] = round(elapsed * 1000, 1)
    if request_id is not None:
        fields["paygate_request_id"] = request_id
    return fields
