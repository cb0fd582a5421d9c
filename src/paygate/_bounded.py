"""Blocking commands to a shared store, each bounded by the time its call has left.

A PostgreSQL or Redis server that accepts a connection and then answers nothing holds a
blocking client forever: neither driver bounds a command by the caller's deadline (libpq has
no client-side statement timeout; redis-py's ``socket_timeout`` is fixed per client). Each
command therefore runs in one of a few daemon worker threads, and the calling thread waits for
it at most ``time_left`` (``paygate.resilience.deadline``): past that it gets
``StoreUnavailable`` at once, and ``abort`` (when the store can give one) cuts the stuck
command's connection so the worker comes back too. Daemon threads: a worker stuck on a silent
server never holds the process's exit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Final, TypeVar

from paygate.errors import StoreUnavailable
from paygate.resilience.deadline import time_left

__all__ = ["BoundedCalls"]

T = TypeVar("T")
_STOP: Final = None


class BoundedCalls:
    """Runs a store's blocking commands in ``workers`` daemon threads, each awaited at most
    the time left of the call in progress (``ceiling`` seconds outside a call)."""

    def __init__(self, name: str, *, workers: int, ceiling: float) -> None:
        self._name = name
        self._size = workers
        self.ceiling = ceiling
        self._queue: queue.SimpleQueue[tuple[Future[object], Callable[[], object]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def run(
        self,
        command: Callable[[], T],
        *,
        abort: Callable[[], None] | None = None,
        ceiling: float | None = None,
    ) -> T:
        """``command()``'s result, or ``StoreUnavailable`` once the time left has passed (then
        ``abort()`` is called to free the stuck worker)."""
        seconds = time_left(self.ceiling if ceiling is None else ceiling)
        future: Future[object] = Future()
        self._start()
        self._queue.put((future, command))
        try:
            return future.result(timeout=seconds)  # type: ignore[return-value]
        except FutureTimeout:
            future.cancel()
            if abort is not None:
                abort()
            raise StoreUnavailable(
                f"the {self._name} did not answer within {seconds:.3g}s"
            ) from None

    def _start(self) -> None:
        if len(self._threads) >= self._size:
            return
        with self._lock:
            while len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._work, name=f"paygate-{self._name}-worker", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while (job := self._queue.get()) is not _STOP:
            future, command = job
            if not future.set_running_or_notify_cancel():
                continue  # its caller gave up before it started
            try:
                future.set_result(command())
            except BaseException as exc:  # handed to the caller, who raises it
                future.set_exception(exc)

    def close(self) -> None:
        """Let the workers end once the commands queued so far are done."""
        with self._lock:
            for _ in self._threads:
                self._queue.put(_STOP)
            self._threads.clear()
