"""A store that cannot answer in time is a typed, retriable refusal within the time the call has
left, with nothing sent: at construction (down, unreachable, silent) and at call time (a
server that goes silent mid-call, a SQLite file locked by another process). Never a hang,
never a driver's own exception."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from paygate import (
    AsyncGateway,
    Gateway,
    Money,
    PaymentSource,
    RetryPolicy,
    SQLiteStore,
    Timeout,
)
from paygate.errors import ErrorCode, StoreUnavailable
from paygate.records import SQLiteRecordStore
from paygate.testing import StripeSimulator

VISA = PaymentSource.token("pm_card_visa")
SLACK = 0.5


class _Listener:
    """A TCP listener on loopback that hands each connection to ``_accepted`` on its own
    thread, and on ``close`` stops accepting and closes every socket ``_accepted`` returned."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self.port = self._listener.getsockname()[1]

    def _accepted(self, conn: socket.socket) -> list[socket.socket]:
        raise NotImplementedError

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._sockets += self._accepted(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for each in self._sockets:
            with contextlib.suppress(OSError):
                each.close()
        self._listener.close()


class _Server(_Listener):
    """A TCP server on loopback; ``reply(bytes_read)`` says what to answer to each read (None:
    nothing), until ``quiet`` is set: from then on it reads and answers nothing. Used as a
    silent PostgreSQL, and as a Redis that answers while the store opens, then goes quiet."""

    def __init__(self, reply: Callable[[bytes], bytes | None]) -> None:
        self._reply = reply
        self.quiet = threading.Event()
        super().__init__()

    def _accepted(self, conn: socket.socket) -> list[socket.socket]:
        threading.Thread(target=self._talk, args=(conn,), daemon=True).start()
        return [conn]

    def _talk(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not self.quiet.is_set() and (data := conn.recv(65536)):
                answer = self._reply(data)
                if answer is None:
                    break
                conn.sendall(answer)
            self._stop.wait()  # then say nothing more


@pytest.fixture
def server() -> Iterator[Callable[[Callable[[bytes], bytes | None]], _Server]]:
    opened: list[_Server] = []

    def start(reply: Callable[[bytes], bytes | None]) -> _Server:
        opened.append(_Server(reply))
        return opened[-1]

    yield start
    for each in opened:
        each.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _timed(fn: Callable[[], Any]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        fn()
    except BaseException as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


async def _timed_async(call: Awaitable[Any]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        await call
    except BaseException as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


# -- Redis -------------------------------------------------------------------------------------
def test_an_unreachable_or_silent_redis_is_refused_when_the_store_opens(
    server: Callable[..., _Server],
) -> None:
    from paygate.idempotency.redis import RedisStore

    silent = server(lambda _: None)
    for url in (f"redis://127.0.0.1:{_closed_port()}/0", f"redis://127.0.0.1:{silent.port}/0"):
        error, took = _timed(lambda url=url: RedisStore(url, socket_timeout=0.5))
        assert isinstance(error, StoreUnavailable), error
        assert took < 0.5 + SLACK, took


def test_a_redis_that_goes_silent_mid_call_is_refused_by_the_deadline(
    server: Callable[..., _Server], sim: StripeSimulator, api_key: str
) -> None:
    from paygate.idempotency.redis import RedisStore

    # Answers every RESP2 command (the handshake's CLIENT SETINFO, the PING) while it opens.
    redis = server(lambda data: b"+PONG\r\n" * data.count(b"*"))
    store = RedisStore(f"redis://127.0.0.1:{redis.port}/0?protocol=2", socket_timeout=5.0)
    redis.quiet.set()
    options: dict[str, Any] = {"retry": RetryPolicy(max_attempts=1), "timeout": Timeout(total=1.0)}
    with Gateway.for_stripe(api_key, base_url=sim.url, store=store, **options) as gw:
        error, took = _timed(
            lambda: gw.authorize(Money("1.00", "EUR"), source=VISA, reference="order-redis")
        )
    assert isinstance(error, StoreUnavailable), error
    assert error.code is ErrorCode.STORE_UNAVAILABLE and "nothing was sent" in str(error)
    assert took < 1.0 + SLACK, took  # not the store's own 5 s
    assert sim.requests == []
    store.close()


def test_through_asyncgateway_a_redis_that_goes_silent_is_refused_by_the_deadline(
    server: Callable[..., _Server], sim: StripeSimulator, api_key: str
) -> None:
    """The same silence met by the store's asyncio face (redis-py's asyncio client on the
    gateway's loop): the deadline cuts it, and the loop is never blocked."""
    from paygate.idempotency.redis import RedisStore

    # Answers the handshake and the PING, then meets the first script with silence.
    redis = server(lambda data: None if b"EVAL" in data else b"+PONG\r\n" * data.count(b"*"))
    store = RedisStore(f"redis://127.0.0.1:{redis.port}/0?protocol=2", socket_timeout=5.0)

    async def main() -> tuple[BaseException | None, float, int]:
        options: dict[str, Any] = {
            "retry": RetryPolicy(max_attempts=1),
            "timeout": Timeout(total=1.0),
        }
        ticks = 0

        async def ticker() -> None:  # counts while the call waits: a blocked loop would not
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        async with AsyncGateway.for_stripe(api_key, base_url=sim.url, store=store, **options) as gw:
            counting = asyncio.ensure_future(ticker())
            error, took = await _timed_async(
                gw.authorize(Money("1.00", "EUR"), source=VISA, reference="order-aredis")
            )
            counting.cancel()
        return error, took, ticks

    sent_before = len(sim.requests)
    error, took, ticks = asyncio.run(main())
    assert isinstance(error, StoreUnavailable), error
    assert error.code is ErrorCode.STORE_UNAVAILABLE and "nothing was sent" in str(error)
    assert took < 1.0 + SLACK, took
    assert ticks >= 10, ticks  # the loop ran on while the store was silent
    assert len(sim.requests) == sent_before
    store.close()


# -- PostgreSQL ----------------------------------------------------------------------------------
def test_an_unreachable_or_silent_postgresql_is_refused_when_the_store_opens(
    server: Callable[..., _Server],
) -> None:
    from paygate.idempotency.postgres import PostgresStore
    from paygate.records.postgres import PostgresRecordStore

    silent = server(lambda _: None)
    for port in (_closed_port(), silent.port):
        for store in (PostgresStore, PostgresRecordStore):
            url = f"postgresql://paygate@127.0.0.1:{port}/test"
            error, took = _timed(lambda url=url, store=store: store(url, connect_timeout=1.0))
            assert isinstance(error, StoreUnavailable), error
            assert took < 1.0 + SLACK, took
            assert "PostgreSQL at postgresql://paygate@127.0.0.1/test" in str(error)


class _Proxy(_Listener):
    """A TCP proxy to PostgreSQL that can freeze: from then on nothing passes either way,
    as with a server that hangs mid-call."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.frozen = threading.Event()
        self._upstream = upstream
        super().__init__()

    def _accepted(self, conn: socket.socket) -> list[socket.socket]:
        upstream = socket.create_connection(self._upstream)
        for a, b in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()
        return [conn, upstream]

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                while self.frozen.is_set() and not self._stop.is_set():
                    time.sleep(0.01)
                sink.sendall(data)


@pytest.fixture
def frozen_postgres(postgres_conninfo: str) -> Iterator[tuple[str, _Proxy]]:
    """A migrated scratch schema, reached through a proxy the test can freeze."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(postgres_conninfo)
    proxy = _Proxy((str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432)))
    try:
        yield make_conninfo(postgres_conninfo, host="127.0.0.1", port=proxy.port), proxy
    finally:
        proxy.close()


def test_a_postgresql_that_hangs_mid_call_is_refused_by_the_deadline(
    frozen_postgres: tuple[str, _Proxy], sim: StripeSimulator, api_key: str
) -> None:
    from paygate.records.postgres import PostgresRecordStore

    conninfo, proxy = frozen_postgres
    records = PostgresRecordStore(conninfo, pool_size=2)
    options: dict[str, Any] = {"retry": RetryPolicy(max_attempts=1), "timeout": Timeout(total=1.0)}
    with Gateway.for_stripe(api_key, base_url=sim.url, records=records, **options) as gw:
        p = gw.authorize(Money("2.00", "EUR"), source=VISA, reference="order-pg-ok")
        assert records.find("stripe", p.id) is not None
        sent = len(sim.requests)
        proxy.frozen.set()  # PostgreSQL accepts and says nothing more
        error, took = _timed(
            lambda: gw.authorize(Money("2.00", "EUR"), source=VISA, reference="order-pg-hung")
        )
    assert isinstance(error, StoreUnavailable), error
    assert took < 1.0 + SLACK, took
    assert len(sim.requests) == sent  # the intent could not be written: nothing was sent
    proxy.frozen.clear()
    records.close()


@pytest.mark.parametrize("frozen", ["idempotency store", "record store"])
def test_through_asyncgateway_a_postgresql_that_hangs_is_refused_by_the_deadline(
    frozen: str, frozen_postgres: tuple[str, _Proxy], sim: StripeSimulator, api_key: str
) -> None:
    """A store's asyncio face (psycopg's asyncio pool) meets a PostgreSQL that hangs mid-call:
    refused within the deadline, nothing sent; its connection is cut, and once the server
    answers again the next call goes through."""
    from paygate.idempotency.postgres import PostgresStore
    from paygate.records.postgres import PostgresRecordStore

    conninfo, proxy = frozen_postgres
    if frozen == "idempotency store":
        stores: dict[str, Any] = {"store": PostgresStore(conninfo, pool_size=2)}
    else:
        stores = {"records": PostgresRecordStore(conninfo, pool_size=2)}

    async def main() -> tuple[BaseException | None, float, int]:
        options: dict[str, Any] = {
            "retry": RetryPolicy(max_attempts=1),
            "timeout": Timeout(total=1.0),
        }
        async with AsyncGateway.for_stripe(api_key, base_url=sim.url, **stores, **options) as gw:
            await gw.authorize(Money("2.00", "EUR"), source=VISA, reference="order-apg-ok")
            sent = len(sim.requests)
            proxy.frozen.set()  # PostgreSQL accepts and says nothing more
            error, took = await _timed_async(
                gw.authorize(Money("2.00", "EUR"), source=VISA, reference="order-apg-hung")
            )
            proxy.frozen.clear()
            again = await gw.authorize(Money("2.00", "EUR"), source=VISA, reference="order-apg-2")
            assert again.status.value == "authorized"
        return error, took, sent

    error, took, sent = asyncio.run(main())
    assert isinstance(error, StoreUnavailable), error
    assert took < 1.0 + SLACK, took
    assert len(sim.requests) == sent + 1  # only the call after the thaw was sent
    for opened in stores.values():
        opened.close()


# -- SQLite --------------------------------------------------------------------------------------
def test_a_sqlite_file_locked_by_another_process_is_refused_by_the_deadline(
    tmp_path: Path, sim: StripeSimulator, api_key: str
) -> None:
    path = tmp_path / "paygate.sqlite3"
    store, records = SQLiteStore(path), SQLiteRecordStore(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    options: dict[str, Any] = {"retry": RetryPolicy(max_attempts=1), "timeout": Timeout(total=0.5)}
    try:
        with Gateway.for_stripe(
            api_key, base_url=sim.url, store=store, records=records, **options
        ) as gw:
            error, took = _timed(
                lambda: gw.authorize(Money("3.00", "EUR"), source=VISA, reference="order-locked")
            )
        assert isinstance(error, StoreUnavailable), error
        assert took < 0.5 + SLACK, took  # not SQLite's own 5 s busy timeout
        assert sim.requests == []
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.close()
        records.close()
