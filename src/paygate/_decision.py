"""The one place where a failure becomes an error class: retriable, terminal or unknown.

Adapters and the core's own checks classify a failure (``paygate.adapters.failures``): what it
is, with its context. ``decide`` turns that into the error the caller sees, from the one table
``DECISIONS``: the failure's kind, whether the call mutates, and how far the request got.

* ``NOT_SENT``: nothing reached the provider.
* ``SENT``: the request may have reached the provider, and no answer came back.
* ``ANSWERED``: an answer came back.

Three rules shape the table, and a test holds it to them: a read is never an unknown outcome
(nothing can have moved; the class says whether asking again can help); nothing sent is never
an unknown outcome either; and a mutating call the provider may have acted on, whose answer
(or lack of one) does not say what it did, always is. An answer's own account of the request
(a decline, a refusal, a rate limit) decides the same in every column.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import Final

from paygate.adapters.failures import Declined, Failure, Kind
from paygate.errors import (
    CardDeclinedError,
    ErrorContext,
    IdempotencyConflict,
    IdempotencyInFlight,
    InvalidRequestError,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
    TerminalError,
)
from paygate.models import Result

__all__ = ["DECISIONS", "Reach", "decide", "decided"]


class Reach(Enum):
    """How far the request got."""

    NOT_SENT = "not_sent"
    SENT = "sent"
    ANSWERED = "answered"


_Pair = tuple[type[PaymentError], type[PaymentError]]  # (a read, a mutating call)

_R: Final[_Pair] = (RetriableError, RetriableError)
_T: Final[_Pair] = (TerminalError, TerminalError)
_REFUSED: Final[_Pair] = (InvalidRequestError, InvalidRequestError)
_DECLINED: Final[_Pair] = (CardDeclinedError, CardDeclinedError)
_IN_FLIGHT: Final[_Pair] = (IdempotencyInFlight, IdempotencyInFlight)
# The provider is still running a request under the key (this call's earlier attempt, or an
# earlier call's, whose own record may not have been written): what it will do is unknown.
_IN_FLIGHT_THERE: Final[_Pair] = (IdempotencyInFlight, OutcomeUnknown)
_CONFLICT: Final[_Pair] = (IdempotencyConflict, IdempotencyConflict)
_RU: Final[_Pair] = (RetriableError, OutcomeUnknown)  # a read may be asked again
_TU: Final[_Pair] = (TerminalError, OutcomeUnknown)  # a read's answer stands as it is

# fmt: off
_ROWS: Final[tuple[tuple[Kind, _Pair, _Pair, _Pair], ...]] = (
    # kind                    not sent     sent         answered
    (Kind.DECLINED,           _DECLINED,   _DECLINED,   _DECLINED),
    (Kind.REFUSED,            _REFUSED,    _REFUSED,    _REFUSED),
    (Kind.NOT_PROCESSED,      _R,          _R,          _R),
    (Kind.RATE_LIMITED,       _R,          _R,          _R),
    (Kind.IN_FLIGHT,          _IN_FLIGHT,  _IN_FLIGHT_THERE, _IN_FLIGHT_THERE),
    (Kind.KEY_CONFLICT,       _CONFLICT,   _CONFLICT,   _CONFLICT),
    (Kind.NOT_FOUND,          _T,          _T,          _T),
    (Kind.PROVIDER_FAILED,    _R,          _RU,         _RU),
    (Kind.SCHEMA_VIOLATION,   _T,          _TU,         _TU),
    (Kind.UNEXPECTED_ANSWER,  _T,          _TU,         _TU),
    (Kind.UNREAD,             _T,          _TU,         _TU),
    (Kind.MISMATCH,           _T,          _TU,         _TU),
    (Kind.TRANSPORT,          _R,          _RU,         _RU),
    (Kind.UNSENDABLE,         _REFUSED,    _REFUSED,    _REFUSED),
)
# fmt: on

DECISIONS: Final[Mapping[tuple[Kind, bool, Reach], type[PaymentError]]] = MappingProxyType(
    {
        (kind, mutating, reach): pair[mutating]
        for kind, *by_reach in _ROWS
        for reach, pair in zip(Reach, by_reach, strict=True)
        for mutating in (False, True)
    }
)


def decide(failure: Failure, *, mutating: bool, reach: Reach) -> PaymentError:
    """The error ``failure`` is raised as, for a call that mutates (or not) and got as far as
    ``reach``."""
    cls = DECISIONS[failure.kind, mutating, reach]
    c = failure.context
    context: ErrorContext = {
        "provider": c.provider,
        "provider_code": c.provider_code,
        "decline_code": c.decline_code,
        "http_status": c.http_status,
        "request_id": c.request_id,
        "idempotency_key": c.idempotency_key,
        "provider_body": c.provider_body,
        "payment_id": c.payment_id,
        "retry_after": c.retry_after,
        "provider_retry_hint": c.provider_retry_hint,
    }
    if issubclass(cls, CardDeclinedError):
        assert isinstance(failure, Declined), "only a decline is decided as one"
        return cls(
            c.message, code=failure.code, reason=failure.reason, advice=failure.advice,
            network_advice_code=failure.network_advice_code,
            network_decline_code=failure.network_decline_code, **context,
        )  # fmt: skip
    return cls(c.message, code=failure.code, **context)


def decided(outcome: Result | Failure, *, mutating: bool) -> Result | PaymentError:
    """An adapter's reading of an answer, with a failure decided as an answered one."""
    if isinstance(outcome, Result):
        return outcome
    return decide(outcome, mutating=mutating, reach=Reach.ANSWERED)
