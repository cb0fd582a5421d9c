"""Failing fast: the latency of an authorize that the gateway refuses locally, nothing sent:

* open breaker: a ``Gateway`` whose breaker opened on a provider 503 (``failure_threshold=1``,
  ``reset_timeout`` one hour, one attempt per call), so every call raises ``CircuitOpen``;
* full bulkhead: a ``Gateway`` with one slot (``max_concurrent=1``, ``max_wait=0``) held by a
  call parked in the transport on another thread, so every call raises ``BulkheadFull``.

Both over an ``httpx.MockTransport``, interleaved, each call on a fresh reference (so each one
also goes through the idempotency store and the record store before it is refused).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import httpx

from benchmarks._harness import Stats, run_interleaved
from benchmarks._stripe_bare import AMOUNT, API_KEY, VISA
from benchmarks.overhead import BASE_URL, _answer
from paygate import BreakerPolicy, BulkheadPolicy, Gateway, RetryPolicy
from paygate.adapters.stripe import StripeAdapter
from paygate.errors import BulkheadFull, CircuitOpen, PaymentError

OPEN_BREAKER = "open circuit breaker (CircuitOpen)"
FULL_BULKHEAD = "full bulkhead (BulkheadFull)"


@dataclass(frozen=True)
class FailFastResult:
    refusals: dict[str, Stats]
    sent: int  # requests the transport saw while refusals were timed: must be 0


def _refused(gw: Gateway, expected: type[PaymentError], prefix: str) -> Callable[[int], None]:
    def call(n: int) -> None:
        try:
            gw.authorize(AMOUNT, source=VISA, reference=f"{prefix}-{n}")
        except expected:
            return
        raise AssertionError(f"{prefix}: the call was not refused")

    return call


@contextmanager
def _open_breaker() -> Iterator[tuple[Gateway, list[int]]]:
    sent = [0]

    def unavailable(request: httpx.Request) -> httpx.Response:
        sent[0] += 1
        return httpx.Response(503, json={"error": {"type": "api_error", "message": "down"}})

    with Gateway(
        StripeAdapter(API_KEY, base_url=BASE_URL),
        transport=httpx.MockTransport(unavailable),
        breaker=BreakerPolicy(failure_threshold=1, reset_timeout=3600),
        retry=RetryPolicy(max_attempts=1),
    ) as gw:
        with suppress(PaymentError):
            gw.authorize(AMOUNT, source=VISA, reference="open-the-breaker")
        sent[0] = 0
        yield gw, sent


@contextmanager
def _full_bulkhead() -> Iterator[tuple[Gateway, list[int]]]:
    sent = [0]
    parked, release = threading.Event(), threading.Event()

    def held(request: httpx.Request) -> httpx.Response:
        sent[0] += 1
        parked.set()
        release.wait(60)
        return _answer(request)

    with Gateway(
        StripeAdapter(API_KEY, base_url=BASE_URL),
        transport=httpx.MockTransport(held),
        bulkhead=BulkheadPolicy(max_concurrent=1, max_wait=0),
    ) as gw:
        holder = threading.Thread(
            target=gw.authorize, args=(AMOUNT,), kwargs={"source": VISA, "reference": "holder"}
        )
        holder.start()
        try:
            if not parked.wait(10):
                raise RuntimeError("the holding call never reached the transport")
            sent[0] = 0
            yield gw, sent
        finally:
            release.set()
            holder.join(10)


def fail_fast(*, rounds: int, per_round: int) -> FailFastResult:
    with _open_breaker() as (breaker_gw, breaker_sent), _full_bulkhead() as (bulk_gw, bulk_sent):
        stats = run_interleaved(
            {
                OPEN_BREAKER: _refused(breaker_gw, CircuitOpen, "breaker"),
                FULL_BULKHEAD: _refused(bulk_gw, BulkheadFull, "bulkhead"),
            },
            rounds=rounds,
            per_round=per_round,
        )
        sent = breaker_sent[0] + bulk_sent[0]
    return FailFastResult(stats, sent)
