"""Settlement reconciliation at volume: a generated Stripe itemized report of N rows against
as many records (``Expected`` projections, as ``RecordStore.scan`` yields them: one per
payment settled, the rest authorized and never captured),
read and matched in a fresh interpreter per size; seconds, rows per second and peak resident
memory (VmHWM), and how time grows from the smallest size to the largest.

Every category is planted at a known count (one payment in each 1,000 per category, with
every tenth payment refunded and a fee and a payout row per 1,000), and the run checks the
counts it finds against them: a fast wrong answer fails.

``python -m benchmarks.recon ROWS`` prints one JSON object.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from paygate.recon import Category, Expected, ReconPolicy, read_settlement, reconcile

C = Category
_ROOT = Path(__file__).resolve().parents[1]
NOW: Final = datetime(2026, 11, 25, 12, tzinfo=UTC)
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


def generate(path: Path, payments: int, records_wanted: int = 0) -> list[Expected]:
    """Write the report; return the records it is matched against: one per payment settled,
    then payments authorized and never captured (nothing to settle) up to
    ``records_wanted``."""
    records: list[Expected] = []
    when = "2026-11-24 12:00:00"
    old = NOW - timedelta(days=30)
    with path.open("w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(HEADER)
        for n in range(payments):
            slot = n % 1000
            pi, ref, charge = f"pi_{n:024d}", f"order-{n}", f"ch_{n:024d}"
            authorized = captured = 1000 + n % 9000
            if slot in {9, 10}:
                captured = authorized - 100  # partially captured
            fee = (authorized * 14 + 500) // 1000 + 25
            if slot != 6:
                records.append(
                    Expected(
                        record_id=f"pr_{n:024d}",
                        provider="stripe",
                        payment_id=None if slot == 12 else pi,
                        reference=ref,
                        currency="EUR",
                        authorized=authorized,
                        captured=0 if slot == 12 else captured,
                        changed_at=old,
                        unknown=slot == 12,
                        refunds={f"re_{n:024d}": 200} if n % 10 == 0 else None,
                    )
                )
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
    for n in range(payments, payments + max(0, records_wanted - len(records))):
        records.append(
            Expected(
                record_id=f"pr_{n:024d}",
                provider="stripe",
                payment_id=f"pi_{n:024d}",
                reference=f"order-{n}",
                currency="EUR",
                authorized=1000,
                captured=0,
                changed_at=old,
            )
        )
    return records


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


def measure(rows: int) -> dict[str, object]:
    """One size, in this interpreter: generate, then read and match (timed)."""
    payments = _plan(rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "itemized.csv"
        records = generate(path, payments, records_wanted=rows)
        began = time.perf_counter()
        result = reconcile(
            "stripe", read_settlement("stripe", path), records, policy=ReconPolicy(as_of=NOW)
        )
        seconds = time.perf_counter() - began
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
        "records": len(records),
        "seconds": seconds,
        "peak_rss": _peak_rss(),
        "found": dict(found),
        "planted": expected,
        "correct": dict(found) == expected,
    }


@dataclass(frozen=True)
class ReconPoint:
    rows: int
    records: int
    seconds: float
    peak_rss: int
    correct: bool

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def scaling(sizes: tuple[int, ...]) -> list[ReconPoint]:
    """Each size in a fresh interpreter (so one size's memory does not count for the next)."""
    points = []
    for rows in sizes:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.recon", str(rows)],
            cwd=_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=900,
        )
        data = json.loads(done.stdout)
        if not data["correct"]:  # a fast wrong answer fails the run
            raise RuntimeError(f"{rows:,} rows: found {data['found']}, planted {data['planted']}")
        points.append(
            ReconPoint(
                data["rows"], data["records"], data["seconds"], data["peak_rss"], data["correct"]
            )
        )
    return points


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]))))
