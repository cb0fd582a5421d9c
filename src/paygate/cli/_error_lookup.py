"""``paygate errors CODE``: one code looked up, whatever names it: a normalized ``ErrorCode``, a
``DeclineReason``, a ``RetryAdvice``, or a provider's own error type, code, refusal or advice
code, or HTTP status. Each match says what it means, which branches it arrives under and what
to do, from the same tables the error guide (docs/errors.md) is rendered from."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping

from paygate.adapters.registry import ProviderErrorTables
from paygate.cli._error_guide import (
    ADVICE_MEANINGS,
    BRANCH_ACTIONS,
    CODE_MEANINGS,
    REASON_MEANINGS,
    branches_of,
    providers,
)
from paygate.errors import DeclineReason, ErrorCode, RetryAdvice

__all__ = ["close_matches", "look_up"]


def _normalized(code: ErrorCode) -> Iterator[str]:
    yield f"{code.value} (ErrorCode): {CODE_MEANINGS[code]}"
    for branch in sorted(branches_of(code), key=list(BRANCH_ACTIONS).index):
        yield f"  as {branch.value}: {BRANCH_ACTIONS[branch]}"


def _reason(reason: DeclineReason) -> Iterator[str]:
    yield f"{reason.value} (DeclineReason, on CardDeclinedError.reason): {REASON_MEANINGS[reason]}"
    by_advice: dict[RetryAdvice, list[str]] = {}
    for tables in providers():
        by_advice.setdefault(tables.reason_advice[reason], []).append(tables.name)
    for advice, names in by_advice.items():
        where = " and ".join(names)
        yield f"  default advice on {where}: {advice.value} ({ADVICE_MEANINGS[advice]})"


def _explained(value: Value) -> Iterator[str]:
    if isinstance(value, ErrorCode):
        yield from _normalized(value)
    elif isinstance(value, DeclineReason):
        yield from _reason(value)
    else:
        yield f"{value.value} (RetryAdvice, on CardDeclinedError.advice): {ADVICE_MEANINGS[value]}"


Value = ErrorCode | DeclineReason | RetryAdvice


def _code_tables(t: ProviderErrorTables) -> list[tuple[str, Mapping[str, Value]]]:
    """A provider's tables of its own codes, each with the field of its answer that holds them."""
    return [
        (t.type_field, t.error_types),
        (t.code_field, t.error_codes),
        (t.decline_field, t.decline_codes),
        (t.advice_field, t.advice_codes),
    ]


def _provider_codes(term: str) -> Iterator[tuple[str, Value]]:
    """Every provider table entry named ``term``: what names it, and what it becomes."""
    for t in providers():
        for field, table in _code_tables(t):
            matched = {key.lower(): value for key, value in table.items()}.get(term)
            if matched is not None:
                yield f"{t.name} {field} {term}", matched
        if term.isdigit() and int(term) in t.status_codes:
            yield f"{t.name} HTTP status {term} with no error object", t.status_codes[int(term)]


def look_up(term: str) -> list[str]:
    """What ``term`` means, a line each (indented lines belong to the line above); empty when
    no table names it. Case does not matter; each value is explained once."""
    key = term.strip().lower()
    named: list[Value] = [
        kind(key)
        for kind in (ErrorCode, DeclineReason, RetryAdvice)
        if key in kind.__members__.values()
    ]
    lines = [line for value in named for line in _explained(value)]
    explained = set(named)
    for source, value in _provider_codes(key):
        lines.append(f"{source}: becomes {value.value}")
        if value not in explained:
            explained.add(value)
            lines += (f"  {line}" for line in _explained(value))
    return lines


def close_matches(term: str) -> list[str]:
    """The known names nearest to ``term``, for a lookup that found nothing."""
    known = {*ErrorCode, *DeclineReason, *RetryAdvice}
    names = {str(value.value) for value in known}
    for t in providers():
        for _, table in _code_tables(t):
            names.update(key.lower() for key in table)
    return difflib.get_close_matches(term.strip().lower(), sorted(names), n=5, cutoff=0.6)
