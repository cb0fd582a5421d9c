"""Reading Adyen Checkout request bodies: each helper returns typed values or raises the
``ServiceError`` Adyen answers with before acting (never saved under an idempotency key).
The body has already passed ``_validate`` (the published schema's fields, types, enums and
lengths); what is checked here is what the schema cannot say (cards, amounts, the merchant
account, fields the simulator needs that the spec leaves optional).

A field of the wrong JSON type is a 400 ``702`` (Adyen cannot read the body); a missing
required field is a 422 ``100`` naming it; the card checks are 422 ``101``/``102``/``103``/``129``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from paygate.testing.adyen._cards import (
    APPROVED,
    BY_CODE,
    EXPIRED_CARD,
    REDIRECT,
    STORED,
    TEST_CARDS,
    TRIGGERS,
    Card,
    Outcome,
    brand_of,
    luhn_valid,
)
from paygate.testing.adyen._errors import (
    CONFIGURATION,
    AdyenError,
    not_allowed,
    required,
    unexpected,
)
from paygate.testing.adyen._ledger import Kind, NewModification, NewPayment

_CURRENCY: Final = re.compile(r"[A-Z]{3}")
_MONTH: Final = re.compile(r"0?[1-9]|1[0-2]")
_YEAR: Final = re.compile(r"20[0-9]{2}")
_CARD_TYPES: Final = ("scheme", "card")
_REDIRECT_TYPES: Final = ("ideal",)
_AMOUNT_KINDS: Final = frozenset({Kind.CAPTURE, Kind.REFUND})


# -- fields ----------------------------------------------------------------------------------------
def text(body: Mapping[str, Any], name: str, path: str | None = None) -> str | None:
    """An optional string field; ``path`` is its dotted name in messages."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise unexpected(f"'{path or name}' must be a string")
    return value


def required_text(body: Mapping[str, Any], name: str, path: str | None = None) -> str:
    value = text(body, name, path)
    if not value:
        raise required(path or name)
    return value


def obj(body: Mapping[str, Any], name: str, path: str | None = None) -> Mapping[str, Any] | None:
    """An optional JSON object field."""
    value = body.get(name)
    if value is not None and not isinstance(value, Mapping):
        raise unexpected(f"'{path or name}' must be an object")
    return value


def merchant_account(body: Mapping[str, Any], expected: str) -> None:
    """Every request names the merchant account; another one than the simulator's is 403."""
    account = body.get("merchantAccount")
    if account is None or account == "":
        raise required("merchantAccount")
    if account != expected:
        raise not_allowed()


def amount(body: Mapping[str, Any], minimum: int) -> tuple[int, str]:
    """``amount {value, currency}``: minor units (at least ``minimum``) and an upper-case code."""
    raw = obj(body, "amount")
    if raw is None:
        raise required("amount", is_object=True)
    value, currency = raw.get("value"), raw.get("currency")
    if value is None:
        raise required("amount.value")
    if currency is None or currency == "":
        raise required("amount.currency")
    if isinstance(value, bool) or not isinstance(value, int):
        raise unexpected("'amount.value' must be an integer (minor units)")
    if not isinstance(currency, str):
        raise unexpected("'amount.currency' must be a string")
    if value < minimum:
        raise AdyenError(422, "137", "Invalid amount specified")
    if _CURRENCY.fullmatch(currency) is None:
        raise AdyenError(422, "138", "Unsupported currency specified")
    return value, currency


def metadata(body: Mapping[str, Any]) -> dict[str, str]:
    raw = obj(body, "metadata") or {}
    if not all(isinstance(v, str) for v in raw.values()):
        raise unexpected("'metadata' values must be strings")
    return dict(raw)


# -- requests --------------------------------------------------------------------------------------
def payment(body: Mapping[str, Any]) -> NewPayment:
    """A ``POST /payments`` body, with the outcome its card, holder name or test code asks for."""
    value, currency = amount(body, minimum=0)
    reference = required_text(body, "reference")
    method = obj(body, "paymentMethod")
    if method is None:
        raise required("paymentMethod", is_object=True)
    method_type = required_text(method, "type", "paymentMethod.type")
    if method_type in _REDIRECT_TYPES:
        return _redirect_payment(body, value, currency, reference, method_type)
    if method_type not in _CARD_TYPES:
        raise AdyenError(422, "905", "Payment details are not supported", CONFIGURATION)
    additional = obj(body, "additionalData") or {}
    shopper_reference = text(body, "shopperReference")
    processing_model = text(body, "recurringProcessingModel")
    store = body.get("storePaymentMethod")
    if store is not None and not isinstance(store, bool):
        raise unexpected("'storePaymentMethod' must be a boolean")
    if store and not shopper_reference:
        raise required("shopperReference")
    stored_id = text(method, "storedPaymentMethodId", "paymentMethod.storedPaymentMethodId")
    if stored_id is not None:
        if not shopper_reference:
            raise required("shopperReference")
        stored = STORED.get(stored_id)
        if stored is None:
            raise AdyenError(422, "803", "PaymentDetail not found")
        card, outcome = stored.card, stored.outcome
    else:
        card = _card(method)
        holder = text(method, "holderName", "paymentMethod.holderName")
        outcome = TRIGGERS.get(holder or "", APPROVED)
    outcome = _requested(additional) or outcome
    return_url = text(body, "returnUrl")
    authentication = obj(body, "authenticationData") or {}
    request_data = obj(authentication, "threeDSRequestData") or {}
    native = (
        text(request_data, "nativeThreeDS") == "preferred" and obj(body, "browserInfo") is not None
    )
    if card.redirect:
        outcome = REDIRECT  # 3-D Secure comes before the acquirer's answer
        if not return_url:  # the spec requires it always; a redirect cannot do without it
            raise required("returnUrl")
    elif (card.expiry_year, card.expiry_month) < _this_month():
        outcome = EXPIRED_CARD
    return NewPayment(
        value=value,
        currency=currency,
        reference=reference,
        card=card,
        outcome=outcome,
        manual_capture=_flag(additional, "manualCapture"),
        metadata=metadata(body),
        shopper_reference=shopper_reference,
        stored_payment_method_id=stored_id,
        return_url=return_url,
        native_three_ds=native,
        # A payment in a stored-credential series: the network names it (networkTxReference).
        in_series=processing_model is not None,
    )


def _redirect_payment(
    body: Mapping[str, Any], value: int, currency: str, reference: str, method_type: str
) -> NewPayment:
    """A payment with a redirect method (iDEAL): the shopper is sent to their bank and back
    to ``returnUrl``, which such a payment cannot do without."""
    return_url = text(body, "returnUrl")
    if not return_url:
        raise required("returnUrl")
    return NewPayment(
        value=value,
        currency=currency,
        reference=reference,
        card=None,
        outcome=REDIRECT,
        manual_capture=False,  # the bank moves the money when the shopper approves
        metadata=metadata(body),
        shopper_reference=text(body, "shopperReference"),
        stored_payment_method_id=None,
        return_url=return_url,
        method=method_type,
    )


def action_result(body: Mapping[str, Any]) -> str:
    """``/payments/details``: what the shopper's action gave back, ``details.redirectResult``
    (a redirect) or ``details.threeDSResult`` (3-D Secure 2 in the page)."""
    details = body.get("details")
    if not isinstance(details, Mapping):
        raise required("details", is_object=True)
    result = text(details, "threeDSResult", "details.threeDSResult")
    return result or required_text(details, "redirectResult", "details.redirectResult")


def modification(body: Mapping[str, Any], kind: Kind, payment_psp: str) -> NewModification:
    """A capture, cancel, refund or reversal body; captures and refunds name an amount."""
    value, currency = amount(body, minimum=1) if kind in _AMOUNT_KINDS else (None, None)
    return NewModification(kind, payment_psp, value, currency, text(body, "reference"))


# -- cards -----------------------------------------------------------------------------------------
def _card(method: Mapping[str, Any]) -> Card:
    number = required_text(method, "number", "paymentMethod.number")
    month = required_text(method, "expiryMonth", "paymentMethod.expiryMonth")
    year = required_text(method, "expiryYear", "paymentMethod.expiryYear")
    cvc = text(method, "cvc", "paymentMethod.cvc")
    well_formed = number.isascii() and number.isdigit() and 12 <= len(number) <= 19
    if not (well_formed and luhn_valid(number)):
        raise AdyenError(422, "101", "Invalid card number")
    known = TEST_CARDS.get(number)
    brand = known.brand if known is not None else brand_of(number)
    if brand is None:
        raise AdyenError(422, "102", "Unable to determine variant")
    if _MONTH.fullmatch(month) is None or _YEAR.fullmatch(year) is None:
        raise AdyenError(422, "129", "Expiry Date Invalid")
    if cvc is not None and not (
        cvc.isascii() and cvc.isdigit() and len(cvc) == (4 if brand == "amex" else 3)
    ):
        raise AdyenError(422, "103", "CVC is not the right length")
    if known is not None:
        return replace(known, expiry_month=int(month), expiry_year=int(year))
    return Card(number, brand, int(month), int(year))


def _this_month() -> tuple[int, int]:
    now = datetime.now(UTC)
    return now.year, now.month


def _flag(additional: Mapping[str, Any], name: str) -> bool:
    """An ``additionalData`` switch: the string "true" or "false" (the schema has made every
    ``additionalData`` value a string)."""
    value = additional.get(name, "false")
    if value.lower() not in {"true", "false"}:
        raise unexpected(f'\'additionalData.{name}\' must be "true" or "false"')
    return bool(value.lower() == "true")


def _requested(additional: Mapping[str, Any]) -> Outcome | None:
    """The outcome ``additionalData.RequestedTestAcquirerResponseCode`` forces, if sent."""
    code = additional.get("RequestedTestAcquirerResponseCode")
    if code is None:
        return None
    outcome = BY_CODE.get(code)
    if outcome is None:
        known = ", ".join(sorted(BY_CODE, key=int))
        raise unexpected(
            f"'additionalData.RequestedTestAcquirerResponseCode' must be one of {known}"
        )
    return outcome
