"""The Stripe simulator, spoken to with plain httpx: Stripe's wire format, state, test cards,
idempotency rules, every fault kind, the HTTP control API and the server's lifecycle."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from paygate.testing import Fault, StripeSimulator

API_KEY = "sk_test_51SimulatorSuiteKey0000000000"
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
    amount: int = 1234,
    payment_method: str = "pm_card_visa",
    reference: str = "order-1",
    capture_method: str = "manual",
    key: str | None = None,
    **extra: str,
) -> httpx.Response:
    data = {
        "amount": str(amount),
        "currency": "eur",
        "confirm": "true",
        "capture_method": capture_method,
        "payment_method": payment_method,
        "metadata[reference]": reference,
        "expand[0]": "latest_charge",
        **extra,
    }
    return client.post(PI, data=data, headers={"Idempotency-Key": key} if key else {})


def error_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


# -- the payment lifecycle ---------------------------------------------------------------------
def test_authorize_holds_the_amount_with_an_uncaptured_charge(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    response = authorize(client)
    assert response.status_code == 200 and response.headers["request-id"].startswith("req_")
    pi = response.json()
    assert pi["object"] == "payment_intent" and pi["id"].startswith("pi_")
    assert (pi["status"], pi["amount"], pi["currency"]) == ("requires_capture", 1234, "eur")
    assert (pi["amount_capturable"], pi["amount_received"]) == (1234, 0)
    assert pi["capture_method"] == "manual" and pi["livemode"] is False
    assert pi["metadata"] == {"reference": "order-1"} and pi["next_action"] is None
    charge = pi["latest_charge"]
    assert charge["object"] == "charge" and charge["id"].startswith("ch_")
    assert (charge["amount"], charge["amount_captured"], charge["amount_refunded"]) == (1234, 0, 0)
    assert charge["captured"] is False and charge["status"] == "succeeded"
    assert charge["payment_intent"] == pi["id"]
    assert sim.payment_intent(pi["id"]) == pi
    assert sim.requests[0].form == {
        "amount": "1234",
        "currency": "eur",
        "confirm": "true",
        "capture_method": "manual",
        "payment_method": "pm_card_visa",
        "metadata": {"reference": "order-1"},
        "expand": ["latest_charge"],
    }


def test_partial_capture_then_refunds_up_to_what_was_captured(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    pi = authorize(client).json()
    captured = client.post(f"{PI}/{pi['id']}/capture", data={"amount_to_capture": "1000"})
    assert captured.status_code == 200
    body = captured.json()
    assert (body["status"], body["amount_received"], body["amount_capturable"]) == (
        "succeeded",
        1000,
        0,
    )
    assert isinstance(body["latest_charge"], str)  # not expanded unless asked

    first = client.post(REFUNDS, data={"payment_intent": pi["id"], "amount": "200"})
    second = client.post(
        REFUNDS,
        data={"payment_intent": pi["id"], "amount": "300", "reason": "requested_by_customer"},
    )
    assert first.status_code == second.status_code == 200
    refund = second.json()
    assert refund["object"] == "refund" and refund["status"] == "succeeded"
    assert (refund["amount"], refund["payment_intent"], refund["reason"]) == (
        300,
        pi["id"],
        "requested_by_customer",
    )
    assert client.get(f"{REFUNDS}/{refund['id']}").json() == refund

    over = client.post(REFUNDS, data={"payment_intent": pi["id"], "amount": "501"})
    assert over.status_code == 400
    assert error_of(over)["code"] == "amount_too_large" and error_of(over)["param"] == "amount"

    rest = client.post(REFUNDS, data={"payment_intent": pi["id"]})  # all that remains
    assert rest.json()["amount"] == 500
    again = client.post(REFUNDS, data={"payment_intent": pi["id"], "amount": "1"})
    assert again.status_code == 400 and error_of(again)["code"] == "charge_already_refunded"

    charge = sim.payment_intent(pi["id"])["latest_charge"]
    assert (charge["amount_captured"], charge["amount_refunded"], charge["refunded"]) == (
        1000,
        1000,
        True,
    )
    assert [r["amount"] for r in sim.refunds(payment_intent=pi["id"])] == [200, 300, 500]


def test_capture_refuses_too_much_the_wrong_state_and_unknown_ids(client: httpx.Client) -> None:
    pi = authorize(client).json()
    too_much = client.post(f"{PI}/{pi['id']}/capture", data={"amount_to_capture": "1235"})
    assert too_much.status_code == 400
    assert error_of(too_much)["code"] == "amount_too_large"
    assert error_of(too_much)["param"] == "amount_to_capture"

    full = client.post(f"{PI}/{pi['id']}/capture", data={"expand[0]": "latest_charge"}).json()
    assert full["amount_received"] == 1234 and full["latest_charge"]["captured"] is True

    twice = client.post(f"{PI}/{pi['id']}/capture")
    assert twice.status_code == 400
    assert error_of(twice)["code"] == "payment_intent_unexpected_state"
    assert error_of(twice)["payment_intent"]["status"] == "succeeded"

    missing = client.post(f"{PI}/pi_nothing/capture")
    assert missing.status_code == 404 and error_of(missing)["code"] == "resource_missing"
    assert client.get(f"{PI}/pi_nothing").status_code == 404


def test_automatic_capture_succeeds_at_once(client: httpx.Client) -> None:
    pi = authorize(client, capture_method="automatic").json()
    assert (pi["status"], pi["amount_received"], pi["amount_capturable"]) == ("succeeded", 1234, 0)
    charge = pi["latest_charge"]
    assert charge["captured"] is True and charge["amount_captured"] == 1234
    fetched = client.get(f"{PI}/{pi['id']}", params={"expand[0]": "latest_charge"}).json()
    assert fetched == pi
    assert client.get(f"{PI}/{pi['id']}").json()["latest_charge"] == charge["id"]


def test_void_releases_the_hold_and_ends_the_payment(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    pi = authorize(client).json()
    refund = client.post(REFUNDS, data={"payment_intent": pi["id"]})
    assert refund.status_code == 400  # an uncaptured payment is canceled, not refunded
    assert error_of(refund)["code"] == "payment_intent_unexpected_state"

    canceled = client.post(f"{PI}/{pi['id']}/cancel", data={"cancellation_reason": "abandoned"})
    body = canceled.json()
    assert (body["status"], body["amount_capturable"]) == ("canceled", 0)
    assert body["cancellation_reason"] == "abandoned" and body["canceled_at"] is not None
    for late in (f"{PI}/{pi['id']}/cancel", f"{PI}/{pi['id']}/capture"):
        response = client.post(late)
        assert response.status_code == 400
        assert error_of(response)["code"] == "payment_intent_unexpected_state"
    assert sim.payment_intent(pi["id"])["status"] == "canceled"
    assert sim.refunds() == []


# -- test cards --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payment_method", "number", "code", "decline_code", "advice_code"),
    [
        (
            "pm_card_visa_chargeDeclined",
            "4000000000000002",
            "card_declined",
            "generic_decline",
            None,
        ),
        (
            "pm_card_visa_chargeDeclinedInsufficientFunds",
            "4000000000009995",
            "card_declined",
            "insufficient_funds",
            None,
        ),
        (
            "pm_card_visa_chargeDeclinedLostCard",
            "4000000000009987",
            "card_declined",
            "lost_card",
            "do_not_try_again",
        ),
        (
            "pm_card_visa_chargeDeclinedStolenCard",
            "4000000000009979",
            "card_declined",
            "stolen_card",
            "do_not_try_again",
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            "4000000000000069",
            "expired_card",
            "expired_card",
            "confirm_card_data",
        ),
        (
            "pm_card_chargeDeclinedIncorrectCvc",
            "4000000000000127",
            "incorrect_cvc",
            "incorrect_cvc",
            "confirm_card_data",
        ),
        (
            "pm_card_chargeDeclinedProcessingError",
            "4000000000000119",
            "processing_error",
            "processing_error",
            "try_again_later",
        ),
        (
            "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
            "4000000000006975",
            "card_declined",
            "card_velocity_exceeded",
            None,
        ),
    ],
)
@pytest.mark.parametrize("source", ["token", "card"])
def test_decline_cards_answer_402_and_keep_the_failed_intent(
    client: httpx.Client,
    sim: StripeSimulator,
    source: str,
    payment_method: str,
    number: str,
    code: str,
    decline_code: str,
    advice_code: str | None,
) -> None:
    if source == "token":
        response = authorize(client, payment_method=payment_method, reference="order-d")
    else:
        response = client.post(
            PI,
            data={
                "amount": "900",
                "currency": "usd",
                "confirm": "true",
                "payment_method_data[type]": "card",
                "payment_method_data[card][number]": number,
                "payment_method_data[card][exp_month]": "12",
                "payment_method_data[card][exp_year]": "2031",
                "payment_method_data[card][cvc]": "123",
                "metadata[reference]": "order-d",
            },
        )
    assert response.status_code == 402
    assert response.headers["stripe-should-retry"] == "false"
    error = error_of(response)
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        code,
        decline_code,
    )
    assert error.get("advice_code") == advice_code and error["message"]
    stored = sim.payment_intents(reference="order-d")
    assert [pi["id"] for pi in stored] == [error["payment_intent"]["id"]]
    assert stored[0]["status"] == error["payment_intent"]["status"] == "requires_payment_method"
    assert stored[0]["last_payment_error"]["decline_code"] == decline_code
    assert stored[0]["latest_charge"]["status"] == "failed"


@pytest.mark.parametrize(
    "payment_method", ["pm_card_threeDSecure2Required", "pm_card_authenticationRequired"]
)
def test_three_ds_cards_require_action_or_fail_off_session(
    client: httpx.Client, payment_method: str
) -> None:
    pi = authorize(client, payment_method=payment_method).json()
    assert pi["status"] == "requires_action" and pi["next_action"]["type"] == "use_stripe_sdk"
    assert pi["latest_charge"] is None and pi["amount_capturable"] == 0
    assert client.post(f"{PI}/{pi['id']}/cancel").json()["status"] == "canceled"

    off_session = authorize(client, payment_method=payment_method, off_session="true")
    assert off_session.status_code == 402
    assert error_of(off_session)["code"] == "authentication_required"


def test_raw_card_numbers_are_checked_like_stripe_test_mode(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    def pay(number: str) -> httpx.Response:
        return client.post(
            PI,
            data={
                "amount": "500",
                "currency": "EUR",
                "confirm": "true",
                "payment_method_data[type]": "card",
                "payment_method_data[card][number]": number,
                "payment_method_data[card][exp_month]": "1",
                "payment_method_data[card][exp_year]": "2030",
            },
        )

    approved = pay("5555555555554444").json()
    assert approved["status"] == "succeeded" and approved["currency"] == "eur"
    assert approved["payment_method"].startswith("pm_")
    charge = sim.payment_intent(approved["id"])["latest_charge"]
    assert charge["id"] == approved["latest_charge"]
    assert charge["payment_method_details"]["card"] == {
        "brand": "mastercard",
        "country": "US",
        "exp_month": 1,
        "exp_year": 2030,
        "funding": "credit",
        "last4": "4444",
    }

    luhn = pay("4242424242424241")
    assert luhn.status_code == 402 and error_of(luhn)["code"] == "incorrect_number"
    live = pay("4111111111111111")  # a valid number, but not one of Stripe's test cards
    assert error_of(live)["decline_code"] == "test_mode_live_card"
    assert len(sim.payment_intents()) == 2  # an unreadable number creates nothing


# -- parameters, auth, routes --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "status", "code", "param"),
    [
        ({"amount": None}, 400, "parameter_missing", "amount"),
        ({"amount": "12.5"}, 400, "parameter_invalid_integer", "amount"),
        ({"amount": "0"}, 400, "parameter_invalid_integer", "amount"),
        ({"currency": None}, 400, "parameter_missing", "currency"),
        ({"amount_cents": "5"}, 400, "parameter_unknown", "amount_cents"),
        ({"payment_method": "pm_card_unheardOf"}, 400, "resource_missing", "payment_method"),
        ({"capture_method": "later"}, 400, None, "capture_method"),
        ({"expand[0]": "customer"}, 400, None, "expand"),
    ],
)
def test_invalid_parameters_are_refused_before_anything_happens(
    client: httpx.Client,
    sim: StripeSimulator,
    change: dict[str, str | None],
    status: int,
    code: str | None,
    param: str,
) -> None:
    data = {
        "amount": "1000",
        "currency": "usd",
        "confirm": "true",
        "capture_method": "manual",
        "payment_method": "pm_card_visa",
    }
    data.update({k: v for k, v in change.items() if v is not None})
    for name in (k for k, v in change.items() if v is None):
        del data[name]
    response = client.post(PI, data=data, headers={"Idempotency-Key": "key-invalid"})
    assert response.status_code == status
    error = error_of(response)
    assert (error["type"], error.get("code"), error["param"]) == (
        "invalid_request_error",
        code,
        param,
    )
    assert sim.payment_intents() == []
    # A refusal before execution is not saved: the key is still free for a valid request.
    assert authorize(client, key="key-invalid").status_code == 200


def test_bodies_must_be_form_encoded(client: httpx.Client, sim: StripeSimulator) -> None:
    response = client.post(PI, json={"amount": 1000, "currency": "usd"})
    assert response.status_code == 400 and "x-www-form-urlencoded" in error_of(response)["message"]
    assert sim.request_count(method="POST", path=PI) == 1


@pytest.mark.parametrize(
    ("authorization", "echoed"),
    [
        (None, None),
        ("Token sk_test_123456789", None),
        ("Bearer pk_test_1234567890abcdef", None),
        ("Bearer sk_live_51RealLiveKey000000000", "sk_live_51RealLiveKey000000000"),
        ("Bearer rk_live_51RealLiveKey000000000", "rk_live_51RealLiveKey000000000"),
    ],
)
def test_requests_without_a_test_key_get_401(
    sim: StripeSimulator, authorization: str | None, echoed: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.get(f"{sim.url}{PI}/pi_1", headers=headers)
    assert response.status_code == 401 and response.headers["request-id"].startswith("req_")
    error = error_of(response)
    assert error["type"] == "invalid_request_error" and error["message"]
    if echoed is not None:
        assert echoed not in response.text and "live" in error["message"]


def test_basic_auth_with_the_key_as_user_name_works(sim: StripeSimulator) -> None:
    response = httpx.get(f"{sim.url}{PI}/pi_missing", auth=(API_KEY, ""))
    assert response.status_code == 404 and error_of(response)["code"] == "resource_missing"


def test_unknown_routes_are_404(client: httpx.Client) -> None:
    for method, path in [("GET", "/v1/charges/ch_1"), ("DELETE", PI), ("POST", "/v2/core")]:
        response = client.request(method, path)
        assert response.status_code == 404, (method, path)
        assert error_of(response)["type"] == "invalid_request_error"
        assert path in error_of(response)["message"]


# -- idempotency ---------------------------------------------------------------------------------
def test_a_repeat_with_the_same_key_replays_the_first_answer(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    first = authorize(client, key="key-replay")
    again = authorize(client, key="key-replay")
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.content == first.content
    assert again.headers["request-id"] != first.headers["request-id"]
    assert len(sim.payment_intents()) == 1
    assert [r.idempotency_key for r in sim.requests] == ["key-replay", "key-replay"]

    declined = authorize(client, payment_method="pm_card_visa_chargeDeclined", key="key-402")
    replayed = authorize(client, payment_method="pm_card_visa_chargeDeclined", key="key-402")
    assert replayed.status_code == 402 and replayed.content == declined.content
    assert len(sim.payment_intents()) == 2


def test_a_key_reused_with_other_parameters_is_an_idempotency_error(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    authorize(client, key="key-reuse")
    other = authorize(client, amount=999, key="key-reuse")
    assert other.status_code == 400
    assert error_of(other)["type"] == "idempotency_error"
    elsewhere = client.post(f"{PI}/pi_x/cancel", headers={"Idempotency-Key": "key-reuse"})
    assert error_of(elsewhere)["type"] == "idempotency_error"
    assert len(sim.payment_intents()) == 1


def test_keys_are_scoped_per_api_key(client: httpx.Client, sim: StripeSimulator) -> None:
    authorize(client, key="key-shared")
    other_account = {"Authorization": "Bearer sk_test_51AnotherAccount000000000"}
    with httpx.Client(base_url=sim.url, headers=other_account) as other:
        response = authorize(other, key="key-shared")
    assert response.status_code == 200 and "idempotent-replayed" not in response.headers
    assert len(sim.payment_intents()) == 2


def test_a_repeat_while_the_first_still_runs_gets_409(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    sim.inject(Fault.latency(0.5), method="POST", path=PI)
    results: list[httpx.Response] = []
    slow = threading.Thread(target=lambda: results.append(authorize(client, key="key-busy")))
    slow.start()
    while sim.request_count(path=PI) < 1:
        time.sleep(0.005)
    while sim.keys_running() < 1:  # the first request now holds the key, for 0.5 s
        time.sleep(0.005)
    busy = authorize(client, key="key-busy")
    slow.join()
    assert busy.status_code == 409
    assert busy.headers["stripe-should-retry"] == "true"
    assert error_of(busy)["code"] == "idempotency_key_in_use"
    assert results[0].status_code == 200 and len(sim.payment_intents()) == 1
    after = authorize(client, key="key-busy")  # the first one finished: now it replays
    assert after.headers["idempotent-replayed"] == "true" and after.content == results[0].content


# -- faults ----------------------------------------------------------------------------------------
def test_server_error_before_commit_changes_nothing(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    sim.inject(Fault.server_error(503), method="POST", path=PI)
    failed = authorize(client, key="key-503")
    assert failed.status_code == 503 and failed.headers["stripe-should-retry"] == "true"
    assert error_of(failed)["type"] == "api_error"
    assert sim.payment_intents() == []
    retried = authorize(client, key="key-503")  # nothing was saved under the key
    assert retried.status_code == 200 and "idempotent-replayed" not in retried.headers


def test_server_error_after_commit_is_saved_and_replayed(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    sim.inject(Fault.server_error(500, after_commit=True), method="POST", path=PI)
    failed = authorize(client, key="key-500", reference="order-500")
    assert failed.status_code == 500 and error_of(failed)["type"] == "api_error"
    assert len(sim.payment_intents(reference="order-500")) == 1  # the operation was applied
    for _ in range(2):
        replay = authorize(client, key="key-500", reference="order-500")
        assert replay.status_code == 500 and replay.headers["idempotent-replayed"] == "true"
        assert replay.content == failed.content
    assert len(sim.payment_intents(reference="order-500")) == 1


def test_rate_limited_answers_429_with_retry_after(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    sim.inject(Fault.rate_limited(retry_after=0.5), method="POST")
    limited = authorize(client, key="key-429")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "0.5"
    assert error_of(limited)["code"] == "rate_limit"
    assert sim.payment_intents() == []
    assert authorize(client, key="key-429").status_code == 200


def test_reset_before_commit_drops_the_connection_and_changes_nothing(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    sim.inject(Fault.reset_before_commit(), method="POST", path=PI)
    started = time.monotonic()
    with pytest.raises(httpx.TransportError):
        authorize(client, key="key-reset")
    assert time.monotonic() - started < 1.0
    assert sim.payment_intents() == [] and sim.request_count(path=PI) == 1
    response = authorize(client, key="key-reset")  # the client reconnects; the key is free
    assert response.status_code == 200 and "idempotent-replayed" not in response.headers


def test_reset_after_commit_drops_the_connection_after_acting(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    sim.inject(Fault.reset_after_commit(), method="POST", path=PI)
    with pytest.raises(httpx.TransportError):
        authorize(client, key="key-dropped")
    assert len(sim.payment_intents()) == 1
    replay = authorize(client, key="key-dropped")
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == sim.payment_intents()[0]["id"]


def test_timeout_after_commit_holds_the_answer_but_replays_it(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    sim.inject(Fault.timeout_after_commit(hold=0.5), method="POST", path=PI)
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            PI,
            data={"amount": "700", "currency": "eur", "payment_method": "pm_card_visa"},
            headers={"Idempotency-Key": "key-timeout"},
            timeout=httpx.Timeout(5.0, read=0.2),
        )
    [intent] = sim.payment_intents()
    assert intent["amount"] == 700
    replay = client.post(  # while the first connection is still held
        PI,
        data={"amount": "700", "currency": "eur", "payment_method": "pm_card_visa"},
        headers={"Idempotency-Key": "key-timeout"},
    )
    assert replay.headers["idempotent-replayed"] == "true" and replay.json()["id"] == intent["id"]


def test_malformed_json_is_sent_but_the_real_answer_is_saved(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    sim.inject(Fault.malformed_json(), method="POST", path=PI)
    broken = authorize(client, key="key-malformed")
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    [intent] = sim.payment_intents()
    replay = authorize(client, key="key-malformed")
    assert replay.json() == intent


def test_schema_break_sends_valid_json_that_breaks_stripe_shapes(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    pi = authorize(client).json()
    capture = f"{PI}/{pi['id']}/capture"
    sim.inject(Fault.schema_break(), method="POST", path=capture)
    broken = client.post(capture, headers={"Idempotency-Key": "key-schema"}).json()
    assert broken["amount"] == "1234" and "status" not in broken
    assert sim.payment_intent(pi["id"])["status"] == "succeeded"
    replay = client.post(capture, headers={"Idempotency-Key": "key-schema"}).json()
    assert replay["amount"] == 1234 and replay["status"] == "succeeded"


def test_latency_delays_then_answers_normally(client: httpx.Client, sim: StripeSimulator) -> None:
    sim.inject(Fault.latency(0.3), method="GET")
    started = time.monotonic()
    response = client.get(f"{PI}/pi_missing")
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 404


def test_times_counts_and_paths_match_exactly(client: httpx.Client, sim: StripeSimulator) -> None:
    pi = authorize(client).json()
    sim.inject(Fault.server_error(502), times=2, method="POST", path=PI)
    capture = client.post(f"{PI}/{pi['id']}/capture", data={"amount_to_capture": "100"})
    assert capture.status_code == 200  # /capture is not /v1/payment_intents
    assert client.get(f"{PI}/{pi['id']}").status_code == 200  # GET is not POST
    assert [authorize(client).status_code for _ in range(3)] == [502, 502, 200]

    sim.inject(Fault.server_error(503), times=None, path=REFUNDS)
    for _ in range(3):
        assert client.post(REFUNDS, data={"payment_intent": pi["id"]}).status_code == 503
    sim.clear_faults()
    assert client.post(REFUNDS, data={"payment_intent": pi["id"]}).status_code == 200
    assert sim.request_count(method="post", path=REFUNDS) == 4
    assert sim.request_count() == len(sim.requests) == 10


# -- the HTTP control API ------------------------------------------------------------------------
def test_control_api_injects_reports_and_resets(client: httpx.Client, sim: StripeSimulator) -> None:
    control = httpx.Client(base_url=f"{sim.url}/_sim")
    with control:
        injected = control.post(
            "/faults",
            json={
                "fault": {"kind": "server_error", "status": 503},
                "times": 1,
                "method": "POST",
                "path": PI,
            },
        )
        assert injected.status_code == 201
        assert injected.json()["fault"] == {
            "kind": "server_error",
            "status": 503,
            "after_commit": False,
        }
        assert authorize(client).status_code == 503
        assert authorize(client, reference="order-2").status_code == 200

        state = control.get("/state").json()
        assert state["request_count"] == 2 and state["faults"] == []
        assert [pi["metadata"]["reference"] for pi in state["payment_intents"]] == ["order-2"]
        assert state["refunds"] == []

        bad = control.post("/faults", json={"fault": {"kind": "meteor_strike"}})
        assert bad.status_code == 400 and "kind" in bad.json()["error"]["message"]
        assert control.post("/faults", json={"fault": {"kind": "latency"}}).status_code == 400

        for clear in (lambda: control.delete("/faults"), lambda: control.post("/faults/clear")):
            control.post(
                "/faults", json={"fault": {"kind": "latency", "seconds": 2}, "times": None}
            )
            assert clear().json() == {"cleared": 1}
        assert control.post("/reset").json() == {"reset": True}
        assert control.get("/state").json()["payment_intents"] == []
        assert control.get("/nothing").status_code == 404
    assert sim.requests == []  # control calls are never recorded


def test_reset_forgets_objects_keys_faults_and_requests(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    authorize(client, key="key-before-reset")
    sim.inject(Fault.server_error(), times=None, method="GET")
    sim.reset()
    assert sim.payment_intents() == [] and sim.requests == [] and sim.refunds() == []
    response = authorize(client, key="key-before-reset")
    assert response.status_code == 200 and "idempotent-replayed" not in response.headers
    assert client.get(f"{PI}/{response.json()['id']}").status_code == 200


# -- faults as values ------------------------------------------------------------------------------
def test_faults_round_trip_through_json_and_refuse_nonsense() -> None:
    faults = [
        Fault.latency(0.25),
        Fault.server_error(503),
        Fault.server_error(500, after_commit=True),
        Fault.rate_limited(retry_after=2),
        Fault.reset_before_commit(),
        Fault.reset_after_commit(),
        Fault.timeout_after_commit(hold=1.5),
        Fault.malformed_json(),
        Fault.schema_break(),
        Fault.slow_body(interval=0.5),
        Fault.slow_headers(),
        Fault.oversized_body(size=1000),
        Fault.endless_body(),
        Fault.gzip_bomb(size=2**20),
        Fault.foreign(302),
        Fault.foreign(502, after_commit=True),
        Fault.foreign_json(400, truncated=True),
    ]
    for fault in faults:
        assert Fault.from_json(fault.to_json()) == fault
    assert Fault.from_json({"kind": "server_error", "status": 502}).status == 502
    assert repr(Fault.server_error(503)) == (
        "paygate.testing.Fault.server_error(status=503, after_commit=False)"
    )
    assert repr(Fault.latency(1)) == "paygate.testing.Fault.latency(seconds=1.0)"
    assert repr(Fault.slow_body()) == "paygate.testing.Fault.slow_body(interval=1.0)"
    assert repr(Fault.gzip_bomb(size=1024)) == "paygate.testing.Fault.gzip_bomb(size=1024)"
    assert repr(Fault.foreign_json()) == (
        "paygate.testing.Fault.foreign_json(status=409, truncated=False, after_commit=False)"
    )
    assert Fault.from_json({"kind": "gzip_bomb", "size": 4096}).after_commit
    refusals = [
        (lambda: Fault.server_error(404), "5xx"),
        (lambda: Fault.slow_body(interval=0), "more than 0"),
        (lambda: Fault.slow_headers(interval=-1), "interval"),
        (lambda: Fault.oversized_body(size=0), "positive"),
        (lambda: Fault.oversized_body(size=1.5), "positive"),  # type: ignore[arg-type]
        (lambda: Fault.gzip_bomb(size=5 * 2**30), "at most"),
        (lambda: Fault.server_error(503, after_commit=1), "after_commit"),  # type: ignore[arg-type]
        (lambda: Fault.foreign(200), "3xx, 4xx or 5xx"),
        (lambda: Fault.foreign(304), "but 304"),
        (lambda: Fault.foreign_json(409, truncated="yes"), "truncated"),  # type: ignore[arg-type]
        (lambda: Fault.foreign(403, after_commit=1), "after_commit"),  # type: ignore[arg-type]
        (lambda: Fault.from_json({"kind": "endless_body", "size": 1}), "does not take"),
        (lambda: Fault.latency(-1), "seconds"),
        (lambda: Fault.rate_limited(retry_after=float("inf")), "retry_after"),
        (lambda: Fault.from_json({"kind": "reset_before_commit", "seconds": 1}), "does not take"),
        (lambda: Fault.from_json(["latency"]), "JSON object"),
    ]
    for build, message in refusals:
        with pytest.raises(ValueError, match=message):
            build()


def test_inject_refuses_bad_matchers(sim: StripeSimulator) -> None:
    for times, path in [(0, None), (True, None), (1, "v1/payment_intents")]:
        with pytest.raises(ValueError, match=r"^(times|path) must be"):
            sim.inject(Fault.latency(0), times=times, path=path)


# -- the server ------------------------------------------------------------------------------------
def test_keep_alive_serves_many_requests_on_one_connection(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    addresses = set()
    pi = authorize(client).json()
    for _ in range(25):
        response = client.get(f"{PI}/{pi['id']}")
        assert response.status_code == 200
        addresses.add(response.extensions["network_stream"].get_extra_info("client_addr"))
    assert len(addresses) == 1
    assert sim.request_count(method="GET") == 25


def test_concurrent_clients_each_get_their_own_payment(sim: StripeSimulator) -> None:
    def run(n: int) -> None:
        with httpx.Client(base_url=sim.url, auth=(API_KEY, "")) as http:
            for i in range(5):
                assert authorize(http, reference=f"order-{n}-{i}", key=f"k-{n}-{i}").is_success

    threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    intents = sim.payment_intents()
    assert len(intents) == 30 and len({pi["id"] for pi in intents}) == 30


def test_stop_closes_idle_connections_and_leaves_no_thread() -> None:
    before = set(threading.enumerate())
    simulator = StripeSimulator()
    assert "not running" in repr(simulator)
    with pytest.raises(RuntimeError):
        _ = simulator.url
    timeout = httpx.Timeout(5.0, read=0.2)
    with (
        simulator,
        httpx.Client(base_url=simulator.url, auth=(API_KEY, ""), timeout=timeout) as http,
    ):
        assert repr(simulator) == f"paygate.testing.StripeSimulator({simulator.url})"
        assert http.get(f"{PI}/pi_1").status_code == 404  # leaves an idle keep-alive connection
        simulator.inject(Fault.timeout_after_commit(hold=30), method="POST")
        with pytest.raises(httpx.ReadTimeout):
            authorize(http, key="k")
        with pytest.raises(RuntimeError):
            simulator.start()
        started = time.monotonic()
        simulator.stop()
        assert time.monotonic() - started < 2.0  # the 30 s hold ended with the server
    assert set(threading.enumerate()) <= before


def test_a_body_cut_short_by_a_departing_client_is_no_request(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    """A client whose deadline cut its write between the headers and the body: the provider's
    server acts on nothing (a real one never sees a complete request), so a later request under
    the same key is the first one it knows."""
    target = urlsplit(sim.url)
    head = (
        f"POST {PI}/pi_missing/capture HTTP/1.1\r\nHost: {target.netloc}\r\n"
        f"Authorization: Bearer {API_KEY}\r\nIdempotency-Key: cut-1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\nexpand"
    )
    with socket.create_connection((target.hostname, target.port), timeout=5) as raw:
        raw.sendall(head.encode())
        raw.shutdown(socket.SHUT_WR)  # gone mid-body
        answer = raw.recv(65536)  # EOF once the server has finished with the connection
    assert answer == b""
    assert sim.requests == []
    reply = authorize(client, key="cut-1")
    assert reply.status_code == 200, reply.text  # the key was never taken
