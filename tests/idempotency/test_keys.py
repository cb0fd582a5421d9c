"""Derived keys and fingerprints: deterministic, distinct, short enough for every provider."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from paygate.idempotency import derive_key, fingerprint

texts = st.none() | st.text(max_size=20)


@given(op=st.text(max_size=10), ref=texts, amount=texts, currency=texts, pid=texts)
def test_derived_keys_are_deterministic_and_fit_every_provider(
    op: str, ref: str | None, amount: str | None, currency: str | None, pid: str | None
) -> None:
    key = derive_key(op, reference=ref, amount=amount, currency=currency, payment_id=pid)
    again = derive_key(op, reference=ref, amount=amount, currency=currency, payment_id=pid)
    assert key == again
    assert len(key) <= 64 and key.isascii()


@given(st.tuples(texts, texts, texts), st.tuples(texts, texts, texts))
def test_any_difference_gives_another_key(
    a: tuple[str | None, str | None, str | None], b: tuple[str | None, str | None, str | None]
) -> None:
    key_a = derive_key("refund", reference=a[0], amount=a[1], currency="EUR", payment_id=a[2])
    key_b = derive_key("refund", reference=b[0], amount=b[1], currency="EUR", payment_id=b[2])
    assert (key_a == key_b) == (a == b)


def test_fields_do_not_run_together() -> None:
    # "ab" + "c" and "a" + "bc" must not collide, nor None with "None".
    assert derive_key("x", reference="ab", amount="c", currency=None, payment_id=None) != (
        derive_key("x", reference="a", amount="bc", currency=None, payment_id=None)
    )
    assert derive_key("x", reference=None, amount=None, currency=None, payment_id=None) != (
        derive_key("x", reference="None", amount=None, currency=None, payment_id=None)
    )


def test_fingerprint_is_order_independent_and_sensitive_to_values() -> None:
    assert fingerprint("authorize", {"a": 1, "b": 2}) == fingerprint("authorize", {"b": 2, "a": 1})
    assert fingerprint("authorize", {"a": 1}) != fingerprint("authorize", {"a": 2})
    assert fingerprint("authorize", {"a": 1}) != fingerprint("purchase", {"a": 1})


def test_another_payment_source_is_another_attempt() -> None:
    visa = {"token": "pm_card_visa"}
    other = {"token": "pm_card_mastercard"}
    common = {"reference": "order-1", "amount": "10.00", "currency": "EUR", "payment_id": None}
    assert derive_key("authorize", source=visa, **common) == derive_key(
        "authorize", source=dict(visa), **common
    )
    assert derive_key("authorize", source=visa, **common) != derive_key(
        "authorize", source=other, **common
    )


def test_known_keys_are_unchanged() -> None:
    # As paygate 0.1.0 derives them: a store may hold them, so they never change.
    token = {"token": "pm_card_visa", "customer": None}
    assert derive_key(
        "authorize", reference="order-1", amount="12.34", currency="EUR", payment_id=None,
        source=token,
    ) == "pg1_eaaa797ef59b1198220445f01a8cf319b6755f62f97d1cc4bc06ae9d"  # fmt: skip
    assert derive_key(
        "refund", reference="r\u00e9f\x7f", amount=None, currency=None, payment_id="pi_1",
        details={"b": "1", "a": "\x01"},
    ) == "pg1_e1e887ccec970cb2956f56cd89b0f7581d3ac0d2b1df3ed285566fbe"  # fmt: skip
