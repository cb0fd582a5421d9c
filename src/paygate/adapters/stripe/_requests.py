"""Stripe requests, sans-IO: the rules ``CAPABILITIES`` cannot express (``validate``) and the
HTTP request of each operation (``build_request``). PaymentIntents (manual capture for
authorize, automatic for purchase), Refunds, retrieve, and find (a PaymentIntent search by the
caller's reference), as form bodies and query strings."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from paygate import __version__
from paygate.adapters.base import endpoint, http_request, require_return_url
from paygate.adapters.stripe._constants import CURRENCIES, PROVIDER, REFERENCE_KEY, SEARCH_LIMIT
from paygate.adapters.stripe._wire import FormValue, encode_form, form_body
from paygate.errors import ErrorCode, InvalidRequestError
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
    CompleteActionRequest,
    FindRequest,
    OperationRequest,
    RefundRequest,
    RetrieveRequest,
    VoidRequest,
)
from paygate.money import Money

__all__ = ["build_request", "validate", "wire_amount"]


def validate(request: OperationRequest) -> None:
    """Stripe's rules that ``CAPABILITIES`` cannot express. A quote inside a quoted search
    value is escaped with a backslash (Stripe's search docs); no escape is documented for
    a backslash itself, so a reference with one cannot be searched for. A redirect method
    needs the call's return_url (Stripe's ``return_url``: this adapter has no default)."""
    require_return_url(request, None, PROVIDER)
    if isinstance(request, FindRequest) and "\\" in request.reference:
        raise InvalidRequestError(
            "Stripe's search syntax documents no escape for a backslash, so a reference "
            "containing one cannot be searched for; nothing was sent",
            code=ErrorCode.UNSUPPORTED,
            provider=PROVIDER,
        )
    if not isinstance(request, AuthorizeRequest) or request.stored_credential is None:
        return
    credential, source = request.stored_credential, request.source
    if credential.initiator == "merchant" and (
        source.card_details is not None or not source.customer
    ):
        # Stripe links a series on the PaymentMethod it stored for a Customer.
        raise InvalidRequestError(
            "Stripe charges a merchant-initiated payment with the PaymentMethod it stored for "
            "a Customer: pass PaymentSource.stored(<pm_...>, customer=<cus_...>)",
            code=ErrorCode.UNSUPPORTED,
            provider=PROVIDER,
        )


def build_request(
    request: OperationRequest,
    *,
    idempotency_key: str | None,
    api_key: SecretStr,
    base_url: str,
    api_version: str,
) -> httpx.Request:
    """The HTTP request for one operation that passed ``validate``. ``base_url`` has no
    trailing slash."""
    headers = {
        "Authorization": f"Bearer {api_key.get_secret_value()}",
        "Stripe-Version": api_version,
        "User-Agent": f"paygate/{__version__}",
    }
    if isinstance(request, RetrieveRequest | FindRequest | CompleteActionRequest):
        # A read: a GET, which Stripe keys by nothing (Idempotency-Key is for POSTs). Completing
        # an action is one: a PaymentIntent confirmed with a return_url moves on by itself once
        # the shopper has authenticated, and is read back.
        path, params = _query(request)
        url = httpx.URL(endpoint(f"{base_url}{path}"), params=tuple(params))
        return http_request("GET", url, headers)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    path, params = _form(request)
    url = endpoint(f"{base_url}{path}")
    return http_request("POST", url, headers, form_body(params))


def wire_amount(amount: Money) -> int:
    """An amount in Stripe's minor units for its currency (a find's amount is read back so)."""
    return CURRENCIES[amount.currency].to_wire(amount)


def _query(
    request: RetrieveRequest | FindRequest | CompleteActionRequest,
) -> tuple[str, list[tuple[str, str]]]:
    if isinstance(request, RetrieveRequest | CompleteActionRequest):
        path = f"/v1/payment_intents/{request.payment_id}"
        return path, encode_form({"expand": ["latest_charge"]})
    params: dict[str, FormValue] = {
        "query": _search_query(request),
        "limit": SEARCH_LIMIT,
        "expand": ["data.latest_charge"],
    }
    return "/v1/payment_intents/search", encode_form(params)


def _form(request: OperationRequest) -> tuple[str, list[tuple[str, str]]]:
    expand: FormValue = ["latest_charge"]
    if isinstance(request, AuthorizeRequest):
        metadata: dict[str, FormValue] = {**request.metadata, REFERENCE_KEY: request.reference}
        params: dict[str, FormValue] = {
            "amount": wire_amount(request.amount),
            "currency": request.amount.currency.lower(),
            "confirm": True,
            "capture_method": "automatic" if request.capture else "manual",
            "payment_method_types": [_method_type(request)],
            "description": request.description,
            "metadata": metadata,
            # With it, a card that needs 3-D Secure answers next_action redirect_to_url.
            "return_url": request.return_url,
            **_stored_credential_params(request),
            "expand": expand,
            **_source_params(request),
        }
        return "/v1/payment_intents", encode_form(params)
    if isinstance(request, CaptureRequest):
        params = {
            "amount_to_capture": wire_amount(request.amount) if request.amount else None,
            "expand": expand,
        }
        return f"/v1/payment_intents/{request.payment_id}/capture", encode_form(params)
    if isinstance(request, VoidRequest):
        path = f"/v1/payment_intents/{request.payment_id}/cancel"
        return path, encode_form({"expand": expand})
    if isinstance(request, RefundRequest):
        params = {
            "payment_intent": request.payment_id,
            "amount": wire_amount(request.amount) if request.amount else None,
            "reason": request.reason,
            "metadata": {REFERENCE_KEY: request.reference} if request.reference else None,
        }
        return "/v1/refunds", encode_form(params)
    raise TypeError(f"not a Stripe operation: {type(request).__name__}")  # pragma: no cover


def _search_query(request: FindRequest) -> str:
    """Stripe search syntax for a find: the reference in metadata, and, when asked, the amount
    (minor units) and its currency, joined by AND. A quote inside a quoted value is escaped
    with a backslash; a reference with a backslash is refused by ``validate``."""
    clauses = [f"metadata['{REFERENCE_KEY}']:{_quoted(request.reference)}"]
    if request.amount is not None:
        clauses.append(f"amount:{wire_amount(request.amount)}")
        clauses.append(f"currency:{_quoted(request.amount.currency.lower())}")
    return " AND ".join(clauses)


def _quoted(value: str) -> str:
    escaped = value.replace("'", "\\'")
    return f"'{escaped}'"


def _stored_credential_params(request: AuthorizeRequest) -> dict[str, FormValue]:
    """Stripe's names for a stored credential: the first payment of a series stores its
    method (``setup_future_usage``: ``off_session`` when the merchant will charge it later,
    ``on_session`` when only the customer will use it again); a merchant-initiated one is
    ``off_session`` (``recurring`` on a schedule, else ``one_off``). Stripe links the series on
    the PaymentMethod: a network transaction id is not sent."""
    credential = request.stored_credential
    if credential is None:
        return {}
    if credential.first:
        later = "on_session" if credential.reason == "one_off" else "off_session"
        return {"setup_future_usage": later}
    if credential.initiator == "merchant":
        scheduled = credential.reason in {"recurring", "installment"}
        return {"off_session": "recurring" if scheduled else "one_off"}
    return {}


def _method_type(request: AuthorizeRequest) -> str:
    """The PaymentMethod type the PaymentIntent takes: a card, or the redirect method."""
    method = request.source.method
    return "card" if method is None else method.value


def _source_params(request: AuthorizeRequest) -> dict[str, FormValue]:
    source = request.source
    if source.method is not None:
        # Stripe creates the PaymentMethod with the PaymentIntent; the bank is chosen on its page.
        return {"payment_method_data": {"type": source.method.value}}
    if source.card_details is None:
        return {"payment_method": source.token_id, "customer": source.customer}
    card = source.card_details
    return {
        "payment_method_data": {
            "type": "card",
            "card": {
                "number": card.number.get_secret_value(),
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "cvc": card.cvc.get_secret_value() if card.cvc else None,
            },
            "billing_details": {"name": card.holder_name} if card.holder_name else None,
        }
    }
