"""Getting entries and records into DuckDB (private). Entries, and the projections a caller
built (``Expected``), stream into staging CSV files, which DuckDB's built-in CSV reader loads into
tables whose column types are declared, never sniffed. Records stream as their JSON documents
into a newline-delimited JSON file, which DuckDB's built-in JSON reader loads with the fields
the projection (``_records.sql``) reads declared: a record is never built in Python.

Amounts are integers of minor units (BIGINT; their sums are HUGEINT), never DOUBLE. Files
because DuckDB's Python client inserts tuples one statement at a time, and its readers load
a file's rows in bulk. Strings are always quoted; a
missing value is the one unquoted token no column can hold (``_NULL``: below BIGINT's range),
so a reference that reads ``-9223372036854775809`` is still that string.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from paygate.money import Currency
from paygate.recon.entries import Entry, EntryKind
from paygate.recon.expected import Expected
from paygate.records.state import PaymentRecord

if TYPE_CHECKING:
    import duckdb

__all__ = ["ENTRY_COLUMNS", "EntryWriter", "Staging", "entry_file", "entry_of"]

_NULL: Final = -(1 << 63) - 1
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)

# Column names and their declared DuckDB types, in the order the staging files are written.
ENTRY_COLUMNS: Final = {
    "seq": "BIGINT",  # the entry's position in the stream
    "provider": "VARCHAR",
    "kind": "VARCHAR",
    "provider_kind": "VARCHAR",
    "entry_id": "VARCHAR",
    "payment_reference": "VARCHAR",
    "merchant_reference": "VARCHAR",
    "modification_reference": "VARCHAR",
    "currency": "VARCHAR",
    "gross": "BIGINT",
    "fee": "BIGINT",
    "net": "BIGINT",
    "amount_currency": "VARCHAR",
    "amount": "BIGINT",
    "exchange_rate": "VARCHAR",  # a Decimal's exact text
    "created": "BIGINT",  # microseconds since 1970-01-01 UTC
    "available": "BIGINT",
    "payout": "VARCHAR",
    "source": "VARCHAR",
    "line": "BIGINT",
}
PROJECTION_COLUMNS: Final = {
    "rec": "BIGINT",  # the record's position in the stream
    "record_id": "VARCHAR",
    "provider": "VARCHAR",
    "payment_id": "VARCHAR",
    "reference": "VARCHAR",
    "currency": "VARCHAR",
    "authorized": "BIGINT",
    "captured": "BIGINT",
    "unknown": "BOOLEAN",
    "changed": "VARCHAR",  # when it last changed (ISO 8601), for a finding's note
}
# The fields of a record's JSON document the projection reads; any other field is skipped.
_MONEY: Final = "STRUCT(amount VARCHAR, currency VARCHAR)"
DOCUMENT_COLUMNS: Final = {
    "rec": "BIGINT",
    "record": (
        "STRUCT(record_id VARCHAR, provider VARCHAR, payment_id VARCHAR, reference VARCHAR, "
        f"amount {_MONEY}, reported_authorized {_MONEY}, reported_captured {_MONEY}, "
        "modifications STRUCT(id VARCHAR, operation VARCHAR, status VARCHAR, "
        f"amount {_MONEY})[], unknown STRUCT(operation VARCHAR)[], updated_at VARCHAR)"
    ),
}
MODIFICATION_COLUMNS: Final = {
    "rec": "BIGINT",
    "mod_id": "VARCHAR",
    "role": "VARCHAR",  # capture, refund (received or succeeded) or failed (a refund that failed)
    "amount": "BIGINT",  # a refund's, in minor units
}


def _text(value: object) -> object:
    return _NULL if value is None else value


def _micros(at: datetime) -> int:
    """Microseconds since the epoch (a time with no offset is taken as UTC)."""
    return ((at if at.tzinfo is not None else at.replace(tzinfo=UTC)) - _EPOCH) // _MICROSECOND


def _entry_row(seq: int, e: Entry) -> tuple[object, ...]:
    """The entry's columns, as ``ENTRY_COLUMNS`` orders them. Its strings (``Currency`` and
    ``EntryKind`` are strings too) and numbers are written as they are, the rate as its exact
    text, times as microseconds since the epoch (a number is written faster than a time's
    text)."""
    (provider, kind, provider_kind, entry_id, payment, merchant, modification, currency,
     gross, fee, net, amount_currency, amount, rate, created, available, payout, source,
     line) = e  # fmt: skip
    return (
        seq, provider, kind, provider_kind, entry_id, _NULL if payment is None else payment,
        _NULL if merchant is None else merchant,
        _NULL if modification is None else modification, currency, gross, fee, net,
        amount_currency, amount, _NULL if rate is None else str(rate), _micros(created),
        _NULL if available is None else _micros(available), _NULL if payout is None else payout,
        source, line,
    )  # fmt: skip


def _time(micros: int | None) -> datetime | None:
    return None if micros is None else _EPOCH + timedelta(microseconds=micros)


def entry_of(row: tuple[Any, ...]) -> Entry:
    """The entry a row of the entries table holds (its columns in ``ENTRY_COLUMNS`` order)."""
    (_, provider, kind, provider_kind, entry_id, payment, merchant, modification, currency,
     gross, fee, net, amount_currency, amount, rate, created, available, payout, source,
     line) = row  # fmt: skip
    return Entry(
        provider=provider, kind=EntryKind(kind), provider_kind=provider_kind, entry_id=entry_id,
        payment_reference=payment, merchant_reference=merchant,
        modification_reference=modification, currency=Currency(currency), gross=gross, fee=fee,
        net=net, amount_currency=Currency(amount_currency), amount=amount,
        exchange_rate=None if rate is None else Decimal(rate),
        created=_EPOCH + timedelta(microseconds=created), available=_time(available),
        payout=payout, source=source, line=line,
    )  # fmt: skip


def _modifications(rec: int, expected: Expected) -> Iterator[tuple[object, ...]]:
    for capture in expected.captures:
        yield rec, capture, "capture", _NULL
    for refund, amount in (expected.refunds or {}).items():
        yield rec, refund, "refund", amount
    for failed in sorted(expected.failed_refunds):
        yield rec, failed, "failed", _NULL


class Staging:
    """The staging files of one run, in ``directory``, and the tables DuckDB loads them into."""

    def __init__(self, directory: Path) -> None:
        self._files: dict[str, tuple[list[Path], dict[str, str]]] = {}
        self._directory = directory
        self._documents = directory / "documents.ndjson"

    def _writer(self, name: str, columns: dict[str, str]) -> tuple[IO[str], Any]:
        path = self._directory / f"{name}.csv"
        self._files[name] = ([path], columns)
        file = path.open("w", newline="", encoding="utf-8")
        return file, _csv_writer(file)

    def records(self, records: Iterable[PaymentRecord | Expected | str]) -> None:
        """Stage each record: a ``PaymentRecord``, or a record's JSON document as a store
        holds it (``RecordStore.scan_json``), as that document; an ``Expected`` as the
        projection it is."""
        documents = self._documents.open("w", encoding="utf-8")
        rows, writer = self._writer("projections", PROJECTION_COLUMNS)
        mods, mod_writer = self._writer("projected_modifications", MODIFICATION_COLUMNS)
        with documents, rows, mods:
            for rec, record in enumerate(records):
                if isinstance(record, Expected):
                    writer.writerow(
                        (rec, record.record_id, record.provider, _text(record.payment_id),
                         _text(record.reference), str(record.currency), record.authorized,
                         record.captured, record.unknown, record.changed_at.isoformat())
                    )  # fmt: skip
                    mod_writer.writerows(_modifications(rec, record))
                    continue
                body = record if isinstance(record, str) else record.model_dump_json()
                if "\n" in body:  # one document a line: a store's JSON may be laid out
                    body = json.dumps(json.loads(body), separators=(",", ":"))
                documents.write(f'{{"rec":{rec},"record":{body}}}\n')

    def entries(self) -> EntryWriter:
        file, writer = self._writer("entries", ENTRY_COLUMNS)
        return EntryWriter(file, writer)

    def add_entries(self, paths: Iterable[Path]) -> None:
        """Entries staged elsewhere (``entry_file``: a report read by another process)."""
        self._files["entries"][0].extend(paths)

    def load(self, db: duckdb.DuckDBPyConnection) -> None:
        """Create one table per staging file (or files), its columns typed as declared."""
        for name, (paths, columns) in self._files.items():
            db.execute(
                f"CREATE TABLE {name} AS SELECT * FROM read_csv(?, columns = {_types(columns)}, "
                "header = false, auto_detect = false, delim = ',', quote = '\"', "
                f"escape = '\"', nullstr = '{_NULL}', allow_quoted_nulls = false)",
                [[str(path) for path in paths]],
            )
        db.execute(
            "CREATE TABLE documents AS SELECT * FROM read_json(?, format = 'newline_delimited', "
            f"columns = {_types(DOCUMENT_COLUMNS)})",
            [str(self._documents)],
        )


def _types(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{column}': '{kind}'" for column, kind in columns.items()) + "}"


def _csv_writer(file: IO[str]) -> Any:
    return csv.writer(file, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")


def entry_file(path: Path, first: int) -> EntryWriter:
    """A staging file of entries of its own, numbered from ``first`` (``Staging.add_entries``
    loads it with the others)."""
    file = path.open("w", newline="", encoding="utf-8")
    return EntryWriter(file, _csv_writer(file), first)


class EntryWriter:
    """Entries streamed to their staging file, numbered in the order they come (from
    ``first``)."""

    def __init__(self, file: IO[str], writer: Any, first: int = 0) -> None:
        self._file = file
        self._writer = writer
        self.first = first
        self.count = 0

    def write(self, entry: Entry) -> None:
        self._writer.writerow(_entry_row(self.first + self.count, entry))
        self.count += 1

    def close(self) -> None:
        self._file.close()
