"""Masking of secrets in anything paygate keeps or prints (error bodies, logs, stored records),
and the card-number detector that keeps card data out of the fields that are not for it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit, urlunsplit

# Keys whose values are never kept, in any provider's casing.
_SECRET_KEY: Final = re.compile(
    r"(number|cvc|cvv|cvc2|card_?number|encrypted\w*|password|secret|api_?key|authorization|"
    r"client_secret|hmac\w*|signature)$",
    re.IGNORECASE,
)
_KEY: Final = re.compile(r"\b((?:sk|rk|pk|whsec)_(?:test|live)?_?)[A-Za-z0-9]{4,}")

REDACTED: Final = "[redacted]"
# C0 and C1 control characters, DEL, and the Unicode line and paragraph separators: what could
# end or forge a log line, or hide text on a terminal.
_CONTROLS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# -- card numbers ----------------------------------------------------------------------------
# A run of digits, single spaces or dashes allowed between them, standing on its own.
_DIGIT_RUN: Final = re.compile(r"(?<![0-9A-Za-z])[0-9](?:[ -]?[0-9])*(?![0-9A-Za-z])")
_SEPARATOR: Final = re.compile(r"[ -]")
# Thirteen digits, single spaces or dashes between them: what any card number holds. Text
# without such a stretch (most references and descriptions) holds no card number.
_THIRTEEN_DIGITS: Final = re.compile(r"[0-9](?:[ -]?[0-9]){12}")
# (lowest prefix, highest prefix, shortest, longest): the card networks' issuer ranges, as
# the number's leading digits, with the lengths each issues (13-19 digits at most).
_CARD_RANGES: Final[tuple[tuple[str, str, int, int], ...]] = (
    ("4", "4", 13, 19),  # Visa (13, 16, 19; any of 13-19 here)
    ("51", "55", 16, 16),  # Mastercard
    ("2221", "2720", 16, 16),  # Mastercard 2-series
    ("34", "34", 15, 15),  # American Express
    ("37", "37", 15, 15),
    ("6", "6", 13, 19),  # Discover 6011/644-649/65, UnionPay 62, Maestro 56-69
    ("50", "50", 13, 19),  # Maestro
    ("56", "59", 13, 19),
    ("3528", "3589", 16, 19),  # JCB
    ("300", "305", 14, 19),  # Diners Club
    ("36", "36", 14, 19),
    ("38", "38", 14, 19),
)


def redact_text(text: str) -> str:
    """Mask card numbers (keeping the last 4) and Stripe-style keys inside free text.

    A card number here is what ``contains_card_number`` finds, less the Luhn check: 13 to 19
    digits standing on their own (single spaces or dashes between groups), in a card network's
    issuer range and of a length it issues. A number one digit off a card (a mistyped PAN)
    is still the shopper's card data, so it is masked too; identifiers outside every issuer
    range stay readable (an Adyen pspReference such as 8815840175430930 or 9913140798220028),
    and so do digits glued to letters (an idempotency key's hex digest, a provider id).
    """
    text = _DIGIT_RUN.sub(_mask_run, text)
    return _KEY.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


def _mask_run(run: re.Match[str]) -> str:
    """One run of digits: ``****`` and the last 4 digits of the card number in it, if it holds
    one (the whole run goes: its other digits may belong to the same card); else as it was."""
    card = _card_in(run.group(), luhn=False)
    return run.group() if card is None else f"****{card[-4:]}"


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


def url_without_credentials(url: str) -> str:
    """``url`` with whatever precedes its host (a user name and password) masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<a URL that cannot be read>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}"))


def escape_controls(text: str) -> str:
    """``text`` with control characters written as escapes (``\\x07``, ``\\u2028``)."""
    return _CONTROLS.sub(lambda m: repr(m.group())[1:-1], text)


def contains_card_number(text: str) -> bool:
    """Whether ``text`` holds what looks like a payment card number: 13 to 19 digits (single
    spaces or dashes between groups allowed) standing on their own, in a card network's
    issuer range and of a length it issues, that pass the Luhn check.

    Every run of whole groups inside a longer run is tried too ("4242 4242 4242 4242-2").
    Digits glued to letters (a hex digest, a provider id) are never a card number. About one
    random 13-19 digit number in sixteen matches; a millisecond timestamp (it starts with 1)
    never does.
    """
    if _THIRTEEN_DIGITS.search(text) is None:
        return False
    return any(_card_in(run.group(), luhn=True) for run in _DIGIT_RUN.finditer(text))


def _card_in(run: str, *, luhn: bool) -> str | None:
    """The digits of the first card number among the runs of whole groups of ``run`` (a run
    of digits, single spaces or dashes between them), or None."""
    groups = _SEPARATOR.split(run)
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > 19:
                break
            if len(digits) >= 13 and _in_issuer_range(digits) and (not luhn or _luhn(digits)):
                return digits
    return None


def _in_issuer_range(digits: str) -> bool:
    return any(
        low <= digits[: len(low)] <= high and shortest <= len(digits) <= longest
        for low, high, shortest, longest in _CARD_RANGES
    )


def _luhn(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(digits)):
        doubled = digit * 2 if position % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0
