"""The Stripe simulator's webhooks: the events each flow queues, signed so that paygate's own
Stripe adapter accepts them (which proves the two agree), nothing queued for what did not
commit, and delivery to a webhook_url on loopback without holding up the API."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from paygate import Money
from paygate.adapters.stripe import StripeAdapter
from paygate.errors import ErrorCode, InvalidWebhookError
from paygate.models import EventType, WebhookEvent
from paygate.testing import Fault, StripeSimulator, WebhookDelivery
from paygate.testing.stripe._ledger import EMITTED

API_KEY = "sk_test_51SimulatorWebhookSuite0000000"
PI = "/v1/payment_intents"
REFUNDS = "/v1/refunds"


@pytest.fixture
def client(sim: StripeSimulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=sim.url, headers=headers, timeout=5.0) as http:
        yield http


def authorize(
    client: httpx.Client,
    *,
    payment_method: str = "pm_card_visa",
    capture_method: str = "manual",
    key: str | None = None,
) -> httpx.Response:
    data = {
        "amount": "1234",
        "currency": "eur",
        "confirm": "true",
        "capture_method": capture_method,
        "payment_method": payment_method,
        "metadata[reference]": "order-1",
    }
    return client.post(PI, data=data, headers={"Idempotency-Key": key} if key else {})


def read(sim: StripeSimulator, delivery: WebhookDelivery) -> WebhookEvent:
    """The delivery through paygate's Stripe adapter: verified, and its one event."""
    adapter = StripeAdapter("sk_test_reader", webhook_secret=sim.webhook_secret)
    [event] = adapter.parse_webhook(delivery.headers, delivery.body, now=time.time())
    return event


def types(deliveries: list[WebhookDelivery]) -> list[str]:
    return [d.event_type for d in deliveries]


# -- what each flow queues ---------------------------------------------------------------------
def test_authorize_capture_refund_queue_one_verified_event_each(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    intent = authorize(client).json()
    client.post(f"{PI}/{intent['id']}/capture", data={"amount_to_capture": "1000"})
    refund = client.post(REFUNDS, data={"payment_intent": intent["id"], "amount": "300"}).json()

    deliveries = sim.webhooks()
    assert types(deliveries) == [
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "refund.created",
    ]
    assert {d.payment_id for d in deliveries} == {intent["id"]}
    authorized, captured, refunded = (read(sim, d) for d in deliveries)
    assert authorized.type is EventType.AUTHORIZED
    assert authorized.amount == Money("12.34", "EUR") and authorized.reference == "order-1"
    assert captured.type is EventType.CAPTURED and captured.amount == Money("10.00", "EUR")
    assert refunded.type is EventType.REFUNDED and refunded.amount == Money("3.00", "EUR")
    assert refunded.modification_id == refund["id"] and refunded.payment_id == intent["id"]
    assert len({e.event_id for e in (authorized, captured, refunded)}) == 3


def test_automatic_capture_queues_succeeded_only(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    intent = authorize(client, capture_method="automatic").json()
    [delivery] = sim.webhooks()
    event = read(sim, delivery)
    assert event.type is EventType.CAPTURED and event.payment_id == intent["id"]
    assert event.amount == Money("12.34", "EUR")


def test_a_decline_queues_payment_failed_with_its_reason(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    response = authorize(client, payment_method="pm_card_visa_chargeDeclinedInsufficientFunds")
    assert response.status_code == 402
    [delivery] = sim.webhooks()
    event = read(sim, delivery)
    assert event.type is EventType.FAILED and event.reason == "insufficient_funds"
    assert event.payment_id == response.json()["error"]["payment_intent"]["id"]


def test_cancel_queues_canceled(client: httpx.Client, sim: StripeSimulator) -> None:
    intent = authorize(client).json()
    client.post(f"{PI}/{intent['id']}/cancel")
    assert [read(sim, d).type for d in sim.webhooks()] == [EventType.AUTHORIZED, EventType.VOIDED]


def test_every_event_the_simulator_emits_moves_a_payment(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    held = authorize(client).json()
    client.post(f"{PI}/{held['id']}/capture")
    client.post(REFUNDS, data={"payment_intent": held["id"]})
    client.post(f"{PI}/{authorize(client).json()['id']}/cancel")
    authorize(client, capture_method="automatic")
    authorize(client, payment_method="pm_card_chargeDeclinedExpiredCard")
    deliveries = sim.webhooks()
    assert set(types(deliveries)) == set(EMITTED)
    assert EventType.OTHER not in {read(sim, d).type for d in deliveries}


def test_an_event_is_a_full_stripe_event_with_a_snapshot_of_its_object(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    intent = authorize(client).json()
    client.post(f"{PI}/{intent['id']}/capture")
    first, _ = sim.webhooks()
    event = json.loads(first.body)
    assert event["id"].startswith("evt_") and event["object"] == "event"
    assert event["api_version"] == "2023-08-16" and event["livemode"] is False
    assert abs(event["created"] - time.time()) < 60
    assert event["type"] == "payment_intent.amount_capturable_updated"
    snapshot = event["data"]["object"]
    assert snapshot["status"] == "requires_capture"  # as it was then, not as it is now
    assert snapshot["latest_charge"] == intent["latest_charge"]  # an id, never expanded
    assert first.headers["Content-Type"].startswith("application/json")


def test_deliveries_are_signed_when_delivered(client: httpx.Client, sim: StripeSimulator) -> None:
    authorize(client)
    [delivery] = sim.webhooks()
    t = int(delivery.headers["Stripe-Signature"].split(",")[0].removeprefix("t="))
    assert abs(t - time.time()) <= 2
    adapter = StripeAdapter("sk_test_reader", webhook_secret=sim.webhook_secret)
    with pytest.raises(InvalidWebhookError) as caught:
        adapter.parse_webhook(delivery.headers, delivery.body, now=t + 301)
    assert caught.value.code is ErrorCode.WEBHOOK_STALE
    with pytest.raises(InvalidWebhookError) as caught:
        adapter.parse_webhook(delivery.headers, delivery.body.replace(b"1234", b"1"), now=t)
    assert caught.value.code is ErrorCode.WEBHOOK_SIGNATURE_INVALID
    other = StripeAdapter("sk_test_reader", webhook_secret="whsec_someoneElses")
    with pytest.raises(InvalidWebhookError):
        other.parse_webhook(delivery.headers, delivery.body, now=t)


def test_drain_returns_and_forgets_webhooks_does_not(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    authorize(client)
    assert len(sim.webhooks()) == 1 and len(sim.webhooks()) == 1
    [drained] = sim.drain_webhooks()
    assert drained.event_type == "payment_intent.amount_capturable_updated"
    assert sim.webhooks() == [] and sim.drain_webhooks() == []


def test_reset_forgets_queued_webhooks(client: httpx.Client, sim: StripeSimulator) -> None:
    authorize(client)
    sim.reset()
    assert sim.webhooks() == []


def test_the_secret_is_fresh_per_simulator_unless_given() -> None:
    one, two = StripeSimulator(), StripeSimulator()
    assert one.webhook_secret.startswith("whsec_") and one.webhook_secret != two.webhook_secret
    assert StripeSimulator(webhook_secret="whsec_mine").webhook_secret == "whsec_mine"
    with pytest.raises(ValueError, match="secret"):
        StripeSimulator(webhook_secret="")
    with pytest.raises(ValueError, match="webhook_url"):
        StripeSimulator(webhook_url="ftp://example.test/hook")


# -- nothing new for what did not commit -------------------------------------------------------
def test_a_replayed_request_queues_nothing_new(client: httpx.Client, sim: StripeSimulator) -> None:
    first = authorize(client, key="order-1-authorize")
    again = authorize(client, key="order-1-authorize")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    declined = "pm_card_visa_chargeDeclined"
    authorize(client, payment_method=declined, key="declined-1")
    assert authorize(client, payment_method=declined, key="declined-1").status_code == 402
    assert types(sim.webhooks()) == [
        "payment_intent.amount_capturable_updated",
        "payment_intent.payment_failed",
    ]


def test_refused_requests_queue_nothing(client: httpx.Client, sim: StripeSimulator) -> None:
    intent = authorize(client).json()
    sim.drain_webhooks()
    assert client.post(PI, data={"amount": "x", "currency": "eur"}).status_code == 400
    assert (
        client.post(f"{PI}/{intent['id']}/capture", data={"amount_to_capture": "99999"}).status_code
        == 400
    )
    assert client.post(REFUNDS, data={"payment_intent": intent["id"]}).status_code == 400
    assert client.post(f"{PI}/pi_missing/cancel").status_code == 404
    assert sim.webhooks() == []


@pytest.mark.parametrize(
    "fault",
    [Fault.server_error(500), Fault.rate_limited(0.1), Fault.reset_before_commit()],
    ids=lambda f: f.kind.value,
)
def test_a_before_commit_fault_queues_nothing(
    client: httpx.Client, sim: StripeSimulator, fault: Fault
) -> None:
    sim.inject(fault, method="POST", path=PI)
    with contextlib.suppress(httpx.TransportError):  # a dropped connection, as asked
        authorize(client)
    assert sim.payment_intents() == [] and sim.webhooks() == []


@pytest.mark.parametrize(
    "fault",
    [
        Fault.server_error(500, after_commit=True),
        Fault.reset_after_commit(),
        Fault.malformed_json(),
    ],
    ids=lambda f: f"{f.kind.value}-after-commit",
)
def test_an_after_commit_fault_still_queues_the_event(
    client: httpx.Client, sim: StripeSimulator, fault: Fault
) -> None:
    sim.inject(fault, method="POST", path=PI)
    with contextlib.suppress(httpx.TransportError):
        authorize(client)
    [intent] = sim.payment_intents()
    [delivery] = sim.webhooks()
    assert read(sim, delivery).payment_id == intent["id"]


# -- delivery to a webhook_url -----------------------------------------------------------------
class Receiver:
    """A loopback HTTP endpoint that records every POST and answers ``status``, optionally
    holding each answer until ``release`` is set."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.release.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((dict(self.headers.items()), body))
                receiver.arrived.set()
                receiver.release.wait(5)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stripe/webhooks"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def api(sim: StripeSimulator) -> httpx.Client:
    return httpx.Client(
        base_url=sim.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5.0
    )


def test_each_event_is_posted_to_the_webhook_url_signed_and_in_order() -> None:
    with (
        Receiver() as receiver,
        StripeSimulator(webhook_url=receiver.url) as sim,
        api(sim) as http,
    ):
        intent = authorize(http).json()
        http.post(f"{PI}/{intent['id']}/capture")
        assert sim.wait_for_webhooks(5)
        adapter = StripeAdapter("sk_test_reader", webhook_secret=sim.webhook_secret)
        events = [
            adapter.parse_webhook(headers, body, now=time.time())[0]
            for headers, body in receiver.received
        ]
        assert [e.type for e in events] == [EventType.AUTHORIZED, EventType.CAPTURED]
        assert [status for _, status in sim.webhook_results()] == [200, 200]
        assert len(sim.webhooks()) == 2  # posted, and still queued for the test


def test_a_slow_receiver_never_holds_up_the_api() -> None:
    with (
        Receiver() as receiver,
        StripeSimulator(webhook_url=receiver.url) as sim,
        api(sim) as http,
    ):
        receiver.release.clear()  # the receiver sits on the first delivery
        started = time.monotonic()
        intent = authorize(http).json()
        http.post(f"{PI}/{intent['id']}/cancel")
        assert time.monotonic() - started < 2
        assert receiver.arrived.wait(5)
        assert not sim.wait_for_webhooks(0.1)  # still sending
        receiver.release.set()
        assert sim.wait_for_webhooks(5)
        assert len(receiver.received) == 2


def test_failed_posts_are_recorded_and_not_retried() -> None:
    with (
        Receiver(status=500) as receiver,
        StripeSimulator(webhook_url=receiver.url) as sim,
        api(sim) as http,
    ):
        authorize(http)
        assert sim.wait_for_webhooks(5)
        [(delivery, status)] = sim.webhook_results()
        assert status == 500 and len(receiver.received) == 1
        assert delivery.event_type == "payment_intent.amount_capturable_updated"


def test_an_unreachable_webhook_url_is_recorded_as_failed() -> None:
    with Receiver() as closed:
        url = closed.url
    with StripeSimulator(webhook_url=url) as sim, api(sim) as http:
        assert authorize(http).status_code == 200
        assert sim.wait_for_webhooks(5)
        [(_, status)] = sim.webhook_results()
        assert status is None
