"""Masking keeps card numbers out of error messages and kept provider bodies, and leaves the
identifiers an operator searches by readable: an Adyen pspReference is 16 digits too, but no
card network issues numbers in its range."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from paygate._redaction import _DIGIT_RUN, _card_in, contains_card_number, redact, redact_text
from paygate.errors import InvalidRequestError, RetriableError

# pspReferences as Adyen writes them (the examples of its Checkout and Webhooks specs, and the
# 88/99-prefixed numbers of its live and test platforms): outside every issuer range, whatever
# their check digit.
PSP_REFERENCES = [
    "8816118280275544",
    "8516091485743033",
    "7914073381342284",
    "8835511210681145",
    "9913140798220028",
    "9916180532771187",
    "8800000000000005",  # Luhn-valid, and still not a card: no network issues 88...
    "9900000000000002",
]
# Published test card numbers (Adyen's Visa and Mastercard, Stripe's Visa), and the same
# written with spaces and dashes.
TEST_PANS = ["4111111145551142", "4242424242424242", "5555341244441115"]


@pytest.mark.parametrize("psp", PSP_REFERENCES)
def test_a_psp_reference_survives_redaction(psp: str) -> None:
    assert not contains_card_number(psp)
    text = f"payment {psp} was refused (pspReference {psp})"
    assert redact_text(text) == text
    body = {"pspReference": psp, "message": f"Original pspReference required: {psp}"}
    assert redact(body) == body


@pytest.mark.parametrize("psp", PSP_REFERENCES)
def test_a_psp_reference_survives_in_an_error_message_and_its_provider_body(psp: str) -> None:
    error = RetriableError(
        f"Adyen answered 500 for payment {psp}",
        provider="adyen",
        provider_body={"status": 500, "errorCode": "905", "pspReference": psp},
        payment_id=psp,
    )
    assert psp in error.message and psp in str(error)
    assert error.provider_body == {"status": 500, "errorCode": "905", "pspReference": psp}


@pytest.mark.parametrize("pan", TEST_PANS)
@pytest.mark.parametrize(
    "written",
    [
        lambda n: n,
        lambda n: " ".join(n[i : i + 4] for i in range(0, 16, 4)),
        lambda n: "-".join(n[i : i + 4] for i in range(0, 16, 4)),
    ],
    ids=["plain", "spaced", "dashed"],
)
def test_a_test_pan_is_masked_in_messages_and_bodies(pan: str, written: object) -> None:
    shown = written(pan)  # type: ignore[operator]
    assert redact_text(f"card {shown} declined") == f"card ****{pan[-4:]} declined"
    error = InvalidRequestError(
        f"number {shown} is invalid",
        provider="stripe",
        provider_body={"error": {"message": f"card {shown}", "payment_method": {"n": shown}}},
    )
    text = f"{error} {error!r} {error.message} {error.provider_body}"
    assert pan not in text and shown not in text and f"****{pan[-4:]}" in text


def test_a_card_number_off_by_one_digit_is_masked_though_it_fails_luhn() -> None:
    typo = "4242424242424241"  # Stripe's incorrect_number test card
    assert not contains_card_number(typo)  # not refused as a reference...
    assert redact_text(f"card {typo}") == "card ****4241"  # ...but never shown


def test_a_card_number_inside_a_longer_run_of_digits_is_masked() -> None:
    assert redact_text("ids 12 4242 4242 4242 4242 7") == "ids ****4242"
    assert redact_text("order 9-4111111145551142") == "order ****1142"


def test_a_psp_reference_next_to_a_card_number_keeps_its_own_digits() -> None:
    text = "psp 8816118280275544, card 4111111145551142"
    assert redact_text(text) == "psp 8816118280275544, card ****1142"


# Text built from what a card number is made of (digits, single spaces and dashes) among other
# characters, so that runs near, at and past 13 digits are common.
card_like_text = st.text(alphabet=st.sampled_from("0123456789 --4x.5"), max_size=40)


@given(st.one_of(card_like_text, st.sampled_from(TEST_PANS), st.text(max_size=30)))
@example("4222222222222")  # a 13-digit Visa test number: the shortest card there is
@example("x 4222-222 222 222 y")
@example("422222222222")  # one digit short
def test_text_without_thirteen_digits_in_a_row_is_passed_over_without_a_wrong_answer(
    text: str,
) -> None:
    # The quick test for a 13-digit stretch decides nothing the full search would decide
    # otherwise: the answer is the one every run of digits gives when each is checked.
    every_run = any(_card_in(run.group(), luhn=True) for run in _DIGIT_RUN.finditer(text))
    assert contains_card_number(text) == every_run
