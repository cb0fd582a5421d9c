"""Masking of secrets in anything paygate keeps or prints (error bodies, logs, stored records)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

# Keys whose values are never kept, in any provider's casing.
_SECRET_KEY: Final = re.compile(
    r"(number|cvc|cvv|cvc2|card_?number|encrypted\w*|password|secret|api_?key|authorization|"
    r"client_secret|hmac\w*|signature)$",
    re.IGNORECASE,
)
# A run of 13-19 digits (optionally spaced or dashed) standing on its own is treated as a card
# number. Digits inside a longer token (an idempotency key's hex digest, a provider id) are not:
# masking them would break searching logs by key, and a card number is never glued to letters.
_PAN: Final = re.compile(r"(?<![0-9A-Za-z_])(?:\d[ -]?){9,15}(\d{4})(?![0-9A-Za-z_])")
_KEY: Final = re.compile(r"\b((?:sk|rk|pk|whsec)_(?:test|live)?_?)[A-Za-z0-9]{4,}")

REDACTED: Final = "[redacted]"
# C0 and C1 control characters, DEL, and the Unicode line and paragraph separators: what could
# end or forge a log line, or hide text on a terminal.
_CONTROLS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def redact_text(text: str) -> str:
    """Mask card numbers (keeping the last 4) and Stripe-style keys inside free text."""
    text = _PAN.sub(lambda m: f"****{m.group(1)}", text)
    return _KEY.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


def redact(value: object) -> object:
    """A copy of a decoded JSON value with secret fields masked and free text scrubbed."""
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def escape_controls(text: str) -> str:
    """``text`` with control characters written as escapes (``\\x07``, ``\\u2028``)."""
    return _CONTROLS.sub(lambda m: repr(m.group())[1:-1], text)
