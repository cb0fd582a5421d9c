"""The Adyen simulator, spoken to with plain httpx: Adyen's Checkout wire format, test cards and
holder names, asynchronous modifications and their signed webhooks, idempotency rules, every
fault kind, the HTTP control API and webhook delivery to a URL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from paygate.testing import (
    AdyenSimulator,
    AdyenWebhook,
    Fault,
    WebhookDelivery,
    adyen_hmac_signature,
)
from paygate.testing.adyen._webhooks import signing_string

MERCHANT = "PaygateTestMerchant"
PAYMENTS = "/v71/payments"
VECTORS = Path(__file__).resolve().parents[3] / "shared/providers/adyen/webhook_vectors.json"
PSP = re.compile(r"[A-Z0-9]{16}")


@pytest.fixture(scope="module")
def adyen() -> Iterator[AdyenSimulator]:
    with AdyenSimulator() as simulator:
        yield simulator


@pytest.fixture
def sim(adyen: AdyenSimulator) -> Iterator[AdyenSimulator]:
    """This module's simulator is Adyen's (the conftest's ``sim`` is Stripe's)."""
    adyen.reset()
    yield adyen
    adyen.reset()


@pytest.fixture
def client(sim: AdyenSimulator) -> Iterator[httpx.Client]:
    headers = {"X-API-Key": "AQE-simulator-suite-key"}
    with httpx.Client(base_url=sim.url, headers=headers, timeout=5.0) as http:
        yield http


RETURN_URL = "https://shop.example/return"


def card(number: str = "4111111145551142", **fields: str) -> dict[str, str]:
    cvc = "7373" if number.startswith("37") else "737"
    method = {"type": "scheme", "number": number, "expiryMonth": "03", "expiryYear": "2030"}
    return {**method, "cvc": cvc, "holderName": "Jo Tester", **fields}


def pay(
    client: httpx.Client,
    *,
    value: int = 1000,
    reference: str = "order-1",
    method: dict[str, str] | None = None,
    manual: bool = True,
    key: str | None = None,
    path: str = PAYMENTS,
    **extra: Any,
) -> httpx.Response:
    body: dict[str, Any] = {
        "merchantAccount": MERCHANT,
        "amount": {"value": value, "currency": "EUR"},
        "reference": reference,
        "paymentMethod": card() if method is None else method,
        **extra,
    }
    if manual:
        body.setdefault("additionalData", {})["manualCapture"] = "true"
    return client.post(path, json=body, headers={"Idempotency-Key": key} if key else {})


def modify(
    client: httpx.Client,
    psp: str,
    kind: str,
    value: int | None = None,
    *,
    key: str | None = None,
    **extra: Any,
) -> httpx.Response:
    body: dict[str, Any] = {"merchantAccount": MERCHANT, **extra}
    if value is not None:
        body["amount"] = {"value": value, "currency": "EUR"}
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(f"{PAYMENTS}/{psp}/{kind}", json=body, headers=headers)


def authorised(client: httpx.Client, **options: Any) -> str:
    response = pay(client, **options)
    assert response.json()["resultCode"] == "Authorised"
    psp: str = response.json()["pspReference"]
    return psp


def stored(sim: AdyenSimulator, psp: str) -> dict[str, Any]:
    payment = sim.payment(psp)
    assert payment is not None, psp
    return payment


def events(sim: AdyenSimulator) -> list[tuple[str, str]]:
    return [(w.event_code, w.item["success"]) for w in sim.webhooks()]


def independent_signature(item: dict[str, Any], key: str) -> str:
    amount = item.get("amount", {})
    names = ["pspReference", "originalReference", "merchantAccountCode", "merchantReference"]
    parts = [str(item.get(n, "")) for n in names]
    parts += [str(amount.get("value", "")), amount.get("currency", "")]
    parts += [item["eventCode"], item["success"]]
    mac = hmac.new(bytes.fromhex(key), ":".join(parts).encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


# -- payments --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4111111145551142", "visa"),
        ("5555341244441115", "mc"),
        ("370000000000002", "amex"),
        ("4111111111111111", "visa"),
    ],
)
def test_test_cards_are_authorised_with_an_authorisation_webhook(
    client: httpx.Client, sim: AdyenSimulator, number: str, brand: str
) -> None:
    response = pay(client, method=card(number), metadata={"order": "42"})
    assert response.status_code == 200
    body = response.json()
    assert (
        PSP.fullmatch(body["pspReference"])
        and response.headers["pspReference"] == (body["pspReference"])
    )
    assert (body["resultCode"], body["merchantReference"]) == ("Authorised", "order-1")
    assert body["amount"] == {"value": 1000, "currency": "EUR"}
    assert "refusalReason" not in body and "action" not in body
    assert body["paymentMethod"] == {"brand": brand, "type": "scheme"}
    assert body["additionalData"]["cardSummary"] == number[-4:]
    assert "idempotency-key" not in response.headers

    payment = sim.payment(body["pspReference"])
    assert payment is not None
    assert (payment["status"], payment["manualCapture"], payment["captured"]) == (
        "authorised",
        True,
        0,
    )
    assert payment["metadata"] == {"order": "42"} and payment["paymentMethod"] == brand
    [webhook] = sim.webhooks()
    assert isinstance(webhook, WebhookDelivery) and isinstance(webhook, AdyenWebhook)
    item = webhook.item
    assert (webhook.event_code, webhook.success, webhook.payment_id) == (
        "AUTHORISATION",
        True,
        body["pspReference"],
    )
    assert item["pspReference"] == body["pspReference"] and "originalReference" not in item
    assert item["operations"] == ["CANCEL", "CAPTURE", "REFUND"]
    assert item["reason"].endswith(f":{number[-4:]}:03/2030")
    assert sim.payment("NOSUCHPAYMENT000") is None


TRIGGERS = [
    ("UNKNOWN", "Error", "Unknown", "0"),
    ("APPROVED", "Authorised", None, None),
    ("DECLINED", "Refused", "Refused", "2"),
    ("REFERRAL", "Refused", "Referral", "3"),
    ("ERROR", "Error", "Acquirer Error", "4"),
    ("BLOCK_CARD", "Refused", "Blocked Card", "5"),
    ("CARD_EXPIRED", "Refused", "Expired Card", "6"),
    ("INVALID_AMOUNT", "Refused", "Invalid Amount", "7"),
    ("INVALID_CARD_NUMBER", "Refused", "Invalid Card Number", "8"),
    ("ISSUER_UNAVAILABLE", "Refused", "Issuer Unavailable", "9"),
    ("NOT_SUPPORTED", "Refused", "Not supported", "10"),
    ("NOT_3D_AUTHENTICATED", "Refused", "3D Not Authenticated", "11"),
    ("NOT_ENOUGH_BALANCE", "Refused", "Not enough balance", "12"),
    ("PENDING", "Received", None, None),
    ("ACQUIRER_FRAUD", "Refused", "Acquirer Fraud", "14"),
    ("CANCELLED", "Refused", "Cancelled", "15"),
    ("SHOPPER_CANCELLED", "Refused", "Shopper Cancelled", "16"),
    ("CVC_DECLINED", "Refused", "CVC Declined", "24"),
]


@pytest.mark.parametrize(("holder", "result_code", "reason", "code"), TRIGGERS)
def test_holder_names_force_the_acquirer_result(
    client: httpx.Client,
    sim: AdyenSimulator,
    holder: str,
    result_code: str,
    reason: str | None,
    code: str | None,
) -> None:
    body = pay(client, method=card(holderName=holder)).json()
    assert (body["resultCode"], body.get("refusalReason"), body.get("refusalReasonCode")) == (
        result_code,
        reason,
        code,
    )
    payment = sim.payment(body["pspReference"])
    assert payment is not None and payment["resultCode"] == result_code
    if result_code == "Received":  # the outcome would come later: nothing to report yet
        assert payment["status"] == "received" and sim.webhooks() == []
        return
    [webhook] = sim.webhooks()
    assert webhook.event_code == "AUTHORISATION"
    assert webhook.success is (result_code == "Authorised")
    if reason is not None:
        assert webhook.reason == reason and "operations" not in webhook.item


@pytest.mark.parametrize(
    ("code", "result_code", "reason"),
    [
        ("2", "Refused", "Refused"),
        ("12", "Refused", "Not enough balance"),
        ("4", "Error", "Acquirer Error"),
        ("1", "Authorised", None),
    ],
)
def test_requested_test_acquirer_response_code_wins_over_the_holder_name(
    client: httpx.Client, code: str, result_code: str, reason: str | None
) -> None:
    additional = {"RequestedTestAcquirerResponseCode": code}
    body = pay(
        client, method=card(holderName="DECLINED"), manual=False, additionalData=additional
    ).json()
    assert (body["resultCode"], body.get("refusalReason")) == (result_code, reason)


def test_three_ds_card_answers_redirect_shopper_then_details(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    """The shopper is redirected before the payment is named: no pspReference until
    /payments/details carries the redirectResult they came back with, as on Adyen."""
    no_return = pay(client, method=card("4917610000000000"))
    assert (no_return.status_code, no_return.json()["errorCode"]) == (422, "100")
    assert "returnUrl" in no_return.json()["message"]

    body = pay(client, method=card("4917610000000000"), returnUrl=RETURN_URL).json()
    assert body["resultCode"] == "RedirectShopper" and "pspReference" not in body
    action = body["action"]
    assert (action["type"], action["paymentMethodType"], action["method"]) == (
        "redirect",
        "scheme",
        "GET",
    )
    assert action["url"].startswith("https://")
    [waiting] = sim.payments(reference="order-1")
    assert waiting["status"] == "redirect" and sim.webhooks() == []

    # The shopper, through the control API (as a test in another language would).
    shopper = client.post(f"{sim.url}/_sim/authenticate", json={"url": action["url"]})
    details = shopper.json()["details"]
    assert shopper.status_code == 200 and set(details) == {"redirectResult"}
    done = client.post(f"{sim.url}/v71/payments/details", json={"details": details})
    answer = done.json()
    assert (done.status_code, answer["resultCode"]) == (200, "Authorised")
    assert answer["pspReference"] == waiting["pspReference"]
    assert answer["merchantReference"] == "order-1"
    assert answer["amount"] == {"value": 1000, "currency": "EUR"}
    assert events(sim) == [("AUTHORISATION", "true")]
    again = client.post(f"{sim.url}/v71/payments/details", json={"details": details})
    assert again.json() == answer and len(sim.webhooks()) == 1  # the same answer, no new event
    assert stored(sim, answer["pspReference"])["status"] == "authorised"

    used = client.post(f"{sim.url}/_sim/authenticate", json={"url": action["url"]})
    assert used.status_code == 400  # the shopper has been there
    unknown = client.post(
        f"{sim.url}/v71/payments/details", json={"details": {"redirectResult": "x"}}
    )
    assert unknown.status_code == 422
    missing = client.post(f"{sim.url}/v71/payments/details", json={})
    assert (missing.status_code, missing.json()["errorCode"]) == (422, "100")


def test_a_failed_challenge_is_refused_with_its_reason(sim: AdyenSimulator) -> None:
    from paygate import ActionKind, NextAction

    with httpx.Client(base_url=sim.url, headers={"X-API-Key": "k"}) as client:
        body = pay(client, method=card("4917610000000000"), returnUrl=RETURN_URL).json()
        page = NextAction(
            type="redirect", kind=ActionKind.REDIRECT, redirect_url=body["action"]["url"]
        )
        details = sim.authenticate(page, passed=False)
        answer = client.post("/v71/payments/details", json={"details": details}).json()
    assert (answer["resultCode"], answer["refusalReason"], answer["refusalReasonCode"]) == (
        "Refused", "3D Not Authenticated", "11",
    )  # fmt: skip
    assert events(sim) == [("AUTHORISATION", "false")]


@pytest.mark.parametrize(
    ("stored_id", "result_code", "reason"),
    [
        ("sim_stored_visa", "Authorised", None),
        ("sim_stored_mastercard", "Authorised", None),
        ("sim_stored_3ds", "RedirectShopper", None),
        ("sim_stored_declined", "Refused", "Refused"),
        ("sim_stored_insufficient_funds", "Refused", "Not enough balance"),
        ("sim_stored_expired", "Refused", "Expired Card"),
        ("sim_stored_cvc_declined", "Refused", "CVC Declined"),
        ("sim_stored_fraud", "Refused", "Acquirer Fraud"),
    ],
)
def test_stored_payment_methods(
    client: httpx.Client, sim: AdyenSimulator, stored_id: str, result_code: str, reason: str | None
) -> None:
    method = {"type": "scheme", "storedPaymentMethodId": stored_id}
    body = pay(
        client,
        method=method,
        shopperReference="shopper-1",
        shopperInteraction="ContAuth",
        recurringProcessingModel="CardOnFile",
        returnUrl=RETURN_URL,
    ).json()
    assert (body["resultCode"], body.get("refusalReason")) == (result_code, reason)
    [payment] = sim.payments(reference="order-1")  # a redirect names no pspReference yet
    assert (payment["storedPaymentMethodId"], payment["shopperReference"]) == (
        stored_id,
        "shopper-1",
    )


def test_unknown_stored_method_and_missing_shopper_reference_are_422(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    method = {"type": "scheme", "storedPaymentMethodId": "sim_stored_nothing"}
    unknown = pay(client, method=method, shopperReference="shopper-1")
    assert (unknown.status_code, unknown.json()["errorCode"]) == (422, "803")
    method["storedPaymentMethodId"] = "sim_stored_visa"
    anonymous = pay(client, method=method)
    assert (anonymous.status_code, anonymous.json()["errorCode"]) == (422, "100")
    assert "shopperReference" in anonymous.json()["message"]
    assert sim.payments() == []


def test_automatic_capture_counts_as_captured_without_a_capture_webhook(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    psp = authorised(client, manual=False)
    payment = sim.payment(psp)
    assert payment is not None and (payment["manualCapture"], payment["captured"]) == (False, 1000)
    assert events(sim) == [("AUTHORISATION", "true")]
    assert sim.webhooks()[0].item["operations"] == ["REFUND"]
    assert modify(client, psp, "refunds", 400).status_code == 201
    sim.process_modifications()
    assert events(sim)[1:] == [("REFUND", "true")]


def test_both_api_versions_are_served(client: httpx.Client, sim: AdyenSimulator) -> None:
    assert pay(client, path="/v72/payments").json()["resultCode"] == "Authorised"
    psp = sim.payments()[0]["pspReference"]
    response = client.post(f"/v72/payments/{psp}/cancels", json={"merchantAccount": MERCHANT})
    assert response.status_code == 201
    for method, path in [
        ("GET", PAYMENTS),
        ("POST", "/v70/payments"),
        ("POST", f"{PAYMENTS}/{psp}/adjustments"),
        ("POST", "/v71/paymentMethods"),
    ]:
        missing = client.request(method, path, json={"merchantAccount": MERCHANT})
        assert missing.status_code == 404, (method, path)
        assert missing.json()["status"] == 404 and path in missing.json()["message"]


# -- validation and auth ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "status", "code", "named"),
    [
        ({"amount": None}, 422, "100", "amount"),
        ({"amount": {"currency": "EUR"}}, 422, "100", "amount.value"),
        ({"amount": {"value": 5}}, 422, "100", "amount.currency"),
        ({"reference": None}, 422, "100", "reference"),
        ({"paymentMethod": None}, 422, "100", "paymentMethod"),
        ({"paymentMethod": card(number="")}, 422, "100", "paymentMethod.number"),
        ({"paymentMethod": card(expiryYear="")}, 422, "100", "paymentMethod.expiryYear"),
        ({"paymentMethod": card("4111111145551143")}, 422, "101", None),
        ({"paymentMethod": card("4111 1111 4555 1142")}, 422, "101", None),
        ({"paymentMethod": card("6011111111111117")}, 422, "102", None),
        ({"paymentMethod": card(cvc="73")}, 422, "103", None),
        ({"paymentMethod": card("370000000000002", cvc="737")}, 422, "103", None),
        ({"paymentMethod": card(expiryMonth="13")}, 422, "129", None),
        ({"paymentMethod": {"type": "alipay"}}, 422, "905", None),
        ({"amount": {"value": -1, "currency": "EUR"}}, 422, "137", None),
        ({"amount": {"value": 100, "currency": "eur"}}, 422, "138", None),
        ({"amount": {"value": "10.00", "currency": "EUR"}}, 400, "702", "amount.value"),
        ({"reference": 42}, 400, "702", "reference"),
        ({"metadata": {"n": 1}}, 400, "702", "metadata"),
        ({"shopperInteraction": "Phone"}, 400, "702", "shopperInteraction"),
        ({"additionalData": {"manualCapture": "yes"}}, 400, "702", "manualCapture"),
        ({"additionalData": {"RequestedTestAcquirerResponseCode": "99"}}, 400, "702", None),
    ],
)
def test_invalid_payment_requests_are_refused_before_anything_happens(
    client: httpx.Client,
    sim: AdyenSimulator,
    change: dict[str, Any],
    status: int,
    code: str,
    named: str | None,
) -> None:
    body: dict[str, Any] = {
        "merchantAccount": MERCHANT,
        "amount": {"value": 1000, "currency": "EUR"},
        "reference": "order-bad",
        "paymentMethod": card(),
    }
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post(PAYMENTS, json=body, headers={"Idempotency-Key": "key-invalid"})
    assert response.status_code == status
    error = response.json()
    assert (error["status"], error["errorCode"], error["errorType"]) == (
        status,
        code,
        "configuration" if code == "905" else "validation",
    )
    assert PSP.fullmatch(error["pspReference"])
    assert response.headers["idempotency-key"] == "key-invalid"
    if named is not None:
        assert named in error["message"]
    assert sim.payments() == [] and sim.webhooks() == []
    # A refusal before execution is not saved: the key is still free for a valid request.
    assert pay(client, key="key-invalid").json()["resultCode"] == "Authorised"


def test_a_past_expiry_date_is_refused_as_expired_card(client: httpx.Client) -> None:
    body = pay(client, method=card(expiryMonth="1", expiryYear="2021")).json()
    assert (body["resultCode"], body["refusalReason"], body["refusalReasonCode"]) == (
        "Refused",
        "Expired Card",
        "6",
    )


def test_unreadable_bodies_are_400(client: httpx.Client, sim: AdyenSimulator) -> None:
    for content in (b"{", b"[1, 2]", b"\xff"):
        response = client.post(PAYMENTS, content=content)
        assert response.status_code == 400 and response.json()["errorCode"] == "702"
    assert sim.request_count(method="POST", path=PAYMENTS) == 3


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": ""}, {"Authorization": "Bearer x"}])
def test_requests_without_an_api_key_get_401(sim: AdyenSimulator, headers: dict[str, str]) -> None:
    response = httpx.post(
        f"{sim.url}{PAYMENTS}", json={"merchantAccount": MERCHANT}, headers=headers
    )
    assert response.status_code == 401
    assert response.json() == {
        "status": 401,
        "errorCode": "000",
        "message": "HTTP Status Response - Unauthorized",
        "errorType": "security",
    }
    assert PSP.fullmatch(response.headers["pspReference"])


def test_a_configured_api_key_is_the_only_one_accepted() -> None:
    with AdyenSimulator(api_key="AQE-the-one-key") as simulator:
        url = f"{simulator.url}{PAYMENTS}"
        wrong = httpx.post(url, json={}, headers={"X-API-Key": "AQE-another-key"})
        assert wrong.status_code == 401
        right = httpx.post(url, json={}, headers={"X-API-Key": "AQE-the-one-key"})
        assert (right.status_code, right.json()["errorCode"]) == (422, "100")


def test_another_merchant_account_is_403(client: httpx.Client, sim: AdyenSimulator) -> None:
    response = pay(client, merchantAccount="SomeoneElsesMerchant")
    assert response.status_code == 403
    assert (response.json()["errorCode"], response.json()["errorType"]) == ("010", "security")
    psp = authorised(client)
    amount = {"value": 1000, "currency": "EUR"}
    other = client.post(
        f"{PAYMENTS}/{psp}/captures", json={"merchantAccount": "Other", "amount": amount}
    )
    assert other.status_code == 403
    assert len(sim.payments()) == 1 and sim.modifications() == []


# -- modifications ---------------------------------------------------------------------------------
def test_capture_is_received_then_decided_when_processed(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    psp = authorised(client)
    response = modify(client, psp, "captures", 1000, reference="capture-1")
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "merchantAccount": MERCHANT,
        "paymentPspReference": psp,
        "pspReference": body["pspReference"],
        "reference": "capture-1",
        "status": "received",
        "amount": {"value": 1000, "currency": "EUR"},
    }
    assert PSP.fullmatch(body["pspReference"]) and body["pspReference"] != psp
    assert response.headers["pspReference"] == body["pspReference"]
    assert stored(sim, psp)["captured"] == 0
    [pending] = sim.modifications(psp)
    assert (pending["type"], pending["status"]) == ("capture", "received")
    assert events(sim) == [("AUTHORISATION", "true")]

    [processed] = sim.process_modifications()
    assert (processed["status"], processed["reason"]) == ("processed", None)
    assert sim.process_modifications() == []
    assert stored(sim, psp)["captured"] == 1000
    capture = sim.webhooks()[1]
    item = capture.item
    assert (capture.event_code, capture.success, capture.payment_id) == ("CAPTURE", True, psp)
    assert (item["pspReference"], item["originalReference"]) == (body["pspReference"], psp)
    assert item["merchantReference"] == "capture-1" and item["reason"] == ""
    assert item["amount"] == {"value": 1000, "currency": "EUR"}


def test_partial_capture_releases_the_remainder(client: httpx.Client, sim: AdyenSimulator) -> None:
    psp = authorised(client)
    modify(client, psp, "captures", 600)
    modify(client, psp, "captures", 400)  # no multiple partial captures
    modify(client, psp, "cancels")  # too late: something was captured
    sim.process_modifications()
    assert events(sim) == [
        ("AUTHORISATION", "true"),
        ("CAPTURE", "true"),
        ("CAPTURE", "false"),
        ("CANCELLATION", "false"),
    ]
    assert [m["status"] for m in sim.modifications(psp)] == ["processed", "failed", "failed"]
    assert stored(sim, psp)["captured"] == 600
    assert sim.webhooks()[2].reason


def test_capture_above_the_authorised_amount_fails_in_its_webhook(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    psp = authorised(client)
    assert modify(client, psp, "captures", 1001).status_code == 201  # accepted, then refused
    [failed] = sim.process_modifications()
    assert failed["status"] == "failed" and "exceeds" in failed["reason"]
    capture = sim.webhooks()[-1]
    assert (capture.event_code, capture.success, capture.reason) == (
        "CAPTURE",
        False,
        failed["reason"],
    )
    assert stored(sim, psp)["captured"] == 0


def test_cancel_before_capture_then_nothing_else_works(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    psp = authorised(client)
    cancel = modify(client, psp, "cancels", reference="void-1")
    assert cancel.status_code == 201
    assert "amount" not in cancel.json() and cancel.json()["reference"] == "void-1"
    modify(client, psp, "captures", 500)
    modify(client, psp, "cancels")
    sim.process_modifications()
    assert events(sim)[1:] == [
        ("CANCELLATION", "true"),
        ("CAPTURE", "false"),
        ("CANCELLATION", "false"),
    ]
    cancellation = sim.webhooks()[1].item
    assert cancellation["amount"] == {"value": 1000, "currency": "EUR"}  # the payment's
    assert stored(sim, psp)["cancelled"] is True


def test_refunds_up_to_what_was_captured(client: httpx.Client, sim: AdyenSimulator) -> None:
    psp = authorised(client)
    modify(client, psp, "refunds", 100)  # before any capture
    modify(client, psp, "captures", 800)
    for value in (300, 200, 301, 300):  # the third is one more than what is left
        assert modify(client, psp, "refunds", value).status_code == 201
    sim.process_modifications()
    assert events(sim)[1:] == [
        ("REFUND", "false"),
        ("CAPTURE", "true"),
        ("REFUND", "true"),
        ("REFUND", "true"),
        ("REFUND", "false"),
        ("REFUND", "true"),
    ]
    assert sim.webhooks()[1].reason == "Transaction hasn't been captured, refund not possible"
    payment = sim.payment(psp)
    assert payment is not None and (payment["captured"], payment["refunded"]) == (800, 800)
    refunds = [m for m in sim.modifications(psp) if m["type"] == "refund"]
    assert [m["status"] for m in refunds] == [
        "failed",
        "processed",
        "processed",
        "failed",
        "processed",
    ]


def test_reversal_cancels_or_refunds(client: httpx.Client, sim: AdyenSimulator) -> None:
    held = authorised(client, reference="held")
    captured = authorised(client, reference="captured", manual=False)
    modify(client, captured, "refunds", 250)
    for psp in (held, captured):
        assert modify(client, psp, "reversals").status_code == 201
    sim.process_modifications()
    reversals = [w for w in sim.webhooks() if w.event_code == "CANCEL_OR_REFUND"]
    assert [
        (w.payment_id, w.success, w.item["additionalData"]["modification.action"])
        for w in reversals
    ] == [
        (held, True, "cancel"),
        (captured, True, "refund"),
    ]
    assert stored(sim, held)["cancelled"] is True
    assert stored(sim, captured)["refunded"] == 1000


def test_modifications_of_refused_payments_fail(client: httpx.Client, sim: AdyenSimulator) -> None:
    psp = pay(client, method=card(holderName="DECLINED")).json()["pspReference"]
    for kind, value in [("captures", 1000), ("cancels", None), ("refunds", 10)]:
        assert modify(client, psp, kind, value).status_code == 201
    sim.process_modifications()
    assert [success for _, success in events(sim)] == ["false"] * 4


def test_invalid_modification_requests(client: httpx.Client, sim: AdyenSimulator) -> None:
    unknown = modify(client, "NOSUCHPAYMENT000", "captures", 100)
    assert unknown.status_code == 422
    assert (unknown.json()["errorCode"], unknown.json()["message"]) == (
        "167",
        "Original pspReference required for this operation",
    )
    psp = authorised(client)
    no_amount = modify(client, psp, "refunds")
    assert (no_amount.status_code, no_amount.json()["errorCode"]) == (422, "100")
    zero = modify(client, psp, "captures", 0)
    assert (zero.status_code, zero.json()["errorCode"]) == (422, "137")
    assert sim.modifications() == []


def test_auto_process_decides_modifications_at_once() -> None:
    with (
        AdyenSimulator(auto_process=True) as simulator,
        httpx.Client(base_url=simulator.url, headers={"X-API-Key": "k"}) as http,
    ):
        psp = authorised(http)
        modify(http, psp, "captures", 1000)
        assert [m["status"] for m in simulator.modifications()] == ["processed"]
        assert events(simulator) == [("AUTHORISATION", "true"), ("CAPTURE", "true")]
        assert simulator.process_modifications() == []


# -- webhooks --------------------------------------------------------------------------------------
def test_webhooks_are_signed_ordered_and_drained(client: httpx.Client, sim: AdyenSimulator) -> None:
    psp = authorised(client, reference="order-sig")
    modify(client, psp, "captures", 700)
    modify(client, psp, "refunds", 200)
    sim.process_modifications()
    pending = sim.webhooks()
    assert [w.event_code for w in pending] == ["AUTHORISATION", "CAPTURE", "REFUND"]
    for webhook in pending:
        assert webhook.headers == {"Content-Type": "application/json"}
        request = json.loads(webhook.body)
        assert request["live"] == "false"
        [wrapper] = request["notificationItems"]
        item = wrapper["NotificationRequestItem"]
        assert item == webhook.item
        assert item["merchantAccountCode"] == MERCHANT and item["merchantReference"] == "order-sig"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", item["eventDate"])
        signature = item["additionalData"]["hmacSignature"]
        assert signature == adyen_hmac_signature(item, sim.hmac_key)
        assert signature == independent_signature(item, sim.hmac_key)
        assert signature != independent_signature(item, "00" * 32)
        assert webhook.payment_id == psp
        assert repr(webhook).startswith(f"paygate.testing.AdyenWebhook({webhook.event_code} ")

    batch = json.loads(sim.batch_webhooks())
    assert [w["NotificationRequestItem"] for w in batch["notificationItems"]] == [
        w.item for w in pending
    ]
    assert sim.drain_webhooks() == pending
    assert sim.webhooks() == [] and sim.drain_webhooks() == []


def test_signer_matches_adyens_published_vectors() -> None:
    if not VECTORS.is_file():
        pytest.skip(f"Adyen HMAC vectors not found at {VECTORS}")
    vectors = json.loads(VECTORS.read_text())
    for vector in vectors["notification_item_vectors"]:
        item = vector["notification_request_item"]
        assert signing_string(item) == vector["signing_string"], vector["name"]
        signature = adyen_hmac_signature(item, vector["hmac_key_hex"])
        assert (signature == vector["expected_hmac_signature"]) is vector["expected_valid"]
    for vector in vectors["signing_string_only_vectors"]:
        item = vector["notification_request_item"]
        assert signing_string(item) == vector["expected_signing_string"], vector["name"]


def test_hmac_key_defaults_to_a_random_hex_key_and_is_checked() -> None:
    keys = {AdyenSimulator().hmac_key for _ in range(2)}
    assert len(keys) == 2 and all(re.fullmatch(r"[0-9A-F]{64}", k) for k in keys)
    assert AdyenSimulator(hmac_key="44782def").hmac_key == "44782def"
    for bad in ("", "xyz", "abc", "ab cd"):
        with pytest.raises(ValueError, match="hmac_key"):
            AdyenSimulator(hmac_key=bad)
    with pytest.raises(ValueError, match="webhook_url"):
        AdyenSimulator(webhook_url="ftp://example.invalid/hooks")


class _Receiver(BaseHTTPRequestHandler):
    status = 200
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/adyen/webhooks", handler
    server.shutdown()
    server.server_close()
    thread.join()


def test_webhook_url_gets_each_webhook_posted_once(
    receiver: tuple[str, type[_Receiver]],
) -> None:
    url, handler = receiver
    with (
        AdyenSimulator(webhook_url=url) as simulator,
        httpx.Client(base_url=simulator.url, headers={"X-API-Key": "k"}) as http,
    ):
        psp = authorised(http)
        modify(http, psp, "captures", 1000)
        simulator.process_modifications()
        assert simulator.wait_for_webhooks(timeout=5.0)
        handler.status = 500  # a failing receiver is recorded, never retried
        pay(http, method=card(holderName="DECLINED"))
        assert simulator.wait_for_webhooks(timeout=5.0)
        results = simulator.webhook_results()
    assert [(w.event_code, status) for w, status in results] == [
        ("AUTHORISATION", 200),
        ("CAPTURE", 200),
        ("AUTHORISATION", 500),
    ]
    assert [body for _, body in handler.received] == [w.body for w, _ in results]
    headers, body = handler.received[1]
    assert headers["Content-Type"] == "application/json"
    item = json.loads(body)["notificationItems"][0]["NotificationRequestItem"]
    assert item["additionalData"]["hmacSignature"] == independent_signature(
        item, simulator.hmac_key
    )
    assert len(simulator.webhooks()) == 3  # still queued for the test to deliver itself


def test_an_unreachable_webhook_url_is_recorded_as_failed() -> None:
    with (
        AdyenSimulator(webhook_url="http://127.0.0.1:9/nothing-listens") as simulator,
        httpx.Client(base_url=simulator.url, headers={"X-API-Key": "k"}) as http,
    ):
        authorised(http)
        assert simulator.wait_for_webhooks(timeout=5.0)
        [(webhook, status)] = simulator.webhook_results()
    assert webhook.event_code == "AUTHORISATION" and status is None
    assert AdyenSimulator().wait_for_webhooks(timeout=0) is True


# -- idempotency -----------------------------------------------------------------------------------
def test_a_repeat_with_the_same_key_replays_the_first_answer(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    first = pay(client, key="key-replay")
    again = pay(client, key="key-replay")
    assert (first.headers["idempotency-key"], again.headers["idempotency-key"]) == (
        "key-replay",
        "key-replay",
    )
    assert again.status_code == first.status_code == 200 and again.content == first.content
    assert again.headers["pspReference"] == first.json()["pspReference"]
    # Adyen documents no error for a key reused with another payload: the first answer wins.
    other = pay(client, key="key-replay", value=5, reference="order-other")
    assert other.content == first.content
    assert len(sim.payments()) == 1 and len(sim.webhooks()) == 1

    psp = first.json()["pspReference"]
    captures = [modify(client, psp, "captures", 1000, key="key-capture") for _ in range(2)]
    assert captures[0].status_code == captures[1].status_code == 201
    assert captures[0].content == captures[1].content
    assert len(sim.modifications(psp)) == 1
    declined = [pay(client, method=card(holderName="DECLINED"), key="key-402") for _ in range(2)]
    assert declined[0].content == declined[1].content and len(sim.payments()) == 2
    unknown = [modify(client, "NOSUCHPAYMENT000", "cancels", key="key-167") for _ in range(2)]
    assert unknown[1].status_code == 422 and unknown[0].content == unknown[1].content


def test_keys_are_scoped_to_the_merchant_account_not_the_api_key(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    pay(client, key="key-shared")
    with httpx.Client(base_url=sim.url, headers={"X-API-Key": "AQE-another-user"}) as other:
        replay = pay(other, key="key-shared")
    assert replay.json()["pspReference"] == sim.payments()[0]["pspReference"]
    assert len(sim.payments()) == 1


def test_a_repeat_while_the_first_still_runs_gets_704(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    sim.inject(Fault.latency(0.5), method="POST", path=PAYMENTS)
    results: list[httpx.Response] = []
    slow = threading.Thread(target=lambda: results.append(pay(client, key="key-busy")))
    slow.start()
    while sim.request_count(path=PAYMENTS) < 1:
        time.sleep(0.005)
    while sim.keys_running() < 1:  # the first request now holds the key, for 0.5 s
        time.sleep(0.005)
    with httpx.Client(base_url=sim.url, headers={"X-API-Key": "k"}) as second:
        busy = pay(second, key="key-busy")
    slow.join()
    assert busy.status_code == 422
    error = busy.json()
    assert (error["status"], error["errorCode"], error["errorType"]) == (422, "704", "validation")
    assert error["message"] == "request already processed or in progress"
    assert busy.headers["transient-error"] == "true"
    assert busy.headers["idempotency-key"] == "key-busy"
    assert results[0].status_code == 200 and len(sim.payments()) == 1
    after = pay(client, key="key-busy")  # the first one finished: now it replays
    assert after.content == results[0].content


# -- faults ----------------------------------------------------------------------------------------
def test_server_error_before_commit_changes_nothing(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    sim.inject(Fault.server_error(503), method="POST", path=PAYMENTS)
    failed = pay(client, key="key-503")
    assert failed.status_code == 503 and failed.headers["transient-error"] == "true"
    assert failed.headers["idempotency-key"] == "key-503"
    error = failed.json()
    assert (error["status"], error["errorType"]) == (503, "internal")
    assert (
        isinstance(error["errorCode"], str)
        and failed.headers["pspReference"] == (error["pspReference"])
    )
    assert sim.payments() == [] and sim.webhooks() == []
    retried = pay(client, key="key-503")  # nothing was saved under the key
    assert retried.status_code == 200 and len(sim.payments()) == 1


def test_server_error_after_commit_is_transient_and_the_real_answer_is_saved(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    sim.inject(Fault.server_error(500, after_commit=True), method="POST", path=PAYMENTS)
    failed = pay(client, key="key-500", reference="order-500")
    assert failed.status_code == 500 and failed.headers["transient-error"] == "true"
    [payment] = sim.payments(reference="order-500")  # the operation was applied
    assert events(sim) == [("AUTHORISATION", "true")]
    replay = pay(client, key="key-500", reference="order-500")
    assert replay.status_code == 200 and replay.json()["pspReference"] == payment["pspReference"]
    assert len(sim.payments()) == 1 and len(sim.webhooks()) == 1


def test_rate_limited_answers_429_with_retry_after(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    sim.inject(Fault.rate_limited(retry_after=0.5), method="POST")
    limited = pay(client, key="key-429")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "0.5"
    assert limited.json()["status"] == 429 and sim.payments() == []
    assert pay(client, key="key-429").status_code == 200


def test_reset_before_commit_drops_the_connection_and_changes_nothing(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    sim.inject(Fault.reset_before_commit(), method="POST", path=PAYMENTS)
    with pytest.raises(httpx.TransportError):
        pay(client, key="key-reset")
    assert sim.payments() == [] and sim.request_count(path=PAYMENTS) == 1
    assert pay(client, key="key-reset").status_code == 200


def test_reset_after_commit_drops_the_connection_after_acting(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    psp = authorised(client)
    capture = f"{PAYMENTS}/{psp}/captures"
    sim.inject(Fault.reset_after_commit(), method="POST", path=capture)
    with pytest.raises(httpx.TransportError):
        modify(client, psp, "captures", 1000, key="key-dropped")
    [received] = sim.modifications(psp)
    replay = modify(client, psp, "captures", 1000, key="key-dropped")
    assert replay.status_code == 201 and replay.json()["pspReference"] == received["pspReference"]
    assert len(sim.modifications(psp)) == 1


def test_timeout_after_commit_holds_the_answer_but_replays_it(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    sim.inject(Fault.timeout_after_commit(hold=0.5), method="POST", path=PAYMENTS)
    body = {
        "merchantAccount": MERCHANT,
        "amount": {"value": 700, "currency": "EUR"},
        "reference": "order-timeout",
        "paymentMethod": card(),
    }
    headers = {"Idempotency-Key": "key-timeout"}
    with pytest.raises(httpx.ReadTimeout):
        client.post(PAYMENTS, json=body, headers=headers, timeout=httpx.Timeout(5.0, read=0.2))
    [payment] = sim.payments()
    replay = client.post(PAYMENTS, json=body, headers=headers)  # while the first is still held
    assert replay.json()["pspReference"] == payment["pspReference"]


def test_malformed_json_is_sent_but_the_real_answer_is_saved(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    sim.inject(Fault.malformed_json(), method="POST", path=PAYMENTS)
    broken = pay(client, key="key-malformed")
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    [payment] = sim.payments()
    assert pay(client, key="key-malformed").json()["pspReference"] == payment["pspReference"]


def test_schema_break_sends_valid_json_that_breaks_adyen_shapes(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    sim.inject(Fault.schema_break(), method="POST", path=PAYMENTS)
    broken = pay(client, key="key-schema").json()
    assert "resultCode" not in broken and broken["amount"]["value"] == "1000"
    psp = broken["pspReference"]
    assert stored(sim, psp)["status"] == "authorised"
    replay = pay(client, key="key-schema").json()
    assert (replay["resultCode"], replay["amount"]["value"]) == ("Authorised", 1000)

    capture = f"{PAYMENTS}/{psp}/captures"
    sim.inject(Fault.schema_break(), method="POST", path=capture)
    received = modify(client, psp, "captures", 1000).json()
    assert "status" not in received and received["amount"]["value"] == "1000"
    sim.inject(Fault.schema_break(), method="POST", path=PAYMENTS)
    error = client.post(PAYMENTS, json={"merchantAccount": MERCHANT}).json()
    assert error["status"] == "422" and "errorCode" not in error


def test_latency_delays_then_answers_normally(client: httpx.Client, sim: AdyenSimulator) -> None:
    sim.inject(Fault.latency(0.3), method="POST", path=PAYMENTS)
    started = time.monotonic()
    response = pay(client)
    assert time.monotonic() - started >= 0.3 and response.status_code == 200


# -- the HTTP control API --------------------------------------------------------------------------
def test_control_api_injects_reports_processes_and_resets(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    with httpx.Client(base_url=f"{sim.url}/_sim") as control:
        fault = {"fault": {"kind": "server_error", "status": 502}, "method": "POST"}
        assert control.post("/faults", json={**fault, "path": PAYMENTS}).status_code == 201
        assert pay(client).status_code == 502
        psp = authorised(client)
        modify(client, psp, "captures", 1000)

        state = control.get("/state").json()
        assert state["merchant_account"] == MERCHANT and state["request_count"] == 3
        assert [p["pspReference"] for p in state["payments"]] == [psp]
        assert [m["status"] for m in state["modifications"]] == ["received"]
        assert [w["eventCode"] for w in state["webhooks"]] == ["AUTHORISATION"]

        processed = control.post("/process").json()["processed"]
        assert [(m["type"], m["status"]) for m in processed] == [("capture", "processed")]
        listed = control.get("/webhooks").json()["webhooks"]
        codes = [w["notificationItems"][0]["NotificationRequestItem"]["eventCode"] for w in listed]
        assert codes == ["AUTHORISATION", "CAPTURE"]
        assert control.post("/webhooks/drain").json()["webhooks"] == listed
        assert control.get("/webhooks").json() == {"webhooks": []}

        assert control.delete("/faults").json() == {"cleared": 0}
        assert control.post("/reset").json() == {"reset": True}
        assert control.get("/state").json()["payments"] == []
        assert control.get("/nothing").status_code == 404
    assert sim.requests == []  # control calls are never recorded


def test_reset_forgets_payments_modifications_webhooks_and_keys(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    psp = authorised(client, key="key-before-reset")
    modify(client, psp, "cancels")
    sim.reset()
    assert sim.payments() == [] and sim.modifications() == [] and sim.webhooks() == []
    again = pay(client, key="key-before-reset")
    assert again.json()["pspReference"] != psp


# -- the server ------------------------------------------------------------------------------------
def test_keep_alive_serves_many_requests_on_one_connection(
    client: httpx.Client, sim: AdyenSimulator
) -> None:
    addresses = set()
    for n in range(20):
        response = pay(client, reference=f"order-{n}")
        assert response.status_code == 200
        addresses.add(response.extensions["network_stream"].get_extra_info("client_addr"))
    assert len(addresses) == 1 and sim.request_count(method="POST", path=PAYMENTS) == 20
    assert [p["merchantReference"] for p in sim.payments()] == [f"order-{n}" for n in range(20)]
    assert [p["merchantReference"] for p in sim.payments(reference="order-7")] == ["order-7"]
    assert sim.requests[0].params["reference"] == "order-0"


def test_repr_and_lifecycle_leave_no_thread(receiver: tuple[str, type[_Receiver]]) -> None:
    before = set(threading.enumerate())
    simulator = AdyenSimulator(webhook_url=receiver[0])
    assert repr(simulator) == "paygate.testing.AdyenSimulator(not running)"
    with simulator, httpx.Client(base_url=simulator.url, headers={"X-API-Key": "k"}) as http:
        assert repr(simulator) == f"paygate.testing.AdyenSimulator({simulator.url})"
        authorised(http)
    assert simulator.webhook_results()[0][1] == 200  # stop() let the sender finish
    # Every thread the simulator starts is named paygate-simulator-...; the receiver is this
    # test's own server, whose thread for a webhook ends a moment after the sender hangs up.
    left = {t for t in set(threading.enumerate()) - before if t.name.startswith("paygate-")}
    assert not left
