"""Hostile answers from both simulators, read with plain httpx or a raw socket: a body or
headers dripped byte by byte, an oversized, endless or gzip-bombed body, and answers from
something in front of the provider. Each after-commit fault applies the operation and saves
the real answer under the key; each before-commit one changes nothing."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from paygate.testing import AdyenSimulator, Fault, StripeSimulator
from paygate.testing.faults import FaultKind

PADDING = b'{"padding": "'
STRIPE_KEY = "sk_test_51HostileAnswersSuite000000000"
ADYEN_MERCHANT = "PaygateTestMerchant"


@dataclass
class Target:
    """One simulator, with what a test needs to make a payment and see it there."""

    sim: StripeSimulator | AdyenSimulator
    path: str  # where a payment is made
    headers: dict[str, str]  # the credentials
    form: dict[str, str] | None  # Stripe's body
    payload: dict[str, Any] | None  # Adyen's body
    payments: Callable[[], list[dict[str, Any]]]
    id_field: str  # the payment's id in an answer and in the simulator's state

    def client(self, **timeouts: float) -> httpx.Client:
        timeout = httpx.Timeout(5.0, **timeouts)
        return httpx.Client(base_url=self.sim.url, headers=self.headers, timeout=timeout)

    def request(self, client: httpx.Client, key: str) -> httpx.Request:
        return client.build_request(
            "POST", self.path, data=self.form, json=self.payload, headers={"Idempotency-Key": key}
        )

    def pay(self, client: httpx.Client, key: str) -> httpx.Response:
        return client.send(self.request(client, key))

    def stream(self, client: httpx.Client, key: str) -> AbstractContextManager[httpx.Response]:
        headers = {"Idempotency-Key": key}
        return client.stream("POST", self.path, data=self.form, json=self.payload, headers=headers)

    def inject(self, fault: Fault) -> None:
        self.sim.inject(fault, method="POST", path=self.path)

    def assert_applied_and_replayed(self, client: httpx.Client, key: str) -> httpx.Response:
        """The operation was applied once, and a repeat under ``key`` gets the real answer."""
        [payment] = self.payments()
        replay = self.pay(client, key)
        assert replay.status_code == 200 and replay.json()[self.id_field] == payment[self.id_field]
        if isinstance(self.sim, StripeSimulator):
            assert replay.headers["idempotent-replayed"] == "true"
        assert len(self.payments()) == 1
        return replay


@pytest.fixture(params=["stripe", "adyen"])
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "stripe":
        stripe: StripeSimulator = request.getfixturevalue("sim")
        return Target(
            stripe,
            "/v1/payment_intents",
            {"Authorization": f"Bearer {STRIPE_KEY}"},
            {"amount": "1234", "currency": "eur", "confirm": "true",
             "payment_method": "pm_card_visa", "metadata[reference]": "order-hostile"},
            None,
            stripe.payment_intents,
            "id",
        )  # fmt: skip
    adyen: AdyenSimulator = request.getfixturevalue("adyen_sim")
    card = {"type": "scheme", "number": "4111111145551142", "expiryMonth": "03",
            "expiryYear": "2030", "cvc": "737", "holderName": "Jo Tester"}  # fmt: skip
    return Target(
        adyen,
        "/v71/payments",
        {"X-API-Key": "AQE-hostile-answers-suite"},
        None,
        {"merchantAccount": ADYEN_MERCHANT, "amount": {"value": 1234, "currency": "EUR"},
         "reference": "order-hostile", "paymentMethod": card},
        adyen.payments,
        "pspReference",
    )  # fmt: skip


def address(sim: StripeSimulator | AdyenSimulator) -> tuple[str, int]:
    url = httpx.URL(sim.url)
    assert url.port is not None
    return url.host, url.port


def raw_request(request: httpx.Request) -> bytes:
    """``request`` as HTTP/1.1 bytes, for a client that is a plain socket."""
    body = request.read()
    lines = [f"{request.method} {request.url.raw_path.decode()} HTTP/1.1"]
    lines += [f"{name.decode()}: {value.decode()}" for name, value in request.headers.raw]
    return "".join(f"{line}\r\n" for line in (*lines, "")).encode() + body


def arrivals(connection: socket.socket, count: int) -> list[tuple[float, bytes]]:
    """The first ``count`` reads from ``connection``, each with when it returned."""
    seen = []
    for _ in range(count):
        data = connection.recv(65536)
        assert data, "the simulator closed the connection"
        seen.append((time.monotonic(), data))
    return seen


def connection_threads(sim: StripeSimulator | AdyenSimulator) -> set[threading.Thread]:
    name = f"paygate-simulator-{sim.url.rsplit(':', 1)[1]}-connection"
    return {thread for thread in threading.enumerate() if thread.name == name}


def wait_until(done: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def lone_stripe() -> Iterator[StripeSimulator]:
    """A simulator of the test's own, for tests that stop it mid-answer."""
    with StripeSimulator() as simulator:
        yield simulator


# -- dripped answers ---------------------------------------------------------------------------
def test_slow_body_drips_the_real_answer_after_committing(target: Target) -> None:
    target.inject(Fault.slow_body(interval=0.05))
    with target.client(read=0.2) as client:
        started = time.monotonic()
        with target.stream(client, "key-slow-body") as response:
            assert time.monotonic() - started < 0.5  # the status line and headers at once
            assert response.status_code == 200
            assert int(response.headers["content-length"]) > 200  # whole, it would take 10 s
            pieces = []
            for piece in response.iter_raw():
                pieces.append((time.monotonic(), piece))
                if len(pieces) == 8:
                    break
        # One byte a read, 50 ms apart: 8 reads outlast the 0.2 s read timeout, which never
        # fires because each read gets its byte in time.
        assert all(len(piece) == 1 for _, piece in pieces)
        gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(pieces)]
        assert min(gaps) >= 0.04 and pieces[-1][0] - pieces[0][0] > 0.2
        replay = target.assert_applied_and_replayed(client, "key-slow-body")
        assert replay.content.startswith(b"".join(piece for _, piece in pieces))


def test_slow_body_sends_the_whole_answer_in_the_end(sim: StripeSimulator) -> None:
    with httpx.Client(base_url=sim.url, auth=(STRIPE_KEY, ""), timeout=5.0) as client:
        expected = client.get("/v1/payment_intents/pi_missing")
        sim.inject(Fault.slow_body(interval=0.002), method="GET")
        started = time.monotonic()
        slow = client.get("/v1/payment_intents/pi_missing", timeout=httpx.Timeout(5.0, read=0.1))
        elapsed = time.monotonic() - started
    assert slow.status_code == 404 and slow.content == expected.content
    assert elapsed >= 0.002 * (len(expected.content) - 1)


def test_slow_headers_drips_the_status_line_and_headers(target: Target) -> None:
    target.inject(Fault.slow_headers(interval=0.03))
    with target.client() as client, socket.create_connection(address(target.sim), 2.0) as raw:
        raw.sendall(raw_request(target.request(client, "key-slow-headers")))
        seen = arrivals(raw, 6)
        assert b"".join(data for _, data in seen) == b"HTTP/1"
        gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(seen)]
        assert min(gaps) >= 0.02
        assert len(target.payments()) == 1  # applied before the first byte went out
        target.assert_applied_and_replayed(client, "key-slow-headers")


@pytest.mark.parametrize("fault", [Fault.slow_body(interval=30), Fault.slow_headers(interval=30)])
def test_a_client_hanging_up_mid_drip_ends_the_wait_at_once(target: Target, fault: Fault) -> None:
    target.inject(fault)
    before = connection_threads(target.sim)
    with target.client() as client, socket.create_connection(address(target.sim), 2.0) as raw:
        raw.sendall(raw_request(target.request(client, "key-hang-up")))
        assert raw.recv(65536)  # the first byte, or the head at once, then a 30 s wait
        serving = connection_threads(target.sim) - before
        assert serving
    assert wait_until(lambda: not serving & connection_threads(target.sim), timeout=1.0)


def test_slow_headers_end_with_the_real_answer(target: Target) -> None:
    target.inject(Fault.slow_headers(interval=0.002))
    with target.client(read=0.1) as client:
        started = time.monotonic()
        response = target.pay(client, "key-slow-headers-whole")
        elapsed = time.monotonic() - started
        head = sum(len(f"{name}: {value}\r\n") for name, value in response.headers.items())
        assert elapsed >= 0.002 * head > 0.1  # longer than the read timeout, which never fired
        assert response.status_code == 200
        [payment] = target.payments()
        assert response.json()[target.id_field] == payment[target.id_field]


# -- huge answers --------------------------------------------------------------------------------
def test_oversized_body_sends_size_bytes_with_that_content_length(target: Target) -> None:
    size = 3 * 1024 * 1024 + 7
    target.inject(Fault.oversized_body(size=size))
    with target.client() as client:
        with target.stream(client, "key-oversized") as response:
            assert response.status_code == 200
            assert int(response.headers["content-length"]) == size
            body = b"".join(response.iter_raw())
        assert len(body) == size and body.startswith(PADDING) and body.endswith(b" ")
        target.assert_applied_and_replayed(client, "key-oversized")


def test_endless_body_streams_until_the_client_hangs_up(target: Target) -> None:
    target.inject(Fault.endless_body())
    before = connection_threads(target.sim)
    with target.client() as client:
        with target.stream(client, "key-endless") as response:
            assert response.headers["transfer-encoding"] == "chunked"
            assert "content-length" not in response.headers
            pieces, read = response.iter_raw(), 0
            while read <= 8 * 1024 * 1024:  # far beyond any answer
                read += len(next(pieces))
            serving = connection_threads(target.sim) - before
            assert serving  # still sending
        # Closing a response that was not read to its end closes the connection.
        assert wait_until(lambda: not serving & connection_threads(target.sim))
        target.assert_applied_and_replayed(client, "key-endless")


def test_gzip_bomb_is_small_on_the_wire_and_inflates_to_size(target: Target) -> None:
    size = 8 * 1024 * 1024
    target.inject(Fault.gzip_bomb(size=size))
    with target.client() as client:
        with target.stream(client, "key-bomb") as response:
            assert response.headers["content-encoding"] == "gzip"
            compressed = b"".join(response.iter_raw())
        assert len(compressed) == int(response.headers["content-length"]) < size // 500
        inflated = zlib.decompress(compressed, wbits=16 + zlib.MAX_WBITS)
        assert len(inflated) == size and inflated.startswith(PADDING)
        target.assert_applied_and_replayed(client, "key-bomb")


# -- foreign answers -----------------------------------------------------------------------------
@pytest.mark.parametrize("status", [403, 404, 502])
def test_a_foreign_page_before_commit_changes_nothing(target: Target, status: int) -> None:
    target.inject(Fault.foreign(status=status))
    with target.client() as client:
        page = target.pay(client, "key-foreign")
        assert page.status_code == status
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.text.startswith("<html>") and str(status) in page.text
        provider_headers = {"request-id", "pspreference", "idempotency-key", "location"}
        assert not provider_headers & set(page.headers)
        assert target.payments() == []
        fresh = target.pay(client, "key-foreign")  # nothing was saved under the key
        assert fresh.status_code == 200 and "idempotent-replayed" not in fresh.headers
        assert len(target.payments()) == 1


def test_a_foreign_redirect_points_elsewhere_and_is_not_followed(target: Target) -> None:
    target.inject(Fault.foreign(status=302))
    with target.client() as client:
        redirect = target.pay(client, "key-redirect")
        assert redirect.status_code == 302 and redirect.is_redirect
        assert httpx.URL(redirect.headers["location"]).host.endswith(".invalid")
        assert target.payments() == []


def test_a_foreign_answer_after_commit_hides_the_real_one(target: Target) -> None:
    target.inject(Fault.foreign(status=502, after_commit=True))
    with target.client() as client:
        page = target.pay(client, "key-foreign-late")
        assert page.status_code == 502 and page.text.startswith("<html>")
        assert "idempotency-key" not in page.headers  # Adyen echoes it; an edge does not
        target.assert_applied_and_replayed(client, "key-foreign-late")


@pytest.mark.parametrize("status", [400, 409])
def test_foreign_json_is_json_in_no_providers_shape(target: Target, status: int) -> None:
    target.inject(Fault.foreign_json(status=status))
    with target.client() as client:
        answer = target.pay(client, "key-foreign-json")
        assert answer.status_code == status
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {"message": "upstream request failed"}
        assert target.payments() == []

        target.inject(Fault.foreign_json(status=status, truncated=True, after_commit=True))
        mangled = target.pay(client, "key-foreign-json")
        assert mangled.status_code == status and mangled.content.startswith(b'{"message": ')
        with pytest.raises(json.JSONDecodeError):
            mangled.json()
        target.assert_applied_and_replayed(client, "key-foreign-json")


def test_stripe_queues_its_webhook_only_when_a_foreign_answer_came_after_commit(
    sim: StripeSimulator,
) -> None:
    target_path = "/v1/payment_intents"
    form = {"amount": "500", "currency": "eur", "confirm": "true", "payment_method": "pm_card_visa"}
    with httpx.Client(base_url=sim.url, auth=(STRIPE_KEY, "")) as client:
        sim.inject(Fault.foreign(status=403), method="POST", path=target_path)
        assert client.post(target_path, data=form).status_code == 403
        assert sim.webhooks() == []
        sim.inject(Fault.foreign(status=403, after_commit=True), method="POST", path=target_path)
        assert client.post(target_path, data=form).status_code == 403
    assert [w.event_type for w in sim.webhooks()] == ["payment_intent.succeeded"]


# -- control and lifecycle -----------------------------------------------------------------------
# One of each kind: what a chaos test may draw from.
EVERY_KIND = [
    Fault.latency(0.01),
    Fault.server_error(502, after_commit=True),
    Fault.rate_limited(retry_after=0.1),
    Fault.reset_before_commit(),
    Fault.reset_after_commit(),
    Fault.timeout_after_commit(hold=0.2),
    Fault.malformed_json(),
    Fault.schema_break(),
    Fault.slow_body(interval=0.001),
    Fault.slow_headers(interval=0.001),
    Fault.oversized_body(size=70_000),
    Fault.endless_body(),
    Fault.gzip_bomb(size=70_000),
    Fault.foreign(status=301, after_commit=True),
    Fault.foreign_json(status=400, truncated=True),
]


def test_every_fault_kind_is_injected_over_http(target: Target) -> None:
    assert {fault.kind for fault in EVERY_KIND} == set(FaultKind)
    with httpx.Client(base_url=f"{target.sim.url}/_sim") as control:
        for fault in EVERY_KIND:
            injected = control.post("/faults", json={"fault": fault.to_json(), "times": None})
            assert injected.status_code == 201, injected.text
            assert Fault.from_json(injected.json()["fault"]) == fault
        state = control.get("/state").json()
        assert [Fault.from_json(i["fault"]) for i in state["faults"]] == EVERY_KIND
        refused = control.post("/faults", json={"fault": {"kind": "gzip_bomb", "size": 0}})
        assert refused.status_code == 400 and "size" in refused.json()["error"]["message"]
        assert control.delete("/faults").json() == {"cleared": len(EVERY_KIND)}


def test_stop_ends_dripping_and_endless_answers_at_once(lone_stripe: StripeSimulator) -> None:
    simulator = lone_stripe
    before = set(threading.enumerate())
    form = {"amount": "500", "currency": "eur", "payment_method": "pm_card_visa"}
    cut_off: list[httpx.HTTPError] = []
    release = threading.Event()

    def slow() -> None:
        with httpx.Client(base_url=simulator.url, auth=(STRIPE_KEY, "")) as client:
            try:
                client.post("/v1/payment_intents", data=form)
            except httpx.HTTPError as exc:
                cut_off.append(exc)

    def stalled() -> None:  # reads a little of an endless body, then stops reading
        with (
            httpx.Client(base_url=simulator.url, auth=(STRIPE_KEY, "")) as client,
            client.stream("POST", "/v1/payment_intents", data=form) as response,
        ):
            next(response.iter_raw())
            release.wait(5.0)

    faults = [Fault.slow_body(interval=30), Fault.slow_headers(interval=30), Fault.endless_body()]
    readers = [threading.Thread(target=run) for run in (slow, slow, stalled)]
    for fault, reader in zip(faults, readers, strict=True):
        taken = len(simulator.requests) + 1
        simulator.inject(fault, method="POST")
        reader.start()
        assert wait_until(lambda: len(simulator.requests) == taken)  # noqa: B023 (waited here)
    assert wait_until(lambda: len(simulator.payment_intents()) == 3)
    time.sleep(0.2)  # each answer is now dripping, or blocked on a client that does not read
    started = time.monotonic()
    simulator.stop()
    assert time.monotonic() - started < 2.0
    assert not {t for t in set(threading.enumerate()) - before if t.name.startswith("paygate-")}
    release.set()
    for reader in readers:
        reader.join(5.0)
    assert len(cut_off) == 2  # the dripped answers ended unfinished
