"""A large report read by several processes at once: cut at line boundaries outside quoted
fields, every row read exactly once with the line it has in the whole file, the same entries
and the same findings as one serial read; the first refusal in the file is the one raised;
workers that cannot run leave the report to be read here."""

from __future__ import annotations

import csv
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.recon.test_readers import STRIPE, stripe_row, write

from paygate.recon import (
    Entry,
    ReconPolicy,
    ReportError,
    _parallel,
    matching,
    read_settlement,
    reconcile,
)
from paygate.recon._csvfile import Span, read_report
from paygate.recon.stripe import ITEMIZED_REPORT
from paygate.records.state import PaymentRecord

# Text that makes cutting hard: quotes, commas, new lines of both kinds, non-ASCII.
tricky = st.text(alphabet=st.sampled_from('ab,"\n\r é'), max_size=12)


def _rows(references: list[str]) -> list[list[str]]:
    return [
        stripe_row(balance_transaction_id=f"txn_{n}", **{"payment_metadata[reference]": ref})
        for n, ref in enumerate(references)
    ]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(tricky, min_size=1, max_size=30), st.integers(2, 6), st.booleans())
def test_spans_read_every_row_once_with_its_line(
    tmp_path: Path, references: list[str], parts: int, crlf: bool
) -> None:
    path = tmp_path / "r.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as out:  # a byte-order mark too
        writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
        writer.writerow(STRIPE)
        writer.writerows(_rows(references))
    serial = _outcome(lambda: list(read_report(path, ITEMIZED_REPORT)))
    cut = _parallel.spans(path, parts)
    assert cut[0].start == 0 and cut[-1].end == path.stat().st_size
    assert all(a.end == b.start for a, b in itertools.pairwise(cut))
    spanned = _outcome(
        lambda: [e for span in cut for e in read_report(path, ITEMIZED_REPORT, span=span)]
    )
    assert spanned == serial  # the same entries, lines included, or the same refusal
    if isinstance(serial, list):
        assert [e.merchant_reference or "" for e in serial] == [r.strip() for r in references]


def _outcome(read: Callable[[], list[Entry]]) -> list[Entry] | str:
    """The entries read, or the refusal (a lone carriage return the writer left unquoted
    breaks a row: both reads must refuse it alike)."""
    try:
        return read()
    except ReportError as exc:
        return str(exc)


def test_no_cut_falls_inside_a_quoted_field(tmp_path: Path) -> None:
    row = stripe_row(**{"payment_metadata[reference]": "x\n" * 50})
    path = write(tmp_path / "r.csv", STRIPE, row)
    size, header = path.stat().st_size, path.read_bytes().index(b"\n") + 1
    # The only line boundary outside quotes is the header's end: the row stays whole.
    assert _parallel.spans(path, 4) == [Span(0, header, 1), Span(header, size, 2)]
    assert _parallel.spans(path, 1) == [Span(0, size, 1)]


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every report is read in worker processes, however small (two, whatever the CPUs)."""
    monkeypatch.setattr(matching, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(matching, "cpus", lambda: 2)


def _report(tmp_path: Path, rows: int = 400, **bad: str) -> Path:
    made = _rows([f"order-{n}" for n in range(rows)])
    for line, cell in bad.items():  # line_N: the row on line N gets that gross
        made[int(line.removeprefix("line_")) - 2][STRIPE.index("gross")] = cell
    return write(tmp_path / "big.csv", STRIPE, *made)


def test_workers_find_what_a_serial_read_finds(tmp_path: Path, parallel: None) -> None:
    path = _report(tmp_path)
    seen: list[int] = []
    report = read_settlement("stripe", path, progress=seen.append)
    policy = ReconPolicy()
    result = reconcile("stripe", report, [], policy=policy)
    assert result.rows == 400
    serial = reconcile("stripe", list(read_settlement("stripe", path)), [], policy=policy)
    assert result.findings == serial.findings and result.tallies == serial.tallies
    # Every row settled without a record, each cited at its own line, in file order.
    assert [f.line for f in result.findings] == list(range(2, 402))
    assert seen and seen[-1] == path.stat().st_size


def test_progress_comes_while_the_records_are_still_being_staged(
    tmp_path: Path, parallel: None
) -> None:
    path = _report(tmp_path, rows=20_000)  # long enough for the workers to report progress
    progressed = threading.Event()

    def records() -> Iterator[PaymentRecord]:
        # Staged while the workers read: nothing comes until their progress has.
        assert progressed.wait(timeout=60), "no progress while the records were staged"
        yield from ()

    report = read_settlement("stripe", path, progress=lambda _: progressed.set())
    assert reconcile("stripe", report, records()).rows == 20_000


def test_the_first_refusal_in_the_file_is_raised(tmp_path: Path, parallel: None) -> None:
    path = _report(tmp_path, line_350="1.2.3", line_380="x", line_120="1.001")
    with pytest.raises(ReportError, match=r"line 120: gross: 1\.001 has more decimals"):
        reconcile("stripe", read_settlement("stripe", path), [])
    with pytest.raises(ReportError, match=r"line 120: gross"):
        list(read_settlement("stripe", path))  # as the serial read says


def test_workers_that_cannot_run_leave_the_report_to_be_read_here(
    tmp_path: Path,
    parallel: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(_parallel, "_WORKER", "paygate.recon.no_such_module")
    path = _report(tmp_path)
    with caplog.at_level(logging.WARNING, logger="paygate"):
        result = reconcile("stripe", read_settlement("stripe", path), [])
    assert result.rows == 400 and len(result.findings) == 400
    assert "reading big.csv in 2 processes failed" in caplog.text
    assert "No module named paygate.recon.no_such_module" in caplog.text


def test_no_interpreter_to_start_leaves_the_report_to_be_read_here(
    tmp_path: Path,
    parallel: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(_parallel.sys, "executable", str(tmp_path / "no-python"))
    with caplog.at_level(logging.WARNING, logger="paygate"):
        result = reconcile("stripe", read_settlement("stripe", _report(tmp_path)), [])
    assert result.rows == 400 and len(result.findings) == 400
    assert "cannot start workers" in caplog.text


def test_quotes_outside_rfc_4180_are_read_right(tmp_path: Path, parallel: None) -> None:
    """A quote inside an unquoted field (which the reader accepts) flips the count the cuts
    rely on: a span then ends inside a quoted field and refuses, and the report is read here,
    with the same findings as a serial read."""
    header = ",".join(STRIPE)
    rows = [stripe_row(**{"payment_metadata[reference]": 'x"y'})]  # written unquoted below
    rows += [
        stripe_row(balance_transaction_id=f"txn_{n}", **{"payment_metadata[reference]": "a\nb"})
        for n in range(200)
    ]
    lines = [",".join(rows[0]), *(_quoted(row) for row in rows[1:])]
    path = tmp_path / "odd.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    serial = reconcile("stripe", list(read_settlement("stripe", path)), [])
    first, *_ = _parallel.spans(path, 2)
    with pytest.raises(ReportError, match="unexpected end of data"):  # the cut fell inside
        list(read_report(path, ITEMIZED_REPORT, span=first))
    result = reconcile("stripe", read_settlement("stripe", path), [])
    assert result.rows == serial.rows == 201 and result.findings == serial.findings


def _quoted(row: list[str]) -> str:
    return ",".join('"' + cell.replace('"', '""') + '"' for cell in row)
