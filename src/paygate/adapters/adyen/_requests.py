"""Adyen requests, sans-IO: the rules ``CAPABILITIES`` cannot express (``validate``) and the
HTTP request of each operation (``build_request``): ``/payments`` for authorize and purchase, and
the modifications ``/captures``, ``/cancels`` and ``/refunds``, all JSON bodies. Adyen offers no
endpoint to read a payment, so retrieve has no request.

The caller's description is not sent: Adyen's ``PaymentRequest`` has no field for it. The
nearest, ``shopperStatement``, is the text printed on the shopper's bank statement (about 22
characters, a restricted alphabet), which an internal description must not silently become.
``metadata`` is the caller's own, sent as given; Adyen's limits on it (20 keys, keys of 20
characters, values of 80) are declared in ``CAPABILITIES`` and checked before any I/O.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

import httpx
from pydantic import SecretStr

from paygate import __version__
from paygate.adapters.adyen._codes import MODIFICATION_PATHS, REFUND_REASONS
from paygate.adapters.adyen._constants import CURRENCIES, PROVIDER
from paygate.adapters.base import endpoint, http_request, json_body, require_return_url
from paygate.errors import ErrorCode, InvalidRequestError
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
    CompleteActionRequest,
    OperationRequest,
    RefundRequest,
    VoidRequest,
)
from paygate.money import Money

__all__ = ["build_request", "validate"]

JsonObject = dict[str, Any]

_SHOPPER_REFERENCE_MIN: Final = 3  # the spec's minLength for shopperReference


def validate(request: OperationRequest, *, return_url: str | None = None) -> None:
    """Adyen's rules that ``CAPABILITIES`` cannot express: a stored payment method is
    charged only with the shopper it was stored for (``shopperReference``, of 3 characters
    or more; ``PaymentSource`` already holds a customer to 255), a payment method is
    stored (the first of a series) for a shopper too, and a redirect method has a
    ``returnUrl`` (the call's, else the adapter's ``return_url``)."""
    require_return_url(request, return_url, PROVIDER)
    if not isinstance(request, AuthorizeRequest):
        return
    credential = request.stored_credential
    if credential is not None and credential.first:
        shopper = request.source.customer or credential.customer
        if shopper is None or len(shopper) < _SHOPPER_REFERENCE_MIN:
            raise InvalidRequestError(
                "Adyen stores a payment method for a shopper: pass StoredCredential(..., "
                "customer=<shopperReference>, 3 characters or more)",
                provider=PROVIDER,
            )
    if request.source.kind != "token":
        return
    customer = request.source.customer
    if customer is None or len(customer) < _SHOPPER_REFERENCE_MIN:
        raise InvalidRequestError(
            "Adyen charges a stored payment method only for the shopper it was stored for: "
            "pass PaymentSource.token(..., customer=<shopperReference>, 3 characters or more)",
            provider=PROVIDER,
        )


def build_request(
    request: OperationRequest,
    *,
    idempotency_key: str | None,
    api_key: SecretStr,
    base_url: str,
    merchant_account: str,
    return_url: str | None,
) -> httpx.Request:
    """The HTTP request for one operation that passed ``validate``, made for
    ``merchant_account``; ``return_url`` is sent as ``returnUrl`` on ``/payments`` when given.
    ``base_url`` has no trailing slash."""
    path, body = _endpoint(request, merchant_account, return_url)
    headers = {
        "X-API-Key": api_key.get_secret_value(),
        "Content-Type": "application/json",
        "User-Agent": f"paygate/{__version__}",
    }
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    url = endpoint(f"{base_url}{path}")
    return http_request("POST", url, headers, json_body(body))


def _endpoint(
    request: OperationRequest, merchant_account: str, return_url: str | None
) -> tuple[str, JsonObject]:
    if isinstance(request, AuthorizeRequest):
        return "/payments", _payment_body(request, merchant_account, return_url)
    if isinstance(request, CompleteActionRequest):
        # What the front end got back (redirectResult, threeDSResult...), as Adyen gave it.
        return "/payments/details", {"details": dict(request.details)}
    if isinstance(request, CaptureRequest | VoidRequest | RefundRequest):
        path = f"/payments/{request.payment_id}/{MODIFICATION_PATHS[request.operation]}"
        body: JsonObject = {
            "merchantAccount": merchant_account,
            "reference": request.reference,
        }
        if isinstance(request, CaptureRequest | RefundRequest):
            body["amount"] = _amount_body(_required_amount(request))
        if isinstance(request, RefundRequest) and request.reason is not None:
            body["merchantRefundReason"] = REFUND_REASONS[request.reason]
        return path, _compact(body)
    raise InvalidRequestError(
        "Adyen offers no endpoint to read a payment; the gateway answers retrieve from its "
        "payment record",
        code=ErrorCode.UNSUPPORTED,
        provider=PROVIDER,
    )


def _payment_body(
    request: AuthorizeRequest, merchant_account: str, return_url: str | None
) -> JsonObject:
    body: JsonObject = {
        "merchantAccount": merchant_account,
        "amount": _amount_body(request.amount),
        "reference": request.reference,  # echoed as merchantReference, in webhooks too
        **_source_fields(request),
        "metadata": dict(request.metadata) or None,
        "returnUrl": request.return_url or return_url,  # the call's own, else the adapter's
        **_stored_credential_fields(request),
        **_native_three_ds_fields(request, request.return_url or return_url),
    }
    additional: JsonObject = {}
    if not request.capture:
        # Per payment, whatever the merchant account's capture delay is set to.
        additional["manualCapture"] = "true"
    credential = request.stored_credential
    if credential is not None and credential.network_transaction_id is not None:
        additional["networkTxReference"] = credential.network_transaction_id
    if additional:
        body["additionalData"] = additional
    return _compact(body)


def _compact(body: JsonObject) -> JsonObject:
    return {key: value for key, value in body.items() if value is not None}


def _amount_body(amount: Money) -> JsonObject:
    scale = CURRENCIES.get(amount.currency)
    if scale is None:
        raise InvalidRequestError(
            f"{amount.currency} is not supported by Adyen here",
            code=ErrorCode.UNSUPPORTED,
            provider=PROVIDER,
        )
    try:
        value = scale.to_wire(amount)
    except ValueError as exc:
        raise InvalidRequestError(
            str(exc), code=ErrorCode.AMOUNT_INVALID, provider=PROVIDER
        ) from None
    return {"value": value, "currency": str(amount.currency)}


def _required_amount(request: CaptureRequest | RefundRequest) -> Money:
    if request.amount is None:
        raise InvalidRequestError(
            f"Adyen needs the amount of every {request.operation.value}: fill it in from the "
            "payment record before building the request",
            provider=PROVIDER,
        )
    return request.amount


def _source_fields(request: AuthorizeRequest) -> JsonObject:
    source = request.source
    if source.method is not None:
        # IdealDetails: the bank is chosen on the page the shopper is sent to.
        return {"paymentMethod": {"type": source.method.value}}
    card = source.card_details
    if card is not None:
        method: JsonObject = {
            "type": "scheme",
            "number": card.number.get_secret_value(),
            "expiryMonth": f"{card.exp_month:02d}",
            "expiryYear": f"{card.exp_year:04d}",
            "cvc": card.cvc.get_secret_value() if card.cvc is not None else None,
            "holderName": card.holder_name,
        }
        return {"paymentMethod": _compact(method)}
    return {
        "paymentMethod": {"type": "scheme", "storedPaymentMethodId": source.token_id},
        "shopperReference": source.customer,  # required and checked by validate
        # Without a stored credential: a returning shopper's card on file, charged without
        # its details being entered again (Adyen's ContAuth interaction, CardOnFile model).
        "shopperInteraction": "ContAuth",
        "recurringProcessingModel": "CardOnFile",
    }


def _native_three_ds_fields(request: AuthorizeRequest, return_url: str | None) -> JsonObject:
    """With the shopper's browser: 3-D Secure 2 in the page (``nativeThreeDS: preferred``), for
    a web channel, with the ``browserInfo`` the issuer's risk check reads and the ``origin`` of
    the page the component runs in (the return URL's)."""
    browser = request.browser
    if browser is None:
        return {}
    fields: JsonObject = {
        "channel": "Web",
        "browserInfo": {
            "userAgent": browser.user_agent,
            "acceptHeader": browser.accept_header,
            "language": browser.language,
            "colorDepth": browser.color_depth,
            "screenHeight": browser.screen_height,
            "screenWidth": browser.screen_width,
            "timeZoneOffset": browser.time_zone_offset,
            "javaEnabled": browser.java_enabled,
        },
        "authenticationData": {"threeDSRequestData": {"nativeThreeDS": "preferred"}},
    }
    if return_url is not None:
        url = httpx.URL(return_url)
        port = f":{url.port}" if url.port is not None else ""
        fields["origin"] = f"{url.scheme}://{url.host}{port}"
    return fields


# A stored credential's reason → Adyen's recurringProcessingModel (the spec's enum has no
# installments: a fixed series is a subscription to the networks).
_PROCESSING_MODELS: Final = MappingProxyType(
    {
        "one_off": "CardOnFile",
        "recurring": "Subscription",
        "installment": "Subscription",
        "unscheduled": "UnscheduledCardOnFile",
    }
)


def _stored_credential_fields(request: AuthorizeRequest) -> JsonObject:
    """Adyen's names for a stored credential: who initiated it (``shopperInteraction``
    Ecommerce or ContAuth), why (``recurringProcessingModel``), storing the method on the
    first of a series (``storePaymentMethod``, for the ``shopperReference``), and the
    network's id of the series (``additionalData.networkTxReference``) for a method Adyen did
    not store."""
    credential = request.stored_credential
    if credential is None:
        return {}
    fields: JsonObject = {
        "shopperInteraction": "ContAuth" if credential.initiator == "merchant" else "Ecommerce",
        "recurringProcessingModel": _PROCESSING_MODELS[credential.reason],
    }
    if credential.first:
        fields["storePaymentMethod"] = True
        fields["shopperReference"] = request.source.customer or credential.customer
    return fields
