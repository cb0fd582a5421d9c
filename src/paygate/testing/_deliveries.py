"""What every provider simulator hands a test for one webhook it would send."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

import httpx

__all__ = ["WebhookDelivery", "WebhookSender"]

logger: Final = logging.getLogger("paygate.testing")


@dataclass(frozen=True, slots=True, repr=False)
class WebhookDelivery:
    """One webhook delivery as the provider would POST it: deliver ``body`` (the exact bytes,
    signed) with ``headers`` to the handler under test. ``event_type`` is the provider's name
    for the event (``payment_intent.succeeded``, ``CAPTURE``); ``payment_id`` the provider's
    payment id it concerns, when it concerns one."""

    headers: dict[str, str]
    body: bytes
    event_type: str
    payment_id: str | None

    def __repr__(self) -> str:
        return (
            f"paygate.testing.WebhookDelivery({self.event_type}, payment_id={self.payment_id!r}, "
            f"{len(self.body)} bytes)"
        )


Item = TypeVar("Item")
Delivered = TypeVar("Delivered", bound=WebhookDelivery)

_SEND_TIMEOUT: Final = httpx.Timeout(2.0)
_JOIN_TIMEOUT: Final = 5.0


class WebhookSender(Generic[Item, Delivered]):
    """POSTs each queued item to ``url`` from one background thread (started on first use),
    in order, as the delivery ``sign`` makes of it at the moment it is sent.

    Best effort, as a test double should be: every attempt's HTTP status (None when the request
    failed) is recorded and nothing is retried, so a test sees exactly one POST per webhook,
    whatever the receiver answered. Every simulator sends its webhooks this way.
    """

    def __init__(self, url: str, sign: Callable[[Item], Delivered], *, name: str) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme not in {"http", "https"} or not parsed.host:
            raise ValueError(f"webhook_url must be an http(s) URL, not {url!r}")
        self._url = url
        self._sign = sign
        self._name = name
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._results: list[tuple[Delivered, int | None]] = []
        self._state = threading.Condition()
        self._unsent = 0
        self._thread: threading.Thread | None = None

    def put(self, item: Item) -> None:
        """Hand ``item`` to the sending thread; never blocks."""
        with self._state:
            self._unsent += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"paygate-simulator-{self._name}-webhooks", daemon=True
                )
                self._thread.start()
        self._queue.put(item)

    def wait(self, timeout: float) -> bool:
        """Wait until every queued webhook has been attempted; False on timeout."""
        with self._state:
            return self._state.wait_for(lambda: self._unsent == 0, timeout)

    def stop(self) -> None:
        """Send what is queued (within the join timeout), then end the thread."""
        with self._state:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(_JOIN_TIMEOUT)

    def results(self) -> list[tuple[Delivered, int | None]]:
        with self._state:
            return list(self._results)

    def clear(self) -> None:
        with self._state:
            self._results.clear()

    def _run(self) -> None:
        with httpx.Client(timeout=_SEND_TIMEOUT) as client:
            while (item := self._queue.get()) is not None:
                delivery = self._sign(item)
                status: int | None = None
                try:
                    response = client.post(
                        self._url, content=delivery.body, headers=delivery.headers
                    )
                    status = response.status_code
                except httpx.HTTPError as exc:  # best effort: record the failure, keep sending
                    logger.warning("%r to %s failed: %s", delivery, self._url, exc)
                with self._state:
                    self._results.append((delivery, status))
                    self._unsent -= 1
                    self._state.notify_all()
