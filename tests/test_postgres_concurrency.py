"""Many instances, one truth, over real PostgreSQL connections (issue 7's proofs).

Each "instance" is a separate Python process with its own ``Gateway``, ``PostgresStore`` and
``PostgresRecordStore`` (own connection pools), all sharing one migrated schema and one
``StripeSimulator`` running in the test process:

* 4 processes x 50 threads fire the same 100 idempotency keys: exactly 100 PaymentIntents
  (and the same with the keys in Redis);
* a process SIGKILLed while the provider holds its request leaves a lease that another instance
  retakes after it lapses on the database clock, and settles without a second charge;
* two processes racing a capture and a void on the same authorized payments: exactly one of the
  two is applied, at the provider and in the record, and every audit chain verifies;
* two janitor processes sharing one schedule: each unknown outcome checked once, by one of them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from paygate import (
    BreakerPolicy,
    Gateway,
    IdempotencyPolicy,
    Money,
    PaymentSource,
    PaymentStatus,
    Timeout,
)
from paygate.errors import IdempotencyInFlight, OutcomeUnknown
from paygate.testing import Fault, StripeSimulator

API_KEY = "sk_test_51PaygatePostgresConcurrency0000"
PI_PATH = "/v1/payment_intents"
VISA = PaymentSource.token("pm_card_visa")


@pytest.fixture
def stripe() -> Iterator[StripeSimulator]:
    with StripeSimulator() as sim:
        yield sim


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_ready(worker: subprocess.Popen[str]) -> None:
    assert worker.stdout is not None
    line = worker.stdout.readline()
    assert line.strip() == "ready", f"worker did not start: {line!r} {worker.stderr}"


def _go(workers: list[subprocess.Popen[str]]) -> None:
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()


# -- (a) 4 processes x 50 threads, 100 keys: 100 PaymentIntents --------------------------------
_FIRE = """
    import json, sys, threading
    from paygate import Gateway, IdempotencyPolicy, Money, PaymentSource, RetryPolicy, Timeout
    from paygate.records import MemoryRecordStore

    sim_url, conninfo, kind = sys.argv[1], sys.argv[2], sys.argv[3]
    THREADS, KEYS, PER_THREAD = 50, 100, 100
    if kind == "postgres":
        from paygate.idempotency.postgres import PostgresStore
        from paygate.records.postgres import PostgresRecordStore

        store = PostgresStore(conninfo, pool_size=6)
        records = PostgresRecordStore(conninfo, pool_size=6)
    else:  # Redis holds the keys; each instance keeps its own records
        from paygate.idempotency.redis import RedisStore

        store = RedisStore(conninfo, prefix=sys.argv[4])
        records = MemoryRecordStore()
    gw = Gateway.for_stripe(
        "sk_test_51PaygatePostgresConcurrency0000", base_url=sim_url, store=store,
        records=records, timeout=Timeout(total=45),
        idempotency=IdempotencyPolicy(lease=60, in_flight_wait=45, poll_interval=0.02),
        retry=RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05),
    )
    results, lock = [], threading.Lock()

    def fire(thread):
        for n in range(PER_THREAD):
            k = ((thread % 10) * 10 + n) % KEYS  # 20 callers (5 a process) on a key at once
            try:
                p = gw.authorize(Money("10.00", "EUR"), source=PaymentSource.token("pm_card_visa"),
                                 reference=f"order-{k}", idempotency_key=f"key-{k}")
                outcome = p.id
            except Exception as exc:
                outcome = "error:" + type(exc).__name__
            with lock:
                results.append((k, outcome))

    threads = [threading.Thread(target=fire, args=(t,)) for t in range(THREADS)]
    print("ready", flush=True)
    sys.stdin.readline()
    for t in threads: t.start()
    for t in threads: t.join()
    gw.close(); store.close(); records.close()
    print(json.dumps(results), flush=True)
"""


@pytest.fixture(params=["postgres", "redis"])
def shared_keys(request: pytest.FixtureRequest) -> Iterator[tuple[str, ...]]:
    """Where the instances share their idempotency keys: (kind, URL, extra worker args)."""
    if request.param == "postgres":
        yield ("postgres", request.getfixturevalue("postgres_conninfo"))
        return
    url = os.environ.get("PAYGATE_TEST_REDIS_URL")
    if not url:
        pytest.skip("PAYGATE_TEST_REDIS_URL is not set")
    import redis

    prefix = f"paygate-test:{uuid.uuid4().hex[:12]}:idem:"
    yield ("redis", url, prefix)
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


@pytest.mark.timeout(120)
def test_four_processes_of_fifty_threads_make_exactly_one_payment_per_key(
    shared_keys: tuple[str, ...], stripe: StripeSimulator
) -> None:
    kind, url, *extra = shared_keys
    workers = [_spawn(_FIRE, stripe.url, url, kind, *extra) for _ in range(4)]
    for worker in workers:
        _wait_ready(worker)
    started = time.monotonic()
    _go(workers)
    results: list[tuple[int, str]] = []
    for worker in workers:
        out, err = worker.communicate(timeout=90)
        assert worker.returncode == 0, err
        results += [tuple(pair) for pair in json.loads(out.strip().splitlines()[-1])]
    elapsed = time.monotonic() - started

    errors = Counter(outcome for _, outcome in results if outcome.startswith("error:"))
    assert errors == Counter(), errors
    assert len(results) == 4 * 50 * 100
    by_key: dict[int, set[str]] = {}
    for key, payment_id in results:
        by_key.setdefault(key, set()).add(payment_id)
    assert sorted(by_key) == list(range(100))
    assert all(len(ids) == 1 for ids in by_key.values())  # every caller of a key got one answer
    intents = stripe.payment_intents()
    assert len(intents) == 100
    assert {i["id"] for i in intents} == set().union(*by_key.values())
    sent = [r for r in stripe.requests if r.method == "POST" and r.path == PI_PATH]
    assert len(sent) == 100  # each key was sent once: no duplicate ever reached the provider
    print(f"\n{kind}: 4x50 threads, {len(results)} calls, 100 keys: {len(intents)} intents, "
          f"{elapsed:.1f}s")  # fmt: skip
    if kind != "postgres":
        return
    from paygate.records.postgres import PostgresRecordStore

    records = PostgresRecordStore(url, pool_size=1)
    try:
        assert records.verify() is None
        assert all(records.find("stripe", i["id"]) is not None for i in intents)
    finally:
        records.close()


# -- (b) SIGKILL in the middle of a call -------------------------------------------------------
_CRASH = """
    import sys
    from paygate import Gateway, IdempotencyPolicy, Money, PaymentSource, Timeout
    from paygate.idempotency.postgres import PostgresStore
    from paygate.records.postgres import PostgresRecordStore

    sim_url, conninfo = sys.argv[1], sys.argv[2]
    gw = Gateway.for_stripe(
        "sk_test_51PaygatePostgresConcurrency0000", base_url=sim_url,
        store=PostgresStore(conninfo, pool_size=2),
        records=PostgresRecordStore(conninfo, pool_size=2),
        timeout=Timeout(total=2.0), idempotency=IdempotencyPolicy(lease=2.5),
    )
    print("ready", flush=True)
    sys.stdin.readline()
    gw.authorize(Money("25.00", "EUR"), source=PaymentSource.token("pm_card_visa"),
                 reference="order-killed", idempotency_key="key-killed")
    print("finished", flush=True)  # never reached: the process is killed while it waits
"""


@pytest.mark.timeout(60)
def test_a_killed_owners_lease_is_retaken_after_it_lapses_and_charges_once(
    postgres_conninfo: str, stripe: StripeSimulator
) -> None:
    import psycopg

    from paygate.idempotency.postgres import PostgresStore
    from paygate.records.postgres import PostgresRecordStore

    stripe.inject(Fault.latency(1.0), times=1, method="POST", path=PI_PATH)
    worker = _spawn(_CRASH, stripe.url, postgres_conninfo)
    _wait_ready(worker)
    _go([worker])
    give_up = time.monotonic() + 10
    while stripe.request_count("POST", PI_PATH) == 0:  # the provider holds the request...
        assert time.monotonic() < give_up and worker.poll() is None
        time.sleep(0.01)
    os.kill(worker.pid, signal.SIGKILL)  # ...when its sender dies
    worker.communicate(timeout=10)
    assert worker.returncode == -signal.SIGKILL
    with psycopg.connect(postgres_conninfo) as conn:
        lease = conn.execute(
            "SELECT token IS NOT NULL, outcome IS NULL, "
            "lease_until - extract(epoch FROM clock_timestamp())::float8 "
            "FROM paygate_idempotency WHERE key = 'key-killed'"
        ).fetchone()
    assert lease is not None and lease[0] and lease[1] and 0 < lease[2] <= 2.5  # left behind

    store = PostgresStore(postgres_conninfo, pool_size=2)
    records = PostgresRecordStore(postgres_conninfo, pool_size=2)
    policy = IdempotencyPolicy(lease=2.5, in_flight_wait=0.1, poll_interval=0.02)
    options = {"timeout": Timeout(total=2.0), "idempotency": policy}
    started = time.monotonic()
    refused = 0
    with Gateway.for_stripe(
        API_KEY, base_url=stripe.url, store=store, records=records, **options
    ) as survivor:
        while True:
            try:
                payment = survivor.authorize(
                    Money("25.00", "EUR"), source=VISA, reference="order-killed",
                    idempotency_key="key-killed",
                )  # fmt: skip
                break
            except IdempotencyInFlight:
                refused += 1  # the dead owner's lease still lives: nothing is sent
                assert time.monotonic() - started < 10
                time.sleep(0.1)
        record = survivor.payment_record(payment.id)
    retaken_after = time.monotonic() - started
    try:
        assert refused >= 1 and payment.status is PaymentStatus.AUTHORIZED
        assert [i["id"] for i in stripe.payment_intents(reference="order-killed")] == [payment.id]
        sent = [r for r in stripe.requests if r.path == PI_PATH]
        assert len(sent) == 2 and {r.idempotency_key for r in sent} == {"key-killed"}
        assert record is not None and record.status is PaymentStatus.AUTHORIZED
        assert records.verify() is None
        replay = store.begin("key-killed", "-", lease_seconds=1)  # completed by the survivor
        assert replay.outcome.value == "conflict"  # (another fingerprint: the key is settled)
    finally:
        store.close()
        records.close()
    print(f"\nlease retaken {retaken_after:.1f}s after the kill ({refused} refusals meanwhile)")


# -- (c) capture and void racing on the same payments -----------------------------------------
_RACE = """
    import json, sys
    from paygate import Gateway, Timeout
    from paygate.idempotency.postgres import PostgresStore
    from paygate.records.postgres import PostgresRecordStore

    sim_url, postgres_conninfo, operation = sys.argv[1], sys.argv[2], sys.argv[3]
    payment_ids = json.loads(sys.argv[4])
    store = PostgresStore(postgres_conninfo, pool_size=2)
    records = PostgresRecordStore(postgres_conninfo, pool_size=2)
    gw = Gateway.for_stripe(
        "sk_test_51PaygatePostgresConcurrency0000", base_url=sim_url, store=store,
        records=records, timeout=Timeout(total=10),
    )
    print("ready", flush=True)
    sys.stdin.readline()
    results = {}
    for payment_id in payment_ids:
        try:
            results[payment_id] = getattr(gw, operation)(payment_id).status.value
        except Exception as exc:
            results[payment_id] = "error:" + getattr(getattr(exc, "code", None), "value", repr(exc))
    gw.close(); store.close(); records.close()
    print(json.dumps(results), flush=True)
"""


@pytest.mark.timeout(60)
def test_a_capture_and_a_void_racing_on_one_payment_apply_exactly_one(
    postgres_conninfo: str, stripe: StripeSimulator
) -> None:
    from paygate.idempotency.postgres import PostgresStore
    from paygate.records.postgres import PostgresRecordStore

    store = PostgresStore(postgres_conninfo, pool_size=2)
    records = PostgresRecordStore(postgres_conninfo, pool_size=2)
    with Gateway.for_stripe(API_KEY, base_url=stripe.url, store=store, records=records) as gw:
        payment_ids = [
            gw.authorize(Money("30.00", "EUR"), source=VISA, reference=f"order-race-{n}").id
            for n in range(20)
        ]
    workers = [
        _spawn(_RACE, stripe.url, postgres_conninfo, operation, json.dumps(payment_ids))
        for operation in ("capture", "void")
    ]
    for worker in workers:
        _wait_ready(worker)
    started = time.monotonic()
    _go(workers)
    outcomes = []
    for worker in workers:
        out, err = worker.communicate(timeout=50)
        assert worker.returncode == 0, err
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    elapsed = time.monotonic() - started
    captured, voided = outcomes
    try:
        wins = Counter()
        for payment_id in payment_ids:
            capture, void = captured[payment_id], voided[payment_id]
            applied = [s for s in (capture, void) if not s.startswith("error:")]
            assert len(applied) == 1, (payment_id, capture, void)  # exactly one went through
            assert {capture, void} & {"error:invalid_state"}, (capture, void)
            intent = stripe.payment_intent(payment_id)
            record = records.find("stripe", payment_id)
            assert intent is not None and record is not None
            if capture == "captured":
                wins["capture"] += 1
                assert intent["status"] == "succeeded"
                assert record.status is PaymentStatus.CAPTURED
            else:
                assert void == "voided"
                wins["void"] += 1
                assert intent["status"] == "canceled"
                assert record.status is PaymentStatus.VOIDED
        assert records.verify() is None
    finally:
        store.close()
        records.close()
    print(f"\ncapture/void race on 20 payments: {dict(wins)} in {elapsed:.1f}s")


# -- (d) two janitor processes share one schedule ------------------------------------------------
_JANITOR = """
    import json, sys
    from paygate import BreakerPolicy, Gateway, JanitorPolicy, RetryPolicy
    from paygate.records.postgres import PostgresRecordStore

    sim_url, conninfo, name = sys.argv[1], sys.argv[2], sys.argv[3]
    records = PostgresRecordStore(conninfo, pool_size=2)
    gw = Gateway.for_stripe(
        "sk_test_51PaygatePostgresConcurrency0000", base_url=sim_url, records=records,
        retry=RetryPolicy(max_attempts=1), breaker=BreakerPolicy(enabled=False),
    )
    janitor = gw.janitor(JanitorPolicy(schedule=(0.0,), batch=2), owner=name)
    print("ready", flush=True)
    sys.stdin.readline()
    checked = []
    while (done := janitor.run_once()).checked:
        checked += [r.record_id for r in done.resolutions]
    print(json.dumps(checked), flush=True)
    gw.close()
    records.close()
"""


def test_two_janitor_processes_check_each_unknown_outcome_once(
    stripe: StripeSimulator, postgres_conninfo: str
) -> None:
    """Two processes run janitor passes over the same PostgreSQL records at once: every
    unknown outcome is checked, by one of them, once: its call repeated once under its key."""
    from paygate.records.postgres import PostgresRecordStore

    records = PostgresRecordStore(postgres_conninfo, pool_size=2)
    stripe.inject(Fault.server_error(503), times=None)
    options: dict[str, Any] = {"breaker": BreakerPolicy(enabled=False)}
    with Gateway.for_stripe(API_KEY, base_url=stripe.url, records=records, **options) as gw:
        for n in range(16):
            with pytest.raises(OutcomeUnknown):
                gw.authorize(Money("3.00", "EUR"), source=VISA, reference=f"order-j{n}")
        unknown = {r.record_id for r in gw.unknown_payments()}
    assert len(unknown) == 16
    stripe.clear_faults()  # the provider is back
    before = Counter(r.idempotency_key for r in stripe.requests if r.path == PI_PATH)
    workers = [_spawn(_JANITOR, stripe.url, postgres_conninfo, f"j{i}") for i in range(2)]
    for worker in workers:
        _wait_ready(worker)
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    checked = [json.loads(worker.communicate(timeout=120)[0]) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    assert sorted(checked[0] + checked[1]) == sorted(unknown)  # each once, by one of them
    assert checked[0] and checked[1]  # both did part of the work
    after = Counter(r.idempotency_key for r in stripe.requests if r.path == PI_PATH)
    repeats = after - before
    assert len(repeats) == 16 and set(repeats.values()) == {1}  # one repeat per key
    assert all(r.unknown == () for r in map(records.get, unknown) if r is not None)
    records.close()
