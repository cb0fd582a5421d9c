"""Reading the cells of one settlement row: amounts, times and references, each refusal a
``ReportError`` naming the line and the column. Shared by every reader."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paygate.errors import InvalidRequestError
from paygate.money import Currency
from paygate.recon.entries import ReportError, currency, minor_units

__all__ = ["Cells"]

# Time zone names the reports write that are not IANA names.
_ZONES: Final[dict[str, tzinfo]] = {
    "UTC": UTC,
    "GMT": UTC,
    "CET": timezone(timedelta(hours=1), "CET"),
    "CEST": timezone(timedelta(hours=2), "CEST"),
}


class Cells:
    """One row's cells, read by column name; every refusal names ``source``, the line and
    the column."""

    __slots__ = ("cells", "columns", "line", "source")

    def __init__(self, source: str, columns: Mapping[str, int]) -> None:
        self.source = source
        self.columns = columns
        self.line = 0
        self.cells: list[str] = []

    def at(self, line: int, cells: list[str]) -> Cells:
        self.line, self.cells = line, cells
        return self

    def error(self, message: str) -> ReportError:
        return ReportError(self.source, self.line, message)

    def text(self, column: str) -> str | None:
        """The cell, stripped; None when empty or when the file has no such column."""
        position = self.columns.get(column)
        if position is None:
            return None
        value = self.cells[position].strip()
        return value or None

    def required(self, column: str) -> str:
        value = self.text(column)
        if value is None:
            raise self.error(f"{column} is empty")
        return value

    def currency(self, column: str) -> Currency:
        code = self.required(column)
        try:
            return currency(code)
        except InvalidRequestError:
            raise self.error(f"{column}: unknown currency {code[:10]!r}") from None

    def minor(self, column: str, code: Currency, *, empty_is_zero: bool = False) -> int:
        """The cell as exact minor units of ``code``; an empty cell is zero only when
        ``empty_is_zero`` (debit and credit columns, where one of the two is empty)."""
        text = self.text(column)
        if text is None:
            if empty_is_zero:
                return 0
            raise self.error(f"{column} is empty")
        try:
            return minor_units(text, code)
        except ValueError as exc:
            raise self.error(f"{column}: {exc}") from None

    def rate(self, column: str) -> Decimal | None:
        text = self.text(column)
        if text is None:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise self.error(f"{column}: not a decimal: {text[:40]!r}") from None
        if not value.is_finite() or value <= 0:
            raise self.error(f"{column}: not a positive rate: {text[:40]!r}")
        return value

    def time(self, column: str, zone: tzinfo = UTC) -> datetime:
        """``2026-11-25 12:00:00`` (or ISO 8601) in ``zone`` unless the text names its own
        offset, as an aware time in UTC."""
        text = self.required(column)
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise self.error(f"{column}: not a date and time: {text[:40]!r}") from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=zone)
        return at if at.tzinfo is UTC else at.astimezone(UTC)

    def maybe_time(self, column: str, zone: tzinfo = UTC) -> datetime | None:
        return None if self.text(column) is None else self.time(column, zone)

    def zone(self, column: str) -> tzinfo:
        name = self.required(column)
        known = _ZONES.get(name)
        if known is not None:
            return known
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.error(f"{column}: unknown time zone {name[:40]!r}") from None
