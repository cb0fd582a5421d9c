"""Where a gateway's events are emitted from: ``Telemetry`` holds its listeners, and a
``Watch`` follows one operation (its attempts, retries, replay, record changes, its end).

With no listener, ``Telemetry.watch`` returns None and every emitting site is one ``is None``
test: nothing is built, no clock is read.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from collections.abc import Iterable
from typing import Final

import httpx

from paygate.errors import (
    BulkheadFull,
    CardDeclinedError,
    CircuitOpen,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
)
from paygate.records.store import Applied
from paygate.telemetry._events import (
    AttemptEnded,
    BreakerRefused,
    BulkheadRefused,
    Call,
    Event,
    IdempotencyReplayed,
    IdempotencyWaiting,
    Listener,
    OperationEnded,
    OperationStarted,
    Outcome,
    RecordChanged,
    RetryScheduled,
    WebhookApplied,
)

__all__ = ["Telemetry", "Watch", "key_digest", "outcome_of", "safe_url"]

logger: Final = logging.getLogger("paygate")
_REDACTED: Final = "REDACTED"
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}
# ``Call.id``s, process-wide: one listener may serve several gateways, and tells their calls
# apart by it (``next`` on a count is atomic under the GIL).
_CALL_IDS: Final = itertools.count(1)


def key_digest(key: str) -> str:
    """How an idempotency key appears in events, spans, metrics' neighbours and log fields:
    the first 16 hex digits of its SHA-256. A caller's key may carry personal data (an email,
    an order number); its digest still lets an operator find a call by the key they hold."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def outcome_of(exc: BaseException) -> Outcome:
    """The outcome of an operation that raised ``exc``."""
    if isinstance(exc, CardDeclinedError):
        return Outcome.DECLINED
    if isinstance(exc, OutcomeUnknown):
        return Outcome.UNKNOWN
    if isinstance(exc, RetriableError):
        return Outcome.RETRIABLE
    if isinstance(exc, PaymentError):
        return Outcome.TERMINAL
    return Outcome.INTERRUPTED


def safe_url(url: httpx.URL) -> str:
    """``url`` as a span may carry it: no credentials, no fragment, every query value
    replaced by ``REDACTED`` (a search's reference could be personal data)."""
    if not (url.query or url.userinfo or url.fragment):
        return str(url)  # nearly every payment call: nothing to take out, and cheap
    query = httpx.QueryParams([(name, _REDACTED) for name in url.params])
    return str(url.copy_with(username=None, password=None, fragment=None, params=query or None))


class Telemetry:
    """A gateway's listeners: every event goes to each, in order. A listener that raises is
    logged and skipped; it never fails a payment call."""

    __slots__ = ("_listeners", "on")

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self._listeners = tuple(listeners)
        self.on = bool(self._listeners)  # an attribute: read on every call's path

    def __repr__(self) -> str:
        return f"paygate.Telemetry(listeners={len(self._listeners)})"

    def emit(self, event: Event) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                logger.exception(
                    "paygate event listener %r failed on %s", listener, type(event).__name__
                )

    def changed(self, provider: str, applied: Applied, watch: Watch | None = None) -> None:
        """A record store's ``apply`` did ``applied`` (an event when it moved a record)."""
        entry = applied.entry
        if not self.on or entry is None or not applied.applied or applied.record is None:
            return
        self.emit(
            RecordChanged(
                call=watch.call if watch is not None else None,
                provider=provider,
                record_id=entry.record_id,
                payment_id=applied.record.payment_id,
                from_status=entry.from_status.value if entry.from_status is not None else None,
                to_status=entry.to_status.value,
                cause=entry.cause.kind,
            )
        )

    def watch(self, provider: str, operation: str, payment_id: str | None) -> Watch | None:
        """A ``Watch`` on one operation, its start emitted; None when nobody listens."""
        if not self._listeners:
            return None
        call = Call(next(_CALL_IDS), provider, operation, payment_id, time.time_ns())
        self.emit(OperationStarted(call))
        return Watch(self, call)


class Watch:
    """One operation's events: what it tried, what it ended with."""

    __slots__ = (
        "_began",
        "_telemetry",
        "attempts",
        "call",
        "key_digest",
        "payment_id",
        "replayed",
        "request_id",
    )

    def __init__(self, telemetry: Telemetry, call: Call) -> None:
        self._telemetry = telemetry
        self._began = time.perf_counter()
        self.call = call
        self.attempts = 0
        self.key_digest: str | None = None
        self.payment_id = call.payment_id
        self.replayed = False
        self.request_id: str | None = None  # the provider's id of the last answer

    def keyed(self, key: str | None) -> None:
        if key is not None and self.key_digest is None:
            self.key_digest = key_digest(key)

    def attempt(
        self,
        request: httpx.Request,
        started_ns: int,
        elapsed: float,
        *,
        status_code: int | None,
        error: BaseException | None = None,
        request_id: str | None = None,
        request_id_header: str | None = None,
    ) -> None:
        """One HTTP exchange ended: answered (``status_code``, the provider's ``request_id``
        read from its ``request_id_header``) or not (``error``)."""
        url = request.url
        error_type = None
        if status_code is not None and status_code >= 400:
            error_type = str(status_code)
        elif error is not None:
            error_type = f"{type(error).__module__}.{type(error).__qualname__}"
        self._telemetry.emit(
            AttemptEnded(
                call=self.call,
                resend_count=self.attempts,
                method=request.method,
                url=safe_url(url),
                server_address=url.host,
                server_port=url.port or _DEFAULT_PORTS.get(url.scheme, 0),
                status_code=status_code,
                error_type=error_type,
                started_ns=started_ns,
                elapsed=elapsed,
                request_id=request_id,
                request_id_header=request_id_header,
            )
        )
        self.attempts += 1
        if request_id is not None:
            self.request_id = request_id

    def retry(self, attempt: int, wait: float, error: PaymentError) -> None:
        self._telemetry.emit(RetryScheduled(self.call, attempt, wait, error.code.value))

    def replay(self) -> None:
        self.replayed = True
        self._telemetry.emit(IdempotencyReplayed(self.call, self.key_digest or ""))

    def waiting(self) -> None:
        self._telemetry.emit(IdempotencyWaiting(self.call, self.key_digest or ""))

    def webhook(self, event_type: str, result: str, payment_id: str | None) -> None:
        self._telemetry.emit(WebhookApplied(self.call, event_type, result, payment_id))

    def succeeded(self, payment_id: str | None) -> None:
        outcome = Outcome.REPLAYED if self.replayed else Outcome.SUCCEEDED
        self._end(outcome, payment_id or self.payment_id, None, self.request_id)

    def failed(self, exc: BaseException) -> None:
        if isinstance(exc, CircuitOpen):
            self._telemetry.emit(BreakerRefused(self.call))
        elif isinstance(exc, BulkheadFull):
            self._telemetry.emit(BulkheadRefused(self.call))
        outcome = Outcome.REPLAYED if self.replayed else outcome_of(exc)
        if isinstance(exc, PaymentError):
            payment_id = exc.payment_id or self.payment_id
            self._end(outcome, payment_id, exc.code.value, exc.request_id or self.request_id)
        else:
            self._end(outcome, self.payment_id, None, self.request_id)

    def _end(
        self, outcome: Outcome, payment_id: str | None, code: str | None, request_id: str | None
    ) -> None:
        self._telemetry.emit(
            OperationEnded(
                call=self.call,
                outcome=outcome,
                attempts=self.attempts,
                elapsed=time.perf_counter() - self._began,
                key_digest=self.key_digest,
                payment_id=payment_id,
                error_code=code,
                request_id=request_id,
            )
        )
