"""Hostile answers: how long one authorize takes, and how much memory it costs, when the
provider's answer is huge, endless, a gzip bomb or dripped a byte at a time (the Stripe
simulator's faults), against a 5 s deadline. Each case runs in a fresh interpreter, so its peak
RSS (``VmHWM``: ``ru_maxrss`` would carry the forking parent's peak through ``exec``) is its
own; growth is that peak over the RSS before the call.

``python -m benchmarks.hostile CASE`` prints one JSON object.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from benchmarks.steady import rss_bytes
from paygate import Gateway, Money, PaymentSource, RetryPolicy, Timeout
from paygate.errors import PaymentError
from paygate.testing import Fault, StripeSimulator

DEADLINE: Final = 5.0
_ROOT = Path(__file__).resolve().parents[1]
CASES: Final = {
    "100 MB answer": lambda: Fault.oversized_body(size=100 << 20),
    "1 GB gzip bomb": lambda: Fault.gzip_bomb(size=1 << 30),
    "endless chunked answer": Fault.endless_body,
    "body dripped 1 byte/s": lambda: Fault.slow_body(interval=1.0),
    "headers dripped 1 byte/s": lambda: Fault.slow_headers(interval=1.0),
}


@dataclass(frozen=True)
class HostileResult:
    case: str
    outcome: str
    seconds: float
    growth_mib: float


def _peak_rss() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _measure(case: str) -> dict[str, object]:
    with (
        StripeSimulator() as sim,
        Gateway.for_stripe(
            "sk_test_hostile",
            base_url=sim.url,
            retry=RetryPolicy(max_attempts=1),
            timeout=Timeout(read=DEADLINE, total=DEADLINE),
        ) as gw,
    ):
        visa = PaymentSource.token("pm_card_visa")
        gw.authorize(Money("1.00", "EUR"), source=visa, reference="warm-up")
        sim.inject(CASES[case](), method="POST")
        before = rss_bytes()
        started = time.monotonic()
        try:
            gw.authorize(Money("2.00", "EUR"), source=visa, reference="hostile")
            outcome = "success"
        except PaymentError as error:
            outcome = f"{type(error).__name__} {error.code.value}"
        seconds = time.monotonic() - started
        peak = _peak_rss()
    return {"case": case, "outcome": outcome, "seconds": seconds, "growth": peak - before}


def hostile(cases: tuple[str, ...] = tuple(CASES)) -> list[HostileResult]:
    """Each case in its own interpreter."""
    results = []
    for case in cases:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.hostile", case],
            capture_output=True,
            text=True,
            check=True,
            cwd=_ROOT,
        )
        row = json.loads(done.stdout.strip().splitlines()[-1])
        growth = max(0, int(row["growth"])) / (1 << 20)
        results.append(HostileResult(case, str(row["outcome"]), float(row["seconds"]), growth))
    return results


if __name__ == "__main__":
    print(json.dumps(_measure(sys.argv[1])))
