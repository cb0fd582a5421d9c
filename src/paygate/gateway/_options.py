"""The options a gateway takes, typed once for its constructors (``Unpack``), so that mypy
catches ``retry={"max_attempts": 2}`` where a ``RetryPolicy`` belongs, and checked once at
construction (``checked``), so that a caller without mypy gets a ``TypeError`` naming the option
there, not an ``AttributeError`` at the first retry."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypedDict

import httpx

from paygate.idempotency import IdempotencyStore
from paygate.records import RecordStore
from paygate.resilience.breaker import StateBackend
from paygate.resilience.clock import Clock
from paygate.resilience.policies import (
    BreakerPolicy,
    BulkheadPolicy,
    HttpPolicy,
    IdempotencyPolicy,
    LimitsPolicy,
    ReattemptPolicy,
    RetryPolicy,
    Timeout,
)
from paygate.telemetry import Listener

__all__ = ["GatewayOptions", "PolicyOptions", "checked"]


class PolicyOptions(TypedDict, total=False):
    """A gateway's stores and policies; every one has a default."""

    store: IdempotencyStore
    records: RecordStore
    timeout: Timeout | float  # a number: the total deadline of a call, in seconds
    retry: RetryPolicy
    breaker: BreakerPolicy
    breaker_state: StateBackend
    bulkhead: BulkheadPolicy
    idempotency: IdempotencyPolicy
    limits: LimitsPolicy
    http: HttpPolicy
    reattempts: ReattemptPolicy
    clock: Clock
    on_event: Listener | Sequence[Listener]  # told every event (``paygate.telemetry``)


class GatewayOptions(PolicyOptions, total=False):
    """``PolicyOptions`` and where requests go (``Gateway`` takes the blocking httpx types,
    ``AsyncGateway`` the asyncio ones)."""

    client: httpx.Client | httpx.AsyncClient
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport


# The policies a value is checked against (the stores and the clock are protocols: their own
# methods say soon enough whether an object is one).
_POLICIES: Final[Mapping[str, type]] = {
    "timeout": Timeout,
    "retry": RetryPolicy,
    "breaker": BreakerPolicy,
    "bulkhead": BulkheadPolicy,
    "idempotency": IdempotencyPolicy,
    "limits": LimitsPolicy,
    "http": HttpPolicy,
    "reattempts": ReattemptPolicy,
}


def checked(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with each name and policy checked (``TypeError`` naming the option and what
    it takes, never the value given) and the shorthand expanded: a timeout given as a number of
    seconds is the total deadline of a call."""
    known = PolicyOptions.__optional_keys__
    for name in options:
        if name not in known:
            near = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise TypeError(f"a gateway takes no option {name!r}{hint}")
    out = dict(options)
    timeout = out.get("timeout")
    if isinstance(timeout, int | float) and not isinstance(timeout, bool):
        out["timeout"] = Timeout(total=timeout)
    for name, policy in _POLICIES.items():
        value = out.get(name)
        if value is not None and not isinstance(value, policy):
            shorthand = " or a number of seconds (the total deadline)" if name == "timeout" else ""
            raise TypeError(
                f"{name} takes a paygate.{policy.__name__}{shorthand}, not a {type(value).__name__}"
            )
    return out
