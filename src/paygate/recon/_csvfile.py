"""Streaming a settlement CSV: the header checked against a layout, then one row at a time,
each with its line number, turned into an entry by its format. Shared by every provider's
report reader. A part of a file (``Span``: rows starting at a line boundary) is read the same
way, so that one large report can be read by several processes (``_parallel``)."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from paygate.recon._rows import Cells
from paygate.recon.entries import Entry, ReportError

__all__ = [
    "Format",
    "Layout",
    "Progress",
    "ReportFile",
    "Rows",
    "Span",
    "read_report",
    "read_rows",
]

Progress = Callable[[int], None]
"""Called now and then with the characters read so far (a progress bar's position)."""

_PROGRESS_EVERY: Final = 1 << 14  # lines between two progress calls


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns one report may have: ``required`` must all be there, ``optional`` may be,
    and a column matching one of ``patterns`` (metadata columns) may be too. Any other column
    is refused: a report whose columns paygate does not know is not read by guesswork."""

    name: str
    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = field(default=())

    def index(self, header: list[str], source: str) -> dict[str, int]:
        """Each column's position in ``header``; ``ReportError`` (line 1) when the header is
        not this layout's."""
        names = [name.strip() for name in header]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        missing = sorted(self.required - set(names))
        unknown = [
            n
            for n in names
            if n not in self.required
            and n not in self.optional
            and not any(p.fullmatch(n) for p in self.patterns)
        ]
        problems = [
            f"{what}: {', '.join(repr(n) for n in found[:10])}"
            for what, found in (
                ("missing columns", missing),
                ("unknown columns", unknown),
                ("repeated columns", duplicated),
            )
            if found
        ]
        if problems:
            raise ReportError(source, 1, f"not a {self.name} header ({'; '.join(problems)})")
        return {name: position for position, name in enumerate(names)}


@dataclass(frozen=True, slots=True)
class Rows:
    """One file after its header: where each column is, and its rows as ``(line, cells)``
    pairs (the file is closed when they are exhausted)."""

    source: str
    columns: Mapping[str, int]
    rows: Iterator[tuple[int, list[str]]]


def _counted(lines: Iterable[str], progress: Progress | None) -> Iterator[str]:
    if progress is None:
        yield from lines
        return
    read = 0
    for number, line in enumerate(lines):
        read += len(line)
        if number % _PROGRESS_EVERY == 0:
            progress(read)
        yield line
    progress(read)


@dataclass(frozen=True, slots=True)
class Span:
    """The rows of a file from byte ``start`` (a line boundary outside any quoted field) to
    byte ``end``; ``first_line`` is the line ``start`` begins (1 at the start of the file,
    where the header is)."""

    start: int
    end: int
    first_line: int


@dataclass(frozen=True, slots=True)
class Format:
    """One report format: its columns, and how one row's cells become an entry."""

    name: str
    layout: Layout
    entry: Callable[[Cells], Entry]


@dataclass(frozen=True, slots=True)
class ReportFile:
    """A settlement report file of a known format (``read_settlement`` makes one): iterating
    it reads its entries, in file order, streamed; ``reconcile`` reads a large one in several
    processes at once. ``progress`` is called with the characters read so far."""

    path: Path
    format: Format
    progress: Progress | None = None

    def __iter__(self) -> Iterator[Entry]:
        return read_report(self.path, self.format, progress=self.progress)


def read_report(
    path: Path, report: Format, *, progress: Progress | None = None, span: Span | None = None
) -> Iterator[Entry]:
    """The entries of a report file (or of ``span`` of it), in file order, streamed."""
    read = read_rows(path, report.layout, progress=progress, span=span)
    cells = Cells(read.source, read.columns)
    for line, row in read.rows:
        yield report.entry(cells.at(line, row))


def read_rows(
    path: Path, layout: Layout, *, progress: Progress | None = None, span: Span | None = None
) -> Rows:
    """Open ``path`` (UTF-8, a byte-order mark allowed) and check its header against
    ``layout``; its rows follow (those of ``span`` only, when given). A row whose number of
    cells differs from the header's is a ``ReportError`` with its line; blank lines are
    skipped."""
    source = path.name
    file = path.open(encoding="utf-8-sig", newline="")
    reader = csv.reader(_counted(file, progress), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise ReportError(source, 1, f"empty file: no {layout.name} header")
        columns = layout.index(header, source)
    except csv.Error as exc:
        file.close()
        raise ReportError(source, 1, f"unreadable CSV: {exc}") from None
    except BaseException:
        file.close()
        raise
    if span is None:
        return Rows(source, columns, _rows(file.close, reader, source, len(header), 0))
    file.close()
    lines = _span_lines(path, span)
    spanned = csv.reader(_counted(lines, progress), strict=True)
    if span.start == 0:
        next(spanned, None)  # the header, read above
    before = span.first_line - 1
    return Rows(source, columns, _rows(lines.close, spanned, source, len(header), before))


def _span_lines(path: Path, span: Span) -> Generator[str, None, None]:
    """The lines of ``span``, split as a serial read splits them (``\\n``, ``\\r\\n`` or a
    lone ``\\r``), so that their numbers agree."""
    with path.open("rb") as raw:
        raw.seek(span.start)
        encoding = "utf-8-sig" if span.start == 0 else "utf-8"
        with io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
            at = span.start + (3 if span.start == 0 and raw.peek(3)[:3] == codecs.BOM_UTF8 else 0)
            for line in text:
                if at >= span.end:
                    return
                at += len(line.encode())
                yield line


def _rows(
    close: Callable[[], None],
    reader: Iterator[list[str]],
    source: str,
    width: int,
    lines_before: int,
) -> Iterator[tuple[int, list[str]]]:
    """The rows ``reader`` reads, numbered; ``close`` closes what it reads from, once done."""
    line = lines_before + reader.line_num  # type: ignore[attr-defined]  # the last line read
    try:
        try:
            for cells in reader:
                line = lines_before + reader.line_num  # type: ignore[attr-defined]
                if len(cells) != width:
                    if not cells:
                        continue
                    raise ReportError(
                        source, line, f"{len(cells)} cells where the header has {width} columns"
                    )
                yield line, cells
        except csv.Error as exc:
            raise ReportError(source, line + 1, f"unreadable CSV: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ReportError(source, line + 1, f"not UTF-8: {exc.reason}") from None
    finally:
        close()
