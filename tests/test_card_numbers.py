"""The card-number detector that keeps card data out of references, descriptions and metadata:
every network's numbers are found, written any usual way; ordinary identifiers are not."""

from __future__ import annotations

import random

import pytest

from paygate._redaction import contains_card_number

# Published test numbers of each network (Luhn-valid, in the network's range and length).
CARDS = {
    "visa-16": "4242424242424242",
    "visa-13": "4222222222222",
    "visa-19": "4000000000000000006",
    "mastercard": "5555555555554444",
    "mastercard-2-series": "2223003122003222",
    "amex": "378282246310005",
    "amex-34": "340000000000009",
    "discover": "6011111111111117",
    "discover-65": "6500000000000002",
    "jcb": "3530111333300000",
    "diners-14": "30569309025904",
    "diners-36": "36227206271667",
    "diners-38": "38520000023237",
    "unionpay": "6200000000000005",
    "maestro": "5018000000000009",
    "maestro-6": "6759649826438453",
}


def _luhn_digit(partial: str) -> str:
    for digit in "0123456789":
        total = 0
        for position, ch in enumerate(reversed(partial + digit)):
            d = int(ch) * (2 if position % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return digit
    raise AssertionError  # pragma: no cover


@pytest.mark.parametrize("number", CARDS.values(), ids=CARDS.keys())
def test_every_network_is_found_however_it_is_written(number: str) -> None:
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    for written in (
        number,
        " ".join(groups),
        "-".join(groups),
        f"order {number}",
        f"order-{number}",
        f"{number}-2",  # a suffix after it
        f"card: {' '.join(groups)}, exp 03/30",
    ):
        assert contains_card_number(written), written


@pytest.mark.parametrize(
    "text",
    [
        "order-42",
        "4242424242424241",  # fails the Luhn check
        "1700000000000",  # a millisecond timestamp (13 digits, starts with 1)
        "1700000000000000000",  # nanoseconds
        "9999999999999995",  # Luhn-valid, no network starts with 9
        "5555555555554",  # Mastercard's range, Luhn-valid, 13 digits: Mastercard issues 16
        "424242424242",  # 12 digits
        "42424242424242424242",  # 20 digits: not a card number
        "pg1a4242424242424242",  # glued to letters: an id or a digest
        "4242424242424242x",
        "4242  4242 4242 4242",  # two spaces: not how a card number is written
        "550e8400-e29b-41d4-a716-446655440000",  # a UUID
        "",
    ],
)
def test_ordinary_identifiers_are_not_card_numbers(text: str) -> None:
    assert not contains_card_number(text)


def test_the_check_digit_decides() -> None:
    stem = "424242424242424"
    valid = stem + _luhn_digit(stem)
    assert contains_card_number(valid)
    for digit in "0123456789":
        if digit != valid[-1]:
            assert not contains_card_number(stem + digit)


def test_few_random_numbers_are_flagged_and_only_with_a_valid_check_digit() -> None:
    rng = random.Random(20261202)
    for digits in (13, 16, 19):
        sample = [str(rng.randrange(10 ** (digits - 1), 10**digits)) for _ in range(5000)]
        flagged = [n for n in sample if contains_card_number(n)]
        assert all(_luhn_digit(n[:-1]) == n[-1] for n in flagged)
        assert len(flagged) / len(sample) < 0.06, digits  # ranges and lengths cut Luhn's 1 in 10


def test_long_free_text_is_checked_quickly() -> None:
    text = ("1 " * 2000) + "x" * 10_000 + "4" * 5000
    assert not contains_card_number(text)
