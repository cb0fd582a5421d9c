"""The Redis idempotency store under real concurrency: processes x threads, one owner per key.

Against the real Redis at PAYGATE_TEST_REDIS_URL (skipped without it); each test has a key
prefix of its own, deleted afterwards.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest

from paygate.idempotency import Begin

redis = pytest.importorskip("redis")
RedisStore = pytest.importorskip("paygate.idempotency.redis").RedisStore

PROCESSES, THREADS, KEYS = 4, 16, 100


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    return redis_prefix


_WORKER = textwrap.dedent(
    """
    import sys, threading
    from paygate.idempotency import Begin
    from paygate.idempotency.redis import RedisStore

    url, prefix, threads, keys = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = RedisStore(url, prefix=prefix)
    won, lock = [], threading.Lock()
    barrier = threading.Barrier(threads)
    def work(offset):
        barrier.wait()
        for n in range(keys):
            key = f"key-{(n + offset) % keys}"
            begun = store.begin(key, "fp", lease_seconds=600)
            if begun.outcome is Begin.PROCEED:
                with lock:
                    won.append(key)
            else:
                assert begun.outcome is Begin.IN_FLIGHT, begun
    workers = [threading.Thread(target=work, args=(i * 7,)) for i in range(threads)]
    for t in workers: t.start()
    for t in workers: t.join()
    store.close()
    print(" ".join(won))
    """
)


def test_processes_by_threads_beginning_the_same_keys_have_one_owner_per_key(
    redis_url: str, prefix: str
) -> None:
    started = time.perf_counter()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, redis_url, prefix, str(THREADS), str(KEYS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    won: list[str] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        won += out.split()
    owners = Counter(won)
    assert len(won) == KEYS and set(owners.values()) == {1}  # each key won exactly once
    print(
        f"{PROCESSES * THREADS * KEYS} begins from {PROCESSES} processes x {THREADS} threads "
        f"on {KEYS} keys: {KEYS} owners in {time.perf_counter() - started:.2f}s"
    )


_CRASHER = textwrap.dedent(
    """
    import sys, time
    from paygate.idempotency.redis import RedisStore

    store = RedisStore(sys.argv[1], prefix=sys.argv[2])
    assert store.begin("k", "fp", lease_seconds=0.5).outcome.value == "proceed"
    print("leased", flush=True)
    time.sleep(60)  # killed here, mid-call: the lease is never settled
    """
)


def test_a_lease_left_by_a_killed_process_is_retaken_after_it_lapses(
    redis_url: str, prefix: str
) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _CRASHER, redis_url, prefix], stdout=subprocess.PIPE, text=True
    ) as crasher:
        assert crasher.stdout is not None and crasher.stdout.readline().strip() == "leased"
        crasher.send_signal(signal.SIGKILL)
        crasher.wait(timeout=10)
    store = RedisStore(redis_url, prefix=prefix)
    try:
        assert store.begin("k", "fp", lease_seconds=60).outcome is Begin.IN_FLIGHT
        time.sleep(0.6)
        taken = store.begin("k", "fp", lease_seconds=60)
        assert taken.outcome is Begin.PROCEED and taken.retaken and taken.token
        assert store.complete("k", taken.token, "settled")
        assert store.begin("k", "fp", lease_seconds=60).stored == "settled"
    finally:
        store.close()
