"""The Stripe simulator's HTTP face, plugged into the neutral server as its ``Provider``:
API-key auth, routes, parameter checks (before execution, never saved under a key: first
against the published spec's parameters, ``_validate``, then the simulator's own), and
Stripe's answers, errors and headers. PaymentIntent search reads its query with
``_stripe_search``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from paygate.testing._dispatch import Admitted
from paygate.testing._idempotency import Verdict
from paygate.testing._records import Headers, RecordedRequest, Reply, json_reply
from paygate.testing._settlement import SettlementFaults
from paygate.testing.stripe import _params as read
from paygate.testing.stripe import _search as search
from paygate.testing.stripe import _settlement as settlement
from paygate.testing.stripe._errors import (
    API_ERROR,
    IDEMPOTENCY_ERROR,
    INVALID_REQUEST,
    StripeError,
    invalid,
    missing,
)
from paygate.testing.stripe._form import decode_form
from paygate.testing.stripe._ledger import Ledger, NewIntent, NewRefund, new_id
from paygate.testing.stripe._validate import refusal
from paygate.testing.stripe._webhooks import StripeOutbox

_TEST_KEYS: Final = ("sk_test_", "rk_test_")
_LIVE_KEYS: Final = ("sk_live_", "rk_live_")
_MAX_IDEMPOTENCY_KEY: Final = 255
_FORM: Final = "application/x-www-form-urlencoded"

# The spec marks this enum x-stripeBypassValidation, so its table does not enforce it (Stripe
# takes values beyond such lists elsewhere); Stripe refuses any other cancellation reason.
_CANCELLATION_REASONS: Final = ("abandoned", "duplicate", "fraudulent", "requested_by_customer")
_SEARCH_URL: Final = "/v1/payment_intents/search"
_BALANCE_URL: Final = "/v1/balance_transactions"
_WINDOW: Final = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
_DEFAULT_LIMIT: Final = 10
_MAX_LIMIT: Final = 100

Result = Callable[[], dict[str, Any]]  # runs the operation, returns the object to answer with
Operation = Callable[[Mapping[str, Any], str], Result]


class StripeApi:
    """Stripe's v1 PaymentIntents and Refunds, over the simulator's ``Ledger``."""

    def __init__(self, outbox: StripeOutbox) -> None:
        self.ledger = Ledger(outbox)
        # Discrepancies the balance transactions listing settles with (``inject_settlement``).
        self.settlement_faults: SettlementFaults | None = None
        # (method, path, the operation); the method and the spec's path name the parameters
        # the endpoint takes in ``_schema.REQUESTS``, checked before the operation reads them.
        intent = "/v1/payment_intents/{intent}"
        routes: tuple[tuple[str, str, Operation], ...] = (
            ("POST", "/v1/payment_intents", self._create_intent),
            ("GET", _SEARCH_URL, self._search_intents),  # before GET {intent}
            ("GET", intent, self._retrieve_intent),
            ("POST", intent + "/capture", self._capture),
            ("POST", intent + "/cancel", self._cancel),
            ("POST", "/v1/refunds", self._create_refund),
            ("GET", "/v1/refunds/{refund}", self._retrieve_refund),
            ("GET", _BALANCE_URL, self._balance_transactions),
        )
        self._routes = tuple(
            (method, re.compile(re.sub(r"\{[a-z]+\}", "([^/]+)", path)), f"{method} {path}", op)
            for method, path, op in routes
        )

    # -- Provider ------------------------------------------------------------------------------
    def decode(self, query: str, headers: Headers, body: bytes) -> dict[str, Any]:
        if not body:
            return decode_form(query)
        if not headers.get("content-type", _FORM).lower().startswith(_FORM):
            raise ValueError(f"Stripe's API takes {_FORM} request bodies, not JSON or others.")
        text = body.decode()
        return decode_form(f"{query}&{text}" if query else text)

    def admit(self, request: RecordedRequest) -> Reply | Admitted:
        try:
            api_key = _api_key(request.headers)
            operation, resource_id, endpoint = self._route(request.method, request.path)
            refused = refusal(endpoint, request.params)
            if refused is not None:
                raise refused
            result = operation(request.params, resource_id)
            key = _scoped_key(request, api_key)
        except StripeError as error:
            return error.reply()
        return Admitted(lambda: _answer(result), key)

    def unreadable(self, message: str) -> Reply:
        return invalid(message).reply()

    def replayed(self, saved: Reply) -> Reply:
        return saved.with_header("Idempotent-Replayed", "true")

    def refused(self, verdict: Verdict) -> Reply:
        if verdict is Verdict.IN_USE:
            return invalid(
                "Another request with this idempotency key is still being processed; "
                "retry after it finishes.",
                code="idempotency_key_in_use",
                status=409,
            ).reply()
        return StripeError(
            400,
            IDEMPOTENCY_ERROR,
            "This idempotency key was already used with different parameters; a key may "
            "only be reused for the same request.",
        ).reply()

    def server_error(self, status: int) -> Reply:
        return StripeError(status, API_ERROR, "Simulated server error.").reply()

    def rate_limited(self, retry_after: float) -> Reply:
        seconds = str(int(retry_after)) if retry_after.is_integer() else str(retry_after)
        return (
            StripeError(
                429, INVALID_REQUEST, "Simulated rate limit: too many requests.", code="rate_limit"
            )
            .reply()
            .with_header("Retry-After", seconds)
        )

    def break_schema(self, body: bytes) -> bytes:
        value = json.loads(body)
        if "error" in value:
            value["error"] = "a simulated schema break: the error is not an object"
        elif value.get("object") == "search_result":
            value["has_more"] = str(value["has_more"]).lower()
            for item in value["data"]:
                _break_object(item)
        else:
            _break_object(value)
        return json.dumps(value).encode()

    def stamp(self, reply: Reply) -> Reply:
        return reply.with_header("Request-Id", new_id("req"))

    def snapshot(self) -> dict[str, Any]:
        return {"payment_intents": self.ledger.intents(), "refunds": self.ledger.refunds()}

    def reset(self) -> None:
        self.ledger.reset()
        self.settlement_faults = None

    # -- routes --------------------------------------------------------------------------------
    def _route(self, method: str, path: str) -> tuple[Operation, str, str]:
        """The operation, the id in the path (or ""), and the endpoint's ``REQUESTS`` key."""
        for route_method, pattern, endpoint, operation in self._routes:
            match = pattern.fullmatch(path)
            if match is not None and route_method == method:
                return operation, match[1] if pattern.groups else "", endpoint
        raise invalid(f"Unrecognized request URL ({method}: {path}).", status=404)

    def _create_intent(self, params: Mapping[str, Any], _: str) -> Result:
        currency = read.currency(params)
        amount = read.charge_amount(params, currency)
        pm = read.payment_method(params)
        confirm = read.boolean(params, "confirm")
        if confirm and pm is None:
            raise invalid(
                "This PaymentIntent cannot be confirmed: it has no payment method.",
                code="payment_intent_unexpected_state",
            )
        new = NewIntent(
            amount=amount,
            currency=currency,
            confirm=confirm,
            capture_method=read.string(params, "capture_method") or "automatic",
            confirmation_method=read.string(params, "confirmation_method") or "automatic",
            payment_method=pm,
            metadata=read.metadata(params),
            description=read.string(params, "description"),
            payment_method_types=read.payment_method_types(params),
            decline_authentication=(
                read.string(params, "off_session") not in {None, "false"}
                or read.boolean(params, "error_on_requires_action")
            ),
            return_url=read.string(params, "return_url"),
        )
        expand = read.expand(params, {"latest_charge"})
        return lambda: self.ledger.render_intent(self.ledger.create_intent(new), expand)

    def _retrieve_intent(self, params: Mapping[str, Any], intent_id: str) -> Result:
        expand = read.expand(params, {"latest_charge"})
        return lambda: self.ledger.render_intent(intent_id, expand)

    def _search_intents(self, params: Mapping[str, Any], _: str) -> Result:
        clauses = search.parse(read.required(params, "query"))
        limit = _limit(params)
        offset = search.page_offset(read.string(params, "page"))
        expand = read.expand(params, {"data.latest_charge"})
        item_expand = ("latest_charge",) if "data.latest_charge" in expand else ()

        def run() -> dict[str, Any]:
            ids = self.ledger.search_intents(lambda pi: all(c.matches(pi) for c in clauses))
            more = offset + limit < len(ids)
            return {
                "object": "search_result",
                "url": _SEARCH_URL,
                "has_more": more,
                "next_page": search.page_token(offset + limit) if more else None,
                "data": [
                    self.ledger.render_intent(pi, item_expand)
                    for pi in ids[offset : offset + limit]
                ],
            }

        return run

    def _capture(self, params: Mapping[str, Any], intent_id: str) -> Result:
        amount = read.optional_integer(params, "amount_to_capture")
        expand = read.expand(params, {"latest_charge"})

        def capture() -> dict[str, Any]:
            self.ledger.capture(intent_id, amount)
            return self.ledger.render_intent(intent_id, expand)

        return capture

    def _cancel(self, params: Mapping[str, Any], intent_id: str) -> Result:
        reason = read.choice(params, "cancellation_reason", _CANCELLATION_REASONS)
        expand = read.expand(params, {"latest_charge"})

        def cancel() -> dict[str, Any]:
            self.ledger.cancel(intent_id, reason)
            return self.ledger.render_intent(intent_id, expand)

        return cancel

    def _create_refund(self, params: Mapping[str, Any], _: str) -> Result:
        new = NewRefund(
            payment_intent=read.string(params, "payment_intent"),
            charge=read.string(params, "charge"),
            amount=read.optional_integer(params, "amount"),
            reason=read.string(params, "reason"),
            metadata=read.metadata(params),
        )
        if new.payment_intent is None and new.charge is None:
            raise invalid(
                "Provide the payment_intent (or the charge) to refund.",
                code="parameter_missing",
                param="payment_intent",
            )
        expand = read.expand(params, {"charge", "payment_intent"})
        return lambda: self.ledger.render_refund(self.ledger.refund(new), expand)

    def _retrieve_refund(self, params: Mapping[str, Any], refund_id: str) -> Result:
        expand = read.expand(params, {"charge", "payment_intent"})
        return lambda: self.ledger.render_refund(refund_id, expand)

    def _balance_transactions(self, params: Mapping[str, Any], _: str) -> Result:
        """The ledger's settlement, newest first, in ``created`` windows, paged by
        ``starting_after`` (``settlement.balance_transactions``)."""
        limit = _limit(params)
        window = params.get("created") or {}
        bounds = [(_WINDOW[op], read.integer(window, op, f"created[{op}]")) for op in window]
        after = read.string(params, "starting_after")
        expanded = "data.source" in read.expand(params, {"data.source"})

        def run() -> dict[str, Any]:
            listed = settlement.balance_transactions(
                self.ledger.intents(), self.ledger.refunds(), self.settlement_faults,
                expand=expanded,
            )[::-1]  # fmt: skip
            listed = [t for t in listed if all(test(t["created"], v) for test, v in bounds)]
            start = 0
            if after is not None:
                ids = [t["id"] for t in listed]
                if after not in ids:
                    raise missing("balance_transaction", after, "starting_after")
                start = ids.index(after) + 1
            page = listed[start : start + limit]
            more = start + limit < len(listed)
            return {"object": "list", "url": _BALANCE_URL, "has_more": more, "data": page}

        return run


def _limit(params: Mapping[str, Any]) -> int:
    limit = read.optional_integer(params, "limit") or _DEFAULT_LIMIT
    if not 1 <= limit <= _MAX_LIMIT:
        raise invalid(
            f"Invalid limit: it must be between 1 and {_MAX_LIMIT}.",
            code="parameter_invalid_integer",
            param="limit",
        )
    return limit


def _break_object(value: dict[str, Any]) -> None:
    if "amount" in value:
        value["amount"] = str(value["amount"])
    value.pop("status", None)


def _answer(result: Result) -> Reply:
    """Run the operation: its object with 200, or the error it raised (saved alike)."""
    try:
        return json_reply(200, result())
    except StripeError as error:
        return error.reply()


# -- auth and keys -------------------------------------------------------------------------------
def _api_key(headers: Headers) -> str:
    scheme, _, credential = headers.get("authorization", "").partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = credential.strip()
    elif scheme.lower() == "basic":  # the key as the user name, an empty password
        try:
            key = base64.b64decode(credential.strip(), validate=True).decode().partition(":")[0]
        except ValueError:
            key = ""
    if not key:
        raise _unauthorized("No API key provided: send 'Authorization: Bearer sk_test_...'.")
    if key.startswith(_LIVE_KEYS):
        raise _unauthorized("This simulator is test mode only: it refuses live-mode keys.")
    if not key.startswith(_TEST_KEYS) or len(key) <= len(_TEST_KEYS[0]):
        shown = f"{key[:8]}...{key[-4:]}" if len(key) > 16 else "***"
        raise _unauthorized(f"Invalid API Key provided: {shown}")
    return key


def _unauthorized(message: str) -> StripeError:
    return StripeError(401, INVALID_REQUEST, message)


def _scoped_key(request: RecordedRequest, api_key: str) -> str | None:
    """The idempotency key, scoped to the API key; POST only, as on Stripe."""
    key = request.idempotency_key
    if request.method != "POST" or not key:
        return None
    if len(key) > _MAX_IDEMPOTENCY_KEY:
        raise invalid(
            f"Idempotency-Key is {len(key)} characters long; at most "
            f"{_MAX_IDEMPOTENCY_KEY} are allowed."
        )
    return f"{api_key} {key}"
