"""The one seam where httpx exceptions are classified, by how far the request got.

* ``NOT_SENT``: nothing reached the provider; safe to retry (``RetriableError``).
* ``SENT``: the request may have reached the provider and no answer came back. For a mutating
  call the provider may have acted: ``OutcomeUnknown``. For a read it is retriable.
* ``LOCAL``: the request could not be made at all (a bug or a bad configuration): terminal.

The classes are decided by ``paygate._decision`` (a transport failure, or an unsendable
request, at the reach the phase names), like every other failure's.

A test walks every exception class httpx exports and fails on one missing from ``PHASES``.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

import httpx

from paygate._decision import Reach
from paygate.adapters.failures import Context, TransportFailure, Unsendable
from paygate.errors import ErrorCode


class Phase(Enum):
    NOT_SENT = "not_sent"
    SENT = "sent"
    LOCAL = "local"


PHASES: Final[dict[type[Exception], tuple[Phase, ErrorCode]]] = {
    httpx.ConnectTimeout: (Phase.NOT_SENT, ErrorCode.TIMEOUT),
    httpx.PoolTimeout: (Phase.NOT_SENT, ErrorCode.TIMEOUT),
    httpx.ConnectError: (Phase.NOT_SENT, ErrorCode.NETWORK),
    httpx.ProxyError: (Phase.NOT_SENT, ErrorCode.NETWORK),
    httpx.WriteTimeout: (Phase.SENT, ErrorCode.TIMEOUT),
    httpx.WriteError: (Phase.SENT, ErrorCode.NETWORK),
    httpx.ReadTimeout: (Phase.SENT, ErrorCode.TIMEOUT),
    httpx.ReadError: (Phase.SENT, ErrorCode.NETWORK),
    httpx.CloseError: (Phase.SENT, ErrorCode.NETWORK),
    httpx.RemoteProtocolError: (Phase.SENT, ErrorCode.NETWORK),
    httpx.DecodingError: (Phase.SENT, ErrorCode.SCHEMA_VIOLATION),
    # Abstract bases, for subclasses a future httpx may add: assume the worst.
    httpx.TimeoutException: (Phase.SENT, ErrorCode.TIMEOUT),
    httpx.NetworkError: (Phase.SENT, ErrorCode.NETWORK),
    httpx.ProtocolError: (Phase.SENT, ErrorCode.NETWORK),
    httpx.TransportError: (Phase.SENT, ErrorCode.NETWORK),
    httpx.RequestError: (Phase.SENT, ErrorCode.NETWORK),
    httpx.HTTPError: (Phase.SENT, ErrorCode.NETWORK),
    # Raised before anything is sent because the request itself is wrong.
    httpx.LocalProtocolError: (Phase.LOCAL, ErrorCode.INVALID_REQUEST),
    httpx.UnsupportedProtocol: (Phase.LOCAL, ErrorCode.INVALID_REQUEST),
    httpx.InvalidURL: (Phase.LOCAL, ErrorCode.INVALID_REQUEST),
    httpx.TooManyRedirects: (Phase.LOCAL, ErrorCode.INVALID_REQUEST),
    httpx.HTTPStatusError: (Phase.LOCAL, ErrorCode.INVALID_REQUEST),
    httpx.CookieConflict: (Phase.LOCAL, ErrorCode.INVALID_REQUEST),
    httpx.StreamError: (Phase.LOCAL, ErrorCode.INVALID_REQUEST),
}


def phase_of(exc: Exception) -> tuple[Phase, ErrorCode]:
    for cls in type(exc).__mro__:
        if cls in PHASES:
            return PHASES[cls]
    return Phase.SENT, ErrorCode.NETWORK


def from_transport_error(
    exc: Exception, *, provider: str, idempotency_key: str | None
) -> tuple[TransportFailure | Unsendable, Reach]:
    """The classification of an httpx exception raised while sending one attempt, and how far
    the request got; ``paygate._decision`` decides the error class."""
    phase, code = phase_of(exc)
    detail = f"{type(exc).__name__} talking to {provider}"
    if phase is Phase.LOCAL:
        context = Context(
            provider=provider,
            message=f"{detail}: the request could not be sent",
            idempotency_key=idempotency_key,
        )
        return Unsendable(context), Reach.NOT_SENT
    if phase is Phase.SENT:
        message = f"{detail} after the request was sent; the provider may have acted"
    else:
        message = f"{detail}; nothing was processed"
    context = Context(provider=provider, message=message, idempotency_key=idempotency_key)
    return TransportFailure(context, code), _REACH[phase]


_REACH: Final[dict[Phase, Reach]] = {Phase.NOT_SENT: Reach.NOT_SENT, Phase.SENT: Reach.SENT}
