"""``AiohttpTransport``: httpx's asyncio transport seam over an ``aiohttp.ClientSession``, for
``AsyncGateway`` under load (the ``paygate[aiohttp]`` extra).

The gateway keeps building ``httpx.Request`` objects and reading ``httpx.Response`` ones; only
the exchange in between goes through aiohttp, whose connection pool costs a fraction of
httpcore's per call when hundreds are in flight. It is written here rather than taken from the
httpx-aiohttp package, whose session keeps a cookie jar and whose error table turns every
``aiohttp.ClientConnectionError`` (a server that hung up after reading the request among them)
into ``httpx.ConnectTimeout``, which says "nothing was sent": for a payment that is the one
lie that must not be told.

What the session does, and does not:

* HTTP/1.1, a pool of ``limits.max_connections`` connections (aiohttp has no separate bound on
  idle ones), kept alive ``limits.keepalive_expiry`` seconds;
* TLS verified, with httpx's defaults (``httpx.create_ssl_context``);
* no cookie jar, no redirects, no proxy from the environment, no ``Accept``,
  ``Accept-Encoding`` or ``User-Agent`` of its own: the request on the wire is the one the
  gateway built, headers in their order and case, as httpx's transport sends it;
* the body is not decoded here (``auto_decompress=False``): the gateway reads it chunk by chunk
  within its size limit and inflates it under that bound, as it does httpx's;
* per-phase timeouts from the request's ``timeout`` extension: connect (with the wait for a
  pooled connection) and each read. aiohttp has no write timeout; the gateway's
  ``asyncio.timeout`` wall bounds the whole exchange on any transport.

Every aiohttp exception becomes the httpx exception that names the same phase
(``AIOHTTP_ERRORS``; a test proves the table total over what aiohttp exports), so the gateway's
transport-error seam decides how far the request got exactly as it does for httpx. Where aiohttp
cannot say whether the request was written, the table says it may have been.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from types import MappingProxyType
from typing import Final

import aiohttp
import httpx
import yarl

__all__ = ["AIOHTTP_ERRORS", "AiohttpTransport"]

# aiohttp's exceptions and the httpx exception each becomes, by the phase it names: connecting
# (nothing was sent), or anything after (the request may have reached the server). An
# exception is looked up along its classes, most derived first.
AIOHTTP_ERRORS: Final[Mapping[type[Exception], type[Exception]]] = MappingProxyType(
    {
        # Opening the connection, TLS included: no byte of the request was written.
        aiohttp.ConnectionTimeoutError: httpx.ConnectTimeout,
        aiohttp.ClientConnectorCertificateError: httpx.ConnectError,
        aiohttp.ClientConnectorSSLError: httpx.ConnectError,
        aiohttp.ClientSSLError: httpx.ConnectError,
        aiohttp.ClientConnectorDNSError: httpx.ConnectError,
        aiohttp.ClientProxyConnectionError: httpx.ProxyError,
        aiohttp.ClientConnectorError: httpx.ConnectError,
        aiohttp.ServerFingerprintMismatch: httpx.ConnectError,  # checked before any write
        aiohttp.ClientHttpProxyError: httpx.ProxyError,  # the proxy refused the tunnel
        # Writing the request or reading the answer: the server may have the request.
        aiohttp.SocketTimeoutError: httpx.ReadTimeout,
        aiohttp.ServerTimeoutError: httpx.ReadTimeout,
        aiohttp.ClientConnectionResetError: httpx.WriteError,
        aiohttp.UploadAbortedError: httpx.WriteError,
        aiohttp.ClientOSError: httpx.ReadError,
        aiohttp.ServerDisconnectedError: httpx.RemoteProtocolError,
        aiohttp.ServerConnectionError: httpx.RemoteProtocolError,
        aiohttp.ClientConnectionError: httpx.NetworkError,
        aiohttp.ClientPayloadError: httpx.ReadError,
        # An answer aiohttp could not read, or the redirect machinery this session never runs.
        aiohttp.ContentTypeError: httpx.RemoteProtocolError,
        aiohttp.WSServerHandshakeError: httpx.RemoteProtocolError,
        aiohttp.TooManyRedirects: httpx.RemoteProtocolError,
        aiohttp.ClientResponseError: httpx.RemoteProtocolError,
        aiohttp.InvalidUrlRedirectClientError: httpx.RemoteProtocolError,
        aiohttp.NonHttpUrlRedirectClientError: httpx.RemoteProtocolError,
        aiohttp.RedirectClientError: httpx.RemoteProtocolError,
        # The request itself cannot be made: nothing was sent, and trying again cannot help.
        aiohttp.InvalidUrlClientError: httpx.InvalidURL,
        aiohttp.InvalidURL: httpx.InvalidURL,
        aiohttp.NonHttpUrlClientError: httpx.UnsupportedProtocol,
        # One a future aiohttp may add: assume the worst.
        aiohttp.ClientError: httpx.TransportError,
    }
)

# Headers aiohttp adds on its own unless told not to; the gateway's request says what it sends.
_SKIP_AUTO_HEADERS: Final = ("Accept", "Accept-Encoding", "User-Agent")
_KEEPALIVE_DEFAULT: Final = 15.0  # aiohttp's own, for limits that never expire a connection


def _translated(exc: Exception) -> Exception:
    mapped = next(AIOHTTP_ERRORS[cls] for cls in type(exc).__mro__ if cls in AIOHTTP_ERRORS)
    return mapped(f"{type(exc).__name__}: {exc}")


@contextlib.contextmanager
def _as_httpx() -> Iterator[None]:
    """aiohttp's errors as httpx's; a bare ``TimeoutError`` (a timeout aiohttp did not name) as
    a read timeout, the phase that promises nothing."""
    try:
        yield
    except aiohttp.ClientError as exc:
        raise _translated(exc) from exc
    except TimeoutError as exc:
        raise httpx.ReadTimeout(f"TimeoutError: {exc}") from exc


class _Body(httpx.AsyncByteStream):
    """An answer's raw body as aiohttp receives it (still encoded), its errors as httpx's. The
    connection goes back to the pool once the body was read to its end, and is closed
    otherwise (a body refused halfway leaves the rest unread on the wire)."""

    def __init__(self, answer: aiohttp.ClientResponse) -> None:
        self._answer = answer
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx():
            async for chunk in self._answer.content.iter_any():
                yield chunk
        self._done = True

    async def aclose(self) -> None:
        if self._done:
            self._answer.release()
        else:
            self._answer.close()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over aiohttp's pool, for an asyncio gateway. The session is opened on the first
    request, in the event loop that sends it, and closed by ``aclose``."""

    def __init__(
        self, *, limits: httpx.Limits | None = None, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._limits = limits if limits is not None else httpx.Limits()
        self.ssl_context: Final = (
            ssl_context if ssl_context is not None else httpx.create_ssl_context()
        )
        """How the session verifies TLS: httpx's defaults unless a context was given."""
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        expiry = self._limits.keepalive_expiry
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections or 0,  # 0: aiohttp's "no limit"
            keepalive_timeout=expiry if expiry is not None else _KEEPALIVE_DEFAULT,
            ssl=self.ssl_context,
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            timeout=aiohttp.ClientTimeout(total=None),
            trust_env=False,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._open()
        body = await request.aread()
        with _as_httpx():
            answer = await self._session.request(
                request.method,
                yarl.URL(str(request.url), encoded=True),
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                ],
                data=body or None,
                allow_redirects=False,
                timeout=_timeouts(request),
            )
        return httpx.Response(
            status_code=answer.status,
            headers=list(answer.raw_headers),
            stream=_Body(answer),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _timeouts(request: httpx.Request) -> aiohttp.ClientTimeout:
    """The request's per-phase timeouts (httpx's ``timeout`` extension) as aiohttp's: its
    ``connect`` covers the wait for a pooled connection and the connecting, ``sock_connect``
    the connecting alone, ``sock_read`` each read."""
    timeout: Mapping[str, float | None] = request.extensions.get("timeout", {})
    pool, connect, read = timeout.get("pool"), timeout.get("connect"), timeout.get("read")
    return aiohttp.ClientTimeout(
        total=None,
        connect=pool + connect if pool is not None and connect is not None else None,
        sock_connect=connect,
        sock_read=read,
    )
