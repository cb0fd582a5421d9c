"""The connection pool of the PostgreSQL stores: opened against a migrated schema, and every
command bounded by the time its call has left (private; needs the ``postgres`` extra).

* **Opening** waits at most ``connect_timeout`` for a first connection and the schema check;
  a server that is down, unreachable or silent is ``StoreUnavailable`` then, never a hang or
  psycopg_pool's own ``PoolTimeout``. A server that refuses the URL (no such database, a
  wrong password, a role it does not let in) or a database whose schema is behind is a
  ``ConfigurationError``, naming what to fix.
* **Each command** (one unit of work on one pooled connection) runs in a worker thread and is
  awaited for the time left of the call in progress (``command_timeout`` outside a call); past
  it the caller gets ``StoreUnavailable`` and the stuck connection's socket is shut down, so
  the worker gets an error and the pool drops that connection. The server side is bounded too:
  every connection runs with ``statement_timeout`` = ``command_timeout``.
* **Under asyncio** (``AsyncPool``, a store's asyncio face) the same settings on psycopg's
  asyncio pool, one per event loop: a command is awaited for the time left of the call, and
  past it its connection is cut alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from paygate._bounded import BoundedCalls
from paygate._migrations import redacted, require_schema
from paygate.errors import ConfigurationError, StoreUnavailable
from paygate.resilience.deadline import time_left

if TYPE_CHECKING:
    import psycopg

__all__ = ["AsyncPool", "Pool"]

T = TypeVar("T")
_CLOSE_WAIT = 1.0  # seconds closing waits for the pool's own threads (one may be connecting)
# The server's refusals of a connection that no retry can mend → what is wrong. libpq gives a
# failed connection no SQLSTATE, only the server's FATAL text (English unless the server's
# lc_messages says otherwise: a refusal not recognised stays StoreUnavailable).
_REFUSALS: Final = (
    (re.compile(r'FATAL: +database ".*" does not exist'), "the database does not exist"),
    (re.compile(r'FATAL: +role ".*" does not exist'), "the role does not exist"),
    (re.compile(r"FATAL: +password authentication failed"), "the password is wrong"),
    (
        re.compile(r"FATAL: +no pg_hba\.conf entry"),
        "the server's pg_hba.conf lets no such login in",
    ),
)


def _refusal(exc: BaseException) -> str | None:
    """What the server refused, if ``exc`` is a refusal no retry can mend."""
    text = str(exc)
    return next((what for pattern, what in _REFUSALS if pattern.search(text)), None)


class _Socketed(Protocol):
    def fileno(self) -> int: ...


class _Held:
    """The connection a command holds, for the caller to cut when the command overruns."""

    __slots__ = ("_aborted", "_conn", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: _Socketed | None = None
        self._aborted = False

    def take(self, conn: _Socketed) -> None:
        with self._lock:
            if self._aborted:
                raise StoreUnavailable("the command was given up before it started")
            self._conn = conn

    def release(self) -> None:
        with self._lock:
            self._conn = None

    @property
    def aborted(self) -> bool:
        return self._aborted

    def abort(self) -> None:
        """Shut the held connection's socket down (through a duplicate of its descriptor, which
        psycopg gives out for readiness checks): the blocked command fails at once."""
        with self._lock:
            self._aborted = True
            conn = self._conn
            if conn is None:
                return
            with contextlib.suppress(Exception):  # closed already: nothing to cut
                duplicate = socket.socket(fileno=os.dup(conn.fileno()))
                try:
                    duplicate.shutdown(socket.SHUT_RDWR)
                finally:
                    duplicate.close()


class Pool:
    """A psycopg pool of autocommit connections whose commands are bounded in time."""

    def __init__(
        self,
        conninfo: str,
        *,
        name: str,
        size: int,
        connect_timeout: float,
        command_timeout: float,
    ) -> None:
        import psycopg  # noqa: PLC0415 - optional extra
        from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415
        from psycopg_pool import ConnectionPool, PoolTimeout  # noqa: PLC0415

        if size < 1:
            raise ValueError("pool_size must be at least 1")
        self.where = redacted(conninfo)
        self.name = name
        self.size = size
        self.connect_timeout = connect_timeout
        self.conninfo = conninfo
        self.unreachable = (psycopg.OperationalError, PoolTimeout)
        options = conninfo_to_dict(conninfo).get("options") or ""
        statement_timeout = f"-c statement_timeout={math.ceil(command_timeout * 1000)}"
        connection: dict[str, Any] = {
            "autocommit": True,
            # libpq counts whole seconds, and two at least
            "connect_timeout": max(2, math.ceil(connect_timeout)),
            "options": f"{options} {statement_timeout}".strip(),
        }
        self.connection = connection
        self._pool: Any = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=size,
            timeout=connect_timeout,
            kwargs=connection,
            open=False,
        )
        self._calls = BoundedCalls(name, workers=size, ceiling=command_timeout)

        def first_connection() -> None:
            # Made outside the pool, whose own attempts only log why they failed: the
            # server's refusal is what tells a wrong URL from a server that is down.
            with psycopg.connect(conninfo, **connection) as conn:
                require_schema(conn)

        try:
            self._calls.run(first_connection, ceiling=connect_timeout)
        except BaseException as exc:
            self._calls.close()  # a worker stuck connecting ends with its connect_timeout
            refused = _refusal(exc) if isinstance(exc, psycopg.OperationalError) else None
            if refused is not None:
                raise ConfigurationError(
                    f"PostgreSQL at {self.where} refused the store's connection: {refused}; "
                    "check the store URL"
                ) from None
            if isinstance(exc, (StoreUnavailable, psycopg.OperationalError)):
                raise StoreUnavailable(
                    f"PostgreSQL at {self.where} cannot be reached within {connect_timeout}s "
                    f"({type(exc).__name__})"
                ) from None
            raise
        self._pool.open(wait=False)  # its own wait outlasts the timeout (libpq's 2 s at least)

    def run(
        self, work: Callable[[psycopg.Connection[Any]], T], *, ceiling: float | None = None
    ) -> T:
        """``work(conn)`` on a pooled connection, within the time left of the call (or
        ``ceiling`` seconds, instead of the command timeout, outside one)."""
        held = _Held()
        seconds = time_left(self._calls.ceiling if ceiling is None else ceiling)

        def command() -> T:
            with self._pool.connection(timeout=seconds) as conn:
                held.take(conn)
                try:
                    return work(conn)
                finally:
                    held.release()

        try:
            return self._calls.run(command, abort=held.abort, ceiling=seconds)
        except self.unreachable as exc:
            raise StoreUnavailable(
                f"PostgreSQL at {self.where} is unavailable ({type(exc).__name__})"
            ) from exc

    @property
    def ceiling(self) -> float:
        """How long a command takes at most outside a call (the command timeout)."""
        return self._calls.ceiling

    def close(self, wait: float = _CLOSE_WAIT) -> None:
        """Close every connection, waiting at most ``wait`` seconds for the pool's threads."""
        self._calls.close()
        self._pool.close(timeout=wait)


class AsyncPool:
    """A ``Pool``'s connections for one event loop: psycopg's asyncio pool, with the same
    settings, opened on the first command (the schema was checked when ``pool`` opened).

    A command has the time left of the call; then its connection is cut, as ``Pool`` does (a
    timer, not a cancellation: psycopg, cancelled, asks the server to cancel the query and
    waits for it, which a silent server never answers), so the command fails at once, the
    caller gets ``StoreUnavailable`` and the pool drops the connection.
    """

    def __init__(self, pool: Pool) -> None:
        self._settings = pool
        self._pool: Any = None
        self._opening = asyncio.Lock()

    @property
    def conninfo(self) -> str:
        """Where its connections go: the ``Pool``'s connection string."""
        return self._settings.conninfo

    async def _opened(self) -> Any:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    from psycopg_pool import AsyncConnectionPool  # noqa: PLC0415

                    p = self._settings
                    pool = AsyncConnectionPool(
                        p.conninfo,
                        min_size=1,
                        max_size=p.size,
                        timeout=p.connect_timeout,
                        kwargs=p.connection,
                        open=False,
                    )
                    await pool.open(wait=False)
                    self._pool = pool
        return self._pool

    async def run(
        self,
        work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]],
        *,
        ceiling: float | None = None,
    ) -> T:
        """``await work(conn)`` on a pooled connection, within the time left of the call (or
        ``ceiling`` seconds, instead of the command timeout, outside one): a timer cuts the
        command's connection when that time is up, so the command fails at once."""
        p = self._settings
        seconds = time_left(p.ceiling if ceiling is None else ceiling)
        pool = await self._opened()
        held = _Held()
        watchdog = asyncio.get_running_loop().call_later(seconds, held.abort)
        try:
            async with pool.connection(timeout=seconds) as conn:
                held.take(conn)
                try:
                    return await work(conn)
                finally:
                    held.release()
        except p.unreachable as exc:
            if held.aborted:
                raise StoreUnavailable(
                    f"the {p.name} did not answer within {seconds:.3g}s"
                ) from None
            raise StoreUnavailable(
                f"PostgreSQL at {p.where} is unavailable ({type(exc).__name__})"
            ) from exc
        finally:
            watchdog.cancel()

    async def aclose(self, wait: float = _CLOSE_WAIT) -> None:
        """Close this loop's connections."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close(timeout=wait)
