"""The Stripe simulator's ``GET /v1/payment_intents/search``, spoken to with plain httpx: the
query clauses it serves, the ones it refuses, ordering, limit, pages, expansion and faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from paygate.testing import Fault, StripeSimulator
from paygate.testing.stripe import _ledger as _stripe_ledger

API_KEY = "sk_test_51SimulatorSearchKey000000000"
PI = "/v1/payment_intents"
SEARCH = "/v1/payment_intents/search"


@pytest.fixture
def client(sim: StripeSimulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=sim.url, headers=headers, timeout=5.0) as http:
        yield http


def create(
    client: httpx.Client, reference: str, amount: int = 1234, currency: str = "eur"
) -> dict[str, Any]:
    data = {
        "amount": str(amount),
        "currency": currency,
        "confirm": "true",
        "capture_method": "manual",
        "payment_method": "pm_card_visa",
        "metadata[reference]": reference,
    }
    response = client.post(PI, data=data)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def search(client: httpx.Client, query: str, **params: str) -> httpx.Response:
    return client.get(SEARCH, params={"query": query, **params})


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [pi["id"] for pi in response.json()["data"]]


def test_a_search_result_has_stripes_shape_and_newest_comes_first(client: httpx.Client) -> None:
    first, second = create(client, "order-1"), create(client, "order-1")
    create(client, "order-2")
    response = search(client, "metadata['reference']:'order-1'")
    assert response.status_code == 200 and response.headers["request-id"].startswith("req_")
    body = response.json()
    assert {k: v for k, v in body.items() if k != "data"} == {
        "object": "search_result",
        "url": SEARCH,
        "has_more": False,
        "next_page": None,
    }
    assert ids(response) == [second["id"], first["id"]]  # one second: the later-made first
    assert body["data"][0]["latest_charge"] == second["latest_charge"]  # an id: not expanded


def test_order_is_by_created_descending(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]

    class Clock:
        @staticmethod
        def time() -> float:
            return now[0]

    monkeypatch.setattr(_stripe_ledger, "time", Clock)
    made = {}
    for created in (300, 100, 200):
        now[0] = float(created)
        made[created] = create(client, "order-t")["id"]
    found = search(client, "metadata['reference']:'order-t'")
    assert ids(found) == [made[300], made[200], made[100]]
    assert [pi["created"] for pi in found.json()["data"]] == [300, 200, 100]


def test_limit_and_next_page_walk_every_match_once(client: httpx.Client) -> None:
    made = [create(client, "order-p")["id"] for _ in range(5)]
    query = "metadata['reference']:'order-p'"
    first = search(client, query, limit="2")
    assert first.json()["has_more"] is True and len(ids(first)) == 2
    second = search(client, query, limit="2", page=first.json()["next_page"])
    third = search(client, query, limit="2", page=second.json()["next_page"])
    assert third.json()["has_more"] is False and third.json()["next_page"] is None
    assert ids(first) + ids(second) + ids(third) == made[::-1]
    assert len(ids(search(client, query))) == 5  # the default limit is 10


def test_expand_data_latest_charge(client: httpx.Client) -> None:
    pi = create(client, "order-x")
    found = search(client, "metadata['reference']:'order-x'", **{"expand[0]": "data.latest_charge"})
    charge = found.json()["data"][0]["latest_charge"]
    assert charge["object"] == "charge" and charge["id"] == pi["latest_charge"]
    assert charge["payment_intent"] == pi["id"] and charge["amount"] == 1234


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("metadata['reference']:'order-a'", {"a-eur-1", "a-eur-2", "a-usd-1"}),
        ('metadata["reference"]:"order-a"', {"a-eur-1", "a-eur-2", "a-usd-1"}),
        ("metadata['reference']:'ORDER-A'", {"a-eur-1", "a-eur-2", "a-usd-1"}),  # ignores case
        ("metadata['reference']:'order-a' AND amount:100", {"a-eur-1", "a-usd-1"}),
        ("metadata['reference']:'order-a' and amount:100 and currency:'eur'", {"a-eur-1"}),
        ("metadata['reference']:'order-a' amount:200", {"a-eur-2"}),  # a space is AND
        ("  currency:'USD'  ", {"a-usd-1", "b-usd-1"}),
        ("amount:100 AND currency:'eur'", {"a-eur-1", "o-eur-1"}),
        ("metadata['reference']:'O\\'Brien'", {"o-eur-1"}),
        ("metadata['reference']:\"O'Brien\"", {"o-eur-1"}),
        ("metadata['reference']:'order-a' AND amount:999", set()),
        ("metadata['cart']:'order-a'", set()),
    ],
)
def test_exact_match_clauses_joined_by_and(
    client: httpx.Client, query: str, expected: set[str]
) -> None:
    names = {}
    for name, reference, amount, currency in [
        ("a-eur-1", "order-a", 100, "eur"),
        ("a-eur-2", "order-a", 200, "eur"),
        ("a-usd-1", "order-a", 100, "usd"),
        ("b-usd-1", "order-b", 300, "usd"),
        ("o-eur-1", "O'Brien", 100, "eur"),
    ]:
        names[create(client, reference, amount, currency)["id"]] = name
    assert {names[pi] for pi in ids(search(client, query))} == expected


def test_search_is_immediately_consistent_unlike_stripe(client: httpx.Client) -> None:
    assert ids(search(client, "metadata['reference']:'fresh'")) == []
    pi = create(client, "fresh")
    assert ids(search(client, "metadata['reference']:'fresh'")) == [pi["id"]]


@pytest.mark.parametrize(
    "query",
    [
        "metadata['reference']:'a' OR metadata['reference']:'b'",
        "-currency:'usd'",
        "amount>100",
        "amount:'100'",
        "metadata['reference']~'ord'",
        "status:'succeeded'",
        "currency:usd",
        "metadata['reference']:'a\\b'",
        "metadata['reference']:'open",
        "metadata[reference]:'a'",
        "metadata['reference']:'a' AND",
        "metadata['reference']:'a'AND amount:1",
        "amount:100x",
    ],
)
def test_an_unsupported_query_is_refused_not_guessed(client: httpx.Client, query: str) -> None:
    create(client, "a")
    response = search(client, query)
    assert response.status_code == 400 and response.headers["stripe-should-retry"] == "false"
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "query")
    assert "Unsupported search query" in error["message"]


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({}, "query", "parameter_missing"),
        ({"query": ""}, "query", "parameter_missing"),
        ({"query": "amount:1", "limit": "0"}, "limit", "parameter_invalid_integer"),
        ({"query": "amount:1", "limit": "101"}, "limit", "parameter_invalid_integer"),
        ({"query": "amount:1", "page": "cursor_from_elsewhere"}, "page", None),
        ({"query": "amount:1", "expand[0]": "latest_charge"}, "expand", None),
        ({"query": "amount:1", "starting_after": "pi_1"}, "starting_after", "parameter_unknown"),
    ],
)
def test_bad_parameters_are_refused(
    client: httpx.Client, params: dict[str, str], param: str, code: str | None
) -> None:
    response = client.get(SEARCH, params=params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error.get("code")) == (
        "invalid_request_error",
        param,
        code,
    )


def test_retrieve_still_answers_for_an_id(client: httpx.Client) -> None:
    pi = create(client, "order-r")
    assert client.get(f"{PI}/{pi['id']}").json()["id"] == pi["id"]
    assert client.post(SEARCH).status_code == 404  # search is a GET only


def test_a_schema_break_breaks_the_search_result_and_each_intent(
    client: httpx.Client, sim: StripeSimulator
) -> None:
    create(client, "order-s")
    sim.inject(Fault.schema_break(), method="GET", path=SEARCH)
    broken = search(client, "metadata['reference']:'order-s'").json()
    assert broken["has_more"] == "false"
    assert broken["data"][0]["amount"] == "1234" and "status" not in broken["data"][0]
    empty = search(client, "metadata['reference']:'none'")
    assert empty.json()["has_more"] is False  # the fault was used once


def test_a_search_is_a_read_and_never_keyed(client: httpx.Client, sim: StripeSimulator) -> None:
    pi = create(client, "order-k")
    headers = {"Idempotency-Key": "search-key"}
    first = client.get(SEARCH, params={"query": "metadata['reference']:'order-k'"}, headers=headers)
    second_pi = create(client, "order-k")
    again = client.get(SEARCH, params={"query": "metadata['reference']:'order-k'"}, headers=headers)
    assert ids(first) == [pi["id"]] and ids(again) == [second_pi["id"], pi["id"]]
    assert "idempotent-replayed" not in again.headers
    assert sim.request_count(method="GET", path=SEARCH) == 2
