"""The adapter protocol, declared capabilities, and helpers every adapter shares."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final, Generic, Protocol, TypeVar

import httpx
from pydantic import BaseModel

from paygate.adapters.failures import (
    Context,
    Failure,
    ProviderError,
    SchemaViolation,
    validate_body,
)
from paygate.errors import DeclineReason, ErrorCode, InvalidRequestError, RetryAdvice
from paygate.models import (
    RECORD_ID_PREFIX,
    AuthorizeRequest,
    Operation,
    OperationRequest,
    RedirectMethod,
    Result,
    WebhookEvent,
    amount_of,
    payment_id_of,
    source_of,
)
from paygate.money import Money, ProviderCurrency

__all__ = [
    "NETWORK_ADVICE",
    "REASON_ADVICE",
    "Adapter",
    "AnswerReader",
    "Capabilities",
    "MetadataLimits",
    "ResponseContext",
    "endpoint",
    "event_amount",
    "http_request",
    "is_true",
    "json_body",
    "network_advice_code",
    "parse_answer",
    "parse_retry_after",
    "request_id_of",
    "require_return_url",
]


@functools.lru_cache(maxsize=1024)
def endpoint(url: str) -> httpx.URL:
    """The parsed URL of one endpoint. httpx parses and checks a URL string on every request it
    builds (about a tenth of an exchange's cost); an adapter's fixed endpoints (authorize,
    refund) repeat on every call, so each is parsed once. A path that names a payment (a
    capture) is parsed as before and soon evicted. ``httpx.URL`` is immutable: sharing is safe."""
    return httpx.URL(url)


def http_request(
    method: str,
    url: httpx.URL,
    headers: Mapping[str, str],
    content: bytes | None = None,
) -> httpx.Request:
    """The request ``httpx.Request(method, url, content=content, headers=headers)`` builds,
    at about a quarter of the cost: the same body, and the same headers in the same order
    (for an empty body, its ``Content-Length: 0`` comes last). ``content`` None: no body, a GET.

    Given ``content``, httpx works out the framing headers itself: it builds the header list
    twice and searches it four times, some 7% of an exchange in process. Here ``Host`` and
    ``Content-Length`` are written where httpx puts them, and the body goes in as the stream
    httpx would make of it. Only httpx's public API is used: the documented ``stream=``
    argument of ``httpx.Request``, the exported ``httpx.ByteStream``, and ``Request.read()``;
    where httpx puts the framing headers is its behaviour, not its API, so
    ``tests/adapters/test_http_request.py`` compares the two requests byte for byte.
    """
    framed = {"Host": url.netloc.decode("ascii"), **headers}
    if content is not None:
        framed["Content-Length"] = str(len(content))
    request = httpx.Request(method, url, headers=framed, stream=httpx.ByteStream(content or b""))
    request.read()  # what httpx does with a body it holds whole: request.content is then set
    return request


def json_body(body: Mapping[str, Any]) -> bytes:
    """A JSON request body, compact, UTF-8, and refusing NaN (not JSON)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


@dataclass(frozen=True, slots=True)
class MetadataLimits:
    """What a provider takes as the caller's metadata on a payment, declared as data.

    ``max_keys`` is the provider's own limit; ``reserved_keys`` are keys the adapter sends
    itself (Stripe's ``reference``), which a caller may not use and which count against it.
    ``forbidden_key_characters`` would break the provider's encoding of a key.
    """

    max_keys: int
    max_key_length: int
    max_value_length: int
    reserved_keys: frozenset[str] = frozenset()
    forbidden_key_characters: str = ""

    def check(self, metadata: Mapping[str, str]) -> None:
        """Refuse metadata the provider would refuse. No message repeats a caller's key or
        value (they are the caller's data)."""
        room = self.max_keys - len(self.reserved_keys)
        if len(metadata) > room:
            raise InvalidRequestError(f"metadata takes at most {room} keys here")
        for key, value in metadata.items():
            if key in self.reserved_keys:
                raise InvalidRequestError(
                    f"metadata key {key!r} is reserved: paygate sends its own value under it"
                )
            if len(key) > self.max_key_length or len(value) > self.max_value_length:
                raise InvalidRequestError(
                    f"metadata keys take at most {self.max_key_length} characters and values "
                    f"at most {self.max_value_length} here"
                )
            if any(char in key for char in self.forbidden_key_characters):
                raise InvalidRequestError(
                    "a metadata key may not contain any of "
                    f"{' '.join(self.forbidden_key_characters)} here"
                )


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider supports, declared as data and checked before any I/O."""

    operations: frozenset[Operation]
    currencies: Mapping[str, ProviderCurrency]
    partial_capture: bool
    # A payment may be captured again after a partial capture (else the first capture ends
    # it); a refund may follow another. The record guards enforce both, before any I/O.
    multiple_captures: bool
    partial_refund: bool
    multiple_refunds: bool
    raw_card_data: bool
    # The provider replays the first response for a repeated Idempotency-Key, so an ambiguous
    # mutating call may be repeated with the same key without acting twice.
    idempotent_replay: bool
    max_idempotency_key_length: int
    # A purchase is captured when it is authorized, and the provider's report of the
    # authorization (a webhook) does not say so again (Adyen without manualCapture): a purchase
    # whose answer was lost and is settled by that report was captured too.
    purchase_captured_at_authorization: bool = False
    # The provider offers no endpoint to read a payment, and its captures and refunds must name
    # their amount: capture, void, refund and retrieve work from paygate's payment record (the
    # gateway fills a full capture or refund's amount in from it, and retrieve answers from it).
    needs_payment_record: bool = False
    # How long the provider replays an Idempotency-Key (Stripe: 24 h). An unknown outcome is
    # settled by repeating the call under its key only within this window; after it, a repeat
    # would be a new call.
    idempotency_window: float = 24 * 3600.0
    max_reference_length: int = 80
    _: KW_ONLY
    # What the provider takes as metadata (authorize, purchase).
    metadata: MetadataLimits
    # The provider's payment ids: one that does not fit is refused before it becomes part of
    # a URL path. ``payment_id_format`` says what fits, for the error message.
    payment_id_pattern: re.Pattern[str]
    payment_id_format: str
    # The largest amount the provider takes, in its minor units on the wire (None: no limit).
    max_amount: int | None = None
    # The smallest amount the provider charges, per currency (authorize and purchase only;
    # captures and refunds of part of a payment may be smaller).
    minimum_charge: Mapping[str, Money] = field(default_factory=dict)
    # Why raw card data is refused, and how to opt in, where the provider takes it only on
    # request (Stripe: an account with raw card data access); said in the refusal.
    raw_card_refusal: str = ""
    # The redirect methods the provider takes (PaymentSource.redirect).
    redirect_methods: frozenset[RedirectMethod] = frozenset()
    # The response header that carries the provider's id of an exchange, on its successes and
    # its errors alike (Stripe: ``Request-Id``; Adyen: ``pspReference``): what the gateway's
    # log lines, events and spans name an attempt by (``request_id``). None: the provider
    # names none. An adapter declares it; it never carries a credential.
    request_id_header: str | None = None

    def check(self, request: OperationRequest) -> None:
        """Refuse, before any I/O, a request this provider cannot carry out."""
        op = request.operation
        from_record = op is Operation.RETRIEVE and self.needs_payment_record
        if op not in self.operations and not from_record:
            raise _unsupported(f"{op.value} is not supported by this provider")
        amount = amount_of(request)
        if amount is not None:
            self._check_amount(amount, charge=isinstance(request, AuthorizeRequest))
        payment_id = payment_id_of(request)
        if (
            payment_id is not None
            and not payment_id.startswith(RECORD_ID_PREFIX)  # paygate's name for it
            and self.payment_id_pattern.fullmatch(payment_id) is None
        ):
            raise InvalidRequestError(f"payment id is not {self.payment_id_format}")
        if isinstance(request, AuthorizeRequest):
            self.metadata.check(request.metadata)
        if op is Operation.CAPTURE and amount is not None and not self.partial_capture:
            raise _unsupported("partial capture is not supported by this provider")
        if op is Operation.REFUND and amount is not None and not self.partial_refund:
            raise _unsupported("partial refunds are not supported by this provider")
        source = source_of(request)
        if source is not None and source.kind == "card" and not self.raw_card_data:
            generic = "raw card data is not accepted by this provider; use a token"
            raise _unsupported(self.raw_card_refusal or generic)
        method = None if source is None else source.method
        if method is not None and method not in self.redirect_methods:
            raise _unsupported(f"{method.value} is not offered by this provider")
        if request.reference is not None and len(request.reference) > self.max_reference_length:
            raise InvalidRequestError(
                f"reference is longer than {self.max_reference_length} characters"
            )
        key = request.idempotency_key
        if key is not None and len(key) > self.max_idempotency_key_length:
            raise InvalidRequestError(
                f"idempotency key is longer than {self.max_idempotency_key_length} characters"
            )

    def _check_amount(self, amount: Money, *, charge: bool) -> None:
        scale = self.currencies.get(amount.currency)
        if scale is None:
            raise _unsupported(f"{amount.currency} is not supported by this provider")
        wire = scale.to_wire(amount)  # InvalidRequestError (amount_invalid) if it cannot be
        if self.max_amount is not None and wire > self.max_amount:
            largest = scale.from_wire(
                self.max_amount - self.max_amount % scale.step, amount.currency
            )
            raise InvalidRequestError(
                f"{amount} is more than this provider takes in one amount ({largest})",
                code=ErrorCode.AMOUNT_INVALID,
            )
        minimum = self.minimum_charge.get(amount.currency) if charge else None
        if minimum is not None and amount < minimum:
            raise InvalidRequestError(
                f"{amount} is less than this provider's minimum charge ({minimum})",
                code=ErrorCode.AMOUNT_INVALID,
            )


def _unsupported(message: str) -> InvalidRequestError:
    return InvalidRequestError(message, code=ErrorCode.UNSUPPORTED)


def require_return_url(request: OperationRequest, default: str | None, provider: str) -> None:
    """Refuse a redirect method with nowhere to send the shopper back to: the provider sends
    them on to their bank, which returns them to this address (the call's, else ``default``)."""
    if (
        isinstance(request, AuthorizeRequest)
        and request.source.method is not None
        and (request.return_url or default) is None
    ):
        raise InvalidRequestError(
            f"{request.source.method.value} sends the shopper to their bank and back: pass "
            "return_url, the page they come back to",
            provider=provider,
        )


@dataclass(frozen=True, slots=True)
class ResponseContext:
    """What the gateway knows about the exchange when it hands a response to the adapter."""

    request: OperationRequest
    idempotency_key: str | None
    extra: Mapping[str, Any] = field(default_factory=dict)


W = TypeVar("W", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class AnswerReader(Generic[W]):
    """How an adapter reads one operation's successful answer: the wire model its body must
    match, and what turns the validated body into a result or a classified failure."""

    wire: type[W]
    read: Callable[[W, httpx.Response, ResponseContext, Context], Result | Failure]


Classify = Callable[[httpx.Response, ResponseContext, Context], Failure]


def parse_answer(
    response: httpx.Response,
    context: ResponseContext,
    base: Context,
    *,
    classify: Classify,
    readers: Mapping[type[OperationRequest], AnswerReader[Any]],
) -> Result | Failure:
    """Every adapter's ``parse_response`` after it has named the exchange (``base``): an error
    status goes to the adapter's ``classify``; a success is validated against the wire model
    of the operation's reader and read by it. An operation with no reader is one the provider
    does not answer."""
    if response.status_code >= 300:
        return classify(response, context, base)
    reader = readers.get(type(context.request))
    if reader is None:
        message = f"{base.provider} has no answer to {context.request.operation.value}"
        return ProviderError(replace(base, message=message), ErrorCode.UNSUPPORTED)
    body = validate_body(reader.wire, response, base)
    if isinstance(body, SchemaViolation):
        return body
    return reader.read(body, response, context, base)


class Adapter(Protocol):
    """A provider translator. Implementations do no I/O."""

    @property
    def name(self) -> str:
        """The provider's name in results, errors and logs (``"stripe"``)."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What the provider supports, checked before any I/O."""
        ...

    def validate(self, request: OperationRequest) -> None:
        """Refuse, before any I/O, a request the provider's own rules refuse and
        ``Capabilities`` cannot express (a character its syntax cannot carry, a field it
        requires): raise ``InvalidRequestError``. The gateway calls it right after
        ``capabilities.check``, before the breaker, the stores and ``build_request``."""
        ...

    def build_request(
        self, request: OperationRequest, *, idempotency_key: str | None
    ) -> httpx.Request:
        """The provider HTTP request for one canonical operation that passed ``validate``."""
        ...

    def parse_response(
        self, response: httpx.Response, context: ResponseContext
    ) -> Result | Failure:
        """A canonical result, or what the failure is (``paygate.adapters.failures``): the
        gateway decides the error class."""
        ...

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: float
    ) -> list[WebhookEvent]:
        """Verify a delivery's signature and read its events.

        ``headers`` are the HTTP headers as received (any casing); ``body`` the raw bytes, never
        re-serialized; ``now`` the current Unix time, for providers that sign a timestamp.
        Raises ``InvalidWebhookError`` for a forged, stale or malformed delivery, and when no
        webhook secret is configured (an unsigned delivery is never trusted).
        """
        ...


def event_amount(read: Callable[[int, str], Money], minor: int, currency: str) -> Money | None:
    """A webhook event's amount, read by the provider's scale (``read``: the adapter's
    ``money``), or None when paygate cannot hold it: a currency the provider does not take here
    (``KeyError``), or a value finer than the currency's unit (``ValueError``: Adyen's CLP
    hundredths that are not whole pesos). paygate sends neither, so such an event is about no
    payment paygate made: the reader makes it ``EventType.OTHER``, applied to nothing, rather
    than refuse the delivery (a refused delivery is sent again for days, and an Adyen batch
    would hold up every other item in it) or read the amount as another one."""
    try:
        return read(minor, currency)
    except (KeyError, ValueError):
        return None


def request_id_of(capabilities: Capabilities, headers: httpx.Headers) -> str | None:
    """The provider's id of an exchange, from the header its adapter declares
    (``Capabilities.request_id_header``); None when it declares none or the answer has none."""
    name = capabilities.request_id_header
    return None if name is None else headers.get(name)


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; None when absent or a date."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def is_true(value: str | None) -> bool:
    """Whether a provider's flag header says true, in any casing and spacing (Stripe's
    ``Stripe-Should-Retry``, Adyen's ``Transient-Error``); absent is false."""
    return value is not None and value.strip().lower() == "true"


# -- decline advice ----------------------------------------------------------------------------
# DeclineReason → RetryAdvice, total: the default advice for a decline when the provider gives
# none of its own. It is about the reason, not the provider, so every adapter shares it. Hard
# declines (lost, stolen, fraud, restricted, refused without a reason) say do not retry, since
# card networks fine merchants who repeat them; temporary conditions say retry later; wrong or
# unusable card data says the customer must update the payment details (or authenticate).
_REASON_ADVICE_GROUPS: Final[tuple[tuple[RetryAdvice, tuple[DeclineReason, ...]], ...]] = (
    (RetryAdvice.DO_NOT_RETRY, (
        DeclineReason.CALL_ISSUER, DeclineReason.DO_NOT_HONOR,
        DeclineReason.DUPLICATE_TRANSACTION, DeclineReason.FRAUD_SUSPECTED,
        DeclineReason.GENERIC, DeclineReason.INVALID_AMOUNT, DeclineReason.LOST_OR_STOLEN,
        DeclineReason.RESTRICTED_CARD,
    )),
    (RetryAdvice.RETRY_LATER, (
        DeclineReason.INSUFFICIENT_FUNDS, DeclineReason.ISSUER_UNAVAILABLE,
        DeclineReason.LIMIT_EXCEEDED, DeclineReason.PROCESSING_ERROR,
    )),
    (RetryAdvice.UPDATE_PAYMENT_DETAILS, (
        DeclineReason.AUTHENTICATION_REQUIRED, DeclineReason.CARD_NOT_SUPPORTED,
        DeclineReason.CURRENCY_NOT_SUPPORTED, DeclineReason.EXPIRED_CARD,
        DeclineReason.INCORRECT_ADDRESS, DeclineReason.INCORRECT_CVC,
        DeclineReason.INCORRECT_NUMBER, DeclineReason.INCORRECT_PIN,
        DeclineReason.INVALID_ACCOUNT, DeclineReason.TEST_MODE,
    )),
    (RetryAdvice.UNKNOWN, (DeclineReason.UNKNOWN,)),
)  # fmt: skip

REASON_ADVICE: Final[Mapping[DeclineReason, RetryAdvice]] = MappingProxyType(
    {reason: advice for advice, reasons in _REASON_ADVICE_GROUPS for reason in reasons}
)

# The card network's advice on a decline (Mastercard's merchant advice codes, which providers
# pass on: Adyen's merchantAdviceCode, Stripe's network_advice_code) → ``RetryAdvice``. It wins
# over the reason's default advice; a code not listed leaves that default.
NETWORK_ADVICE: Final[Mapping[str, RetryAdvice]] = MappingProxyType(
    {
        "01": RetryAdvice.UPDATE_PAYMENT_DETAILS,  # new account information available
        "02": RetryAdvice.RETRY_LATER,  # cannot approve at this time
        "03": RetryAdvice.DO_NOT_RETRY,  # do not try again
        "04": RetryAdvice.UPDATE_PAYMENT_DETAILS,  # token requirements not fulfilled
        "21": RetryAdvice.DO_NOT_RETRY,  # the cardholder cancelled the recurring payment
    }
)


def network_advice_code(value: object) -> str | None:
    """A network advice code as providers send it (``"03"``, or ``"03: Do not try again"``):
    its code alone; None for nothing or no string."""
    if not isinstance(value, str):
        return None
    code = value.partition(":")[0].strip()
    return code or None
