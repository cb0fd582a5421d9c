"""The Stripe adapter against Stripe's published OpenAPI spec (API version 2023-08-16): every
field the wire models read and every parameter the requests send exists there, with the type
paygate assumes. Reads ../shared/providers/stripe/spec3.payments.json next to the repository;
skipped with a reason where that reference copy is absent (a user's clone)."""

from __future__ import annotations

import json
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import parse_qsl

import pytest
from pydantic import BaseModel

from paygate import Money, PaymentSource
from paygate.adapters.stripe import API_VERSION, StripeAdapter
from paygate.adapters.stripe._responses import IntentStatus
from paygate.adapters.stripe._wire import (
    ChargeWire,
    ErrorPaymentIntentWire,
    ErrorWire,
    LastPaymentErrorWire,
    NextActionWire,
    PaymentIntentWire,
    RefundWire,
)
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
    OperationRequest,
    RefundRequest,
    VoidRequest,
)

SPEC = Path(__file__).resolve().parents[3] / "shared/providers/stripe/spec3.payments.json"
# Fields newer than the 2023-08-16 spec, read only when present.
NEWER_THAN_SPEC = {"advice_code", "network_advice_code", "network_decline_code"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC.is_file():
        pytest.skip(f"Stripe's reference spec is not here: {SPEC}")
    loaded: dict[str, Any] = json.loads(SPEC.read_text())
    assert loaded["info"]["version"] == API_VERSION
    return loaded


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    properties: dict[str, Any] = spec["components"]["schemas"][name]["properties"]
    return properties


def _types(prop: dict[str, Any]) -> set[str]:
    options = prop.get("anyOf", [prop])
    return {o.get("type", "object") for o in options}


_SPEC_TYPE: dict[object, str] = {int: "integer", str: "string", bool: "boolean"}


def _scalars(annotation: object) -> set[object]:
    """The scalar types in an annotation: ``StrictStr | None`` → {str}."""
    if annotation in _SPEC_TYPE:
        return {annotation}
    if get_origin(annotation) is Annotated:
        return _scalars(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return set().union(*(_scalars(a) for a in get_args(annotation)))
    return set()


@pytest.mark.parametrize(
    ("model", "schema"),
    [
        (PaymentIntentWire, "payment_intent"),
        (ChargeWire, "charge"),
        (RefundWire, "refund"),
        (ErrorWire, "api_errors"),
        (ErrorPaymentIntentWire, "payment_intent"),
        (LastPaymentErrorWire, "api_errors"),
        (NextActionWire, "payment_intent_next_action"),
    ],
)
def test_wire_models_read_only_fields_the_spec_has_with_its_types(
    spec: dict[str, Any], model: type[BaseModel], schema: str
) -> None:
    properties = _schema(spec, schema)
    for name, field in model.model_fields.items():
        if name in NEWER_THAN_SPEC:
            continue
        assert name in properties, f"{model.__name__}.{name} is not in Stripe's {schema}"
        for scalar in _scalars(field.annotation):
            assert _SPEC_TYPE[scalar] in _types(properties[name]), (model.__name__, name)


def test_intent_statuses_are_exactly_the_spec_enum(spec: dict[str, Any]) -> None:
    enum = set(_schema(spec, "payment_intent")["status"]["enum"])
    assert {s.value for s in IntentStatus} == enum


ADAPTER = StripeAdapter("sk_test_spec", base_url="https://stripe.example")
CARD = PaymentSource.card("4242424242424242", 12, 2030, "123", holder_name="A B")


@pytest.mark.parametrize(
    ("request_", "path"),
    [
        (
            AuthorizeRequest(
                amount=Money("1", "EUR"),
                source=CARD,
                reference="r",
                description="d",
                metadata={"k": "v"},
            ),
            "/v1/payment_intents",
        ),
        (
            AuthorizeRequest(
                amount=Money("1", "EUR"), source=PaymentSource.token("pm_x"), reference="r"
            ),
            "/v1/payment_intents",
        ),
        (
            AuthorizeRequest(
                amount=Money("1", "EUR"),
                source=PaymentSource.redirect("ideal"),
                reference="r",
                capture=True,
                return_url="https://shop.example/back",
            ),
            "/v1/payment_intents",
        ),
        (
            CaptureRequest(payment_id="pi_1", amount=Money("1", "EUR")),
            "/v1/payment_intents/{intent}/capture",
        ),
        (VoidRequest(payment_id="pi_1"), "/v1/payment_intents/{intent}/cancel"),
        (
            RefundRequest(
                payment_id="pi_1", amount=Money("1", "EUR"), reason="duplicate", reference="x"
            ),
            "/v1/refunds",
        ),
    ],
)
def test_every_parameter_sent_is_in_the_spec(
    spec: dict[str, Any], request_: OperationRequest, path: str
) -> None:
    body = spec["paths"][path]["post"]["requestBody"]["content"]
    accepted = body["application/x-www-form-urlencoded"]["schema"]["properties"]
    sent = ADAPTER.build_request(request_, idempotency_key="k")
    for name, _ in parse_qsl(sent.content.decode()):
        top = name.split("[", 1)[0]
        assert top in accepted, f"{top} is not a parameter of POST {path}"
