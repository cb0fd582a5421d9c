"""Bad input through the public gateway, on both providers and both twins: a typed
``InvalidRequestError`` and nothing sent. One test per kind of bug the fuzzer found."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pytest
from pydantic import SecretStr

from paygate import AsyncGateway, Gateway, Money, PaymentSource, PaymentStatus
from paygate.adapters import stripe
from paygate.errors import ErrorCode, InvalidRequestError, InvalidWebhookError, TerminalError
from paygate.idempotency import MemoryStore
from paygate.records import MemoryRecordStore
from paygate.resilience.breaker import MemoryState
from paygate.testing import AdyenSimulator, StripeSimulator
from paygate.testing._server import Simulator

STRIPE_KEY = "sk_test_51PaygateValidationKey000000000"


@dataclass
class Target:
    """A gateway, the simulator behind it, and inputs that are valid there."""

    provider: str
    gw: Any
    sim: Simulator
    source: PaymentSource
    payment_id: str  # well-formed for the provider; no such payment

    def sent(self) -> int:
        return len(self.sim.requests)


@pytest.fixture(params=["stripe-sync", "stripe-async", "adyen-sync", "adyen-async"])
def target(
    request: pytest.FixtureRequest,
    sim: StripeSimulator,
    adyen_sim: AdyenSimulator,
    blocking: Callable[[AsyncGateway], Any],
) -> Iterator[Target]:
    provider, kind = request.param.split("-")
    cls = Gateway if kind == "sync" else AsyncGateway
    if provider == "stripe":
        gateway: Any = cls.for_stripe(
            STRIPE_KEY, base_url=sim.url, webhook_secret=sim.webhook_secret
        )
        simulator: Simulator = sim
        source, payment_id = PaymentSource.token("pm_card_visa"), "pi_1"
    else:
        gateway = cls.for_adyen(
            "any-test-key",
            merchant_account=adyen_sim.merchant_account,
            base_url=f"{adyen_sim.url}/v71",
            hmac_key=adyen_sim.hmac_key,
        )
        simulator = adyen_sim
        source = PaymentSource.token("sim_stored_visa", customer="shopper-1")
        payment_id = "ABCDEF1234567890"
    gw = gateway if kind == "sync" else blocking(gateway)
    yield Target(provider, gw, simulator, source, payment_id)
    if kind == "sync":
        gateway.close()
    else:
        gw.aclose()


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def refused(target: Target, call: Callable[[], Any]) -> InvalidRequestError:
    """Run ``call``; it must raise InvalidRequestError before anything reaches the provider."""
    before = target.sent()
    with pytest.raises(InvalidRequestError) as refusal:
        call()
    assert refusal.value.http_status is None
    assert target.sent() == before, "refused, yet a request reached the provider"
    return refusal.value


# -- idempotency keys ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key",
    [
        "kéy",  # the fuzzer's UnicodeEncodeError
        "ключ",
        "k\x01y",  # control characters reached the provider's header
        "k\ny",
        "k\ty",
        "k\x7f",
        "k y",  # a space: see models._token
        " k",
        "k" * 65,
        "",
    ],
)
def test_a_key_outside_printable_ascii_is_refused_before_sending(target: Target, key: str) -> None:
    error = refused(
        target,
        lambda: target.gw.authorize(
            eur("10.00"), source=target.source, reference="o-1", idempotency_key=key
        ),
    )
    assert error.code is ErrorCode.INVALID_REQUEST
    if len(key) > 1:
        assert key not in str(error)


def test_a_key_of_printable_ascii_goes_through(target: Target) -> None:
    key = "!#$%&'*+-./:;<=>?@[]^_`{|}~" + "0aZ" * 12 + "x"
    assert len(key) == 64
    p = target.gw.authorize(
        eur("10.00"), source=target.source, reference="o-k", idempotency_key=key
    )
    assert p.status is PaymentStatus.AUTHORIZED and p.idempotency_key == key
    assert target.sim.requests[-1].idempotency_key == key


# -- wrong types ---------------------------------------------------------------------------------
WRONG_TYPES: dict[str, Callable[[Target], Any]] = {
    "metadata-value-int": lambda t: t.gw.authorize(
        eur("10.00"), source=t.source, reference="o", metadata={"a": 1}
    ),
    "metadata-key-int": lambda t: t.gw.authorize(
        eur("10.00"), source=t.source, reference="o", metadata={1: "a"}
    ),
    "metadata-list": lambda t: t.gw.authorize(
        eur("10.00"), source=t.source, reference="o", metadata=[("a", "b")]
    ),
    "metadata-empty-key": lambda t: t.gw.authorize(
        eur("10.00"), source=t.source, reference="o", metadata={"": "b"}
    ),
    "amount-str": lambda t: t.gw.purchase("12", source=t.source, reference="o"),
    "amount-float": lambda t: t.gw.authorize(12.5, source=t.source, reference="o"),
    "amount-decimal-dict": lambda t: t.gw.authorize(
        {"amount": 12.5, "currency": "EUR"}, source=t.source, reference="o"
    ),
    "reference-int": lambda t: t.gw.authorize(eur("10.00"), source=t.source, reference=5),
    "reference-bytes": lambda t: t.gw.authorize(eur("10.00"), source=t.source, reference=b"o"),
    "reference-control": lambda t: t.gw.authorize(eur("10.00"), source=t.source, reference="o\n"),
    "reference-unicode": lambda t: t.gw.authorize(eur("10.00"), source=t.source, reference="ö"),
    "source-str": lambda t: t.gw.authorize(eur("10.00"), source="pm_x", reference="o"),
    "source-none": lambda t: t.gw.authorize(eur("10.00"), source=None, reference="o"),
    "description-int": lambda t: t.gw.authorize(
        eur("10.00"), source=t.source, reference="o", description=5
    ),
    "description-long": lambda t: t.gw.authorize(
        eur("10.00"), source=t.source, reference="o", description="d" * 501
    ),
    "key-int": lambda t: t.gw.authorize(
        eur("10.00"), source=t.source, reference="o", idempotency_key=5
    ),
    "capture-id-int": lambda t: t.gw.capture(5),
    "capture-amount-str": lambda t: t.gw.capture(t.payment_id, amount="1.00"),
    "void-id-none": lambda t: t.gw.void(None),
    "refund-reason": lambda t: t.gw.refund(t.payment_id, reason="because"),
    "refund-amount-negative": lambda t: t.gw.refund(t.payment_id, amount=eur("-1.00")),
    "retrieve-id-list": lambda t: t.gw.retrieve(["pi_1"]),
    "find-reference-int": lambda t: t.gw.find(42),
    "find-amount-negative": lambda t: t.gw.find("o", amount=eur("-1.00")),  # found by the fuzzer
    "payment-record-list": lambda t: t.gw.payment_record(["pi_1"]),
    "audit-trail-none": lambda t: t.gw.audit_trail(None),
}


@pytest.mark.parametrize("call", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_a_wrong_type_is_a_typed_error_before_sending(
    target: Target, call: Callable[[Target], Any]
) -> None:
    error = refused(target, lambda: call(target))
    assert isinstance(error, TypeError | ValueError)  # still what Python code expects


SOURCES: dict[str, Callable[[], PaymentSource]] = {
    "token-int": lambda: PaymentSource.token(5),
    "token-none": lambda: PaymentSource.token(None),
    "token-control": lambda: PaymentSource.token("pm_\x00"),
    "token-customer-int": lambda: PaymentSource.token("pm_x", customer=7),
    "card-number-int": lambda: PaymentSource.card(4242424242424242, 12, 2030),
    "card-number-none": lambda: PaymentSource.card(None, 12, 2030),
    "card-number-secret-int": lambda: PaymentSource.card(SecretStr(5), 12, 2030),
    "card-month-str": lambda: PaymentSource.card("4242424242424242", "12", 2030),
    "card-month-bool": lambda: PaymentSource.card("4242424242424242", True, 2030),
    "card-year-float": lambda: PaymentSource.card("4242424242424242", 12, 2030.0),
    "card-cvc-int": lambda: PaymentSource.card("4242424242424242", 12, 2030, 123),
    "card-holder-object": lambda: PaymentSource.card(
        "4242424242424242", 12, 2030, holder_name=object()
    ),
    "card-holder-control": lambda: PaymentSource.card(
        "4242424242424242", 12, 2030, holder_name="J\nSmith"
    ),
}


@pytest.mark.parametrize("build", SOURCES.values(), ids=SOURCES.keys())
def test_a_payment_source_of_wrong_types_is_a_typed_error(
    build: Callable[[], PaymentSource],
) -> None:
    with pytest.raises(InvalidRequestError) as refusal:
        build()
    assert "4242424242424242" not in str(refusal.value)
    assert refusal.value.__context__ is None  # pydantic's error, which holds the input


# -- payment ids ---------------------------------------------------------------------------------
@pytest.mark.parametrize("payment_id", [".", "..", "search", "pi_1/../x", "../v1/refunds", "", " "])
def test_a_payment_id_that_would_name_another_endpoint_is_refused(
    target: Target, payment_id: str
) -> None:
    for call in (
        lambda: target.gw.retrieve(payment_id),
        lambda: target.gw.capture(payment_id),
        lambda: target.gw.void(payment_id),
        lambda: target.gw.refund(payment_id),
        lambda: target.gw.payment_record(payment_id),
        lambda: target.gw.audit_trail(payment_id),
    ):
        refused(target, call)


def test_a_payment_id_of_the_other_provider_is_refused(target: Target) -> None:
    other = "ABCDEF1234567890" if target.provider == "stripe" else "pi_1"
    error = refused(target, lambda: target.gw.capture(other))
    assert "payment id is not" in error.message
    assert target.gw.payment_record(target.payment_id) is None  # well-formed: just not known


# -- provider limits -----------------------------------------------------------------------------
def test_stripe_amount_limits_are_checked_before_sending(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw, visa = make_gateway(), PaymentSource.token("pm_card_visa")
    for too_large in (Money("100000000", "JPY"), eur("1000000.00")):
        with pytest.raises(InvalidRequestError) as refusal:
            gw.authorize(too_large, source=visa, reference="o-max")
        assert refusal.value.code is ErrorCode.AMOUNT_INVALID
    with pytest.raises(InvalidRequestError, match=r"minimum charge \(EUR 0\.50\)"):
        gw.purchase(eur("0.49"), source=visa, reference="o-min")
    assert sim.requests == []
    largest = gw.authorize(Money("99999999", "JPY"), source=visa, reference="o-max")
    assert largest.amount_authorized == Money("99999999", "JPY")
    p = gw.authorize(eur("0.50"), source=visa, reference="o-min")
    assert gw.capture(p.id, amount=eur("0.10")).amount_captured == eur("0.10")  # no minimum


def test_stripe_metadata_limits_are_checked_before_sending(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw, visa = make_gateway(), PaymentSource.token("pm_card_visa")
    ours = {f"key-{i:02d}-" + "k" * 33: "v" * 500 for i in range(49)}
    for metadata in (
        {**ours, "one-more": "v"},  # 50 of the caller's: 51 with the reference
        {"reference": "not-the-order"},  # would overwrite the reference silently
        {"a[b]": "v"},
        {"k" * 41: "v"},
        {"k": "v" * 501},
    ):
        with pytest.raises(InvalidRequestError, match="metadata"):
            gw.authorize(eur("10.00"), source=visa, reference="o-md", metadata=metadata)
    assert sim.requests == []
    gw.authorize(eur("10.00"), source=visa, reference="o-md", metadata=ours)
    [intent] = sim.payment_intents(reference="o-md")
    assert intent["metadata"] == {**ours, "reference": "o-md"}


def test_adyen_metadata_limits_are_checked_before_sending(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    gw = make_adyen_gateway()
    stored = PaymentSource.token("sim_stored_visa", customer="shopper-1")
    ours = {f"{i:02d}" + "k" * 18: "v" * 80 for i in range(20)}
    for metadata in ({**ours, "one-more": "v"}, {"k" * 21: "v"}, {"k": "v" * 81}):
        with pytest.raises(InvalidRequestError, match="metadata"):
            gw.authorize(eur("10.00"), source=stored, reference="o-md", metadata=metadata)
    assert adyen_sim.requests == []
    gw.authorize(eur("10.00"), source=stored, reference="o-md", metadata=ours)
    assert adyen_sim.requests[0].params["metadata"] == ours


# -- an adapter's own rules -----------------------------------------------------------------------
class Recorder:
    """A store or a breaker state that notes the name of every method the gateway calls."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return value(*args, **kwargs)

        return call


def spied(make: Callable[..., Any]) -> tuple[Any, Recorder, Recorder, Recorder]:
    """A gateway whose idempotency store, record store and breaker state note every call."""
    store, records = Recorder(MemoryStore()), Recorder(MemoryRecordStore())
    breaker = Recorder(MemoryState())
    gw = make(store=store, records=records, breaker_state=breaker)
    return gw, store, records, breaker


def test_an_adyen_rule_refuses_before_the_breaker_the_stores_and_the_network(
    make_adyen_gateway: Callable[..., Any], adyen_sim: AdyenSimulator
) -> None:
    gw, store, records, breaker = spied(make_adyen_gateway)
    unnamed = PaymentSource.token("sim_stored_visa", customer="ab")  # no such shopperReference
    with pytest.raises(InvalidRequestError, match="shopperReference") as refusal:
        gw.authorize(eur("10.00"), source=unnamed, reference="o-v", idempotency_key="key-v")
    assert refusal.value.http_status is None
    assert (store.calls, records.calls, breaker.calls, adyen_sim.requests) == ([], [], [], [])
    assert gw.unknown_payments() == [] and records.intents() == []
    # The same call with its shopper goes through all three, and under the same key.
    named = PaymentSource.token("sim_stored_visa", customer="shopper-1")
    paid = gw.authorize(eur("10.00"), source=named, reference="o-v", idempotency_key="key-v")
    assert paid.status is PaymentStatus.AUTHORIZED
    assert "begin" in store.calls and "write_intent" in records.calls and breaker.calls
    assert len(adyen_sim.requests) == 1


def test_a_stripe_rule_refuses_before_the_breaker_the_stores_and_the_network(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw, store, records, breaker = spied(make_gateway)
    with pytest.raises(InvalidRequestError) as refusal:
        gw.find("back\\slash")
    assert refusal.value.code is ErrorCode.UNSUPPORTED and refusal.value.http_status is None
    assert (store.calls, records.calls, breaker.calls, sim.requests) == ([], [], [], [])
    with pytest.raises(TerminalError) as nothing:  # a reference Stripe can search for
        gw.find("back-slash")
    assert nothing.value.code is ErrorCode.NOT_FOUND
    assert breaker.calls and len(sim.requests) == 1


def test_a_provider_that_takes_one_refund_refuses_a_second_before_any_io(
    sim: StripeSimulator,
) -> None:
    one_refund = replace(stripe.CAPABILITIES, multiple_refunds=False)
    adapter = stripe.StripeAdapter(STRIPE_KEY, base_url=sim.url)
    adapter.capabilities = one_refund  # type: ignore[misc]
    with Gateway(adapter) as gw:
        paid = gw.purchase(eur("10.00"), source=PaymentSource.token("pm_card_visa"), reference="o")
        gw.refund(paid.id, amount=eur("4.00"))
        sent = len(sim.requests)
        with pytest.raises(InvalidRequestError) as refusal:
            gw.refund(paid.id, amount=eur("1.00"))
        assert refusal.value.code is ErrorCode.UNSUPPORTED and "one refund" in str(refusal.value)
        assert len(sim.requests) == sent


# -- webhooks ------------------------------------------------------------------------------------
class FrameworkHeaders:
    """Headers as a web framework may hold them: not a Mapping, but with ``items()``."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._pairs = list(headers.items())

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, bytearray(b"{}")),
        ({}, None),
        ({}, memoryview(b"{}")),
        ([("stripe-signature", "t=1,v1=x")], b"{}"),  # not a mapping
        ("stripe-signature: x", b"{}"),
        (None, b"{}"),
        ({"stripe-signature": 1}, b"{}"),
        ({b"stripe-signature": "x"}, b"{}"),
    ],
)
def test_a_webhook_that_is_not_headers_and_bytes_is_a_typed_error(
    target: Target, headers: Any, body: Any
) -> None:
    error = refused(target, lambda: target.gw.handle_webhook(headers, body))
    assert "webhook" in error.message


@pytest.mark.parametrize("handed_over", ["framework-headers", "text-body"])
def test_a_delivery_as_a_web_framework_hands_it_over_is_verified_and_applied(
    target: Target, handed_over: str
) -> None:
    """Headers in a framework's own object (not a Mapping, with ``items()``); or the body
    decoded to text, as the official libraries take it."""
    target.gw.authorize(eur("10.00"), source=target.source, reference=f"o-{handed_over}")
    deliveries = target.sim.drain_webhooks()  # type: ignore[attr-defined]
    assert deliveries
    for delivery in deliveries:
        headers: Any = delivery.headers
        body: Any = delivery.body
        if handed_over == "framework-headers":
            headers = FrameworkHeaders(delivery.headers)
        else:
            body = delivery.body.decode("utf-8")
        outcomes = target.gw.handle_webhook(headers, body)
        assert outcomes and all(o.result != "no_record" for o in outcomes)
    for text in ("{}", "\ud800"):  # not the delivery signed; no UTF-8 bytes decode to it
        with pytest.raises(InvalidWebhookError):
            target.gw.handle_webhook(deliveries[0].headers, text)


# -- card numbers where they do not belong -------------------------------------------------------
PAN = "4242424242424242"
PAN_CALLS: dict[str, Callable[[Target, str], Any]] = {
    "reference": lambda t, pan: t.gw.authorize(eur("10.00"), source=t.source, reference=pan),
    "reference-spaced": lambda t, pan: t.gw.purchase(
        eur("10.00"),
        source=t.source,
        reference=f"order {pan[:4]} {pan[4:8]} {pan[8:12]} {pan[12:]}",
    ),
    "description": lambda t, pan: t.gw.authorize(
        eur("10.00"), source=t.source, reference="o", description=f"card {pan} exp 12/30"
    ),
    "metadata-key": lambda t, pan: t.gw.authorize(
        eur("10.00"), source=t.source, reference="o", metadata={pan: "card"}
    ),
    "metadata-value": lambda t, pan: t.gw.authorize(
        eur("10.00"), source=t.source, reference="o", metadata={"card": f"{pan[:8]}-{pan[8:]}"}
    ),
    "capture-reference": lambda t, pan: t.gw.capture(t.payment_id, reference=pan),
    "refund-reference": lambda t, pan: t.gw.refund(t.payment_id, reference=pan),
    "find": lambda t, pan: t.gw.find(pan),
    "idempotency-key": lambda t, pan: t.gw.authorize(  # logged and stored with every call
        eur("10.00"), source=t.source, reference="o", idempotency_key=pan
    ),
}


@pytest.mark.parametrize("call", PAN_CALLS.values(), ids=PAN_CALLS.keys())
def test_a_card_number_outside_the_card_fields_is_refused_never_logged_or_kept(
    target: Target, call: Callable[[Target, str], Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    error = refused(target, lambda: call(target, PAN))
    assert "card number" in error.message
    shown = [str(error), repr(error), error.message, *(r.getMessage() for r in caplog.records)]
    for text in shown:
        assert PAN not in text and PAN[-8:] not in text.replace(" ", "").replace("-", ""), text
    assert error.__cause__ is None and error.__context__ is None  # pydantic's error holds it
    assert target.gw.unknown_payments() == []


def test_a_card_number_in_the_card_fields_is_fine(
    target: Target, sim: StripeSimulator, blocking: Callable[[AsyncGateway], Any]
) -> None:
    if target.provider == "adyen":
        card = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="APPROVED")
        p = target.gw.authorize(eur("10.00"), source=card, reference="o-card")
        assert p.status is PaymentStatus.AUTHORIZED
        return
    # Stripe takes raw card numbers only from a gateway that opts in (raw_card_data=True).
    card = PaymentSource.card(PAN, 12, 2030, "123")
    if isinstance(target.gw, Gateway):
        with Gateway.for_stripe(STRIPE_KEY, base_url=sim.url, raw_card_data=True) as gw:
            p = gw.authorize(eur("10.00"), source=card, reference="o-card")
    else:
        driver = blocking(AsyncGateway.for_stripe(STRIPE_KEY, base_url=sim.url, raw_card_data=True))
        p = driver.authorize(eur("10.00"), source=card, reference="o-card")
        driver.aclose()
    assert p.status is PaymentStatus.AUTHORIZED


@pytest.mark.parametrize("operation", ["authorize", "purchase"])
def test_a_raw_card_on_stripe_is_refused_before_anything_unless_opted_in(
    make_gateway: Callable[..., Any], sim: StripeSimulator, operation: str
) -> None:
    gw, store, records, breaker = spied(make_gateway)
    card = PaymentSource.card("4242424242424242", 12, 2030, "123")
    with pytest.raises(InvalidRequestError) as refusal:
        getattr(gw, operation)(eur("10.00"), source=card, reference="o-raw", idempotency_key="k")
    error = refusal.value
    assert error.code is ErrorCode.UNSUPPORTED and error.http_status is None
    # Why, and the two ways out: a PaymentMethod id, or the opt-in (argument and setting).
    for said in ("raw card data access", "pm_card_visa", "raw_card_data=True"):
        assert said in error.message, said
    assert "PAYGATE_STRIPE__RAW_CARD_DATA" in error.message
    assert "4242424242424242" not in f"{error} {error!r}"
    assert (store.calls, records.calls, breaker.calls, sim.requests) == ([], [], [], [])
    # A token goes through, and the same card does once the gateway opts in.
    token = getattr(gw, operation)(
        eur("10.00"), source=PaymentSource.token("pm_card_visa"), reference="o-tok"
    )
    assert token.status in {PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED}
    opted = make_gateway(raw_card_data=True)
    paid = getattr(opted, operation)(eur("10.00"), source=card, reference="o-raw")
    assert paid.status in {PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED}
