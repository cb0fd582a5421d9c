"""Guarantees that need a misbehaving provider: a wrong echo is never a success, no call outlives
its deadline, and a crashed owner's key is retaken and settled without a second charge."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from paygate import (
    Gateway,
    IdempotencyPolicy,
    Money,
    PaymentSource,
    PaymentStatus,
    RetryPolicy,
    SQLiteStore,
    Timeout,
)
from paygate.adapters.stripe import StripeAdapter
from paygate.errors import (
    ErrorCode,
    IdempotencyInFlight,
    OutcomeUnknown,
    RetriableError,
    TerminalError,
)
from paygate.gateway import _steps as steps
from paygate.idempotency import MemoryStore
from paygate.models import AuthorizeRequest, validated
from paygate.testing import FakeClock, MockProvider, StripeSimulator

VISA = PaymentSource.token("pm_card_visa")
PI_PATH = "/v1/payment_intents"


def _intent(form: dict[str, str], **over: Any) -> dict[str, Any]:
    body = {
        "id": "pi_echo",
        "object": "payment_intent",
        "amount": int(form.get("amount", "1000")),
        "amount_capturable": 0,
        "amount_received": 0,
        "currency": form.get("currency", "eur"),
        "status": "requires_capture",
        "capture_method": "manual",
        "livemode": False,
        "metadata": {"reference": form.get("metadata[reference]", "")},
    }
    return body | over


def _gateway(answer: Callable[[dict[str, str]], dict[str, Any]]) -> Gateway:
    def handler(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        return httpx.Response(200, content=json.dumps(answer(form)).encode())

    adapter = StripeAdapter("sk_test_integrity", base_url="https://stripe.example")
    return Gateway(adapter, transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("over", "named"),
    [
        ({"amount": 999}, "amount"),
        ({"currency": "usd"}, "amount"),
        ({"metadata": {"reference": "someone-else"}}, "reference"),
    ],
)
def test_an_answer_that_does_not_echo_the_request_is_never_a_success(
    over: dict[str, Any], named: str
) -> None:
    with (
        _gateway(lambda form: _intent(form, **over)) as gw,
        pytest.raises(OutcomeUnknown) as mismatch,
    ):
        gw.authorize(Money("10.00", "EUR"), source=VISA, reference="order-echo")
    assert mismatch.value.code is ErrorCode.INTEGRITY_MISMATCH
    assert named in str(mismatch.value) and mismatch.value.payment_id == "pi_echo"


@pytest.mark.parametrize(
    ("capture", "over", "named"),
    [
        (False, {"status": "succeeded", "amount_received": 1000}, "authorize only"),
        (True, {"status": "requires_capture"}, "authorized only"),
    ],
)
def test_an_answer_that_did_something_else_than_asked_is_never_a_success(
    capture: bool, over: dict[str, Any], named: str
) -> None:
    """An authorize answered as already captured, a purchase answered as merely authorized:
    the money is not where the caller would think it is."""
    call = "purchase" if capture else "authorize"
    with _gateway(lambda form: _intent(form, **over)) as gw, pytest.raises(OutcomeUnknown) as odd:
        getattr(gw, call)(Money("10.00", "EUR"), source=VISA, reference="order-odd")
    assert odd.value.code is ErrorCode.INTEGRITY_MISMATCH and named in str(odd.value)
    [record] = gw.unknown_payments()  # kept for resolve_unknown(), never a success
    assert record.unknown[0].reason is not None and named in record.unknown[0].reason


def _charge(amount: int, currency: str, captured: int = 0) -> dict[str, Any]:
    return {
        "id": "ch_1", "object": "charge", "amount": amount, "amount_captured": captured,
        "amount_refunded": 0, "captured": bool(captured), "currency": currency,
        "status": "succeeded",
    }  # fmt: skip


def test_a_capture_or_refund_without_an_amount_is_checked_against_the_payment() -> None:
    """The caller named no amount, but the payment did: an answer in another currency (or for
    more than the payment) is an unknown outcome, not a success."""
    answers: dict[str, dict[str, Any]] = {
        "/v1/payment_intents": _intent(
            {"amount": "1000", "currency": "eur", "metadata[reference]": "order-cur"},
            latest_charge=_charge(1000, "eur"),
        ),
        "/v1/payment_intents/pi_echo/capture": _intent(
            {"amount": "1000", "currency": "usd", "metadata[reference]": "order-cur"},
            status="succeeded", amount_received=1000, latest_charge=_charge(1000, "usd", 1000),
        ),
        "/v1/refunds": {
            "id": "re_1", "object": "refund", "amount": 1000, "currency": "usd",
            "payment_intent": "pi_echo", "status": "succeeded", "metadata": {},
        },
    }  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers[request.url.path])

    adapter = StripeAdapter("sk_test_integrity", base_url="https://stripe.example")
    with Gateway(adapter, transport=httpx.MockTransport(handler)) as gw:
        p = gw.authorize(Money("10.00", "EUR"), source=VISA, reference="order-cur")
        with pytest.raises(OutcomeUnknown) as capture:
            gw.capture(p.id)
        assert capture.value.code is ErrorCode.INTEGRITY_MISMATCH
        assert "currency" in str(capture.value)
        # Refunds: the payment is authorized only, so the record refuses a refund before any
        # I/O; a record that says captured meets an answer in the wrong currency instead.
        answers["/v1/payment_intents/pi_echo"] = answers["/v1/payment_intents/pi_echo/capture"]
        answers["/v1/payment_intents/pi_echo"]["currency"] = "eur"
        answers["/v1/payment_intents/pi_echo"]["latest_charge"] = _charge(1000, "eur", 1000)
        assert gw.retrieve(p.id).status is PaymentStatus.CAPTURED
        with pytest.raises(OutcomeUnknown) as refund:
            gw.refund(p.id)
        assert refund.value.code is ErrorCode.INTEGRITY_MISMATCH
        assert "currency" in str(refund.value)
        assert {u.operation.value for r in gw.unknown_payments() for u in r.unknown} == {
            "capture",
            "refund",
        }


def test_a_read_of_another_payment_is_refused() -> None:
    with (
        _gateway(lambda form: _intent(form, id="pi_other")) as gw,
        pytest.raises(TerminalError) as mismatch,
    ):
        gw.retrieve("pi_asked")
    assert mismatch.value.code is ErrorCode.INTEGRITY_MISMATCH
    assert not isinstance(mismatch.value, OutcomeUnknown)  # a read moves no money


def test_no_call_outlives_its_deadline() -> None:
    clock = FakeClock()

    def silent(request: httpx.Request) -> None:  # every attempt waits out its read timeout
        clock.advance(request.extensions["timeout"]["read"])
        raise httpx.ReadTimeout("no answer", request=request)

    mock = MockProvider("stripe", silent, clock=clock)
    timeout = Timeout(read=0.3, total=1.0)
    retry = RetryPolicy(max_attempts=10, initial_backoff=0.05, max_backoff=0.1)
    with mock.gateway(timeout=timeout, retry=retry) as gw, pytest.raises(OutcomeUnknown) as unknown:
        gw.authorize(Money("5.00", "EUR"), source=VISA, reference="order-slow")
    assert unknown.value.code is ErrorCode.TIMEOUT
    assert clock.elapsed <= 1.0 + 1e-9  # attempts and waits, all within the deadline
    sent = mock.requests
    assert len(sent) >= 3 and len({r.headers["idempotency-key"] for r in sent}) == 1


def test_a_crashed_owners_key_is_retaken_and_settled_without_a_second_charge(
    sim: StripeSimulator, api_key: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store_path = tmp_path / "idem.sqlite3"
    # No wait for a key in flight: the first repeat is refused at once, well inside the lease.
    policy = IdempotencyPolicy(lease=1.2, in_flight_wait=0, poll_interval=0.05)
    options: dict[str, Any] = {"timeout": Timeout(total=1.0), "idempotency": policy}
    amount, reference = Money("25.00", "EUR"), "order-crash"

    # The "crashed" process: it took the key and sent the request, then died before settling.
    with Gateway.for_stripe(api_key, base_url=sim.url, **options) as crashed:
        request = validated(
            AuthorizeRequest, amount=amount, source=VISA, reference=reference, capture=False
        )
        prepared = steps.prepare(crashed.provider, request)
        assert prepared.key is not None and prepared.fingerprint is not None
        lost_store = SQLiteStore(store_path)
        assert lost_store.begin(prepared.key, prepared.fingerprint, lease_seconds=1.2).token
        with httpx.Client() as client:
            client.send(crashed.adapter.build_request(request, idempotency_key=prepared.key))
        lost_store.close()
    assert len(sim.payment_intents(reference=reference)) == 1

    # Another instance repeats the call. While the lease lives it is told to come back later;
    # once the lease has lapsed it retakes the key, and the provider's idempotency replays the
    # first answer.
    caplog.set_level(logging.WARNING, logger="paygate")
    store = SQLiteStore(store_path)
    with Gateway.for_stripe(api_key, base_url=sim.url, store=store, **options) as survivor:
        with pytest.raises(IdempotencyInFlight) as in_flight:
            survivor.authorize(amount, source=VISA, reference=reference)
        assert in_flight.value.retriable and in_flight.value.idempotency_key == prepared.key
        assert len(sim.requests) == 1  # nothing was sent while the lease lived
        time.sleep(1.3)  # the crashed owner's lease (the store's own clock) ends
        p = survivor.authorize(amount, source=VISA, reference=reference)
    store.close()
    assert p.status is PaymentStatus.AUTHORIZED
    assert [i["id"] for i in sim.payment_intents(reference=reference)] == [p.id]
    assert "took over a lapsed lease" in caplog.text
    keys = {r.idempotency_key for r in sim.requests if r.path == PI_PATH}
    assert keys == {prepared.key}


class _BrokenStore:
    """An idempotency store whose server is gone."""

    blocking = False

    def begin(self, key: str, fingerprint: str, *, lease_seconds: float) -> Any:
        raise ConnectionError("store unreachable")

    def complete(self, key: str, token: str, outcome: str) -> bool:
        raise ConnectionError("store unreachable")

    def release(self, key: str, token: str) -> None:
        raise ConnectionError("store unreachable")

    def close(self) -> None:
        """Nothing to release."""


def test_an_unreachable_idempotency_store_fails_closed(sim: StripeSimulator, api_key: str) -> None:
    with Gateway.for_stripe(api_key, base_url=sim.url, store=_BrokenStore()) as gw:
        with pytest.raises(RetriableError) as refused:
            gw.authorize(Money("5.00", "EUR"), source=VISA, reference="order-closed")
        assert refused.value.code is ErrorCode.STORE_UNAVAILABLE
        assert "nothing was sent" in str(refused.value)
        assert sim.requests == []  # never a provider call without a recorded key


def test_a_store_that_fails_after_the_provider_answered_does_not_hide_the_answer(
    sim: StripeSimulator, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    class CompletesBadly(MemoryStore):
        def complete(self, key: str, token: str, outcome: str) -> bool:
            raise ConnectionError("store went away after the call")

    with Gateway.for_stripe(api_key, base_url=sim.url, store=CompletesBadly()) as gw:
        p = gw.authorize(Money("6.00", "EUR"), source=VISA, reference="order-late-store")
    assert p.status is PaymentStatus.AUTHORIZED
    assert "the outcome could not be stored" in caplog.text


class _BrokenRecords:
    """A payment record store whose server is gone."""

    blocking = False

    def __getattr__(self, name: str) -> Any:
        def broken(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("record store unreachable")

        return broken


def test_an_unreachable_record_store_refuses_what_it_must_guard(
    sim: StripeSimulator, api_key: str
) -> None:
    with Gateway.for_stripe(api_key, base_url=sim.url, records=_BrokenRecords()) as gw:
        with pytest.raises(RetriableError) as refused:
            gw.capture("pi_123", amount=Money("1.00", "EUR"))
        assert refused.value.code is ErrorCode.STORE_UNAVAILABLE
        assert sim.requests == []
        # A new payment is refused too: no request leaves before its intent is on the record
        # store, or a crash right after sending would leave it nowhere.
        with pytest.raises(RetriableError) as refused:
            gw.authorize(Money("2.00", "EUR"), source=VISA, reference="order-no-records")
        assert refused.value.code is ErrorCode.STORE_UNAVAILABLE
        assert sim.requests == []
