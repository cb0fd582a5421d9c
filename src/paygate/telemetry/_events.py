"""The typed events a gateway emits: one stream, read by ``on_event`` hooks, by the
OpenTelemetry listener (``paygate.telemetry.OpenTelemetry``) and by tests alike.

Every event is a frozen dataclass. None carries a secret (an API key, a webhook secret, a card
number or a CVC) or a caller's raw idempotency key: keys travel as ``key_digest``
(``key_digest()``). A call's events share its ``Call`` (``call.id`` tells calls apart).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = [
    "AttemptEnded",
    "BreakerRefused",
    "BulkheadRefused",
    "Call",
    "Event",
    "GatewayClosed",
    "GatewayOpened",
    "Gauges",
    "IdempotencyReplayed",
    "IdempotencyWaiting",
    "Listener",
    "OperationEnded",
    "OperationStarted",
    "Outcome",
    "RecordChanged",
    "RetryScheduled",
    "UnknownEscalated",
    "WebhookApplied",
]


class Outcome(StrEnum):
    """How a gateway operation ended."""

    SUCCEEDED = "succeeded"
    DECLINED = "declined"  # CardDeclinedError
    RETRIABLE = "retriable"  # RetriableError: safe to try again under the same key
    TERMINAL = "terminal"  # TerminalError other than a decline
    UNKNOWN = "unknown"  # OutcomeUnknown: the provider may have acted
    REPLAYED = "replayed"  # the idempotency store's stored outcome, nothing sent
    INTERRUPTED = "interrupted"  # a cancellation or a bug (not a PaymentError)


@dataclass(frozen=True, slots=True)
class Call:
    """One gateway operation, as its events name it. ``id``: unique in the process, across
    gateways (a listener serving several tells their calls apart by it); ``payment_id``: the
    payment the caller named (None for a new payment); ``started_ns``: wall clock, nanoseconds
    since the epoch."""

    id: int
    provider: str
    operation: str
    payment_id: str | None
    started_ns: int


@dataclass(frozen=True, slots=True)
class OperationStarted:
    call: Call


@dataclass(frozen=True, slots=True)
class OperationEnded:
    """``payment_id``: the payment the operation is about, once known (a new payment's id);
    ``request_id``: the provider's id of its last answer; ``error_code``: paygate's normalized
    code when it raised."""

    call: Call
    outcome: Outcome
    attempts: int
    elapsed: float  # seconds
    key_digest: str | None
    payment_id: str | None
    error_code: str | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class AttemptEnded:
    """One HTTP exchange with the provider. ``resend_count``: 0 for the first attempt, n for
    the n-th retry; ``url``: without query values or credentials; ``error_type``: the status
    code of an answer of 400 or more, else the transport error's class, else None;
    ``request_id``: the provider's id of the exchange, from the header its adapter declares
    (``Capabilities.request_id_header``: Stripe's ``Request-Id``, Adyen's ``pspReference``),
    None without an answer; ``request_id_header``: that header's name."""

    call: Call
    resend_count: int
    method: str
    url: str
    server_address: str
    server_port: int
    status_code: int | None
    error_type: str | None
    started_ns: int
    elapsed: float  # seconds
    request_id: str | None = None
    request_id_header: str | None = None


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """A failed attempt will be tried again after ``wait`` seconds (``attempt``: the one that
    failed, from 1)."""

    call: Call
    attempt: int
    wait: float
    error_code: str


@dataclass(frozen=True, slots=True)
class BreakerRefused:
    """The provider's circuit breaker was open: nothing was sent."""

    call: Call


@dataclass(frozen=True, slots=True)
class BulkheadRefused:
    """No bulkhead slot freed in time: nothing was sent."""

    call: Call


@dataclass(frozen=True, slots=True)
class IdempotencyReplayed:
    """The call's key held a stored outcome: it was returned (or raised), nothing sent."""

    call: Call
    key_digest: str


@dataclass(frozen=True, slots=True)
class IdempotencyWaiting:
    """Another call held the key: this one waits for it (up to the policy's wait)."""

    call: Call
    key_digest: str


@dataclass(frozen=True, slots=True)
class RecordChanged:
    """A payment record moved (``from_status`` None: it was created). ``call``: the operation
    that moved it, None for a webhook or a check of an unknown outcome; ``cause``: ``call``,
    ``webhook``, ``resolver``..."""

    call: Call | None
    provider: str
    record_id: str
    payment_id: str | None
    from_status: str | None
    to_status: str
    cause: str


@dataclass(frozen=True, slots=True)
class WebhookApplied:
    """One verified webhook event: ``result`` as ``WebhookOutcome.result`` (``applied``,
    ``duplicate``, ``unchanged``, ``refused``, ``ignored``, ``no_record``), or ``invalid`` for
    a delivery refused unread (forged, stale, malformed)."""

    call: Call
    event_type: str
    result: str
    payment_id: str | None


@dataclass(frozen=True, slots=True)
class UnknownEscalated:
    """An unknown outcome still unknown after the janitor's last scheduled check: a person
    must look (``paygate unknown list``). It is never marked failed."""

    provider: str
    record_id: str
    operation: str
    key_digest: str
    attempts: int
    age: float  # seconds since the outcome became unknown


class Gauges(Protocol):
    """What a gateway reports when asked (the observable gauges read it)."""

    provider: str

    def breaker_state(self) -> str | None: ...
    def bulkhead_in_use(self) -> int: ...
    def unknown_open(self) -> tuple[int, float | None]: ...


@dataclass(frozen=True, slots=True)
class GatewayOpened:
    """A gateway was made; ``gauges`` reads its breaker, bulkhead and unknown outcomes."""

    gauges: Gauges


@dataclass(frozen=True, slots=True)
class GatewayClosed:
    gauges: Gauges


Event = (
    OperationStarted
    | OperationEnded
    | AttemptEnded
    | RetryScheduled
    | BreakerRefused
    | BulkheadRefused
    | IdempotencyReplayed
    | IdempotencyWaiting
    | RecordChanged
    | WebhookApplied
    | UnknownEscalated
    | GatewayOpened
    | GatewayClosed
)
Listener = Callable[[Event], object]
