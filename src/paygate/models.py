"""The canonical model: payment sources, operation requests, statuses and results.

Every provider adapter translates to and from these types; nothing provider-specific leaks out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from paygate._redaction import contains_card_number
from paygate.errors import InvalidRequestError
from paygate.money import Money

__all__ = [
    "RECORD_ID_PREFIX",
    "ActionKind",
    "AuthorizeRequest",
    "BrowserInfo",
    "CaptureRequest",
    "CardDetails",
    "CompleteActionRequest",
    "EventType",
    "FindRequest",
    "ModificationReceipt",
    "NextAction",
    "Operation",
    "Payment",
    "PaymentRequest",
    "PaymentSource",
    "PaymentStatus",
    "Refund",
    "RefundRequest",
    "RefundStatus",
    "Resolution",
    "RetrieveRequest",
    "StoredCredential",
    "VoidRequest",
    "WebhookEvent",
    "WebhookOutcome",
]

# Every payment record's id starts so, and no provider's payment id does: a payment the provider
# has not named yet (it awaits the shopper) is named by its record's id.
RECORD_ID_PREFIX: Final = "pr_"

# -- field types -------------------------------------------------------------------------------
# Strings are strict (no bytes, numbers or other objects turned into text), and each kind of
# string has the characters that may travel: what goes in an HTTP header or a URL path is
# printable ASCII; free text may be any Unicode, but never a card number.
_PRINTABLE: Final = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no space
_PRINTABLE_OR_SPACE: Final = re.compile(r"[\x20-\x7e]+")
_SAFE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


_CARD_NUMBER: Final = (
    "holds what looks like a card number, which is never sent or kept outside "
    "PaymentSource.card (the value is not repeated here)"
)


def _no_card_number(value: str) -> str:
    if contains_card_number(value):
        raise ValueError(_CARD_NUMBER)
    return value


def _token(value: str) -> str:
    # No space, not even inside: the value travels in an HTTP header (the Idempotency-Key),
    # where a space at either end is stripped on the way, so two keys that differ only there
    # would be one key at the provider; and keys, like ids, are searched for in logs, where a
    # space splits them. Control characters could forge a header or a log line.
    if _PRINTABLE.fullmatch(value) is None:
        raise ValueError("must be printable ASCII without spaces (letters, digits, punctuation)")
    return value


def _key(value: str) -> str:
    # A key is logged with every call and kept in the stores: never a card number.
    return _no_card_number(_token(value))


def _printable_or_space(value: str) -> str:
    if _PRINTABLE_OR_SPACE.fullmatch(value) is None:
        raise ValueError("must be printable ASCII (letters, digits, punctuation, spaces)")
    return value


def _safe_id(value: str) -> str:
    # It becomes a URL path segment: ".", ".." or "search" would name another endpoint. The
    # provider's own format is checked by its Capabilities; this is the part every one shares.
    if _SAFE_ID.fullmatch(value) is None:
        raise ValueError(
            "must start with a letter or digit and hold only letters, digits and _ . : -"
        )
    return value


def _no_controls(value: str) -> str:
    if _CONTROL.search(value) is not None:
        raise ValueError("must not contain control characters")
    return value


def _metadata(value: object) -> object:
    """The caller's metadata: a mapping of non-empty strings to strings, none of them card
    data. Checked here, not by ``dict[str, str]`` alone, so that no error names a key (a key is
    the caller's data); the provider's limits are in its ``Capabilities``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("must be a mapping of strings to strings")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise ValueError("keys and values must be strings")
        if not key:
            raise ValueError("a key is empty")
        if contains_card_number(key) or contains_card_number(item):
            raise ValueError(f"a key or a value {_CARD_NUMBER}")
    return dict(value)


Reference = Annotated[
    StrictStr,
    Field(min_length=1, max_length=80),
    AfterValidator(_printable_or_space),
    AfterValidator(_no_card_number),
]
IdempotencyKey = Annotated[StrictStr, Field(min_length=1, max_length=64), AfterValidator(_key)]
ProviderId = Annotated[StrictStr, Field(min_length=1, max_length=255), AfterValidator(_safe_id)]
TokenId = Annotated[StrictStr, Field(min_length=1, max_length=255), AfterValidator(_token)]
Description = Annotated[StrictStr, Field(max_length=500), AfterValidator(_no_card_number)]
Metadata = Annotated[dict[str, str], BeforeValidator(_metadata)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=255), AfterValidator(_no_controls)]


def _web_address(value: str) -> str:
    if not value.startswith(("https://", "http://")) or _CONTROL.search(value) or " " in value:
        raise ValueError("must be an http(s) address without spaces or control characters")
    return value


# Where a shopper sent away (3-D Secure, a redirect method) comes back to. Adyen's returnUrl
# takes up to 8000 characters; Stripe's return_url has no published limit.
ReturnUrl = Annotated[
    StrictStr, Field(min_length=10, max_length=8000), AfterValidator(_web_address)
]
HolderName = Annotated[StrictStr, Field(max_length=200), AfterValidator(_no_controls)]


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], **fields: Any) -> M:
    """Build a model; bad input becomes ``InvalidRequestError`` that never echoes the input
    (and does not chain pydantic's error, which holds it)."""
    try:
        return model.model_validate(fields)  # as ``model(**fields)``, one call shorter
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or model.__name__}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
    raise InvalidRequestError(f"invalid {model.__name__}: {problems}")


class Operation(StrEnum):
    AUTHORIZE = "authorize"
    PURCHASE = "purchase"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"
    RETRIEVE = "retrieve"
    FIND = "find"  # a payment by the caller's reference, where the provider can search
    COMPLETE_ACTION = "complete_action"  # a payment the shopper has acted on (3DS, redirect)

    @property
    def is_mutating(self) -> bool:
        return self not in _READS


_READS: Final = frozenset({Operation.RETRIEVE, Operation.FIND})


class PaymentStatus(StrEnum):
    """One status vocabulary for every provider."""

    REQUIRES_ACTION = "requires_action"  # the shopper must authenticate (3DS, redirect)
    PENDING = "pending"  # the provider has it, the outcome comes later (webhook)
    AUTHORIZED = "authorized"
    PARTIALLY_CAPTURED = "partially_captured"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    FAILED = "failed"
    # The provider's answer was lost (OutcomeUnknown): never treat as failed; the gateway's
    # resolve_unknown() settles it with the provider.
    UNKNOWN = "unknown"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CardDetails(_Frozen):
    """Raw card data, for sandbox use only. Every field that identifies the card is a secret."""

    number: SecretStr
    exp_month: StrictInt = Field(ge=1, le=12)
    exp_year: StrictInt = Field(ge=2000, le=2100)
    cvc: SecretStr | None = None
    holder_name: HolderName | None = None

    @field_validator("number")
    @classmethod
    def _luhn(cls, value: SecretStr) -> SecretStr:
        number: object = value.get_secret_value()
        if not isinstance(number, str):
            raise ValueError("card number must be a string of digits")
        digits = number.replace(" ", "").replace("-", "")
        if not digits.isdigit() or not 12 <= len(digits) <= 19:
            raise ValueError("card number must be 12 to 19 digits")
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10:
            raise ValueError("card number fails the Luhn check")
        return SecretStr(digits)

    @field_validator("cvc")
    @classmethod
    def _cvc(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            cvc: object = value.get_secret_value()
            if not isinstance(cvc, str) or not cvc.isdigit() or not 3 <= len(cvc) <= 4:
                raise ValueError("CVC must be 3 or 4 digits")
        return value

    @model_validator(mode="after")
    def _not_expired(self) -> CardDetails:
        today = date.today()
        if (self.exp_year, self.exp_month) < (today.year, today.month):
            raise ValueError("card expiry is in the past")
        return self

    @property
    def last4(self) -> str:
        return self.number.get_secret_value()[-4:]

    def __repr__(self) -> str:
        return f"paygate.CardDetails(****{self.last4}, {self.exp_month:02d}/{self.exp_year})"

    __str__ = __repr__


class RedirectMethod(StrEnum):
    """A payment method that sends the shopper to their bank (or wallet) and back, rather than
    taking card details. The value is the method's name at both providers."""

    IDEAL = "ideal"

    @property
    def currencies(self) -> frozenset[str]:
        """The currencies the method moves (iDEAL: euros, between Dutch bank accounts)."""
        return _REDIRECT_CURRENCIES[self]


_REDIRECT_CURRENCIES: Final[Mapping[RedirectMethod, frozenset[str]]] = MappingProxyType(
    {RedirectMethod.IDEAL: frozenset({"EUR"})}
)


class PaymentSource(_Frozen):
    """What pays: a provider token / payment-method id (preferred), raw test card data, or a
    redirect method the shopper completes at their bank.

    Build one with ``PaymentSource.token("pm_card_visa")``, ``PaymentSource.card(...)`` or
    ``PaymentSource.redirect("ideal")``.
    """

    kind: Literal["token", "card", "redirect"]
    token_id: TokenId | None = None
    customer: Name | None = None
    card_details: CardDetails | None = None
    method: RedirectMethod | None = None

    @model_validator(mode="after")
    def _one_of(self) -> PaymentSource:
        given = {
            "token": self.token_id is not None,
            "card": self.card_details is not None,
            "redirect": self.method is not None,
        }
        if [kind for kind, present in given.items() if present] != [self.kind]:
            raise ValueError("a payment source is one of a token, card details or a redirect")
        if self.kind == "redirect" and self.customer is not None:
            raise ValueError("a redirect method is not stored for a customer")
        return self

    @classmethod
    def token(cls, token_id: str, *, customer: str | None = None) -> PaymentSource:
        """A provider token or stored payment method; ``customer`` is the provider's customer /
        shopper the method is stored for, where the provider needs it (Adyen)."""
        return validated(cls, kind="token", token_id=token_id, customer=customer)

    @classmethod
    def card(
        cls,
        number: str,
        exp_month: int,
        exp_year: int,
        cvc: str | None = None,
        holder_name: str | None = None,
    ) -> PaymentSource:
        details = validated(
            CardDetails,
            number=_secret(number),
            exp_month=exp_month,
            exp_year=exp_year,
            cvc=_secret(cvc) if cvc is not None else None,
            holder_name=holder_name,
        )
        return validated(cls, kind="card", card_details=details)

    @classmethod
    def stored(cls, method_id: str, *, customer: str) -> PaymentSource:
        """A payment method the provider stored for ``customer`` (Stripe: a PaymentMethod of a
        Customer; Adyen: a storedPaymentMethodId of a shopperReference)."""
        return cls.token(method_id, customer=customer)

    @classmethod
    def redirect(cls, method: RedirectMethod | str) -> PaymentSource:
        """A redirect method (``"ideal"``): the payment answers ``requires_action`` with the
        bank's address to send the shopper to, and is completed with ``complete_action`` once
        they are back at the ``return_url``. Taken by ``purchase`` only (the bank moves the
        money at once: there is no authorization to capture later)."""
        return validated(cls, kind="redirect", method=method)

    def fingerprint_parts(self) -> dict[str, object]:
        """What identifies this source in an idempotency fingerprint, without any secret."""
        if self.card_details is not None:
            c = self.card_details
            return {
                "card": c.last4,
                "exp": f"{c.exp_month:02d}/{c.exp_year}",
                "holder": c.holder_name,
            }
        if self.method is not None:
            return {"redirect": self.method.value}
        return {"token": self.token_id, "customer": self.customer}

    def __repr__(self) -> str:
        if self.card_details is not None:
            return f"paygate.PaymentSource.card({self.card_details!r})"
        if self.method is not None:
            return f"paygate.PaymentSource.redirect({self.method.value!r})"
        return f"paygate.PaymentSource.token({self.token_id!r})"

    __str__ = __repr__


def _secret(value: object) -> object:
    """A card field as a secret, so that no validation step holds it in the clear; anything
    but a string is left for the model to refuse."""
    return SecretStr(value) if isinstance(value, str) else value


class BrowserInfo(_Frozen):
    """The shopper's browser, as the issuer's 3-D Secure 2 risk check needs it for a payment
    made in a browser. Given with a payment, Adyen runs 3-D Secure 2 natively (its component
    in your page: a fingerprint, then a challenge if the issuer wants one) instead of
    redirecting; Stripe takes none (Stripe.js collects it)."""

    user_agent: Annotated[StrictStr, Field(min_length=1, max_length=512)]
    accept_header: Annotated[StrictStr, Field(min_length=1, max_length=2048)]
    language: Annotated[StrictStr, Field(min_length=1, max_length=35)]
    color_depth: Annotated[StrictInt, Field(ge=1, le=48)]
    screen_height: Annotated[StrictInt, Field(ge=1, le=100_000)]
    screen_width: Annotated[StrictInt, Field(ge=1, le=100_000)]
    time_zone_offset: Annotated[StrictInt, Field(ge=-840, le=840)]  # minutes from UTC
    java_enabled: bool = False


class StoredCredential(_Frozen):
    """A payment with a stored payment method, as the card networks' stored-credential rules
    name it, so the provider can flag it to the issuer:

    - ``initiator``: ``customer`` (the shopper is in the checkout) or ``merchant`` (charged
      without them: a subscription renewal, an unscheduled top-up).
    - ``reason``: ``one_off`` (a card on file used once), ``recurring`` (a fixed schedule),
      ``installment`` (a fixed number of payments), ``unscheduled`` (no fixed schedule).
    - ``first``: the first payment of a series: the payment method is stored for the later
      ones (always a customer's).
    - ``network_transaction_id``: the card network's id of the series' first payment, for a
      merchant-initiated one whose method the provider did not store (Adyen's
      ``networkTxReference``; Stripe links the series on its PaymentMethod and takes none).
    - ``customer``: the provider's customer or shopper the method is stored for, when
      storing one given as card details (a stored method's is its ``PaymentSource``'s).
    """

    initiator: Literal["customer", "merchant"]
    reason: Literal["one_off", "recurring", "installment", "unscheduled"]
    first: bool = False
    network_transaction_id: Annotated[StrictStr, Field(min_length=1, max_length=100)] | None = None
    customer: Name | None = None

    @model_validator(mode="after")
    def _coherent(self) -> StoredCredential:
        if self.first and self.initiator == "merchant":
            raise ValueError("the first payment of a series is the customer's (initiator)")
        if self.network_transaction_id is not None and self.initiator != "merchant":
            raise ValueError("a network transaction id links a merchant-initiated payment")
        return self


# -- operation requests ------------------------------------------------------------------------
class PaymentRequest(_Frozen):
    """Fields common to every operation."""

    reference: Reference | None = None
    idempotency_key: IdempotencyKey | None = None


class AuthorizeRequest(PaymentRequest):
    """Authorize (``capture=False``) or purchase (``capture=True``) an amount."""

    amount: Money
    source: PaymentSource
    reference: Reference
    capture: bool = False
    description: Description | None = None
    # The provider's limits (how many keys, how long) are in its Capabilities.
    metadata: Metadata = Field(default_factory=dict)
    # Where the shopper comes back to after 3-D Secure or a redirect (else the adapter's own).
    return_url: ReturnUrl | None = None
    stored_credential: StoredCredential | None = None
    browser: BrowserInfo | None = None

    @model_validator(mode="after")
    def _stored_source(self) -> AuthorizeRequest:
        credential = self.stored_credential
        if credential is None:
            return self
        if self.source.kind == "redirect":
            raise ValueError("a redirect method is not a stored credential: the shopper is present")
        if credential.first:
            return self
        if self.source.kind == "card" and credential.network_transaction_id is None:
            raise ValueError(
                "a payment with a stored credential is made with the stored method "
                "(PaymentSource.stored), or with card details and the series' "
                "network_transaction_id"
            )
        return self

    @model_validator(mode="after")
    def _redirect_purchase(self) -> AuthorizeRequest:
        method = self.source.method
        if method is None:
            return self
        if not self.capture:
            raise ValueError(
                f"{method.value} moves the money when the shopper approves it: there is no "
                "authorization to capture later, so it is taken by purchase, not authorize"
            )
        if self.amount.currency not in method.currencies:
            raise ValueError(
                f"{method.value} takes {', '.join(sorted(method.currencies))}, "
                f"not {self.amount.currency}"
            )
        return self

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Money) -> Money:
        if not value.is_positive:
            raise ValueError("the amount must be greater than zero")
        return value

    @property
    def operation(self) -> Operation:
        return Operation.PURCHASE if self.capture else Operation.AUTHORIZE


def _positive_or_none(value: Money | None) -> Money | None:
    if value is not None and not value.is_positive:
        raise ValueError("the amount must be greater than zero")
    return value


class CaptureRequest(PaymentRequest):
    """Capture an authorized payment: all of it (``amount=None``) or part of it."""

    payment_id: ProviderId
    amount: Money | None = None
    operation: Literal[Operation.CAPTURE] = Operation.CAPTURE

    _check_amount = field_validator("amount")(_positive_or_none)


class VoidRequest(PaymentRequest):
    """Release an authorization that was not captured."""

    payment_id: ProviderId
    operation: Literal[Operation.VOID] = Operation.VOID


class RefundRequest(PaymentRequest):
    """Refund a captured payment: all that remains (``amount=None``) or part of it."""

    payment_id: ProviderId
    amount: Money | None = None
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None
    operation: Literal[Operation.REFUND] = Operation.REFUND

    _check_amount = field_validator("amount")(_positive_or_none)


class RetrieveRequest(PaymentRequest):
    """Read a payment's current state from the provider."""

    payment_id: ProviderId
    operation: Literal[Operation.RETRIEVE] = Operation.RETRIEVE


class FindRequest(PaymentRequest):
    """Find a payment by the caller's reference (and amount), newest first. For settling a
    payment whose answer was lost before its id was known."""

    reference: Reference
    amount: Money | None = None
    operation: Literal[Operation.FIND] = Operation.FIND

    _check_amount = field_validator("amount")(_positive_or_none)  # no payment has less


def _details(value: object) -> object:
    """What the front end handed back after the shopper acted: a few named strings (opaque
    blobs: a redirect result, a 3-D Secure result). No error names a key or a value."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("must be a mapping of strings to strings")
    if len(value) > _MAX_DETAILS:
        raise ValueError(f"has more than {_MAX_DETAILS} entries")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str) or not key:
            raise ValueError("keys and values must be strings, keys non-empty")
        if len(key) > 100 or len(item) > _MAX_DETAIL:
            raise ValueError(f"a key is over 100 or a value over {_MAX_DETAIL} characters")
        if _CONTROL.search(key) or _CONTROL.search(item):
            raise ValueError("must not contain control characters")
    return dict(value)


_MAX_DETAILS: Final = 20
_MAX_DETAIL: Final = 100_000


class CompleteActionRequest(PaymentRequest):
    """Go on with a payment that required the shopper to act, once they have: ``details`` are
    what the front end got back (Adyen: ``redirectResult`` or ``threeDSResult``; Stripe needs
    none). ``payment_id`` is the payment's id as paygate returned it. ``amount``, ``capture``
    and ``reference`` are the payment's own, filled in from its record by the gateway."""

    payment_id: ProviderId
    details: Annotated[dict[str, str], BeforeValidator(_details)] = Field(default_factory=dict)
    amount: Money | None = None
    capture: bool = False
    operation: Literal[Operation.COMPLETE_ACTION] = Operation.COMPLETE_ACTION


OperationRequest = (
    AuthorizeRequest
    | CaptureRequest
    | VoidRequest
    | RefundRequest
    | RetrieveRequest
    | FindRequest
    | CompleteActionRequest
)


# What every request may carry, typed, for code that handles any request. (``getattr`` with a
# default would do, but a pydantic model answers a missing attribute slowly, through its
# ``__getattr__`` and an exception: about 2 µs, on every call's path.)
def amount_of(request: OperationRequest) -> Money | None:
    return None if isinstance(request, VoidRequest | RetrieveRequest) else request.amount


def payment_id_of(request: OperationRequest) -> str | None:
    return None if isinstance(request, AuthorizeRequest | FindRequest) else request.payment_id


def source_of(request: OperationRequest) -> PaymentSource | None:
    return request.source if isinstance(request, AuthorizeRequest) else None


# -- results -----------------------------------------------------------------------------------
class ActionKind(StrEnum):
    """What a ``NextAction`` asks of the front end."""

    REDIRECT = "redirect"  # send the shopper to ``redirect_url`` (GET, or POST ``form_data``)
    THREE_DS = "three_ds"  # run the provider's 3-D Secure component with ``token``
    OTHER = "other"  # a kind paygate does not name: ``provider_action`` holds it


class NextAction(_Frozen):
    """What the shopper must do before the payment can proceed (3-D Secure, a redirect).

    ``kind`` is provider-neutral; ``type`` is the provider's own name for the action
    (``redirect``, ``threeDS2``, ``redirect_to_url``, ``use_stripe_sdk``...). A redirect has
    its ``redirect_url``, ``method`` and, for a POST, ``form_data``; a 3-D Secure step its
    ``token`` (and ``subtype``: ``fingerprint`` or ``challenge``) for the provider's front-end
    component. ``provider_action`` is the provider's whole action object, for front-end SDKs
    that take it as it is. After the shopper acted, the front end hands back what the provider
    gave it (``details``) to ``complete_action``.
    """

    type: str
    kind: ActionKind = ActionKind.OTHER
    redirect_url: str | None = None
    method: str | None = None
    form_data: dict[str, str] = Field(default_factory=dict)
    token: str | None = None
    subtype: str | None = None
    provider_action: dict[str, Any] = Field(default_factory=dict)


class Payment(_Frozen):
    """A payment as the provider reports it, in canonical terms.

    ``description`` and ``metadata`` are the ones it was created with (``metadata`` without the
    keys paygate adds itself). ``created_at`` is when it was created: the provider's time where
    its answers carry one (Stripe's ``created``, whole seconds), else when paygate first
    recorded it (Adyen's answers carry none); None on an answer read before anything recorded
    it.
    """

    id: str
    provider: str
    status: PaymentStatus
    amount: Money
    amount_authorized: Money
    amount_captured: Money
    amount_refunded: Money
    reference: str | None = None
    description: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: datetime | None = None
    idempotency_key: str | None = None
    provider_status: str
    next_action: NextAction | None = None
    # The card network's id of this payment, when the provider gives it (Adyen's
    # networkTxReference): what a later merchant-initiated payment of the series names.
    network_transaction_id: str | None = None
    livemode: bool = False
    # A capture or void the provider has received but not confirmed: ``status`` is PENDING
    # until its webhook arrives.
    pending: Operation | None = None
    # True when this answer comes from paygate's payment record, not from the provider (a
    # provider with no endpoint to read a payment: Adyen).
    from_record: bool = False

    def __repr__(self) -> str:
        return (
            f"paygate.Payment(id={self.id!r}, provider={self.provider!r}, "
            f"status={self.status.value}, amount={self.amount}, captured={self.amount_captured}, "
            f"refunded={self.amount_refunded}, reference={self.reference!r})"
        )

    __str__ = __repr__


class Refund(_Frozen):
    """A refund of (part of) a payment."""

    id: str
    provider: str
    payment_id: str
    status: RefundStatus
    amount: Money
    reference: str | None = None
    idempotency_key: str | None = None
    provider_status: str

    def __repr__(self) -> str:
        return (
            f"paygate.Refund(id={self.id!r}, payment_id={self.payment_id!r}, "
            f"status={self.status.value}, amount={self.amount})"
        )

    __str__ = __repr__


class ModificationReceipt(_Frozen):
    """A capture, void or refund the provider has *received* but not confirmed (Adyen answers
    modifications this way; a webhook carries the outcome). Adapters return it; the gateway
    turns it into a pending ``Payment`` or ``Refund`` with the payment record's amounts."""

    provider: str
    payment_id: str
    operation: Operation
    modification_id: str
    amount: Money | None = None
    reference: str | None = None
    idempotency_key: str | None = None
    provider_status: str


Result = Payment | Refund | ModificationReceipt


# -- webhook events ----------------------------------------------------------------------------
class EventType(StrEnum):
    """What a provider's notification says happened to a payment, in canonical terms."""

    AUTHORIZED = "authorized"
    FAILED = "failed"  # the authorization or payment was refused or failed
    CAPTURED = "captured"
    CAPTURE_FAILED = "capture_failed"
    VOIDED = "voided"  # cancelled before capture, by the merchant or by expiry
    VOID_FAILED = "void_failed"
    REFUNDED = "refunded"
    REFUND_FAILED = "refund_failed"  # failed, or reversed after succeeding
    CHARGEBACK = "chargeback"
    CHARGEBACK_REVERSED = "chargeback_reversed"
    OTHER = "other"  # acknowledged, verified, and not about a payment's state: applied to nothing


class WebhookEvent(_Frozen):
    """One verified provider notification, normalized. Adapters produce these; the gateway
    deduplicates them by ``(provider, event_id)`` and applies them to the payment record."""

    provider: str
    event_id: str  # unique per provider event: Stripe's evt_ id; Adyen: psp:eventCode:success
    type: EventType
    provider_type: str  # the provider's own name for it: "payment_intent.succeeded", "CAPTURE"
    payment_id: str | None  # the provider's payment id (Stripe PaymentIntent, Adyen pspReference)
    reference: str | None = None  # the caller's reference, as the provider echoes it
    amount: Money | None = None  # the amount this event is about (one capture, one refund)
    modification_id: str | None = None  # the capture / refund / cancel's own provider id
    occurred_at: datetime | None = None  # when the provider says it happened (UTC)
    reason: str | None = None  # the provider's stated reason for a failure, if any
    # The status the provider gave what the event is about, exactly as sent, known to paygate
    # or not: a Stripe PaymentIntent's, refund's or dispute's ``status``; an Adyen item's
    # ``success``. A value paygate does not know makes the event ``other``, never an outcome.
    provider_status: str | None = None


class WebhookOutcome(_Frozen):
    """What one verified event did: ``applied`` (the payment moved or its figures changed),
    ``duplicate`` (seen before: nothing done), ``unchanged`` (nothing new, or an older event;
    kept in the trail), ``refused`` (the state machine does not allow it; kept in the trail),
    ``ignored`` (not about a payment's state), ``no_record`` (no payment paygate knows of)."""

    event: WebhookEvent
    result: Literal["applied", "duplicate", "unchanged", "refused", "ignored", "no_record"]
    payment: Payment | None = None


class Resolution(_Frozen):
    """What ``resolve_unknown()`` did with one unknown outcome."""

    record_id: str
    operation: Operation
    idempotency_key: str
    settled: bool
    detail: str  # how it was settled, or why it is still unknown
    # Still unknown, and refused by something other than the provider's account of the call
    # (credentials, a conflicting key, a foreign answer), or not checkable automatically: a
    # person should look (``PaymentRecord.unknown[...].escalated`` says the same).
    escalated: bool = False
