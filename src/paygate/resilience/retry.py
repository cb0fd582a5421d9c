"""Retry decisions for one call, expressed as tenacity strategies.

The sync and async gateways run the same ``CallRetry`` through ``tenacity.Retrying`` and
``tenacity.AsyncRetrying``; only the sleeping differs. Rules:

* Only ``RetriableError`` is retried, and an ``OutcomeUnknown`` of a mutating call whose cause
  was the network or the provider's health, when the provider replays by idempotency key
  (the same key goes out on every attempt, so the provider acts at most once).
* Never a decline or any other terminal answer; never a locally refused call (open circuit,
  full bulkhead); never when the provider said not to (``Stripe-Should-Retry: false``).
* Backoff: exponential with full jitter; at least the provider's ``Retry-After``; never past
  the call's deadline (a wait that would overrun it ends the call now instead).
* ``paygate.testing.zero_backoff()`` turns every wait to zero while it is on (attempts and
  their rules unchanged): a test suite's retries take no time.
* Once an attempt of a mutating call may have reached the provider, a later failure cannot
  prove that nothing happened: the call ends in success or ``OutcomeUnknown``, never in a
  plain retriable error.

The first attempt runs before tenacity is involved (nearly every call succeeds at once, and
then pays nothing for the retry machinery); after a retriable failure, ``first_failure`` gives
the wait, decided by the same rules tenacity's strategies apply, and tenacity runs the rest with
its attempt numbers offset by the one already made. tenacity is used through its public API
only: the ``Retrying`` / ``AsyncRetrying`` constructors and call, and the documented attributes
of ``RetryCallState`` (``attempt_number``, ``outcome``, ``upcoming_sleep``, which ``stop`` reads
after ``wait`` has set it, as tenacity's own ``stop_before_delay`` does; tenacity 8.3 onwards).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any, Final

import tenacity

from paygate._outcomes import is_final
from paygate.errors import (
    BulkheadFull,
    CircuitOpen,
    ErrorCode,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
)
from paygate.resilience.deadline import Deadline
from paygate.resilience.policies import RetryPolicy

_REPEATABLE_UNKNOWNS: Final = frozenset(
    {
        ErrorCode.TIMEOUT,
        ErrorCode.NETWORK,
        ErrorCode.PROVIDER_UNAVAILABLE,
        ErrorCode.IDEMPOTENCY_IN_FLIGHT,  # the provider replays the request it is running
    }
)


class _Switch:
    """On while any of its holders has it on (``paygate.testing.zero_backoff`` blocks nest, in
    any thread)."""

    __slots__ = ("_holders", "_lock")

    def __init__(self) -> None:
        self._holders = 0
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return self._holders > 0

    def turn_on(self) -> None:
        with self._lock:
            self._holders += 1

    def turn_off(self) -> None:
        with self._lock:
            if self._holders == 0:
                raise RuntimeError("zero backoff is not on")
            self._holders -= 1


ZERO_BACKOFF: Final = _Switch()


class CallRetry:
    """The retry state of one call."""

    def __init__(
        self,
        policy: RetryPolicy,
        deadline: Deadline,
        *,
        mutating: bool,
        idempotent_replay: bool,
        jitter: Callable[[float, float], float] = random.uniform,
        on_retry: Callable[[int, float, PaymentError], None] | None = None,
    ) -> None:
        self.policy = policy
        self._on_retry = on_retry  # told of each retry: (attempt that failed, wait, its error)
        self.deadline = deadline
        self.mutating = mutating
        self.idempotent_replay = idempotent_replay
        self._jitter = jitter
        self.ambiguous: OutcomeUnknown | None = None
        self.attempts = 1  # the first attempt is always made
        # Attempts made before tenacity took over: the first one runs without it, so a call
        # that succeeds at once (nearly every call) pays nothing for the retry machinery.
        self._offset = 0

    # -- decisions -----------------------------------------------------------------------
    def is_retriable(self, error: BaseException | None) -> bool:
        if not isinstance(error, PaymentError) or self.deadline.expired:
            return False
        if error.provider_retry_hint is False:
            if isinstance(error, OutcomeUnknown):
                self.ambiguous = error
            return False
        if isinstance(error, OutcomeUnknown):
            self.ambiguous = error
            return self.idempotent_replay and error.code in _REPEATABLE_UNKNOWNS
        if isinstance(error, CircuitOpen | BulkheadFull) or not isinstance(error, RetriableError):
            return False
        return error.retry_after is None or error.retry_after <= self.policy.max_retry_after

    def backoff(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        if ZERO_BACKOFF:
            return 0.0
        ceiling = min(
            self.policy.max_backoff,
            self.policy.initial_backoff * self.policy.multiplier ** (attempt - 1),
        )
        wait = self._jitter(0.0, ceiling)
        if isinstance(error, PaymentError) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait

    def finish(self, error: PaymentError) -> PaymentError:
        """The error the call ends with: upgraded to ``OutcomeUnknown`` if money may have moved.

        The provider's final answer to a repeat under the same key (``is_final``: a decline,
        a refusal of the request in its own error format) is its word on the whole call: had
        the earlier attempt acted, the repeat would have replayed that. Anything else after an
        ambiguous attempt, a "nothing happened", a refusal of the credentials or the key, an
        answer from something that is not the provider, proves nothing about the earlier
        attempt, so the call's outcome stays unknown.
        """
        if self.ambiguous is not None and not (
            isinstance(error, OutcomeUnknown) or is_final(error)
        ):
            return OutcomeUnknown(
                f"{error.message}; an earlier attempt may have reached the provider "
                f"({self.ambiguous.message}), so the outcome is unknown",
                code=self.ambiguous.code,
                provider=error.provider,
                provider_code=error.provider_code,
                http_status=error.http_status,
                request_id=error.request_id or self.ambiguous.request_id,
                idempotency_key=error.idempotency_key or self.ambiguous.idempotency_key,
                provider_body=error.provider_body,
                payment_id=error.payment_id,
            )
        return error

    def stops(self, attempts: int, wait: float) -> bool:
        """Whether the call ends after ``attempts`` attempts rather than wait ``wait`` seconds
        for another: no attempts left, or the wait would reach the deadline."""
        return attempts >= self.policy.max_attempts or wait >= self.deadline.remaining()

    def first_failure(self, error: BaseException) -> float | None:
        """After the first attempt failed: the wait before tenacity takes over, or None when
        the call ends now (not retriable, no attempts left, or past the deadline)."""
        if not self.is_retriable(error):
            return None
        wait = self.backoff(1, error)
        if self.stops(1, wait):
            return None
        self._offset = 1
        if self._on_retry is not None:
            assert isinstance(error, PaymentError)  # is_retriable holds
            self._on_retry(1, wait, error)
        return wait

    # -- tenacity strategies ---------------------------------------------------------------
    def _retry(self, state: tenacity.RetryCallState) -> bool:
        outcome = state.outcome
        return outcome is not None and outcome.failed and self.is_retriable(outcome.exception())

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return self.backoff(state.attempt_number + self._offset, error)

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        return self.stops(state.attempt_number + self._offset, state.upcoming_sleep)

    def _count(self, state: tenacity.RetryCallState) -> None:
        self.attempts = state.attempt_number + self._offset

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        assert self._on_retry is not None  # only given to tenacity with one
        error = state.outcome.exception() if state.outcome is not None else None
        assert isinstance(error, PaymentError)  # only those are retried
        self._on_retry(state.attempt_number + self._offset, state.upcoming_sleep, error)

    def strategies(self) -> dict[str, Any]:
        """The keyword arguments of a tenacity loop (``tenacity.Retrying`` for the blocking
        gateway, ``tenacity.AsyncRetrying`` for the asyncio one, each with its own sleep)."""
        strategies: dict[str, Any] = {
            "retry": self._retry,
            "wait": self._wait,
            "stop": self._stop,
            "before": self._count,
            "reraise": True,
        }
        if self._on_retry is not None:
            strategies["before_sleep"] = self._before_sleep
        return strategies
