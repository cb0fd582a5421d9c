"""Stripe's Balance Transactions API as settlement data: a sans-IO request builder for one
page (a ``created`` window, ``starting_after``, the ``source`` expanded) and the loop that
fetches every page through paygate's transport, waiting as Stripe asks (``Retry-After``) when
it rate-limits, and reads each page into ``Entry`` values."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import httpx
from pydantic import SecretStr

from paygate.adapters.base import parse_retry_after
from paygate.adapters.stripe import API_VERSION, DEFAULT_BASE_URL
from paygate.recon.entries import Entry
from paygate.recon.stripe import read_balance_transactions
from paygate.resilience.deadline import Deadline
from paygate.resilience.policies import Timeout
from paygate.transports import DeadlineTransport, read_body

__all__ = ["FetchError", "balance_transactions_request", "fetch_balance_transactions"]

PAGE_LIMIT: Final = 100  # Stripe's largest page
_BODY_LIMIT: Final = 16 * 1024 * 1024
_FIRST_WAIT: Final = 1.0  # seconds, doubled on each wait Stripe does not time itself
_LONGEST_WAIT: Final = 60.0
SOURCE: Final = "balance_transactions"


class FetchError(RuntimeError):
    """Stripe refused the listing, or kept failing past the waits allowed. The message holds
    the HTTP status and Stripe's error type, code and message; never the key."""


def balance_transactions_request(
    api_key: SecretStr | str,
    *,
    since: datetime,
    until: datetime,
    starting_after: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    limit: int = PAGE_LIMIT,
) -> httpx.Request:
    """``GET /v1/balance_transactions`` for the transactions created in ``[since, until)``,
    the page after ``starting_after``, each with its ``source`` expanded."""
    key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("created[gte]", str(int(since.timestamp()))),
        ("created[lt]", str(int(until.timestamp()))),
        ("limit", str(limit)),
        ("expand[0]", "data.source"),
    ]
    if starting_after is not None:
        params.append(("starting_after", starting_after))
    return httpx.Request(
        "GET",
        f"{base_url.rstrip('/')}/v1/balance_transactions",
        params=params,
        headers={"Authorization": f"Bearer {key}", "Stripe-Version": API_VERSION},
    )


def fetch_balance_transactions(
    api_key: SecretStr | str,
    *,
    since: datetime,
    until: datetime,
    base_url: str = DEFAULT_BASE_URL,
    transport: httpx.BaseTransport | None = None,
    timeout: Timeout | None = None,
    max_waits: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Entry]:
    """Every balance transaction created in ``[since, until)``, page after page, as entries
    (``line`` is the transaction's position in the listing). A 429 or a 5xx is asked again
    after Stripe's ``Retry-After`` (or a doubling wait), at most ``max_waits`` times in a row."""
    policy = timeout or Timeout()
    own = transport is None
    sender = transport or DeadlineTransport(limits=httpx.Limits(max_connections=1))
    try:
        after: str | None = None
        position = 1
        while True:
            request = balance_transactions_request(
                api_key, since=since, until=until, starting_after=after, base_url=base_url
            )
            page = _page(sender, request, policy, max_waits, sleep)
            data = page.get("data")
            if not isinstance(data, list):
                raise FetchError("Stripe's answer holds no list of balance transactions")
            yield from read_balance_transactions(data, source=SOURCE, first_line=position)
            position += len(data)
            if not page.get("has_more") or not data:
                return
            after = data[-1].get("id")
    finally:
        if own:
            sender.close()


def _page(
    sender: httpx.BaseTransport,
    request: httpx.Request,
    policy: Timeout,
    max_waits: int,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    wait = _FIRST_WAIT
    for attempt in range(max_waits + 1):
        with Deadline(policy.total) as deadline:
            request.extensions["timeout"] = deadline.attempt_timeout(policy)
            response = sender.handle_request(request)
            response.request = request
            try:
                response = read_body(response, _BODY_LIMIT)
            finally:
                response.close()
        if response.status_code == 200:
            page = json.loads(response.content, parse_float=Decimal)
            if not isinstance(page, dict):
                raise FetchError("Stripe's answer is not a JSON object")
            return page
        if response.status_code != 429 and response.status_code < 500:
            raise FetchError(_refusal(response))
        if attempt == max_waits:
            break
        asked = parse_retry_after(response.headers)
        sleep(min(asked if asked is not None else wait, _LONGEST_WAIT))
        wait = min(wait * 2, _LONGEST_WAIT)
    raise FetchError(f"still failing after {max_waits} waits: {_refusal(response)}")


def _refusal(response: httpx.Response) -> str:
    """HTTP status and Stripe's error type, code and message (Stripe's message never repeats
    a secret key in full; paygate prints nothing else of the body)."""
    try:
        error = json.loads(response.content).get("error", {})
    except (ValueError, AttributeError):
        error = {}
    parts = [f"HTTP {response.status_code}"]
    if isinstance(error, dict):
        parts += [str(error[k])[:200] for k in ("type", "code", "message") if error.get(k)]
    return ": ".join(parts)
