"""The breaker's state and its two pure functions: ``admit`` (may an attempt go out now?)
and ``record`` (the state after an event), driven by the transitions as data (``RULES``,
``ENTRY``). No I/O, no clock of its own: ``now`` is given."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Final

from paygate.errors import ErrorCode, PaymentError
from paygate.resilience.policies import BreakerPolicy

__all__ = [
    "CLOSED",
    "ENTRY",
    "HEALTH_FAILURES",
    "RULES",
    "BreakerState",
    "Decision",
    "Event",
    "Phase",
    "admit",
    "counts_as_failure",
    "record",
    "saved_failure",
]

HEALTH_FAILURES: Final = frozenset(
    {ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.TIMEOUT, ErrorCode.NETWORK}
)


def counts_as_failure(error: PaymentError | None) -> bool:
    """A provider-health failure: a 5xx, a timeout, a network failure. Not a 5xx the provider
    says not to repeat (Stripe replays the 500 it saved under a key, marked so): that is its
    answer to one request, given again, not news of its health."""
    if error is None or error.code not in HEALTH_FAILURES:
        return False
    return not saved_failure(error)


def saved_failure(error: PaymentError) -> bool:
    """Whether ``error`` is a 5xx the provider keeps under the key and will give again to any
    repeat (it says not to repeat it): repeating the call cannot settle what it did."""
    return error.provider_retry_hint is False and (error.http_status or 0) >= 500


# -- the state table -------------------------------------------------------------------------------
class Phase(StrEnum):
    """Where the breaker is; the values are what the shared state stores."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class Event(Enum):
    """What happens to a breaker: an attempt's outcome, or the reset timeout passing."""

    SUCCESS = "success"  # any answer that is not a health failure
    FAILURE = "failure"  # a health failure (``counts_as_failure``)
    DUE = "due"  # open long enough: a probe goes out


class Count(Enum):
    KEEP = "keep"
    ADD = "add"
    RESET = "reset"


class Threshold(Enum):
    """When a rule's move happens: always, or once a count reaches the policy's threshold."""

    ALWAYS = "always"
    FAILURES = "failure_threshold"
    SUCCESSES = "success_threshold"


@dataclass(frozen=True, slots=True)
class Rule:
    """What one event does: to the counts first, then the move to ``to`` once ``when`` holds
    on the new counts (``to`` None: no move)."""

    failures: Count = Count.KEEP
    successes: Count = Count.KEEP
    to: Phase | None = None
    when: Threshold = Threshold.ALWAYS


@dataclass(frozen=True, slots=True)
class Entry:
    """What entering a phase resets (re-entering it too: a late failure re-opens an open
    breaker, and its reset timeout starts again)."""

    failures: Count = Count.KEEP
    successes: Count = Count.KEEP
    stamps_opened_at: bool = False


# Keyed by the phase an attempt was ADMITTED in (an ordinary attempt: closed; the probe:
# half-open) and the event. A late outcome of an attempt admitted while closed is applied to the
# counts as it is; only the probe's outcome closes the breaker.
RULES: Final[Mapping[tuple[Phase, Event], Rule]] = MappingProxyType(
    {
        (Phase.CLOSED, Event.SUCCESS): Rule(failures=Count.RESET),
        (Phase.CLOSED, Event.FAILURE): Rule(
            failures=Count.ADD, to=Phase.OPEN, when=Threshold.FAILURES
        ),
        (Phase.OPEN, Event.DUE): Rule(to=Phase.HALF_OPEN),
        (Phase.HALF_OPEN, Event.DUE): Rule(),  # already half-open: the next probe goes out
        (Phase.HALF_OPEN, Event.SUCCESS): Rule(
            failures=Count.RESET,
            successes=Count.ADD,
            to=Phase.CLOSED,
            when=Threshold.SUCCESSES,
        ),
        (Phase.HALF_OPEN, Event.FAILURE): Rule(failures=Count.ADD, to=Phase.OPEN),
    }
)
ENTRY: Final[Mapping[Phase, Entry]] = MappingProxyType(
    {
        Phase.CLOSED: Entry(failures=Count.RESET, successes=Count.RESET),
        Phase.OPEN: Entry(successes=Count.RESET, stamps_opened_at=True),
        Phase.HALF_OPEN: Entry(successes=Count.RESET),
    }
)


@dataclass(frozen=True, slots=True)
class BreakerState:
    """One breaker's state. ``opened_at``: when it last opened, in seconds since the epoch
    (instances sharing the state compare it with their own clocks)."""

    phase: Phase = Phase.CLOSED
    failures: int = 0
    successes: int = 0
    opened_at: float | None = None


CLOSED: Final = BreakerState()


class Decision(Enum):
    ATTEMPT = "attempt"  # closed: the attempt goes out
    PROBE = "probe"  # due a probe: it goes out if this caller takes the probe slot
    REFUSE = "refuse"  # open, and not due a probe yet: CircuitOpen, nothing sent


def admit(state: BreakerState, policy: BreakerPolicy, now: float) -> Decision:
    """Whether an attempt may go out now."""
    if state.phase is Phase.CLOSED:
        return Decision.ATTEMPT
    opened_at = state.opened_at
    if state.phase is Phase.OPEN and opened_at is not None:
        return Decision.REFUSE if now < opened_at + policy.reset_timeout else Decision.PROBE
    return Decision.PROBE  # half-open, or open since an unknown time


def record(
    state: BreakerState, admitted: Phase, event: Event, policy: BreakerPolicy, now: float
) -> BreakerState:
    """The state after ``event`` happened to an attempt admitted in phase ``admitted`` (the
    reset timeout passing: ``admitted`` is the phase it passed in). Returns ``state`` itself
    when nothing changes."""
    rule = RULES[admitted, event]
    failures = _counted(rule.failures, state.failures)
    successes = _counted(rule.successes, state.successes)
    if rule.to is None or not _holds(rule.when, policy, failures, successes):
        if failures == state.failures and successes == state.successes:
            return state  # the common case, a success while closed: nothing to build
        return BreakerState(state.phase, failures, successes, state.opened_at)
    entry = ENTRY[rule.to]
    after = BreakerState(
        rule.to,
        _counted(entry.failures, failures),
        _counted(entry.successes, successes),
        now if entry.stamps_opened_at else state.opened_at,
    )
    return state if after == state else after


def _counted(count: Count, value: int) -> int:
    if count is Count.ADD:
        return value + 1
    if count is Count.RESET:
        return 0
    return value


def _holds(when: Threshold, policy: BreakerPolicy, failures: int, successes: int) -> bool:
    if when is Threshold.FAILURES:
        return failures >= policy.failure_threshold
    if when is Threshold.SUCCESSES:
        return successes >= policy.success_threshold
    return True
