"""Acceptance: the providers' own published examples read through paygate's adapters without a
schema violation. Adyen: every response example of the Checkout API v71 endpoints paygate calls
(``/payments``, ``/payments/{paymentPspReference}/captures``, ``.../cancels``, ``.../refunds``)
and every example of its Standard webhooks; Stripe: every stripe-mock fixture of a
PaymentIntent, a charge, a refund, a dispute and an event (current object shapes, newer than the
2023-08-16 spec paygate pins).

The examples are read from ../shared/providers next to the repository; each test skips with a
reason where that reference copy is absent (a user's clone). What legitimately cannot be read
is listed below with its reason, and must fail exactly as listed: any other outcome fails."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from paygate import ActionKind, Money, PaymentSource, PaymentStatus
from paygate.adapters.adyen import AdyenAdapter
from paygate.adapters.adyen._webhooks import sign
from paygate.adapters.base import ResponseContext
from paygate.adapters.failures import SchemaViolation
from paygate.adapters.stripe import StripeAdapter
from paygate.adapters.stripe._wire import ChargeWire, DisputeWire, EventChargeWire, EventWire
from paygate.errors import ErrorCode, InvalidWebhookError
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
    EventType,
    ModificationReceipt,
    OperationRequest,
    Payment,
    Refund,
    RefundRequest,
    RetrieveRequest,
    VoidRequest,
    WebhookEvent,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "providers"
CHECKOUT = SHARED / "adyen" / "CheckoutService-v71.json"
WEBHOOKS = SHARED / "adyen" / "Webhooks-v1.json"
FIXTURES = SHARED / "stripe" / "fixtures3.json"

HMAC_HEX = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
WHSEC = "whsec_providerExamples0000000000"
NOW = 1_700_000_000.0
adyen = AdyenAdapter("any-key", merchant_account="YOUR_MERCHANT_ACCOUNT", hmac_key=HMAC_HEX)
stripe = StripeAdapter("sk_test_examples", webhook_secret=WHSEC)


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        pytest.skip(f"the provider's reference copy is not here: {path}")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        found: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        node = found
    return node


# -- Adyen Checkout: responses ----------------------------------------------------------------
PSP = "993617894903480A"
# The endpoints paygate calls, and the request each answer is read for. (``POST /cancels``,
# cancelling by your own reference, is not one: paygate always names the payment.)
ENDPOINTS: dict[str, OperationRequest] = {
    "/payments": AuthorizeRequest(
        amount=Money("10.00", "EUR"),
        source=PaymentSource.token("M5N7TQ4TG5PFWR50", customer="YOUR_SHOPPER_REFERENCE"),
        reference="YOUR_ORDER_NUMBER",
    ),
    "/payments/{paymentPspReference}/captures": CaptureRequest(
        payment_id=PSP, amount=Money("20.00", "EUR")
    ),
    "/payments/{paymentPspReference}/cancels": VoidRequest(payment_id=PSP),
    "/payments/{paymentPspReference}/refunds": RefundRequest(
        payment_id=PSP, amount=Money("25.00", "EUR")
    ),
}

# Answers that ask the shopper to act before Adyen names the payment (an ``action``, no
# pspReference): they read as requires_action, named by the gateway's record, with the kind of
# action they ask for.
ADYEN_ACTIONS: dict[tuple[str, str, str], ActionKind] = {
    ("/payments", "200", "card-3d-secure-2-web"): ActionKind.THREE_DS,  # IdentifyShopper
    ("/payments", "200", "ideal"): ActionKind.REDIRECT,  # RedirectShopper, to the bank
}


def _checkout_examples() -> Iterator[tuple[str, str, str, Any]]:
    spec = _load(CHECKOUT)
    for path in ENDPOINTS:
        for status, response in spec["paths"][path]["post"]["responses"].items():
            content = _resolve(spec, response).get("content", {}).get("application/json", {})
            for name, example in content.get("examples", {}).items():
                yield path, status, name, _resolve(spec, example)["value"]


def _read_checkout(path: str, status: str, body: Any) -> Any:
    answer = httpx.Response(int(status), json=body)
    return adyen.parse_response(
        answer, ResponseContext(request=ENDPOINTS[path], idempotency_key="k")
    )


def test_every_adyen_checkout_example_reads_without_a_schema_violation() -> None:
    read, seen = 0, set()
    for path, status, name, body in _checkout_examples():
        key = (path, status, name)
        seen.add(key)
        outcome = _read_checkout(path, status, body)
        if key in ADYEN_ACTIONS:
            assert isinstance(outcome, Payment), (key, outcome)
            assert outcome.status is PaymentStatus.REQUIRES_ACTION and outcome.id == ""
            assert outcome.next_action is not None
            assert outcome.next_action.kind is ADYEN_ACTIONS[key], outcome.next_action
            assert outcome.next_action.provider_action == body["action"]
            read += 1
            continue
        assert not isinstance(outcome, SchemaViolation), (key, outcome)
        if status.startswith("2"):
            assert isinstance(outcome, Payment | ModificationReceipt | Refund), (key, outcome)
        read += 1
    assert set(ADYEN_ACTIONS) <= seen  # the list names examples that exist
    assert read >= 30  # 7 /payments answers, 5 modification answers, 20 errors


def test_adyen_checkout_examples_read_as_what_they_say() -> None:
    answers = {(p, s, n): b for p, s, n, b in _checkout_examples()}
    direct = _read_checkout("/payments", "200", answers[("/payments", "200", "card-direct")])
    assert isinstance(direct, Payment) and direct.id == "993617895204576J"
    assert direct.provider_status == "Authorised"
    # A redirect answer that already names its payment reads, as requires_action.
    redirect = answers[("/payments", "200", "card-3d-secure-redirect")]
    waiting = _read_checkout("/payments", "200", redirect)
    assert isinstance(waiting, Payment) and waiting.status is PaymentStatus.REQUIRES_ACTION
    assert waiting.next_action is not None
    captures = "/payments/{paymentPspReference}/captures"
    capture = _read_checkout(captures, "201", answers[(captures, "201", "capture")])
    assert isinstance(capture, ModificationReceipt)
    assert (capture.payment_id, capture.modification_id) == (PSP, "993617894906488A")
    refunds = "/payments/{paymentPspReference}/refunds"
    refund = _read_checkout(refunds, "201", answers[(refunds, "201", "refund")])
    assert isinstance(refund, Refund) and refund.amount == Money("25.00", "EUR")


# -- Adyen Standard webhooks ------------------------------------------------------------------
# Examples that are not a standard NotificationRequest: Adyen's newer event format
# (``{"type", "version", "createdAt", "environment", "data"}``, signed in an ``HmacSignature``
# header over the raw body), which Adyen sends to a webhook of another kind than the standard
# one paygate reads. Refused as malformed, which is right for a standard-webhook endpoint.
ADYEN_OTHER_FORMAT: dict[tuple[str, str], str] = {
    ("/ACH_NOTIFICATION_OF_CHANGE", "ach_notification_of_change"): "ach.notificationOfChange",
    ("/DIRECT_DEBIT_NOTICE_OF_CHANGE_NOTIFICATION", "ach_notice_of_change"): "{type, data}",
    ("/DIRECT_DEBIT_NOTICE_OF_CHANGE_NOTIFICATION", "eft_notice_of_change"): "{type, data}",
}


def _webhook_examples() -> Iterator[tuple[str, str, dict[str, Any]]]:
    spec = _load(WEBHOOKS)
    for event_code, webhook in spec["webhooks"].items():
        content = webhook["post"]["requestBody"]["content"]["application/json"]
        for name, example in content.get("examples", {}).items():
            yield event_code, name, _resolve(spec, example)["value"]


def _signed(notification: dict[str, Any]) -> bytes:
    """The example with each item signed by this test's key: the examples carry placeholder
    signatures (or none), and only what is signed is read."""
    body = json.loads(json.dumps(notification))
    for wrapper in body["notificationItems"]:
        item = wrapper["NotificationRequestItem"]
        additional = dict(item.get("additionalData") or {})
        additional["hmacSignature"] = sign(item, bytes.fromhex(HMAC_HEX))
        item["additionalData"] = additional
    return json.dumps(body).encode()


def test_every_adyen_webhook_example_reads_without_a_schema_violation() -> None:
    standard: list[dict[str, Any]] = []
    seen = set()
    for event_code, name, notification in _webhook_examples():
        seen.add((event_code, name))
        if (event_code, name) in ADYEN_OTHER_FORMAT:
            assert "notificationItems" not in notification and "type" in notification
            with pytest.raises(InvalidWebhookError) as refused:
                adyen.parse_webhook({}, json.dumps(notification).encode(), now=NOW)
            assert refused.value.code is ErrorCode.WEBHOOK_MALFORMED
            continue
        events = adyen.parse_webhook({}, _signed(notification), now=NOW)
        items = notification["notificationItems"]
        assert len(events) == len(items) >= 1, event_code
        for event, wrapper in zip(events, items, strict=True):
            assert event.provider_type == wrapper["NotificationRequestItem"]["eventCode"]
        standard.extend(items)
    assert set(ADYEN_OTHER_FORMAT) <= seen
    assert len(standard) >= 39  # 42 examples, 3 of them in the other format
    # And all of them as one batch, as Adyen may deliver several items together.
    batch = _signed({"live": "false", "notificationItems": standard})
    assert len(adyen.parse_webhook({}, batch, now=NOW)) == len(standard)


def test_adyen_webhook_examples_read_as_what_they_say() -> None:
    read = {
        code.removeprefix("/"): adyen.parse_webhook({}, _signed(value), now=NOW)[0]
        for code, name, value in _webhook_examples()
        if (code, name) not in ADYEN_OTHER_FORMAT
    }
    assert read["AUTHORISATION"].type is EventType.AUTHORIZED
    assert read["CAPTURE"].type is EventType.CAPTURED
    assert read["REFUND"].type is EventType.REFUND_FAILED  # the example's success is "false"
    assert read["CHARGEBACK"].type is EventType.CHARGEBACK
    assert read["REPORT_AVAILABLE"].type is EventType.OTHER
    assert read["CAPTURE"].amount == Money("10.00", "EUR")


# -- Stripe: stripe-mock fixtures -------------------------------------------------------------
def _fixture(name: str) -> dict[str, Any]:
    found: dict[str, Any] = _load(FIXTURES)["resources"][name]
    return found


def _event(event_type: str, obj: dict[str, Any]) -> bytes:
    event = dict(_fixture("event"), type=event_type, data={"object": obj})
    return json.dumps(event).encode()


def _deliver(body: bytes) -> list[WebhookEvent]:
    digest = hmac.new(WHSEC.encode(), f"{int(NOW)}.".encode() + body, hashlib.sha256)
    headers = {"Stripe-Signature": f"t={int(NOW)},v1={digest.hexdigest()}"}
    return stripe.parse_webhook(headers, body, now=NOW)


def test_the_stripe_payment_intent_fixture_reads_as_a_payment() -> None:
    intent = _fixture("payment_intent")
    request = RetrieveRequest(payment_id=intent["id"])
    answer = httpx.Response(200, json=intent)
    payment = stripe.parse_response(answer, ResponseContext(request=request, idempotency_key=None))
    assert isinstance(payment, Payment), payment
    assert (payment.id, payment.provider_status) == (intent["id"], intent["status"])


def test_the_stripe_refund_fixture_reads_as_a_refund_of_the_payment_asked_for() -> None:
    refund = _fixture("refund")
    assert refund["payment_intent"] is None  # a refund the spec allows without one
    request = RefundRequest(payment_id="pi_3Examples", amount=Money("1.00", "USD"))
    answer = httpx.Response(200, json=refund)
    read = stripe.parse_response(answer, ResponseContext(request=request, idempotency_key="k"))
    assert isinstance(read, Refund), read
    assert (read.id, read.payment_id, read.amount) == (
        refund["id"],
        "pi_3Examples",
        Money("1.00", "USD"),
    )


def test_the_stripe_charge_dispute_and_event_fixtures_fit_the_wire_models() -> None:
    ChargeWire.model_validate(_fixture("charge"))
    EventChargeWire.model_validate(_fixture("charge"))
    DisputeWire.model_validate(_fixture("dispute"))
    event = EventWire.model_validate(_fixture("event"))
    assert event.type == "plan.created"


@pytest.mark.parametrize(
    ("event_type", "fixture", "expected"),
    [
        ("plan.created", None, EventType.OTHER),  # the event fixture as it is
        ("payment_intent.payment_failed", "payment_intent", EventType.FAILED),
        ("payment_intent.created", "payment_intent", EventType.OTHER),
        ("refund.created", "refund", EventType.REFUNDED),
        ("charge.refunded", "charge", EventType.OTHER),
        ("charge.captured", "charge", EventType.OTHER),
        # The fixture's dispute is an inquiry (warning_needs_response): no chargeback.
        ("charge.dispute.created", "dispute", EventType.OTHER),
    ],
)
def test_every_stripe_event_fixture_reads_without_being_malformed(
    event_type: str, fixture: str | None, expected: EventType
) -> None:
    body = (
        json.dumps(_fixture("event")).encode()
        if fixture is None
        else _event(event_type, _fixture(fixture))
    )
    [event] = _deliver(body)
    assert (event.type, event.provider_type) == (expected, event_type)
