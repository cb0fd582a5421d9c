"""The part of Stripe's search query language the simulator serves, for
``GET /v1/payment_intents/search``: exact-match clauses on a PaymentIntent joined by ``AND``
(or by a space, which Stripe reads as ``AND``)::

    metadata['reference']:'order-42' AND amount:1234 AND currency:'eur'

A clause is ``metadata['key']:'value'`` (either quote, around the key and the value),
``amount:<integer>`` or ``currency:'xxx'``. Inside a quoted value a backslash escapes a quote.
Strings match as Stripe's exact match does, ignoring case. Anything else Stripe's language has
(``OR``, ``-`` negation, ``~`` substrings, ``>``/``<`` comparisons, other fields, a backslash
before anything but a quote) is refused with a 400 on ``query`` rather than guessed at.

``next_page`` tokens are opaque to clients; here they carry the offset of the next page, so a
page read after new PaymentIntents match may repeat one. Results are immediately consistent,
which Stripe's are not: there, a PaymentIntent may take a minute or more to show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from paygate.testing.stripe._errors import StripeError, invalid

__all__ = ["MAX_QUERY_LENGTH", "Clause", "page_offset", "page_token", "parse"]

MAX_QUERY_LENGTH: Final = 5000  # spec3: query's maxLength
_SUPPORTED: Final = (
    "this simulator serves exact-match clauses metadata['key']:'value', amount:N and "
    "currency:'xxx', joined by AND"
)
# A field at ``position``: metadata with its key in either quote, or amount / currency.
_FIELD: Final = re.compile(
    r"""metadata\[(?:'([^'"\\\[\]]+)'|"([^'"\\\[\]]+)")\]|(amount|currency)"""
)
_INTEGER: Final = re.compile(r"[0-9]+")
_SEPARATOR: Final = re.compile(r"\s+(?:AND\s+)?", re.IGNORECASE)
_QUOTES: Final = ("'", '"')
_PAGE: Final = re.compile(r"sim_page_([0-9]{1,9})")


@dataclass(frozen=True, slots=True)
class Clause:
    """One exact-match clause: ``field`` is ``metadata`` (with ``key``), ``amount`` or
    ``currency``."""

    field: str
    value: str | int
    key: str | None = None

    def matches(self, intent: Mapping[str, Any]) -> bool:
        if self.field == "amount":
            return bool(intent["amount"] == self.value)
        if self.field == "currency":
            actual: object = intent["currency"]
        else:
            actual = intent["metadata"].get(self.key)
        return isinstance(actual, str) and actual.casefold() == str(self.value).casefold()


def parse(query: str) -> tuple[Clause, ...]:
    """The clauses of ``query``, all of which must match; a 400 on ``query`` for anything
    outside the supported part of the language."""
    if len(query) > MAX_QUERY_LENGTH:
        raise _refused(query, f"it is longer than {MAX_QUERY_LENGTH} characters")
    text = query.strip()
    position, clauses = 0, []
    while True:
        clause, position = _clause(query, text, position)
        clauses.append(clause)
        if position == len(text):
            return tuple(clauses)
        separator = _SEPARATOR.match(text, position)
        if separator is None:
            raise _refused(query, f"unexpected {text[position : position + 10]!r}")
        position = separator.end()


def _clause(query: str, text: str, position: int) -> tuple[Clause, int]:
    field = _FIELD.match(text, position)
    if field is None:
        rest = text[position : position + 20] or "the end of the query"
        raise _refused(query, f"expected a supported clause at {rest!r}")
    position = field.end()
    if text[position : position + 1] != ":":
        raise _refused(query, "only the exact-match operator ':' is supported")
    position += 1
    name = field[3] or "metadata"
    if name == "amount":
        number = _INTEGER.match(text, position)
        if number is None:
            raise _refused(query, "amount takes an integer in minor units")
        return Clause("amount", int(number[0])), number.end()
    value, position = _string(query, text, position)
    return Clause(name, value, field[1] or field[2]), position


def _string(query: str, text: str, position: int) -> tuple[str, int]:
    """A quoted value starting at ``position``, and the position after its closing quote."""
    quote = text[position : position + 1]
    if quote not in _QUOTES:
        raise _refused(query, "string values must be quoted")
    chars: list[str] = []
    index = position + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            escaped = text[index + 1 : index + 2]
            if escaped not in _QUOTES:
                raise _refused(query, "a backslash may only escape a quote")
            chars.append(escaped)
            index += 2
        elif char == quote:
            return "".join(chars), index + 1
        else:
            chars.append(char)
            index += 1
    raise _refused(query, "a quoted value is not closed")


def _refused(query: str, why: str) -> StripeError:
    return invalid(f"Unsupported search query {query!r}: {why}; {_SUPPORTED}.", param="query")


def page_token(offset: int) -> str:
    """The ``next_page`` cursor of the page starting at ``offset``."""
    return f"sim_page_{offset}"


def page_offset(token: str | None) -> int:
    """The offset a ``page`` cursor names (0 for the first page); a 400 on ``page`` for a
    cursor this simulator did not issue."""
    if token is None:
        return 0
    match = _PAGE.fullmatch(token)
    if match is None:
        raise invalid(
            f"Invalid page: {token!r} is not a next_page this search returned.", param="page"
        )
    return int(match[1])
