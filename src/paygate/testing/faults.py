"""Faults a simulator can inject: what goes wrong, and on which side of the provider's commit.

A fault *before commit* answers (or drops the connection) before the provider does anything,
so nothing changes. A fault *after commit* lets the provider apply the operation and save its
answer under the idempotency key, then spoils the delivery: a 5xx, a silent connection, a
dropped connection, a broken body. ``latency`` delays the handling and then answers normally.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

__all__ = ["Fault", "FaultKind"]


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


@dataclass(frozen=True, slots=True, repr=False)
class Fault:
    """One fault to inject into a simulator; build it with the classmethods.

    ``seconds`` is the delay of ``latency``, the silence of ``timeout_after_commit`` and the
    ``Retry-After`` of ``rate_limited``; ``status`` is the HTTP status of ``server_error``.
    """

    kind: FaultKind
    seconds: float = 0.0
    status: int = 500
    after_commit: bool = False

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
        if not isinstance(after_commit, bool):
            raise ValueError(f"after_commit must be true or false, not {after_commit!r}")
        return cls(FaultKind.SERVER_ERROR, status=status, after_commit=after_commit)

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

    # -- the JSON form of the control API --------------------------------------------------------
    def arguments(self) -> dict[str, Any]:
        """The constructor's arguments that rebuild this fault."""
        if self.kind is FaultKind.SERVER_ERROR:
            return {"status": self.status, "after_commit": self.after_commit}
        name = _SECONDS_ARGUMENT.get(self.kind)
        return {} if name is None else {name: self.seconds}

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


_SECONDS_ARGUMENT: Final[Mapping[FaultKind, str]] = {
    FaultKind.LATENCY: "seconds",
    FaultKind.RATE_LIMITED: "retry_after",
    FaultKind.TIMEOUT_AFTER_COMMIT: "hold",
}


def _seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
    return float(value)
