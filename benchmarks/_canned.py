"""A minimal HTTP/1.1 server in a process of its own that answers every authorize with a canned
Stripe PaymentIntent echoing the request's amount, currency and reference (what paygate's
integrity check compares): a server cheap enough per request that the client process under
test, not the server, is what a concurrency benchmark measures.

It is an ``asyncio.Protocol`` on one event loop: requests are framed by ``Content-Length``
(every client here sends one), answers keep the connection alive. It is a benchmark's
counterpart only: it checks nothing and knows no other endpoint.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import AbstractContextManager
from multiprocessing.connection import Connection
from urllib.parse import parse_qsl

from benchmarks._load import served

_HEAD_END = b"\r\n\r\n"


def _answer(form: dict[str, str]) -> bytes:
    amount, currency, reference = int(form["amount"]), form["currency"], form["metadata[reference]"]
    body = json.dumps(
        {
            "id": f"pi_{reference}",
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": amount,
            "amount_received": 0,
            "currency": currency,
            "status": "requires_capture",
            "capture_method": "manual",
            "livemode": False,
            "metadata": {"reference": reference},
            "latest_charge": {
                "id": f"ch_{reference}",
                "object": "charge",
                "amount": amount,
                "amount_captured": 0,
                "amount_refunded": 0,
                "captured": False,
                "currency": currency,
                "status": "succeeded",
            },
            "next_action": None,
            "last_payment_error": None,
        },
        separators=(",", ":"),
    ).encode()
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nRequest-Id: req_canned\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(_HEAD_END)
            if end < 0:
                return
            length = 0
            for line in self._buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return
            body = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            assert self._transport is not None
            self._transport.write(_answer(dict(parse_qsl(body.decode()))))


def _serve(conn: Connection) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Connection, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        conn.send(f"http://127.0.0.1:{port}")
        await loop.run_in_executor(None, conn.recv)  # until told to stop
        server.close()

    asyncio.run(main())


def canned_server() -> AbstractContextManager[tuple[str, int]]:
    """The server's base URL and process id, while it runs."""
    return served(_serve)
