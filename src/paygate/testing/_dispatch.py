"""The provider-neutral pipeline of one request, and the plug a provider fits into.

record → pick a fault → (before-commit fault: answer or drop, nothing changes) → the
provider's checks → the idempotency key → latency → the operation (the commit) → save the
answer under the key → deliver it, or spoil the delivery as the fault says → copy the request
headers the provider echoes (Adyen's ``Idempotency-Key``) onto whatever answer the provider
sends (a foreign answer, from something in front of the provider, has none of them).

All state (recorded requests, faults, keys, the provider's own objects) sits behind one lock,
which is never held while sleeping.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from paygate.testing._fault_bodies import foreign_json, foreign_page, gzip_bomb, padding
from paygate.testing._idempotency import KeyRegistry, Verdict
from paygate.testing._records import Headers, RecordedRequest, Reply
from paygate.testing.faults import Fault, FaultKind

_FOREIGN = frozenset({FaultKind.FOREIGN, FaultKind.FOREIGN_JSON})
# The kinds that may come before commit: there, unless ``after_commit`` says otherwise.
_BEFORE_COMMIT = frozenset(
    {FaultKind.SERVER_ERROR, FaultKind.RATE_LIMITED, FaultKind.RESET_BEFORE_COMMIT, *_FOREIGN}
)


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request that passed the provider's checks.

    ``run`` is the operation: calling it is the commit point, and whatever it returns (a
    success, a decline, a business-rule error) is saved under ``key`` when there is one.
    """

    run: Callable[[], Reply]
    key: str | None = None  # the idempotency key, already scoped (e.g. per API key)
    # What a repeat under ``key`` must match to get the saved answer: None compares method,
    # path and parameters (Stripe); a constant replays the first answer to any repeat (Adyen).
    fingerprint: str | None = None
    # An after-commit 5xx is saved under ``key`` and replayed (Stripe); False treats it as
    # transient: the real answer is saved, so a retry with the key gets it (Adyen).
    saves_server_error: bool = True


class Provider(Protocol):
    """What a provider simulator plugs into the server. Called under the simulator's lock
    where it touches state (``run``, ``snapshot``, ``reset``)."""

    def decode(self, query: str, headers: Headers, body: bytes) -> dict[str, Any]:
        """The request's parameters; ValueError when they cannot be read."""
        ...

    def admit(self, request: RecordedRequest) -> Reply | Admitted:
        """Checks before execution (auth, route, parameters): a Reply here is never saved."""
        ...

    def unreadable(self, message: str) -> Reply:
        """The answer to parameters that could not be decoded."""
        ...

    def replayed(self, saved: Reply) -> Reply:
        """A saved answer, marked as replayed."""
        ...

    def refused(self, verdict: Verdict) -> Reply:
        """The answer to a key used for another request, or still in flight."""
        ...

    def server_error(self, status: int) -> Reply: ...

    def rate_limited(self, retry_after: float) -> Reply: ...

    def break_schema(self, body: bytes) -> bytes:
        """Valid JSON that breaks the provider's response schema."""
        ...

    def stamp(self, reply: Reply) -> Reply:
        """Add what every HTTP answer carries (e.g. a fresh request id)."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """The provider's objects, as JSON, for ``GET /_sim/state``."""
        ...

    def reset(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Stream:
    """A body sent piece by piece in place of the reply's: with a Content-Length of
    ``length``, or, when it is None, chunked and never finished (its pieces may be endless)."""

    pieces: Iterator[bytes]
    length: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the connection does: wait ``hold`` seconds, then send ``reply`` or, when it is
    None, close without answering. ``stream`` replaces the reply's body; ``drip_head`` and
    ``drip_body`` are the seconds between single bytes of the status line and headers, and of
    the body (0: all at once)."""

    reply: Reply | None
    hold: float = 0.0
    stream: Stream | None = None
    drip_head: float = 0.0
    drip_body: float = 0.0


@dataclass(slots=True)
class Injection:
    """An injected fault with what it matches and how many more times it fires."""

    fault: Fault
    remaining: int | None  # None: every matching request until cleared
    method: str | None
    path: str | None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or self.path == path
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "fault": self.fault.to_json(),
            "times": self.remaining,
            "method": self.method,
            "path": self.path,
        }


class Dispatcher:
    """Runs requests through a provider with faults, recording and idempotency."""

    def __init__(
        self, provider: Provider, stopping: threading.Event, echo_headers: tuple[str, ...] = ()
    ) -> None:
        self.provider = provider
        self.lock = threading.Lock()
        self._stopping = stopping
        self._echo_headers = echo_headers  # request headers copied onto every answer
        self._requests: list[RecordedRequest] = []
        self._injections: list[Injection] = []
        self._keys = KeyRegistry()
        # How a latency fault waits: on the stopping event over HTTP (a stop ends the wait),
        # on the test's clock in process (``MockProvider``).
        self.pause: Callable[[float], object] = stopping.wait

    # -- control -------------------------------------------------------------------------------
    def inject(self, injection: Injection) -> None:
        with self.lock:
            self._injections.append(injection)

    def clear_faults(self) -> int:
        with self.lock:
            cleared = len(self._injections)
            self._injections.clear()
            return cleared

    def reset(self) -> None:
        with self.lock:
            self._injections.clear()
            self._requests.clear()
            self._keys.clear()
            self.provider.reset()

    def requests(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self._requests)

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                **self.provider.snapshot(),
                "request_count": len(self._requests),
                "keys_running": self._keys.running(),
                "faults": [injection.to_json() for injection in self._injections],
            }

    # -- one request ---------------------------------------------------------------------------
    def dispatch(
        self, method: str, path: str, query: str, headers: Headers, body: bytes
    ) -> Delivery:
        problem: str | None = None
        try:
            params = self.provider.decode(query, headers, body)
        except ValueError as exc:
            params, problem = {}, str(exc)
        request = RecordedRequest(method, path, query, headers, body, params)
        with self.lock:
            self._requests.append(request)
            fault = self._take_fault(method, path)
        if fault is not None and fault.kind in _BEFORE_COMMIT and not fault.after_commit:
            delivery = self._before_commit(fault)
        else:
            delivery = self._after_commit(self._answer(request, problem, fault), fault)
        if fault is not None and fault.kind in _FOREIGN:
            return delivery
        return self._echo(request, delivery)

    def _echo(self, request: RecordedRequest, delivery: Delivery) -> Delivery:
        reply = delivery.reply
        if reply is None:
            return delivery
        for name in self._echo_headers:
            value = request.headers.get(name)
            if value is not None:
                reply = reply.with_header(name, value)
        return dataclasses.replace(delivery, reply=reply)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for injection in self._injections:
            if injection.matches(method, path):
                if injection.remaining is not None:
                    injection.remaining -= 1
                    if injection.remaining <= 0:
                        self._injections.remove(injection)
                return injection.fault
        return None

    def _answer(self, request: RecordedRequest, problem: str | None, fault: Fault | None) -> Reply:
        admitted = (
            self.provider.admit(request) if problem is None else self.provider.unreadable(problem)
        )
        if isinstance(admitted, Reply):
            self._pause(fault)
            return admitted
        key = admitted.key
        if key is None:
            self._pause(fault)
            return self._run(admitted)
        fingerprint = admitted.fingerprint
        with self.lock:
            verdict, saved = self._keys.begin(
                key, _fingerprint(request) if fingerprint is None else fingerprint
            )
        self._pause(fault)  # a key that proceeds stays in flight meanwhile
        if verdict is Verdict.REPLAY and saved is not None:
            return self.provider.replayed(saved)
        if verdict is not Verdict.PROCEED:
            return self.provider.refused(verdict)
        try:
            reply = self._run(admitted)
        except BaseException:
            with self.lock:
                self._keys.release(key)
            raise
        if (
            fault is not None
            and fault.kind is FaultKind.SERVER_ERROR
            and admitted.saves_server_error
        ):
            saved = self.provider.server_error(fault.status)  # the provider saves its 5xx
        else:
            saved = reply
        with self.lock:
            self._keys.complete(key, saved)
        return reply

    def _run(self, admitted: Admitted) -> Reply:
        with self.lock:
            return admitted.run()

    def _pause(self, fault: Fault | None) -> None:
        if fault is not None and fault.kind is FaultKind.LATENCY:
            self.pause(fault.seconds)

    def _before_commit(self, fault: Fault) -> Delivery:
        match fault.kind:
            case FaultKind.RESET_BEFORE_COMMIT:
                return Delivery(None)
            case FaultKind.RATE_LIMITED:
                return Delivery(self.provider.stamp(self.provider.rate_limited(fault.seconds)))
            case FaultKind.FOREIGN | FaultKind.FOREIGN_JSON:
                return Delivery(_foreign(fault))
        return Delivery(self.provider.stamp(self.provider.server_error(fault.status)))

    def _after_commit(self, reply: Reply, fault: Fault | None) -> Delivery:
        if fault is None:
            return Delivery(self.provider.stamp(reply))
        match fault.kind:
            case FaultKind.SERVER_ERROR:
                reply = self.provider.server_error(fault.status)
            case FaultKind.MALFORMED_JSON:
                reply = reply.with_body(reply.body[: len(reply.body) // 2] or b"{")
            case FaultKind.SCHEMA_BREAK:
                reply = reply.with_body(self.provider.break_schema(reply.body))
            case FaultKind.GZIP_BOMB:
                reply = reply.with_header("Content-Encoding", "gzip")
                reply = reply.with_body(gzip_bomb(fault.size))
            case FaultKind.RESET_AFTER_COMMIT:
                return Delivery(None)
            case FaultKind.TIMEOUT_AFTER_COMMIT:
                return Delivery(None, hold=fault.seconds)
            case FaultKind.SLOW_BODY:
                return Delivery(self.provider.stamp(reply), drip_body=fault.seconds)
            case FaultKind.SLOW_HEADERS:
                return Delivery(self.provider.stamp(reply), drip_head=fault.seconds)
            case FaultKind.OVERSIZED_BODY:
                stream = Stream(padding(fault.size), fault.size)
                return Delivery(self.provider.stamp(reply), stream=stream)
            case FaultKind.ENDLESS_BODY:
                return Delivery(self.provider.stamp(reply), stream=Stream(padding()))
            case FaultKind.FOREIGN | FaultKind.FOREIGN_JSON:
                return Delivery(_foreign(fault))
        return Delivery(self.provider.stamp(reply))


def _foreign(fault: Fault) -> Reply:
    """The answer of something in front of the provider: none of the provider's headers."""
    if fault.kind is FaultKind.FOREIGN:
        return foreign_page(fault.status)
    return foreign_json(fault.status, fault.truncated)


def _fingerprint(request: RecordedRequest) -> str:
    """What must match for a repeat under the same key: method, path and parameters."""
    return json.dumps([request.method, request.path, request.params], sort_keys=True)
