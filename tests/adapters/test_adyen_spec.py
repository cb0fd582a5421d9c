"""The Adyen adapter against Adyen's published OpenAPI specs (Checkout API v71, Standard
webhooks v1): every field the wire models read and every field the requests send exists there,
with the type paygate assumes, and the enums paygate tabulates are exactly the spec's. Reads
../shared/providers/adyen/ next to the repository; skipped with a reason where that reference
copy is absent (a user's clone)."""

from __future__ import annotations

import json
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import httpx
import pytest
from pydantic import BaseModel

from paygate import Money, PaymentSource
from paygate.adapters.adyen import API_VERSION, AdyenAdapter
from paygate.adapters.adyen._codes import MODIFICATION_PATHS, REFUND_REASONS, ResultCode
from paygate.adapters.adyen._wire import (
    ActionWire,
    AmountWire,
    CancelResponseWire,
    CaptureResponseWire,
    NotificationItemWire,
    NotificationRequestWire,
    NotificationWrapperWire,
    PaymentResponseWire,
    RefundResponseWire,
    ServiceErrorWire,
)
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
    OperationRequest,
    RefundRequest,
    VoidRequest,
)

ADYEN = Path(__file__).resolve().parents[3] / "shared/providers/adyen"
CHECKOUT = ADYEN / "CheckoutService-v71.payments.json"
WEBHOOKS = ADYEN / "Webhooks-v1.json"


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        pytest.skip(f"Adyen's reference spec is not here: {path}")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def checkout() -> dict[str, Any]:
    spec = _load(CHECKOUT)
    assert spec["info"]["version"] == API_VERSION
    return spec


@pytest.fixture(scope="module")
def webhooks() -> dict[str, Any]:
    return _load(WEBHOOKS)


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["components"]["schemas"][name]
    return schema


def _schemas(spec: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = spec["components"]["schemas"]
    return schemas


def _properties(spec: dict[str, Any], name: str) -> dict[str, Any]:
    properties: dict[str, Any] = _schema(spec, name)["properties"]
    return properties


def _spec_types(prop: dict[str, Any]) -> set[str]:
    declared = prop.get("type")
    if declared is None:  # a $ref, oneOf or anyOf: an object
        return {"object"}
    return set(declared) if isinstance(declared, list) else {declared}


_SPEC_TYPE: dict[object, str] = {int: "integer", str: "string", bool: "boolean"}


def _scalars(annotation: object) -> set[object]:
    """The scalar types in an annotation: ``StrictStr | None`` → {str}; models and mappings
    are objects, a Literal its values' type."""
    if annotation in _SPEC_TYPE:
        return {annotation}
    origin = get_origin(annotation)
    if origin is Annotated:
        return _scalars(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return set().union(*(_scalars(a) for a in get_args(annotation)))
    if origin is Literal:
        return {type(value) for value in get_args(annotation)}
    return set()


def _check_model(model: type[BaseModel], properties: dict[str, Any], where: str) -> None:
    for name in model.model_fields:
        assert name in properties, f"{model.__name__}.{name} is not in Adyen's {where}"
        _check_field(model, name, properties[name])


def _check_field(model: type[BaseModel], name: str, spec: dict[str, Any]) -> None:
    annotation = model.model_fields[name].annotation
    for scalar in _scalars(annotation):
        assert _SPEC_TYPE[scalar] in _spec_types(spec), (model.__name__, name)
    if not _scalars(annotation):
        assert _spec_types(spec) & {"object", "array"}, (model.__name__, name)


@pytest.mark.parametrize(
    ("model", "schema"),
    [
        (PaymentResponseWire, "PaymentResponse"),
        (PaymentResponseWire, "PaymentDetailsResponse"),  # complete_action's answer
        (AmountWire, "Amount"),
        (CaptureResponseWire, "PaymentCaptureResponse"),
        (CancelResponseWire, "PaymentCancelResponse"),
        (RefundResponseWire, "PaymentRefundResponse"),
        (ServiceErrorWire, "ServiceError"),
    ],
)
def test_checkout_wire_models_read_only_fields_the_spec_has(
    checkout: dict[str, Any], model: type[BaseModel], schema: str
) -> None:
    _check_model(model, _properties(checkout, schema), schema)


def test_every_field_the_action_model_reads_is_an_action_variants(
    checkout: dict[str, Any],
) -> None:
    """Every variant has a ``type``; each other field read (a redirect's ``url``, ``method``
    and ``data``, a 3-D Secure 2 step's ``token`` and ``subtype``) is some variant's, of the
    type read, and optional (a variant without it is read too)."""
    variants = _properties(checkout, "PaymentResponse")["action"]["oneOf"]
    assert variants
    schemas = {v["$ref"].rsplit("/", 1)[-1]: _properties(checkout, v["$ref"].rsplit("/", 1)[-1])
               for v in variants}  # fmt: skip
    assert all("type" in properties for properties in schemas.values())
    for name in ActionWire.model_fields:
        having = [properties[name] for properties in schemas.values() if name in properties]
        assert having, f"ActionWire.{name} is in no action variant"
        for spec in having:
            _check_field(ActionWire, name, spec)
    assert {"CheckoutRedirectAction", "CheckoutThreeDS2Action"} <= set(schemas)
    assert {"url", "method", "data"} <= set(schemas["CheckoutRedirectAction"])
    assert {"token", "subtype"} <= set(schemas["CheckoutThreeDS2Action"])


def test_result_codes_are_exactly_the_spec_enum(checkout: dict[str, Any]) -> None:
    enum = set(_properties(checkout, "PaymentResponse")["resultCode"]["enum"])
    assert {code.value for code in ResultCode} == enum


@pytest.mark.parametrize(
    "schema", ["PaymentCaptureResponse", "PaymentCancelResponse", "PaymentRefundResponse"]
)
def test_a_modification_is_only_ever_received(checkout: dict[str, Any], schema: str) -> None:
    assert _properties(checkout, schema)["status"]["enum"] == ["received"]
    assert {"paymentPspReference", "pspReference", "status"} <= set(
        _schema(checkout, schema)["required"]
    )


@pytest.mark.parametrize(
    ("model", "schema"),
    [
        (NotificationRequestWire, "NotificationRequest"),
        (NotificationWrapperWire, "NotificationRequestItemWrapper"),
        (NotificationItemWire, "NotificationRequestItem"),
        (AmountWire, "Amount"),
    ],
)
def test_webhook_wire_models_read_only_fields_the_spec_has(
    webhooks: dict[str, Any], model: type[BaseModel], schema: str
) -> None:
    _check_model(model, _properties(webhooks, schema), schema)


def test_the_signature_and_the_cancel_or_refund_action_are_additional_data(
    webhooks: dict[str, Any],
) -> None:
    bags = [name for name in _schemas(webhooks) if name.endswith("AdditionalData")]
    assert "CaptureAdditionalData" in bags and "RefundAdditionalData" in bags
    for schema in ("Authorisation", "Capture", "Cancellation", "Refund", "CancelOrRefund"):
        name = next(b for b in bags if b.startswith(schema) and "Failed" not in b)
        assert "hmacSignature" in _properties(webhooks, name), name
    assert "modification.action" in _properties(webhooks, "CancelOrRefundAdditionalData")


# -- requests ----------------------------------------------------------------------------------
ADAPTER = AdyenAdapter(
    "test_key", merchant_account="TestMerchant", return_url="https://shop.example/return"
)
CARD = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="A B")
TOKEN = PaymentSource.token("8415995487234100", customer="shopper-7")
IDEAL = PaymentSource.redirect("ideal")
PAYMENTS = "/payments"


@pytest.mark.parametrize(
    ("request_", "path", "schema"),
    [
        (
            AuthorizeRequest(
                amount=Money("1", "EUR"), source=CARD, reference="r", metadata={"k": "v"}
            ),
            PAYMENTS,
            "PaymentRequest",
        ),
        (
            AuthorizeRequest(amount=Money("1", "EUR"), source=TOKEN, reference="r", capture=True),
            PAYMENTS,
            "PaymentRequest",
        ),
        (
            AuthorizeRequest(amount=Money("1", "EUR"), source=IDEAL, reference="r", capture=True),
            PAYMENTS,
            "PaymentRequest",
        ),
        (
            CaptureRequest(payment_id="PSP1", amount=Money("1", "EUR"), reference="c"),
            "/payments/{paymentPspReference}/captures",
            "PaymentCaptureRequest",
        ),
        (
            VoidRequest(payment_id="PSP1", reference="v"),
            "/payments/{paymentPspReference}/cancels",
            "PaymentCancelRequest",
        ),
        (
            RefundRequest(
                payment_id="PSP1", amount=Money("1", "EUR"), reason="duplicate", reference="x"
            ),
            "/payments/{paymentPspReference}/refunds",
            "PaymentRefundRequest",
        ),
    ],
)
def test_every_field_sent_is_in_the_spec_and_every_required_one_is_sent(
    checkout: dict[str, Any], request_: OperationRequest, path: str, schema: str
) -> None:
    operation = checkout["paths"][path]["post"]
    content = operation["requestBody"]["content"]["application/json"]["schema"]
    assert content["$ref"].rsplit("/", 1)[-1] == schema
    properties = _properties(checkout, schema)
    sent = json.loads(ADAPTER.build_request(request_, idempotency_key="k").content)
    assert set(sent) <= set(properties), f"not fields of POST {path}: {set(sent) - set(properties)}"
    assert set(_schema(checkout, schema).get("required", [])) <= set(sent)
    for name, value in sent.items():
        expected = _spec_types(properties[name])
        if isinstance(value, dict):
            assert "object" in expected, name
        else:
            assert _SPEC_TYPE[type(value)] in expected, name
        enum = properties[name].get("enum")
        if enum is not None:
            assert value in enum, (name, value)
    if "amount" in sent:
        assert set(sent["amount"]) == set(_schema(checkout, "Amount")["required"])
    if "paymentMethod" in sent:
        details = "IdealDetails" if sent["paymentMethod"]["type"] == "ideal" else "CardDetails"
        card = _properties(checkout, details)
        assert set(sent["paymentMethod"]) <= set(card)
        assert sent["paymentMethod"]["type"] in card["type"]["enum"]
        assert all(isinstance(v, str) for v in sent["paymentMethod"].values())
    for bag in ("metadata", "additionalData"):
        if bag in sent:
            assert properties[bag]["additionalProperties"] == {"type": "string"}
            assert all(isinstance(v, str) for v in sent[bag].values())


def test_every_endpoint_takes_an_idempotency_key_and_answers_as_expected(
    checkout: dict[str, Any],
) -> None:
    paths = {PAYMENTS: "200"} | {
        f"/payments/{{paymentPspReference}}/{segment}": "201"
        for segment in MODIFICATION_PATHS.values()
    }
    for path, success in paths.items():
        operation = checkout["paths"][path]["post"]
        parameters = [p.get("$ref", p.get("name")) for p in operation["parameters"]]
        assert "#/components/parameters/Idempotency-Key" in parameters, path
        assert success in operation["responses"], path


def test_refund_reasons_are_the_spec_enum(checkout: dict[str, Any]) -> None:
    enum = set(_properties(checkout, "PaymentRefundRequest")["merchantRefundReason"]["enum"])
    assert set(REFUND_REASONS.values()) <= enum


def test_the_request_url_is_the_spec_server_plus_the_path(checkout: dict[str, Any]) -> None:
    server = checkout["servers"][0]["url"]
    default = AdyenAdapter("test_key", merchant_account="M")
    request = default.build_request(
        CaptureRequest(payment_id="PSP1", amount=Money("1", "EUR")), idempotency_key="k"
    )
    assert request.url == httpx.URL(f"{server}/payments/PSP1/captures")
