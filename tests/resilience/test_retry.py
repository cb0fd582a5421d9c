"""Retry decisions: what is retried, how long it waits, and what a call ends with."""

from __future__ import annotations

import pytest
import tenacity

from paygate import RetryPolicy
from paygate.errors import (
    BulkheadFull,
    CardDeclinedError,
    CircuitOpen,
    ErrorCode,
    IdempotencyInFlight,
    InvalidRequestError,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
)
from paygate.resilience.deadline import Deadline
from paygate.resilience.retry import CallRetry


def controller(*, mutating: bool = True, replay: bool = True, **policy: float) -> CallRetry:
    return CallRetry(
        RetryPolicy(**policy),  # type: ignore[arg-type]
        Deadline(60),
        mutating=mutating,
        idempotent_replay=replay,
        jitter=lambda low, high: high,  # the ceiling, so waits are exact
    )


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (RetriableError("503", code=ErrorCode.PROVIDER_UNAVAILABLE), True),
        (RetriableError("429", code=ErrorCode.RATE_LIMITED, retry_after=1), True),
        (IdempotencyInFlight("409"), True),
        (OutcomeUnknown("read timeout", code=ErrorCode.TIMEOUT), True),
        (OutcomeUnknown("500", code=ErrorCode.PROVIDER_UNAVAILABLE), True),
        (OutcomeUnknown("bad body", code=ErrorCode.SCHEMA_VIOLATION), False),
        (OutcomeUnknown("replayed 500", provider_retry_hint=False), False),
        (OutcomeUnknown("echo differs", code=ErrorCode.INTEGRITY_MISMATCH), False),
        (CardDeclinedError("soft decline", decline_code="try_again_later"), False),
        (InvalidRequestError("bad"), False),
        (CircuitOpen("open"), False),
        (BulkheadFull("full"), False),
        (RetriableError("503", provider_retry_hint=False), False),
        (RetriableError("429", code=ErrorCode.RATE_LIMITED, retry_after=3600), False),
        (ValueError("a bug"), False),
    ],
)
def test_what_is_retried(error: BaseException, retried: bool) -> None:
    assert controller().is_retriable(error) is retried


def test_ambiguous_errors_are_not_repeated_without_provider_replay() -> None:
    assert not controller(replay=False).is_retriable(OutcomeUnknown("t", code=ErrorCode.TIMEOUT))


def test_backoff_is_exponential_capped_and_honours_retry_after() -> None:
    c = controller(initial_backoff=0.1, multiplier=2, max_backoff=0.5)
    assert [c.backoff(n, None) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert c.backoff(1, RetriableError("429", retry_after=2.5)) == 2.5


def test_full_jitter_stays_within_the_ceiling() -> None:
    c = CallRetry(
        RetryPolicy(initial_backoff=1.0), Deadline(60), mutating=True, idempotent_replay=True
    )
    waits = [c.backoff(1, None) for _ in range(200)]
    assert all(0 <= w <= 1.0 for w in waits) and len(set(waits)) > 100


def test_a_call_that_may_have_reached_the_provider_never_ends_as_plain_retriable() -> None:
    c = controller()
    c.is_retriable(OutcomeUnknown("read timeout", code=ErrorCode.TIMEOUT, idempotency_key="k"))
    last = RetriableError("503", code=ErrorCode.PROVIDER_UNAVAILABLE, http_status=503)
    final = c.finish(last)
    assert isinstance(final, OutcomeUnknown)
    assert final.idempotency_key == "k" and final.http_status == 503


def test_a_call_that_never_reached_the_provider_ends_as_it_failed() -> None:
    c = controller()
    error: PaymentError = RetriableError("503")
    assert c.finish(error) is error


def test_after_an_ambiguous_attempt_only_a_decline_is_the_providers_word() -> None:
    c = controller()
    c.is_retriable(OutcomeUnknown("read timeout", code=ErrorCode.TIMEOUT, idempotency_key="k"))
    decline = CardDeclinedError("declined", http_status=402)
    assert c.finish(decline) is decline
    unsaved = InvalidRequestError("bad key", http_status=401)
    assert isinstance(c.finish(unsaved), OutcomeUnknown)


class _Failing:
    """An attempt that fails ``times`` times with a 503, then succeeds; counts its calls."""

    def __init__(self, times: int) -> None:
        self.left = times
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.left:
            self.left -= 1
            raise RetriableError("503", code=ErrorCode.PROVIDER_UNAVAILABLE)
        return "ok"


def _call(c: CallRetry, attempt: _Failing) -> str:
    """What a gateway does: the first attempt on its own, the rest through tenacity."""
    try:
        return attempt()
    except PaymentError as first:
        if c.first_failure(first) is None:
            raise
        result: str = tenacity.Retrying(sleep=lambda _: None, **c.strategies())(attempt)
        return result


@pytest.mark.parametrize(("failures", "max_attempts"), [(0, 3), (1, 3), (2, 3), (3, 3), (9, 1)])
def test_the_first_attempt_and_tenacitys_count_as_one_sequence(
    failures: int, max_attempts: int
) -> None:
    c = controller(max_attempts=max_attempts, initial_backoff=0)
    attempt = _Failing(failures)
    if failures < max_attempts:
        assert _call(c, attempt) == "ok"
    else:
        with pytest.raises(RetriableError):
            _call(c, attempt)
    assert attempt.calls == c.attempts == min(failures + 1, max_attempts)


def test_the_first_failure_waits_the_first_backoff_unless_the_deadline_is_nearer() -> None:
    error = RetriableError("503", code=ErrorCode.PROVIDER_UNAVAILABLE)
    c = controller(initial_backoff=0.25)
    assert c.first_failure(error) == 0.25
    near = CallRetry(
        RetryPolicy(initial_backoff=0.25),
        Deadline(0.2),
        mutating=True,
        idempotent_replay=True,
        jitter=lambda low, high: high,
    )
    assert near.first_failure(error) is None  # the wait would reach the deadline: end now
    assert controller().first_failure(CardDeclinedError("no")) is None
