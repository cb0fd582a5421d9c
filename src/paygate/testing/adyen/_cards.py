"""Adyen's test cards, the results a test can force, and the simulator's stored payment methods.

Numbers, holder names and response codes from the "Adyen test data" part of
shared/providers/README.md. A result is forced with ``paymentMethod.holderName`` (e.g.
``DECLINED``) or ``additionalData.RequestedTestAcquirerResponseCode`` (e.g. ``"2"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

AUTHORISED: Final = "Authorised"
REFUSED: Final = "Refused"
ERROR: Final = "Error"
RECEIVED: Final = "Received"
REDIRECT_SHOPPER: Final = "RedirectShopper"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the test acquirer answers: a resultCode, and for a refusal its reason and code."""

    result_code: str
    refusal_reason: str | None = None
    code: int | None = None  # the refusalReasonCode (and the RequestedTestAcquirerResponseCode)


def _refused(code: int, reason: str) -> Outcome:
    return Outcome(REFUSED, reason, code)


APPROVED: Final = Outcome(AUTHORISED, code=1)
EXPIRED_CARD: Final = _refused(6, "Expired Card")
REDIRECT: Final = Outcome(REDIRECT_SHOPPER)

# holderName → the forced outcome; the code of each is its RequestedTestAcquirerResponseCode.
TRIGGERS: Final[Mapping[str, Outcome]] = MappingProxyType(
    {
        "UNKNOWN": Outcome(ERROR, "Unknown", 0),
        "APPROVED": APPROVED,
        "DECLINED": _refused(2, "Refused"),
        "REFERRAL": _refused(3, "Referral"),
        "ERROR": Outcome(ERROR, "Acquirer Error", 4),
        "BLOCK_CARD": _refused(5, "Blocked Card"),
        "CARD_EXPIRED": EXPIRED_CARD,
        "INVALID_AMOUNT": _refused(7, "Invalid Amount"),
        "INVALID_CARD_NUMBER": _refused(8, "Invalid Card Number"),
        "ISSUER_UNAVAILABLE": _refused(9, "Issuer Unavailable"),
        "NOT_SUPPORTED": _refused(10, "Not supported"),
        "NOT_3D_AUTHENTICATED": _refused(11, "3D Not Authenticated"),
        "NOT_ENOUGH_BALANCE": _refused(12, "Not enough balance"),
        "PENDING": Outcome(RECEIVED, code=13),
        "ACQUIRER_FRAUD": _refused(14, "Acquirer Fraud"),
        "CANCELLED": _refused(15, "Cancelled"),
        "SHOPPER_CANCELLED": _refused(16, "Shopper Cancelled"),
        "CVC_DECLINED": _refused(24, "CVC Declined"),
    }
)

# RequestedTestAcquirerResponseCode (as sent: a string) → the forced outcome.
BY_CODE: Final[Mapping[str, Outcome]] = MappingProxyType(
    {str(outcome.code): outcome for outcome in TRIGGERS.values()}
)


@dataclass(frozen=True, slots=True)
class Card:
    """A card the payment is made with, as much of it as the simulator keeps."""

    number: str
    brand: str  # Adyen's variant name: visa, mc, amex
    expiry_month: int = 3
    expiry_year: int = 2030
    redirect: bool = False  # a 3-D Secure card: the payment answers RedirectShopper
    # A 3-D Secure card whose issuer authenticates without a challenge: after the device
    # fingerprint (in the page) or on the redirect, the payment is authorised.
    frictionless: bool = False

    @property
    def summary(self) -> str:
        """The last four digits (Adyen's ``cardSummary``)."""
        return self.number[-4:]

    @property
    def expiry(self) -> str:
        return f"{self.expiry_month:02d}/{self.expiry_year}"


# Test card numbers that behave specially (every other valid number of a known brand is
# approved, as on Adyen's test platform). Adyen lists its cards enrolled in 3-D Secure 2
# without saying which flow each takes (its test issuers decide); the simulator challenges on
# the Visa one (the challenge card of shared/providers/README.md) and runs the frictionless
# flow on the American Express one (3714 4963 5398 431 on Adyen's test-card page), so that
# both flows can be tested.
THREE_DS_CARD: Final = Card("4917610000000000", "visa", redirect=True)
FRICTIONLESS_CARD: Final = Card("371449635398431", "amex", redirect=True, frictionless=True)
TEST_CARDS: Final[Mapping[str, Card]] = MappingProxyType(
    {
        card.number: card
        for card in (
            Card("4111111145551142", "visa"),
            Card("5555341244441115", "mc"),
            Card("370000000000002", "amex"),
            Card("4111111111111111", "visa"),
            THREE_DS_CARD,
            FRICTIONLESS_CARD,
        )
    }
)


@dataclass(frozen=True, slots=True)
class StoredMethod:
    """A stored payment method (token) the simulator knows: its card and forced outcome."""

    card: Card
    outcome: Outcome = APPROVED


# storedPaymentMethodId → the stored card behind it; documented on AdyenSimulator.
STORED: Final[Mapping[str, StoredMethod]] = MappingProxyType(
    {
        "sim_stored_visa": StoredMethod(TEST_CARDS["4111111145551142"]),
        "sim_stored_mastercard": StoredMethod(TEST_CARDS["5555341244441115"]),
        "sim_stored_amex": StoredMethod(TEST_CARDS["370000000000002"]),
        "sim_stored_3ds": StoredMethod(THREE_DS_CARD),
        "sim_stored_declined": StoredMethod(TEST_CARDS["4111111111111111"], TRIGGERS["DECLINED"]),
        "sim_stored_insufficient_funds": StoredMethod(
            TEST_CARDS["4111111111111111"], TRIGGERS["NOT_ENOUGH_BALANCE"]
        ),
        "sim_stored_expired": StoredMethod(
            TEST_CARDS["4111111111111111"], TRIGGERS["CARD_EXPIRED"]
        ),
        "sim_stored_cvc_declined": StoredMethod(
            TEST_CARDS["4111111111111111"], TRIGGERS["CVC_DECLINED"]
        ),
        "sim_stored_fraud": StoredMethod(
            TEST_CARDS["4111111111111111"], TRIGGERS["ACQUIRER_FRAUD"]
        ),
    }
)


def luhn_valid(number: str) -> bool:
    """The Luhn (mod 10) check every card number passes."""
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(number)):
        doubled = digit * 2 if position % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def brand_of(number: str) -> str | None:
    """Adyen's variant for a number by its prefix, or None when it names no known scheme."""
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if "51" <= number[:2] <= "55" or "2221" <= number[:4] <= "2720":
        return "mc"
    return None
