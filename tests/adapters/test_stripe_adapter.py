"""The Stripe adapter, sans-IO: canonical operation → wire request, wire response → result."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from paygate import Money, PaymentSource, PaymentStatus, RefundStatus
from paygate._decision import decided
from paygate._integrity import mismatches
from paygate.adapters.base import ResponseContext
from paygate.adapters.stripe import API_VERSION, CAPABILITIES, StripeAdapter
from paygate.adapters.stripe._constants import CURRENCIES
from paygate.errors import (
    CardDeclinedError,
    DeclineReason,
    ErrorCode,
    IdempotencyConflict,
    InvalidRequestError,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
    RetryAdvice,
    TerminalError,
)
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
    OperationRequest,
    Payment,
    Refund,
    RefundRequest,
    RetrieveRequest,
    VoidRequest,
)

KEY = "sk_test_adapterKey123456789"
adapter = StripeAdapter(KEY, base_url="https://stripe.example")


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


def intent(**over: Any) -> dict[str, Any]:
    body = {
        "id": "pi_123",
        "object": "payment_intent",
        "amount": 1234,
        "amount_capturable": 1234,
        "amount_received": 0,
        "currency": "eur",
        "status": "requires_capture",
        "capture_method": "manual",
        "livemode": False,
        "metadata": {"reference": "order-42"},
        "latest_charge": {
            "id": "ch_1",
            "object": "charge",
            "amount": 1234,
            "amount_captured": 0,
            "amount_refunded": 0,
            "captured": False,
            "currency": "eur",
            "status": "succeeded",
        },
        "next_action": None,
        "last_payment_error": None,
        "some_future_field": {"x": 1},
    }
    body.update(over)
    return body


def respond(
    request: OperationRequest, status: int, body: Any, headers: dict[str, str] | None = None
) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.Response(
        status, content=content, headers={"Request-Id": "req_9", **(headers or {})}
    )
    outcome = adapter.parse_response(
        response, ResponseContext(request=request, idempotency_key="k1")
    )
    return decided(outcome, mutating=request.operation.is_mutating)  # as the core decides it


AUTH = AuthorizeRequest(
    amount=Money("12.34", "EUR"),
    source=PaymentSource.token("pm_card_visa"),
    reference="order-42",
    metadata={"cart": "c-7"},
)


def test_authorize_request_is_form_encoded_with_brackets_version_and_key() -> None:
    request = adapter.build_request(AUTH, idempotency_key="key-42")
    assert request.method == "POST"
    assert str(request.url) == "https://stripe.example/v1/payment_intents"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Stripe-Version"] == API_VERSION
    assert request.headers["Idempotency-Key"] == "key-42"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(request) == {
        "amount": "1234",
        "currency": "eur",
        "confirm": "true",
        "capture_method": "manual",
        "payment_method": "pm_card_visa",
        "payment_method_types[0]": "card",
        "metadata[cart]": "c-7",
        "metadata[reference]": "order-42",
        "expand[0]": "latest_charge",
    }


def test_purchase_and_raw_card_and_special_currencies() -> None:
    card = PaymentSource.card("4242424242424242", 12, 2030, "123", holder_name="A B")
    purchase = AuthorizeRequest(
        amount=Money("5.12", "KWD"), source=card, reference="o", capture=True
    )
    sent = form(adapter.build_request(purchase, idempotency_key="k"))
    assert sent["capture_method"] == "automatic"
    assert sent["amount"] == "5120"  # three-decimal, last digit 0
    assert sent["payment_method_data[card][number]"] == "4242424242424242"
    assert sent["payment_method_data[billing_details][name]"] == "A B"
    isk = AuthorizeRequest(amount=Money("5", "ISK"), source=card, reference="o")
    assert form(adapter.build_request(isk, idempotency_key="k"))["amount"] == "500"
    assert CAPABILITIES.currencies["MGA"].exponent == 0  # Stripe: zero-decimal, ISO: two


@pytest.mark.parametrize(
    ("request_", "method", "path", "params"),
    [
        (
            CaptureRequest(payment_id="pi_1", amount=Money("10.00", "EUR")),
            "POST",
            "/v1/payment_intents/pi_1/capture",
            {"amount_to_capture": "1000", "expand[0]": "latest_charge"},
        ),
        (
            CaptureRequest(payment_id="pi_1"),
            "POST",
            "/v1/payment_intents/pi_1/capture",
            {"expand[0]": "latest_charge"},
        ),
        (
            VoidRequest(payment_id="pi_1"),
            "POST",
            "/v1/payment_intents/pi_1/cancel",
            {"expand[0]": "latest_charge"},
        ),
        (
            RefundRequest(
                payment_id="pi_1", amount=Money("2.00", "EUR"), reference="r-1", reason="duplicate"
            ),
            "POST",
            "/v1/refunds",
            {
                "payment_intent": "pi_1",
                "amount": "200",
                "reason": "duplicate",
                "metadata[reference]": "r-1",
            },
        ),
    ],
)
def test_modification_requests(
    request_: OperationRequest, method: str, path: str, params: dict[str, str]
) -> None:
    request = adapter.build_request(request_, idempotency_key="k")
    assert (request.method, request.url.path, form(request)) == (method, path, params)


def test_retrieve_is_a_get_without_idempotency_key() -> None:
    request = adapter.build_request(RetrieveRequest(payment_id="pi_1"), idempotency_key=None)
    assert request.method == "GET" and "Idempotency-Key" not in request.headers
    assert request.url.params["expand[0]"] == "latest_charge"


@pytest.mark.parametrize(
    ("over", "status", "captured", "refunded"),
    [
        ({}, PaymentStatus.AUTHORIZED, "0.00", "0.00"),
        (
            {"status": "requires_action", "next_action": {"type": "use_stripe_sdk"}},
            PaymentStatus.REQUIRES_ACTION,
            "0.00",
            "0.00",
        ),
        ({"status": "processing"}, PaymentStatus.PENDING, "0.00", "0.00"),
        ({"status": "canceled", "amount_capturable": 0}, PaymentStatus.VOIDED, "0.00", "0.00"),
        (
            {
                "status": "requires_payment_method",
                "last_payment_error": {"type": "card_error", "code": "card_declined"},
            },
            PaymentStatus.FAILED,
            "0.00",
            "0.00",
        ),
    ],
)
def test_intent_statuses(
    over: dict[str, Any], status: PaymentStatus, captured: str, refunded: str
) -> None:
    result = respond(AUTH, 200, intent(**over))
    assert isinstance(result, Payment)
    assert result.status is status
    assert result.amount_captured == Money(captured, "EUR")
    assert result.reference == "order-42" and result.idempotency_key == "k1"


def _charge(captured: int, refunded: int) -> dict[str, Any]:
    return {
        "id": "ch_1", "object": "charge", "amount": 1234, "amount_captured": captured,
        "amount_refunded": refunded, "captured": True, "currency": "eur", "status": "succeeded",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("received", "refunded", "status"),
    [
        (1234, 0, PaymentStatus.CAPTURED),
        (1000, 0, PaymentStatus.PARTIALLY_CAPTURED),
        (1000, 500, PaymentStatus.PARTIALLY_REFUNDED),
        (1000, 1000, PaymentStatus.REFUNDED),
    ],
)
def test_succeeded_intent_is_refined_by_amounts(
    received: int, refunded: int, status: PaymentStatus
) -> None:
    body = intent(status="succeeded", amount_received=received, amount_capturable=0,
                  latest_charge=_charge(received, refunded))  # fmt: skip
    result = respond(RetrieveRequest(payment_id="pi_123"), 200, body)
    assert isinstance(result, Payment)
    assert result.status is status
    assert result.amount_captured.to_minor_units() == received
    assert result.amount_refunded.to_minor_units() == refunded


def test_unknown_intent_status_is_never_guessed() -> None:
    result = respond(AUTH, 200, intent(status="requires_reauthorization"))
    assert isinstance(result, OutcomeUnknown) and result.code is ErrorCode.SCHEMA_VIOLATION
    read = respond(RetrieveRequest(payment_id="pi_123"), 200, intent(status="weird"))
    assert isinstance(read, PaymentError) and not isinstance(read, OutcomeUnknown)


def test_refund_response() -> None:
    request = RefundRequest(payment_id="pi_123", amount=Money("2.00", "EUR"))
    body = {"id": "re_1", "object": "refund", "amount": 200, "currency": "eur",
            "payment_intent": "pi_123", "status": "succeeded", "metadata": {}}  # fmt: skip
    result = respond(request, 200, body)
    assert isinstance(result, Refund)
    assert (result.status, result.amount, result.payment_id) == (
        RefundStatus.SUCCEEDED,
        Money("2.00", "EUR"),
        "pi_123",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        json.dumps({**intent(), "amount": "12.34"}).encode(),
        json.dumps({"object": "payment_intent"}).encode(),
    ],
)
def test_schema_violation_on_a_mutating_call_is_outcome_unknown_with_body(body: bytes) -> None:
    result = respond(AUTH, 200, body)
    assert isinstance(result, OutcomeUnknown)
    assert result.code is ErrorCode.SCHEMA_VIOLATION and result.provider_body is not None
    assert result.request_id == "req_9" and result.idempotency_key == "k1"


def error(type_: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": type_, "code": code, "message": "m", **extra}}


def test_decline_with_advice_code() -> None:
    body = error(
        "card_error",
        "card_declined",
        decline_code="insufficient_funds",
        advice_code="do_not_try_again",
    )
    result = respond(AUTH, 402, body)
    assert isinstance(result, CardDeclinedError)
    assert result.reason is DeclineReason.INSUFFICIENT_FUNDS
    assert result.advice is RetryAdvice.DO_NOT_RETRY
    assert (result.http_status, result.provider_code, result.decline_code) == (
        402,
        "card_declined",
        "insufficient_funds",
    )


@pytest.mark.parametrize(
    ("request_", "status", "body", "headers", "cls", "code"),
    [
        (
            AUTH,
            409,
            error("invalid_request_error", "idempotency_key_in_use"),
            {"Stripe-Should-Retry": "true"},
            OutcomeUnknown,  # a request under the key still running there
            ErrorCode.IDEMPOTENCY_IN_FLIGHT,
        ),
        (
            AUTH,
            400,
            error("idempotency_error"),
            {},
            IdempotencyConflict,
            ErrorCode.IDEMPOTENCY_CONFLICT,
        ),
        (
            AUTH,
            429,
            error("invalid_request_error", "rate_limit"),
            {"Retry-After": "2"},
            RetriableError,
            ErrorCode.RATE_LIMITED,
        ),
        (AUTH, 500, error("api_error"), {}, OutcomeUnknown, ErrorCode.PROVIDER_UNAVAILABLE),
        (AUTH, 503, error("api_error"), {}, OutcomeUnknown, ErrorCode.PROVIDER_UNAVAILABLE),
        (
            RetrieveRequest(payment_id="pi_1"),
            500,
            error("api_error"),
            {},
            RetriableError,
            ErrorCode.PROVIDER_UNAVAILABLE,
        ),
        (
            AUTH,
            401,
            error("invalid_request_error"),
            {},
            InvalidRequestError,
            ErrorCode.AUTHENTICATION,
        ),
        (AUTH, 424, error("api_error"), {}, OutcomeUnknown, ErrorCode.PROVIDER_UNAVAILABLE),
        (
            RetrieveRequest(payment_id="pi_1"),
            424,
            error("invalid_request_error"),
            {},
            RetriableError,
            ErrorCode.PROVIDER_UNAVAILABLE,
        ),
        (
            RetrieveRequest(payment_id="pi_x"),
            404,
            error("invalid_request_error", "resource_missing"),
            {},
            InvalidRequestError,
            ErrorCode.NOT_FOUND,
        ),
        (
            CaptureRequest(payment_id="pi_1", amount=Money("99", "EUR")),
            400,
            error("invalid_request_error", "amount_too_large"),
            {},
            InvalidRequestError,
            ErrorCode.AMOUNT_EXCEEDS_CAPTURABLE,
        ),
        (
            RefundRequest(payment_id="pi_1", amount=Money("99", "EUR")),
            400,
            error("invalid_request_error", "amount_too_large"),
            {},
            InvalidRequestError,
            ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE,
        ),
        (
            CaptureRequest(payment_id="pi_1"),
            400,
            error("invalid_request_error", "payment_intent_unexpected_state"),
            {},
            InvalidRequestError,
            ErrorCode.INVALID_STATE,
        ),
        (
            AUTH,
            502,
            b"<html>bad gateway</html>",
            {},
            OutcomeUnknown,
            ErrorCode.PROVIDER_UNAVAILABLE,
        ),
        # Not Stripe's format: a firewall, a load balancer, a redirect. Nothing of what Stripe did.
        (AUTH, 403, b"forbidden", {}, OutcomeUnknown, ErrorCode.UNEXPECTED_RESPONSE),
        (AUTH, 404, b"<html>no route</html>", {}, OutcomeUnknown, ErrorCode.UNEXPECTED_RESPONSE),
        (AUTH, 302, b"", {"Location": "https://sso.example"},
         OutcomeUnknown, ErrorCode.UNEXPECTED_RESPONSE),
        (AUTH, 409, b'{"error": {"type": "idem', {},
         OutcomeUnknown, ErrorCode.UNEXPECTED_RESPONSE),
        (RetrieveRequest(payment_id="pi_1"), 404, b"<html>no route</html>", {},
         TerminalError, ErrorCode.UNEXPECTED_RESPONSE),
        (AUTH, 401, error("invalid_request_error", None), {},
         InvalidRequestError, ErrorCode.AUTHENTICATION),
    ],
)  # fmt: skip
def test_error_classification(
    request_: OperationRequest,
    status: int,
    body: Any,
    headers: dict[str, str],
    cls: type[PaymentError],
    code: ErrorCode,
) -> None:
    result = respond(request_, status, body, headers)
    assert type(result) is cls
    assert result.code is code and result.http_status == status and result.provider == "stripe"


def test_retry_hints_are_read() -> None:
    limited = respond(
        AUTH,
        429,
        error("invalid_request_error", "rate_limit"),
        {"Retry-After": "2", "Stripe-Should-Retry": "false"},
    )
    assert limited.retry_after == 2.0 and limited.provider_retry_hint is False


def test_repr_masks_the_key() -> None:
    assert KEY not in repr(adapter)
    assert "**********" in repr(adapter)


def test_a_replayed_server_error_is_not_worth_repeating() -> None:
    fresh = respond(AUTH, 500, error("api_error"))
    replayed = respond(AUTH, 500, error("api_error"), {"Idempotent-Replayed": "true"})
    assert isinstance(fresh, OutcomeUnknown) and fresh.provider_retry_hint is None
    assert isinstance(replayed, OutcomeUnknown) and replayed.provider_retry_hint is False


def test_a_decline_is_read_whatever_shape_its_embedded_intent_has() -> None:
    body = error(
        "card_error",
        "card_declined",
        decline_code="insufficient_funds",
        payment_intent={"id": "pi_9", "object": "payment_intent", "status": "new_status"},
    )
    result = respond(AUTH, 402, body)
    assert isinstance(result, CardDeclinedError) and result.payment_id == "pi_9"
    assert result.reason is DeclineReason.INSUFFICIENT_FUNDS


def test_every_intent_status_has_a_canonical_status() -> None:
    from paygate.adapters.stripe._responses import STATUS_MAP, IntentStatus

    assert set(STATUS_MAP) == set(IntentStatus)


def test_a_503_to_a_mutating_call_is_an_unknown_outcome_and_a_replayed_one_a_saved_one() -> None:
    """A 503 may come after the commit (a load balancer's, after the provider acted): only the
    provider's replay under the key can tell. Replayed, it is the 5xx Stripe saved: repeating
    cannot settle it (the gateway asks for the payment instead)."""
    fresh = respond(AUTH, 503, error("api_error"))
    replayed = respond(AUTH, 503, error("api_error"), {"Idempotent-Replayed": "true"})
    assert isinstance(fresh, OutcomeUnknown) and fresh.provider_retry_hint is None
    assert isinstance(replayed, OutcomeUnknown) and replayed.provider_retry_hint is False
    read = respond(RetrieveRequest(payment_id="pi_1"), 503, error("api_error"))
    assert isinstance(read, RetriableError)  # a read moved nothing


# -- fields the spec makes optional --------------------------------------------------------------
REFUND = RefundRequest(payment_id="pi_123", amount=Money("2.00", "EUR"))


def refund_body(**over: Any) -> dict[str, Any]:
    body = {"id": "re_1", "object": "refund", "amount": 200, "currency": "eur",
            "payment_intent": "pi_123", "status": "succeeded", "metadata": {}}  # fmt: skip
    body.update(over)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.mark.parametrize("payment_intent", [None, ...], ids=["null", "absent"])
def test_a_refund_without_its_payment_intent_is_the_refund_asked_for(
    payment_intent: object,
) -> None:
    result = respond(REFUND, 200, refund_body(payment_intent=payment_intent))
    assert isinstance(result, Refund), result  # not an unknown outcome
    assert (result.payment_id, result.status, result.amount) == (
        "pi_123",
        RefundStatus.SUCCEEDED,
        Money("2.00", "EUR"),
    )
    assert mismatches(REFUND, result) == []


@pytest.mark.parametrize("status", [None, ...], ids=["null", "absent"])
def test_a_refund_without_a_status_is_pending_never_succeeded(status: object) -> None:
    result = respond(REFUND, 200, refund_body(status=status))
    assert isinstance(result, Refund) and result.status is RefundStatus.PENDING


def test_a_refund_status_paygate_does_not_know_is_still_a_schema_violation() -> None:
    result = respond(REFUND, 200, refund_body(status="reversed"))
    assert isinstance(result, OutcomeUnknown) and result.code is ErrorCode.SCHEMA_VIOLATION


def test_a_refund_of_another_payment_is_still_a_mismatch() -> None:
    result = respond(REFUND, 200, refund_body(payment_intent="pi_other"))
    assert isinstance(result, Refund)
    assert mismatches(REFUND, result) == ["payment_id (asked pi_123, provider says pi_other)"]


def _without(body: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in names}


def test_a_payment_intent_without_its_optional_amounts_reads_them_as_nothing_received() -> None:
    result = respond(AUTH, 200, _without(intent(), "amount_capturable", "amount_received"))
    assert isinstance(result, Payment) and result.status is PaymentStatus.AUTHORIZED
    assert result.amount_captured == Money.zero("EUR")
    assert result.amount_authorized == Money("12.34", "EUR")


def test_a_succeeded_payment_intent_without_amount_received_is_a_schema_violation() -> None:
    body = _without(intent(status="succeeded"), "amount_received")
    capture = CaptureRequest(payment_id="pi_123")
    result = respond(capture, 200, body)  # never read as 0, nor as the whole amount
    assert isinstance(result, OutcomeUnknown) and result.code is ErrorCode.SCHEMA_VIOLATION
    assert "amount_received" in result.message


def test_a_payment_intent_without_metadata_echoes_no_reference_and_fails_integrity() -> None:
    result = respond(AUTH, 200, _without(intent(), "metadata"))
    assert isinstance(result, Payment)
    assert (result.reference, result.metadata) == (None, {})
    assert mismatches(AUTH, result) == ["reference (asked order-42, provider says None)"]


# -- raw card numbers: refused unless the adapter opts in ------------------------------------------
RAW = AuthorizeRequest(
    amount=Money("10.00", "EUR"),
    source=PaymentSource.card("4242424242424242", 12, 2030, "123"),
    reference="o",
)


def test_raw_card_data_is_refused_by_default_and_taken_once_opted_in() -> None:
    assert not CAPABILITIES.raw_card_data and not adapter.capabilities.raw_card_data
    with pytest.raises(InvalidRequestError, match="raw_card_data=True") as refused:
        adapter.capabilities.check(RAW)
    assert refused.value.code is ErrorCode.UNSUPPORTED
    opted = StripeAdapter(KEY, raw_card_data=True)
    assert opted.capabilities.raw_card_data and opted.capabilities.currencies is CURRENCIES
    opted.capabilities.check(RAW)
    sent = form(opted.build_request(RAW, idempotency_key="k"))
    assert sent["payment_method_data[type]"] == "card"
    assert "raw_card_data=True" in repr(opted) and "raw_card_data" not in repr(adapter)


@pytest.mark.parametrize("value", ["true", 1, None])
def test_raw_card_data_takes_only_a_bool(value: Any) -> None:
    with pytest.raises(TypeError, match="raw_card_data"):
        StripeAdapter(KEY, raw_card_data=value)
