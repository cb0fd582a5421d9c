"""Faults a simulator can inject: what goes wrong, and on which side of the provider's commit.

A fault *before commit* answers (or drops the connection) before the provider does anything,
so nothing changes. A fault *after commit* lets the provider apply the operation and save its
answer under the idempotency key, then spoils the delivery: a 5xx, a silent connection, a
dropped connection, a broken body, an answer dripped byte by byte, a huge or endless body, a
gzip bomb. A *foreign* answer is one the provider never wrote (a load balancer's or a firewall's
page), sent before commit or after it. ``latency`` delays the handling and then answers normally.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

__all__ = ["Fault", "FaultKind"]

_MIB: Final = 1 << 20
_GIB: Final = 1 << 30
_MAX_BOMB: Final = 4 * _GIB  # about 4 MB compressed; gzip keeps the inflated size in 32 bits


class FaultKind(StrEnum):
    """The kinds of fault; the value is the ``kind`` used in the HTTP control API."""

    LATENCY = "latency"
    SERVER_ERROR = "server_error"
    RATE_LIMITED = "rate_limited"
    RESET_BEFORE_COMMIT = "reset_before_commit"
    RESET_AFTER_COMMIT = "reset_after_commit"
    TIMEOUT_AFTER_COMMIT = "timeout_after_commit"
    MALFORMED_JSON = "malformed_json"
    SCHEMA_BREAK = "schema_break"
    SLOW_BODY = "slow_body"
    SLOW_HEADERS = "slow_headers"
    OVERSIZED_BODY = "oversized_body"
    ENDLESS_BODY = "endless_body"
    GZIP_BOMB = "gzip_bomb"
    FOREIGN = "foreign"
    FOREIGN_JSON = "foreign_json"


@dataclass(frozen=True, slots=True, repr=False)
class Fault:
    """One fault to inject into a simulator; build it with the classmethods.

    ``seconds`` is the delay of ``latency``, the silence of ``timeout_after_commit``, the
    ``Retry-After`` of ``rate_limited`` and the ``interval`` between the bytes of ``slow_body``
    and ``slow_headers``; ``status`` is the HTTP status of ``server_error``, ``foreign`` and
    ``foreign_json``; ``size`` is the body size of ``oversized_body`` and ``gzip_bomb`` (for the
    bomb, inflated); ``truncated`` cuts ``foreign_json``'s body.
    """

    kind: FaultKind
    seconds: float = 0.0
    status: int = 500
    after_commit: bool = False
    size: int = 0
    truncated: bool = False

    # -- constructors --------------------------------------------------------------------------
    @classmethod
    def latency(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before handling, then answer normally.

        An idempotency key counts as in flight during the wait.
        """
        return cls(FaultKind.LATENCY, seconds=_seconds("seconds", seconds))

    @classmethod
    def server_error(cls, status: int = 500, after_commit: bool = False) -> Fault:
        """Answer ``status`` (5xx) with the provider's error body.

        Before commit nothing changes. After commit the operation is applied and the 5xx is
        what the provider saves under the idempotency key, so every replay returns it too.
        """
        if isinstance(status, bool) or not isinstance(status, int) or not 500 <= status <= 599:
            raise ValueError(f"server_error needs a 5xx status, not {status!r}")
        return cls(
            FaultKind.SERVER_ERROR, status=status, after_commit=_flag("after_commit", after_commit)
        )

    @classmethod
    def rate_limited(cls, retry_after: float = 1.0) -> Fault:
        """Answer 429 with ``Retry-After: retry_after`` before commit; nothing changes.

        A fractional ``retry_after`` is sent as is (``0.4``), which keeps tests fast.
        """
        return cls(FaultKind.RATE_LIMITED, seconds=_seconds("retry_after", retry_after))

    @classmethod
    def reset_before_commit(cls) -> Fault:
        """Drop the connection without an answer before anything is applied."""
        return cls(FaultKind.RESET_BEFORE_COMMIT)

    @classmethod
    def reset_after_commit(cls) -> Fault:
        """Apply the operation, save its answer for replays, then drop the connection."""
        return cls(FaultKind.RESET_AFTER_COMMIT, after_commit=True)

    @classmethod
    def timeout_after_commit(cls, hold: float = 5.0) -> Fault:
        """Apply the operation and save its answer, then stay silent for ``hold`` seconds and
        drop the connection: the client's read timeout fires. A retry with the same key in the
        meantime gets the saved answer replayed."""
        return cls(
            FaultKind.TIMEOUT_AFTER_COMMIT, seconds=_seconds("hold", hold), after_commit=True
        )

    @classmethod
    def malformed_json(cls) -> Fault:
        """Apply the operation and save its answer, but send a truncated, invalid JSON body."""
        return cls(FaultKind.MALFORMED_JSON, after_commit=True)

    @classmethod
    def schema_break(cls) -> Fault:
        """Apply the operation and save its answer, but send valid JSON that breaks the
        provider's schema (for Stripe: ``amount`` as a string, ``status`` missing)."""
        return cls(FaultKind.SCHEMA_BREAK, after_commit=True)

    @classmethod
    def slow_body(cls, interval: float = 1.0) -> Fault:
        """Apply the operation and save its answer, send the status line and headers at once,
        then the body one byte every ``interval`` seconds: each read gets a byte in time, so a
        per-read timeout never fires while the whole answer takes ``interval`` times its size."""
        return cls(FaultKind.SLOW_BODY, seconds=_interval(interval), after_commit=True)

    @classmethod
    def slow_headers(cls, interval: float = 1.0) -> Fault:
        """Apply the operation and save its answer, then send the status line and headers one
        byte every ``interval`` seconds, and the body at once after them."""
        return cls(FaultKind.SLOW_HEADERS, seconds=_interval(interval), after_commit=True)

    @classmethod
    def oversized_body(cls, size: int = 64 * _MIB) -> Fault:
        """Apply the operation and save its answer, but send a body of ``size`` bytes with that
        Content-Length: JSON that opens and never closes, padded with spaces."""
        return cls(FaultKind.OVERSIZED_BODY, size=_size(size), after_commit=True)

    @classmethod
    def endless_body(cls) -> Fault:
        """Apply the operation and save its answer, but send a chunked body that never ends:
        padding, as fast as the client reads, until it hangs up or the simulator stops."""
        return cls(FaultKind.ENDLESS_BODY, after_commit=True)

    @classmethod
    def gzip_bomb(cls, size: int = _GIB) -> Fault:
        """Apply the operation and save its answer, but send a ``Content-Encoding: gzip`` body
        of about ``size`` / 1000 bytes that inflates to ``size`` bytes of padding (at most
        4 GiB, about 4 MB compressed; built once per size and kept)."""
        return cls(FaultKind.GZIP_BOMB, size=_size(size, most=_MAX_BOMB), after_commit=True)

    @classmethod
    def foreign(cls, status: int = 403, after_commit: bool = False) -> Fault:
        """Answer ``status`` (3xx, 4xx or 5xx) with an HTML page the provider never wrote, as a
        load balancer, a firewall or a proxy in front of it would; a 3xx has a ``Location``.
        It carries none of the provider's headers (no request id, no echoed key).

        Before commit nothing changes. After commit the operation is applied and its real
        answer saved under the idempotency key (a replay gets it); only this delivery is lost.
        """
        return cls(
            FaultKind.FOREIGN,
            status=_foreign_status(status),
            after_commit=_flag("after_commit", after_commit),
        )

    @classmethod
    def foreign_json(
        cls, status: int = 409, truncated: bool = False, after_commit: bool = False
    ) -> Fault:
        """Like ``foreign``, with a JSON body that is not the provider's
        (``{"message": "upstream request failed"}``); ``truncated`` cuts it in half."""
        return cls(
            FaultKind.FOREIGN_JSON,
            status=_foreign_status(status),
            truncated=_flag("truncated", truncated),
            after_commit=_flag("after_commit", after_commit),
        )

    # -- the JSON form of the control API --------------------------------------------------------
    def arguments(self) -> dict[str, Any]:
        """The constructor's arguments that rebuild this fault."""
        return {name: getattr(self, field) for name, field in _ARGUMENTS.get(self.kind, ())}

    def to_json(self) -> dict[str, Any]:
        """``{"kind": ..., **arguments}``, the form ``from_json`` reads."""
        return {"kind": self.kind.value, **self.arguments()}

    @classmethod
    def from_json(cls, data: object) -> Fault:
        """A fault from ``{"kind": "server_error", "status": 503}``: the kind names the
        constructor, the other keys are its arguments. Raises ValueError on anything else."""
        if not isinstance(data, Mapping):
            raise ValueError("a fault is a JSON object with a 'kind'")
        arguments = dict(data)
        try:
            kind = FaultKind(arguments.pop("kind"))
        except (KeyError, ValueError):
            known = ", ".join(k.value for k in FaultKind)
            raise ValueError(f"a fault needs a 'kind', one of: {known}") from None
        try:
            fault: Fault = getattr(cls, kind.value)(**arguments)
        except TypeError:
            raise ValueError(f"{kind.value} does not take {sorted(arguments)}") from None
        return fault

    def __repr__(self) -> str:
        arguments = ", ".join(f"{name}={value!r}" for name, value in self.arguments().items())
        return f"paygate.testing.Fault.{self.kind.value}({arguments})"


# Each kind's constructor arguments, in order, as (argument, the field that keeps it).
_ARGUMENTS: Final[Mapping[FaultKind, tuple[tuple[str, str], ...]]] = {
    FaultKind.LATENCY: (("seconds", "seconds"),),
    FaultKind.SERVER_ERROR: (("status", "status"), ("after_commit", "after_commit")),
    FaultKind.RATE_LIMITED: (("retry_after", "seconds"),),
    FaultKind.TIMEOUT_AFTER_COMMIT: (("hold", "seconds"),),
    FaultKind.SLOW_BODY: (("interval", "seconds"),),
    FaultKind.SLOW_HEADERS: (("interval", "seconds"),),
    FaultKind.OVERSIZED_BODY: (("size", "size"),),
    FaultKind.GZIP_BOMB: (("size", "size"),),
    FaultKind.FOREIGN: (("status", "status"), ("after_commit", "after_commit")),
    FaultKind.FOREIGN_JSON: (
        ("status", "status"),
        ("truncated", "truncated"),
        ("after_commit", "after_commit"),
    ),
}


def _seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
    return float(value)


def _interval(value: float) -> float:
    seconds = _seconds("interval", value)
    if not seconds:
        raise ValueError("interval must be more than 0 seconds: an answer sent at once is not slow")
    return seconds


def _size(value: int, most: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"size must be a positive number of bytes, not {value!r}")
    if most is not None and value > most:
        raise ValueError(f"size must be at most {most} bytes, not {value!r}")
    return value


def _flag(name: str, value: bool) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return value


def _foreign_status(status: int) -> int:
    if (
        isinstance(status, bool)
        or not isinstance(status, int)
        or not 300 <= status <= 599
        or status == 304
    ):
        raise ValueError(f"a foreign answer needs a 3xx, 4xx or 5xx status but 304, not {status!r}")
    return status
