"""The Balance Transactions API path: the sans-IO request, then the fetch loop against the
Stripe simulator (pages, windows, a 429 with Retry-After honoured), reconciled end to end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from paygate import Gateway, Money, PaymentSource
from paygate.recon import Category, ReconPolicy, reconcile
from paygate.recon.stripe_api import (
    FetchError,
    balance_transactions_request,
    fetch_balance_transactions,
)
from paygate.testing import Fault, SettlementFaults, StripeSimulator

KEY = "sk_test_recon_api_0000"
SINCE = datetime.now(UTC) - timedelta(hours=1)
UNTIL = datetime.now(UTC) + timedelta(hours=1)


def test_the_request_asks_for_one_window_and_page_with_sources_expanded() -> None:
    request = balance_transactions_request(
        KEY, since=datetime(2026, 11, 1, tzinfo=UTC), until=datetime(2026, 11, 2, tzinfo=UTC),
        starting_after="txn_9", base_url="https://example.test/",
    )  # fmt: skip
    assert request.method == "GET"
    assert request.url.path == "/v1/balance_transactions"
    assert dict(request.url.params) == {
        "created[gte]": "1793491200", "created[lt]": "1793577600", "limit": "100",
        "expand[0]": "data.source", "starting_after": "txn_9",
    }  # fmt: skip
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["stripe-version"] == "2023-08-16"


@pytest.fixture
def paid() -> Iterator[tuple[StripeSimulator, Gateway, list[str]]]:
    with StripeSimulator() as sim, Gateway.for_stripe(KEY, base_url=sim.url) as gw:
        ids = []
        for n in range(12):
            p = gw.purchase(Money("10.00", "EUR"), source=PaymentSource.token("pm_card_visa"),
                            reference=f"api-{n}")  # fmt: skip
            ids.append(p.id)
        gw.refund(ids[0], amount=Money("2.50", "EUR"))
        yield sim, gw, ids


def test_every_page_is_fetched_and_reconciles(
    paid: tuple[StripeSimulator, Gateway, list[str]],
) -> None:
    sim, gw, ids = paid
    waits: list[float] = []
    sim.inject(Fault.rate_limited(retry_after=2), times=1, path="/v1/balance_transactions")
    sim.inject_settlement(SettlementFaults(doubled=frozenset({ids[3]})))
    entries = list(
        fetch_balance_transactions(
            KEY, since=SINCE, until=UNTIL, base_url=sim.url, sleep=waits.append
        )
    )
    assert waits == [2.0]  # the 429's Retry-After, honoured once
    assert len(entries) == 12 + 1 + 1 + 1  # charges, a refund, the doubled one, the payout
    assert len({e.entry_id for e in entries}) == len(entries)
    assert [e.line for e in entries] == list(range(1, len(entries) + 1))
    result = reconcile("stripe", entries, gw.records.scan("stripe"), policy=ReconPolicy())
    assert [(f.category, f.payment_reference) for f in result.findings] == [
        (Category.SETTLED_TWICE, ids[3])
    ]
    assert result.tallies[(Category.MATCHED, "EUR")].count == 13


def test_a_window_with_nothing_in_it_is_empty(
    paid: tuple[StripeSimulator, Gateway, list[str]],
) -> None:
    sim, _, _ = paid
    before = SINCE - timedelta(days=2)
    assert list(fetch_balance_transactions(KEY, since=before, until=SINCE, base_url=sim.url)) == []


def test_a_refusal_stops_the_fetch_without_the_key(
    paid: tuple[StripeSimulator, Gateway, list[str]],
) -> None:
    sim, _, _ = paid
    with pytest.raises(FetchError, match="HTTP 401") as caught:
        list(fetch_balance_transactions("not_a_key_wrong_123456", since=SINCE, until=UNTIL,
                                        base_url=sim.url))  # fmt: skip
    assert "wrong_key_123456" not in str(caught.value)
    sim.inject(Fault.server_error(503), times=3, path="/v1/balance_transactions")
    waits: list[float] = []
    with pytest.raises(FetchError, match="still failing after 2 waits: HTTP 503"):
        list(fetch_balance_transactions(KEY, since=SINCE, until=UNTIL, base_url=sim.url,
                                        max_waits=2, sleep=waits.append))  # fmt: skip
    assert waits == [1.0, 2.0]


def test_a_transport_can_be_given() -> None:
    page = {"object": "list", "has_more": False, "data": [
        {"id": "txn_1", "amount": 100, "fee": 0, "net": 100, "currency": "eur",
         "reporting_category": "fee", "created": 1764072000, "source": None},
    ]}  # fmt: skip
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=page))
    (entry,) = fetch_balance_transactions(KEY, since=SINCE, until=UNTIL, transport=transport)
    assert (entry.entry_id, entry.gross, entry.source) == ("txn_1", 100, "balance_transactions")
