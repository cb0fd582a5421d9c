"""AsyncGateway's aiohttp transport: every aiohttp error names the phase it happened in as
httpx's would (a connect failure says nothing was sent; anything later says the request may
have arrived), the request on the wire is the one httpx's transport sends, and the session
keeps no cookie, follows no redirect, decodes nothing itself, verifies TLS and bounds its pool.
The gateway-level guarantees (deadline, retries, breaker, bulkhead, idempotency, hostile
answers) run on this transport too: ``tests/conftest.py`` parametrizes every gateway test over
both."""

from __future__ import annotations

import asyncio
import gzip
import inspect
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator

import aiohttp
import httpx
import pytest

from paygate.adapters.base import endpoint, http_request
from paygate.errors import ConfigurationError
from paygate.resilience.transport_errors import PHASES, Phase, phase_of
from paygate.transports import Backend, async_transport
from paygate.transports._aiohttp import AIOHTTP_ERRORS, AiohttpTransport

# What aiohttp exports that an HTTP exchange never raises: multipart warnings and the
# websocket protocol's own errors.
NOT_FROM_AN_EXCHANGE = {
    aiohttp.BadContentDispositionHeader,
    aiohttp.BadContentDispositionParam,
    aiohttp.EofStream,
    aiohttp.WSMessageTypeError,
    aiohttp.WebSocketError,
}
# Raised while opening the connection (TLS and a proxy's tunnel included), before any byte of
# the request is written: the only ones that may say "nothing was sent".
CONNECTING = (
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    aiohttp.ServerFingerprintMismatch,
    aiohttp.ClientHttpProxyError,
)
# The request itself could not be made.
UNSENDABLE = (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)
REDIRECTS = (aiohttp.RedirectClientError,)


def _exported_errors() -> set[type[BaseException]]:
    return {
        obj
        for obj in vars(aiohttp).values()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    }


def test_every_aiohttp_error_is_mapped_to_an_httpx_error_the_gateway_classifies() -> None:
    exported = _exported_errors() - NOT_FROM_AN_EXCHANGE
    assert exported <= set(AIOHTTP_ERRORS), exported - set(AIOHTTP_ERRORS)
    for mapped in AIOHTTP_ERRORS.values():
        assert mapped in PHASES, mapped


@pytest.mark.parametrize("error", sorted(AIOHTTP_ERRORS, key=lambda c: c.__name__), ids=str)
def test_only_a_failure_to_connect_says_nothing_was_sent(error: type[Exception]) -> None:
    phase, _ = phase_of(AIOHTTP_ERRORS[error]("x"))
    redirect = issubclass(error, REDIRECTS)
    if issubclass(error, CONNECTING):
        assert phase is Phase.NOT_SENT
    elif issubclass(error, UNSENDABLE) and not redirect:
        assert phase is Phase.LOCAL
    else:  # written, or maybe written: the provider may have acted
        assert phase is Phase.SENT


# -- on the wire -------------------------------------------------------------------------------
class _RawServer:
    """A loopback server that records each request's bytes and answers each with ``answer``
    after ``delay`` seconds, on as many requests per connection as the client sends (an empty
    ``answer``: read one request, then hang up)."""

    def __init__(self, answer: bytes, delay: float = 0.0) -> None:
        self.answer, self.delay = answer, delay
        self.requests: list[bytes] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        data = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(data) < length:
                    data += conn.recv(65536)
                body, data = data[:length], data[length:]
                self.requests.append(head + b"\r\n\r\n" + body)
                if not self.answer:
                    return
                self._stop.wait(self.delay)
                conn.sendall(self.answer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[..., _RawServer]]:
    servers: list[_RawServer] = []

    def start(answer: bytes, delay: float = 0.0) -> _RawServer:
        servers.append(_RawServer(answer, delay))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _post(url: str, *, read_timeout: float = 5.0) -> httpx.Request:
    request = http_request(
        "POST",
        endpoint(f"{url}/v1/payment_intents"),
        {
            "Authorization": "Bearer sk_test_wire",
            "Idempotency-Key": "pg1_wire",
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "paygate/test",
        },
        b"amount=1000&currency=eur",
    )
    request.extensions["timeout"] = {
        "connect": 1.0,
        "read": read_timeout,
        "write": 1.0,
        "pool": 1.0,
    }
    return request


async def _exchange(backend: Backend, request: httpx.Request) -> httpx.Response:
    transport = async_transport(backend, httpx.Limits())
    try:
        response = await transport.handle_async_request(request)
        await response.aread()
        await response.aclose()
        return response
    finally:
        await transport.aclose()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"


def test_both_transports_put_the_same_request_on_the_wire(
    raw_server: Callable[..., _RawServer],
) -> None:
    server = raw_server(OK)
    for backend in ("aiohttp", "httpx"):
        assert asyncio.run(_exchange(backend, _post(server.url))).status_code == 200
    on_aiohttp, on_httpx = server.requests
    assert on_aiohttp == on_httpx
    assert b"Accept" not in on_aiohttp and b"Cookie" not in on_aiohttp


def test_a_cookie_is_not_kept_and_a_redirect_is_not_followed(
    raw_server: Callable[..., _RawServer],
) -> None:
    redirect = raw_server(
        b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nSet-Cookie: session=1; Path=/\r\n"
        b"Content-Length: 0\r\n\r\n"
    )

    async def twice() -> list[int]:
        transport = AiohttpTransport()
        statuses = []
        for _ in range(2):
            # By name: aiohttp's cookie jar would refuse a cookie from a bare IP address anyway.
            url = redirect.url.replace("127.0.0.1", "localhost")
            response = await transport.handle_async_request(_post(url))
            await response.aread()
            statuses.append(response.status_code)
        await transport.aclose()
        return statuses

    assert asyncio.run(twice()) == [302, 302]  # answered as it came
    assert len(redirect.requests) == 2  # nothing followed to /elsewhere
    assert all(b"/v1/payment_intents" in r.split(b"\r\n")[0] for r in redirect.requests)
    assert all(b"session=1" not in r for r in redirect.requests)


def test_the_body_is_handed_over_as_it_came_for_the_gateway_to_decode(
    raw_server: Callable[..., _RawServer],
) -> None:
    packed = gzip.compress(b'{"id": "pi_1"}')
    server = raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "
        + str(len(packed)).encode()
        + b"\r\n\r\n"
        + packed
    )

    async def raw() -> tuple[bytes, str | None]:
        transport = AiohttpTransport()
        response = await transport.handle_async_request(_post(server.url))
        body = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        await transport.aclose()
        return body, response.headers.get("content-encoding")

    assert asyncio.run(raw()) == (packed, "gzip")  # the gateway inflates it within its limit


# -- failures, by phase ------------------------------------------------------------------------
def _closed_port() -> str:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


@pytest.mark.parametrize("backend", ["aiohttp", "httpx"])
def test_a_refused_connection_says_nothing_was_sent(backend: Backend) -> None:
    with pytest.raises(httpx.ConnectError) as refused:
        asyncio.run(_exchange(backend, _post(_closed_port())))
    assert phase_of(refused.value)[0] is Phase.NOT_SENT


@pytest.mark.parametrize("backend", ["aiohttp", "httpx"])
def test_a_server_that_reads_the_request_and_hangs_up_may_have_acted(
    backend: Backend, raw_server: Callable[..., _RawServer]
) -> None:
    server = raw_server(b"")  # reads the whole request, then closes without a word
    with pytest.raises(httpx.TransportError) as lost:
        asyncio.run(_exchange(backend, _post(server.url)))
    assert phase_of(lost.value)[0] is Phase.SENT
    assert len(server.requests) == 1


@pytest.mark.parametrize("backend", ["aiohttp", "httpx"])
def test_an_answer_that_never_comes_is_a_read_timeout(backend: Backend) -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(httpx.ReadTimeout) as waited:
            asyncio.run(_exchange(backend, _post(url, read_timeout=0.2)))
        assert phase_of(waited.value)[0] is Phase.SENT
    finally:
        listener.close()


# -- the session -------------------------------------------------------------------------------
def test_tls_is_verified_by_default() -> None:
    context = AiohttpTransport().ssl_context
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_the_pool_holds_at_most_its_limit_of_connections(
    raw_server: Callable[..., _RawServer],
) -> None:
    server = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", delay=0.05)

    async def six_at_once() -> list[int]:
        transport = AiohttpTransport(limits=httpx.Limits(max_connections=2))

        async def one() -> int:
            response = await transport.handle_async_request(_post(server.url))
            await response.aread()
            await response.aclose()
            return response.status_code

        try:
            return await asyncio.wait_for(asyncio.gather(*(one() for _ in range(6))), 10)
        finally:
            await transport.aclose()

    assert asyncio.run(six_at_once()) == [200] * 6
    assert server.connections == 2  # the rest waited for a pooled connection, kept alive


def test_the_backend_is_aiohttp_when_installed_and_httpx_when_asked() -> None:
    limits = httpx.Limits()
    assert isinstance(async_transport("auto", limits), AiohttpTransport)
    assert isinstance(async_transport("aiohttp", limits), AiohttpTransport)
    assert isinstance(async_transport("httpx", limits), httpx.AsyncHTTPTransport)


def test_without_the_extra_auto_falls_back_and_aiohttp_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # import aiohttp now fails
    monkeypatch.delitem(sys.modules, "paygate.transports._aiohttp")
    assert isinstance(async_transport("auto", httpx.Limits()), httpx.AsyncHTTPTransport)
    with pytest.raises(ConfigurationError, match=r"pip install 'paygate\[aiohttp\]'"):
        async_transport("aiohttp", httpx.Limits())
