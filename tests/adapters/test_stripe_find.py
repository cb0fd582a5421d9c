"""The Stripe adapter's find, sans-IO: a PaymentIntent search by the caller's reference (and
amount), answered with the newest exact match. Also checks the search endpoint against
Stripe's published spec (skipped with a reason where ../shared is absent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from paygate import Money, PaymentStatus
from paygate._decision import decided
from paygate.adapters.base import ResponseContext
from paygate.adapters.stripe import API_VERSION, StripeAdapter
from paygate.adapters.stripe._wire import SearchResultWire
from paygate.errors import (
    ErrorCode,
    InvalidRequestError,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
    TerminalError,
)
from paygate.models import FindRequest, Operation, Payment

KEY = "sk_test_findAdapterKey123456"
adapter = StripeAdapter(KEY, base_url="https://stripe.example")
SEARCH = "/v1/payment_intents/search"
FIND = FindRequest(reference="order-42")


def intent(pi_id: str = "pi_1", created: int | None = 1_700_000_000, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": pi_id,
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
            "id": f"ch_{pi_id}",
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
    }
    if created is not None:
        body["created"] = created
    body.update(over)
    return body


def page(*intents: dict[str, Any], has_more: bool = False) -> dict[str, Any]:
    return {
        "object": "search_result",
        "url": SEARCH,
        "has_more": has_more,
        "next_page": "page_2" if has_more else None,
        "data": list(intents),
    }


def respond(request: FindRequest, status: int, body: Any) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.Response(status, content=content, headers={"Request-Id": "req_7"})
    outcome = adapter.parse_response(
        response, ResponseContext(request=request, idempotency_key=None)
    )
    return decided(outcome, mutating=request.operation.is_mutating)  # as the core decides it


# -- the request -------------------------------------------------------------------------------
def test_find_is_a_search_get_with_no_idempotency_key_and_no_body() -> None:
    request = adapter.build_request(FIND, idempotency_key="never-sent")
    assert (request.method, request.url.host, request.url.path) == ("GET", "stripe.example", SEARCH)
    assert "Idempotency-Key" not in request.headers and request.content == b""
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Stripe-Version"] == API_VERSION
    assert list(request.url.params.multi_items()) == [
        ("query", "metadata['reference']:'order-42'"),
        ("limit", "10"),
        ("expand[0]", "data.latest_charge"),
    ]


@pytest.mark.parametrize(
    ("amount", "clauses"),
    [
        (Money("12.34", "EUR"), " AND amount:1234 AND currency:'eur'"),
        (Money("500", "JPY"), " AND amount:500 AND currency:'jpy'"),  # zero-decimal
        (Money("5.12", "KWD"), " AND amount:5120 AND currency:'kwd'"),  # three-decimal
    ],
)
def test_an_amount_narrows_the_query_by_minor_units_and_currency(
    amount: Money, clauses: str
) -> None:
    request = adapter.build_request(
        FindRequest(reference="r-1", amount=amount), idempotency_key=None
    )
    assert request.url.params["query"] == "metadata['reference']:'r-1'" + clauses


def test_a_quote_in_the_reference_is_escaped_with_a_backslash() -> None:
    request = adapter.build_request(FindRequest(reference="O'Brien 7"), idempotency_key=None)
    assert request.url.params["query"] == "metadata['reference']:'O\\'Brien 7'"


def test_a_backslash_in_the_reference_is_refused_before_any_io() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        adapter.validate(FindRequest(reference="a\\b"))  # the gateway calls it before any I/O
    assert raised.value.code is ErrorCode.UNSUPPORTED and "nothing was sent" in str(raised.value)
    adapter.validate(FindRequest(reference="O'Brien 7"))  # a quote is escaped, not refused


def test_find_is_a_read() -> None:
    assert not Operation.FIND.is_mutating
    assert Operation.FIND in adapter.capabilities.operations


# -- the answer --------------------------------------------------------------------------------
def test_the_newest_exact_match_is_read_like_a_retrieve() -> None:
    body = page(
        intent("pi_old", created=100),
        intent("pi_new", created=300, amount=2000, amount_capturable=2000),
        intent("pi_mid", created=200),
        intent("pi_case", created=999, metadata={"reference": "ORDER-42"}),  # Stripe ignores case
        intent("pi_other", created=999, metadata={"reference": "order-420"}),
    )
    result = respond(FIND, 200, body)
    assert isinstance(result, Payment)
    assert (result.id, result.status, result.amount) == (
        "pi_new",
        PaymentStatus.AUTHORIZED,
        Money("20.00", "EUR"),
    )
    assert result.reference == "order-42" and result.idempotency_key is None
    assert result.provider == "stripe" and result.provider_status == "requires_capture"


def test_an_amount_picks_the_match_with_that_amount_and_currency() -> None:
    body = page(
        intent("pi_other_amount", created=300, amount=2000),
        intent("pi_other_currency", created=300, currency="usd"),
        intent("pi_match", created=100),
    )
    result = respond(FindRequest(reference="order-42", amount=Money("12.34", "EUR")), 200, body)
    assert isinstance(result, Payment) and result.id == "pi_match"


def test_equal_creation_times_keep_stripes_order() -> None:
    result = respond(FIND, 200, page(intent("pi_first", created=5), intent("pi_second", created=5)))
    assert isinstance(result, Payment) and result.id == "pi_first"


def test_a_single_match_needs_no_creation_time() -> None:
    result = respond(FIND, 200, page(intent("pi_only", created=None)))
    assert isinstance(result, Payment) and result.id == "pi_only"


@pytest.mark.parametrize(
    "body",
    [
        page(),
        page(intent(metadata={"reference": "Order-42"})),
        page(intent(metadata={}), has_more=True),
    ],
)
def test_no_exact_match_is_a_terminal_not_found_that_warns_of_search_lag(body: Any) -> None:
    result = respond(FIND, 200, body)
    assert type(result) is TerminalError and not isinstance(result, OutcomeUnknown)
    assert result.code is ErrorCode.NOT_FOUND and not result.retriable
    assert "eventually consistent" in str(result) and "'order-42'" in str(result)
    assert (result.provider, result.http_status, result.request_id) == ("stripe", 200, "req_7")


def test_not_found_names_the_amount_asked_for() -> None:
    result = respond(FindRequest(reference="order-42", amount=Money("1", "EUR")), 200, page())
    assert isinstance(result, TerminalError) and "EUR 1" in str(result)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        {**page(intent()), "has_more": "false"},
        {**page(intent()), "object": "list"},
        {**page(), "data": None},
        page({**intent(), "amount": "12.34"}),
        page({**intent(), "created": "yesterday"}),
        page(intent("pi_a", created=None), intent("pi_b", created=None)),  # cannot order them
        page(intent(status="requires_reauthorization")),  # a status nobody knows
    ],
)
def test_a_schema_break_on_a_find_is_terminal_never_outcome_unknown(body: Any) -> None:
    result = respond(FIND, 200, body)
    assert type(result) is TerminalError
    assert result.code is ErrorCode.SCHEMA_VIOLATION and result.provider_body is not None


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (
            400,
            {"error": {"type": "invalid_request_error", "message": "bad query", "param": "query"}},
            InvalidRequestError,
            ErrorCode.INVALID_REQUEST,
        ),
        (
            500,
            {"error": {"type": "api_error", "message": "m"}},
            RetriableError,
            ErrorCode.PROVIDER_UNAVAILABLE,
        ),
        (
            429,
            {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "m"}},
            RetriableError,
            ErrorCode.RATE_LIMITED,
        ),
        (
            401,
            {"error": {"type": "invalid_request_error", "message": "m"}},
            InvalidRequestError,
            ErrorCode.AUTHENTICATION,
        ),
    ],
)
def test_errors_go_through_the_classifier_as_for_a_read(
    status: int, body: Any, cls: type[PaymentError], code: ErrorCode
) -> None:
    result = respond(FIND, status, body)
    assert type(result) is cls and result.code is code and result.http_status == status


# -- Stripe's published spec -------------------------------------------------------------------
SPEC = Path(__file__).resolve().parents[3] / "shared/providers/stripe/spec3.payments.json"


@pytest.fixture(scope="module")
def search_spec() -> dict[str, Any]:
    if not SPEC.is_file():
        pytest.skip(f"Stripe's reference spec is not here: {SPEC}")
    spec: dict[str, Any] = json.loads(SPEC.read_text())
    assert spec["info"]["version"] == API_VERSION
    operation: dict[str, Any] = spec["paths"][SEARCH]["get"]
    return operation


@pytest.mark.parametrize("amount", [None, Money("12.34", "EUR")])
def test_every_parameter_sent_is_a_query_parameter_of_the_search(
    search_spec: dict[str, Any], amount: Money | None
) -> None:
    accepted = {p["name"]: p for p in search_spec["parameters"]}
    request = adapter.build_request(FindRequest(reference="r", amount=amount), idempotency_key=None)
    sent = {name.split("[", 1)[0] for name, _ in request.url.params.multi_items()}
    assert sent == {"query", "limit", "expand"}
    for name in sent:
        assert name in accepted and accepted[name]["in"] == "query", name
    assert accepted["query"]["required"] is True
    assert accepted["limit"]["schema"]["type"] == "integer"
    assert len(request.url.params["query"]) <= accepted["query"]["schema"]["maxLength"]


def test_the_search_result_model_reads_only_what_the_spec_returns(
    search_spec: dict[str, Any],
) -> None:
    schema = search_spec["responses"]["200"]["content"]["application/json"]["schema"]
    properties = schema["properties"]
    assert properties["object"]["enum"] == ["search_result"]
    assert properties["data"]["items"]["$ref"] == "#/components/schemas/payment_intent"
    assert properties["has_more"]["type"] == "boolean"
    assert properties["next_page"]["type"] == "string" and properties["next_page"]["nullable"]
    for name in SearchResultWire.model_fields:
        assert name in properties, f"SearchResultWire.{name} is not in Stripe's search result"
