"""The gateway's own HTTP plumbing: every httpcore error becomes an httpx one, the walled
transport ends a call's socket operations by its deadline, and an answer's body is read within
its limit whatever its encoding claims."""

from __future__ import annotations

import gzip
import inspect
import socket
import threading
import time
import zlib
from collections.abc import Iterator

import httpcore
import httpx
import pytest

from paygate.resilience.deadline import Deadline
from paygate.transports import (
    CORE_ERRORS,
    BodyTooLarge,
    BodyUnreadable,
    DeadlineTransport,
    read_body,
)


def test_every_httpcore_error_becomes_an_httpx_error() -> None:
    raised = {
        obj
        for obj in vars(httpcore).values()
        if inspect.isclass(obj) and issubclass(obj, Exception)
    }
    assert raised <= set(CORE_ERRORS), raised - set(CORE_ERRORS)
    for core, mapped in CORE_ERRORS.items():
        # Same name, same class: the phase a failure happened in (connect: nothing was sent;
        # read: sent) carries over to the gateway's transport-error seam.
        same = getattr(httpx, core.__name__, None)
        assert mapped is (same or httpx.TransportError), (core, mapped)


@pytest.fixture
def dripping_server() -> Iterator[str]:
    """A server that accepts, reads the request and drips its answer's headers a byte at a
    time, forever: a per-read timeout never fires."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 100_000:
                    if stop.is_set():
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break
                    time.sleep(0.02)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    listener.close()


def test_the_walled_transport_ends_a_dripped_answer_at_the_deadline(dripping_server: str) -> None:
    with httpx.Client(transport=DeadlineTransport(limits=httpx.Limits())) as client:
        started = time.monotonic()
        with Deadline(0.5), pytest.raises(httpx.ReadTimeout):
            client.get(dripping_server, timeout=httpx.Timeout(5.0))
        assert time.monotonic() - started < 0.8
        # Outside a call, the transport's own timeouts apply, as httpx's do.
        with pytest.raises(httpx.ReadTimeout):
            client.get(dripping_server, timeout=httpx.Timeout(5.0, read=0.01))


def _streamed(body: bytes, **headers: str) -> httpx.Response:
    request = httpx.Request("POST", "https://provider.example/v1/payments")
    return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body), request=request)


def test_a_compressed_answer_is_decoded_within_the_limit() -> None:
    payload = b'{"id": "pi_1", "padding": "' + b" " * 5000 + b'"}'
    for encoding, packed in [
        ("gzip", gzip.compress(payload)),
        ("deflate", zlib.compress(payload)),
        ("identity", payload),
    ]:
        read = read_body(_streamed(packed, **{"Content-Encoding": encoding}), limit=8192)
        assert read.content == payload and read.json()["id"] == "pi_1"
        assert "content-encoding" not in read.headers or encoding == "identity"
    with pytest.raises(BodyTooLarge):
        read_body(_streamed(gzip.compress(payload), **{"Content-Encoding": "gzip"}), limit=4096)


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        (b"x" * 10, {"Content-Length": "99999999"}, BodyTooLarge),  # refused before reading
        (b"x" * 5000, {}, BodyTooLarge),
        (gzip.compress(b"{}")[:-6], {"Content-Encoding": "gzip"}, BodyUnreadable),  # cut short
        (b"not gzip at all", {"Content-Encoding": "gzip"}, BodyUnreadable),
        (b"{}", {"Content-Encoding": "br"}, BodyUnreadable),
        (b"{}", {"Content-Encoding": "gzip, deflate"}, BodyUnreadable),
    ],
)
def test_a_body_that_cannot_be_read_within_the_limit_is_refused(
    body: bytes, headers: dict[str, str], error: type[Exception]
) -> None:
    with pytest.raises(error):
        read_body(_streamed(body, **headers), limit=4096)
