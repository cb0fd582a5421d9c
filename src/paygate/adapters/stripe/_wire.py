"""Stripe wire models: the fields paygate reads, strictly typed; any other field is ignored
(never held: an answer's ``client_secret`` and the like stay out of paygate's objects and errors).

Field names and enum values follow Stripe's published OpenAPI spec (API version 2023-08-16).
Enums are read as plain strings (Stripe adds values); the status table decides what they mean,
and a status it does not know is reported as a schema violation, never guessed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote_plus

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ChargeWire(_Wire):
    id: StrictStr
    object: Literal["charge"]
    amount: StrictInt
    amount_captured: StrictInt
    amount_refunded: StrictInt
    captured: StrictBool
    currency: StrictStr
    status: StrictStr


class NextActionWire(_Wire):
    type: StrictStr
    redirect_to_url: Mapping[str, StrictStr | None] | None = None
    use_stripe_sdk: Mapping[str, Any] | None = None  # opaque: handed to Stripe.js as it is


class LastPaymentErrorWire(_Wire):
    type: StrictStr
    code: StrictStr | None = None
    decline_code: StrictStr | None = None


class PaymentIntentWire(_Wire):
    id: StrictStr
    object: Literal["payment_intent"]
    amount: StrictInt
    # Optional in the spec (Stripe sends both on every PaymentIntent). Absent, they are not
    # read as 0 or as the amount: an absent amount_capturable makes an
    # amount_capturable_updated event OTHER; an absent amount_received is 0 only where no money
    # can have been received yet (before the PaymentIntent succeeded), and a succeeded one
    # without it is a schema violation (the captured figure the integrity check compares).
    amount_capturable: StrictInt | None = None
    amount_received: StrictInt | None = None
    currency: StrictStr
    status: StrictStr
    capture_method: StrictStr
    livemode: StrictBool
    # Optional in the spec. Absent, it is empty: no caller metadata, and no reference, so an
    # authorize answer without it fails the integrity check (the reference asked for is not
    # echoed) instead of matching silently.
    metadata: Mapping[str, StrictStr] = {}
    description: StrictStr | None = None
    # Unix seconds. Always sent (the spec requires it).
    created: StrictInt | None = None
    latest_charge: ChargeWire | StrictStr | None = None
    next_action: NextActionWire | None = None
    last_payment_error: LastPaymentErrorWire | None = None


class SearchResultWire(_Wire):
    """A page of ``GET /v1/payment_intents/search``. ``next_page`` is the cursor to the next
    page (None on the last one)."""

    object: Literal["search_result"]
    data: Sequence[PaymentIntentWire]
    has_more: StrictBool
    next_page: StrictStr | None = None


class RefundWire(_Wire):
    id: StrictStr
    object: Literal["refund"]
    amount: StrictInt
    currency: StrictStr
    # Optional and nullable in the spec (a refund of a charge made without a PaymentIntent
    # has none). A refund answer without it is read as the payment the refund was asked for
    # (the request names it); a refund event without it names no payment.
    payment_intent: StrictStr | None = None
    # Optional and nullable in the spec. An answer without it is a pending refund (Stripe made
    # it, its outcome comes by refund.updated); an event without it is OTHER.
    status: StrictStr | None = None
    metadata: Mapping[str, StrictStr] | None = None


class ErrorPaymentIntentWire(_Wire):
    """The PaymentIntent an error carries: only its id is read, so a shape paygate does not
    otherwise need can never hide the decline code of the error around it."""

    id: StrictStr


class ErrorWire(_Wire):
    type: StrictStr
    code: StrictStr | None = None
    decline_code: StrictStr | None = None
    advice_code: StrictStr | None = None
    # Newer than the pinned API version's spec; read when a card error carries them.
    network_advice_code: StrictStr | None = None
    network_decline_code: StrictStr | None = None
    message: StrictStr | None = None
    param: StrictStr | None = None
    payment_intent: ErrorPaymentIntentWire | None = None


class ErrorEnvelopeWire(_Wire):
    error: ErrorWire


FormValue = str | int | bool | Mapping[str, "FormValue"] | Sequence["FormValue"] | None


def encode_form(params: Mapping[str, FormValue], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding: nested keys in brackets, indexed arrays, None omitted."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        pairs.extend(_encode_value(name, value))
    return pairs


_quote_name = functools.lru_cache(maxsize=512)(quote_plus)  # names repeat: amount, metadata[...]
_needs_no_quoting = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


def form_body(pairs: Sequence[tuple[str, str]]) -> bytes:
    """The pairs as an application/x-www-form-urlencoded body, byte for byte what
    ``urllib.parse.urlencode`` gives, at a fifth of its cost (names are quoted once, and a value
    of safe characters only is not quoted at all). Public API only: ``quote_plus`` is what
    ``urlencode`` applies to each name and value, and it documents the characters it never
    quotes (letters, digits, ``_.-~``), the ones skipped here; a test compares the two."""
    return "&".join(
        [
            _quote_name(name) + "=" + (value if _needs_no_quoting(value) else quote_plus(value))
            for name, value in pairs
        ]
    ).encode()


def _encode_value(name: str, value: FormValue) -> list[tuple[str, str]]:
    # The common types first: a check against the abstract ``Mapping`` is the slowest.
    if value is None:
        return []
    if isinstance(value, str):
        return [(name, value)]
    if isinstance(value, bool):
        return [(name, "true" if value else "false")]
    if isinstance(value, int):
        return [(name, str(value))]
    if isinstance(value, dict | Mapping):
        return encode_form(value, name)
    pairs: list[tuple[str, str]] = []
    for index, item in enumerate(value):
        pairs.extend(_encode_value(f"{name}[{index}]", item))
    return pairs


# -- webhook events ----------------------------------------------------------------------------
# An event's envelope, and the objects its ``data.object`` carries for the event types paygate
# reads. Webhook payloads never expand ids, so a related object is always its id.
class EventDataWire(_Wire):
    object: Mapping[str, Any]


class EventWire(_Wire):
    id: StrictStr
    object: Literal["event"]
    type: StrictStr
    created: StrictInt
    data: EventDataWire
    api_version: StrictStr | None = None
    livemode: StrictBool = False


class EventChargeWire(_Wire):
    id: StrictStr
    object: Literal["charge"]
    payment_intent: StrictStr | None = None


class DisputeWire(_Wire):
    id: StrictStr
    object: Literal["dispute"]
    amount: StrictInt
    currency: StrictStr
    status: StrictStr
    payment_intent: StrictStr | None = None


class EventObjectWire(_Wire):
    """Any other object an event may carry: only what names the payment is read, and loosely,
    since paygate applies such an event to nothing."""

    object: StrictStr
    id: StrictStr | None = None
    payment_intent: Any = None
    metadata: Any = None
    status: Any = None
