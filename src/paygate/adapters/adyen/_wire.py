"""Adyen wire models: the fields paygate reads, strictly typed; any other field is ignored
(never held: an answer's ``client_secret`` and the like stay out of paygate's objects and errors).

Field names follow Adyen's published OpenAPI specs: Checkout API v71 (``PaymentResponse``,
``ServiceError``, the capture / cancel / refund responses) and Standard webhooks v1
(``NotificationRequest``). ``resultCode`` and ``eventCode`` are read as plain strings: the
adapter's tables decide what they mean, and a result code they do not know is reported as a
schema violation, never guessed. A modification answer's ``status`` is the one value the spec
allows, ``received``; anything else breaks the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr

__all__ = [
    "ActionWire",
    "AmountWire",
    "CancelResponseWire",
    "CaptureResponseWire",
    "NotificationItemWire",
    "NotificationRequestWire",
    "NotificationWrapperWire",
    "PaymentResponseWire",
    "RefundResponseWire",
    "ServiceErrorWire",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AmountWire(_Wire):
    """``Amount``: integer minor units by Adyen's scale, upper-case ISO currency code."""

    value: StrictInt
    currency: StrictStr


# -- Checkout API ------------------------------------------------------------------------------
class ActionWire(BaseModel):
    """What the shopper must do (``CheckoutRedirectAction``, ``CheckoutThreeDS2Action``, ...):
    every variant has a ``type``; most have a ``url``. A redirect may be a POST of ``data``; a
    3-D Secure 2 step has a ``token`` for the front-end component and a ``subtype``
    (``fingerprint`` or ``challenge``). Kept whole (``extra="allow"``): front-end components
    take the action object as Adyen sent it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: StrictStr
    url: StrictStr | None = None
    method: StrictStr | None = None
    data: Mapping[str, Any] | None = None  # form fields, strings in practice
    token: StrictStr | None = None
    subtype: StrictStr | None = None


class PaymentResponseWire(_Wire):
    """``PaymentResponse`` of ``POST /payments``. Nothing is required by the spec; paygate
    needs ``resultCode`` always and ``pspReference`` whenever it reports a payment."""

    resultCode: StrictStr
    pspReference: StrictStr | None = None
    merchantReference: StrictStr | None = None
    amount: AmountWire | None = None  # the authorised amount; absent on some result codes
    refusalReason: StrictStr | None = None
    refusalReasonCode: StrictStr | None = None
    action: ActionWire | None = None
    # Values are strings in the spec; only merchantAdviceCode is read, so nothing else in this
    # open-ended bag can break the payment it rides on.
    additionalData: Mapping[str, Any] | None = None


class _ModificationWire(_Wire):
    merchantAccount: StrictStr
    paymentPspReference: StrictStr
    pspReference: StrictStr
    status: Literal["received"]
    reference: StrictStr | None = None


class CaptureResponseWire(_ModificationWire):
    """``PaymentCaptureResponse`` (HTTP 201)."""

    amount: AmountWire


class CancelResponseWire(_ModificationWire):
    """``PaymentCancelResponse`` (HTTP 201)."""


class RefundResponseWire(_ModificationWire):
    """``PaymentRefundResponse`` (HTTP 201)."""

    amount: AmountWire
    merchantRefundReason: StrictStr | None = None


class ServiceErrorWire(_Wire):
    """``ServiceError``: every non-2xx answer with a body Adyen wrote. ``errorCode`` is a
    string ("010", "704"); nothing is required by the spec."""

    status: StrictInt | None = None
    errorCode: StrictStr | None = None
    errorType: StrictStr | None = None
    message: StrictStr | None = None
    pspReference: StrictStr | None = None


# -- Standard webhooks -------------------------------------------------------------------------
class NotificationWrapperWire(_Wire):
    """``NotificationRequestItemWrapper``. The item stays a raw mapping until its signature
    is verified: the signed fields are read exactly as sent."""

    NotificationRequestItem: Mapping[str, Any]


class NotificationRequestWire(_Wire):
    """``NotificationRequest``: one delivery, one or more items, each signed on its own."""

    live: StrictStr | None = None
    notificationItems: Sequence[NotificationWrapperWire]


class NotificationItemWire(_Wire):
    """``NotificationRequestItem``, read after its HMAC signature has been verified."""

    pspReference: StrictStr
    originalReference: StrictStr | None = None
    merchantAccountCode: StrictStr
    merchantReference: StrictStr | None = None
    eventCode: StrictStr
    eventDate: StrictStr | None = None
    success: StrictStr
    amount: AmountWire | None = None
    reason: StrictStr | None = None
    additionalData: Mapping[str, Any] | None = None
