"""Steady state: resident memory (VmRSS from /proc/self/status) after N sequential authorizes
through a ``Gateway`` over an ``httpx.MockTransport`` (the canned PaymentIntent of the overhead
benchmark), with the default memory stores, measured in a fresh interpreter so nothing else
this run allocated is counted.

Two configurations: the defaults (``MemoryStore()``: completed keys kept ``ttl`` = 24 h, at most
``max_entries`` = 100,000; ``MemoryRecordStore()``: at most ``max_records`` records, where this
paygate has that bound), run past those bounds; and both stores bounded small (1,000 keys,
1,000 records), so that a plateau shows within a short run. Growth per call is the RSS change
since the previous checkpoint over the calls between them.

``python -m benchmarks.steady CHECKPOINT ...`` prints one JSON object per line.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks._stripe_bare import AMOUNT, API_KEY, VISA
from benchmarks.overhead import BASE_URL, _answer
from paygate import Gateway, PaymentStatus
from paygate.adapters.stripe import StripeAdapter
from paygate.idempotency.memory import DEFAULT_MAX_ENTRIES, DEFAULT_TTL, MemoryStore
from paygate.records import memory as record_memory
from paygate.records.memory import MemoryRecordStore

DEFAULTS = "default memory stores"
BOUNDED = "bounds 1,000 / 1,000"
SMALL_BOUND = 1000
MAX_RECORDS: int | None = getattr(record_memory, "DEFAULT_MAX_RECORDS", None)
_ROOT = Path(__file__).resolve().parents[1]


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


_REFERENCE = b"metadata%5Breference%5D="
_PLACEHOLDER = b"@reference@"
# The overhead benchmark's answer for one placeholder reference: every call here authorizes
# AMOUNT, so only the reference (in the intent's id and metadata) differs from call to call.
_TEMPLATE = _answer(
    httpx.Request(
        "POST", BASE_URL, content=b"amount=1234&currency=eur&" + _REFERENCE + b"%40reference%40"
    )
).content


def _canned(request: httpx.Request) -> httpx.Response:
    """The overhead benchmark's answer, filled in rather than parsed and encoded per call: the
    mock transport's own cost is not what this measures, and a run makes over 100,000 calls."""
    body = request.content
    start = body.index(_REFERENCE) + len(_REFERENCE)
    end = body.find(b"&", start)
    reference = body[start : None if end < 0 else end]  # "steady-N": nothing to unquote
    return httpx.Response(
        200, content=_TEMPLATE.replace(_PLACEHOLDER, reference), headers={"Request-Id": "req_b"}
    )


def _measure(config: str, checkpoints: list[int]) -> list[dict[str, object]]:
    if config == BOUNDED:
        store = MemoryStore(max_entries=SMALL_BOUND)
        records = (
            MemoryRecordStore(max_records=SMALL_BOUND)
            if MAX_RECORDS is not None
            else MemoryRecordStore()
        )
    else:
        store, records = MemoryStore(), MemoryRecordStore()
    adapter = StripeAdapter(API_KEY, base_url=BASE_URL)
    rows: list[dict[str, object]] = []
    transport = httpx.MockTransport(_canned)
    with Gateway(adapter, transport=transport, store=store, records=records) as gw:
        warm = 200  # imports, caches, the first pool connection: not the steady state
        for n in range(warm):
            gw.authorize(AMOUNT, source=VISA, reference=f"warm-{n}")
        gc.collect()
        rows.append({"config": config, "calls": 0, "rss": rss_bytes(), "keys": len(store._entries)})
        done = 0
        for checkpoint in checkpoints:
            for n in range(done, checkpoint):
                p = gw.authorize(AMOUNT, source=VISA, reference=f"steady-{n}")
                if p.status is not PaymentStatus.AUTHORIZED:
                    raise AssertionError(p)
            done = checkpoint
            gc.collect()
            rows.append(
                {
                    "config": config,
                    "calls": done,
                    "rss": rss_bytes(),
                    "keys": len(store._entries),
                    "records": len(records._records),
                }
            )
    return rows


@dataclass(frozen=True)
class Checkpoint:
    config: str
    calls: int
    rss: int
    keys: int
    records: int | None = None  # not taken at the warm-up row


@dataclass(frozen=True)
class SteadyResult:
    checkpoints: list[Checkpoint]

    def per_call(self, point: Checkpoint) -> float | None:
        """Bytes of RSS growth per call since the previous checkpoint (None for the first)."""
        rows = [c for c in self.checkpoints if c.config == point.config]
        at = rows.index(point)
        if at == 0:
            return None
        before = rows[at - 1]
        return (point.rss - before.rss) / (point.calls - before.calls)


def steady_state(checkpoints: list[int], bounded: list[int]) -> SteadyResult:
    """Each configuration in a fresh interpreter: the defaults to ``checkpoints``, the small
    idempotency bound to ``bounded``. The two run side by side: resident memory is each
    process's own, and it does not depend on how fast the calls go."""
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.steady", config, *map(str, marks)],
            cwd=_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for config, marks in ((DEFAULTS, checkpoints), (BOUNDED, bounded))
    ]
    found: list[Checkpoint] = []
    try:
        for run in runs:
            out, err = run.communicate(timeout=600)
            if run.returncode != 0:
                raise RuntimeError(f"steady-state run {run.args!r} failed:\n{err}")
            found += [Checkpoint(**json.loads(line)) for line in out.splitlines()]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    return SteadyResult(found)


BOUNDS = (
    f"MemoryStore(): ttl {DEFAULT_TTL / 3600:g} h, max_entries {DEFAULT_MAX_ENTRIES:,}; "
    + (
        "MemoryRecordStore(): no bound (every record kept)"
        if MAX_RECORDS is None
        else f"MemoryRecordStore(): max_records {MAX_RECORDS:,}"
    )
    + f"; '{BOUNDED}': MemoryStore(max_entries={SMALL_BOUND}), "
    + f"MemoryRecordStore(max_records={SMALL_BOUND})"
)

if __name__ == "__main__":
    for result in _measure(sys.argv[1], [int(arg) for arg in sys.argv[2:]]):
        print(json.dumps(result))
