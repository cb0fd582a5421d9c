"""Reading one large report in several processes (private).

A report of a million rows costs Python about 15 µs a row to read and stage: 15 s on one core,
however fast the matching is. So a report past ``PARALLEL_BYTES`` is cut into spans, one per
CPU, each read by a worker process (``python -m paygate.recon._worker``) with the same reader
and the same rules as a serial read, each into a staging file of its own, while this process
stages the records. A span begins at a line boundary outside any quoted field (an even number
of quote characters before it: RFC 4180 doubles a quote inside a field), so every row is read
whole by exactly one worker, numbered with the line it has in the whole file.

Workers are plain subprocesses of the running interpreter, not ``multiprocessing``: nothing of
the caller's ``__main__`` is imported again. A worker that cannot run (no interpreter to
start, killed, crashed) is not a refusal of the data: the report is then read here, serially.
A worker that refuses a row reports its line; the refusal that comes first in the file is
raised, as a serial read would raise it.
"""

from __future__ import annotations

import json
import mmap
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import paygate
from paygate.recon._csvfile import Progress, Span
from paygate.recon.entries import ReportError

__all__ = ["PARALLEL_BYTES", "Workers", "cpus", "spans"]

PARALLEL_BYTES: Final = 32 << 20  # a report smaller than this is read here: a worker's start
# (about half a second: an interpreter importing paygate) costs more than it saves
_WORKER: Final = "paygate.recon._worker"


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def spans(path: Path, parts: int) -> list[Span]:
    """``path`` cut into at most ``parts`` spans of about the same size, each beginning at a
    line boundary outside any quoted field; one span (the whole file) when it cannot be cut."""
    size = path.stat().st_size
    if parts < 2 or size == 0:
        return [Span(0, size, 1)]
    cut: list[Span] = []
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        start, line = 0, 1
        for part in range(1, parts):
            at = data.find(b"\n", max(start, size * part // parts))
            # Quotes between the span's start and ``at``: an odd count means ``at`` is inside
            # a quoted field (spans start outside any, so counting from there is enough).
            quotes = _count(data, b'"', start, at) if at != -1 else 0
            while at != -1 and quotes % 2:
                following = data.find(b"\n", at + 1)
                quotes += _count(data, b'"', at, following) if following != -1 else 0
                at = following
            if at == -1 or at + 1 >= size:
                break
            cut.append(Span(start, at + 1, line))
            line += _line_breaks(data, start, at + 1)
            start = at + 1
        cut.append(Span(start, size, line))
    return cut


def _line_breaks(data: mmap.mmap, start: int, end: int) -> int:
    """Line breaks as a serial read counts them: ``\\n``, ``\\r\\n`` or a lone ``\\r``
    (``end`` is just after a ``\\n``, so no ``\\r\\n`` straddles it)."""
    return (
        _count(data, b"\n", start, end)
        + _count(data, b"\r", start, end)
        - _count(data, b"\r\n", start, end)
    )


def _count(data: mmap.mmap, needle: bytes, start: int, end: int) -> int:
    """``needle``'s occurrences in ``data[start:end]``, a mebibyte at a time (an mmap has no
    ``count``, and one slice of it would be a copy of the whole range). Each slice reaches
    ``len(needle) - 1`` bytes into the next, so that an occurrence across two is counted once."""
    found, reach = 0, len(needle) - 1
    for at in range(start, end, _STEP):
        found += data[at : min(at + _STEP + reach, end)].count(needle)
    return found


_STEP: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class _Message:
    part: int
    body: dict[str, Any] | None  # None: the worker's output ended


class Workers:
    """The worker processes reading one report's spans, each into ``directory/entries-N.csv``,
    numbered from ``N << 40`` (so that entries keep the file's order)."""

    def __init__(self, report: str, path: Path, parts: list[Span], directory: Path) -> None:
        self._messages: queue.Queue[_Message] = queue.Queue()
        self.paths = [directory / f"entries-{n}.csv" for n in range(len(parts))]
        self._errors = [directory / f"entries-{n}.err" for n in range(len(parts))]
        self._processes: list[subprocess.Popen[str]] = []
        env = {**os.environ, "PYTHONPATH": _path_with_paygate()}
        try:
            for n, span in enumerate(parts):
                job = {
                    "format": report, "path": str(path), "span": [span.start, span.end,
                    span.first_line], "first": n << 40, "out": str(self.paths[n]),
                }  # fmt: skip
                with self._errors[n].open("w", encoding="utf-8") as errors:
                    process = subprocess.Popen(
                        [sys.executable, "-m", _WORKER, json.dumps(job)],
                        stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL,
                        text=True, env=env,
                    )  # fmt: skip
                self._processes.append(process)
                assert process.stdout is not None  # PIPE was asked for
                threading.Thread(target=self._relay, args=(n, process.stdout), daemon=True).start()
        except BaseException:
            self.stop()
            raise

    def _relay(self, part: int, out: IO[str]) -> None:
        with out:
            for line in out:
                try:
                    self._messages.put(_Message(part, json.loads(line)))
                except ValueError:
                    continue  # not a message: a stray print
        self._messages.put(_Message(part, None))

    def wait(self, progress: Progress | None) -> int | None:
        """How many entries the workers staged, once all are done; None when one could not
        run (the caller reads the report itself). ``ReportError``: the first row refused."""
        read = [0] * len(self._processes)
        counts: dict[int, int] = {}
        refused: dict[int, ReportError] = {}
        ended = 0
        try:
            while ended < len(self._processes):
                message = self._messages.get()
                body = message.body
                if body is None:
                    ended += 1
                elif "read" in body:
                    read[message.part] = int(body["read"])
                    if progress is not None:
                        progress(sum(read))
                elif "count" in body:
                    counts[message.part] = int(body["count"])
                elif "refused" in body:
                    source, line, text = body["refused"]
                    refused[message.part] = ReportError(str(source), int(line), str(text))
            for process in self._processes:
                process.wait()
        finally:
            self.stop()
        if refused:
            raise refused[min(refused)]
        if len(counts) < len(self._processes) or any(p.returncode for p in self._processes):
            return None
        return sum(counts.values())

    def stop(self) -> None:
        """End every worker still running (the caller gave up, or one failed)."""
        for process in self._processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    def failures(self) -> Iterator[str]:
        """What each worker wrote to its standard error (why it could not run)."""
        for errors in self._errors:
            if errors.exists():
                text = errors.read_text(encoding="utf-8", errors="replace").strip()
                if text:
                    yield text[-2000:]


def _path_with_paygate() -> str:
    """PYTHONPATH for a worker: this paygate's directory first, so that it imports this very
    package (whatever the caller added to ``sys.path`` at run time)."""
    here = str(Path(paygate.__file__).resolve().parents[1])
    inherited = os.environ.get("PYTHONPATH")
    return here if not inherited else os.pathsep.join([here, inherited])
