"""Each provider's documented limits, declared as data in its Capabilities and checked before
any I/O: amounts, metadata and payment ids. (The gateway tests show that nothing is sent.)"""

from __future__ import annotations

from typing import Any

import pytest

from paygate import Money, PaymentSource
from paygate.adapters import adyen, stripe
from paygate.adapters.base import Capabilities
from paygate.errors import ErrorCode, InvalidRequestError
from paygate.models import (
    AuthorizeRequest,
    CaptureRequest,
    OperationRequest,
    RefundRequest,
    RetrieveRequest,
    VoidRequest,
)

STRIPE, ADYEN = stripe.CAPABILITIES, adyen.CAPABILITIES
TOKEN = PaymentSource.token("pm_card_visa", customer="shopper-1")


def authorize(amount: Money, **fields: Any) -> AuthorizeRequest:
    return AuthorizeRequest(amount=amount, source=TOKEN, reference="order-1", **fields)


def refused(capabilities: Capabilities, request: OperationRequest) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as refusal:
        capabilities.check(request)
    assert refusal.value.http_status is None  # paygate's refusal: nothing was sent
    return refusal.value


# -- amounts -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("largest", "too_large"),
    [
        (Money("999999.99", "EUR"), Money("1000000.00", "EUR")),
        (Money("99999999", "JPY"), Money("100000000", "JPY")),  # zero-decimal: 8 digits too
        (Money("999999", "ISK"), Money("1000000", "ISK")),  # sent in hundredths
        (Money("99999.990", "KWD"), Money("100000.000", "KWD")),  # sent in thousandths
    ],
)
def test_stripe_takes_at_most_eight_digits_in_minor_units(largest: Money, too_large: Money) -> None:
    for make in (
        authorize,
        lambda m: CaptureRequest(payment_id="pi_1", amount=m),
        lambda m: RefundRequest(payment_id="pi_1", amount=m),
    ):
        STRIPE.check(make(largest))
        error = refused(STRIPE, make(too_large))
        assert error.code is ErrorCode.AMOUNT_INVALID and str(largest) in error.message


def test_adyen_takes_what_an_int64_holds() -> None:
    ADYEN.check(authorize(Money("92233720368547758.07", "EUR")))
    error = refused(ADYEN, authorize(Money("92233720368547758.08", "EUR")))
    assert error.code is ErrorCode.AMOUNT_INVALID


@pytest.mark.parametrize(
    ("minimum", "below"),
    [
        ("USD 0.50", "0.49"),
        ("EUR 0.50", "0.49"),
        ("GBP 0.30", "0.29"),
        ("HUF 175.00", "174.99"),
        ("JPY 50", "49"),
        ("MXN 10.00", "9.99"),
        ("CZK 15.00", "14.99"),
        ("THB 10.00", "9.99"),
    ],
)
def test_stripe_refuses_a_charge_below_its_minimum(minimum: str, below: str) -> None:
    currency, amount = minimum.split()
    for capture in (False, True):  # authorize and purchase
        STRIPE.check(authorize(Money(amount, currency), capture=capture))
        error = refused(STRIPE, authorize(Money(below, currency), capture=capture))
        assert error.code is ErrorCode.AMOUNT_INVALID and minimum in error.message


def test_the_minimum_is_for_charges_not_for_captures_and_refunds_of_part_of_one() -> None:
    STRIPE.check(CaptureRequest(payment_id="pi_1", amount=Money("0.01", "EUR")))
    STRIPE.check(RefundRequest(payment_id="pi_1", amount=Money("0.01", "EUR")))
    STRIPE.check(authorize(Money("1", "KRW")))  # not in Stripe's table: left to Stripe
    ADYEN.check(authorize(Money("0.01", "EUR")))  # Adyen declares no minimum


def test_stripes_minimum_table_is_the_published_one() -> None:
    table = {str(m) for m in STRIPE.minimum_charge.values()}
    assert len(table) == 23 and {"USD 0.50", "AED 2.00", "DKK 2.50", "HKD 4.00"} <= table
    assert {"MYR 2.00", "NOK 3.00", "SEK 3.00", "NZD 0.50", "SGD 0.50", "INR 0.50"} <= table
    assert all(code == money.currency for code, money in STRIPE.minimum_charge.items())


# -- metadata ----------------------------------------------------------------------------------
def keys(n: int) -> dict[str, str]:
    return {f"k{i}": "v" for i in range(n)}


def test_stripe_takes_49_metadata_keys_besides_the_reference() -> None:
    STRIPE.check(authorize(Money("1", "EUR"), metadata=keys(49)))
    assert "49" in refused(STRIPE, authorize(Money("1", "EUR"), metadata=keys(50))).message


def test_the_reserved_reference_key_is_refused_not_overwritten() -> None:
    error = refused(STRIPE, authorize(Money("1", "EUR"), metadata={"reference": "other"}))
    assert "reserved" in error.message
    ADYEN.check(authorize(Money("1", "EUR"), metadata={"reference": "other"}))  # Adyen's own


@pytest.mark.parametrize(
    ("capabilities", "longest_key", "longest_value"), [(STRIPE, 40, 500), (ADYEN, 20, 80)]
)
def test_metadata_key_and_value_lengths(
    capabilities: Capabilities, longest_key: int, longest_value: int
) -> None:
    at_limit = {"k" * longest_key: "v" * longest_value}
    capabilities.check(authorize(Money("1", "EUR"), metadata=at_limit))
    for over in ({"k" * (longest_key + 1): "v"}, {"k": "v" * (longest_value + 1)}):
        error = refused(capabilities, authorize(Money("1", "EUR"), metadata=over))
        assert "k" * (longest_key + 1) not in error.message  # the key is not repeated


def test_adyen_takes_20_metadata_keys() -> None:
    ADYEN.check(authorize(Money("1", "EUR"), metadata=keys(20)))
    refused(ADYEN, authorize(Money("1", "EUR"), metadata=keys(21)))


@pytest.mark.parametrize("key", ["a[b", "a]", "[0]", "items[]"])
def test_brackets_in_a_stripe_metadata_key_are_refused(key: str) -> None:
    # metadata[a[b]=v would be read by Stripe as another parameter than the one meant.
    error = refused(STRIPE, authorize(Money("1", "EUR"), metadata={key: "v"}))
    assert "may not contain" in error.message
    ADYEN.check(authorize(Money("1", "EUR"), metadata={key: "v"}))  # JSON: any key


# -- payment ids -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("capabilities", "good", "bad"),
    [
        (STRIPE, "pi_3MtwBwLkdIwHu7ix28a3tqPa", ["search", "ch_1", "pi_", "pi_a.b", "pi_a:b"]),
        (ADYEN, "ABCDEF1234567890", ["ABCDEF123456789", "ABCDEF12345678901", "ABCDEF123456789_"]),
    ],
)
def test_a_payment_id_must_have_the_providers_format(
    capabilities: Capabilities, good: str, bad: list[str]
) -> None:
    def requests(payment_id: str) -> list[OperationRequest]:
        return [
            CaptureRequest(payment_id=payment_id),
            VoidRequest(payment_id=payment_id),
            RefundRequest(payment_id=payment_id),
            RetrieveRequest(payment_id=payment_id),
        ]

    for request in requests(good):
        capabilities.check(request)
    for payment_id in bad:
        for request in requests(payment_id):
            assert "payment id is not" in refused(capabilities, request).message
