"""The Adyen simulator's HTTP face, plugged into the neutral server as its ``Provider``:
``X-API-Key`` auth, the Checkout routes (v71 and v72), body checks (before execution, never
saved under a key: a JSON Content-Type, then the version's published schema, ``_validate``,
then the simulator's own), and Adyen's answers, ``ServiceError`` bodies and headers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from paygate.testing._dispatch import Admitted
from paygate.testing._idempotency import Verdict
from paygate.testing._records import Headers, RecordedRequest, Reply, json_reply
from paygate.testing.adyen import _params as read
from paygate.testing.adyen._errors import (
    INTERNAL,
    VALIDATION,
    AdyenError,
    in_progress,
    internal,
    new_psp_reference,
    unauthorized,
    unexpected,
)
from paygate.testing.adyen._ledger import Kind, Ledger
from paygate.testing.adyen._validate import refusal

_PAYMENTS: Final = re.compile(r"/v(7[12])/payments")
_DETAILS: Final = re.compile(r"/v(7[12])/payments/details")
_MODIFICATION: Final = re.compile(r"/v(7[12])/payments/([^/]+)/([a-z]+)")
_JSON: Final = "application/json"
_KINDS: Final = {
    "captures": Kind.CAPTURE,
    "cancels": Kind.CANCEL,
    "refunds": Kind.REFUND,
    "reversals": Kind.REVERSAL,
}
# Adyen documents no error for a key reused with another payload: every repeat under a key
# gets the first answer, so every request has the same fingerprint.
_ANY_REPEAT: Final = "adyen: a repeat under a key replays the first answer"

Result = Callable[[], tuple[int, dict[str, Any]]]  # runs the operation: status and body
Operation = Callable[[Mapping[str, Any]], Result]


class AdyenApi:
    """Adyen's Checkout ``/payments`` and its modifications, over the simulator's ``Ledger``."""

    def __init__(self, ledger: Ledger, api_key: str | None) -> None:
        self.ledger = ledger
        self._api_key = api_key

    # -- Provider ------------------------------------------------------------------------------
    def decode(self, query: str, headers: Headers, body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != _JSON:
            shown = media_type or "none"
            raise ValueError(f"the request body must be {_JSON}, not Content-Type {shown}")
        value = json.loads(body)  # a JSONDecodeError (or UnicodeDecodeError) is a ValueError
        if not isinstance(value, dict):
            raise ValueError("the request body must be a JSON object")
        return value

    def admit(self, request: RecordedRequest) -> Reply | Admitted:
        try:
            self._authenticate(request.headers)
            operation, version, endpoint = self._route(request.method, request.path)
            refused = refusal(version, endpoint, request.params)
            if refused is not None:
                raise refused
            result = operation(request.params)
        except AdyenError as error:
            return error.reply()
        key = request.idempotency_key
        scoped = f"{self.ledger.merchant_account} {key}" if key else None
        return Admitted(
            lambda: _answer(result), scoped, fingerprint=_ANY_REPEAT, saves_server_error=False
        )

    def unreadable(self, message: str) -> Reply:
        return unexpected(message).reply()

    def replayed(self, saved: Reply) -> Reply:
        return saved  # the same status and body; the Idempotency-Key header is echoed anyway

    def refused(self, verdict: Verdict) -> Reply:
        # One fingerprint for every request (_ANY_REPEAT): only a key in flight gets here.
        return in_progress().reply()

    def server_error(self, status: int) -> Reply:
        return internal(status).reply()

    def rate_limited(self, retry_after: float) -> Reply:
        seconds = str(int(retry_after)) if retry_after.is_integer() else str(retry_after)
        error = AdyenError(429, "000", "Too many requests (simulated rate limit)", INTERNAL)
        return error.reply().with_header("Retry-After", seconds)

    def break_schema(self, body: bytes) -> bytes:
        value = json.loads(body)
        if "errorCode" in value:  # a ServiceError
            value["status"] = str(value["status"])
            del value["errorCode"]
        else:
            value.pop("resultCode", None)
            value.pop("status", None)
            if isinstance(value.get("amount"), dict):
                value["amount"]["value"] = str(value["amount"]["value"])
        return json.dumps(value).encode()

    def stamp(self, reply: Reply) -> Reply:
        """Every answer names a pspReference: the body's when it has one, else a fresh one."""
        try:
            body = json.loads(reply.body)
        except ValueError:
            body = None
        psp = body.get("pspReference") if isinstance(body, dict) else None
        return reply.with_header(
            "pspReference", psp if isinstance(psp, str) else new_psp_reference()
        )

    def snapshot(self) -> dict[str, Any]:
        return self.ledger.snapshot()

    def reset(self) -> None:
        self.ledger.reset()

    # -- auth and routes -----------------------------------------------------------------------
    def _authenticate(self, headers: Headers) -> None:
        key = headers.get("x-api-key", "")
        expected = self._api_key
        if not key or (expected is not None and key != expected):
            raise unauthorized()

    def _route(self, method: str, path: str) -> tuple[Operation, str, str]:
        """The operation, the API version, and the endpoint's path in ``_schema.REQUESTS``."""
        if method == "POST":
            if match := _PAYMENTS.fullmatch(path):
                return self._pay, match[1], "/payments"
            if match := _DETAILS.fullmatch(path):
                return self._details, match[1], "/payments/details"
            match = _MODIFICATION.fullmatch(path)
            kind = None if match is None else _KINDS.get(match[3])
            if match is not None and kind is not None:
                psp, endpoint = match[2], f"/payments/{{paymentPspReference}}/{match[3]}"
                return (lambda params: self._modify(params, psp, kind)), match[1], endpoint
        raise AdyenError(404, "000", f"Not found: {method} {path}", VALIDATION)

    def _pay(self, params: Mapping[str, Any]) -> Result:
        read.merchant_account(params, self.ledger.merchant_account)
        new = read.payment(params)
        return lambda: (200, self.ledger.authorise(new))

    def _details(self, params: Mapping[str, Any]) -> Result:
        result = read.action_result(params)
        return lambda: (200, self.ledger.details(result))

    def _modify(self, params: Mapping[str, Any], psp: str, kind: Kind) -> Result:
        read.merchant_account(params, self.ledger.merchant_account)
        new = read.modification(params, kind, psp)
        return lambda: (201, self.ledger.modify(new))


def _answer(result: Result) -> Reply:
    """Run the operation: its answer, or the error it raised (saved alike)."""
    try:
        status, body = result()
    except AdyenError as error:
        return error.reply()
    return json_reply(status, body)
