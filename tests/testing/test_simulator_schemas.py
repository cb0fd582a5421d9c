"""The simulators' request tables: generated from the providers' published specs and current
(``scripts/build_simulator_schemas.py --check``; skipped without ../shared/providers), and
strict without refusing any request paygate's own adapters build."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from paygate import Money, PaymentSource
from paygate.adapters.adyen import AdyenAdapter
from paygate.adapters.stripe import StripeAdapter
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
    CompleteActionRequest,
    FindRequest,
    OperationRequest,
    RefundRequest,
    RetrieveRequest,
    StoredCredential,
    VoidRequest,
)
from paygate.testing import _validation as v
from paygate.testing.adyen import _schema as adyen_schema
from paygate.testing.adyen._validate import refusal as adyen_refusal
from paygate.testing.stripe import _schema as stripe_schema
from paygate.testing.stripe._form import decode_form
from paygate.testing.stripe._validate import refusal as stripe_refusal

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_simulator_schemas.py"


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_simulator_schemas", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# -- the generated tables -----------------------------------------------------------------------
def test_the_checked_in_tables_are_what_the_specs_give() -> None:
    builder = _builder()
    if not (builder.SHARED / builder.STRIPE_SPEC).is_file():
        pytest.skip(f"the providers' specs are not here: {builder.SHARED}")
    for path, text in builder.rendered(builder.SHARED).items():
        assert path.read_text() == text, f"{path} is stale: run `{builder.REGENERATE}`"
    assert builder.main(["--check"]) == 0


def test_the_check_skips_cleanly_without_the_specs(tmp_path: Path) -> None:
    assert _builder().main(["--check", "--shared", str(tmp_path)]) == 0


def test_the_tables_say_they_are_generated_and_from_what() -> None:
    for module in (stripe_schema, adyen_schema):
        assert module.__doc__ is not None and "GENERATED" in module.__doc__
        assert "scripts/build_simulator_schemas.py" in module.__doc__
    assert "API version 2023-08-16" in (stripe_schema.__doc__ or "")
    assert "CheckoutService-v71.json" in (adyen_schema.__doc__ or "")
    assert set(adyen_schema.REQUESTS) == {"71", "72"}
    assert "PaymentRequest returnUrl" in adyen_schema.NOT_ENFORCED


def test_the_tables_cover_the_endpoints_the_simulators_serve() -> None:
    assert set(stripe_schema.REQUESTS) == {
        "POST /v1/payment_intents",
        "POST /v1/payment_intents/{intent}/capture",
        "POST /v1/payment_intents/{intent}/cancel",
        "POST /v1/refunds",
        "GET /v1/payment_intents/{intent}",
        "GET /v1/payment_intents/search",
        "GET /v1/refunds/{refund}",
        "GET /v1/balance_transactions",
    }
    for tables in adyen_schema.REQUESTS.values():
        assert set(tables) == {
            "/payments",
            "/payments/details",
            *(f"/payments/{{paymentPspReference}}/{m}" for m in ("captures", "cancels")),
            *(f"/payments/{{paymentPspReference}}/{m}" for m in ("refunds", "reversals")),
        }


def test_return_url_is_not_required_on_every_adyen_payment() -> None:
    """The spec requires it; the simulator asks for it only to redirect (NOT_ENFORCED)."""
    for tables in adyen_schema.REQUESTS.values():
        payment = tables["/payments"]
        assert "returnUrl" in payment.fields and "returnUrl" not in payment.required
        assert {"amount", "merchantAccount", "paymentMethod", "reference"} <= set(payment.required)


# -- the walk, on its own --------------------------------------------------------------------------
def test_the_walk_reports_every_problem_in_document_order() -> None:
    node = v.Obj(
        {"a": v.Str(max_length=2), "b": v.Int(bits=32), "c": v.Arr(v.Bool())},
        required=("a",),
        name="Thing",
    )
    found = v.violations(node, {"x": 1, "b": 2**31, "c": [True, "no"], "y": None})
    assert [(f.problem, f.path) for f in found] == [
        (v.Problem.UNKNOWN, ()),
        (v.Problem.TYPE, ("b",)),
        (v.Problem.TYPE, ("c", 1)),
        (v.Problem.MISSING, ("a",)),
    ]
    assert found[0].names == ("x", "y")


def test_form_values_are_read_as_stripe_sends_them() -> None:
    node = v.Obj({"n": v.Int(), "f": v.Bool(), "e": v.Str(enum=("a", "")), "u": v.Int(unset=True)})
    assert v.violations(node, {"n": "-3", "f": "true", "e": "", "u": ""}, form=True) == []
    found = v.violations(node, {"n": "", "f": "1", "e": "b"}, form=True)
    assert [f.problem for f in found] == [v.Problem.EMPTY, v.Problem.TYPE, v.Problem.ENUM]


# -- paygate's own requests pass -------------------------------------------------------------------
STRIPE = StripeAdapter("sk_test_tables", base_url="https://stripe.example")
ADYEN = AdyenAdapter(
    "AQE-tables", merchant_account="TestMerchant", base_url="https://adyen.example/v71"
)
ADYEN_WITH_RETURN = AdyenAdapter(
    "AQE-tables",
    merchant_account="TestMerchant",
    base_url="https://adyen.example/v71",
    return_url="https://shop.example/back",
)
EUR = Money("12.34", "EUR")
STRIPE_CARD = PaymentSource.card("4242424242424242", 12, 2030, "123", holder_name="Jo Tester")
ADYEN_CARD = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="APPROVED")
FIRST = StoredCredential(initiator="customer", reason="recurring", first=True)
RENEWAL = StoredCredential(initiator="merchant", reason="recurring", network_transaction_id="N1")
TOP_UP = StoredCredential(initiator="merchant", reason="unscheduled")
ON_FILE = StoredCredential(initiator="customer", reason="one_off", first=True)


def _authorize(source: PaymentSource, **fields: Any) -> AuthorizeRequest:
    return AuthorizeRequest(amount=EUR, source=source, reference="order-42", **fields)


STRIPE_REQUESTS: list[OperationRequest] = [
    _authorize(PaymentSource.token("pm_card_visa")),
    _authorize(STRIPE_CARD),
    _authorize(PaymentSource.card("4242424242424242", 1, 2031)),
    _authorize(PaymentSource.stored("pm_card_visa", customer="cus_1"), stored_credential=RENEWAL),
    _authorize(PaymentSource.stored("pm_card_visa", customer="cus_1"), stored_credential=TOP_UP),
    _authorize(PaymentSource.token("pm_card_visa", customer="cus_1"), stored_credential=FIRST),
    _authorize(PaymentSource.token("pm_card_visa", customer="cus_1"), stored_credential=ON_FILE),
    _authorize(
        PaymentSource.token("pm_card_visa"),
        description="two shirts",
        metadata={"cart": "c-7", "channel": "web"},
        return_url="https://shop.example/3ds?order=42",
    ),
    _authorize(PaymentSource.token("pm_card_visa"), capture=True),  # purchase
    CaptureRequest(payment_id="pi_123"),
    CaptureRequest(payment_id="pi_123", amount=Money("10.00", "EUR")),
    VoidRequest(payment_id="pi_123"),
    RefundRequest(payment_id="pi_123"),
    RefundRequest(
        payment_id="pi_123", amount=Money("2.00", "EUR"), reason="duplicate", reference="r-1"
    ),
    *(
        RefundRequest(payment_id="pi_123", reason=r)
        for r in ("fraudulent", "requested_by_customer")
    ),
    RetrieveRequest(payment_id="pi_123"),
    FindRequest(reference="order-42"),
    FindRequest(reference="it's order 42", amount=EUR),
    CompleteActionRequest(payment_id="pi_123"),
]

ADYEN_REQUESTS: list[OperationRequest] = [
    _authorize(PaymentSource.token("8415995487234100", customer="shopper-7")),
    _authorize(ADYEN_CARD),
    _authorize(PaymentSource.card("4111111145551142", 3, 2030)),
    _authorize(
        PaymentSource.stored("8415995487234100", customer="shopper-7"), stored_credential=RENEWAL
    ),
    _authorize(
        PaymentSource.stored("8415995487234100", customer="shopper-7"), stored_credential=TOP_UP
    ),
    _authorize(ADYEN_CARD, stored_credential=FIRST.model_copy(update={"customer": "shopper-7"})),
    _authorize(ADYEN_CARD, stored_credential=ON_FILE.model_copy(update={"customer": "shopper-7"})),
    _authorize(
        ADYEN_CARD,
        description="two shirts",
        metadata={"cart": "c-7", "channel": "web"},
        return_url="https://shop.example/3ds?order=42",
    ),
    _authorize(ADYEN_CARD, capture=True),  # purchase
    CaptureRequest(payment_id="ABCDEF0123456789", amount=EUR),
    CaptureRequest(payment_id="ABCDEF0123456789", amount=Money("10.00", "EUR")),
    VoidRequest(payment_id="ABCDEF0123456789"),
    RefundRequest(payment_id="ABCDEF0123456789", amount=EUR),
    *(
        RefundRequest(payment_id="ABCDEF0123456789", amount=EUR, reason=r, reference="r-1")
        for r in ("duplicate", "fraudulent", "requested_by_customer")
    ),
    CompleteActionRequest(payment_id="ABCDEF0123456789", details={"redirectResult": "X6Xt"}),
    CompleteActionRequest(payment_id="ABCDEF0123456789", details={"threeDSResult": "eyJ0"}),
]


def _stripe_endpoint(request: httpx.Request) -> str:
    path = re.sub(r"/pi_[A-Za-z0-9]+", "/{intent}", request.url.path)
    path = re.sub(r"/re_[A-Za-z0-9]+", "/{refund}", path)
    return f"{request.method} {path}"


@pytest.mark.parametrize("operation", STRIPE_REQUESTS, ids=repr)
def test_every_stripe_request_paygate_builds_passes_the_checks(operation: OperationRequest) -> None:
    request = STRIPE.build_request(operation, idempotency_key="k-1")
    text = request.url.query.decode() if request.method == "GET" else request.content.decode()
    endpoint = _stripe_endpoint(request)
    assert endpoint in stripe_schema.REQUESTS
    refused = stripe_refusal(endpoint, decode_form(text))
    assert refused is None, refused.error if refused else None


@pytest.mark.parametrize("adapter", [ADYEN, ADYEN_WITH_RETURN], ids=["plain", "return_url"])
@pytest.mark.parametrize("operation", ADYEN_REQUESTS, ids=repr)
def test_every_adyen_request_paygate_builds_passes_the_checks(
    adapter: AdyenAdapter, operation: OperationRequest
) -> None:
    request = adapter.build_request(operation, idempotency_key="k-1")
    assert request.headers["content-type"] == "application/json"
    path = re.sub(r"^/v71", "", request.url.path)
    endpoint = re.sub(r"/payments/[A-Z0-9]{16}/", "/payments/{paymentPspReference}/", path)
    body = json.loads(request.content)
    for version in adyen_schema.REQUESTS:  # v72's limits too, should paygate move to it
        refused = adyen_refusal(version, endpoint, body)
        assert refused is None, (version, str(refused))
