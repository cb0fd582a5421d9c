"""Every idempotency store keeps the same promises: one owner per key, replay, conflict, leases."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from paygate._primitives import AsyncPrimitives
from paygate.idempotency import Begin, BeginResult, IdempotencyStore, MemoryStore, SQLiteStore
from paygate.idempotency.store import NativeAsync


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


StoreFactory = Callable[..., IdempotencyStore]


@pytest.fixture
def redis_target(redis_url: str, redis_prefix: str) -> tuple[str, str]:
    """The test Redis's URL and a key prefix of this test's own (conftest)."""
    return redis_url, redis_prefix


class ThroughAsyncio:
    """A store called as ``AsyncGateway`` calls it (its asyncio face: Redis's and PostgreSQL's
    own drivers, in their asyncio flavour), from a blocking test: each call on a fresh event
    loop, with a face of its own, so that threads may call it too."""

    blocking = True

    def __init__(self, store: IdempotencyStore) -> None:
        self.store = store

    def _run(self, verb: str, *args: Any, **kwargs: Any) -> Any:
        async def call() -> Any:
            face = AsyncPrimitives.keys(self.store)
            try:
                return await getattr(face, verb)(*args, **kwargs)
            finally:
                await face.aclose()

        return asyncio.run(call())

    def begin(self, key: str, fingerprint: str, *, lease_seconds: float) -> BeginResult:
        result: BeginResult = self._run(
            "begin_async", key, fingerprint, lease_seconds=lease_seconds
        )
        return result

    def complete(self, key: str, token: str, outcome: str) -> bool:
        return bool(self._run("complete_async", key, token, outcome))

    def release(self, key: str, token: str) -> None:
        self._run("release_async", key, token)

    def close(self) -> None:
        self.store.close()


@pytest.fixture(
    params=["memory", "sqlite", "postgres", "redis", "postgres-asyncio", "redis-asyncio"]
)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    opened: list[IdempotencyStore] = []
    kind, _, face = request.param.partition("-")
    conninfo = request.getfixturevalue("postgres_conninfo") if kind == "postgres" else ""
    redis_url, prefix = request.getfixturevalue("redis_target") if kind == "redis" else ("", "")

    def make(**options: object) -> IdempotencyStore:
        store: IdempotencyStore
        if kind == "memory":
            store = MemoryStore(**options)  # type: ignore[arg-type]
        elif kind == "sqlite":
            store = SQLiteStore(tmp_path / "idem.sqlite3", **options)  # type: ignore[arg-type]
        elif kind == "postgres":
            from paygate.idempotency.postgres import PostgresStore

            store = PostgresStore(conninfo, pool_size=4, **options)  # type: ignore[arg-type]
        else:
            from paygate.idempotency.redis import RedisStore

            store = RedisStore(redis_url, prefix=prefix, **options)  # type: ignore[arg-type]
        if face:
            assert isinstance(store, NativeAsync)  # else the gateway would use a thread
            store = ThroughAsyncio(store)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_first_caller_proceeds_then_duplicates_wait_then_replay(make_store: StoreFactory) -> None:
    store = make_store()
    first = store.begin("k", "fp", lease_seconds=60)
    assert first.outcome is Begin.PROCEED and first.token and not first.retaken
    assert store.begin("k", "fp", lease_seconds=60).outcome is Begin.IN_FLIGHT
    assert store.complete("k", first.token, '{"result": 1}')
    replay = store.begin("k", "fp", lease_seconds=60)
    assert replay.outcome is Begin.REPLAY and replay.stored == '{"result": 1}'


def test_same_key_other_request_is_a_conflict_in_flight_and_after(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    token = store.begin("k", "fp-a", lease_seconds=60).token
    assert token is not None
    assert store.begin("k", "fp-b", lease_seconds=60).outcome is Begin.CONFLICT
    store.complete("k", token, "done")
    assert store.begin("k", "fp-b", lease_seconds=60).outcome is Begin.CONFLICT


def test_release_frees_the_key_and_only_the_owner_can_settle(make_store: StoreFactory) -> None:
    store = make_store()
    token = store.begin("k", "fp", lease_seconds=60).token
    assert token is not None
    assert not store.complete("k", "not-the-token", "x")
    store.release("k", "not-the-token")  # ignored: not the owner
    assert store.begin("k", "fp", lease_seconds=60).outcome is Begin.IN_FLIGHT
    store.release("k", token)
    assert store.begin("k", "fp", lease_seconds=60).outcome is Begin.PROCEED


def test_a_lapsed_lease_is_retaken_and_the_old_owner_cannot_complete(
    make_store: StoreFactory,
) -> None:
    clock = Clock()
    store = make_store(clock=clock)
    old = store.begin("k", "fp", lease_seconds=30).token
    assert old is not None
    clock.now += 29
    assert store.begin("k", "fp", lease_seconds=30).outcome is Begin.IN_FLIGHT
    clock.now += 2
    taken = store.begin("k", "fp", lease_seconds=30)
    assert taken.outcome is Begin.PROCEED and taken.retaken and taken.token != old
    assert not store.complete("k", old, "late")
    assert taken.token is not None and store.complete("k", taken.token, "settled")
    assert store.begin("k", "fp", lease_seconds=30).stored == "settled"


def test_completed_entries_expire_after_the_ttl(make_store: StoreFactory) -> None:
    clock = Clock()
    store = make_store(clock=clock, ttl=100)
    token = store.begin("k", "fp", lease_seconds=10).token
    assert token is not None
    store.complete("k", token, "done")
    clock.now += 99
    assert store.begin("k", "fp", lease_seconds=10).outcome is Begin.REPLAY
    clock.now += 2
    assert store.begin("k", "other", lease_seconds=10).outcome is Begin.PROCEED


def test_concurrent_begins_have_exactly_one_owner(make_store: StoreFactory) -> None:
    store = make_store()
    outcomes: list[Begin] = []
    barrier = threading.Barrier(16)

    def race() -> None:
        barrier.wait()
        outcomes.append(store.begin("hot", "fp", lease_seconds=60).outcome)

    threads = [threading.Thread(target=race) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(Begin.PROCEED) == 1
    assert outcomes.count(Begin.IN_FLIGHT) == 15


def test_memory_store_is_bounded_and_never_evicts_a_call_in_flight() -> None:
    store = MemoryStore(max_entries=3)
    live = store.begin("live", "fp", lease_seconds=60).token
    for n in range(10):
        token = store.begin(f"done-{n}", "fp", lease_seconds=60).token
        assert token is not None
        store.complete(f"done-{n}", token, "x")
    assert len(store) <= 4  # the bound, plus one more completed before the next sweep
    assert store.begin("live", "fp", lease_seconds=60).outcome is Begin.IN_FLIGHT
    assert live is not None and store.complete("live", live, "y")
    assert store.begin("done-9", "fp", lease_seconds=60).outcome is Begin.REPLAY
    assert store.begin("done-0", "fp", lease_seconds=60).outcome is Begin.PROCEED  # evicted


def test_sqlite_store_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "idem.sqlite3"
    store = SQLiteStore(path)
    token = store.begin("k", "fp", lease_seconds=60).token
    assert token is not None
    store.complete("k", token, "kept")
    store.close()
    reopened = SQLiteStore(path)
    assert reopened.begin("k", "fp", lease_seconds=60).stored == "kept"
    reopened.close()


_WORKER = textwrap.dedent(
    """
    import sys, threading
    from paygate.idempotency import Begin, SQLiteStore

    store = SQLiteStore(sys.argv[1], busy_timeout=30)
    won = []
    def work(offset):
        for n in range(40):
            key = f"key-{(n + offset) % 40}"
            begun = store.begin(key, "fp", lease_seconds=600)
            if begun.outcome is Begin.PROCEED:
                won.append(key)
    threads = [threading.Thread(target=work, args=(i * 7,)) for i in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(" ".join(won))
    """
)


def test_sqlite_store_has_one_owner_per_key_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    SQLiteStore(path).close()  # create the schema once
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    won: list[str] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        won += out.split()
    assert sorted(won) == sorted(f"key-{n}" for n in range(40))  # each key won exactly once


def test_postgres_leases_run_on_the_database_clock(postgres_conninfo: str) -> None:
    import psycopg

    from paygate.idempotency.postgres import PostgresStore

    store = PostgresStore(postgres_conninfo, pool_size=2)
    try:
        assert store.begin("k", "fp", lease_seconds=0.3).outcome is Begin.PROCEED
        with psycopg.connect(postgres_conninfo) as conn:
            row = conn.execute(
                "SELECT lease_until - extract(epoch FROM clock_timestamp())::float8 "
                "FROM paygate_idempotency WHERE key = 'k'"
            ).fetchone()
        assert row is not None and 0 < row[0] <= 0.3  # stamped by the server, not this host
        assert store.begin("k", "fp", lease_seconds=0.3).outcome is Begin.IN_FLIGHT
        threading.Event().wait(0.4)
        assert store.begin("k", "fp", lease_seconds=0.3).retaken
    finally:
        store.close()


def test_postgres_purge_deletes_only_expired_completed_entries(postgres_conninfo: str) -> None:
    from paygate.idempotency.postgres import PostgresStore

    clock = Clock()
    store = PostgresStore(postgres_conninfo, ttl=100, pool_size=2, clock=clock)
    try:
        for key in ("done", "live"):
            token = store.begin(key, "fp", lease_seconds=10).token
            assert token is not None
            if key == "done":
                store.complete(key, token, "x")
        clock.now += 50
        assert store.purge() == 0
        clock.now += 60
        assert store.purge() == 1  # the completed one; a key in flight is never purged
        assert store.begin("live", "fp", lease_seconds=10).outcome is Begin.PROCEED  # lapsed
    finally:
        store.close()


def test_postgres_begin_survives_releases_racing_it(postgres_conninfo: str) -> None:
    from paygate.idempotency.postgres import PostgresStore

    store = PostgresStore(postgres_conninfo, pool_size=8)
    owners: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def churn() -> None:
        try:
            for _ in range(40):
                begun = store.begin("hot", "fp", lease_seconds=60)
                if begun.outcome is Begin.PROCEED:
                    assert begun.token is not None
                    with lock:
                        owners.append(1)
                        assert len(owners) == 1, "two owners at once"
                    with lock:
                        owners.pop()
                    store.release("hot", begun.token)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=churn) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert failures == []
