"""Reading one large report in several processes (private).

Reading and staging a row costs Python more than everything DuckDB does with it, so a report
past ``PARALLEL_BYTES`` is cut into spans, one per CPU (at most ``MAX_WORKERS``), each read by
a worker process (``python -P -m paygate.recon._worker``) with the same reader and the same
rules as a serial read, each into a staging file of its own, while this process stages the
records. A span begins at a line boundary outside any quoted field as RFC 4180 quotes them
(an even number of quote characters before it), so every row is read whole by exactly one
worker, numbered with the line it has in the whole file.

Workers are plain subprocesses of the running interpreter, not ``multiprocessing``: nothing of
the caller's ``__main__`` is imported again. Whatever stops one (no interpreter to start, a
crash, a kill, or a refused row) leaves the report to be read here, serially, which is right
in every case: a refusal is raised at the line a serial read finds it, and a file whose
quotes do not follow RFC 4180 (a quote inside an unquoted field, which the reader accepts)
may have been cut inside a quoted field, which makes a span refuse, never misread.
"""

from __future__ import annotations

import json
import mmap
import os
import queue
import site
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import paygate
from paygate.recon._csvfile import Progress, Span

__all__ = ["MAX_WORKERS", "PARALLEL_BYTES", "Workers", "cpus", "spans"]

PARALLEL_BYTES: Final = 32 << 20  # a smaller report is read here: starting a worker (an
# interpreter importing paygate) would cost more than it saves
MAX_WORKERS: Final = 4  # CPUs seen may be a large host's, not a container's quota
_WORKER: Final = "paygate.recon._worker"


def cpus() -> int:
    """The CPUs this process may run on, at most ``MAX_WORKERS``."""
    try:
        seen = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        seen = os.cpu_count() or 1
    return min(seen, MAX_WORKERS)


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
    numbered from ``N << 40`` (N from 1: entries fed before the report keep 0 and on)."""

    def __init__(self, report: str, path: Path, parts: list[Span], directory: Path) -> None:
        if not sys.executable or getattr(sys, "frozen", False):
            raise OSError("no Python interpreter to start (embedded or frozen)")
        self._messages: queue.Queue[_Message] = queue.Queue()
        self.paths = [directory / f"entries-{n}.csv" for n in range(1, len(parts) + 1)]
        self._errors = [path.with_suffix(".err") for path in self.paths]
        self._processes: list[subprocess.Popen[str]] = []
        self.refused = False
        env = _environment()
        try:
            for n, span in enumerate(parts):
                job = {
                    "format": report, "path": str(path), "span": [span.start, span.end,
                    span.first_line], "first": (n + 1) << 40, "out": str(self.paths[n]),
                }  # fmt: skip
                with self._errors[n].open("w", encoding="utf-8") as errors:
                    process = subprocess.Popen(
                        [sys.executable, "-P", "-m", _WORKER, json.dumps(job)],
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
        run or refused a row (``refused`` says which): the caller reads the report itself."""
        read = [0] * len(self._processes)
        counts: dict[int, int] = {}
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
                    self.refused = True
            for process in self._processes:
                process.wait()
        finally:
            self.stop()
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


def _environment() -> dict[str, str]:
    """A worker's environment: this one, with this paygate's directory added to PYTHONPATH
    unless the worker finds it anyway (in the site directories), so that it imports this very
    package whatever the caller added to ``sys.path`` at run time."""
    here = Path(paygate.__file__).resolve().parents[1]
    sites = [*site.getsitepackages(), site.getusersitepackages()]
    if any(Path(directory).resolve() == here for directory in sites):
        return dict(os.environ)
    inherited = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [inherited, str(here)]))}
