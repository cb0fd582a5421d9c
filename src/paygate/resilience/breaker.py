"""The per-provider circuit breaker: pybreaker's state machine, driven through its public API.

pybreaker's own async path needs tornado, and its ``call()`` on a coroutine function counts the
un-awaited coroutine as a success. So both gateways drive it the same way: ``admit()`` before
an attempt (which raises ``CircuitOpen`` without I/O while the circuit is open) and
``Admission.record()`` once the attempt's outcome is known. Nothing is awaited or slept while
pybreaker's lock is held, so the same code serves threads and asyncio.

Only provider-health failures count (5xx, timeouts, connection errors). Declines, invalid
requests and other terminal answers prove the provider is healthy and count as successes.
In the half-open state one probe at a time is let through; others are refused.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, suppress
from typing import Final

import pybreaker

from paygate.errors import CircuitOpen, ErrorCode, PaymentError
from paygate.resilience.policies import BreakerPolicy

HEALTH_FAILURES: Final = frozenset(
    {ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.TIMEOUT, ErrorCode.NETWORK}
)


class _HealthFailure(Exception):
    """Thrown into pybreaker's context to count one provider-health failure."""


def counts_as_failure(error: PaymentError | None) -> bool:
    return error is not None and error.code in HEALTH_FAILURES


class Admission:
    """One admitted attempt; ``record`` must be called exactly once with its outcome."""

    __slots__ = ("_breaker", "_context", "_probe")

    def __init__(
        self, breaker: CircuitBreaker, context: AbstractContextManager[None], probe: bool
    ) -> None:
        self._breaker = breaker
        self._context = context
        self._probe = probe

    def record(self, error: PaymentError | None) -> None:
        try:
            if counts_as_failure(error):
                failure = _HealthFailure()
                with suppress(_HealthFailure, pybreaker.CircuitBreakerError):
                    self._context.__exit__(_HealthFailure, failure, None)
            else:
                self._context.__exit__(None, None, None)
        finally:
            if self._probe:
                self._breaker.end_probe()

    def abandon(self) -> None:
        """The attempt was cancelled before an outcome: count nothing, free the probe."""
        if self._probe:
            self._breaker.end_probe()


class CircuitBreaker:
    """A pybreaker breaker for one provider."""

    def __init__(
        self,
        provider: str,
        policy: BreakerPolicy,
        storage: pybreaker.CircuitBreakerStorage | None = None,
    ) -> None:
        self.provider = provider
        self.policy = policy
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=policy.failure_threshold,
            reset_timeout=policy.reset_timeout,
            success_threshold=policy.success_threshold,
            throw_new_error_on_trip=False,
            state_storage=storage,
            name=f"paygate:{provider}",
        )
        self._probe_lock = threading.Lock()
        self._probing = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open``."""
        return str(self._breaker.current_state)

    def _open_error(self) -> CircuitOpen:
        return CircuitOpen(
            f"circuit for {self.provider} is open after repeated provider failures; "
            f"next probe within {self.policy.reset_timeout}s",
            provider=self.provider,
        )

    def admit(self) -> Admission | None:
        """Let one attempt through, or raise ``CircuitOpen``. None when the breaker is off."""
        if not self.policy.enabled:
            return None
        probe = False
        if self.state != pybreaker.STATE_CLOSED:
            with self._probe_lock:
                if self._probing:
                    raise self._open_error()
                self._probing = probe = True
        context = self._calling()
        try:
            context.__enter__()
        except pybreaker.CircuitBreakerError:
            if probe:
                self.end_probe()
            raise self._open_error() from None
        return Admission(self, context, probe)

    def _calling(self) -> AbstractContextManager[None]:
        context: AbstractContextManager[None] = self._breaker.calling()
        return context

    def end_probe(self) -> None:
        with self._probe_lock:
            self._probing = False
