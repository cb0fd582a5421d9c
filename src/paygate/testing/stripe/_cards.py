"""Stripe's published test cards and test PaymentMethods, and what confirming each one does.

Numbers and ``pm_`` ids from the "Stripe test data" table in shared/providers/README.md, and
the 3-D Secure "supported, not required" card of Stripe's testing page (4000 0000 0000 3055).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final


@dataclass(frozen=True, slots=True)
class Decline:
    """The ``card_error`` a declined confirmation answers with."""

    code: str
    decline_code: str
    message: str
    advice_code: str | None = None


@dataclass(frozen=True, slots=True)
class Card:
    """A card and what confirming a payment with it does: approve, decline, or ask for
    3-D Secure (the PaymentIntent requires_action)."""

    number: str
    brand: str
    decline: Decline | None = None
    authenticate: bool = False


def _declined(decline_code: str, message: str, advice_code: str | None = None) -> Decline:
    return Decline("card_declined", decline_code, message, advice_code)


def _failed(code: str, message: str, advice_code: str | None = None) -> Decline:
    """A decline reported directly as the error code (the decline code repeats it)."""
    return Decline(code, code, message, advice_code)


def _decline(number: str, decline: Decline) -> Card:
    return Card(number, "visa", decline)


# Decline a confirmation that needs authentication which cannot happen (off-session).
AUTHENTICATION_REQUIRED: Final = _failed(
    "authentication_required", "This payment needs authentication, which was not possible."
)
# Decline a well-formed real card: test mode takes test cards only.
LIVE_CARD_IN_TEST_MODE: Final = _declined(
    "test_mode_live_card", "Your card was declined: test mode accepts test cards only."
)

# pm_ id → the card behind it.
CARDS: Final[Mapping[str, Card]] = MappingProxyType(
    {
        "pm_card_visa": Card("4242424242424242", "visa"),
        "pm_card_mastercard": Card("5555555555554444", "mastercard"),
        "pm_card_visa_chargeDeclined": _decline(
            "4000000000000002", _declined("generic_decline", "Your card was declined.")
        ),
        "pm_card_visa_chargeDeclinedInsufficientFunds": _decline(
            "4000000000009995",
            _declined("insufficient_funds", "Your card has insufficient funds."),
        ),
        "pm_card_visa_chargeDeclinedLostCard": _decline(
            "4000000000009987",
            _declined("lost_card", "Your card was declined.", "do_not_try_again"),
        ),
        "pm_card_visa_chargeDeclinedStolenCard": _decline(
            "4000000000009979",
            _declined("stolen_card", "Your card was declined.", "do_not_try_again"),
        ),
        "pm_card_chargeDeclinedExpiredCard": _decline(
            "4000000000000069",
            _failed("expired_card", "Your card has expired.", "confirm_card_data"),
        ),
        "pm_card_chargeDeclinedIncorrectCvc": _decline(
            "4000000000000127",
            _failed(
                "incorrect_cvc", "Your card's security code is incorrect.", "confirm_card_data"
            ),
        ),
        "pm_card_chargeDeclinedProcessingError": _decline(
            "4000000000000119",
            _failed(
                "processing_error",
                "An error occurred while processing your card; try again later.",
                "try_again_later",
            ),
        ),
        "pm_card_visa_chargeDeclinedVelocityLimitExceeded": _decline(
            "4000000000006975",
            _declined("card_velocity_exceeded", "Your card was declined: too many attempts."),
        ),
        "pm_card_threeDSecure2Required": Card("4000000000003220", "visa", authenticate=True),
        # Enrolled, not required: Stripe authenticates it without the shopper (frictionless),
        # or not at all, and the payment goes through with no action.
        "pm_card_threeDSecureOptional": Card("4000000000003055", "visa"),
        "pm_card_authenticationRequired": Card("4000002760003184", "visa", authenticate=True),
    }
)

# card number → the card, for raw card data.
BY_NUMBER: Final[Mapping[str, Card]] = MappingProxyType(
    {card.number: card for card in CARDS.values()}
)
