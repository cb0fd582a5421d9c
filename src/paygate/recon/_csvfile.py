"""Streaming a settlement CSV: the header checked against a layout, then one row at a time,
each with its line number. Shared by every provider's report reader."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TextIO

from paygate.recon.entries import ReportError

__all__ = ["Layout", "Progress", "Rows", "read_rows"]

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


def read_rows(path: Path, layout: Layout, *, progress: Progress | None = None) -> Rows:
    """Open ``path`` (UTF-8, a byte-order mark allowed) and check its header against
    ``layout``. A row whose number of cells differs from the header's is a ``ReportError``
    with its line; blank lines are skipped."""
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
    return Rows(source, columns, _rows(file, reader, source, len(header)))


def _rows(
    file: TextIO, reader: Iterator[list[str]], source: str, width: int
) -> Iterator[tuple[int, list[str]]]:
    line = 1
    with file:
        try:
            for cells in reader:
                line = reader.line_num  # type: ignore[attr-defined]
                if len(cells) != width:
                    if not cells:
                        continue
                    raise ReportError(
                        source, line, f"{len(cells)} cells where the header has {width} columns"
                    )
                yield line, cells
        except csv.Error as exc:
            raise ReportError(source, line + 1, f"unreadable CSV: {exc}") from None
