"""Every httpx exception maps to a paygate error by how far the request got."""

from __future__ import annotations

import inspect

import httpx
import pytest

from paygate._decision import decide
from paygate.errors import InvalidRequestError, OutcomeUnknown, RetriableError
from paygate.resilience.transport_errors import PHASES, Phase, from_transport_error, phase_of

HTTPX_EXCEPTIONS = sorted(
    (cls for _, cls in inspect.getmembers(httpx, inspect.isclass) if issubclass(cls, Exception)),
    key=lambda cls: cls.__name__,
)


@pytest.mark.parametrize("cls", HTTPX_EXCEPTIONS, ids=lambda c: c.__name__)
def test_every_httpx_exception_is_mapped(cls: type[Exception]) -> None:
    # Mapped by itself or by an ancestor more specific than the catch-all HTTPError.
    mapped = next(c for c in cls.__mro__ if c in PHASES)
    assert mapped is not httpx.HTTPError or cls is httpx.HTTPError, cls


@pytest.mark.parametrize(
    ("exc", "mutating", "expected"),
    [
        (httpx.ConnectError("refused"), True, RetriableError),
        (httpx.ConnectTimeout("slow"), True, RetriableError),
        (httpx.PoolTimeout("pool"), True, RetriableError),
        (httpx.ReadTimeout("silent"), True, OutcomeUnknown),
        (httpx.ReadTimeout("silent"), False, RetriableError),
        (httpx.RemoteProtocolError("dropped"), True, OutcomeUnknown),
        (httpx.WriteError("broken pipe"), True, OutcomeUnknown),
        (httpx.UnsupportedProtocol("ftp"), True, InvalidRequestError),
    ],
)
def test_phase_decides_the_class(exc: Exception, mutating: bool, expected: type) -> None:
    failure, reach = from_transport_error(exc, provider="p", idempotency_key="k")
    error = decide(failure, mutating=mutating, reach=reach)  # as the core decides it
    assert type(error) is expected and error.idempotency_key == "k"


def test_unknown_exception_types_assume_the_worst() -> None:
    assert phase_of(RuntimeError("?"))[0] is Phase.SENT
