"""Stripe webhooks, sans-IO: Stripe-Signature verification against published test vectors and
our own signed payloads, the event table, and every way a delivery is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from paygate import Gateway, Money
from paygate.adapters.stripe import StripeAdapter
from paygate.adapters.stripe._webhooks import (
    DEFAULT_TOLERANCE,
    DISPUTE_CLOSED,
    DISPUTE_OPENED,
    EVENT_RULES,
    KNOWN_STATUSES,
    REFUND_EVENTS,
    verify_signature,
)
from paygate.adapters.stripe._wire import (
    DisputeWire,
    EventChargeWire,
    EventDataWire,
    EventWire,
)
from paygate.errors import ErrorCode, InvalidWebhookError
from paygate.models import EventType, WebhookEvent

VECTORS = json.loads((Path(__file__).parents[1] / "data/stripe_webhook_vectors.json").read_text())
SPEC = Path(__file__).resolve().parents[3] / "shared/providers/stripe/spec3.payments.json"

SECRET = "whsec_paygateWebhookUnitTest00000000"
NOW = 1_700_000_000.0
CREATED = 1_699_999_990
adapter = StripeAdapter("sk_test_webhooks", webhook_secret=SECRET)


def signature(body: bytes, *, t: int = int(NOW), secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def signed(body: bytes, *, t: int = int(NOW), secret: str = SECRET) -> dict[str, str]:
    return {"Stripe-Signature": f"t={t},v1={signature(body, t=t, secret=secret)}"}


def event_body(event_type: str, obj: Any, **over: Any) -> bytes:
    event = {
        "id": "evt_1NXkTest",
        "object": "event",
        "api_version": "2023-08-16",
        "created": CREATED,
        "data": {"object": obj, "previous_attributes": {}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_1", "idempotency_key": "k-1"},
        "type": event_type,
    }
    event.update(over)
    return json.dumps(event, indent=2).encode()


def parse(body: bytes) -> list[WebhookEvent]:
    return adapter.parse_webhook(signed(body), body, now=NOW)


def refused(body: bytes, headers: dict[str, str] | None = None) -> InvalidWebhookError:
    with pytest.raises(InvalidWebhookError) as caught:
        adapter.parse_webhook(signed(body) if headers is None else headers, body, now=NOW)
    return caught.value


# -- objects as Stripe sends them in events (2023-08-16 shapes, never expanded) ----------------
def intent(**over: Any) -> dict[str, Any]:
    body = {
        "id": "pi_3Webhook",
        "object": "payment_intent",
        "amount": 1234,
        "amount_capturable": 1234,
        "amount_received": 0,
        "capture_method": "manual",
        "currency": "eur",
        "latest_charge": "ch_3Webhook",
        "livemode": False,
        "metadata": {"reference": "order-42"},
        "next_action": None,
        "last_payment_error": None,
        "status": "requires_capture",
        "a_field_stripe_added_later": {"x": 1},
    }
    body.update(over)
    return body


def refund(**over: Any) -> dict[str, Any]:
    body = {
        "id": "re_3Webhook",
        "object": "refund",
        "amount": 200,
        "charge": "ch_3Webhook",
        "created": CREATED,
        "currency": "eur",
        "metadata": {"reference": "refund-7"},
        "payment_intent": "pi_3Webhook",
        "reason": None,
        "status": "succeeded",
    }
    body.update(over)
    return body


def charge(**over: Any) -> dict[str, Any]:
    body = {
        "id": "ch_3Webhook",
        "object": "charge",
        "amount": 1234,
        "amount_captured": 1234,
        "amount_refunded": 400,
        "captured": True,
        "currency": "eur",
        "metadata": {"reference": "order-42"},
        "payment_intent": "pi_3Webhook",
        "refunded": False,
        "status": "succeeded",
    }
    body.update(over)
    return body


def dispute(**over: Any) -> dict[str, Any]:
    body = {
        "id": "dp_3Webhook",
        "object": "dispute",
        "amount": 1234,
        "charge": "ch_3Webhook",
        "currency": "eur",
        "metadata": {},
        "payment_intent": "pi_3Webhook",
        "reason": "fraudulent",
        "status": "needs_response",
    }
    body.update(over)
    return body


# -- published vectors -------------------------------------------------------------------------
@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_published_vectors_give_the_expected_outcome(vector: dict[str, Any]) -> None:
    body = vector["payload"].encode()  # the raw bytes as received: UTF-8, never re-serialized
    headers = {"Stripe-Signature": vector["header"]}
    tolerance = vector["tolerance_seconds"]
    if tolerance is None:
        # paygate never switches the age check off: with its default the delivery is stale,
        # and with a window wide enough the same signature is accepted.
        stale = StripeAdapter("sk_test_v", webhook_secret=vector["secret"])
        with pytest.raises(InvalidWebhookError) as caught:
            stale.parse_webhook(headers, body, now=vector["now"])
        assert caught.value.code is ErrorCode.WEBHOOK_STALE
        tolerance = vector["now"] - 1_700_000_000
    vector_adapter = StripeAdapter(
        "sk_test_v", webhook_secret=vector["secret"], webhook_tolerance=tolerance
    )
    with pytest.raises(InvalidWebhookError) as caught:
        vector_adapter.parse_webhook(headers, body, now=vector["now"])
    if vector["expected"] == "valid":
        verify_signature(
            headers,
            body,
            secret=SecretStr(vector["secret"]),
            now=vector["now"],
            tolerance=tolerance,
        )
        # The signature and its age passed; these payloads are not complete events (no type,
        # no created, or a v2 thin event), so reading them is what fails.
        assert caught.value.code is ErrorCode.WEBHOOK_MALFORMED
    else:
        assert caught.value.code.value == vector["expected"]


def test_a_vector_payload_completed_into_an_event_is_read_as_other() -> None:
    body = event_body(
        "terminal.reader.action_succeeded", {"id": "rdr_123", "object": "terminal.reader"}
    )
    [event] = parse(body)
    assert event.type is EventType.OTHER and event.payment_id is None
    assert event.provider_type == "terminal.reader.action_succeeded"


# -- signature: our own signed payloads --------------------------------------------------------
BODY = event_body("payment_intent.succeeded", intent(status="succeeded", amount_received=1234))


@pytest.mark.parametrize("name", ["Stripe-Signature", "stripe-signature", "STRIPE-SIGNATURE"])
def test_the_header_is_found_in_any_casing(name: str) -> None:
    header = signed(BODY)["Stripe-Signature"]
    assert adapter.parse_webhook({name: header}, BODY, now=NOW)[0].type is EventType.CAPTURED


def test_httpx_headers_work_as_the_mapping() -> None:
    headers = httpx.Headers({"content-type": "application/json", **signed(BODY)})
    assert len(adapter.parse_webhook(headers, BODY, now=NOW)) == 1


def test_any_one_of_several_v1_signatures_suffices_and_other_schemes_are_ignored() -> None:
    good = signature(BODY)
    old = signature(BODY, secret="whsec_theSecretBeingRolledOut")
    header = f"t={int(NOW)},v1={old},v0={good},v1={good},v9=whatever,junk"
    assert len(adapter.parse_webhook({"Stripe-Signature": header}, BODY, now=NOW)) == 1


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=1700000000",  # no v1
        f"v1={'0' * 64}",  # no timestamp
        "t=abc,v1=00",  # timestamp not numeric
        "t=-1700000000,v1=00",
        "t=1700000000,t=1700000000,v1=00",  # two timestamps
        "t=1700000000,v1=café",  # not even ASCII
        "t=1700000000,v0=00",  # only another scheme
    ],
)
def test_unreadable_headers_are_refused_as_invalid_signatures(header: str) -> None:
    error = refused(BODY, {"Stripe-Signature": header})
    assert error.code is ErrorCode.WEBHOOK_SIGNATURE_INVALID


def test_a_missing_or_doubled_header_is_refused() -> None:
    assert refused(BODY, {}).code is ErrorCode.WEBHOOK_SIGNATURE_INVALID
    header = signed(BODY)["Stripe-Signature"]
    doubled = {"Stripe-Signature": header, "stripe-signature": header}
    assert refused(BODY, doubled).code is ErrorCode.WEBHOOK_SIGNATURE_INVALID


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        (lambda b: b.replace(b"1234", b"9999"), "a changed body"),
        (lambda b: json.dumps(json.loads(b)).encode(), "the same JSON re-serialized"),
        (lambda b: b + b"\n", "one byte more"),
    ],
)
def test_any_change_to_the_body_breaks_the_signature(tamper: Any, why: str) -> None:
    error = refused(tamper(BODY), signed(BODY))
    assert error.code is ErrorCode.WEBHOOK_SIGNATURE_INVALID, why


def test_the_whole_whsec_string_is_the_key() -> None:
    without_prefix = SECRET.removeprefix("whsec_")
    error = refused(BODY, signed(BODY, secret=without_prefix))
    assert error.code is ErrorCode.WEBHOOK_SIGNATURE_INVALID


@pytest.mark.parametrize(
    ("age", "accepted"),
    [
        (0, True),
        (DEFAULT_TOLERANCE, True),  # exactly at the tolerance: still accepted
        (DEFAULT_TOLERANCE + 1, False),
        (-1, True),  # from the future: only the age is checked, as Stripe's libraries do
        (-DEFAULT_TOLERANCE, True),
        (-DEFAULT_TOLERANCE - 1, True),  # from the future, beyond the tolerance: accepted too
        (-10 * 365 * 86400, True),
    ],
)
def test_the_tolerance_boundary(age: float, accepted: bool) -> None:
    t = int(NOW - age)
    headers = signed(BODY, t=t)
    if accepted:
        assert len(adapter.parse_webhook(headers, BODY, now=NOW)) == 1
    else:
        assert refused(BODY, headers).code is ErrorCode.WEBHOOK_STALE


def test_a_fractional_now_is_compared_exactly() -> None:
    headers = signed(BODY, t=int(NOW))
    assert len(adapter.parse_webhook(headers, BODY, now=NOW + 300.0)) == 1
    with pytest.raises(InvalidWebhookError) as caught:
        adapter.parse_webhook(headers, BODY, now=NOW + 300.5)
    assert caught.value.code is ErrorCode.WEBHOOK_STALE


def test_the_signature_is_checked_before_the_age() -> None:
    old_and_forged = signed(BODY, t=int(NOW) - 10_000, secret="whsec_notOurs")
    assert refused(BODY, old_and_forged).code is ErrorCode.WEBHOOK_SIGNATURE_INVALID
    old_and_genuine = signed(BODY, t=int(NOW) - 10_000)
    assert refused(BODY, old_and_genuine).code is ErrorCode.WEBHOOK_STALE


def test_a_future_timestamp_is_accepted_only_with_a_genuine_signature() -> None:
    ahead = int(NOW) + 10_000
    forged = signed(BODY, t=ahead, secret="whsec_notOurs")
    assert refused(BODY, forged).code is ErrorCode.WEBHOOK_SIGNATURE_INVALID
    # The signature covers the timestamp: moving it forward breaks the signature.
    moved = signed(BODY)["Stripe-Signature"].replace(f"t={int(NOW)}", f"t={ahead}")
    assert refused(BODY, {"Stripe-Signature": moved}).code is ErrorCode.WEBHOOK_SIGNATURE_INVALID
    assert len(adapter.parse_webhook(signed(BODY, t=ahead), BODY, now=NOW)) == 1


def test_a_stale_message_says_how_old() -> None:
    error = refused(BODY, signed(BODY, t=int(NOW) - 400))
    assert error.code is ErrorCode.WEBHOOK_STALE
    assert "400 s old" in error.message and "300 s tolerance" in error.message


def test_a_custom_tolerance_is_honoured() -> None:
    strict = StripeAdapter("sk_test_x", webhook_secret=SECRET, webhook_tolerance=5)
    with pytest.raises(InvalidWebhookError) as caught:
        strict.parse_webhook(signed(BODY, t=int(NOW) - 6), BODY, now=NOW)
    assert caught.value.code is ErrorCode.WEBHOOK_STALE


def test_without_a_secret_every_delivery_is_refused() -> None:
    unsigned = StripeAdapter("sk_test_x")
    with pytest.raises(InvalidWebhookError) as caught:
        unsigned.parse_webhook(signed(BODY), BODY, now=NOW)
    assert caught.value.code is ErrorCode.WEBHOOK_SIGNATURE_INVALID
    assert "webhook secret" in caught.value.message


@pytest.mark.parametrize("secret", ["", SecretStr("")])
def test_an_empty_secret_is_a_configuration_error(secret: str | SecretStr) -> None:
    with pytest.raises(ValueError, match="empty"):
        StripeAdapter("sk_test_x", webhook_secret=secret)


@pytest.mark.parametrize("tolerance", [0, -1, float("inf"), float("nan")])
def test_the_tolerance_must_be_a_positive_finite_number(tolerance: float) -> None:
    with pytest.raises(ValueError, match="webhook_tolerance"):
        StripeAdapter("sk_test_x", webhook_secret=SECRET, webhook_tolerance=tolerance)


def test_a_secret_str_works_like_a_plain_one() -> None:
    typed = StripeAdapter("sk_test_x", webhook_secret=SecretStr(SECRET))
    assert len(typed.parse_webhook(signed(BODY), BODY, now=NOW)) == 1


def test_neither_the_secret_nor_the_signature_leaks() -> None:
    assert SECRET not in repr(adapter) and "webhook_secret=**********" in repr(adapter)
    good = signed(BODY)["Stripe-Signature"]
    sig = good.split("v1=")[1]
    cases = [
        (BODY + b" ", {"Stripe-Signature": good}),
        (BODY, signed(BODY, t=int(NOW) - 10_000)),
        (BODY, {"Stripe-Signature": good.replace("t=", "t=x")}),
        (b"not json", signed(b"not json")),
        (event_body("payment_intent.succeeded", {"object": "payment_intent"}), None),
    ]
    for body, headers in cases:
        error = refused(body, headers or signed(body))
        text = f"{error} {error!r} {error.message} {error.provider_body}"
        assert SECRET not in text and SECRET.removeprefix("whsec_") not in text
        assert sig not in text and signature(body) not in text


# -- the event table ---------------------------------------------------------------------------
EUR = "EUR"

# (Stripe event type, data.object, expected fields of the one WebhookEvent)
MAPPING_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "payment_intent.amount_capturable_updated",
        intent(amount=2000, amount_capturable=1500),
        {"type": EventType.AUTHORIZED, "amount": Money("15.00", EUR), "reference": "order-42"},
    ),
    (
        "payment_intent.succeeded",
        intent(status="succeeded", amount_capturable=0, amount_received=1000),
        {"type": EventType.CAPTURED, "amount": Money("10.00", EUR), "modification_id": None},
    ),
    (
        "payment_intent.payment_failed",
        intent(
            status="requires_payment_method",
            amount_capturable=0,
            last_payment_error={
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
            },
        ),
        {"type": EventType.FAILED, "reason": "insufficient_funds", "amount": Money("12.34", EUR)},
    ),
    (
        "payment_intent.canceled",
        intent(status="canceled", amount_capturable=0),
        {"type": EventType.VOIDED, "reference": "order-42"},
    ),
    (
        "refund.created",
        refund(),
        {
            "type": EventType.REFUNDED,
            "amount": Money("2.00", EUR),
            "modification_id": "re_3Webhook",
            "reference": None,  # the refund's metadata names the refund, not the payment
        },
    ),
    ("refund.created", refund(status="pending"), {"type": EventType.OTHER}),
    ("refund.updated", refund(status="requires_action"), {"type": EventType.OTHER}),
    ("refund.updated", refund(status="failed"), {"type": EventType.REFUND_FAILED}),
    ("refund.updated", refund(status="canceled"), {"type": EventType.REFUND_FAILED}),
    ("refund.failed", refund(status="failed"), {"type": EventType.REFUND_FAILED}),
    (
        "charge.refund.updated",
        refund(status="succeeded", amount=50),
        {"type": EventType.REFUNDED, "amount": Money("0.50", EUR)},
    ),
    ("charge.refunded", charge(), {"type": EventType.OTHER, "amount": None}),
    ("charge.captured", charge(), {"type": EventType.OTHER, "amount": None}),
    (
        "charge.dispute.created",
        dispute(),
        {
            "type": EventType.CHARGEBACK,
            "amount": Money("12.34", EUR),
            "modification_id": "dp_3Webhook",
        },
    ),
    (
        "charge.dispute.created",
        dispute(status="warning_needs_response"),
        {"type": EventType.OTHER},  # an inquiry: no funds withdrawn
    ),
    ("charge.dispute.closed", dispute(status="won"), {"type": EventType.CHARGEBACK_REVERSED}),
    ("charge.dispute.closed", dispute(status="lost"), {"type": EventType.OTHER}),
    ("charge.dispute.closed", dispute(status="warning_closed"), {"type": EventType.OTHER}),
    (
        "payment_intent.created",
        intent(status="requires_payment_method"),
        {"type": EventType.OTHER, "reference": "order-42", "amount": None},
    ),
    ("payment_intent.requires_action", intent(status="requires_action"), {"type": EventType.OTHER}),
    ("charge.dispute.funds_withdrawn", dispute(), {"type": EventType.OTHER, "amount": None}),
    ("charge.succeeded", charge(), {"type": EventType.OTHER}),
]


@pytest.mark.parametrize(
    ("event_type", "obj", "expected"),
    MAPPING_CASES,
    ids=[f"{t}-{o.get('status')}" for t, o, _ in MAPPING_CASES],
)
def test_each_stripe_event_maps_to_one_canonical_event(
    event_type: str, obj: dict[str, Any], expected: dict[str, Any]
) -> None:
    [event] = parse(event_body(event_type, obj))
    assert event.provider == "stripe" and event.event_id == "evt_1NXkTest"
    assert event.provider_type == event_type
    assert event.payment_id == "pi_3Webhook"
    assert event.occurred_at == datetime.fromtimestamp(CREATED, tz=UTC)
    assert event.occurred_at.utcoffset() is not None
    for name, value in expected.items():
        assert getattr(event, name) == value, name


def test_every_rule_in_the_table_has_a_mapping_case() -> None:
    assert set(EVENT_RULES) <= {t for t, _, _ in MAPPING_CASES}


def test_an_event_for_a_refund_without_a_payment_intent_names_no_payment() -> None:
    [event] = parse(event_body("refund.created", refund(payment_intent=None)))
    assert event.payment_id is None and event.type is EventType.REFUNDED


def test_a_decline_without_a_decline_code_gives_the_code_as_reason() -> None:
    failed = intent(
        status="requires_payment_method",
        last_payment_error={"type": "card_error", "code": "expired_card"},
    )
    [event] = parse(event_body("payment_intent.payment_failed", failed))
    assert event.reason == "expired_card"


@pytest.mark.parametrize(
    ("currency", "minor", "amount"),
    [
        ("jpy", 500, Money("500", "JPY")),
        ("kwd", 5120, Money("5.120", "KWD")),
        ("isk", 500, Money("5", "ISK")),
    ],
)
def test_amounts_follow_stripes_currency_scales(currency: str, minor: int, amount: Money) -> None:
    body = event_body("refund.created", refund(currency=currency, amount=minor))
    assert parse(body)[0].amount == amount


def test_an_other_event_with_an_odd_object_still_reads() -> None:
    body = event_body(
        "customer.created", {"id": "cus_1", "object": "customer", "payment_intent": {"x": 1}}
    )
    [event] = parse(body)
    assert event.type is EventType.OTHER and event.payment_id is None


# -- malformed deliveries: the signature is valid, paygate cannot read the body -----------------
@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe\x00", "not text"),
        (b"[1, 2]", "not an object"),
        (b"null", "null"),
        (json.dumps({"id": "evt_1", "object": "event"}).encode(), "no type, created or data"),
        (event_body("payment_intent.succeeded", intent(), object="v2.core.event"), "a v2 event"),
        (
            event_body("payment_intent.succeeded", intent(), created="2024-01-01"),
            "created not Unix",
        ),
        (event_body("payment_intent.succeeded", [1]), "data.object not an object"),
        (event_body("payment_intent.succeeded", intent(amount_received="1000")), "amount a string"),
        (event_body("payment_intent.succeeded", refund()), "the wrong kind of object"),
        (event_body("charge.dispute.closed", dispute(status="needs_response")), "closed yet open"),
        (event_body("charge.dispute.closed", dispute(status="under_review")), "closed yet open"),
        (event_body("refund.created", refund(amount=None)), "a refund without its amount"),
        (event_body("customer.created", {"id": "cus_1"}), "an object without its kind"),
    ],
)
def test_unreadable_bodies_are_refused_as_malformed(body: bytes, why: str) -> None:
    error = refused(body)
    assert error.code is ErrorCode.WEBHOOK_MALFORMED, why
    assert error.provider == "stripe"


# -- values newer than paygate: acknowledged, applied to nothing, kept as sent -----------------
# Dispute statuses Stripe added after the 2023-08-16 spec paygate reads, and values nobody has
# seen yet. None may read as an outcome, least of all as a success.
UNKNOWN_VALUE_CASES: list[tuple[str, dict[str, Any], str | None, Money | None]] = [
    *[
        (event_type, dispute(status=status), status, Money("12.34", EUR))
        for event_type in ("charge.dispute.created", "charge.dispute.closed")
        for status in ("appeal_needs_response", "appeal_under_review", "prevented", "escalated")
    ],
    ("refund.updated", refund(status="reversed"), "reversed", Money("2.00", EUR)),
    # The spec lets a refund's status be null: nothing is known of its outcome yet.
    ("refund.created", refund(status=None), None, Money("2.00", EUR)),
    # Amounts paygate cannot hold: a currency Stripe adds later, ISK off Stripe's step of 100.
    ("refund.created", refund(currency="xyz"), "succeeded", None),
    ("refund.created", refund(currency="isk", amount=550), "succeeded", None),
    ("payment_intent.succeeded", intent(status="succeeded", currency="xyz"), "succeeded", None),
]


@pytest.mark.parametrize(
    ("event_type", "obj", "status", "amount"),
    UNKNOWN_VALUE_CASES,
    ids=[f"{t}-{o.get('status')}-{o.get('currency')}" for t, o, _, _ in UNKNOWN_VALUE_CASES],
)
def test_a_value_paygate_does_not_know_is_other_and_kept_never_an_outcome(
    event_type: str, obj: dict[str, Any], status: str | None, amount: Money | None
) -> None:
    [event] = parse(event_body(event_type, obj))
    assert event.type is EventType.OTHER
    assert event.provider_status == status and event.provider_type == event_type
    assert event.amount == amount
    assert event.payment_id == "pi_3Webhook"  # still names its payment, for the operator


@pytest.mark.parametrize(
    ("event_type", "absent"),
    [
        ("payment_intent.amount_capturable_updated", "amount_capturable"),
        ("payment_intent.succeeded", "amount_received"),
    ],
)
def test_an_absent_optional_amount_is_never_read_as_another(event_type: str, absent: str) -> None:
    obj = {k: v for k, v in intent(status="succeeded").items() if k != absent}
    [event] = parse(event_body(event_type, obj))
    assert (event.type, event.amount) == (EventType.OTHER, None)


def test_a_payment_intent_event_without_metadata_names_no_reference() -> None:
    obj = {k: v for k, v in intent().items() if k != "metadata"}
    [event] = parse(event_body("payment_intent.amount_capturable_updated", obj))
    assert (event.type, event.reference) == (EventType.AUTHORIZED, None)


def test_an_unknown_dispute_status_is_acknowledged_and_applied_to_nothing() -> None:
    body = event_body("charge.dispute.created", dispute(status="appeal_needs_response"))
    with Gateway(StripeAdapter("sk_test_webhooks", webhook_secret=SECRET)) as gw:
        outcomes = gw.handle_webhook(signed(body, t=int(time.time())), body)
    assert [o.result for o in outcomes] == ["ignored"]
    assert outcomes[0].event.provider_status == "appeal_needs_response"


def test_known_statuses_cover_every_table() -> None:
    for rule in EVENT_RULES.values():
        if not isinstance(rule.outcome, EventType):
            assert set(rule.outcome) <= KNOWN_STATUSES[rule.carries]


def test_the_status_is_kept_on_every_event_that_has_one() -> None:
    [event] = parse(event_body("payment_intent.succeeded", intent(status="succeeded")))
    assert (event.type, event.provider_status) == (EventType.CAPTURED, "succeeded")
    [event] = parse(event_body("payment_intent.created", intent(status="requires_payment_method")))
    assert (event.type, event.provider_status) == (EventType.OTHER, "requires_payment_method")
    [event] = parse(event_body("customer.created", {"id": "cus_1", "object": "customer"}))
    assert event.provider_status is None


def test_a_malformed_message_names_fields_not_values() -> None:
    body = event_body("payment_intent.succeeded", intent(amount_received="4242424242424242"))
    error = refused(body)
    assert "amount_received" in error.message and "4242" not in str(error)


# -- the wire models against Stripe's spec ------------------------------------------------------
@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC.is_file():
        pytest.skip(f"Stripe's reference spec is not here: {SPEC}")
    loaded: dict[str, Any] = json.loads(SPEC.read_text())
    return loaded


def _properties(spec: dict[str, Any], schema: str) -> dict[str, Any]:
    properties: dict[str, Any] = spec["components"]["schemas"][schema]["properties"]
    return properties


@pytest.mark.parametrize(
    ("model", "schema"),
    [
        (EventWire, "event"),
        (EventDataWire, "notification_event_data"),
        (EventChargeWire, "charge"),
        (DisputeWire, "dispute"),
    ],
)
def test_event_wire_models_read_fields_the_spec_has(
    spec: dict[str, Any], model: type[Any], schema: str
) -> None:
    assert set(model.model_fields) <= set(_properties(spec, schema))


def test_the_tables_cover_stripes_event_types_and_statuses(spec: dict[str, Any]) -> None:
    endpoint = spec["paths"]["/v1/webhook_endpoints"]["post"]["requestBody"]["content"]
    schema = endpoint["application/x-www-form-urlencoded"]["schema"]
    enabled = set(schema["properties"]["enabled_events"]["items"]["enum"])
    newer_than_spec = {"refund.failed"}
    assert set(EVENT_RULES) - newer_than_spec <= enabled
    dispute_statuses = set(_properties(spec, "dispute")["status"]["enum"])
    assert set(DISPUTE_OPENED) == dispute_statuses  # total: every status decided
    assert set(DISPUTE_CLOSED) <= dispute_statuses
    # The 2023 spec types Refund.status as a plain string; these are the documented values.
    assert set(REFUND_EVENTS) == {"pending", "requires_action", "succeeded", "failed", "canceled"}
