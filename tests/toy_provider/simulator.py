"""Toypay's simulator on paygate's neutral simulator server, and its contract-suite entry."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any, Final

from paygate import Gateway, PaymentSource
from paygate.models import WebhookOutcome
from paygate.testing._dispatch import Admitted
from paygate.testing._idempotency import Verdict
from paygate.testing._records import Headers, RecordedRequest, Reply, json_reply
from paygate.testing._server import Simulator
from paygate.testing.contract import ContractAdapter, ScenarioSkipped, Sources

KEY_ENV: Final = "PAYGATE_CONTRACT_TOYPAY_API_KEY"
DECLINES: Final = {
    "tok_declined": "generic",
    "tok_no_funds": "insufficient_funds",
    "tok_expired": "expired_card",
    "tok_bad_cvc": "incorrect_cvc",
}
_PAYMENT: Final = re.compile(r"/payments/(?P<id>tp_[0-9a-f]{16})(?:/(?P<action>[a-z]+))?")


def _error(status: int, code: str, reason: str | None = None) -> Reply:
    return json_reply(status, {"error": {"code": code, "reason": reason}})


class ToyApi:
    """Toypay's side of the simulator (called under the simulator's lock)."""

    def __init__(self) -> None:
        self.payments: dict[str, dict[str, Any]] = {}

    def decode(self, query: str, headers: Headers, body: bytes) -> dict[str, Any]:
        value = json.loads(body) if body else {}
        if not isinstance(value, dict):
            raise ValueError("the body must be a JSON object")
        return value

    def admit(self, request: RecordedRequest) -> Reply | Admitted:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not token:
            return _error(401, "unauthorized")
        run = self._route(request.method, request.path, dict(request.params))
        if run is None:
            return _error(404, "not_found")
        key = request.idempotency_key
        return Admitted(run, key=None if key is None else f"{token}:{key}")

    def _route(self, method: str, path: str, params: dict[str, Any]) -> Callable[[], Reply] | None:
        if (method, path) == ("POST", "/payments"):
            return lambda: self._create(params)
        match = _PAYMENT.fullmatch(path)
        if match is None:
            return None
        payment, action = match["id"], match["action"]
        if method == "GET" and action is None:
            return lambda: self._show(payment)
        actions = {"capture": self._capture, "void": self._void, "refunds": self._refund}
        if method == "POST" and action in actions:
            return lambda: actions[action](payment, params)
        return None

    def _create(self, params: dict[str, Any]) -> Reply:
        source = params.get("source")
        if source in DECLINES:
            return _error(402, "card_declined", DECLINES[source])
        if source != "tok_ok":
            return _error(400, "invalid_request")
        payment = {
            "id": f"tp_{secrets.token_hex(8)}",
            "status": "captured" if params.get("capture") else "authorized",
            "amount": params["amount"],
            "amount_captured": params["amount"] if params.get("capture") else 0,
            "amount_refunded": 0,
            "currency": params["currency"],
            "reference": params.get("reference"),
        }
        self.payments[payment["id"]] = payment
        return json_reply(201, payment)

    def _show(self, payment_id: str) -> Reply:
        payment = self.payments.get(payment_id)
        return _error(404, "not_found") if payment is None else json_reply(200, payment)

    def _capture(self, payment_id: str, params: dict[str, Any]) -> Reply:
        return self._move(payment_id, "captured", amount_captured=True)

    def _void(self, payment_id: str, params: dict[str, Any]) -> Reply:
        return self._move(payment_id, "voided", amount_captured=False)

    def _move(self, payment_id: str, status: str, *, amount_captured: bool) -> Reply:
        payment = self.payments.get(payment_id)
        if payment is None:
            return _error(404, "not_found")
        if payment["status"] != "authorized":
            return _error(400, "invalid_state")
        payment["status"] = status
        if amount_captured:
            payment["amount_captured"] = payment["amount"]
        return json_reply(200, payment)

    def _refund(self, payment_id: str, params: dict[str, Any]) -> Reply:
        payment = self.payments.get(payment_id)
        if payment is None:
            return _error(404, "not_found")
        if payment["status"] != "captured":
            return _error(400, "invalid_state")
        left = payment["amount_captured"] - payment["amount_refunded"]
        amount = params.get("amount", left)
        if not 0 < amount <= left:
            return _error(400, "amount_exceeds_refundable")
        payment["amount_refunded"] += amount
        refund = {
            "id": f"re_{secrets.token_hex(8)}",
            "payment": payment_id,
            "amount": amount,
            "currency": payment["currency"],
            "reference": params.get("reference"),
        }
        return json_reply(201, refund)

    # -- what the neutral server asks of every provider ---------------------------------------
    def unreadable(self, message: str) -> Reply:
        return _error(400, "invalid_request")

    def replayed(self, saved: Reply) -> Reply:
        return saved

    def refused(self, verdict: Verdict) -> Reply:
        return _error(409, "idempotency_conflict")

    def server_error(self, status: int) -> Reply:
        return _error(status, "server_error")

    def rate_limited(self, retry_after: float) -> Reply:
        return _error(429, "rate_limited").with_header("Retry-After", str(retry_after))

    def break_schema(self, body: bytes) -> bytes:
        value = json.loads(body)
        value.pop("status", None)
        value.pop("payment", None)
        return json.dumps(value).encode()

    def stamp(self, reply: Reply) -> Reply:
        return reply.with_header("Request-Id", f"req_{secrets.token_hex(6)}")

    def snapshot(self) -> dict[str, Any]:
        return {"payments": list(self.payments.values())}

    def reset(self) -> None:
        self.payments.clear()


class ToySimulator(Simulator):
    """Toypay on 127.0.0.1; ``tok_ok`` pays, the tokens in ``DECLINES`` are declined."""

    def __init__(self, port: int = 0, *, webhook_url: str | None = None) -> None:
        self._api = ToyApi()
        super().__init__(self._api, port)

    def payments(self, reference: str | None = None) -> list[dict[str, Any]]:
        with self._dispatcher.lock:
            found = self._api.payments.values()
            return [dict(p) for p in found if reference is None or p["reference"] == reference]


def _sim_options(sim: ToySimulator) -> dict[str, str]:
    return {"api_key": "tp_test_contract", "base_url": sim.url}


def _sandbox_options(env: Mapping[str, str]) -> dict[str, str]:
    raise ScenarioSkipped("Toypay has no sandbox")


def _confirm(gw: Gateway, sim: ToySimulator) -> list[WebhookOutcome]:
    return []  # every step is done when it is answered; Toypay sends no webhooks


CONTRACT: Final = ContractAdapter(
    name="toypay",
    sources=Sources(
        approved=PaymentSource.token("tok_ok"),
        generic_decline=PaymentSource.token("tok_declined"),
        insufficient_funds=PaymentSource.token("tok_no_funds"),
        expired_card=PaymentSource.token("tok_expired"),
        incorrect_cvc=PaymentSource.token("tok_bad_cvc"),
    ),
    simulator=ToySimulator,
    sim_options=_sim_options,
    sandbox_env=(KEY_ENV,),
    sandbox_options=_sandbox_options,
    confirm=_confirm,
    charges=lambda sim, reference: len(sim.payments(reference)),
    wire_module="toy_provider.adapter",
    webhooks=False,
)
