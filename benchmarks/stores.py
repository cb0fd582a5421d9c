"""Store throughput: how many operations a second each store takes, from 1 and from 8 threads
sharing one store object (as a service's worker threads would).

Three operations:

* idempotency: ``begin`` on a fresh key, then ``complete`` under the lease it returned (one
  operation is both calls);
* records: one ``apply`` that changes an existing payment record (a provider snapshot reporting
  a refunded figure one cent higher than the last, so every apply is a real transition with its
  trail entry). Each worker changes its own record: this measures throughput, not contention
  for one record's lock;
* intents: ``write_intent`` of a fresh call, what every mutating call adds before its request
  leaves (the outcome's ``apply`` then clears it with one more statement in its transaction).

Stores: memory, SQLite (a file in a temporary directory), PostgreSQL (a migrated scratch schema,
dropped afterwards) and Redis (idempotency only; a unique key prefix, its keys deleted
afterwards). PostgreSQL and Redis are found through ``PAYGATE_BENCH_POSTGRES_URL`` /
``PAYGATE_BENCH_REDIS_URL`` (else ``PAYGATE_TEST_POSTGRES_URL`` / ``PAYGATE_TEST_REDIS_URL``);
without one, or when it cannot be reached, their rows say why they were skipped.

ops/s is the operations completed by all workers over the wall time from their common start to
the last one's finish; latencies are per operation, all workers' samples together.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from benchmarks._harness import Stats
from paygate import Money, Payment, PaymentStatus
from paygate.idempotency.memory import MemoryStore
from paygate.idempotency.sqlite import SQLiteStore
from paygate.idempotency.store import Begin, IdempotencyStore
from paygate.models import Operation
from paygate.records import (
    Intent,
    Locate,
    MemoryRecordStore,
    RecordStore,
    SQLiteRecordStore,
    changes,
)
from paygate.records.trail import CallCause

IDEMPOTENCY = "idempotency begin+complete"
RECORDS = "record transition (apply)"
INTENTS = "intent write (before each request)"
WORKER_COUNTS = (1, 8)

_FINGERPRINT = "9f2c" * 16  # the length of the sha256 hex digest the gateway uses
_OUTCOME = '{"kind":"payment","id":"pi_bench","status":"captured","amount":"12.34 EUR"}' * 3
_CAUSE = CallCause(operation="refund", idempotency_key="bench")
_CAPTURED = Money("1000000.00", "EUR")


class Skip(Exception):
    """The store cannot be benchmarked here; the message says why."""


@dataclass(frozen=True)
class Plan:
    """Run each (store, operation, workers) for ``seconds``, or, when ``ops`` is given, for that
    many operations split between the workers. ``warmup`` operations per worker go first,
    untimed (connections, caches)."""

    seconds: float = 1.5
    ops: int | None = None
    warmup: int = 100


@dataclass(frozen=True)
class StoreResult:
    store: str
    operation: str
    workers: int | None = None
    ops: int = 0
    seconds: float = 0.0
    latency: Stats | None = None
    skipped: str | None = None

    @property
    def ops_per_second(self) -> float:
        return self.ops / self.seconds


class _Closing(Protocol):
    def close(self) -> None: ...


# A factory of operations: given a worker number and a run tag, the callable one operation is.
OpFactory = Callable[[Any, str, int], Callable[[], None]]


def _idempotency_op(store: IdempotencyStore, tag: str, worker: int) -> Callable[[], None]:
    counter = itertools.count()

    def op() -> None:
        key = f"{tag}-{worker}-{next(counter)}"
        begun = store.begin(key, _FINGERPRINT, lease_seconds=30.0)
        if begun.outcome is not Begin.PROCEED or begun.token is None:
            raise AssertionError(f"a fresh key did not proceed: {begun}")
        if not store.complete(key, begun.token, _OUTCOME):
            raise AssertionError("the lease was lost")

    return op


def _record_op(store: RecordStore, tag: str, worker: int) -> Callable[[], None]:
    base = Payment(
        id=f"pay_{tag}_{worker}", provider="bench", status=PaymentStatus.CAPTURED,
        amount=_CAPTURED, amount_authorized=_CAPTURED, amount_captured=_CAPTURED,
        amount_refunded=Money.zero("EUR"), reference=f"order-{tag}-{worker}",
        provider_status="succeeded",
    )  # fmt: skip
    created = store.apply(
        Locate(), lambda r: changes.observe(r, base, _CAUSE, datetime.now(UTC))
    ).record
    if created is None:
        raise AssertionError("the record was not created")
    locate = Locate(record_id=created.record_id)
    cents = itertools.count(1)

    def op() -> None:
        refunded = Money.from_minor_units(next(cents), "EUR")
        payment = base.model_copy(
            update={"status": PaymentStatus.PARTIALLY_REFUNDED, "amount_refunded": refunded}
        )
        applied = store.apply(
            locate, lambda r: changes.observe(r, payment, _CAUSE, datetime.now(UTC))
        )
        if not applied.applied:
            raise AssertionError(f"the record did not change: {applied.entry}")

    return op


def _intent_op(store: RecordStore, tag: str, worker: int) -> Callable[[], None]:
    counter = itertools.count()
    amount = Money("12.34", "EUR")

    def op() -> None:
        key = f"{tag}-{worker}-{next(counter)}"
        now = datetime.now(UTC)
        store.write_intent(
            Intent(
                provider="bench", operation=Operation.AUTHORIZE, idempotency_key=key,
                amount=amount, reference=f"order-{key}", replayable=True,
                request={"amount": {"amount": "12.34", "currency": "EUR"},
                         "reference": f"order-{key}", "capture": False, "metadata": {}},
                body_digest=_FINGERPRINT, record_id=f"pr_{key}", payment_id=None,
                since=now, lease_until=now + timedelta(minutes=2),
            )
        )  # fmt: skip

    return op


def _run_threads(ops: list[Callable[[], None]], plan: Plan) -> tuple[int, float, Stats]:
    """One thread per operation callable, started together; the operations completed, the wall
    seconds from the common start to the last finish, and every operation's latency."""
    workers = len(ops)
    per_worker = None if plan.ops is None else max(1, plan.ops // workers)
    start: list[float] = []
    barrier = threading.Barrier(workers, action=lambda: start.append(time.perf_counter()))
    samples: list[list[float]] = [[] for _ in ops]
    ends: list[float] = [0.0] * workers
    failures: list[BaseException] = []

    def work(n: int) -> None:
        op, mine = ops[n], samples[n]
        try:
            for _ in range(plan.warmup):
                op()
        except BaseException as error:
            failures.append(error)
            barrier.abort()
            return
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return
        deadline = start[0] + plan.seconds
        try:
            while time.perf_counter() < deadline if per_worker is None else len(mine) < per_worker:
                began = time.perf_counter_ns()
                op()
                mine.append((time.perf_counter_ns() - began) / 1000)
        except BaseException as error:
            failures.append(error)
        ends[n] = time.perf_counter()

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    everything = [sample for worker in samples for sample in worker]
    return len(everything), max(ends) - start[0], Stats("latency", everything)


def _bench(
    name: str, operation: str, open_store: Callable[[], _Closing], make_op: OpFactory, plan: Plan
) -> list[StoreResult]:
    """Both worker counts on one store object; a Skip from opening it becomes one row."""
    try:
        store = open_store()
    except Skip as why:
        return [StoreResult(name, operation, skipped=str(why))]
    results = []
    try:
        for workers in WORKER_COUNTS:
            tag = f"{uuid.uuid4().hex[:8]}w{workers}"
            ops = [make_op(store, tag, n) for n in range(workers)]
            count, seconds, latency = _run_threads(ops, plan)
            results.append(StoreResult(name, operation, workers, count, seconds, latency))
    finally:
        store.close()
    return results


# -- PostgreSQL and Redis: found through the environment, skipped when absent -------------------
def _url(kind: str) -> str | None:
    return os.environ.get(f"PAYGATE_BENCH_{kind}_URL") or os.environ.get(f"PAYGATE_TEST_{kind}_URL")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


@contextmanager
def postgres_schema() -> Iterator[str]:
    """The conninfo of a migrated scratch schema, dropped afterwards; Skip when unreachable."""
    url = _url("POSTGRES")
    if not url:
        raise Skip("PAYGATE_BENCH_POSTGRES_URL not set")
    try:
        import psycopg  # noqa: PLC0415 - an optional extra
        from psycopg.conninfo import make_conninfo  # noqa: PLC0415
    except ImportError as error:
        raise Skip(f"psycopg is not installed ({error})") from error

    from paygate._migrations import upgrade  # noqa: PLC0415 - needs psycopg

    schema = f"paygate_bench_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.Error as error:
        raise Skip(f"PostgreSQL unreachable ({_first_line(error)})") from error
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            conninfo = make_conninfo(url, options=f"-csearch_path={schema}")
            upgrade(conninfo)
            yield conninfo
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def redis_prefix() -> Iterator[tuple[str, str]]:
    """(url, a unique key prefix) whose keys are deleted afterwards; Skip when unreachable."""
    url = _url("REDIS")
    if not url:
        raise Skip("PAYGATE_BENCH_REDIS_URL not set")
    try:
        import redis  # noqa: PLC0415 - an optional extra
    except ImportError as error:
        raise Skip(f"redis is not installed ({error})") from error
    prefix = f"paygate:bench:{uuid.uuid4().hex[:12]}:"
    admin = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        admin.ping()
    except redis.RedisError as error:
        admin.close()
        raise Skip(f"Redis unreachable ({_first_line(error)})") from error
    try:
        yield url, prefix
    finally:
        batch: list[bytes] = []
        for key in admin.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                admin.delete(*batch)
                batch.clear()
        if batch:
            admin.delete(*batch)
        admin.close()


def _postgres(plan: Plan) -> list[StoreResult]:
    try:
        with postgres_schema() as conninfo:
            from paygate.idempotency.postgres import PostgresStore  # noqa: PLC0415
            from paygate.records.postgres import PostgresRecordStore  # noqa: PLC0415

            pool = max(WORKER_COUNTS)
            return [
                *_bench(
                    "postgres",
                    IDEMPOTENCY,
                    lambda: PostgresStore(conninfo, pool_size=pool),
                    _idempotency_op,
                    plan,
                ),
                *_bench(
                    "postgres",
                    RECORDS,
                    lambda: PostgresRecordStore(conninfo, pool_size=pool),
                    _record_op,
                    plan,
                ),
                *_bench(
                    "postgres",
                    INTENTS,
                    lambda: PostgresRecordStore(conninfo, pool_size=pool),
                    _intent_op,
                    plan,
                ),
            ]
    except Skip as why:
        operations = (IDEMPOTENCY, RECORDS, INTENTS)
        return [StoreResult("postgres", op, skipped=str(why)) for op in operations]


def _redis(plan: Plan) -> list[StoreResult]:
    try:
        with redis_prefix() as (url, prefix):
            from paygate.idempotency.redis import RedisStore  # noqa: PLC0415

            return _bench(
                "redis", IDEMPOTENCY, lambda: RedisStore(url, prefix=prefix), _idempotency_op, plan
            )
    except Skip as why:
        return [StoreResult("redis", IDEMPOTENCY, skipped=str(why))]


def store_throughput(plan: Plan) -> list[StoreResult]:
    """Every store, both operations it has, 1 and 8 workers."""
    results = [
        *_bench("memory", IDEMPOTENCY, MemoryStore, _idempotency_op, plan),
        *_bench("memory", RECORDS, MemoryRecordStore, _record_op, plan),
        *_bench("memory", INTENTS, MemoryRecordStore, _intent_op, plan),
    ]
    with tempfile.TemporaryDirectory(prefix="paygate-bench-") as tmp:
        results += [
            *_bench(
                "sqlite", IDEMPOTENCY, lambda: SQLiteStore(Path(tmp, "i.db")), _idempotency_op, plan
            ),
            *_bench(
                "sqlite", RECORDS, lambda: SQLiteRecordStore(Path(tmp, "r.db")), _record_op, plan
            ),
            *_bench(
                "sqlite", INTENTS, lambda: SQLiteRecordStore(Path(tmp, "n.db")), _intent_op, plan
            ),
        ]
    return [*results, *_postgres(plan), *_redis(plan)]
