"""The provider's request id of an exchange (the header its adapter declares: Stripe's
``Request-Id``, Adyen's ``pspReference``) on a success and on an error, on both providers and
every gateway kind: the same id in the attempt's event, the operation's end, the call's log
line (``paygate_request_id``), the CLIENT span (``http.response.header.<name>``) and the
operation span (``paygate.provider_request_id``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.conftest import ADYEN_KEY, API_KEY, KINDS, _gateway_factory
from tests.telemetry.conftest import Otel

from paygate import Money, PaymentSource, RetryPolicy
from paygate.adapters import adyen, stripe
from paygate.adapters.base import request_id_of
from paygate.errors import CardDeclinedError, OutcomeUnknown
from paygate.telemetry import AttemptEnded, Event, OperationEnded
from paygate.testing import AdyenSimulator, Fault, StripeSimulator

ONCE = RetryPolicy(max_attempts=1)
AMOUNT = Money("10.00", "EUR")
# Per provider: the header, a source it approves, one it declines.
PROVIDERS = {
    "stripe": ("request-id", PaymentSource.token("pm_card_visa"),
               PaymentSource.token("pm_card_visa_chargeDeclinedInsufficientFunds")),
    "adyen": ("pspreference",
              PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="J. Smith"),
              PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="DECLINED")),
}  # fmt: skip


@dataclass
class Provider:
    name: str
    sim: StripeSimulator | AdyenSimulator
    make: Callable[..., Any]  # gateways of one kind (tests.conftest.KINDS)


@pytest.fixture(params=[(p, kind) for p in PROVIDERS for kind in KINDS], ids="-".join)
def provider(
    request: pytest.FixtureRequest, sim: StripeSimulator, adyen_sim: AdyenSimulator
) -> Iterator[Provider]:
    name, kind = request.param
    if name == "stripe":
        factory = _gateway_factory(kind, "for_stripe", API_KEY, base_url=sim.url)
    else:
        factory = _gateway_factory(
            kind, "for_adyen", ADYEN_KEY, merchant_account=adyen_sim.merchant_account,
            base_url=f"{adyen_sim.url}/v71", hmac_key=adyen_sim.hmac_key,
        )  # fmt: skip
    for make in factory:
        yield Provider(name, sim if name == "stripe" else adyen_sim, make)


def test_each_adapter_declares_its_request_id_header() -> None:
    assert stripe.CAPABILITIES.request_id_header == "Request-Id"
    assert adyen.CAPABILITIES.request_id_header == "pspReference"
    headers = httpx.Headers({"request-id": "req_1", "PSPREFERENCE": "ABC"})
    assert request_id_of(stripe.CAPABILITIES, headers) == "req_1"  # any casing
    assert request_id_of(adyen.CAPABILITIES, headers) == "ABC"
    assert request_id_of(stripe.CAPABILITIES, httpx.Headers()) is None


class _Seen:
    """Every place a call's request id shows: its events, its log line, its spans."""

    def __init__(self, otel: Otel, caplog: pytest.LogCaptureFixture) -> None:
        self.otel = otel
        self.caplog = caplog
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self.otel.listener(event)

    def ids(self, header: str) -> dict[str, object]:
        [attempt] = [e for e in self.events if isinstance(e, AttemptEnded)]
        [ended] = [e for e in self.events if isinstance(e, OperationEnded)]
        [line] = [r for r in self.caplog.records if "attempts=" in r.getMessage()]
        [operation] = [s for s in self.otel.spans() if s.name.startswith("paygate ")]
        [client] = self.otel.children(operation)
        [client_id] = (client.attributes or {})[f"http.response.header.{header}"]  # type: ignore[misc]
        return {
            "attempt": attempt.request_id,
            "operation": ended.request_id,
            "log line": getattr(line, "paygate_request_id", None),
            "client span": client_id,
            "operation span": (operation.attributes or {})["paygate.provider_request_id"],
        }


def _ids(
    provider: Provider,
    otel: Otel,
    caplog: pytest.LogCaptureFixture,
    call: Callable[[Any, PaymentSource, PaymentSource], str],
) -> tuple[str, dict[str, object]]:
    """What ``call`` (given a gateway, an approved and a declined source) returns, and the
    request id each surface shows for that call."""
    caplog.set_level(logging.INFO, logger="paygate")
    header, approved, declined = PROVIDERS[provider.name]
    seen = _Seen(otel, caplog)
    returned = call(provider.make(on_event=seen, retry=ONCE), approved, declined)
    return returned, seen.ids(header)


def test_a_success_names_the_providers_request_id(
    provider: Provider, otel: Otel, caplog: pytest.LogCaptureFixture
) -> None:
    def call(gw: Any, approved: PaymentSource, declined: PaymentSource) -> str:
        return str(gw.authorize(AMOUNT, source=approved, reference="rid-1").id)

    payment_id, ids = _ids(provider, otel, caplog, call)
    [request_id] = set(ids.values())
    assert isinstance(request_id, str), ids
    if provider.name == "stripe":
        assert request_id.startswith("req_"), ids
    else:  # Adyen names an authorization's exchange by the payment's pspReference
        assert request_id == payment_id, ids


def test_a_decline_names_the_providers_request_id(
    provider: Provider, otel: Otel, caplog: pytest.LogCaptureFixture
) -> None:
    def call(gw: Any, approved: PaymentSource, declined: PaymentSource) -> str:
        with pytest.raises(CardDeclinedError) as caught:
            gw.authorize(AMOUNT, source=declined, reference="rid-2")
        assert caught.value.request_id is not None
        return caught.value.request_id

    request_id, ids = _ids(provider, otel, caplog, call)
    assert set(ids.values()) == {request_id}, ids


def test_a_server_error_names_the_providers_request_id(
    provider: Provider, otel: Otel, caplog: pytest.LogCaptureFixture
) -> None:
    def call(gw: Any, approved: PaymentSource, declined: PaymentSource) -> str:
        provider.sim.inject(Fault.server_error(503), times=1)
        with pytest.raises(OutcomeUnknown) as caught:
            gw.authorize(AMOUNT, source=approved, reference="rid-3")
        assert caught.value.request_id is not None
        return caught.value.request_id

    request_id, ids = _ids(provider, otel, caplog, call)
    assert set(ids.values()) == {request_id}, ids
