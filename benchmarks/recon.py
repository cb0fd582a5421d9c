"""Settlement reconciliation at volume: a generated Stripe itemized report of N rows against
as many payment records in a SQLite record store (one per payment settled, the rest authorized
and never captured), written beforehand with ``SQLiteRecordStore.bulk_load`` (untimed). Timed,
in a fresh interpreter per size, as ``paygate recon`` runs it: ``reconcile`` given the store's
record documents (``RecordStore.scan_json``) and the report file (``read_settlement``; a
report past ``PARALLEL_BYTES`` is read by one worker process per CPU while the records are
staged). Reported: the time spent pulling the records out of the store, the rest (reading
the report and matching), rows per second, the peak resident memory (VmHWM) of this process
and of the largest worker, and how time grows from the smallest size to the largest.

Every category is planted at a known count (one payment in each 1,000 per category, with
every tenth payment refunded and a fee and a payout row per 1,000), and the run checks the
counts it finds against them: a fast wrong answer fails.

``python -m benchmarks.recon prepare|measure ROWS DIRECTORY`` writes one size's data, or
reconciles it and prints one JSON object.
"""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Generic, TypeVar

from paygate import Money, Payment, PaymentStatus
from paygate.models import Operation, Refund, RefundStatus
from paygate.recon import Category, ReconPolicy, read_settlement, reconcile
from paygate.recon._parallel import PARALLEL_BYTES, cpus, spans
from paygate.records import SQLiteRecordStore, changes
from paygate.records.changes import Change
from paygate.records.state import UnknownOperation
from paygate.records.trail import CallCause

C = Category
_ROOT = Path(__file__).resolve().parents[1]
NOW: Final = datetime(2026, 11, 25, 12, tzinfo=UTC)
T = TypeVar("T")
OLD: Final = NOW - timedelta(days=30)  # when every record last changed
HEADER: Final = (
    "balance_transaction_id",
    "created_utc",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "source_id",
    "automatic_payout_id",
    "payment_intent_id",
    "payment_metadata[reference]",
)
# Which payment (its number modulo 1,000) plants which category.
PLANTED: Final = {
    1: C.NOT_SETTLED,
    2: C.SETTLED_TWICE,
    3: C.AMOUNT_OVER,
    4: C.AMOUNT_UNDER,
    5: C.CURRENCY_MISMATCH,
    6: C.SETTLED_WITHOUT_RECORD,
    7: C.REFUND_WITHOUT_RECORD,
    8: C.CHARGEBACK,
    9: C.RELEASE_MISSING,
    10: C.RELEASE_EXPECTED,
    11: C.NET_MISMATCH,
    12: C.UNKNOWN_RESOLVED,
}
ROWS_PER_PAYMENT: Final = 1.1 + 2 / 1000  # a refund per ten, a fee and a payout per thousand


def _plan(rows: int) -> int:
    """Payments whose settlement makes about ``rows`` rows."""
    return max(1000, int(rows / ROWS_PER_PAYMENT) // 1000 * 1000)


def _amounts(n: int) -> tuple[int, int]:
    """Payment ``n``'s authorized and captured amounts, in cents (two in each 1,000 are
    partially captured)."""
    authorized = 1000 + n % 9000
    return authorized, authorized - 100 if n % 1000 in {9, 10} else authorized


def _eur(cents: int) -> Money:
    return Money.from_minor_units(cents, "EUR")


def _history(n: int, authorized: int, captured: int) -> list[Change]:
    """The changes that made payment ``n``'s record, as the Gateway would have applied them."""
    cause = CallCause(operation="purchase", idempotency_key=f"key-{n}")
    ref, amount = f"order-{n}", _eur(authorized)
    if n % 1000 == 12:  # the answer was lost: no payment id, an unknown outcome
        lost = UnknownOperation(
            operation=Operation.PURCHASE, idempotency_key=f"key-{n}", amount=amount,
            reference=ref, replayable=True, since=OLD, next_check_at=OLD,
        )  # fmt: skip
        made = changes.outcome_unknown(
            None, lost, amount=amount, provider="stripe", cause=cause, now=OLD
        )
        return [made]
    paid = Payment(
        id=f"pi_{n:024d}", provider="stripe", amount=amount, amount_authorized=amount,
        amount_captured=_eur(captured), amount_refunded=_eur(0), reference=ref,
        status=PaymentStatus.CAPTURED if captured else PaymentStatus.AUTHORIZED,
        provider_status="succeeded" if captured else "requires_capture",
    )  # fmt: skip
    history = [changes.observe(None, paid, cause, OLD)]
    if captured and n % 10 == 0:
        refund = Refund(
            id=f"re_{n:024d}", provider="stripe", payment_id=paid.id, amount=_eur(200),
            status=RefundStatus.SUCCEEDED, provider_status="succeeded",
        )  # fmt: skip
        history.append(changes.refunded(history[0].record, refund, cause, OLD))
    return history


def histories(payments: int, records_wanted: int = 0) -> Iterator[list[Change]]:
    """The records the report is matched against: one per payment settled (every payment
    but those settled without a record), then payments authorized and never captured
    (nothing to settle) up to ``records_wanted``."""
    made = 0
    for n in range(payments):
        if n % 1000 != 6:
            made += 1
            yield _history(n, *_amounts(n))
    for n in range(payments, payments + max(0, records_wanted - made)):
        yield _history(n, 1000, 0)


def generate(path: Path, payments: int) -> None:
    """Write the report: ``payments`` payments' settlement, with every category planted."""
    when = "2026-11-24 12:00:00"
    with path.open("w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(HEADER)
        for n in range(payments):
            slot = n % 1000
            pi, ref, charge = f"pi_{n:024d}", f"order-{n}", f"ch_{n:024d}"
            authorized, captured = _amounts(n)
            fee = (authorized * 14 + 500) // 1000 + 25
            if slot == 1:
                continue  # never settled
            gross = authorized + (1 if slot == 3 else -1 if slot == 4 else 0)
            net = gross - fee + (1 if slot == 11 else 0)
            currency = "usd" if slot == 5 else "eur"
            row = [
                f"txn_{n:024d}",
                when,
                currency,
                _major(gross),
                _major(fee),
                _major(net),
                "charge",
                charge,
                "po_1",
                pi,
                ref,
            ]
            w.writerow(row)
            if slot == 2:
                w.writerow([f"txn_{n:024d}b", *row[1:]])
            if slot == 10:
                release = _major(captured - authorized)
                w.writerow(
                    [
                        f"txn_{n:024d}r",
                        when,
                        "eur",
                        release,
                        "0.00",
                        release,
                        "partial_capture_reversal",
                        charge,
                        "po_1",
                        pi,
                        ref,
                    ]
                )
            if slot == 7:
                w.writerow(
                    [
                        f"txn_{n:024d}x",
                        when,
                        "eur",
                        "-1.00",
                        "0.00",
                        "-1.00",
                        "refund",
                        f"re_x{n:023d}",
                        "po_1",
                        pi,
                        "",
                    ]
                )
            if slot == 8:
                w.writerow(
                    [
                        f"txn_{n:024d}d",
                        when,
                        "eur",
                        _major(-gross),
                        "15.00",
                        _major(-gross - 1500),
                        "dispute",
                        f"dp_{n:024d}",
                        "po_1",
                        pi,
                        "",
                    ]
                )
            if n % 10 == 0:
                w.writerow(
                    [
                        f"txn_{n:024d}f",
                        when,
                        "eur",
                        "-2.00",
                        "0.00",
                        "-2.00",
                        "refund",
                        f"re_{n:024d}",
                        "po_1",
                        pi,
                        "",
                    ]
                )
            if slot == 999:
                w.writerow(
                    [
                        f"txn_{n:024d}s",
                        when,
                        "eur",
                        "-1.50",
                        "0.00",
                        "-1.50",
                        "fee",
                        "",
                        "po_1",
                        "",
                        "",
                    ]
                )
                w.writerow(
                    [
                        f"txn_{n:024d}p",
                        when,
                        "eur",
                        "-100.00",
                        "0.00",
                        "-100.00",
                        "payout",
                        "po_1",
                        "po_1",
                        "",
                        "",
                    ]
                )


def _major(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}.{cents:02d}"


def _peak_rss() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


class Timed(Generic[T]):
    """An iterator's items, with the time spent making them added up (``seconds``): what
    reading a stream costs, inside the run that consumes it."""

    def __init__(self, items: Iterable[T]) -> None:
        self._items = iter(items)
        self.seconds = 0.0

    def __iter__(self) -> Iterator[T]:
        items, clock = self._items, time.perf_counter
        while True:
            began = clock()
            item = next(items, None)
            self.seconds += clock() - began
            if item is None:
                return
            yield item


def prepare(rows: int, directory: Path) -> int:
    """Write the report and the record store of one size into ``directory`` (untimed, in an
    interpreter of its own: its memory is not the run's); how many records it wrote."""
    generate(directory / "itemized.csv", _plan(rows))
    store = SQLiteRecordStore(directory / "records.db")
    try:
        return store.bulk_load(histories(_plan(rows), records_wanted=rows))
    finally:
        store.close()


def measure(rows: int, directory: Path) -> dict[str, object]:
    """One size, in this interpreter, on what ``prepare`` wrote: the records loaded, the
    report read and the two matched."""
    payments = _plan(rows)
    path = directory / "itemized.csv"
    store = SQLiteRecordStore(directory / "records.db")
    try:
        began = time.perf_counter()
        loaded = Timed(store.scan_json("stripe"))
        result = reconcile(
            "stripe", read_settlement("stripe", path), loaded, policy=ReconPolicy(as_of=NOW)
        )
        seconds = time.perf_counter() - began
    finally:
        store.close()
    size = path.stat().st_size
    workers = len(spans(path, cpus())) if size >= PARALLEL_BYTES else 1
    found = Counter(f.category.value for f in result.findings)
    found[C.RELEASE_EXPECTED.value] = sum(
        t.count for (c, _), t in result.tallies.items() if c is C.RELEASE_EXPECTED
    )
    per_category = payments // 1000
    expected = {category.value: per_category for category in PLANTED.values()}
    # A record whose only row is in another currency is settled in none of its own: it is
    # not settled too.
    expected[C.NOT_SETTLED.value] = 2 * per_category
    return {
        "rows": result.rows,
        "records": rows,
        "workers": workers,
        "load": loaded.seconds,
        "match": seconds - loaded.seconds,
        "seconds": seconds,
        "peak_rss": _peak_rss(),
        "worker_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
        "found": dict(found),
        "planted": expected,
        "correct": dict(found) == expected,
    }


@dataclass(frozen=True)
class ReconPoint:
    rows: int
    records: int
    workers: int  # processes reading the report (1: this one)
    load: float  # seconds pulling the records' documents out of the store
    match: float  # seconds reading the report and matching (the rest)
    seconds: float
    peak_rss: int  # this process's
    worker_rss: int  # the largest worker's (0: none ran)
    correct: bool

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def scaling(sizes: tuple[int, ...]) -> list[ReconPoint]:
    """Each size's data written by one interpreter and reconciled by another (so that neither
    the writing nor another size counts in the run's memory)."""
    points = []
    for rows in sizes:
        with tempfile.TemporaryDirectory(prefix="paygate-recon-bench-") as tmp:
            for step in ("prepare", "measure"):
                done = subprocess.run(
                    [sys.executable, "-m", "benchmarks.recon", step, str(rows), tmp],
                    cwd=_ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=1800,
                )
        data = json.loads(done.stdout)
        if not data["correct"]:  # a fast wrong answer fails the run
            raise RuntimeError(f"{rows:,} rows: found {data['found']}, planted {data['planted']}")
        fields = (
            "rows", "records", "workers", "load", "match", "seconds", "peak_rss", "worker_rss",
            "correct",
        )  # fmt: skip
        points.append(ReconPoint(*(data[name] for name in fields)))
    return points


if __name__ == "__main__":
    step, size, where = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    print(json.dumps(prepare(size, where) if step == "prepare" else measure(size, where)))
