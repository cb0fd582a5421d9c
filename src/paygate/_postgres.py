"""The connection pool of the PostgreSQL stores: opened against a migrated schema, and every
command bounded by the time its call has left (private; needs the ``postgres`` extra).

* **Opening** waits at most ``connect_timeout`` for a first connection and the schema check;
  a server that is down, unreachable or silent is ``StoreUnavailable`` then, never a hang or
  psycopg_pool's own ``PoolTimeout``. A database whose schema is behind is ``SchemaNotReady``.
* **Each command** (one unit of work on one pooled connection) runs in a worker thread and is
  awaited for the time left of the call in progress (``command_timeout`` outside a call); past
  it the caller gets ``StoreUnavailable`` and the stuck connection's socket is shut down, so
  the worker gets an error and the pool drops that connection. The server side is bounded too:
  every connection runs with ``statement_timeout`` = ``command_timeout``.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from paygate._bounded import BoundedCalls
from paygate._migrations import redacted, require_schema
from paygate.errors import StoreUnavailable
from paygate.resilience.deadline import time_left

if TYPE_CHECKING:
    import psycopg

__all__ = ["Pool"]

T = TypeVar("T")
_CLOSE_WAIT = 1.0  # seconds closing waits for the pool's own threads (one may be connecting)


class _Held:
    """The connection a command holds, for the caller to cut when the command overruns."""

    __slots__ = ("_aborted", "_conn", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._aborted = False

    def take(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            if self._aborted:
                raise StoreUnavailable("the command was given up before it started")
            self._conn = conn

    def release(self) -> None:
        with self._lock:
            self._conn = None

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
        self._unreachable = (psycopg.OperationalError, PoolTimeout)
        options = conninfo_to_dict(conninfo).get("options") or ""
        statement_timeout = f"-c statement_timeout={math.ceil(command_timeout * 1000)}"
        self._pool: Any = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=size,
            timeout=connect_timeout,
            kwargs={
                "autocommit": True,
                # libpq counts whole seconds, and two at least
                "connect_timeout": max(2, math.ceil(connect_timeout)),
                "options": f"{options} {statement_timeout}".strip(),
            },
            open=False,
        )
        self._calls = BoundedCalls(name, workers=size, ceiling=command_timeout)

        def first_connection() -> None:
            with self._pool.connection(timeout=connect_timeout) as conn:
                require_schema(conn)

        self._pool.open(wait=False)  # its own wait outlasts the timeout (libpq's 2 s at least)
        try:
            self._calls.run(first_connection, ceiling=connect_timeout)
        except (StoreUnavailable, *self._unreachable) as exc:
            self.close(wait=0.0)  # the pool's thread may still be connecting: leave it
            raise StoreUnavailable(
                f"PostgreSQL at {self.where} cannot be reached within {connect_timeout}s "
                f"({type(exc).__name__})"
            ) from None
        except BaseException:
            self.close(wait=0.0)
            raise

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
        except self._unreachable as exc:
            raise StoreUnavailable(
                f"PostgreSQL at {self.where} is unavailable ({type(exc).__name__})"
            ) from exc

    def close(self, wait: float = _CLOSE_WAIT) -> None:
        """Close every connection, waiting at most ``wait`` seconds for the pool's threads."""
        self._calls.close()
        self._pool.close(timeout=wait)
