"""Both simulators refuse what the provider refuses, checked against its published schema
(``paygate.testing.<provider>._schema``): one table of wrong requests per provider, each
answered with the provider's status and code before anything happens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from paygate.testing import AdyenSimulator, StripeSimulator

STRIPE_KEY = "sk_test_51StrictnessSuiteKey00000000"
PI = "/v1/payment_intents"
LONG = "x" * 5001

# -- Stripe ---------------------------------------------------------------------------------------
# A valid request per endpoint; each case changes it (None deletes a parameter).
STRIPE_VALID: dict[str, tuple[str, str, dict[str, str]]] = {
    "create": (
        "POST",
        PI,
        {
            "amount": "1000",
            "currency": "usd",
            "confirm": "true",
            "capture_method": "manual",
            "payment_method": "pm_card_visa",
        },
    ),
    "capture": ("POST", f"{PI}/pi_strict/capture", {"amount_to_capture": "500"}),
    "cancel": ("POST", f"{PI}/pi_strict/cancel", {"cancellation_reason": "abandoned"}),
    "refund": ("POST", "/v1/refunds", {"payment_intent": "pi_strict", "amount": "100"}),
    "retrieve": ("GET", f"{PI}/pi_strict", {"expand[0]": "latest_charge"}),
    "search": ("GET", f"{PI}/search", {"query": "metadata['reference']:'r'", "limit": "10"}),
    "refund_get": ("GET", "/v1/refunds/re_strict", {"expand[0]": "charge"}),
}
CARD_DATA = {
    "payment_method": None,
    "payment_method_data[type]": "card",
    "payment_method_data[card][number]": "4242424242424242",
    "payment_method_data[card][exp_month]": "12",
    "payment_method_data[card][exp_year]": "2030",
}
UNKNOWN = "parameter_unknown"
MISSING = "parameter_missing"
EMPTY = "parameter_invalid_empty"
INTEGER = "parameter_invalid_integer"

# (endpoint, change, code, param): every one a 400 invalid_request_error.
STRIPE_WRONG: list[tuple[str, dict[str, str | None], str | None, str]] = [
    ("create", {"foo": "bar"}, UNKNOWN, "foo"),
    (
        "create",
        {"payment_method_options[card][foo]": "bar"},
        UNKNOWN,
        "payment_method_options[card][foo]",
    ),
    (
        "create",
        {"shipping[name]": "Jo", "shipping[address][planet]": "Mars"},
        UNKNOWN,
        "shipping[address][planet]",
    ),
    ("create", {"mandate_data[foo]": "1"}, UNKNOWN, "mandate_data[foo]"),
    (
        "create",
        {**CARD_DATA, "payment_method_data[card][foo]": "1"},
        UNKNOWN,
        "payment_method_data[card][foo]",
    ),
    (
        "create",
        {"payment_method_options[card][capture_method]": "later"},
        None,
        "payment_method_options[card][capture_method]",
    ),
    ("create", {"capture_method": "later"}, None, "capture_method"),
    ("create", {"setup_future_usage": "forever"}, None, "setup_future_usage"),
    ("create", {"confirmation_method": "sometimes"}, None, "confirmation_method"),
    ("create", {"off_session": "sometimes"}, None, "off_session"),
    (
        "create",
        {"payment_method_options[card][setup_future_usage]": "forever"},
        None,
        "payment_method_options[card][setup_future_usage]",
    ),
    ("create", {"statement_descriptor_suffix": "x" * 23}, None, "statement_descriptor_suffix"),
    ("create", {"statement_descriptor": "x" * 23}, None, "statement_descriptor"),
    ("create", {"description": "d" * 1001}, None, "description"),
    ("create", {"radar_options[session]": LONG}, None, "radar_options[session]"),
    ("create", {"amount": "49"}, "amount_too_small", "amount"),
    ("create", {"amount": "100000000"}, "amount_too_large", "amount"),
    ("create", {"currency": "zzz"}, None, "currency"),
    ("create", {"amount": "ten"}, INTEGER, "amount"),
    ("create", {"application_fee_amount": "1.5"}, INTEGER, "application_fee_amount"),
    (
        "create",
        {"payment_method_options[card][mandate_options][amount]": "x"},
        INTEGER,
        "payment_method_options[card][mandate_options][amount]",
    ),
    ("create", {"amount": ""}, EMPTY, "amount"),
    ("create", {"capture_method": ""}, EMPTY, "capture_method"),
    ("create", {"confirm": "maybe"}, None, "confirm"),
    ("create", {"use_stripe_sdk": "1"}, None, "use_stripe_sdk"),
    (
        "create",
        {"automatic_payment_methods[enabled]": "yes"},
        None,
        "automatic_payment_methods[enabled]",
    ),
    (
        "create",
        {"automatic_payment_methods[allow_redirects]": "always"},
        MISSING,
        "automatic_payment_methods[enabled]",
    ),
    ("create", {"shipping[name]": "Jo"}, MISSING, "shipping[address]"),
    ("create", {"transfer_data[amount]": "10"}, MISSING, "transfer_data[destination]"),
    (
        "create",
        {"payment_method_options[card][installments][plan][count]": "3"},
        MISSING,
        "payment_method_options[card][installments][plan][interval]",
    ),
    (
        "create",
        {**CARD_DATA, "payment_method_data[type]": None},
        MISSING,
        "payment_method_data[type]",
    ),
    ("create", {"payment_method_types": "card"}, None, "payment_method_types"),
    ("create", {"metadata": "order-1"}, None, "metadata"),
    ("create", {"receipt_email[0]": "jo@example.com"}, None, "receipt_email"),
    ("create", {"amount": None}, MISSING, "amount"),
    ("capture", {"amount_to_capture": "ten"}, INTEGER, "amount_to_capture"),
    ("capture", {"capture_method": "manual"}, UNKNOWN, "capture_method"),
    ("capture", {"statement_descriptor_suffix": "x" * 23}, None, "statement_descriptor_suffix"),
    ("cancel", {"cancellation_reason": "bored"}, None, "cancellation_reason"),
    ("cancel", {"reason": "abandoned"}, UNKNOWN, "reason"),
    ("refund", {"reason": "changed_mind"}, None, "reason"),
    ("refund", {"origin": "internet"}, None, "origin"),
    ("refund", {"refund_application_fee": "sometimes"}, None, "refund_application_fee"),
    ("refund", {"amount": "-5"}, INTEGER, "amount"),
    ("refund", {"foo": "1"}, UNKNOWN, "foo"),
    ("retrieve", {"foo": "1"}, UNKNOWN, "foo"),
    ("search", {"query": None}, MISSING, "query"),
    ("search", {"limit": "ten"}, INTEGER, "limit"),
    ("search", {"query": LONG}, None, "query"),
    ("refund_get", {"expand[0]": None, "expand": "charge"}, None, "expand"),
]


def _changed(base: dict[str, str], change: dict[str, str | None]) -> dict[str, str]:
    merged: dict[str, str | None] = {**base, **change}
    return {name: value for name, value in merged.items() if value is not None}


@pytest.fixture
def stripe(sim: StripeSimulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {STRIPE_KEY}"}
    with httpx.Client(base_url=sim.url, headers=headers, timeout=5.0) as http:
        yield http


@pytest.mark.parametrize("valid", sorted(STRIPE_VALID))
def test_each_valid_stripe_request_passes_the_checks(stripe: httpx.Client, valid: str) -> None:
    """The baseline each wrong request changes is not refused for its parameters."""
    method, path, params = STRIPE_VALID[valid]
    response = _send_stripe(stripe, method, path, params)
    assert response.status_code in {200, 404}, response.text  # 404: no such object here
    if response.status_code == 404:
        assert response.json()["error"]["code"] == "resource_missing"


@pytest.mark.parametrize(("endpoint", "change", "code", "param"), STRIPE_WRONG)
def test_stripe_refuses_what_stripe_refuses(
    stripe: httpx.Client,
    sim: StripeSimulator,
    endpoint: str,
    change: dict[str, str | None],
    code: str | None,
    param: str,
) -> None:
    method, path, params = STRIPE_VALID[endpoint]
    response = _send_stripe(stripe, method, path, _changed(params, change), key="key-strict")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error.get("code"), error.get("param")) == (
        "invalid_request_error",
        code,
        param,
    ), error["message"]
    assert response.headers["stripe-should-retry"] == "false"
    assert sim.payment_intents() == [] and sim.refunds() == []
    # Refused before execution, so not saved: the key is still free for a valid request.
    if method == "POST":
        valid = _send_stripe(stripe, method, path, params, key="key-strict")
        assert "idempotent-replayed" not in valid.headers


def test_the_stripe_table_is_as_large_as_the_issue_asks() -> None:
    assert len(STRIPE_WRONG) >= 37
    distinct = {(e, tuple(sorted(c.items(), key=str))) for e, c, _, _ in STRIPE_WRONG}
    assert len(distinct) == len(STRIPE_WRONG)


def test_an_empty_string_unsets_where_stripe_allows_it(stripe: httpx.Client) -> None:
    """``anyOf [X, ""]`` in the spec: an empty string is taken (Stripe's unset), as is an
    empty plain string; ``x-stripeBypassValidation`` enums take values beyond their list."""
    method, path, params = STRIPE_VALID["create"]
    extra = {
        "payment_method_options[card]": "",
        "description": "",
        "payment_method_options[card][request_three_d_secure]": "challenge",
    }
    for name, value in extra.items():
        response = _send_stripe(stripe, method, path, {**params, name: value})
        assert response.status_code == 200, (name, response.text)


def _send_stripe(
    client: httpx.Client, method: str, path: str, params: dict[str, str], key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    if method == "GET":
        return client.get(path, params=params)
    return client.post(path, data=params, headers=headers)


# -- Adyen ----------------------------------------------------------------------------------------
MERCHANT = "PaygateTestMerchant"
CARD = {
    "type": "scheme",
    "number": "4111111145551142",
    "expiryMonth": "03",
    "expiryYear": "2030",
    "cvc": "737",
}
AMOUNT = {"value": 1000, "currency": "EUR"}
ADYEN_VALID: dict[str, tuple[str, dict[str, Any]]] = {
    "pay": (
        "/v71/payments",
        {"merchantAccount": MERCHANT, "amount": AMOUNT, "reference": "r-1", "paymentMethod": CARD},
    ),
    "pay72": (
        "/v72/payments",
        {"merchantAccount": MERCHANT, "amount": AMOUNT, "reference": "r-1", "paymentMethod": CARD},
    ),
    "details": ("/v71/payments/details", {"details": {"redirectResult": "X6XtfGC3"}}),
    "capture": (
        "/v71/payments/ABCDEF0123456789/captures",
        {"merchantAccount": MERCHANT, "amount": AMOUNT},
    ),
    "cancel": ("/v71/payments/ABCDEF0123456789/cancels", {"merchantAccount": MERCHANT}),
    "cancel72": ("/v72/payments/ABCDEF0123456789/cancels", {"merchantAccount": MERCHANT}),
    "refund": (
        "/v71/payments/ABCDEF0123456789/refunds",
        {"merchantAccount": MERCHANT, "amount": AMOUNT},
    ),
    "reversal": ("/v71/payments/ABCDEF0123456789/reversals", {"merchantAccount": MERCHANT}),
}
ADDRESS = {"city": "Amsterdam", "country": "NL", "houseNumberOrName": "6"}
SCHEME_DATA = {"enhancedSchemeData": {}}

# (endpoint, change, status, errorCode, what the message names): None deletes a field.
ADYEN_WRONG: list[tuple[str, dict[str, Any], int, str, str]] = [
    ("pay", {"foo": 1}, 400, "702", "PaymentRequest contains the following unknown fields: [foo]"),
    (
        "pay",
        {"paymentMethod": {**CARD, "foo": "x"}},
        400,
        "702",
        "CardDetails contains the following unknown fields: [foo]",
    ),
    (
        "pay",
        {"amount": {**AMOUNT, "foo": 1}},
        400,
        "702",
        "Amount contains the following unknown fields: [foo]",
    ),
    (
        "pay",
        {"paymentMethod": {**CARD, "type": "ideal"}},
        400,
        "702",
        "IdealDetails contains the following unknown fields",
    ),
    (
        "pay",
        {"lineItems": [{"id": "1", "colour": "red"}]},
        400,
        "702",
        "LineItem contains the following unknown fields: [colour]",
    ),
    ("pay", {"channel": "Fax"}, 400, "702", "'channel'"),
    ("pay", {"industryUsage": "sometimes"}, 400, "702", "'industryUsage'"),
    ("pay", {"shopperInteraction": "Phone"}, 400, "702", "'shopperInteraction'"),
    ("pay", {"recurringProcessingModel": "Sometimes"}, 400, "702", "'recurringProcessingModel'"),
    ("pay", {"paymentMethod": {**CARD, "type": "bitcoin"}}, 400, "702", "'paymentMethod.type'"),
    (
        "pay",
        {"paymentMethod": {**CARD, "fundingSource": "gold"}},
        400,
        "702",
        "'paymentMethod.fundingSource'",
    ),
    ("pay", {"captureDelayHours": "soon"}, 400, "702", "'captureDelayHours'"),
    ("pay", {"captureDelayHours": 2**31}, 400, "702", "'captureDelayHours'"),
    ("pay", {"amount": {"value": 2**63, "currency": "EUR"}}, 400, "702", "'amount.value'"),
    ("pay", {"amount": {"value": "10.00", "currency": "EUR"}}, 400, "702", "'amount.value'"),
    ("pay", {"storePaymentMethod": "yes"}, 400, "702", "'storePaymentMethod'"),
    ("pay", {"metadata": {"k": 1}}, 400, "702", "'metadata.k'"),
    (
        "pay",
        {"additionalData": {"manualCapture": True}},
        400,
        "702",
        "'additionalData.manualCapture'",
    ),
    ("pay", {"lineItems": {"id": "1"}}, 400, "702", "'lineItems'"),
    ("pay", {"reference": 42}, 400, "702", "'reference'"),
    ("pay", {"merchantAccount": 42}, 400, "702", "'merchantAccount'"),
    ("pay", {"shopperReference": "ab"}, 422, "702", "'shopperReference'"),
    ("pay", {"shopperReference": "s" * 257}, 422, "702", "'shopperReference'"),
    ("pay", {"store": ""}, 422, "702", "'store'"),
    ("pay", {"checkoutAttemptId": "c" * 257}, 422, "702", "'checkoutAttemptId'"),
    ("pay", {"countryCode": "c" * 101}, 422, "702", "'countryCode'"),
    ("pay", {"origin": "o" * 81}, 422, "702", "'origin'"),
    ("pay", {"deviceFingerprint": LONG}, 422, "702", "'deviceFingerprint'"),
    ("pay", {"amount": {"value": 1000, "currency": "EURO"}}, 422, "702", "'amount.currency'"),
    (
        "pay",
        {"paymentMethod": {**CARD, "storedPaymentMethodId": "s" * 65}},
        422,
        "702",
        "'paymentMethod.storedPaymentMethodId'",
    ),
    ("pay", {"returnUrl": "https://shop.example/" + "r" * 8000}, 422, "702", "'returnUrl'"),
    ("pay", {"billingAddress": ADDRESS}, 422, "100", "'billingAddress.postalCode'"),
    ("pay", {"shopperName": {"firstName": "Jo"}}, 422, "100", "'shopperName.lastName'"),
    ("pay", {"paymentMethod": {"number": "4111111145551142"}}, 422, "100", "'paymentMethod.type'"),
    ("pay", {"amount": None}, 422, "100", "'amount'"),
    ("pay72", {"reference": "r" * 81}, 422, "702", "'reference'"),
    ("pay72", {"returnUrl": "https://shop.example/" + "r" * 1004}, 422, "702", "'returnUrl'"),
    (
        "details",
        {"details": {"redirectResult": "X6XtfGC3", "pp": "1"}},
        400,
        "702",
        "PaymentCompletionDetails contains the following unknown fields: [pp]",
    ),
    ("details", {"paymentData": 123}, 400, "702", "'paymentData'"),
    ("details", {"details": None}, 422, "100", "'details'"),
    (
        "capture",
        {"captureDelayHours": 1},
        400,
        "702",
        "PaymentCaptureRequest contains the following unknown fields",
    ),
    ("capture", {"reference": 7}, 400, "702", "'reference'"),
    ("capture", {"amount": None}, 422, "100", "'amount'"),
    (
        "cancel",
        {"amount": AMOUNT},
        400,
        "702",
        "PaymentCancelRequest contains the following unknown fields: [amount]",
    ),
    (
        "cancel72",
        SCHEME_DATA,
        400,
        "702",
        "PaymentCancelRequest contains the following unknown fields: [enhancedSchemeData]",
    ),
    ("refund", {"merchantRefundReason": "BORED"}, 400, "702", "'merchantRefundReason'"),
    ("refund", {"amount": {"value": 100, "currency": "EU"}}, 422, "702", "'amount.currency'"),
    ("reversal", {"merchantAccount": None}, 422, "100", "'merchantAccount'"),
]


@pytest.fixture
def adyen_sim() -> Iterator[AdyenSimulator]:
    with AdyenSimulator() as simulator:
        yield simulator


@pytest.fixture
def adyen(adyen_sim: AdyenSimulator) -> Iterator[httpx.Client]:
    headers = {"X-API-Key": "AQE-strictness-suite-key"}
    with httpx.Client(base_url=adyen_sim.url, headers=headers, timeout=5.0) as http:
        yield http


def _adyen_changed(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **change}
    return {name: value for name, value in merged.items() if value is not None}


def test_adyen_tables_refuse_what_adyen_refuses(
    adyen: httpx.Client, adyen_sim: AdyenSimulator
) -> None:
    """One simulator for the whole table (an Adyen simulator per case is slow to start)."""
    wrong = []
    for endpoint, change, status, code, named in ADYEN_WRONG:
        path, body = ADYEN_VALID[endpoint]
        response = adyen.post(path, json=_adyen_changed(body, change))
        error = response.json()
        got = (response.status_code, error.get("errorCode"), error.get("errorType"))
        if got != (status, code, "validation") or named not in error.get("message", ""):
            wrong.append((endpoint, change, got, error.get("message")))
    assert wrong == []
    assert adyen_sim.payments() == [] and adyen_sim.modifications() == []
    assert len(ADYEN_WRONG) >= 37


@pytest.mark.parametrize("endpoint", sorted(ADYEN_VALID))
def test_each_valid_adyen_request_passes_the_checks(adyen: httpx.Client, endpoint: str) -> None:
    path, body = ADYEN_VALID[endpoint]
    response = adyen.post(path, json=body)
    assert response.status_code in {200, 201, 422}, response.text
    if response.status_code == 422:  # no such payment, or no redirect to come back from
        assert response.json()["errorCode"] not in {"100", "702"}, response.text


@pytest.mark.parametrize(
    ("path", "change"),
    [
        ("/v71/payments", {"reference": "r" * 81}),  # v72 limits reference to 80
        ("/v71/payments/ABCDEF0123456789/cancels", SCHEME_DATA),  # v72 dropped it from cancels
    ],
)
def test_each_version_is_checked_against_its_own_spec(
    adyen: httpx.Client, path: str, change: dict[str, Any]
) -> None:
    endpoint = "pay" if path.endswith("/payments") else "cancel"
    response = adyen.post(path, json=_adyen_changed(ADYEN_VALID[endpoint][1], change))
    assert response.status_code in {200, 201, 422}, response.text
    if response.status_code == 422:  # no such payment to cancel
        assert response.json()["errorCode"] == "167", response.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_adyen_refuses_a_body_that_is_not_labelled_json(
    adyen: httpx.Client, adyen_sim: AdyenSimulator, content_type: str | None
) -> None:
    path, body = ADYEN_VALID["pay"]
    headers = {"Content-Type": content_type} if content_type else {}
    content = httpx.Request("POST", "/", json=body).content
    response = adyen.post(path, content=content, headers=headers)
    error = response.json()
    assert (response.status_code, error["errorCode"], error["errorType"]) == (
        400,
        "702",
        "validation",
    )
    assert "application/json" in error["message"] and adyen_sim.payments() == []
    labelled = adyen.post(
        path, content=content, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert labelled.status_code == 200
