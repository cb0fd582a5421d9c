"""The simulators refuse what the provider refuses, checked against its published schema
(``paygate.testing.<provider>._schema``): a table of wrong requests per provider, each
answered with the provider's status and code before anything happens."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from paygate.testing import StripeSimulator

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
