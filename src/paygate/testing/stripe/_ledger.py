"""The Stripe simulator's objects — PaymentIntents, their charges, refunds — and the operations
that change them. Objects are kept as Stripe JSON (API version 2023-08-16 shapes), with
``latest_charge`` as an id; ``render_*`` returns copies, expanded as asked.

Every change that commits emits the webhook event Stripe sends for it into the ``outbox``
(``EMITTED`` lists which); a request refused before it changes anything emits nothing.

Not thread-safe on its own: the simulator calls it under its one lock.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from paygate.testing.stripe._cards import AUTHENTICATION_REQUIRED, Card, Decline
from paygate.testing.stripe._errors import CARD_ERROR, StripeError, invalid, missing
from paygate.testing.stripe._webhooks import StripeOutbox

CANCELABLE: Final = frozenset(
    {"requires_payment_method", "requires_capture", "requires_confirmation", "requires_action"}
    | {"processing"}
)

# The events the simulator emits, by what commits them. Stripe also sends informational ones
# (payment_intent.created, payment_intent.requires_action, charge.*) that move no canonical
# state; the simulator leaves those out.
AUTHORIZED: Final = "payment_intent.amount_capturable_updated"  # manual capture: held
SUCCEEDED: Final = "payment_intent.succeeded"  # captured, or charged with automatic capture
PAYMENT_FAILED: Final = "payment_intent.payment_failed"  # a declined confirmation
CANCELED: Final = "payment_intent.canceled"
# A card refund succeeds at once: one refund.created with its final status, rather than a
# pending refund.created followed by refund.updated.
REFUND_CREATED: Final = "refund.created"
EMITTED: Final = (AUTHORIZED, SUCCEEDED, PAYMENT_FAILED, CANCELED, REFUND_CREATED)
# Where the simulated 3-D Secure page is (never reached over the network: the simulator's
# ``authenticate`` plays the shopper on it); the PaymentIntent's id ends the address.
AUTHENTICATION_PAGE: Final = "https://simulated-3ds.invalid/authenticate/"
_FAILED_3DS: Final = {
    "type": "card_error",
    "code": "payment_intent_authentication_failure",
    "message": "The provided PaymentMethod has failed authentication.",
}
# A redirect method the shopper did not approve at their bank (they cancelled, or it failed).
_FAILED_REDIRECT: Final = {
    "type": "invalid_request_error",
    "code": "payment_intent_payment_attempt_failed",
    "message": "The latest payment attempt of this PaymentIntent has failed or been canceled.",
}


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    """A PaymentMethod the request named or carried: a card, or (``card`` None) a redirect
    method of ``type`` (ideal), whose shopper approves the payment at their bank."""

    id: str
    card: Card | None
    exp_month: int = 0
    exp_year: int = 0
    holder_name: str | None = None
    type: str = "card"
    bank: str | None = None  # iDEAL: the bank, when the request chose it


@dataclass(frozen=True, slots=True)
class NewIntent:
    amount: int
    currency: str
    confirm: bool
    capture_method: str
    confirmation_method: str
    payment_method: PaymentMethod | None
    metadata: dict[str, str]
    description: str | None
    payment_method_types: list[str]
    # off_session or error_on_requires_action: a card that needs 3-D Secure is declined.
    decline_authentication: bool
    # With it, a card that needs 3-D Secure answers redirect_to_url, else use_stripe_sdk.
    return_url: str | None = None


@dataclass(frozen=True, slots=True)
class NewRefund:
    payment_intent: str | None
    charge: str | None
    amount: int | None
    reason: str | None
    metadata: dict[str, str]


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class Ledger:
    """Every object the simulated Stripe account holds, in creation order."""

    def __init__(self, outbox: StripeOutbox) -> None:
        self.outbox = outbox
        self._intents: dict[str, dict[str, Any]] = {}
        self._charges: dict[str, dict[str, Any]] = {}
        self._refunds: dict[str, dict[str, Any]] = {}
        # PaymentIntents in requires_action: the card to charge once the shopper authenticates.
        self._awaiting: dict[str, PaymentMethod] = {}

    def reset(self) -> None:
        self._awaiting.clear()
        self._intents.clear()
        self._charges.clear()
        self._refunds.clear()
        self.outbox.reset()

    def _emit_intent(self, event_type: str, intent: dict[str, Any]) -> None:
        self.outbox.emit(event_type, intent, intent["id"])

    # -- reading -------------------------------------------------------------------------------
    def render_intent(self, intent_id: str, expand: Collection[str] = ()) -> dict[str, Any]:
        rendered = copy.deepcopy(self._intent(intent_id))
        charge_id = rendered["latest_charge"]
        if "latest_charge" in expand and charge_id is not None:
            rendered["latest_charge"] = copy.deepcopy(self._charges[charge_id])
        return rendered

    def render_refund(self, refund_id: str, expand: Collection[str] = ()) -> dict[str, Any]:
        refund = self._refunds.get(refund_id)
        if refund is None:
            raise missing("refund", refund_id, "refund")
        rendered = copy.deepcopy(refund)
        if "charge" in expand:
            rendered["charge"] = copy.deepcopy(self._charges[refund["charge"]])
        if "payment_intent" in expand:
            rendered["payment_intent"] = self.render_intent(refund["payment_intent"])
        return rendered

    def intents(self, reference: str | None = None) -> list[dict[str, Any]]:
        """PaymentIntents with ``latest_charge`` expanded, optionally by metadata reference."""
        return [
            self.render_intent(intent_id, ("latest_charge",))
            for intent_id, intent in self._intents.items()
            if reference is None or intent["metadata"].get("reference") == reference
        ]

    def search_intents(self, match: Callable[[dict[str, Any]], bool]) -> list[str]:
        """Ids of the PaymentIntents ``match`` accepts, newest first: ``created`` descending,
        and the later-made first within one second. Immediately consistent, unlike Stripe's
        search, which can lag a write by a minute (an hour during an outage)."""
        found = [intent for intent in reversed(self._intents.values()) if match(intent)]
        found.sort(key=lambda intent: int(intent["created"]), reverse=True)  # stable
        return [intent["id"] for intent in found]

    def refunds(self, payment_intent: str | None = None) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(refund)
            for refund in self._refunds.values()
            if payment_intent is None or refund["payment_intent"] == payment_intent
        ]

    # -- PaymentIntents ------------------------------------------------------------------------
    def create_intent(self, new: NewIntent) -> str:
        """Create (and, with ``confirm``, confirm) a PaymentIntent; its id. A declined
        confirmation raises the 402 card error after storing the failed PaymentIntent."""
        pm = new.payment_method
        if pm is not None:
            _check_method(new, pm)
        intent_id = new_id("pi")
        intent = self._intents[intent_id] = _intent_json(intent_id, new)
        if pm is None or not new.confirm:
            intent["status"] = "requires_payment_method" if pm is None else "requires_confirmation"
            return intent_id
        if pm.card is not None and pm.card.decline is not None:
            self._decline(intent, pm, pm.card.decline)
        if pm.card is None or pm.card.authenticate:  # the shopper acts first
            if pm.card is not None and new.decline_authentication:
                self._decline(intent, pm, AUTHENTICATION_REQUIRED)
            self._await_shopper(intent, new, pm)
            return intent_id
        captured = new.capture_method != "manual"
        charge = self._new_charge(intent, pm, captured=captured)
        intent["latest_charge"] = charge["id"]
        if captured:
            intent.update(status="succeeded", amount_received=new.amount)
        else:
            intent.update(status="requires_capture", amount_capturable=new.amount)
        self._emit_intent(SUCCEEDED if captured else AUTHORIZED, intent)
        return intent_id

    def _await_shopper(self, intent: dict[str, Any], new: NewIntent, pm: PaymentMethod) -> None:
        """``requires_action``: the shopper goes to the page (3-D Secure, or their bank for a
        redirect method) and comes back to ``return_url``; without one (a card only: a redirect
        method needs it), Stripe.js runs 3-D Secure in the page (``use_stripe_sdk``)."""
        page = AUTHENTICATION_PAGE + intent["id"]
        intent["status"] = "requires_action"
        if new.return_url is not None:
            intent["next_action"] = {
                "type": "redirect_to_url",
                "redirect_to_url": {"url": page, "return_url": new.return_url},
            }
        else:
            intent["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {
                    "type": "three_d_secure_redirect",
                    "stripe_js": page,
                    "source": new_id("src"),
                },
            }
        self._awaiting[intent["id"]] = pm

    def authenticate(self, intent_id: str, *, passed: bool) -> None:
        """The shopper on the page of a PaymentIntent in ``requires_action`` (3-D Secure, or
        their bank for a redirect method): it goes on (held or charged) when they pass, and
        back to ``requires_payment_method`` when they fail (``payment_intent_authentication_
        failure``; ``payment_intent_payment_attempt_failed`` at the bank). ``KeyError`` when no
        PaymentIntent awaits it."""
        pm = self._awaiting.pop(intent_id)
        intent = self._intents[intent_id]
        intent["next_action"] = None
        if not passed:
            failure = _FAILED_3DS if pm.card is not None else _FAILED_REDIRECT
            intent.update(status="requires_payment_method", last_payment_error=dict(failure))
            self._emit_intent(PAYMENT_FAILED, intent)
            return
        captured = intent["capture_method"] != "manual"
        charge = self._new_charge(intent, pm, captured=captured)
        intent["latest_charge"] = charge["id"]
        if captured:
            intent.update(status="succeeded", amount_received=intent["amount"])
        else:
            intent.update(status="requires_capture", amount_capturable=intent["amount"])
        self._emit_intent(SUCCEEDED if captured else AUTHORIZED, intent)

    def _decline(self, intent: dict[str, Any], pm: PaymentMethod, decline: Decline) -> NoReturn:
        charge = self._new_charge(intent, pm, captured=False, decline=decline)
        error = StripeError(
            402,
            CARD_ERROR,
            decline.message,
            code=decline.code,
            decline_code=decline.decline_code,
            advice_code=decline.advice_code,
            charge=charge["id"],
            payment_method=_payment_method_json(pm),
        )
        intent.update(
            status="requires_payment_method",
            latest_charge=charge["id"],
            last_payment_error=dict(error.error),
        )
        self._emit_intent(PAYMENT_FAILED, intent)
        error.error["payment_intent"] = self.render_intent(intent["id"])
        raise error

    def _new_charge(
        self,
        intent: dict[str, Any],
        pm: PaymentMethod,
        *,
        captured: bool,
        decline: Decline | None = None,
    ) -> dict[str, Any]:
        charge = _charge_json(intent, pm, captured=captured, decline=decline)
        self._charges[charge["id"]] = charge
        return charge

    def capture(self, intent_id: str, amount_to_capture: int | None) -> None:
        intent = self._intent(intent_id)
        if intent["status"] != "requires_capture":
            raise self._unexpected_state(intent, "captured", "requires_capture")
        capturable = intent["amount_capturable"]
        amount = capturable if amount_to_capture is None else amount_to_capture
        if amount > capturable:
            raise invalid(
                f"amount_to_capture ({amount}) is greater than the amount capturable "
                f"({capturable})",
                code="amount_too_large",
                param="amount_to_capture",
            )
        # No multicapture: whatever is not captured now is released.
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        self._charges[intent["latest_charge"]].update(captured=True, amount_captured=amount)
        self._emit_intent(SUCCEEDED, intent)

    def cancel(self, intent_id: str, reason: str | None) -> None:
        intent = self._intent(intent_id)
        if intent["status"] not in CANCELABLE:
            raise self._unexpected_state(intent, "canceled", *sorted(CANCELABLE))
        intent.update(
            status="canceled",
            canceled_at=int(time.time()),
            cancellation_reason=reason,
            amount_capturable=0,
            next_action=None,
        )
        self._emit_intent(CANCELED, intent)

    def _intent(self, intent_id: str) -> dict[str, Any]:
        intent = self._intents.get(intent_id)
        if intent is None:
            raise missing("payment_intent", intent_id, "intent")
        return intent

    def _unexpected_state(self, intent: dict[str, Any], verb: str, *allowed: str) -> StripeError:
        error = invalid(
            f"This PaymentIntent could not be {verb} because it has a status of "
            f"{intent['status']}; only a PaymentIntent with one of these statuses can be: "
            f"{', '.join(allowed)}.",
            code="payment_intent_unexpected_state",
        )
        error.error["payment_intent"] = self.render_intent(intent["id"])
        return error

    # -- refunds -------------------------------------------------------------------------------
    def refund(self, new: NewRefund) -> str:
        """Refund part or all of what a PaymentIntent (or charge) captured; the refund's id."""
        intent, charge = self._refundable(new)
        if intent["status"] != "succeeded" or not charge["captured"]:
            raise self._unexpected_state(intent, "refunded", "succeeded")
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        if remaining <= 0:
            raise invalid(
                f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
            )
        amount = remaining if new.amount is None else new.amount
        if amount > remaining:
            raise invalid(
                f"Refund amount ({amount}) is greater than the amount left to refund "
                f"({remaining}) on charge {charge['id']}.",
                code="amount_too_large",
                param="amount",
            )
        refund_id = new_id("re")
        refund = self._refunds[refund_id] = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": charge["id"],
            "created": int(time.time()),
            "currency": charge["currency"],
            "metadata": new.metadata,
            "payment_intent": intent["id"],
            "reason": new.reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        self.outbox.emit(REFUND_CREATED, refund, intent["id"])
        return refund_id

    def _refundable(self, new: NewRefund) -> tuple[dict[str, Any], dict[str, Any]]:
        if new.payment_intent is not None:
            intent = self._intents.get(new.payment_intent)
            if intent is None:
                raise missing("payment_intent", new.payment_intent, "payment_intent")
            charge_id = intent["latest_charge"]
            if new.charge is not None and new.charge != charge_id:
                raise invalid(
                    f"Charge {new.charge} does not belong to PaymentIntent {intent['id']}.",
                    param="charge",
                )
            charge = self._charges.get(charge_id) if charge_id else None
            if charge is None:
                raise self._unexpected_state(intent, "refunded", "succeeded")
            return intent, charge
        assert new.charge is not None  # the API asks for one of the two
        charge = self._charges.get(new.charge)
        if charge is None:
            raise missing("charge", new.charge, "charge")
        return self._intents[charge["payment_intent"]], charge


def _check_method(new: NewIntent, pm: PaymentMethod) -> None:
    """Refuse a PaymentMethod the PaymentIntent cannot take: one whose type is not among its
    ``payment_method_types``; a redirect method confirmed without the ``return_url`` the
    shopper comes back to, or with manual capture (the bank moves the money when the shopper
    approves)."""
    if pm.type not in new.payment_method_types:
        raise invalid(
            f"The PaymentMethod's type ({pm.type}) is not among this PaymentIntent's "
            f"payment_method_types ({', '.join(new.payment_method_types)}).",
            code="payment_intent_incompatible_payment_method",
            param="payment_method_types",
        )
    if pm.card is not None or not new.confirm:
        return
    if new.capture_method == "manual":
        raise invalid(
            f"capture_method=manual is not supported by the payment method type {pm.type}.",
            param="capture_method",
        )
    if new.return_url is None:
        raise invalid(
            f"A return_url is required to confirm a PaymentIntent with {pm.type}: the "
            "customer is redirected to their bank and back.",
            code="parameter_missing",
            param="return_url",
        )


def _intent_json(intent_id: str, new: NewIntent) -> dict[str, Any]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": new.amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": new.capture_method,
        "client_secret": f"{intent_id}_secret_simulated_not_a_real_secret",
        "confirmation_method": new.confirmation_method,
        "created": int(time.time()),
        "currency": new.currency,
        "customer": None,
        "description": new.description,
        "invoice": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": new.metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None if new.payment_method is None else new.payment_method.id,
        "payment_method_options": {},
        "payment_method_types": new.payment_method_types,
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def _method_json(pm: PaymentMethod) -> dict[str, Any]:
    """The method's own object (``card``, ``ideal``), as PaymentMethods and charges carry it."""
    if pm.card is None:
        return {
            "bank": pm.bank,
            "bic": None,
            "generated_sepa_debit": None,
            "generated_sepa_debit_mandate": None,
            "iban_last4": None,
            "verified_name": None,
        }
    return {
        "brand": pm.card.brand,
        "country": "US",
        "exp_month": pm.exp_month,
        "exp_year": pm.exp_year,
        "funding": "credit",
        "last4": pm.card.number[-4:],
    }


def _billing_details(pm: PaymentMethod) -> dict[str, Any]:
    return {"address": None, "email": None, "name": pm.holder_name, "phone": None}


def _payment_method_json(pm: PaymentMethod) -> dict[str, Any]:
    return {
        "id": pm.id,
        "object": "payment_method",
        "billing_details": _billing_details(pm),
        pm.type: _method_json(pm) if pm.card is not None else {"bank": pm.bank, "bic": None},
        "created": int(time.time()),
        "customer": None,
        "livemode": False,
        "metadata": {},
        "type": pm.type,
    }


def _charge_json(
    intent: dict[str, Any], pm: PaymentMethod, *, captured: bool, decline: Decline | None
) -> dict[str, Any]:
    status = "failed" if decline else "succeeded"
    amount = intent["amount"]
    return {
        "id": new_id("ch"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if captured else 0,
        "amount_refunded": 0,
        "balance_transaction": None,
        "billing_details": _billing_details(pm),
        "captured": captured,
        "created": int(time.time()),
        "currency": intent["currency"],
        "customer": None,
        "description": intent["description"],
        "disputed": False,
        "failure_code": decline.code if decline else None,
        "failure_message": decline.message if decline else None,
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "outcome": {
            "network_status": "declined_by_network" if decline else "approved_by_network",
            "reason": decline.decline_code if decline else None,
            "risk_level": "normal",
            "type": "issuer_declined" if decline else "authorized",
        },
        "paid": decline is None,
        "payment_intent": intent["id"],
        "payment_method": pm.id,
        "payment_method_details": {pm.type: _method_json(pm), "type": pm.type},
        "refunded": False,
        "status": status,
    }
