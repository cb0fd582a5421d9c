"""``DeadlineTransport``: a blocking httpx transport, over httpcore's connection pool, whose
every socket operation ends by the deadline of the call in progress.

httpx's per-phase timeouts restart on every byte: an answer dripped one byte a second holds a
read timeout of five seconds open forever, and so do headers dripped the same way. Here the
network backend cuts each connect, TLS handshake, write and read to what is left of the
call's deadline (``paygate.resilience.deadline.current``) and refuses one that starts after it:
the deadline is a wall, to within one socket operation that itself ends by it.

This is httpx's own transport seam (``httpx.BaseTransport`` over ``httpcore.ConnectionPool``
with a ``network_backend``), used through their public APIs: httpx's ``HTTPTransport`` offers no
way to give its pool a network backend. httpcore's exceptions become httpx's, one to one
(``CORE_ERRORS``; a test proves the table total), so the gateway's transport-error seam reads
them as it reads httpx's.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Final

import httpcore
import httpx

from paygate.resilience.deadline import current

__all__ = ["CORE_ERRORS", "DeadlineTransport"]

# httpcore's exceptions and the httpx exception each becomes (as httpx's own transport maps
# them), most specific first. ConnectionNotAvailable is the pool's own retry signal: should it
# ever escape, nothing proves the request was not sent.
CORE_ERRORS: Final[Mapping[type[Exception], type[httpx.TransportError]]] = MappingProxyType(
    {
        httpcore.ConnectTimeout: httpx.ConnectTimeout,
        httpcore.ReadTimeout: httpx.ReadTimeout,
        httpcore.WriteTimeout: httpx.WriteTimeout,
        httpcore.PoolTimeout: httpx.PoolTimeout,
        httpcore.TimeoutException: httpx.TimeoutException,
        httpcore.ConnectError: httpx.ConnectError,
        httpcore.ReadError: httpx.ReadError,
        httpcore.WriteError: httpx.WriteError,
        httpcore.NetworkError: httpx.NetworkError,
        httpcore.ProxyError: httpx.ProxyError,
        httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
        httpcore.LocalProtocolError: httpx.LocalProtocolError,
        httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
        httpcore.ProtocolError: httpx.ProtocolError,
        httpcore.ConnectionNotAvailable: httpx.TransportError,
    }
)


@contextlib.contextmanager
def _as_httpx() -> Iterator[None]:
    try:
        yield
    except tuple(CORE_ERRORS) as exc:
        mapped = next(CORE_ERRORS[cls] for cls in type(exc).__mro__ if cls in CORE_ERRORS)
        raise mapped(str(exc)) from exc


def _cut(timeout: float | None, expired: type[httpcore.TimeoutException]) -> float:
    """``timeout`` cut to what is left of the call's deadline; ``expired`` once it has passed
    (a call with no deadline in progress keeps its own timeout)."""
    deadline = current()
    if deadline is None:
        return timeout if timeout is not None else _NO_DEADLINE
    left = deadline.remaining()
    if left <= 0.0:
        raise expired("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


# A socket operation outside any call (a pool's housekeeping): httpcore's own default is none
# at all; a generous bound keeps even that from hanging forever.
_NO_DEADLINE: Final = 300.0


class _WalledStream(httpcore.NetworkStream):
    """A connection whose every operation ends by the call's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _cut(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        wait = _cut(timeout, httpcore.ConnectTimeout)
        return _WalledStream(self._stream.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> object:
        return self._stream.get_extra_info(info)


class _WalledBackend(httpcore.NetworkBackend):
    """httpcore's blocking backend, with every connection walled by the call's deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        wait = _cut(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, wait, local_address, socket_options)
        return _WalledStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        wait = _cut(timeout, httpcore.ConnectTimeout)
        return _WalledStream(self._backend.connect_unix_socket(path, wait, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _Body(httpx.SyncByteStream):
    """An answer's body as httpcore streams it, its errors as httpx's."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            with _as_httpx():
                close()


class DeadlineTransport(httpx.BaseTransport):
    """HTTP/1.1 over a pooled connection per host, TLS verified with httpx's defaults, every
    socket operation cut to the deadline of the call in progress."""

    def __init__(self, *, limits: httpx.Limits, verify: ssl.SSLContext | bool = True) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_WalledBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.SyncByteStream):
            raise TypeError("DeadlineTransport sends only requests with a blocking body")
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx():
            answer = self._pool.handle_request(core)
        if not isinstance(answer.stream, Iterable):
            raise TypeError("httpcore's blocking pool answered with an asynchronous body")
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        self._pool.close()
