"""The Adyen simulator's state — payments, modifications, the webhook queue — and the
operations that change it.

A payment is decided when ``/payments`` is called. A modification (capture, cancel, refund,
reversal) is only *received* then; its outcome is decided when it is processed, in the order
received, and reported by its webhook, as on Adyen. Accounting follows Adyen's built-in rules:
no capture above the authorised amount, no refund above what was captured, and a partial
capture releases the remainder (no multiple partial captures).

Not thread-safe on its own: the simulator calls it under its one lock.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from paygate.testing.adyen._cards import (
    AUTHORISED,
    ERROR,
    RECEIVED,
    REDIRECT_SHOPPER,
    REFUSED,
    Card,
    Outcome,
)
from paygate.testing.adyen._errors import AdyenError, new_psp_reference
from paygate.testing.adyen._webhooks import AdyenWebhook

_AUTHORISED: Final = "authorised"
IDENTIFY_SHOPPER: Final = "IdentifyShopper"  # 3-D Secure 2 in the page: the device first
CHALLENGE_SHOPPER: Final = "ChallengeShopper"  # then the issuer's challenge
_STATUS: Final = {  # resultCode → the payment's status
    AUTHORISED: _AUTHORISED,
    REFUSED: "refused",
    ERROR: "error",
    RECEIVED: "received",
    REDIRECT_SHOPPER: "redirect",
}
_NOT_AUTHORISED: Final = frozenset({"refused", "error"})
# Where the simulated 3-D Secure page is (never reached over the network: the simulator's
# ``authenticate`` plays the shopper on it); the session ends the address.
AUTHENTICATION_PAGE: Final = "https://simulated-3ds.invalid/authenticate/"
# A failed authentication, as Adyen refuses it (refusal reason 11).
_NOT_AUTHENTICATED: Final = ("3D Not Authenticated", "11")
# A redirect the shopper did not approve at their bank (refusal reason 16).
_SHOPPER_CANCELLED: Final = ("Shopper Cancelled", "16")


class Kind(StrEnum):
    """A modification; the value is its ``type`` in ``AdyenSimulator.modifications()``."""

    CAPTURE = "capture"
    CANCEL = "cancel"
    REFUND = "refund"
    REVERSAL = "reversal"


_EVENT_CODES: Final = {
    Kind.CAPTURE: "CAPTURE",
    Kind.CANCEL: "CANCELLATION",
    Kind.REFUND: "REFUND",
    Kind.REVERSAL: "CANCEL_OR_REFUND",
}


@dataclass(frozen=True, slots=True)
class NewPayment:
    value: int
    currency: str
    reference: str
    card: Card | None  # None: a redirect method (``method``)
    outcome: Outcome
    manual_capture: bool
    metadata: dict[str, str]
    shopper_reference: str | None
    stored_payment_method_id: str | None
    return_url: str | None = None
    native_three_ds: bool = False  # 3-D Secure 2 in the page (a browser), not a redirect
    in_series: bool = False
    method: str = "scheme"  # paymentMethod.type: a card, or a redirect method (ideal)


@dataclass(frozen=True, slots=True)
class NewModification:
    kind: Kind
    payment: str  # the payment's pspReference
    value: int | None  # captures and refunds only
    currency: str | None
    reference: str | None


class Ledger:
    """Everything the simulated merchant account holds, in creation order."""

    def __init__(
        self,
        merchant_account: str,
        hmac_key: str,
        *,
        auto_process: bool,
        on_webhook: Callable[[AdyenWebhook], None] | None,
    ) -> None:
        self.merchant_account = merchant_account
        self.hmac_key = hmac_key
        self._auto_process = auto_process
        self._on_webhook = on_webhook
        self._payments: dict[str, dict[str, Any]] = {}
        self._modifications: list[dict[str, Any]] = []
        self._webhooks: list[AdyenWebhook] = []
        # Payments awaiting the shopper (session → pspReference, which Adyen reveals only once
        # the details are sent), and the redirect results their shoppers came back with.
        self._sessions: dict[str, str] = {}
        self._results: dict[str, str] = {}  # redirectResult → pspReference
        # 3-D Secure 2 in the page: the sessions of a device fingerprint (a challenge follows
        # it), and the fingerprint results that lead to that challenge.
        self._fingerprints: set[str] = set()
        self._challenges: dict[str, str] = {}  # threeDSResult → pspReference

    def reset(self) -> None:
        self._sessions.clear()
        self._results.clear()
        self._fingerprints.clear()
        self._challenges.clear()
        self._payments.clear()
        self._modifications.clear()
        self._webhooks.clear()

    # -- reading -------------------------------------------------------------------------------
    def payment(self, psp: str) -> dict[str, Any] | None:
        payment = self._payments.get(psp)
        return None if payment is None else copy.deepcopy(payment)

    def payments(self, reference: str | None = None) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(p)
            for p in self._payments.values()
            if reference is None or p["merchantReference"] == reference
        ]

    def modifications(self, psp: str | None = None) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(m)
            for m in self._modifications
            if psp is None or m["paymentPspReference"] == psp
        ]

    def webhooks(self, drain: bool = False) -> list[AdyenWebhook]:
        pending = list(self._webhooks)
        if drain:
            self._webhooks.clear()
        return pending

    def snapshot(self) -> dict[str, Any]:
        return {
            "merchant_account": self.merchant_account,
            "payments": self.payments(),
            "modifications": self.modifications(),
            "webhooks": [webhook.item for webhook in self._webhooks],
        }

    # -- payments ------------------------------------------------------------------------------
    def authorise(self, new: NewPayment) -> dict[str, Any]:
        """Make the payment; the body of the 200 answer. Authorised, Refused and Error
        payments enqueue their AUTHORISATION webhook."""
        psp, outcome, card = new_psp_reference(), new.outcome, new.card
        status = _STATUS[outcome.result_code]
        authorised = status == _AUTHORISED
        amount = {"value": new.value, "currency": new.currency}
        payment = self._payments[psp] = {
            "pspReference": psp,
            "merchantAccount": self.merchant_account,
            "merchantReference": new.reference,
            "amount": amount,
            "status": status,
            "resultCode": outcome.result_code,
            "refusalReason": outcome.refusal_reason,
            "refusalReasonCode": None if outcome.refusal_reason is None else str(outcome.code),
            "manualCapture": new.manual_capture,
            "captured": new.value if authorised and not new.manual_capture else 0,
            "refunded": 0,
            "cancelled": False,
            "authCode": f"{secrets.randbelow(10**6):06d}" if authorised else None,
            "paymentMethod": new.method if card is None else card.brand,
            "cardSummary": None if card is None else card.summary,
            "expiryDate": None if card is None else card.expiry,
            "frictionless": card is not None and card.frictionless,
            "shopperReference": new.shopper_reference,
            "storedPaymentMethodId": new.stored_payment_method_id,
            "metadata": dict(new.metadata),
            "createdAt": _now(),
        }
        answer: dict[str, Any] = {
            "additionalData": {**_card_data(payment), "paymentMethod": payment["paymentMethod"]},
            "pspReference": psp,
            "resultCode": outcome.result_code,
            "amount": dict(amount),
            "merchantReference": new.reference,
            "paymentMethod": {"brand": payment["paymentMethod"], "type": new.method},
        }
        if authorised:
            answer["additionalData"]["authCode"] = payment["authCode"]
            if new.in_series:  # the card network's id, for the series' later payments
                answer["additionalData"]["networkTxReference"] = f"{secrets.randbelow(10**15):015d}"
        if outcome.refusal_reason is not None:
            answer["refusalReason"] = payment["refusalReason"]
            answer["refusalReasonCode"] = payment["refusalReasonCode"]
        if outcome.result_code == REDIRECT_SHOPPER:
            # The payment is named only once the shopper is back and the details are sent.
            session = secrets.token_urlsafe(16)
            self._sessions[session] = psp
            payment["returnUrl"] = new.return_url
            if new.native_three_ds:  # the issuer reads the device first
                self._fingerprints.add(session)
                return {
                    "resultCode": IDENTIFY_SHOPPER,
                    "action": _three_ds2_action("fingerprint", session),
                }
            return {
                "resultCode": REDIRECT_SHOPPER,
                "action": {
                    "type": "redirect",
                    "method": "GET",
                    "url": AUTHENTICATION_PAGE + session,
                    "paymentMethodType": new.method,
                },
            }
        if authorised or status in _NOT_AUTHORISED:
            self._authorisation_webhook(payment)
        return answer

    # -- the shopper's action --------------------------------------------------------------------
    def authenticate(self, session: str, *, passed: bool) -> tuple[str, str]:
        """The shopper on a payment's page (3-D Secure, their bank for a redirect method), or
        the 3-D Secure component in the page: what they come back with (``redirectResult``,
        or ``threeDSResult`` in the page). A device fingerprint decides nothing but for a
        frictionless card: the issuer asks for a challenge next. A challenge or a redirect
        decides the payment, authorised or refused (and queues its AUTHORISATION webhook, so
        it arrives whether or not the shopper comes back); a frictionless card's issuer
        authenticates whatever ``passed`` says, as no shopper is asked. ``KeyError`` for a
        session no payment awaits."""
        psp = self._sessions.pop(session)
        payment = self._payments[psp]
        result = secrets.token_urlsafe(24)
        fingerprint = session in self._fingerprints
        self._fingerprints.discard(session)
        if fingerprint and not payment["frictionless"]:
            self._challenges[result] = psp
            return "threeDSResult", result
        native = fingerprint or payment["resultCode"] == CHALLENGE_SHOPPER
        self._decide(psp, passed=passed or payment["frictionless"])
        self._results[result] = psp
        return ("threeDSResult" if native else "redirectResult"), result

    def _decide(self, psp: str, *, passed: bool) -> None:
        payment = self._payments[psp]
        if passed:
            authorised = not payment["manualCapture"]
            payment.update(
                status=_AUTHORISED, resultCode=AUTHORISED,
                authCode=f"{secrets.randbelow(10**6):06d}",
                captured=payment["amount"]["value"] if authorised else 0,
            )  # fmt: skip
        else:
            # A card's issuer refused the authentication; a bank's shopper did not approve.
            reason, code = _NOT_AUTHENTICATED if payment["cardSummary"] else _SHOPPER_CANCELLED
            payment.update(
                status="refused", resultCode=REFUSED, refusalReason=reason, refusalReasonCode=code
            )
        self._authorisation_webhook(payment)

    def details(self, result: str) -> dict[str, Any]:
        """``/payments/details`` with what the shopper's action gave back: after a device
        fingerprint, the challenge to run (still no pspReference); after a challenge or a
        redirect, the payment as decided then, named by its pspReference from now on. A result
        sent again gets the same answer."""
        challenged = self._challenges.get(result)
        if challenged is not None:
            payment = self._payments[challenged]
            session = payment.get("challenge")
            if session is None:  # the first time this fingerprint comes back
                session = payment["challenge"] = secrets.token_urlsafe(16)
                self._sessions[session] = challenged
                payment["resultCode"] = CHALLENGE_SHOPPER
            return {
                "resultCode": CHALLENGE_SHOPPER,
                "action": _three_ds2_action("challenge", session),
            }
        psp = self._results.get(result)
        if psp is None:
            raise AdyenError(422, "000", "Invalid details")
        payment = self._payments[psp]
        answer: dict[str, Any] = {
            "pspReference": psp,
            "resultCode": payment["resultCode"],
            "merchantReference": payment["merchantReference"],
            "amount": dict(payment["amount"]),
        }
        if payment["status"] == _AUTHORISED:
            answer["additionalData"] = {"authCode": payment["authCode"]}
        else:
            answer["refusalReason"] = payment["refusalReason"]
            answer["refusalReasonCode"] = payment["refusalReasonCode"]
        return answer

    def _authorisation_webhook(self, payment: dict[str, Any]) -> None:
        authorised = payment["status"] == _AUTHORISED
        item = self._item(payment, "AUTHORISATION", payment["pspReference"], authorised)
        item["additionalData"] = _card_data(payment)
        if authorised:
            card = (payment["cardSummary"], payment["expiryDate"]) if payment["cardSummary"] else ()
            item["reason"] = ":".join((payment["authCode"], *card))
            manual = payment["manualCapture"]
            item["operations"] = ["CANCEL", "CAPTURE", "REFUND"] if manual else ["REFUND"]
        else:
            item["reason"] = payment["refusalReason"]
        self._enqueue(item)

    # -- modifications -------------------------------------------------------------------------
    def modify(self, new: NewModification) -> dict[str, Any]:
        """Receive a modification; the body of the 201 answer (status "received")."""
        if new.payment not in self._payments:
            raise AdyenError(422, "167", "Original pspReference required for this operation")
        amount = None if new.value is None else {"value": new.value, "currency": new.currency}
        record = {
            "pspReference": new_psp_reference(),
            "paymentPspReference": new.payment,
            "type": new.kind.value,
            "eventCode": _EVENT_CODES[new.kind],
            "amount": amount,
            "reference": new.reference,
            "status": "received",
            "reason": None,
            "receivedAt": _now(),
        }
        self._modifications.append(record)
        answer = {
            "merchantAccount": self.merchant_account,
            "paymentPspReference": new.payment,
            "pspReference": record["pspReference"],
            "status": "received",
        }
        if new.reference is not None:
            answer["reference"] = new.reference
        if amount is not None:
            answer["amount"] = dict(amount)
        if self._auto_process:
            self._process(record)
        return answer

    def process(self) -> list[dict[str, Any]]:
        """Decide every received modification, oldest first; the processed ones (copies)."""
        pending = [m for m in self._modifications if m["status"] == "received"]
        for record in pending:
            self._process(record)
        return copy.deepcopy(pending)

    def _process(self, record: dict[str, Any]) -> None:
        payment = self._payments[record["paymentPspReference"]]
        amount = record["amount"]
        action: str | None = None
        match Kind(record["type"]):
            case Kind.CAPTURE:
                reason = _capture(payment, amount)
            case Kind.CANCEL:
                reason = _cancel(payment)
            case Kind.REFUND:
                reason = _refund(payment, amount["currency"], amount["value"])
            case Kind.REVERSAL:
                action = "refund" if payment["captured"] else "cancel"
                reason = (
                    _refund(payment, None, payment["captured"] - payment["refunded"])
                    if payment["captured"]
                    else _cancel(payment)
                )
        record.update(status="failed" if reason else "processed", reason=reason)
        item = self._item(payment, record["eventCode"], record["pspReference"], not reason)
        item.update(originalReference=payment["pspReference"], reason=reason or "")
        if amount is not None:
            item["amount"] = dict(amount)
        if record["reference"] is not None:
            item["merchantReference"] = record["reference"]
        if action is not None:
            item["additionalData"] = {"modification.action": action}
        self._enqueue(item)

    # -- webhooks ------------------------------------------------------------------------------
    def _item(
        self, payment: dict[str, Any], event_code: str, psp: str, success: bool
    ) -> dict[str, Any]:
        return {
            "amount": dict(payment["amount"]),
            "eventCode": event_code,
            "eventDate": _now(),
            "merchantAccountCode": self.merchant_account,
            "merchantReference": payment["merchantReference"],
            "paymentMethod": payment["paymentMethod"],
            "pspReference": psp,
            "success": "true" if success else "false",
        }

    def _enqueue(self, item: dict[str, Any]) -> None:
        webhook = AdyenWebhook.signed(item, self.hmac_key)
        self._webhooks.append(webhook)
        if self._on_webhook is not None:
            self._on_webhook(webhook)


# -- the accounting rules: None when the modification succeeds (and is applied), else why not --
def _capture(payment: dict[str, Any], amount: dict[str, Any]) -> str | None:
    if payment["status"] != _AUTHORISED:
        return "Original payment is not authorised"
    if payment["cancelled"]:
        return "Payment has been cancelled"
    if payment["captured"]:
        return "Payment has already been captured"
    if amount["currency"] != payment["amount"]["currency"]:
        return "Currency of the capture does not match the payment"
    if amount["value"] > payment["amount"]["value"]:
        return "Capture amount exceeds the authorised amount"
    payment["captured"] = amount["value"]  # any remainder is released
    return None


def _cancel(payment: dict[str, Any]) -> str | None:
    if payment["status"] in _NOT_AUTHORISED:
        return "Original payment is not authorised"
    if payment["cancelled"]:
        return "Payment has already been cancelled"
    if payment["captured"]:
        return "Payment has already been captured"
    payment["cancelled"] = True
    return None


def _refund(payment: dict[str, Any], currency: str | None, value: int) -> str | None:
    if not payment["captured"]:
        return "Transaction hasn't been captured, refund not possible"
    if currency is not None and currency != payment["amount"]["currency"]:
        return "Currency of the refund does not match the payment"
    remaining = payment["captured"] - payment["refunded"]
    if remaining <= 0:
        return "Payment has already been refunded in full"
    if value > remaining:
        return "Refund amount exceeds the captured amount left to refund"
    payment["refunded"] += value
    return None


def _card_data(payment: dict[str, Any]) -> dict[str, str]:
    """The card's ``additionalData`` (its last four digits and expiry); none for a redirect."""
    if payment["cardSummary"] is None:
        return {}
    return {"cardSummary": payment["cardSummary"], "expiryDate": payment["expiryDate"]}


def _now() -> str:
    """Now, ISO 8601 with the local offset, as Adyen's ``eventDate``."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _three_ds2_action(subtype: str, session: str) -> dict[str, Any]:
    """A ``CheckoutThreeDS2Action``: the 3-D Secure 2 component's next step, and its token."""
    return {
        "type": "threeDS2",
        "subtype": subtype,
        "token": session,
        "paymentMethodType": "scheme",
        "paymentData": f"sim-payment-data-{session}",
    }
