"""Provider-neutral plumbing: a threaded HTTP/1.1 server (on 127.0.0.1 unless told otherwise)
with keep-alive, the ``/_sim/`` control endpoints, and ``Simulator``, the base of every provider
simulator.

Each connection gets a daemon thread; ``stop()`` ends waits, closes every open connection and
joins the threads, so nothing outlives the simulator. An answer goes out as one write, or as a
fault shapes it: dripped byte by byte, streamed, chunked without end. Every wait on a connection
ends as soon as the simulator stops or the client hangs up, and a write to a client that hung up
ends its thread quietly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

from paygate.models import NextAction
from paygate.testing._dispatch import Delivery, Dispatcher, Injection, Provider, Stream
from paygate.testing._records import Headers, RecordedRequest, Reply, json_reply
from paygate.testing.faults import Fault

logger: Final = logging.getLogger("paygate.testing")

HOST: Final = "127.0.0.1"  # where a simulator listens unless given a host
# Where a simulator answering in process says it is: a name no resolver answers (RFC 6761), so
# a request that went to the network instead of the mock fails at once.
IN_PROCESS_URL: Final = "http://in-process.paygate.invalid"
CONTROL_PREFIX: Final = "/_sim/"
_JOIN_TIMEOUT: Final = 5.0
_WAKE: Final = 0.05  # how often a wait on a connection looks at the stopping event
_ABORTIVE_CLOSE: Final = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close sends a RST

Control = Callable[[str, str, bytes], Reply]


class _Connection(BaseHTTPRequestHandler):
    """One client connection: many requests while the client keeps it alive."""

    protocol_version = "HTTP/1.1"
    server_version = "paygate-simulator"
    sys_version = ""
    disable_nagle_algorithm = True
    server: _SimulatorServer

    def do_GET(self) -> None:
        self._exchange()

    def do_POST(self) -> None:
        self._exchange()

    def do_DELETE(self) -> None:
        self._exchange()

    def handle(self) -> None:
        try:
            super().handle()
        except ConnectionError:  # the client went away; nothing to answer
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``Simulator.requests`` instead of a log."""

    def _exchange(self) -> None:
        body = self._read_body()
        if body is None:
            return
        target = urlsplit(self.path)
        if target.path.startswith(CONTROL_PREFIX):
            self._send(self.server.control(self.command, target.path, body))
            return
        headers = Headers(self.headers.items())
        dispatcher = self.server.dispatcher
        try:
            delivery = dispatcher.dispatch(self.command, target.path, target.query, headers, body)
        except Exception:
            logger.exception("simulator failed on %s %s", self.command, target.path)
            provider = dispatcher.provider
            delivery = Delivery(provider.stamp(provider.server_error(500)))
        self._deliver(delivery)

    def _read_body(self) -> bytes | None:
        """The request body, or None after refusing a body this server cannot read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._refuse(411, "send the body with a Content-Length")
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self._refuse(400, "invalid Content-Length")
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            # The client went away mid-body (its deadline cut the write): as a provider's own
            # server does, act on nothing; a part of the body is not a request.
            self.close_connection = True
            return None
        return body

    def _refuse(self, status: int, message: str) -> None:
        self.close_connection = True
        self._send(json_reply(status, {"error": {"message": message}}, ("Connection", "close")))

    def _send(self, reply: Reply) -> None:
        self._deliver(Delivery(reply))

    def _deliver(self, delivery: Delivery) -> None:
        """Hold, then send the reply as the delivery says (its body or a stream, at once or
        dripped) or abort without one. A wait cut short (the simulator stops, the client
        hangs up) leaves the connection to close."""
        if delivery.hold:
            self._pause(delivery.hold)
        reply = delivery.reply
        if reply is None:
            self._abort()
            return
        stream = delivery.stream or Stream(iter((reply.body,)), len(reply.body))
        if stream.length is None:
            framing, body = ("Transfer-Encoding", "chunked"), _chunks(stream.pieces)
        else:
            framing, body = ("Content-Length", str(stream.length)), stream.pieces
        if not self._write(self._head(reply, framing), delivery.drip_head):
            return
        for piece in body:
            if not self._write(piece, delivery.drip_body):
                return

    def _head(self, reply: Reply, framing: tuple[str, str]) -> bytes:
        """The status line and headers, ``framing`` (how the body's end is told) last."""
        phrase = self.responses.get(reply.status, ("",))[0]
        lines = [
            f"{self.protocol_version} {reply.status} {phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            *(f"{name}: {value}" for name, value in (*reply.headers, framing)),
        ]
        return "".join(f"{line}\r\n" for line in (*lines, "")).encode("latin-1")

    def _write(self, data: bytes, drip: float) -> bool:
        """Send ``data`` at once, or one byte every ``drip`` seconds; False, with the
        connection left to close, when the simulator stops or the client hangs up first."""
        if self.server.stopping.is_set():
            self.close_connection = True
            return False
        if not drip:
            self.wfile.write(data)
            return True
        for at in range(len(data)):
            if at and not self._pause(drip):
                self.close_connection = True
                return False
            self.wfile.write(data[at : at + 1])
        return True

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False as soon as the simulator stops or the client hangs up."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.server.stopping.is_set() or self._hung_up(min(left, _WAKE)):
                return False
        return not self.server.stopping.is_set()

    def _hung_up(self, wait: float) -> bool:
        """Whether the client has closed the connection, waiting up to ``wait`` seconds to
        know (a shutdown by ``stop()`` reads the same)."""
        connection = self.connection
        timeout = connection.gettimeout()
        connection.settimeout(wait)
        try:
            waiting = connection.recv(1, socket.MSG_PEEK)
        except TimeoutError:
            return False
        except OSError:  # reset by the client
            return True
        finally:
            connection.settimeout(timeout)
        if waiting:  # the client sent more (a pipelined request): it is still there
            self.server.stopping.wait(wait)
            return False
        return True

    def _abort(self) -> None:
        """Close the connection at once, without an answer: the client sees a reset."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORTIVE_CLOSE)
        self.connection.close()


def _chunks(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """``pieces`` in chunked framing, without the last chunk: the body never ends."""
    for piece in pieces:
        if piece:
            yield b"%x\r\n%s\r\n" % (len(piece), piece)


class _SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default accept queue is 5: a client opening many connections at once (a
    # pool of 200) would see connects dropped and retried by the kernel a second later.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        dispatcher: Dispatcher,
        control: Control,
        stopping: threading.Event,
    ) -> None:
        if ":" in address[0]:  # an IPv6 address
            self.address_family = socket.AF_INET6
        super().__init__(address, _Connection)
        self.dispatcher = dispatcher
        self.control = control
        self.stopping = stopping
        self._live: dict[threading.Thread, socket.socket] = {}
        self._live_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"paygate-simulator-{self.server_address[1]}-connection",
            daemon=True,
        )
        with self._live_lock:
            self._live[thread] = request
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._live_lock:
                self._live.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_connections(self) -> list[threading.Thread]:
        """Shut every open connection down; the threads serving them, to join."""
        with self._live_lock:
            live = list(self._live.items())
        for _, connection in live:
            with contextlib.suppress(OSError):  # already closed
                connection.shutdown(socket.SHUT_RDWR)
        return [thread for thread, _ in live]


class Simulator:
    """A provider simulator served over HTTP/1.1 on 127.0.0.1 (or ``host``): start it (or use
    it as a context manager), point a client at ``url``, inject faults, read what it
    received."""

    def __init__(
        self,
        provider: Provider,
        port: int = 0,
        *,
        host: str = HOST,
        echo_headers: tuple[str, ...] = (),
    ) -> None:
        """``host``: the address to listen on (``0.0.0.0`` or ``::``: every interface, for a
        client in a container or on another machine). ``echo_headers``: request headers
        copied onto every answer, when sent."""
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be 0 (any free port) or 1-65535, not {port!r}")
        if not isinstance(host, str) or not host:
            raise ValueError("host must be an address or a host name to listen on")
        self._host, self._port = host, port
        self._stopping = threading.Event()
        self._dispatcher = Dispatcher(provider, self._stopping, echo_headers)
        self._lifecycle = threading.Lock()
        self._server: _SimulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._in_process = False

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not running"
        return f"paygate.testing.{type(self).__name__}({where})"

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://<host>:<port>`` (``http://127.0.0.1:<port>`` by default); the port is
        chosen when the simulator starts."""
        server = self._server
        if server is not None:
            host = f"[{self._host}]" if ":" in self._host else self._host
            return f"http://{host}:{server.server_address[1]}"
        if self._in_process:
            return IN_PROCESS_URL
        raise RuntimeError(f"{type(self).__name__} is not running; call start() first")

    def start(self) -> Self:
        """Start serving in a daemon thread; returns the simulator."""
        with self._lifecycle:
            if self._server is not None or self._in_process:
                how = "in process" if self._in_process else "already"
                raise RuntimeError(f"{type(self).__name__} is {how} running")
            self._stopping.clear()
            server = _SimulatorServer(
                (self._host, self._port), self._dispatcher, self._control, self._stopping
            )
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"paygate-simulator-{server.server_address[1]}",
                daemon=True,
            )
            thread.start()
            self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving: end pending waits, close every connection, join every thread."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            if server is None or thread is None:
                return
            self._server = self._thread = None
            self._stopping.set()
            server.shutdown()
            thread.join()
            workers = server.close_connections()
            server.server_close()
            for worker in workers:
                worker.join(_JOIN_TIMEOUT)

    def in_process(self, pause: Callable[[float], object]) -> Dispatcher:
        """Answer in this process rather than over HTTP (what ``MockProvider`` does): ``url``
        becomes ``IN_PROCESS_URL``, a latency fault waits with ``pause``; returns what the
        requests are handed to. Not for a simulator that serves HTTP."""
        with self._lifecycle:
            if self._server is not None:
                raise RuntimeError(f"{type(self).__name__} is running over HTTP")
            self._in_process = True
            self._dispatcher.pause = pause
        return self._dispatcher

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- faults and records --------------------------------------------------------------------
    def inject(
        self,
        fault: Fault,
        times: int | None = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Apply ``fault`` to the next ``times`` requests (None: every one until cleared) that
        match ``method`` and the exact ``path`` (None matches anything)."""
        self._dispatcher.inject(_injection(fault, times, method, path))

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._dispatcher.clear_faults()

    def reset(self) -> None:
        """Forget everything: the provider's objects, idempotency keys, faults and requests."""
        self._dispatcher.reset()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in arrival order, without the ``/_sim/`` control calls;
        replays and requests a fault answered included."""
        return self._dispatcher.requests()

    def keys_running(self) -> int:
        """How many idempotency keys a request is running under right now (begun, not
        answered): a test waits on it to know that a slow request holds its key."""
        return int(self._dispatcher.state()["keys_running"])

    def request_count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests matched ``method`` and the exact ``path`` (None: any)."""
        wanted = None if method is None else method.upper()
        return sum(
            1
            for r in self._dispatcher.requests()
            if (wanted is None or r.method == wanted) and (path is None or r.path == path)
        )

    # -- the shopper ---------------------------------------------------------------------------
    def authenticate(self, action: NextAction, *, passed: bool = True) -> dict[str, str]:
        """Play the shopper on the page a payment's ``next_action`` sends them to (3-D Secure,
        a redirect): authenticate (``passed``) or fail. Returns the ``details`` the front end
        would hand back, for ``complete_action``. ``ValueError`` for an action this simulator
        did not ask for, or one already done."""
        page = self._authentication_page(action)
        with self._dispatcher.lock:
            return self._authenticated(page, passed)

    def _authentication_page(self, action: NextAction) -> str:
        """Where ``action`` sends the shopper."""
        if action.redirect_url is None:
            raise ValueError(f"the {action.type} action names no page to send the shopper to")
        return action.redirect_url

    def _authenticated(self, page: str, passed: bool) -> dict[str, str]:
        """The shopper has been on ``page`` (under the dispatcher's lock): the details."""
        raise ValueError(f"{type(self).__name__} asks no shopper to act")

    # -- the HTTP control API ------------------------------------------------------------------
    def _control(self, method: str, path: str, body: bytes) -> Reply:
        route = (method, path.removeprefix(CONTROL_PREFIX).rstrip("/"))
        if route == ("POST", "authenticate"):
            return self._authenticate_json(body)
        if route == ("POST", "faults"):
            return self._inject_json(body)
        if route in {("DELETE", "faults"), ("POST", "faults/clear")}:
            return json_reply(200, {"cleared": self._dispatcher.clear_faults()})
        if route == ("GET", "state"):
            return json_reply(200, self._dispatcher.state())
        if route == ("POST", "reset"):
            self.reset()
            return json_reply(200, {"reset": True})
        return json_reply(404, {"error": {"message": f"no control endpoint {method} {path}"}})

    def _authenticate_json(self, body: bytes) -> Reply:
        """``{"url": <the action's page>, "passed": true}`` → ``{"details": {...}}``."""
        try:
            data = json.loads(body or b"null")
            if not isinstance(data, dict) or not isinstance(data.get("url"), str):
                raise ValueError('the body is {"url": <the page>, "passed": true|false}')
            passed = data.get("passed", True)
            if not isinstance(passed, bool):
                raise ValueError('"passed" is true or false')
            with self._dispatcher.lock:
                details = self._authenticated(data["url"], passed)
        except ValueError as exc:
            return json_reply(400, {"error": {"message": str(exc)}})
        return json_reply(200, {"details": details})

    def _inject_json(self, body: bytes) -> Reply:
        try:
            data = json.loads(body or b"null")
            if not isinstance(data, dict) or not data.keys() <= _INJECT_KEYS:
                raise ValueError(f"expected a JSON object with keys among {sorted(_INJECT_KEYS)}")
            injection = _injection(
                Fault.from_json(data.get("fault")),
                data.get("times", 1),
                data.get("method"),
                data.get("path"),
            )
        except ValueError as exc:
            return json_reply(400, {"error": {"message": str(exc)}})
        self._dispatcher.inject(injection)
        return json_reply(201, injection.to_json())


_INJECT_KEYS: Final = frozenset({"fault", "times", "method", "path"})


def _injection(fault: Fault, times: object, method: object, path: object) -> Injection:
    if not isinstance(fault, Fault):
        raise ValueError(f"not a Fault: {fault!r}")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError(f"times must be a positive integer or None, not {times!r}")
    if method is not None and not isinstance(method, str):
        raise ValueError(f"method must be a string or None, not {method!r}")
    if path is not None and not (isinstance(path, str) and path.startswith("/")):
        raise ValueError(f"path must be an exact path starting with '/', or None, not {path!r}")
    return Injection(fault, times, None if method is None else method.upper(), path)
