"""The Adyen adapter, sans-IO: canonical operation → wire request, wire response → result,
and webhook deliveries → verified, normalized events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from paygate import Money, PaymentSource, PaymentStatus, RefundStatus
from paygate._decision import decided
from paygate.adapters.adyen import API_VERSION, CAPABILITIES, AdyenAdapter
from paygate.adapters.adyen._codes import RESULT_STATUS, ResultCode
from paygate.adapters.adyen._webhooks import sign
from paygate.adapters.base import ResponseContext
from paygate.errors import (
    CardDeclinedError,
    ConfigurationError,
    DeclineReason,
    ErrorCode,
    InvalidRequestError,
    InvalidWebhookError,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
    RetryAdvice,
    TerminalError,
)
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
    EventType,
    ModificationReceipt,
    Operation,
    OperationRequest,
    Payment,
    Refund,
    RefundRequest,
    RetrieveRequest,
    VoidRequest,
    WebhookEvent,
)

KEY = "AQEyhmfxTestAdyenApiKey0123456789"
HMAC_HEX = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
HMAC = bytes.fromhex(HMAC_HEX)
BASE = "https://adyen.example/v71"
adapter = AdyenAdapter(KEY, merchant_account="TestMerchant", base_url=BASE, hmac_key=HMAC_HEX)

CARD = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="APPROVED")
TOKEN = PaymentSource.token("8415995487234100", customer="shopper-7")
AUTH = AuthorizeRequest(
    amount=Money("12.34", "EUR"), source=TOKEN, reference="order-42", metadata={"cart": "c-7"}
)
PURCHASE = AuthorizeRequest(
    amount=Money("12.34", "EUR"), source=CARD, reference="order-42", capture=True
)


def sent(request: httpx.Request) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.content)
    return body


def respond(
    request: OperationRequest, status: int, body: Any, headers: dict[str, str] | None = None
) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.Response(status, content=content, headers=headers or {})
    outcome = adapter.parse_response(
        response, ResponseContext(request=request, idempotency_key="k1")
    )
    return decided(outcome, mutating=request.operation.is_mutating)  # as the core decides it


# -- constants and capabilities ----------------------------------------------------------------
def test_capabilities_declare_adyen_as_record_backed() -> None:
    assert Operation.RETRIEVE not in CAPABILITIES.operations
    assert CAPABILITIES.operations == {
        Operation.AUTHORIZE, Operation.PURCHASE, Operation.CAPTURE, Operation.VOID,
        Operation.REFUND, Operation.COMPLETE_ACTION,
    }  # fmt: skip
    assert CAPABILITIES.needs_payment_record  # modifications are only received: see _receipt
    assert CAPABILITIES.partial_capture and not CAPABILITIES.multiple_captures
    assert CAPABILITIES.partial_refund and CAPABILITIES.multiple_refunds
    assert CAPABILITIES.idempotent_replay and CAPABILITIES.max_idempotency_key_length == 64
    assert CAPABILITIES.max_reference_length == 80


def test_the_default_endpoint_is_the_test_environment() -> None:
    default = AdyenAdapter(KEY, merchant_account="TestMerchant")
    request = default.build_request(AUTH, idempotency_key="k")
    assert str(request.url) == f"https://checkout-test.adyen.com/v{API_VERSION}/payments"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"api_key": "", "merchant_account": "M"}, "API key"),
        ({"api_key": KEY, "merchant_account": ""}, "merchant account"),
        ({"api_key": KEY, "merchant_account": "M", "hmac_key": "not-hex-secret"}, "hex"),
    ],
)
def test_construction_refuses_unusable_credentials(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        AdyenAdapter(**kwargs)
    assert "not-hex-secret" not in str(refused.value)


@pytest.mark.parametrize(
    "spaced",
    [
        HMAC_HEX[:32] + " " + HMAC_HEX[32:],  # bytes.fromhex would take this, silently
        HMAC_HEX[:32] + "\n" + HMAC_HEX[32:],
        HMAC_HEX[:2] + "\t" + HMAC_HEX[2:],
        " " + HMAC_HEX,
        HMAC_HEX + "\n",  # a key file's last line break
        HMAC_HEX + "\u00a0",  # a no-break space from a web page
    ],
    ids=["space", "line-break", "tab", "leading", "trailing-newline", "no-break-space"],
)
def test_an_hmac_key_with_whitespace_is_a_configuration_error_never_cleaned(spaced: str) -> None:
    for key in (spaced, SecretStr(spaced)):
        with pytest.raises(ConfigurationError, match="whitespace") as refused:
            AdyenAdapter(KEY, merchant_account="M", hmac_key=key)
        text = f"{refused.value} {refused.value!r}"
        assert "PAYGATE_ADYEN__HMAC_KEY" in text
        assert HMAC_HEX[:8] not in text and HMAC_HEX[-8:] not in text


def test_repr_masks_the_api_key_and_the_hmac_key() -> None:
    text = repr(adapter)
    assert KEY not in text and HMAC_HEX not in text and HMAC_HEX.lower() not in text
    assert text.count("**********") == 2 and "TestMerchant" in text
    assert "hmac_key=None" in repr(AdyenAdapter(SecretStr(KEY), merchant_account="M"))


# -- request builders --------------------------------------------------------------------------
def test_authorize_with_a_stored_card_is_json_with_key_and_idempotency_headers() -> None:
    request = adapter.build_request(AUTH, idempotency_key="key-42")
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/payments")
    assert request.headers["X-API-Key"] == KEY
    assert request.headers["Idempotency-Key"] == "key-42"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("paygate/")
    assert sent(request) == {
        "merchantAccount": "TestMerchant",
        "amount": {"value": 1234, "currency": "EUR"},
        "reference": "order-42",
        "paymentMethod": {"type": "scheme", "storedPaymentMethodId": "8415995487234100"},
        "shopperReference": "shopper-7",
        "shopperInteraction": "ContAuth",
        "recurringProcessingModel": "CardOnFile",
        "metadata": {"cart": "c-7"},
        "additionalData": {"manualCapture": "true"},
    }


def test_purchase_with_raw_card_captures_automatically() -> None:
    request = adapter.build_request(PURCHASE, idempotency_key=None)
    assert "Idempotency-Key" not in request.headers
    assert sent(request) == {
        "merchantAccount": "TestMerchant",
        "amount": {"value": 1234, "currency": "EUR"},
        "reference": "order-42",
        "paymentMethod": {
            "type": "scheme",
            "number": "4111111145551142",
            "expiryMonth": "03",
            "expiryYear": "2030",
            "cvc": "737",
            "holderName": "APPROVED",
        },
    }


def test_description_is_not_sent_and_return_url_only_when_configured() -> None:
    described = AUTH.model_copy(update={"description": "two shirts"})
    assert b"two shirts" not in adapter.build_request(described, idempotency_key="k").content
    with_return = AdyenAdapter(KEY, merchant_account="M", return_url="https://shop.example/r")
    body = sent(with_return.build_request(AUTH, idempotency_key="k"))
    assert body["returnUrl"] == "https://shop.example/r"


@pytest.mark.parametrize(
    ("amount", "value"),
    [
        (Money("5.124", "KWD"), 5124),  # three decimals, any last digit (unlike Stripe)
        (Money("1234", "JPY"), 1234),
        (Money("10", "CLP"), 1000),  # Adyen: two decimals, ISO: none
        (Money("5", "ISK"), 500),  # Adyen: two decimals, ISO: none
        (Money("10000", "IDR"), 10000),  # Adyen: no decimals, ISO: two
        (Money("2500", "UGX"), 2500),
        (Money("12.34", "usd"), 1234),
    ],
)
def test_amounts_are_minor_units_by_adyens_own_scale(amount: Money, value: int) -> None:
    request = AuthorizeRequest(amount=amount, source=CARD, reference="o")
    assert sent(adapter.build_request(request, idempotency_key="k"))["amount"] == {
        "value": value,
        "currency": str(amount.currency),
    }


def test_an_amount_finer_than_adyens_scale_is_refused_not_rounded() -> None:
    request = AuthorizeRequest(amount=Money("10.50", "IDR"), source=CARD, reference="o")
    with pytest.raises(InvalidRequestError) as refused:
        CAPABILITIES.check(request)
    assert refused.value.code is ErrorCode.AMOUNT_INVALID
    with pytest.raises(InvalidRequestError):
        adapter.build_request(request, idempotency_key="k")


@pytest.mark.parametrize("customer", [None, "ab"])
def test_a_token_needs_the_shopper_it_was_stored_for(customer: str | None) -> None:
    request = AUTH.model_copy(update={"source": PaymentSource.token("8415", customer=customer)})
    with pytest.raises(InvalidRequestError, match="shopperReference") as refused:
        adapter.validate(request)  # before any I/O: the gateway calls it before the stores
    assert refused.value.http_status is None


@pytest.mark.parametrize("customer", ["abc", "s" * 255])
def test_a_token_with_its_shopper_is_valid_and_sent_with_it(customer: str) -> None:
    request = AUTH.model_copy(update={"source": PaymentSource.token("8415", customer=customer)})
    adapter.validate(request)
    assert sent(adapter.build_request(request, idempotency_key="k"))["shopperReference"] == customer
    adapter.validate(PURCHASE)  # card details need no shopper


@pytest.mark.parametrize(
    "metadata",
    [{"k" * 21: "v"}, {"k": "v" * 81}, {f"k{i}": "v" for i in range(21)}],
    ids=["long-key", "long-value", "21-keys"],
)
def test_metadata_beyond_adyens_limits_is_refused_before_io(metadata: dict[str, str]) -> None:
    request = AUTH.model_copy(update={"metadata": metadata})
    with pytest.raises(InvalidRequestError, match="metadata"):
        CAPABILITIES.check(request)


def test_metadata_at_adyens_limits_is_sent_as_given() -> None:
    metadata = {f"{i:02d}" + "k" * 18: "v" * 80 for i in range(20)}
    request = AUTH.model_copy(update={"metadata": metadata})
    CAPABILITIES.check(request)
    assert sent(adapter.build_request(request, idempotency_key="k"))["metadata"] == metadata


@pytest.mark.parametrize(
    ("request_", "path", "body"),
    [
        (
            CaptureRequest(payment_id="PSP1", amount=Money("10.00", "EUR"), reference="cap-1"),
            "/payments/PSP1/captures",
            {
                "merchantAccount": "TestMerchant",
                "amount": {"value": 1000, "currency": "EUR"},
                "reference": "cap-1",
            },
        ),
        (
            VoidRequest(payment_id="PSP1"),
            "/payments/PSP1/cancels",
            {"merchantAccount": "TestMerchant"},
        ),
        (
            VoidRequest(payment_id="PSP1", reference="void-1"),
            "/payments/PSP1/cancels",
            {"merchantAccount": "TestMerchant", "reference": "void-1"},
        ),
        (
            RefundRequest(
                payment_id="PSP1", amount=Money("2", "JPY"), reference="r-1", reason="fraudulent"
            ),
            "/payments/PSP1/refunds",
            {
                "merchantAccount": "TestMerchant",
                "amount": {"value": 2, "currency": "JPY"},
                "reference": "r-1",
                "merchantRefundReason": "FRAUD",
            },
        ),
        (
            RefundRequest(
                payment_id="PSP1", amount=Money("1", "EUR"), reason="requested_by_customer"
            ),
            "/payments/PSP1/refunds",
            {
                "merchantAccount": "TestMerchant",
                "amount": {"value": 100, "currency": "EUR"},
                "merchantRefundReason": "CUSTOMER REQUEST",
            },
        ),
    ],
)
def test_modification_requests(request_: OperationRequest, path: str, body: dict[str, Any]) -> None:
    request = adapter.build_request(request_, idempotency_key="mod-key")
    assert (request.method, request.url.path) == ("POST", f"/v71{path}")
    assert request.headers["Idempotency-Key"] == "mod-key"
    assert sent(request) == body


@pytest.mark.parametrize(
    "request_", [CaptureRequest(payment_id="PSP1"), RefundRequest(payment_id="PSP1")]
)
def test_capture_and_refund_need_the_amount(request_: OperationRequest) -> None:
    with pytest.raises(InvalidRequestError, match="Adyen needs the amount"):
        adapter.build_request(request_, idempotency_key="k")


def test_retrieve_cannot_be_built() -> None:
    with pytest.raises(InvalidRequestError) as refused:
        adapter.build_request(RetrieveRequest(payment_id="PSP1"), idempotency_key=None)
    assert refused.value.code is ErrorCode.UNSUPPORTED


# -- /payments answers -------------------------------------------------------------------------
def payment(result: str, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "pspReference": "PSP1",
        "resultCode": result,
        "amount": {"value": 1234, "currency": "EUR"},
        "merchantReference": "order-42",
        "additionalData": {"cardSummary": "1142", "someFutureKey": {"nested": True}},
        "someFutureField": 1,
    }
    body.update(over)
    return body


REDIRECT = {"type": "redirect", "url": "https://issuer.example/3ds", "method": "GET"}
# Every resultCode: (canonical status for authorize, for purchase), or the decline it is.
RESULT_EXPECTATIONS: dict[ResultCode, tuple[PaymentStatus, PaymentStatus] | DeclineReason] = {
    ResultCode.AUTHORISED: (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED),
    ResultCode.SUCCESS: (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED),
    ResultCode.PARTIALLY_AUTHORISED: (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED),
    ResultCode.REDIRECT_SHOPPER: (PaymentStatus.REQUIRES_ACTION,) * 2,
    ResultCode.IDENTIFY_SHOPPER: (PaymentStatus.REQUIRES_ACTION,) * 2,
    ResultCode.CHALLENGE_SHOPPER: (PaymentStatus.REQUIRES_ACTION,) * 2,
    ResultCode.PRESENT_TO_SHOPPER: (PaymentStatus.REQUIRES_ACTION,) * 2,
    ResultCode.PENDING: (PaymentStatus.PENDING,) * 2,
    ResultCode.RECEIVED: (PaymentStatus.PENDING,) * 2,
    ResultCode.AUTHENTICATION_FINISHED: (PaymentStatus.PENDING,) * 2,
    ResultCode.AUTHENTICATION_NOT_REQUIRED: (PaymentStatus.PENDING,) * 2,
    ResultCode.REFUSED: DeclineReason.UNKNOWN,
    ResultCode.ERROR: DeclineReason.PROCESSING_ERROR,
    ResultCode.CANCELLED: DeclineReason.GENERIC,
}


def test_the_expectations_cover_every_result_code() -> None:
    assert set(RESULT_EXPECTATIONS) == set(ResultCode) == set(RESULT_STATUS)


@pytest.mark.parametrize("result", list(ResultCode))
@pytest.mark.parametrize("request_", [AUTH, PURCHASE], ids=["authorize", "purchase"])
def test_every_result_code(result: ResultCode, request_: AuthorizeRequest) -> None:
    expected = RESULT_EXPECTATIONS[result]
    outcome = respond(request_, 200, payment(result.value, action=REDIRECT))
    if isinstance(expected, DeclineReason):
        assert isinstance(outcome, CardDeclinedError)
        assert outcome.reason is expected and outcome.provider_code == result.value
        assert outcome.http_status == 200 and outcome.payment_id == "PSP1"
        assert outcome.idempotency_key == "k1" and outcome.retriable is False
        return
    assert isinstance(outcome, Payment)
    status = expected[1] if request_.capture else expected[0]
    assert outcome.status is status
    assert (outcome.id, outcome.provider, outcome.provider_status) == ("PSP1", "adyen", result)
    assert outcome.reference == "order-42" and outcome.idempotency_key == "k1"
    authorized = status in {PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED}
    assert outcome.amount_authorized == Money("12.34" if authorized else "0", "EUR")
    captured = status is PaymentStatus.CAPTURED
    assert outcome.amount_captured == Money("12.34" if captured else "0", "EUR")
    assert outcome.amount_refunded == Money("0", "EUR")
    if status is PaymentStatus.REQUIRES_ACTION:
        assert outcome.next_action is not None
        assert outcome.next_action.type == "redirect"
        assert outcome.next_action.redirect_url == "https://issuer.example/3ds"


def test_partial_authorisation_reports_the_authorised_amount() -> None:
    body = payment("PartiallyAuthorised", amount={"value": 1000, "currency": "EUR"})
    outcome = respond(AUTH, 200, body)
    assert isinstance(outcome, Payment) and outcome.status is PaymentStatus.AUTHORIZED
    assert outcome.amount == outcome.amount_authorized == Money("10.00", "EUR")


def test_without_an_amount_the_requested_amount_is_reported() -> None:
    body = payment("RedirectShopper", action=REDIRECT)
    del body["amount"]
    outcome = respond(AUTH, 200, body)
    assert isinstance(outcome, Payment) and outcome.amount == Money("12.34", "EUR")


def test_amounts_are_read_by_adyens_scale() -> None:
    request = AuthorizeRequest(amount=Money("10", "CLP"), source=CARD, reference="order-42")
    outcome = respond(
        request, 200, payment("Authorised", amount={"value": 1000, "currency": "CLP"})
    )
    assert isinstance(outcome, Payment) and outcome.amount == Money("10", "CLP")


@pytest.mark.parametrize(
    ("code", "text", "reason", "advice"),
    [
        ("2", "Refused", DeclineReason.GENERIC, RetryAdvice.DO_NOT_RETRY),
        ("6", "Expired Card", DeclineReason.EXPIRED_CARD, RetryAdvice.UPDATE_PAYMENT_DETAILS),
        ("12", "Not enough balance", DeclineReason.INSUFFICIENT_FUNDS, RetryAdvice.RETRY_LATER),
        ("14", "Acquirer Fraud", DeclineReason.FRAUD_SUSPECTED, RetryAdvice.DO_NOT_RETRY),
        ("24", "CVC Declined", DeclineReason.INCORRECT_CVC, RetryAdvice.UPDATE_PAYMENT_DETAILS),
        ("99", "Brand new reason", DeclineReason.UNKNOWN, RetryAdvice.UNKNOWN),
        (None, "Not enough balance", DeclineReason.INSUFFICIENT_FUNDS, RetryAdvice.RETRY_LATER),
        (None, None, DeclineReason.UNKNOWN, RetryAdvice.UNKNOWN),
    ],
)
def test_refusals_carry_a_normalized_reason_and_advice(
    code: str | None, text: str | None, reason: DeclineReason, advice: RetryAdvice
) -> None:
    outcome = respond(AUTH, 200, payment("Refused", refusalReasonCode=code, refusalReason=text))
    assert isinstance(outcome, CardDeclinedError)
    assert (outcome.reason, outcome.advice) == (reason, advice)
    assert (outcome.provider, outcome.provider_code, outcome.decline_code) == (
        "adyen",
        "Refused",
        code,
    )
    assert outcome.provider_body is not None


def test_error_and_cancelled_results_read_their_refusal_code_first() -> None:
    error = respond(
        AUTH, 200, payment("Error", refusalReasonCode="4", refusalReason="Acquirer Error")
    )
    assert isinstance(error, CardDeclinedError)
    assert error.reason is DeclineReason.PROCESSING_ERROR and error.provider_code == "Error"
    shopper = respond(AUTH, 200, payment("Cancelled", refusalReasonCode="16"))
    assert isinstance(shopper, CardDeclinedError) and shopper.reason is DeclineReason.GENERIC


def test_mastercard_advice_wins_over_the_reasons_default() -> None:
    body = payment(
        "Refused",
        refusalReasonCode="12",
        additionalData={"merchantAdviceCode": "03: Do not try again"},
    )
    outcome = respond(AUTH, 200, body)
    assert isinstance(outcome, CardDeclinedError)
    assert outcome.reason is DeclineReason.INSUFFICIENT_FUNDS
    assert outcome.advice is RetryAdvice.DO_NOT_RETRY


def test_a_refusal_never_keeps_a_card_number() -> None:
    body = payment(
        "Refused", refusalReason="Refused", additionalData={"cardNumber": "4111111145551142"}
    )
    outcome = respond(PURCHASE, 200, body)
    assert isinstance(outcome, CardDeclinedError)
    assert "4111111145551142" not in json.dumps(outcome.provider_body) + str(outcome)


# -- modification answers ----------------------------------------------------------------------
def modification(status: str = "received", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "merchantAccount": "TestMerchant",
        "paymentPspReference": "PSP1",
        "pspReference": "MOD1",
        "status": status,
        "reference": "ref-1",
        "amount": {"value": 1000, "currency": "EUR"},
    }
    body.update(over)
    return body


def test_a_capture_is_received_not_done() -> None:
    request = CaptureRequest(payment_id="PSP1", amount=Money("10.00", "EUR"), reference="ref-1")
    outcome = respond(request, 201, modification())
    assert outcome == ModificationReceipt(
        provider="adyen",
        payment_id="PSP1",
        operation=Operation.CAPTURE,
        modification_id="MOD1",
        amount=Money("10.00", "EUR"),
        reference="ref-1",
        idempotency_key="k1",
        provider_status="received",
    )


def test_a_void_is_received_without_an_amount() -> None:
    body = modification()
    del body["amount"]
    outcome = respond(VoidRequest(payment_id="PSP1"), 201, body)
    assert isinstance(outcome, ModificationReceipt)
    assert (outcome.operation, outcome.amount, outcome.modification_id) == (
        Operation.VOID,
        None,
        "MOD1",
    )


def test_a_refund_is_pending_until_its_webhook() -> None:
    request = RefundRequest(payment_id="PSP1", amount=Money("10.00", "EUR"))
    outcome = respond(request, 201, modification(merchantRefundReason="FRAUD"))
    assert outcome == Refund(
        id="MOD1",
        provider="adyen",
        payment_id="PSP1",
        status=RefundStatus.PENDING,
        amount=Money("10.00", "EUR"),
        reference="ref-1",
        idempotency_key="k1",
        provider_status="received",
    )


# -- schema violations -------------------------------------------------------------------------
CAPTURE = CaptureRequest(payment_id="PSP1", amount=Money("10.00", "EUR"))
REFUND = RefundRequest(payment_id="PSP1", amount=Money("10.00", "EUR"))


@pytest.mark.parametrize(
    ("request_", "status", "body"),
    [
        (AUTH, 200, b"{not json"),
        (AUTH, 200, json.dumps({"pspReference": "PSP1"}).encode()),  # no resultCode
        (AUTH, 200, json.dumps(payment("Brandnew")).encode()),
        (
            AUTH,
            200,
            json.dumps(
                payment("Authorised", amount={"value": "12.34", "currency": "EUR"})
            ).encode(),
        ),
        (AUTH, 200, json.dumps(payment("Authorised", pspReference=None)).encode()),
        (
            AUTH,
            200,
            json.dumps(payment("Authorised", amount={"value": 1, "currency": "XXX"})).encode(),
        ),
        (CAPTURE, 201, json.dumps(modification("processing")).encode()),
        (CAPTURE, 201, json.dumps(modification(amount={"value": 1, "currency": "XXX"})).encode()),
        (VoidRequest(payment_id="PSP1"), 201, json.dumps(modification("cancelled")).encode()),
        (REFUND, 201, json.dumps({**modification(), "paymentPspReference": None}).encode()),
        (REFUND, 201, json.dumps(modification(amount={"value": 5, "currency": "CLP"})).encode()),
    ],
)
def test_schema_violation_on_a_mutating_call_is_outcome_unknown_with_body(
    request_: OperationRequest, status: int, body: bytes
) -> None:
    outcome = respond(request_, status, body, {"pspReference": "REQ9"})
    assert isinstance(outcome, OutcomeUnknown)
    assert outcome.code is ErrorCode.SCHEMA_VIOLATION and outcome.provider_body is not None
    assert outcome.idempotency_key == "k1" and outcome.provider == "adyen"


# -- error classification ----------------------------------------------------------------------
def service_error(status: int, code: str | None, message: str = "m") -> dict[str, Any]:
    return {
        "status": status,
        "errorCode": code,
        "message": message,
        "errorType": "validation",
        "pspReference": "ERR1",
    }


TRANSIENT = {"Transient-Error": "true"}


@pytest.mark.parametrize(
    ("request_", "status", "body", "headers", "cls", "code"),
    [
        (AUTH, 401, service_error(401, "000", "HTTP Status Response - Unauthorized"), {},
         InvalidRequestError, ErrorCode.AUTHENTICATION),
        (AUTH, 403, service_error(403, "010", "Not allowed"), {},
         InvalidRequestError, ErrorCode.PERMISSION),
        (AUTH, 422, service_error(422, "100", "Required object 'amount' is not provided."), {},
         InvalidRequestError, ErrorCode.INVALID_REQUEST),
        (AUTH, 422, service_error(422, "101", "Invalid card number"), {},
         CardDeclinedError, ErrorCode.CARD_DECLINED),
        (AUTH, 422, service_error(422, "103", "CVC is not the right length"), {},
         CardDeclinedError, ErrorCode.CARD_DECLINED),
        (AUTH, 422, service_error(422, "000", "Unable to parse message"), {},
         InvalidRequestError, ErrorCode.INVALID_REQUEST),
        (AUTH, 422, service_error(422, "14_999", "brand new"), {},
         InvalidRequestError, ErrorCode.INVALID_REQUEST),
        # A request under the key still running there: this payment's outcome is unknown.
        (AUTH, 422, service_error(422, "704", "request already processed or in progress"), {},
         OutcomeUnknown, ErrorCode.IDEMPOTENCY_IN_FLIGHT),
        (AUTH, 422, service_error(422, "704"), TRANSIENT,
         OutcomeUnknown, ErrorCode.IDEMPOTENCY_IN_FLIGHT),
        (AUTH, 422, service_error(422, "14_999"), TRANSIENT,
         RetriableError, ErrorCode.PROVIDER_UNAVAILABLE),
        (AUTH, 429, service_error(429, None), {"Retry-After": "2"},
         RetriableError, ErrorCode.RATE_LIMITED),
        (AUTH, 500, service_error(500, "905"), {}, OutcomeUnknown, ErrorCode.PROVIDER_UNAVAILABLE),
        # A 5xx to a mutating call may come after the commit, transient mark or not: unknown
        # (the gateway repeats it under the same key, and the replay settles it).
        (AUTH, 500, service_error(500, None), {"TRANSIENT-ERROR": "True"},
         OutcomeUnknown, ErrorCode.PROVIDER_UNAVAILABLE),
        (AUTH, 503, service_error(503, None), {}, OutcomeUnknown, ErrorCode.PROVIDER_UNAVAILABLE),
        (AUTH, 502, b"<html>bad gateway</html>", {},
         OutcomeUnknown, ErrorCode.PROVIDER_UNAVAILABLE),
        (AUTH, 502, b"<html>bad gateway</html>", TRANSIENT,
         OutcomeUnknown, ErrorCode.PROVIDER_UNAVAILABLE),
        # Not Adyen's format: a firewall, a load balancer, a redirect. Nothing of what Adyen did.
        (AUTH, 403, b"forbidden", {}, OutcomeUnknown, ErrorCode.UNEXPECTED_RESPONSE),
        (AUTH, 429, b"slow down", {}, RetriableError, ErrorCode.RATE_LIMITED),
        (AUTH, 418, b"teapot", {}, OutcomeUnknown, ErrorCode.UNEXPECTED_RESPONSE),
        (AUTH, 302, b"", {"Location": "https://login.example"},
         OutcomeUnknown, ErrorCode.UNEXPECTED_RESPONSE),
        (AUTH, 409, b'{"status": 409, "errorCo', {},
         OutcomeUnknown, ErrorCode.UNEXPECTED_RESPONSE),
        (AUTH, 409, b'{"message": "upstream request failed"}', {},  # JSON, but not Adyen's
         OutcomeUnknown, ErrorCode.UNEXPECTED_RESPONSE),
        (CAPTURE, 400, b'{"status": 400, "message": "bad"}', {},
         OutcomeUnknown, ErrorCode.UNEXPECTED_RESPONSE),
        (RetrieveRequest(payment_id="PSP1"), 404, b"<html>not found</html>", {},
         TerminalError, ErrorCode.UNEXPECTED_RESPONSE),
        (CAPTURE, 422, service_error(422, "167"), {},
         InvalidRequestError, ErrorCode.INVALID_REQUEST),
        (CAPTURE, 500, service_error(500, None), {},
         OutcomeUnknown, ErrorCode.PROVIDER_UNAVAILABLE),
        (REFUND, 422, service_error(422, "137", "Invalid amount specified"), {},
         InvalidRequestError, ErrorCode.AMOUNT_INVALID),
        (RetrieveRequest(payment_id="PSP1"), 500, service_error(500, None), {},
         RetriableError, ErrorCode.PROVIDER_UNAVAILABLE),
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
    outcome = respond(request_, status, body, headers)
    assert type(outcome) is cls
    assert outcome.code is code and outcome.http_status == status and outcome.provider == "adyen"
    assert outcome.idempotency_key == "k1"
    transient = any(name.lower() == "transient-error" for name in headers)
    assert outcome.provider_retry_hint is (True if transient else None)
    if isinstance(body, dict):
        assert outcome.provider_code == body["errorCode"]
        assert outcome.request_id == "ERR1"


def test_card_data_errors_are_declines_with_a_reason() -> None:
    outcome = respond(AUTH, 422, service_error(422, "101", "Invalid card number"))
    assert isinstance(outcome, CardDeclinedError)
    assert outcome.reason is DeclineReason.INCORRECT_NUMBER
    assert outcome.advice is RetryAdvice.UPDATE_PAYMENT_DETAILS


def test_rate_limit_and_modification_context_are_kept() -> None:
    limited = respond(AUTH, 429, service_error(429, None), {"Retry-After": "2"})
    assert limited.retry_after == 2.0 and limited.retriable
    failed = respond(CAPTURE, 422, service_error(422, "167"))
    assert failed.payment_id == "PSP1"


def test_there_is_no_answer_to_read_for_retrieve() -> None:
    outcome = respond(RetrieveRequest(payment_id="PSP1"), 200, payment("Authorised"))
    assert isinstance(outcome, TerminalError) and outcome.code is ErrorCode.UNSUPPORTED


# -- webhooks ----------------------------------------------------------------------------------
def item(
    event_code: str = "AUTHORISATION",
    success: str = "true",
    *,
    sign_with: bytes = HMAC,
    **over: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "pspReference": "PSP1",
        "merchantAccountCode": "TestMerchant",
        "merchantReference": "order-42",
        "amount": {"value": 1234, "currency": "EUR"},
        "eventCode": event_code,
        "eventDate": "2024-05-06T17:15:34+02:00",
        "success": success,
        "paymentMethod": "visa",
        "operations": ["CANCEL", "CAPTURE", "REFUND"],
    }
    body.update(over)
    body = {k: v for k, v in body.items() if v is not None}
    additional = dict(body.get("additionalData") or {})
    additional["hmacSignature"] = sign(body, sign_with)
    body["additionalData"] = additional
    return body


def delivery(*items: dict[str, Any]) -> bytes:
    wrapped = [{"NotificationRequestItem": i} for i in items]
    return json.dumps({"live": "false", "notificationItems": wrapped}).encode()


def parse(body: bytes, *, now: float = 1_700_000_000.0) -> list[WebhookEvent]:
    return adapter.parse_webhook({"Content-Type": "application/json"}, body, now=now)


def test_a_signed_authorisation_is_read() -> None:
    reason = "076181:1111:03/2030"  # auth code and card summary: never kept on success
    (event,) = parse(delivery(item(reason=reason)))
    assert event == WebhookEvent(
        provider="adyen",
        event_id="PSP1:AUTHORISATION:true",
        type=EventType.AUTHORIZED,
        provider_type="AUTHORISATION",
        payment_id="PSP1",
        reference="order-42",
        amount=Money("12.34", "EUR"),
        modification_id=None,
        occurred_at=datetime(2024, 5, 6, 15, 15, 34, tzinfo=UTC),
        reason=None,
        provider_status="true",
    )


def test_a_modification_names_the_payment_and_itself() -> None:
    (event,) = parse(delivery(item("CAPTURE", pspReference="MOD1", originalReference="PSP1")))
    assert (event.type, event.payment_id, event.modification_id) == (
        EventType.CAPTURED,
        "PSP1",
        "MOD1",
    )
    assert event.event_id == "MOD1:CAPTURE:true"


def test_a_failure_keeps_adyens_reason() -> None:
    (event,) = parse(delivery(item(success="false", reason="Refused")))
    assert (event.type, event.reason, event.event_id) == (
        EventType.FAILED,
        "Refused",
        "PSP1:AUTHORISATION:false",
    )


@pytest.mark.parametrize(
    ("event_code", "success", "expected"),
    [
        ("AUTHORISATION", "true", EventType.AUTHORIZED),
        ("AUTHORISATION", "false", EventType.FAILED),
        ("CAPTURE", "true", EventType.CAPTURED),
        ("CAPTURE", "false", EventType.CAPTURE_FAILED),
        ("CAPTURE_FAILED", "true", EventType.CAPTURE_FAILED),
        ("CANCELLATION", "true", EventType.VOIDED),
        ("CANCELLATION", "false", EventType.VOID_FAILED),
        ("TECHNICAL_CANCEL", "true", EventType.VOIDED),
        ("REFUND", "true", EventType.REFUNDED),
        ("REFUND", "false", EventType.REFUND_FAILED),
        ("REFUND_FAILED", "true", EventType.REFUND_FAILED),
        ("REFUNDED_REVERSED", "true", EventType.REFUND_FAILED),
        ("EXPIRE", "true", EventType.VOIDED),
        ("CHARGEBACK", "true", EventType.CHARGEBACK),
        ("NOTIFICATION_OF_CHARGEBACK", "true", EventType.CHARGEBACK),
        ("SECOND_CHARGEBACK", "true", EventType.CHARGEBACK),
        ("CHARGEBACK_REVERSED", "true", EventType.CHARGEBACK_REVERSED),
        ("CANCEL_OR_REFUND", "true", EventType.OTHER),
        ("REPORT_AVAILABLE", "true", EventType.OTHER),
        ("BRAND_NEW_EVENT", "true", EventType.OTHER),
    ],
)
def test_each_event_code_family(event_code: str, success: str, expected: EventType) -> None:
    (event,) = parse(delivery(item(event_code, success, originalReference="PSP0")))
    assert event.type is expected and event.provider_type == event_code
    assert event.payment_id == "PSP0" and event.modification_id == "PSP1"


@pytest.mark.parametrize(
    ("action", "success", "expected"),
    [
        ("cancel", "true", EventType.VOIDED),
        ("refund", "true", EventType.REFUNDED),
        ("refund", "false", EventType.REFUND_FAILED),
        ("Cancel", "false", EventType.VOID_FAILED),
        ("something-else", "true", EventType.OTHER),
    ],
)
def test_cancel_or_refund_is_read_by_what_adyen_did(
    action: str, success: str, expected: EventType
) -> None:
    extra = {"modification.action": action}
    body = delivery(
        item("CANCEL_OR_REFUND", success, originalReference="PSP0", additionalData=extra)
    )
    (event,) = parse(body)
    assert event.type is expected


def test_several_items_are_read_in_order() -> None:
    events = parse(
        delivery(
            item(),
            item(
                "REFUND",
                pspReference="MOD2",
                originalReference="PSP1",
                amount={"value": 500, "currency": "EUR"},
            ),
        )
    )
    assert [e.type for e in events] == [EventType.AUTHORIZED, EventType.REFUNDED]
    assert events[1].amount == Money("5.00", "EUR")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ({"value": 1234, "currency": "JPY"}, Money("1234", "JPY")),
        ({"value": 123400, "currency": "CLP"}, Money("1234", "CLP")),
        ({"value": 5124, "currency": "KWD"}, Money("5.124", "KWD")),
        ({"value": 123456, "currency": "CLP"}, None),  # hundredths of a peso: not paygate's
        ({"value": 1000, "currency": "MGA"}, None),  # not taken through Adyen here
        (None, None),
    ],
)
def test_event_amounts_use_adyens_scale(
    amount: dict[str, Any] | None, expected: Money | None
) -> None:
    (event,) = parse(delivery(item(amount=amount)))
    assert event.amount == expected
    # An amount paygate cannot hold is about no payment it made: the item is acknowledged and
    # applied to nothing, never read as an authorization of some other amount.
    unreadable = amount is not None and expected is None
    assert event.type is (EventType.OTHER if unreadable else EventType.AUTHORIZED)


def test_a_clp_item_paygate_cannot_hold_does_not_refuse_its_batch() -> None:
    clp = {"currency": "CLP"}
    whole = item(
        "CAPTURE", pspReference="MOD1", originalReference="PSP1", amount=clp | {"value": 500000}
    )
    # 10.50 CLP at Adyen's two decimals: a value paygate's CLP (ISO: no decimals) cannot hold.
    fraction = item(
        "REFUND", pspReference="MOD2", originalReference="PSP2", amount=clp | {"value": 1050}
    )
    first, captured, refund = parse(delivery(item(), whole, fraction))
    assert first.type is EventType.AUTHORIZED
    assert (captured.type, captured.amount) == (EventType.CAPTURED, Money("5000", "CLP"))
    assert (refund.type, refund.amount, refund.payment_id) == (EventType.OTHER, None, "PSP2")


@pytest.mark.parametrize("flag", ["maybe", "", "1", "yes"])
def test_a_success_flag_paygate_does_not_know_is_other_and_kept(flag: str) -> None:
    (event,) = parse(delivery(item(success=flag)))
    assert event.type is EventType.OTHER  # never an authorization (nor a failure)
    assert event.provider_status == flag and event.event_id == f"PSP1:AUTHORISATION:{flag}"
    assert event.reason is None


@pytest.mark.parametrize(("flag", "expected"), [(" TRUE ", "true"), ("False", "false")])
def test_a_success_flag_is_read_in_any_casing(flag: str, expected: str) -> None:
    (event,) = parse(delivery(item(success=flag)))
    assert event.event_id == f"PSP1:AUTHORISATION:{expected}" and event.provider_status == flag
    assert event.type is (EventType.AUTHORIZED if expected == "true" else EventType.FAILED)


@pytest.mark.parametrize(
    ("code", "action"),
    [("A_CODE_ADYEN_ADDS_LATER", None), ("CANCEL_OR_REFUND", "partial_refund")],
)
def test_an_event_code_or_action_paygate_does_not_know_is_other(
    code: str, action: str | None
) -> None:
    extra = {"modification.action": action} if action else None
    (event,) = parse(
        delivery(item(code, pspReference="MOD1", originalReference="PSP1", additionalData=extra))
    )
    assert (event.type, event.provider_type, event.payment_id) == (EventType.OTHER, code, "PSP1")


def test_an_empty_original_reference_is_no_original_reference() -> None:
    (event,) = parse(delivery(item(originalReference="")))
    assert (event.payment_id, event.modification_id) == ("PSP1", None)


def test_an_unreadable_event_date_is_dropped_and_now_is_not_used() -> None:
    body = delivery(item(eventDate="yesterday"))
    assert parse(body, now=0.0) == parse(body, now=4_000_000_000.0)
    assert parse(body)[0].occurred_at is None


def test_an_empty_delivery_has_no_events() -> None:
    assert parse(json.dumps({"live": "false", "notificationItems": []}).encode()) == []


@pytest.mark.parametrize(
    "tamper",
    [
        lambda i: i["amount"].update(value=1),
        lambda i: i.update(eventCode="REFUND"),
        lambda i: i.update(success="false"),
        lambda i: i.update(originalReference="PSP9"),
        lambda i: i["additionalData"].update(
            hmacSignature=i["additionalData"]["hmacSignature"][::-1]
        ),
        lambda i: i["additionalData"].pop("hmacSignature"),
        lambda i: i.pop("additionalData"),
        lambda i: i["additionalData"].update(hmacSignature=12),
        lambda i: i["additionalData"].update(hmacSignature="ünïcode"),
    ],
)
def test_a_forged_item_refuses_the_whole_delivery(tamper: Any) -> None:
    forged = item("CAPTURE", pspReference="MOD1", originalReference="PSP1")
    tamper(forged)
    with pytest.raises(InvalidWebhookError) as refused:
        parse(delivery(item(), forged))
    assert refused.value.code is ErrorCode.WEBHOOK_SIGNATURE_INVALID
    assert refused.value.provider == "adyen" and "2 of 2" in str(refused.value)


def test_an_item_signed_with_another_key_is_forged_and_nothing_secret_is_said() -> None:
    other = item(sign_with=bytes(32))
    with pytest.raises(InvalidWebhookError) as refused:
        parse(delivery(other))
    text = f"{refused.value!s} {refused.value!r}"
    signatures = [other["additionalData"]["hmacSignature"], sign(other, HMAC)]
    for secret in [HMAC_HEX, HMAC_HEX.lower(), *signatures]:
        assert secret not in text


def test_without_an_hmac_key_nothing_is_trusted() -> None:
    unkeyed = AdyenAdapter(KEY, merchant_account="TestMerchant")
    with pytest.raises(InvalidWebhookError) as refused:
        unkeyed.parse_webhook({}, delivery(item()), now=0.0)
    assert refused.value.code is ErrorCode.WEBHOOK_SIGNATURE_INVALID


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'"text"',
        json.dumps({"live": "false"}).encode(),
        json.dumps({"notificationItems": {"NotificationRequestItem": {}}}).encode(),
        json.dumps({"notificationItems": [{"Other": {}}]}).encode(),
        json.dumps({"notificationItems": [{"NotificationRequestItem": "x"}]}).encode(),
    ],
)
def test_a_body_that_is_not_a_notification_is_malformed(body: bytes) -> None:
    with pytest.raises(InvalidWebhookError) as refused:
        parse(body)
    assert refused.value.code is ErrorCode.WEBHOOK_MALFORMED


@pytest.mark.parametrize(
    "over",
    [
        {"eventCode": None},
        {"merchantAccountCode": None},
        {"success": None},
        {"amount": {"value": "1234", "currency": "EUR"}},
        {"amount": {"value": 1234}},
    ],
)
def test_a_signed_item_paygate_cannot_read_is_malformed(over: dict[str, Any]) -> None:
    with pytest.raises(InvalidWebhookError) as refused:
        parse(delivery(item(**over)))
    assert refused.value.code is ErrorCode.WEBHOOK_MALFORMED
